//go:build unix

package main

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
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

// tokWorld runs the plugin binary against one token of a module other than
// SoftHSM (tpm2-pkcs11, opencryptoki), as a user does: token list, key
// generate, csr, cert import and doctor, then notation sign and verify and
// trustpolicy verify. Shared by the TPM and opencryptoki tests.
type tokWorld struct {
	token string // token label
	pin   string // user PIN: no output may hold it
	bin   string // the plugin
	env   []string
	dir   string
	ca    *testca.CA
}

// newTokWorld: the plugin's environment is the module, the PIN, a cache,
// HOME, PATH and the module's own variables (extra).
func newTokWorld(t testing.TB, bin, module, token, pin string, extra ...string) *tokWorld {
	t.Helper()
	w := &tokWorld{token: token, pin: pin, bin: bin, dir: t.TempDir(), ca: loadTestCA(t)}
	w.env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"NOTATION_PKCS11_PIN=" + pin, "NOTATION_PKCS11_MODULE=" + module, "NOTATION_PKCS11_CACHE=" + t.TempDir()}, extra...)
	return w
}

// moduleNoise are the marks of what tpm2-pkcs11, the TSS and GLib print to
// stderr ("ERROR: ...", "WARNING:tcti:...", "** (process:1): WARNING **",
// "ERROR on line: ..."): none may reach the plugin's output.
var moduleNoise = []string{"ERROR:", "WARNING:", "WARNING **", "CRITICAL **", "ERROR on line", "tcti"}

