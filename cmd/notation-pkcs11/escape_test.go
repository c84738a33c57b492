package main

import (
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// evil holds terminal escapes that would erase the line and paint a fake
// verdict, and a bidirectional override.
const evil = "\x1b[2K\r\x1b[32mVERIFIED\x1b[0m\u202e"

// TestTextOutputEscapesControlCharacters (item 8 of #12): a token label, a
// key label and a certificate subject holding terminal escapes reach the
// terminal escaped in token list, key list, cert lint, cert import and
// doctor, and --output json keeps the exact value.
func TestTextOutputEscapesControlCharacters(t *testing.T) {
	token := "tok" + evil
	w := newBinWorld(t, token)
	tokURI := (&pkcs11.URI{Token: token}).String()
	var gen struct{ URI string }
	w.mustJSON(t, &gen, "key", "generate", "--token", tokURI, "--type", "ec-256", "--label", "key"+evil)
	chain := w.certify(t, gen.URI, "Escapes", func(csr *x509.CertificateRequest) *x509.CertificateRequest {
		csr.Subject.CommonName = "Signer" + evil
		return csr
	})
	for _, args := range [][]string{
		{"token", "list"},
		{"cert", "lint", chain},
		{"cert", "import", "--key", gen.URI, chain},
		{"key", "list", "--token", tokURI},
		{"doctor", "--key", gen.URI},
	} {
		r := w.run(t, nil, args...)
		if err := clitest.Check(r, clitest.Want{Code: r.Code, Secrets: []string{contractPIN}}); err != nil {
			t.Error(err)
			continue
		}
		if r.Code != 0 && args[0] != "cert" {
			t.Errorf("%q: exit %d\n%s%s", args, r.Code, r.Stdout, r.Stderr)
		}
		if !strings.Contains(r.Stdout, `\x1b[2K\r\x1b[32mVERIFIED`) {
			t.Errorf("%q: the escaped text is not shown:\n%s", args, r.Stdout)
		}
	}
	// JSON keeps the exact value (escaped by JSON, not altered).
	var kl struct {
		Keys []struct {
			Label        string
			Certificates []string
		}
	}
	w.mustJSON(t, &kl, "key", "list", "--token", tokURI)
	if len(kl.Keys) != 1 || kl.Keys[0].Label != "key"+evil || len(kl.Keys[0].Certificates) != 1 || !strings.Contains(kl.Keys[0].Certificates[0], "Signer"+evil) {
		b, _ := json.Marshal(kl)
		t.Fatalf("key list --output json: %s", b)
	}
}
