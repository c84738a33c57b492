package pki

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLintCertificatesBadFixtures lints every chain in testdata/pki/bad as
// cert lint does, files in any order, and checks the rule each one breaks.
func TestLintCertificatesBadFixtures(t *testing.T) {
	dir := filepath.Join("..", "testdata", "pki", "bad")
	cases := []struct {
		file    string
		errs    bool     // an error finding is expected
		want    []string // each must appear in some finding's rule or fix
		chainOK int      // expected chain length
		not     []string // none may appear
	}{
		{"ok-leaf-chain.pem", false, nil, 3, nil},
		{"wrong-order-chain.pem", false, nil, 3, nil},
		{"other-key-chain.pem", false, nil, 3, nil},
		{"self-signed-leaf-chain.pem", false, []string{"self-signed"}, 1, nil},
		{"serverauth-eku-chain.pem", true, []string{"serverAuth", "extendedKeyUsage = codeSigning"}, 3, nil},
		{"no-keyusage-chain.pem", true, []string{"key usage extension is missing", "keyUsage = critical, digitalSignature"}, 3, nil},
		{"keyusage-noncritical-chain.pem", true, []string{"not critical", "mark keyUsage critical"}, 3, nil},
		{"keyusage-keycertsign-chain.pem", true, []string{"keyCertSign besides digitalSignature"}, 3, nil},
		{"ca-leaf-chain.pem", true, []string{"must not be a CA", "CA:FALSE"}, 3, nil},
		{"expired-chain.pem", true, []string{"expired on", "issue a new certificate"}, 3, nil},
		{"not-yet-valid-chain.pem", true, []string{"not valid before"}, 3, nil},
		{"missing-intermediate-chain.pem", true, []string{"no certificate for its issuer", "add the issuing CA certificate"}, 1, nil},
		{"rsa-1024-chain.pem", true, []string{"RSA 1024"}, 3, nil},
		{"expired.crt", true, []string{"expired on", "issuer certificate missing", "no certificate for its issuer"}, 1, []string{"self-signed"}},
		// A lone leaf that is not self-signed lacks its issuer; it is not
		// "self-signed".
		{"ok-leaf.crt", true, []string{"issuer certificate missing"}, 1, []string{"self-signed"}},
		{"serverauth-eku.crt", true, []string{"serverAuth", "issuer certificate missing"}, 1, []string{"self-signed"}},
		{"self-signed-leaf.crt", false, []string{"self-signed"}, 1, []string{"issuer certificate missing"}},
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
			chain, findings := LintCertificates(certs, time.Now())
			var errs int
			var text []string
			for _, f := range findings {
				if f.Severity == SeverityError {
					errs++
				}
				text = append(text, f.Rule+" / "+f.Fix)
			}
			all := strings.Join(text, "\n")
			if (errs > 0) != c.errs {
				t.Fatalf("error findings: %d, want errors=%v:\n%s", errs, c.errs, all)
			}
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("no finding says %q:\n%s", w, all)
				}
			}
			for _, n := range c.not {
				if strings.Contains(all, n) {
					t.Errorf("a finding says %q:\n%s", n, all)
				}
			}
			if len(chain) != c.chainOK {
				t.Errorf("chain length %d, want %d", len(chain), c.chainOK)
			}
			if strings.Contains(all, ruleNoRoot) && c.file == "missing-intermediate-chain.pem" {
				t.Errorf("the missing issuer is reported twice:\n%s", all)
			}
		})
	}
	t.Run("no certificates", func(t *testing.T) {
		if _, f := LintCertificates(nil, time.Now()); len(f) != 1 || f[0].Severity != SeverityError {
			t.Fatalf("%+v", f)
		}
	})
}
