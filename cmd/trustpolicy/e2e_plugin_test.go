package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

var testPKI = filepath.Join("..", "..", "testdata", "pki")

// TestE2EPluginSignatures verifies signatures that the real notation CLI made
// through this project's plugin (keys in SoftHSM, EC-256 and RSA-3072, COSE
// and JWS, chain leaf -> intermediate -> root) with `notation verify` and
// with this command, on the same registry and configuration.
func TestE2EPluginSignatures(t *testing.T) {
	tools := e2e.ToolsT(t)
	signer := e2e.NewPluginSignerT(t, tools, "tp-e2e-Pin-4417")
	w := &e2eWorld{tools: tools, reg: e2e.StartRegistryT(t, tools), notation: signer.Notation}
	// notation's store keys certificates by file name: give each root its own.
	roots := t.TempDir()
	for _, kt := range []string{"ec-256", "rsa-3072"} {
		b, err := os.ReadFile(filepath.Join(testPKI, kt, "root.crt"))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(roots, kt+"-root.crt")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := w.notation.AddCert("ca", "pkcs11", p); err != nil {
			t.Fatal(err)
		}
	}
	star := []string{"*"}
	for i, kt := range []string{"ec-256", "rsa-3072"} {
		uri := signer.ImportKey(t, filepath.Join(testPKI, kt, "leaf.key"), kt, []byte{0x30, byte(i)})
		subject := "C=US, ST=WA, L=Seattle, O=Notation PKCS11 Test, CN=Test Signing " + strings.ToUpper(kt)
		for _, format := range []string{"cose", "jws"} {
			t.Run(kt+"/"+format, func(t *testing.T) {
				repo := w.reg.Ref("plugin/" + kt + "-" + format)
				ref := repo + "@" + e2e.PushT(t, tools, repo+":v1", []byte("plugin-signed "+kt+" "+format))
				signer.Sign(t, uri, filepath.Join(testPKI, kt, "chain.pem"), format, ref)
				cases := []struct {
					name string
					doc  map[string]any
					want trustpolicy.Verdict
				}{
					{"exact identity", policyDoc(stmt("p", star, "strict", []string{"ca:pkcs11"}, []string{"x509.subject: " + subject})), trustpolicy.VerdictVerified},
					{"organisation subset", policyDoc(stmt("p", star, "strict", []string{"ca:pkcs11"}, []string{"x509.subject: C=US, ST=WA, O=Notation PKCS11 Test"})), trustpolicy.VerdictVerified},
					{"other identity", policyDoc(stmt("p", star, "strict", []string{"ca:pkcs11"}, []string{"x509.subject: C=US, ST=WA, O=Notation PKCS11 Test, CN=Somebody Else"})), trustpolicy.VerdictFailed},
					{"root not trusted", policyDoc(stmt("p", star, "strict", []string{"ca:nothere"}, star)), trustpolicy.VerdictFailed},
				}
				for _, c := range cases {
					if err := w.notation.WriteTrustPolicy(c.doc); err != nil {
						t.Fatal(err)
					}
					notationOK, notationOut := w.notationVerify(t, ref)
					code, out, errOut := w.ours(t, "verify", "--plain-http", "--output", "json", ref)
					var rep trustpolicy.Report
					if err := json.Unmarshal([]byte(out), &rep); err != nil {
						t.Fatalf("%s: json output: %v\n%s%s", c.name, err, out, errOut)
					}
					if notationOK != (code == exitVerified) || rep.Verdict != c.want {
						t.Fatalf("%s: notation verify passed=%v; trustpolicy exit %d verdict %s, want %s\nnotation: %s\nours: %s", c.name, notationOK, code, rep.Verdict, c.want, notationOut, rep.Error)
					}
					if c.want != trustpolicy.VerdictVerified {
						continue
					}
					s := rep.Signatures[len(rep.Signatures)-1]
					if len(s.Chain) != 3 || s.Chain[2].Trusted != "ca:pkcs11" || s.Chain[0].Subject != "CN=Test Signing "+strings.ToUpper(kt)+",O=Notation PKCS11 Test,L=Seattle,ST=WA,C=US" {
						t.Errorf("%s: chain %+v: want leaf, intermediate and the root trusted in ca:pkcs11", c.name, s.Chain)
					}
				}
			})
		}
	}
}
