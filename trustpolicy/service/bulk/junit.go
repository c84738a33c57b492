package bulk

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// JUnit collects records as a JUnit XML report: one testsuite, one
// testcase per artifact and one per platform manifest checked. A verified
// artifact (or a covered platform) passes; skipped by policy is
// <skipped>; failed is <failure>; inconclusive is <error>. The message is
// the record's one-line brief, the body the whole story. Every text is
// escaped (internal/textsafe) before XML escaping, so no control
// character reaches the file. It keeps a few strings per record, not the
// reports.
type JUnit struct {
	suite junitSuite
	total time.Duration
}

// NewJUnit returns an empty report whose testsuite is called name.
func NewJUnit(name string) *JUnit {
	return &JUnit{suite: junitSuite{Name: textsafe.Escape(name)}}
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string       `xml:"name,attr"`
	Classname string       `xml:"classname,attr"`
	Time      string       `xml:"time,attr"`
	Failure   *junitResult `xml:"failure,omitempty"`
	Error     *junitResult `xml:"error,omitempty"`
	Skipped   *junitResult `xml:"skipped,omitempty"`
	SystemOut string       `xml:"system-out,omitempty"`
}

type junitResult struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// Add adds r's testcases.
func (j *JUnit) Add(r Record) {
	j.total += r.Duration
	class := classOf(r)
	body := r.Error
	if r.Result != nil {
		body = r.Result.Summary()
		if r.Result.Fix != "" && !strings.Contains(body, r.Result.Fix) {
			body += "\nfix: " + r.Result.Fix
		}
	}
	if len(r.Platforms) > 0 && r.Error != "" && !strings.Contains(body, r.Error) {
		body += "\n" + r.Error
	}
	j.add(junitCase{Name: textsafe.Escape(r.Reference), Classname: class, Time: seconds(r.Duration)}, r.Verdict, r.Brief, body)
	for _, p := range r.Platforms {
		verdict := p.Verdict
		if p.Covered() {
			verdict = trustpolicy.VerdictVerified
		}
		brief := fmt.Sprintf("%s %s: covered by %s", p.Platform, p.Digest, p.CoveredBy)
		if !p.Covered() {
			brief = fmt.Sprintf("%s %s: not covered: %s", p.Platform, p.Digest, p.Error)
		}
		j.add(junitCase{Name: textsafe.Escape(r.Reference + " [" + p.Platform + "]"), Classname: class, Time: seconds(0)}, verdict, cutBrief(brief), p.Error)
	}
}

func (j *JUnit) add(c junitCase, v trustpolicy.Verdict, brief, body string) {
	res := &junitResult{Message: textsafe.Escape(brief), Type: string(v), Text: textsafe.EscapeLines(body)}
	switch v {
	case trustpolicy.VerdictVerified:
		c.SystemOut = textsafe.Escape(brief)
	case trustpolicy.VerdictSkipped:
		res.Text = ""
		c.Skipped = res
		j.suite.Skipped++
	case trustpolicy.VerdictInconclusive:
		c.Error = res
		j.suite.Errors++
	default:
		c.Failure = res
		j.suite.Failures++
	}
	j.suite.Tests++
	j.suite.Cases = append(j.suite.Cases, c)
}

// classOf is the repository of r's artifact, which dashboards group by.
func classOf(r Record) string {
	ref := r.Reference
	if r.Result != nil && r.Result.Reference != "" {
		ref = r.Result.Reference
	}
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		ref = ref[:i]
	} else if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return textsafe.Escape(ref)
}

// WriteTo writes the XML document.
func (j *JUnit) WriteTo(w io.Writer) (int64, error) {
	s := j.suite
	s.Time = seconds(j.total)
	doc := junitSuites{Name: s.Name, Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Skipped: s.Skipped, Time: s.Time, Suites: []junitSuite{s}}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return 0, err
	}
	n, err := io.WriteString(w, xml.Header+string(out)+"\n")
	return int64(n), err
}
