package trustpolicy_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

func failedResult(ref, errText, fix string) *trustpolicy.Result {
	return &trustpolicy.Result{
		Verdict: trustpolicy.VerdictFailed, Reference: ref, Error: "authenticity check failed: " + errText, Fix: fix,
		Checks: []trustpolicy.Check{{Type: trustpolicy.TypeAuthenticity, Action: trustpolicy.ActionEnforce, Outcome: trustpolicy.OutcomeFailed, Error: errText, Fix: fix}},
	}
}

func TestBrief(t *testing.T) {
	dgst := "sha256:" + strings.Repeat("ab", 32)
	ref := "registry.example/app@" + dgst
	longRepo := "registry.example/" + strings.Repeat("very-long-name/", 30) + "app"
	long := strings.Repeat("the reason goes on and on ", 30)
	cases := []struct {
		name    string
		rep     func() *trustpolicy.Report
		want    []string // substrings
		notWant []string
	}{
		{"verified", func() *trustpolicy.Report {
			r := &trustpolicy.Report{Reference: ref, Policy: &trustpolicy.PolicyMatch{Name: "release", Level: "strict"}}
			r.Add("", &trustpolicy.Result{Verdict: trustpolicy.VerdictVerified, Reference: ref})
			r.Finish(nil)
			return r
		}, []string{"verified: " + ref + ": policy \"release\", level strict"}, nil},
		{"no signature names the reference once", func() *trustpolicy.Report {
			r := &trustpolicy.Report{Reference: ref}
			r.Finish(nil)
			return r
		}, []string{"failed: " + ref + ": no signature is associated with it"}, nil},
		{"short fix fits", func() *trustpolicy.Report {
			r := &trustpolicy.Report{Reference: ref}
			r.Add("", failedResult(ref, "bad", "do this"))
			r.Finish(nil)
			return r
		}, []string{"authenticity check failed: bad; fix: do this"}, nil},
		{"long reason is cut", func() *trustpolicy.Report {
			r := &trustpolicy.Report{Reference: ref}
			r.Add("", failedResult(ref, long, "a fix that will not fit"))
			r.Finish(nil)
			return r
		}, []string{"failed: " + ref, "… (cut; see explain)"}, []string{"; fix:"}},
		{"long reference keeps its digest", func() *trustpolicy.Report {
			r := &trustpolicy.Report{Reference: longRepo + "@" + dgst}
			r.Finish(nil)
			return r
		}, []string{"…", dgst}, nil},
		{"control characters are escaped", func() *trustpolicy.Report {
			r := &trustpolicy.Report{Reference: ref}
			r.Add("", failedResult(ref, "subject \"CN=\x1b[2K\rVERIFIED\u202e\"", "fix \x1b[31m"))
			r.Finish(nil)
			return r
		}, []string{`CN=\x1b[2K\rVERIFIED\u202e`}, nil},
		{"several signatures", func() *trustpolicy.Report {
			r := &trustpolicy.Report{Reference: ref}
			r.Add("sha256:1", failedResult(ref, "first", ""))
			r.Add("sha256:2", failedResult(ref, "second", ""))
			r.Finish(nil)
			return r
		}, []string{"2 signatures; last: authenticity check failed: second"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.rep().Brief()
			if n := utf8.RuneCountInString(b); n > trustpolicy.MaxBriefLen || strings.Contains(b, "\n") || textsafe.Has(b) {
				t.Errorf("brief is %d characters, or not one safe line: %q", n, b)
			}
			if strings.Count(b, "registry.example/") != 1 {
				t.Errorf("brief names the reference %d times: %q", strings.Count(b, "registry.example/"), b)
			}
			for _, w := range c.want {
				if !strings.Contains(b, w) {
					t.Errorf("brief %q lacks %q", b, w)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(b, w) {
					t.Errorf("brief %q has %q", b, w)
				}
			}
		})
	}
}

// TestExplainSource: SOURCE says where the answer came from (network,
// memory cache, disk cache, imported); nothing answered is "none", not "network"; a
// checker that fills only FromCache shows "cache".
func TestExplainSource(t *testing.T) {
	res := &trustpolicy.Result{Verdict: trustpolicy.VerdictFailed, Reference: "r@d", Checks: []trustpolicy.Check{{
		Type: trustpolicy.TypeRevocation, Action: trustpolicy.ActionEnforce, Outcome: trustpolicy.OutcomeFailed,
		Revocation: []trustpolicy.CertRevocation{
			{Subject: "CN=offline", Result: revocation.Result{Status: revocation.StatusUnknown, Method: revocation.MethodOCSPFallbackCRL, URL: "http://crl.example/a.crl", Detail: "offline mode: no cached CRL"}},
			{Subject: "CN=legacy-cached", Result: revocation.Result{Status: revocation.StatusOK, Method: revocation.MethodCRL, URL: "http://crl.example/b.crl", FromCache: true}},
			{Subject: "CN=online", Result: revocation.Result{Status: revocation.StatusRevoked, Method: revocation.MethodOCSP, URL: "http://ocsp.example", Source: revocation.SourceNetwork}},
			{Subject: "CN=memory", Result: revocation.Result{Status: revocation.StatusOK, Method: revocation.MethodOCSP, URL: "http://ocsp.example/m", Source: revocation.SourceMemory, FromCache: true}},
			{Subject: "CN=disk", Result: revocation.Result{Status: revocation.StatusOK, Method: revocation.MethodCRL, URL: "http://crl.example/d.crl", Source: revocation.SourceDisk, FromCache: true}},
			{Subject: "CN=imported", Result: revocation.Result{Status: revocation.StatusRevoked, Method: revocation.MethodCRL, URL: "http://crl.example/i.crl", Source: revocation.SourceImported, FromCache: true}},
			{Subject: "CN=root", Result: revocation.Result{Status: revocation.StatusNonRevokable}},
		},
	}}}
	out := res.Explain()
	for _, want := range []string{
		"none http://crl.example/a.crl", "cache http://crl.example/b.crl", "network http://ocsp.example ",
		"memory cache http://ocsp.example/m", "disk cache http://crl.example/d.crl", "imported http://crl.example/i.crl",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "network http://crl.example/a.crl") {
		t.Errorf("an unanswered certificate shows network as its source:\n%s", out)
	}
}
