package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testca"
)

// binWorld is the built binary, a SoftHSM token and the environment to run
// the binary with: the tests of the command-line contract, the module's
// noise and the doctor fixes run the real process, as a user does.
type binWorld struct {
	bin, dir string
	hsm      *e2e.SoftHSM
	env      []string
	ca       *testca.CA
}

// contractPIN is the token's user PIN: no output may contain it.
const contractPIN = "ct-PIN-90210-x"

func newBinWorld(t *testing.T, tokenLabel string) *binWorld {
	t.Helper()
	hsm := e2e.NewSoftHSMT(t)
	if err := hsm.InitToken(tokenLabel, "so-"+contractPIN, contractPIN); err != nil {
		t.Fatal(err)
	}
	caDir, err := testca.FindDir(".")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := testca.Load(caDir)
	if err != nil {
		t.Fatal(err)
	}
	bin := pluginBinary(t)
	w := &binWorld{bin: bin, dir: t.TempDir(), hsm: hsm, ca: ca}
	w.env = append(hsm.Env(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+t.TempDir(),
		"NOTATION_PKCS11_PIN="+contractPIN, "NOTATION_PKCS11_MODULE="+hsm.Module(), "NOTATION_PKCS11_CACHE="+t.TempDir())
	return w
}

// run runs the binary; extra entries override w.env (later ones win).
func (w *binWorld) run(t *testing.T, extra []string, args ...string) clitest.Run {
	t.Helper()
	return runBinary(t, w.bin, append(append([]string(nil), w.env...), extra...), "", args...)
}

func runBinary(t *testing.T, bin string, env []string, stdin string, args ...string) clitest.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
	}
	return clitest.Run{Args: args, Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// mustJSON runs a command that must succeed with --output json and decodes
// its document into v.
func (w *binWorld) mustJSON(t *testing.T, v any, args ...string) clitest.Run {
	t.Helper()
	r := w.run(t, nil, append(args, "--output", "json")...)
	if err := clitest.Check(r, clitest.Want{Code: 0, JSON: true, Secrets: []string{contractPIN}}); err != nil {
		t.Fatal(err)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(r.Stdout), v); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
	}
	return r
}

// newKey generates a key and returns its URI.
func (w *binWorld) newKey(t *testing.T, token, label string) string {
	t.Helper()
	var out struct{ URI string }
	w.mustJSON(t, &out, "key", "generate", "--token", "pkcs11:token="+token, "--type", "ec-256", "--label", label)
	return out.URI
}

// certify makes a request for the key, has the test CA issue it with the
// given subject, and writes the chain (leaf, intermediate, root) to a file.
func (w *binWorld) certify(t *testing.T, uri, name string, subject func(*x509.CertificateRequest) *x509.CertificateRequest) string {
	t.Helper()
	csrFile := filepath.Join(w.dir, name+".csr")
	w.mustJSON(t, nil, "csr", "--key", uri, "--subject", "C=US,ST=WA,O=Acme,CN="+name, "--out", csrFile)
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
	if subject != nil {
		csr = subject(csr)
	}
	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	leaf, err := w.ca.IssueCSR(csr, now, now.Add(90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	chain := filepath.Join(w.dir, name+"-chain.pem")
	if err := os.WriteFile(chain, testca.PEM(append([]*x509.Certificate{leaf}, w.ca.Chain()...)...), 0o644); err != nil {
		t.Fatal(err)
	}
	return chain
}
