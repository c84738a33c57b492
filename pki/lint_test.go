package pki

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
)

// TestLintCertificatesBadFixtures lints every chain in testdata/pki/bad as
// cert lint does, files in any order, and checks the rule each one breaks.
func TestLintCertificatesBadFixtures(t *testing.T) {
	dir := filepath.Join("..", "testdata", "pki", "bad")
	cases := []struct {
		file    string
		errs    bool     // an error finding is expected
		want    []RuleID // each must be found
		chainOK int      // expected chain length
		not     []RuleID // none may be found
	}{
		{"ok-leaf-chain.pem", false, nil, 3, nil},
		{"wrong-order-chain.pem", false, nil, 3, nil},
		{"other-key-chain.pem", false, nil, 3, nil},
		{"self-signed-leaf-chain.pem", false, []RuleID{RuleLeafSelfSigned}, 1, nil},
		{"serverauth-eku-chain.pem", true, []RuleID{RuleLeafExtKeyUsage}, 3, nil},
		{"no-keyusage-chain.pem", true, []RuleID{RuleKeyUsage}, 3, nil},
		{"keyusage-noncritical-chain.pem", true, []RuleID{RuleKeyUsageCrit}, 3, nil},
		{"keyusage-keycertsign-chain.pem", true, []RuleID{RuleLeafExtraKeyUsage}, 3, nil},
		{"ca-leaf-chain.pem", true, []RuleID{RuleLeafCA}, 3, nil},
		{"expired-chain.pem", true, []RuleID{RuleExpired}, 3, nil},
		{"not-yet-valid-chain.pem", true, []RuleID{RuleNotYetValid}, 3, nil},
		// The missing issuer is reported once, not also as "no root".
		{"missing-intermediate-chain.pem", true, []RuleID{RuleChainIssuerMissing}, 1, []RuleID{RuleChainNoRoot}},
		{"rsa-1024-chain.pem", true, []RuleID{RuleLeafKeyType}, 3, nil},
		{"expired.crt", true, []RuleID{RuleExpired, RuleChainIssuerMissing}, 1, []RuleID{RuleLeafSelfSigned, RuleChainNoRoot}},
		// A lone leaf that is not self-signed lacks its issuer; it is not
		// "self-signed".
		{"ok-leaf.crt", true, []RuleID{RuleChainIssuerMissing}, 1, []RuleID{RuleLeafSelfSigned, RuleChainNoRoot}},
		{"serverauth-eku.crt", true, []RuleID{RuleLeafExtKeyUsage, RuleChainIssuerMissing}, 1, []RuleID{RuleLeafSelfSigned}},
		{"self-signed-leaf.crt", false, []RuleID{RuleLeafSelfSigned}, 1, []RuleID{RuleChainIssuerMissing}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			certs, err := ParseCertificates(b)
			if err != nil {
				t.Fatal(err)
			}
			chain, findings := LintCertificates(certs, testpki.Epoch())
			var errs int
			ids := map[RuleID]bool{}
			var text []string
			for _, f := range findings {
				if f.Severity == SeverityError {
					errs++
				}
				ids[f.ID] = true
				text = append(text, f.String())
			}
			all := strings.Join(text, "\n")
			if (errs > 0) != c.errs {
				t.Fatalf("error findings: %d, want errors=%v:\n%s", errs, c.errs, all)
			}
			for _, w := range c.want {
				if !ids[w] {
					t.Errorf("no %s finding:\n%s", w, all)
				}
			}
			for _, n := range c.not {
				if ids[n] {
					t.Errorf("a %s finding:\n%s", n, all)
				}
			}
			if len(chain) != c.chainOK {
				t.Errorf("chain length %d, want %d", len(chain), c.chainOK)
			}
		})
	}
	t.Run("no certificates", func(t *testing.T) {
		if _, f := LintCertificates(nil, testpki.Epoch()); len(f) != 1 || f[0].Severity != SeverityError || f[0].ID != RuleChainEmpty {
			t.Fatalf("%+v", f)
		}
	})
}
