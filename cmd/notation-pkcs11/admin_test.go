package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testca"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
)

// runCLI runs the command in process with an empty environment.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runEnv(t, nil, args...)
}

// runEnv runs the command in process; env is its whole environment.
func runEnv(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	return out.String(), errOut.String(), code
}

// TestCertLintEveryBadKind runs cert lint on every chain in testdata/pki/bad:
// the exit code, the rule IDs in the text and JSON output, and a fix for
// every finding.
func TestCertLintEveryBadKind(t *testing.T) {
	bad := filepath.Join(pki_, "bad")
	cases := []struct {
		file string
		code int
		ids  []pki.RuleID
	}{
		{"ok-leaf-chain.pem", 0, nil},
		{"wrong-order-chain.pem", 0, nil},
		{"other-key-chain.pem", 0, nil},
		{"self-signed-leaf-chain.pem", 0, []pki.RuleID{pki.RuleLeafSelfSigned}},
		{"serverauth-eku-chain.pem", 1, []pki.RuleID{pki.RuleLeafExtKeyUsage}},
		{"no-keyusage-chain.pem", 1, []pki.RuleID{pki.RuleKeyUsage}},
		{"keyusage-noncritical-chain.pem", 1, []pki.RuleID{pki.RuleKeyUsageCrit}},
		{"keyusage-keycertsign-chain.pem", 1, []pki.RuleID{pki.RuleLeafExtraKeyUsage}},
		{"ca-leaf-chain.pem", 1, []pki.RuleID{pki.RuleLeafCA}},
		{"expired-chain.pem", 1, []pki.RuleID{pki.RuleExpired}},
		{"not-yet-valid-chain.pem", 1, []pki.RuleID{pki.RuleNotYetValid}},
		{"missing-intermediate-chain.pem", 1, []pki.RuleID{pki.RuleChainIssuerMissing}},
		{"rsa-1024-chain.pem", 1, []pki.RuleID{pki.RuleLeafKeyType}},
	}
	entries, err := os.ReadDir(bad)
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.file] = true
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "-chain.pem") && !covered[e.Name()] {
			t.Errorf("bad fixture %s has no cert lint case", e.Name())
		}
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			out, errOut, code := runCLI(t, "cert", "lint", filepath.Join(bad, c.file))
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, c.code, out, errOut)
			}
			if (code == 0) != strings.Contains(out, "ok: the chain meets") {
				t.Errorf("exit %d with:\n%s", code, out)
			}
			for _, id := range c.ids {
				if !strings.Contains(out, "["+string(id)+"]: ") {
					t.Errorf("the text output does not name rule %s:\n%s", id, out)
				}
			}
			jout, _, jcode := runCLI(t, "cert", "lint", "--output", "json", filepath.Join(bad, c.file))
			var rep struct {
				OK       bool
				Findings []pki.Finding
			}
			if err := json.Unmarshal([]byte(jout), &rep); err != nil || jcode != code || rep.OK != (code == 0) {
				t.Fatalf("json: exit %d, %v\n%s", jcode, err, jout)
			}
			got := map[pki.RuleID]bool{}
			for _, f := range rep.Findings {
				got[f.ID] = true
				if f.Fix == "" || f.Rule == "" {
					t.Errorf("finding without prose or fix: %+v", f)
				}
			}
			for _, id := range c.ids {
				if !got[id] {
					t.Errorf("the JSON findings lack rule %s:\n%s", id, jout)
				}
			}
		})
	}
	t.Run("leaf and issuers in separate files, any order", func(t *testing.T) {
		d := filepath.Join(pki_, "ec-256")
		out, _, code := runCLI(t, "cert", "lint", filepath.Join(d, "root.crt"), filepath.Join(d, "leaf.crt"), filepath.Join(d, "intermediate.crt"))
		if code != 0 || !strings.Contains(out, "ok:") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
}

func TestAdminUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"key"}, 2, "needs a subcommand: generate, list"},
		{[]string{"cert", "frob"}, 2, `unknown command "frob"`},
		{[]string{"key", "generate", "--type", "ec-256", "--label", "x"}, 2, "--token is required"},
		{[]string{"key", "generate", "--token", "pkcs11:token=t", "--type", "dsa", "--label", "x"}, 2, "unknown key type"},
		{[]string{"key", "generate", "--token", "pkcs11:token=t", "--type", "ec-256", "--label", "x", "--id", "zz"}, 2, "--id"},
		{[]string{"key", "generate", "--token", "pkcs11:token=t;object=k", "--type", "ec-256", "--label", "x"}, 1, "a token URI names no key"},
		{[]string{"key", "list", "--token", "pkcs11:token=t"}, 1, "no PKCS#11 module named"},
		{[]string{"csr", "--key", "pkcs11:token=t;object=k", "--subject", "CN=x"}, 2, "--subject: invalid certificate subject"},
		{[]string{"csr", "--key", "pkcs11:token=t;object=k", "--subject", "C=US,ST=WA,O=a+OU=b"}, 2, "--subject: invalid certificate subject"},
		{[]string{"csr", "--key", "pkcs11:token=t;object=k", "--subject", "c=US,st=WA,o=a"}, 2, "write C, not c"},
		{[]string{"csr", "--subject", "C=US,ST=WA,O=a"}, 2, "--key is required"},
		{[]string{"cert", "import", "--key", "pkcs11:token=t;object=k"}, 2, "requires at least 1 arg"},
		{[]string{"cert", "lint", "/nonexistent/chain.pem"}, 2, "/nonexistent/chain.pem: no such file or directory"},
		{[]string{"cert", "import", "--key", "pkcs11:token=t;object=k", "/nonexistent/chain.pem"}, 2, "/nonexistent/chain.pem: no such file or directory"},
		{[]string{"cert", "lint", filepath.Join(pki_, "bad", "leaf.key")}, 2, "is not a CERTIFICATE"},
		{[]string{"csr", "--key", "pkcs11:token=t;object=k", "--subject", "C=US,ST=WA,O=a", "--out", "/nonexistent/dir/x.csr"}, 2, "folder /nonexistent/dir: no such file or directory"},
		{[]string{"doctor", "--key", "pkcs11:object=k", "--root-out", "/nonexistent/dir/root.pem"}, 2, "folder /nonexistent/dir"},
		{[]string{"doctor", "--key", "pkcs11:object=k", "--scope", "registry.example.com/app:v1"}, 2, `--scope "registry.example.com/app:v1"`},
		{[]string{"doctor", "--key", "pkcs11:object=k", "--trust-store", "a/b"}, 2, `--trust-store "a/b"`},
		{[]string{"doctor"}, 2, "--key is required"},
		{[]string{"doctor", "--key", "pkcs11:object=k", "--output", "yaml"}, 2, "must be text or json"},
		{[]string{"doctor", "--key", "pkcs11:object=k", "--plugin-config", "pin=1"}, 3, `pluginConfig "pin" is refused`},
		{[]string{"doctor", "--key", "pkcs11:object=k", "--pin=1234"}, 2, "never taken on the command line"},
		{[]string{"doctor", "--key", "pkcs11:object=k", "--pin", "1234"}, 2, "never taken on the command line"},
		{[]string{"doctor", "-h", "--so-pin=1234"}, 2, "never taken on the command line"},
		{[]string{"--PIN=1234"}, 2, "never taken on the command line"},
		{[]string{"key", "generate", "--pin-source=1234"}, 2, "never taken on the command line"},
		{[]string{"doctor", "--key", "pkcs11:object=k", "--plugin-config", "oops1234"}, 2, "KEY=VALUE"},
		{[]string{"token", "list", "extra"}, 2, `unknown command "extra"`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			out, errOut, code := runCLI(t, c.args...)
			if code != c.code || !strings.Contains(out+errOut, c.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s%s", code, c.code, c.want, out, errOut)
			}
			if strings.Contains(out+errOut, "1234") {
				t.Fatal("a PIN given on the command line was echoed")
			}
		})
	}
}

