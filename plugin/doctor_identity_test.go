package plugin

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testkit"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// leafWithSubject issues a signing certificate for the ec-256 leaf key
// from the ec-256 intermediate, with subject.
func leafWithSubject(t *testing.T, subject pkix.Name) *x509.Certificate {
	t.Helper()
	chain := loadCerts(t, "ec-256/chain.pem")
	tmpl := testkit.LeafTemplate(subject, testpki.Epoch().AddDate(-1, 0, 0), testpki.Epoch().AddDate(5, 0, 0))
	return testkit.Issue(t, tmpl, loadSigner(t, "ec-256/leaf.key").Public(), chain[1], loadSigner(t, "ec-256/intermediate.key"))
}

// verifierSuggestion is the verifier's IdentityError.Suggestion for leaf.
func verifierSuggestion(t *testing.T, leaf *x509.Certificate) string {
	t.Helper()
	doc := DoctorOptions{}.withDefaults().policy("x509.subject: C=ZZ, ST=Nowhere, O=Nobody")
	pol, err := trustpolicy.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	rule, err := pol.Select("registry.example.com/app@sha256:" + strings.Repeat("a", 64))
	if err != nil {
		t.Fatal(err)
	}
	var ie *trustpolicy.IdentityError
	if err := rule.MatchIdentity(leaf); !errors.As(err, &ie) {
		t.Fatalf("MatchIdentity = %v", err)
	}
	return ie.Suggestion
}

// TestDoctorSubjectRule: doctor and the verifier say the same thing about
// a signing certificate's subject: the identity the verifier would
// suggest, or, when none can name it, the verifier's words, which are
// also the prose of the chain check's subject-identity finding.
func TestDoctorSubjectRule(t *testing.T) {
	for _, tc := range []struct {
		name    string
		subject pkix.Name
		ok      bool
	}{
		{"C ST O CN", pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"Acme, Inc."}, CommonName: "Release"}, true},
		{"no ST", pkix.Name{Country: []string{"US"}, Organization: []string{"Acme"}, CommonName: "Release"}, false},
		{"CN only", pkix.Name{CommonName: "Bare"}, false},
		{"O twice", pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"Acme", "Other"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf := leafWithSubject(t, tc.subject)
			tok := goodToken(t, "ec-256", true)
			tok.Certs[0].cert = leaf
			rep := doctorOn(t, tok, stdEnv(fakeModule(t)), keyURI, DoctorOptions{})
			if !rep.OK {
				t.Fatalf("doctor fails at %s: %+v", rep.Failed, lastCheck(rep))
			}
			suggestion := verifierSuggestion(t, leaf)
			var chainCheck Check
			for _, c := range rep.Checks {
				if c.Name == CheckChain {
					chainCheck = c
				}
			}
			if tc.ok {
				if rep.Identity != suggestion || rep.IdentityProblem != "" || rep.TrustPolicy == nil || chainCheck.Status != StatusOK {
					t.Fatalf("identity %q (problem %q), the verifier suggests %q; chain %+v", rep.Identity, rep.IdentityProblem, suggestion, chainCheck)
				}
				return
			}
			if rep.Identity != "" || rep.TrustPolicy != nil || rep.IdentityProblem != suggestion {
				t.Fatalf("identity %q, problem %q; the verifier says %q", rep.Identity, rep.IdentityProblem, suggestion)
			}
			if chainCheck.Status != StatusWarn || len(chainCheck.Findings) != 1 || chainCheck.Findings[0].ID != pki.RuleSubjectIdentity || chainCheck.Findings[0].Rule != suggestion {
				t.Fatalf("chain check %+v, want one %s warning saying %q", chainCheck, pki.RuleSubjectIdentity, suggestion)
			}
			// The JSON report carries the rule ID.
			js, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			var back struct {
				Checks []struct {
					Name     string `json:"name"`
					Findings []struct {
						ID string `json:"id"`
					} `json:"findings"`
				} `json:"checks"`
			}
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, c := range back.Checks {
				for _, f := range c.Findings {
					found = found || (c.Name == CheckChain && f.ID == string(pki.RuleSubjectIdentity))
				}
			}
			if !found {
				t.Fatalf("the JSON report has no %s finding: %s", pki.RuleSubjectIdentity, js)
			}
		})
	}
}
