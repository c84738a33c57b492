package bulk

import (
	"fmt"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// JSON schemas of a Record and a Summary.
const (
	RecordSchema  = "notation-pkcs11/trustpolicy/bulk/v1"
	SummarySchema = "notation-pkcs11/trustpolicy/bulk-summary/v1"
)

// Record is the outcome for one input.
type Record struct {
	Schema string `json:"schema"`
	// Reference and Source are the input's.
	Reference string `json:"reference"`
	Source    string `json:"source,omitempty"`
	// Digest is the manifest digest verified ("" when the reference could
	// not be resolved).
	Digest string `json:"digest,omitempty"`
	// Verdict is the artifact's: the service's verdict, or failed when
	// nothing could be decided (Error says why). With platforms checked,
	// it also requires every selected platform to be covered.
	Verdict trustpolicy.Verdict `json:"verdict"`
	// Error says why the artifact did not verify.
	Error string `json:"error,omitempty"`
	// Brief is the one line that trustpolicy verify prints for it (under
	// 200 characters, escaped).
	Brief string `json:"brief"`
	// Platforms are the platform manifests of an image index, when they
	// were checked.
	Platforms []Platform `json:"platforms,omitempty"`
	// Result is the full report of the service (nil when nothing could be
	// decided).
	Result *trustpolicy.Report `json:"result,omitempty"`
	// Duration is how long the verification took (JUnit's time).
	Duration time.Duration `json:"-"`
}

// Platform is one platform manifest of an image index.
type Platform struct {
	// Platform is os/architecture[/variant].
	Platform string `json:"platform"`
	Digest   string `json:"digest,omitempty"`
	// Verdict is the verdict of the platform manifest's own signatures.
	Verdict trustpolicy.Verdict `json:"verdict"`
	// CoveredBy says which verified signature covers the platform:
	// CoveredByIndex, CoveredByManifest, both joined by "+", or
	// CoveredByNone.
	CoveredBy string `json:"coveredBy"`
	Error     string `json:"error,omitempty"`
	// Result is the report for the platform manifest itself.
	Result *trustpolicy.Report `json:"result,omitempty"`
}

// Values of Platform.CoveredBy.
const (
	CoveredByIndex    = "index"
	CoveredByManifest = "manifest"
	CoveredByBoth     = "index+manifest"
	CoveredByNone     = "none"
)

// Covered reports whether a verified signature covers the platform.
func (p Platform) Covered() bool { return p.CoveredBy != CoveredByNone && p.CoveredBy != "" }

func newRecord(in Input) Record {
	return Record{Schema: RecordSchema, Reference: in.Reference, Source: in.Source}
}

// failed records an error that decided nothing: the artifact fails.
func (r *Record) failed(err error) {
	r.Verdict = trustpolicy.VerdictFailed
	r.Error = textsafe.Error(err).Error()
	r.Brief = cutBrief(fmt.Sprintf("%s: %s: %s", r.Verdict, textsafe.Escape(r.Reference), textsafe.Escape(r.Error)))
}

// setReport records the service's report.
func (r *Record) setReport(rep *trustpolicy.Report) {
	r.Result = rep
	r.Verdict = rep.Verdict
	r.Error = rep.Error
	r.Digest = digestOf(rep.Reference)
	r.Brief = rep.Brief()
}

func digestOf(ref string) string {
	for i := len(ref) - 1; i >= 0; i-- {
		if ref[i] == '@' {
			return ref[i+1:]
		}
	}
	return ""
}

func cutBrief(s string) string {
	r := []rune(s)
	if len(r) <= trustpolicy.MaxBriefLen {
		return s
	}
	const more = "…"
	return string(r[:trustpolicy.MaxBriefLen-1]) + more
}

// Summary counts the verdicts of a run.
type Summary struct {
	Schema       string `json:"schema"`
	Total        int    `json:"total"`
	Verified     int    `json:"verified"`
	Skipped      int    `json:"skipped"`
	Failed       int    `json:"failed"`
	Inconclusive int    `json:"inconclusive"`
	// NotRun counts inputs never verified because the run was
	// interrupted.
	NotRun int `json:"notRun"`
	// ExitCode is the command's exit code for the run (see Exit).
	ExitCode int `json:"exitCode"`
}

// Exit codes of a run.
const (
	ExitOK           = 0 // every artifact verified or skipped
	ExitFailed       = 1 // some artifact failed, or was not run
	ExitInconclusive = 3 // none failed, some inconclusive
)

// NewSummary is the summary of a run over total inputs, none done yet.
func NewSummary(total int) *Summary {
	s := &Summary{Schema: SummarySchema, Total: total, NotRun: total}
	s.ExitCode = s.Exit()
	return s
}

// Add counts r.
func (s *Summary) Add(r Record) {
	s.NotRun--
	switch r.Verdict {
	case trustpolicy.VerdictVerified:
		s.Verified++
	case trustpolicy.VerdictSkipped:
		s.Skipped++
	case trustpolicy.VerdictInconclusive:
		s.Inconclusive++
	default:
		s.Failed++
	}
	s.ExitCode = s.Exit()
}

// Exit is the exit code: ExitFailed when any artifact failed or was not
// run, else ExitInconclusive when any was inconclusive, else ExitOK.
func (s *Summary) Exit() int {
	switch {
	case s.Failed > 0 || s.NotRun > 0:
		return ExitFailed
	case s.Inconclusive > 0:
		return ExitInconclusive
	}
	return ExitOK
}

// String is the summary line: "N artifacts: V verified, S skipped, F
// failed, I inconclusive" (and how many were not run).
func (s *Summary) String() string {
	noun := "artifacts"
	if s.Total == 1 {
		noun = "artifact"
	}
	line := fmt.Sprintf("%d %s: %d verified, %d skipped, %d failed, %d inconclusive", s.Total, noun, s.Verified, s.Skipped, s.Failed, s.Inconclusive)
	if s.NotRun > 0 {
		line += fmt.Sprintf(", %d not run (interrupted)", s.NotRun)
	}
	return line
}