func TestDoctorExitCodes(t *testing.T) {
	seen := map[int]bool{0: true, cli.ExitFailed: true, cli.ExitUsage: true}
	for _, c := range []string{"config", "module", "token", "pin", "key", "certificate", "certificate-match", "chain", "expiry", "revocation"} {
		code := doctorExit(c)
		if seen[code] {
			t.Fatalf("check %s shares exit code %d", c, code)
		}
		seen[code] = true
	}
}

// TestCertLintFormats: cert lint reads DER certificates and PKCS#7
// bundles as well as PEM, and a lone leaf that is not self-signed is
// "issuer certificate missing", not "self-signed".
func TestCertLintFormats(t *testing.T) {
	td := filepath.Join("..", "..", "pki", "testdata")
	for _, c := range []struct {
		files []string
		code  int
		want  string
		not   string
	}{
		{[]string{filepath.Join(td, "ec-256-chain.p7b")}, 0, "ok: the chain meets", ""},
		{[]string{filepath.Join(td, "rsa-2048-chain.p7b.pem")}, 0, "ok: the chain meets", ""},
		{[]string{filepath.Join(td, "ec-256-leaf.cer")}, 1, "issuer certificate missing", "self-signed"},
		{[]string{filepath.Join(pki_, "bad", "ok-leaf.crt")}, 1, "issuer certificate missing", "self-signed"},
		{[]string{filepath.Join(td, "ec-256-leaf.cer"), filepath.Join(pki_, "ec-256", "intermediate.crt"), filepath.Join(pki_, "ec-256", "root.crt")}, 0, "chain[2]", ""},
	} {
		out, errOut, code := runCLI(t, append([]string{"cert", "lint"}, c.files...)...)
		if code != c.code || !strings.Contains(out, c.want) || (c.not != "" && strings.Contains(out, c.not)) {
			t.Errorf("cert lint %q: exit %d (want %d), want %q and not %q:\n%s%s", c.files, code, c.code, c.want, c.not, out, errOut)
		}
	}
}