// np runs the plugin with args and stdin; no output may hold the PIN or
// the module's noise.
func (w *tokWorld) np(t testing.TB, stdin string, args ...string) clitest.Run {
	t.Helper()
	r, err := runProc(w.bin, w.env, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	w.checkOutput(t, r)
	return r
}

// checkOutput fails the test when an output holds the PIN or the module's
// noise.
func (w *tokWorld) checkOutput(t testing.TB, r clitest.Run) {
	t.Helper()
	for _, s := range []string{r.Stdout, r.Stderr} {
		if strings.Contains(s, w.pin) {
			t.Fatalf("notation-pkcs11 %s printed the PIN", strings.Join(r.Args, " "))
		}
		for _, n := range moduleNoise {
			if strings.Contains(s, n) {
				t.Fatalf("notation-pkcs11 %s let the module's noise (%q) through: %+v", strings.Join(r.Args, " "), n, r)
			}
		}
	}
}

// human runs a workflow command that must keep the CLI contract: exit
// code want, and one JSON document under --output json or one error line.
func (w *tokWorld) human(t testing.TB, want int, args ...string) clitest.Run {
	t.Helper()
	r := w.np(t, "", args...)
	cw := clitest.Want{Code: want, Secrets: []string{w.pin}}
	if slicesContains(args, "--output") {
		cw.JSON = true
	} else if want != 0 {
		cw.ErrorLine = true
	}
	if err := clitest.Check(r, cw); err != nil {
		t.Fatalf("notation-pkcs11 %s: %v\n%+v", strings.Join(args, " "), err, r)
	}
	return r
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// runProc runs bin with args, env and stdin, within 2 minutes; it may run
// on any goroutine. A non-zero exit is a result, not an error.
func runProc(bin string, env []string, stdin string, args ...string) (clitest.Run, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := clitest.Run{Args: args, Stdout: out.String(), Stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok && ctx.Err() == nil {
		r.Code = ee.ExitCode()
	} else if err != nil {
		return r, fmt.Errorf("%s %s: %w (%v)", bin, strings.Join(args, " "), err, ctx.Err())
	}
	return r, nil
}

// certify makes a request for the key at uri through the token (csr),
// checks its signature, has the test CA issue the leaf, and stores the
// chain on the token (cert import).
func (w *tokWorld) certify(t testing.TB, uri, label string) *x509.Certificate {
	t.Helper()
	csrPath := filepath.Join(w.dir, label+".csr")
	w.human(t, 0, "csr", "--key", uri, "--subject", "C=US,ST=WA,O=Acme Tokens,CN="+label, "--out", csrPath)
	b, err := os.ReadFile(csrPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s is not PEM", csrPath)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		t.Fatalf("the request made through the token does not verify: %v", err)
	}
	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	leaf, err := w.ca.IssueCSRWith(csr, now, now.Add(90*24*time.Hour), testca.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	chain := filepath.Join(w.dir, label+"-chain.pem")
	if err := os.WriteFile(chain, testca.PEM(append([]*x509.Certificate{leaf}, w.ca.Chain()...)...), 0o644); err != nil {
		t.Fatal(err)
	}
	w.human(t, 0, "cert", "import", "--key", uri, chain)
	return leaf
}

// doctorMechanism runs doctor --output json on the key, which must pass,
// and checks that it names mechanism, the one generate-signature signs
// with, in the key check's text and in the report's mechanism field.
func (w *tokWorld) doctorMechanism(t testing.TB, uri, mechanism string) {
	t.Helper()
	r := w.human(t, 0, "doctor", "--key", uri, "--output", "json")
	var rep struct {
		OK        bool
		Mechanism *struct{ Name, Hash string }
		Checks    []struct{ Name, Status, Detail string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil || !rep.OK {
		t.Fatalf("doctor: %v\n%s", err, r.Stdout)
	}
	if rep.Mechanism == nil || rep.Mechanism.Name != mechanism {
		t.Fatalf("doctor's mechanism is %+v, want %s:\n%s", rep.Mechanism, mechanism, r.Stdout)
	}
	for _, c := range rep.Checks {
		if c.Name == "key" && strings.Contains(c.Detail, "signs with "+mechanism) {
			return
		}
	}
	t.Fatalf("doctor's key check does not name %s:\n%s", mechanism, r.Stdout)
}

// signer is notation with the plugin installed, the test root trusted
// (store "tokens") under a strict policy, a registry, and the trustpolicy
// binary that verifies with the same policy and trust store.
type signer struct {
	w           *tokWorld
	tools       e2e.Tools
	reg         *e2e.Registry
	n           *e2e.Notation
	trustpolicy string
}

func (w *tokWorld) newSigner(t *testing.T) *signer {
	t.Helper()
	tools := e2e.ToolsT(t)
	s := &signer{w: w, tools: tools, reg: e2e.StartRegistryT(t, tools), n: e2e.NewNotationT(t, tools, w.env...), trustpolicy: trustpolicyBinary(t)}
	s.notation(t, "plugin", "install", "--file", w.bin)
	root := filepath.Join(w.dir, "root.crt")
	if err := os.WriteFile(root, testca.PEM(w.ca.Root), 0o644); err != nil {
		t.Fatal(err)
	}
	s.notation(t, "cert", "add", "--type", "ca", "--store", "tokens", root)
	if err := s.n.WriteTrustPolicy(e2e.StrictPolicy("tokens")); err != nil {
		t.Fatal(err)
	}
	return s
}

// notation runs notation, which must succeed and not print the PIN.
func (s *signer) notation(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, code, err := s.n.Run(ctx, args...)
	if err != nil || code != 0 {
		t.Fatalf("notation %s: exit %d, %v\n%s%s", strings.Join(args, " "), code, err, out, errOut)
	}
	if strings.Contains(out+errOut, s.w.pin) {
		t.Fatalf("notation %s printed the PIN", strings.Join(args, " "))
	}
	return out
}

// signAndVerify adds the key to notation as label and, for COSE and JWS,
// pushes an artifact, signs it through the plugin, and verifies it with
// notation verify and trustpolicy verify.
func (s *signer) signAndVerify(t *testing.T, uri, label string) {
	t.Helper()
	s.notation(t, "key", "add", "--plugin", "pkcs11", "--id", uri, label)
	for _, format := range []string{"cose", "jws"} {
		repo := "tokens/" + label
		digest := e2e.PushT(t, s.tools, s.reg.Ref(repo+":"+format), []byte("artifact "+label+" "+format))
		ref := s.reg.Ref(repo + "@" + digest)
		s.notation(t, "sign", "--insecure-registry", "--signature-format", format, "--key", label, ref)
		if out := s.notation(t, "verify", "--insecure-registry", ref); !strings.Contains(out, "Successfully verified") {
			t.Fatalf("notation verify %s: %s", format, out)
		}
		r := runBinary(t, s.trustpolicy, s.n.Env(), "", "verify", "--plain-http", "--no-disk-cache", "--output", "json", ref)
		if err := clitest.Check(r, clitest.Want{Code: 0, JSON: true}); err != nil {
			t.Fatalf("trustpolicy verify %s: %v\n%+v", format, err, r)
		}
	}
}

// signRequestSpec is a generate-signature request for the key at uri with
// the given key spec and hash.
func signRequestSpec(uri, keySpec, hash string, cfg map[string]string) string {
	b, _ := json.Marshal(map[string]any{
		"contractVersion": "1.0", "keyId": uri, "keySpec": keySpec, "hashAlgorithm": hash,
		"payload": base64.StdEncoding.EncodeToString([]byte(`{"targetArtifact":{}}`)), "pluginConfig": cfg,
	})
	return string(b)
}
