package bulk_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/bulk"
)

// parsedJUnit is what a JUnit consumer reads.
type parsedJUnit struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Skipped  int `xml:"skipped,attr"`
	Suites   []struct {
		Name  string `xml:"name,attr"`
		Tests int    `xml:"tests,attr"`
		Cases []struct {
			Name      string  `xml:"name,attr"`
			Classname string  `xml:"classname,attr"`
			Time      float64 `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnit(t *testing.T) {
	failed := &trustpolicy.Report{Reference: "r.example/app@sha256:1", Verdict: trustpolicy.VerdictFailed, Error: "authenticity check failed: \x1b[2Kspoof", Fix: "add the root"}
	records := []bulk.Record{
		{Reference: "r.example/app:v1", Verdict: trustpolicy.VerdictVerified, Brief: "verified: r.example/app@sha256:0", Duration: 1500 * time.Millisecond},
		{Reference: "r.example/app:v2", Verdict: trustpolicy.VerdictFailed, Brief: "failed: r.example/app@sha256:1: authenticity", Error: failed.Error, Result: failed},
		{Reference: "r.example/other:v3", Verdict: trustpolicy.VerdictInconclusive, Brief: "inconclusive: x"},
		{Reference: "r.example/skip@sha256:2", Verdict: trustpolicy.VerdictSkipped, Brief: "skipped: y"},
		{Reference: "r.example/gone:v1\x1b]0;title\a", Verdict: trustpolicy.VerdictFailed, Brief: "failed: not found", Error: "not found"},
		{Reference: "r.example/multi:v1", Verdict: trustpolicy.VerdictFailed, Brief: "failed: platforms", Error: "platforms not covered",
			Platforms: []bulk.Platform{
				{Platform: "linux/amd64", Digest: "sha256:3", Verdict: trustpolicy.VerdictFailed, CoveredBy: bulk.CoveredByIndex},
				{Platform: "linux/arm64", Digest: "sha256:4", Verdict: trustpolicy.VerdictFailed, CoveredBy: bulk.CoveredByNone, Error: "no signature"},
			}},
	}
	j := bulk.NewJUnit("trustpolicy verify")
	for _, r := range records {
		j.Add(r)
	}
	var buf bytes.Buffer
	if _, err := j.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	for _, r := range buf.String() {
		if textsafe.Unsafe(r) && r != '\n' {
			t.Fatalf("control character %U in the report:\n%s", r, buf.String())
		}
	}
	var got parsedJUnit
	if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if got.Tests != 8 || got.Failures != 4 || got.Errors != 1 || got.Skipped != 1 || len(got.Suites) != 1 || got.Suites[0].Name != "trustpolicy verify" {
		t.Fatalf("counts %+v", got)
	}
	cases := got.Suites[0].Cases
	if cases[0].Name != "r.example/app:v1" || cases[0].Classname != "r.example/app" || cases[0].Time != 1.5 || cases[0].Failure != nil {
		t.Errorf("verified case %+v", cases[0])
	}
	f := cases[1].Failure
	if f == nil || f.Message != records[1].Brief || f.Type != "failed" || !strings.Contains(f.Text, `\x1b[2Kspoof`) || !strings.Contains(f.Text, "add the root") || cases[1].Classname != "r.example/app" {
		t.Errorf("failed case %+v %+v", cases[1], f)
	}
	if cases[2].Error == nil || cases[3].Skipped == nil || cases[3].Classname != "r.example/skip" {
		t.Errorf("inconclusive %+v, skipped %+v", cases[2], cases[3])
	}
	if !strings.Contains(cases[4].Name, `\x1b]0;title\x07`) {
		t.Errorf("escaped name %q", cases[4].Name)
	}
	if cases[6].Name != "r.example/multi:v1 [linux/amd64]" || cases[6].Failure != nil || cases[7].Failure == nil || !strings.Contains(cases[7].Failure.Message, "not covered: no signature") {
		t.Errorf("platform cases %+v %+v", cases[6], cases[7])
	}
}