// TestCertFileNotRegular: a FIFO or a folder named as a certificate file
// is a usage error at once; opening the FIFO does not wait for a writer.
func TestCertFileNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "chain.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"cert", "lint", fifo}, {"cert", "lint", t.TempDir()}, {"cert", "import", "--key", "pkcs11:token=t;object=k", fifo}} {
		_, errOut, code := runCLI(t, args...)
		if code != cli.ExitUsage || !strings.Contains(errOut, "not a regular file") {
			t.Errorf("%q: exit %d: %s", args, code, errOut)
		}
	}
}

// TestCertImportRefusedJSON: a chain the signing rules refuse is not
// written; --output json prints the findings with their rule IDs (as cert
// lint does) and exits 1, text prints one error line.
func TestCertImportRefusedJSON(t *testing.T) {
	const token = "refused"
	w := newBinWorld(t, token)
	key := w.newKey(t, token, "refused-key")
	csrFile := filepath.Join(w.dir, "refused.csr")
	w.mustJSON(t, nil, "csr", "--key", key, "--subject", "C=US,ST=WA,O=Acme,CN=Refused", "--out", csrFile)
	b, err := os.ReadFile(csrFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s is not PEM", csrFile)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().AddDate(0, -2, 0).Truncate(time.Second)
	leaf, err := w.ca.IssueCSR(csr, past, past.AddDate(0, 1, 0)) // expired a month ago
	if err != nil {
		t.Fatal(err)
	}
	chain := filepath.Join(w.dir, "refused-chain.pem")
	if err := os.WriteFile(chain, testca.PEM(append([]*x509.Certificate{leaf}, w.ca.Chain()...)...), 0o644); err != nil {
		t.Fatal(err)
	}

	r := w.run(t, nil, "cert", "import", "--key", key, chain, "--output", "json")
	if err := clitest.Check(r, clitest.Want{Code: cli.ExitFailed, JSON: true, Secrets: []string{contractPIN}}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema   string
		OK       bool
		Findings []pki.Finding
	}
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || doc.Schema != schemaCertImport || doc.OK || len(doc.Findings) != 1 ||
		doc.Findings[0].ID != pki.RuleExpired || doc.Findings[0].Subject != leaf.Subject.String() {
		t.Fatalf("%v:\n%s", err, r.Stdout)
	}
	text := w.run(t, nil, "cert", "import", "--key", key, chain)
	if err := clitest.Check(text, clitest.Want{Code: cli.ExitFailed, ErrorLine: true, Secrets: []string{contractPIN}}); err != nil {
		t.Fatal(err)
	}
	// Nothing was written: the key still has no certificate.
	var keys struct {
		Keys []struct {
			Label        string
			Certificates []any
		}
	}
	w.mustJSON(t, &keys, "key", "list", "--token", "pkcs11:token="+token)
	if len(keys.Keys) != 1 || len(keys.Keys[0].Certificates) != 0 {
		t.Fatalf("after a refused import: %+v", keys)
	}
	// The same chain with a current certificate imports, "ok": true.
	var ok struct {
		OK    bool
		Chain []struct{ Imported bool }
	}
	w.mustJSON(t, &ok, "cert", "import", "--key", key, w.certify(t, key, "Refused", nil))
	if !ok.OK || len(ok.Chain) != 3 || !ok.Chain[0].Imported {
		t.Fatalf("import: %+v", ok)
	}
}
