package trustpolicy

import (
	"fmt"
	"strings"
)

// Report is the outcome of verifying an artifact: every signature tried, in
// order, and the artifact's verdict. As in notation, the artifact is
// verified when one signature verifies; trying stops there.
type Report struct {
	Schema string `json:"schema"`
	// Reference is the artifact verified, REGISTRY/REPOSITORY@DIGEST: a
	// reference by tag is resolved, and this is the digest that was
	// verified.
	Reference string `json:"reference"`
	// Tag is the tag the reference named, when it named one instead of a
	// digest. Tags are mutable; the digest in Reference is what verified.
	Tag     string  `json:"tag,omitempty"`
	Verdict Verdict `json:"verdict"`
	// Error says why the artifact did not verify.
	Error string `json:"error,omitempty"`
	// Fix is the fix for the error when it is not a signature's own (no
	// signature found, no applicable policy).
	Fix string `json:"fix,omitempty"`
	// Warnings are notices that do not change the verdict, such as
	// verifying by tag (which notation warns about too).
	Warnings []string `json:"warnings"`
	// Policy is the statement that applied (also when no signature was
	// found, or the level is skip).
	Policy *PolicyMatch `json:"policy,omitempty"`
	// Signatures lists the signatures tried, in order.
	Signatures []*SignatureReport `json:"signatures"`
}

// TagWarning is notation v1.3.2's warning for verifying by tag, word for
// word ("Warning: " is left to the printer).
func TagWarning(tag string) string {
	return fmt.Sprintf("Always verify the artifact using digest(@sha256:...) rather than a tag(:%s) because resolved digest may not point to the same signed artifact, as tags are mutable.", tag)
}

// Warn adds a warning.
func (r *Report) Warn(w string) { r.Warnings = append(r.Warnings, w) }

// SignatureReport is one signature tried.
type SignatureReport struct {
	// Digest is the signature manifest's digest, when it came from a
	// registry.
	Digest string `json:"digest,omitempty"`
	*Result
}

// Add records one signature's result and updates the verdict. It reports
// whether verification is done (the signature verified).
func (r *Report) Add(digest string, res *Result) bool {
	r.Signatures = append(r.Signatures, &SignatureReport{Digest: digest, Result: res})
	if res.Policy != nil && r.Policy == nil {
		r.Policy = res.Policy
	}
	return res.Verdict == VerdictVerified
}

// Finish sets the verdict from the signatures tried: verified when one
// verified; inconclusive when every signature was inconclusive; otherwise
// failed. abort is an error that ended the search early (a signature that
// could not be fetched, the signature limit), which fails the artifact
// unless a signature had already verified.
func (r *Report) Finish(abort error) {
	r.Schema = SchemaVersion
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	var failed, inconclusive []string
	for _, s := range r.Signatures {
		switch s.Verdict {
		case VerdictVerified, VerdictSkipped:
			r.Verdict = s.Verdict
			r.Error = ""
			return
		case VerdictInconclusive:
			inconclusive = append(inconclusive, sigName(s)+": "+s.Error)
		default:
			failed = append(failed, sigName(s)+": "+s.Error)
		}
	}
	switch {
	case abort != nil:
		r.Verdict = VerdictFailed
		r.Error = abort.Error()
	case len(r.Signatures) == 0:
		r.Verdict = VerdictFailed
		if r.Error == "" {
			r.Error = fmt.Sprintf("no signature is associated with %q, make sure the artifact was signed successfully", r.Reference)
		}
	case len(failed) == 0:
		r.Verdict = VerdictInconclusive
		r.Error = strings.Join(inconclusive, "; ")
	default:
		r.Verdict = VerdictFailed
		r.Error = strings.Join(append(failed, inconclusive...), "; ")
	}
}

func sigName(s *SignatureReport) string {
	if s.Digest != "" {
		return "signature " + s.Digest
	}
	return "signature"
}

// Err returns nil when the artifact verified (or the policy skips it), and
// otherwise an error wrapping ErrVerificationFailed or ErrInconclusive.
func (r *Report) Err() error {
	switch r.Verdict {
	case VerdictVerified, VerdictSkipped:
		return nil
	case VerdictInconclusive:
		return &InconclusiveError{Msg: r.Error}
	default:
		return fmt.Errorf("%w: %s", ErrVerificationFailed, r.Error)
	}
}
