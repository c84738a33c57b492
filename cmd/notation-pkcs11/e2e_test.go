package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// These tests drive the real notation CLI v1.3.2 with the plugin installed
// by `notation plugin install --file`, a real registry on 127.0.0.1, oras,
// and SoftHSM2. They skip only when the tools are missing and neither CI
// nor NOTATION_PKCS11_E2E=required is set (e2e.ToolsT checks that).

const (
	e2ePIN   = "e2e-Pin-7731" // distinctive, so a leak is easy to spot
	badID    = "%20%01"       // bad/leaf.key
	rsa1024  = "%20%02"       // bad/rsa-1024.key
	tokenLbl = "release"
)

var pki_ = filepath.Join("..", "..", "testdata", "pki")

// world is one registry, one SoftHSM token with every test key, and one
// notation home with the plugin installed and the test roots trusted.
type world struct {
	tools    e2e.Tools
	reg      *e2e.Registry
	hsm      *e2e.SoftHSM
	notation *e2e.Notation
	module   string
}

func setup(t *testing.T) *world {
	t.Helper()
	tools := e2e.ToolsT(t)
	hsm := e2e.NewSoftHSMT(t)
	if err := hsm.InitToken(tokenLbl, "so-"+e2ePIN, e2ePIN); err != nil {
		t.Fatal(err)
	}
	// Good keys of every type, with their chains on the token.
	t.Setenv("SOFTHSM2_CONF", hsm.ConfPath())
	for i, kt := range testpki.KeyTypes() {
		id := []byte{0x10, byte(i)}
		if err := hsm.ImportKey(tokenLbl, e2ePIN, filepath.Join(pki_, kt, "leaf.key"), kt, id); err != nil {
			t.Fatal(err)
		}
		importChain(t, hsm, kt, id, filepath.Join(pki_, kt, "chain.pem"))
	}
	// The bad-certificate key and the RSA-1024 key, without certificates:
	// tests name a chain with pluginConfig certificate_chain.
	if err := hsm.ImportKey(tokenLbl, e2ePIN, filepath.Join(pki_, "bad", "leaf.key"), "bad", []byte{0x20, 0x01}); err != nil {
		t.Fatal(err)
	}
	if err := hsm.ImportKey(tokenLbl, e2ePIN, filepath.Join(pki_, "bad", "rsa-1024.key"), "rsa-1024", []byte{0x20, 0x02}); err != nil {
		t.Fatal(err)
	}
	w := &world{tools: tools, hsm: hsm, module: hsm.Module()}
	w.reg = e2e.StartRegistryT(t, tools)
	w.notation = e2e.NewNotationT(t, tools, append(hsm.Env(),
		"NOTATION_PKCS11_PIN="+e2ePIN,
		"NOTATION_PKCS11_MODULE="+hsm.Module(),
		"NOTATION_PKCS11_CACHE="+t.TempDir())...)
	w.mustNotation(t, "plugin", "install", "--file", pluginBinary(t))
	// notation's store keys certificates by file name: copy each root to a
	// name of its own.
	var roots []string
	rootDir := t.TempDir()
	for _, d := range append([]string{"ca"}, testpki.KeyTypes()...) {
		b, err := os.ReadFile(filepath.Join(pki_, d, "root.crt"))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(rootDir, d+"-root.crt")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		roots = append(roots, p)
	}
	w.mustNotation(t, append([]string{"cert", "add", "--type", "ca", "--store", "test"}, roots...)...)
	if err := w.notation.WriteTrustPolicy(e2e.StrictPolicy("test")); err != nil {
		t.Fatal(err)
	}
	return w
}

// importChain puts a chain's certificates on the token: the leaf with the
// key's id, the issuers under their own labels.
func importChain(t *testing.T, hsm *e2e.SoftHSM, label string, id []byte, chainFile string) {
	t.Helper()
	b, err := os.ReadFile(chainFile)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCertificates(b)
	if err != nil {
		t.Fatal(err)
	}
	u, err := pkcs11.ParseURI("pkcs11:token=" + tokenLbl + ";object=" + label)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := pkcs11.Open(context.Background(), u, pkcs11.Options{ModulePath: hsm.Module()})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	for i, c := range certs {
		certID, certLabel := id, label
		if i > 0 {
			certID, certLabel = nil, fmt.Sprintf("%s-ca-%d", label, i)
		}
		if err := tok.ImportCertificate(context.Background(), pkcs11.NewPIN(e2ePIN), certID, certLabel, c); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// pluginBinary builds this command once per test binary.
func pluginBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "notation-pkcs11-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "notation-pkcs11")
		out, err := exec.Command("go", "build", "-o", buildPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildPath != "" {
		os.RemoveAll(filepath.Dir(buildPath))
	}
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

func (w *world) run(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, code, err := w.notation.Run(ctx, args...)
	if err != nil {
		t.Fatalf("notation %s: %v", strings.Join(args, " "), err)
	}
	r := result{out, errOut, code}
	if strings.Contains(out+errOut, e2ePIN) {
		t.Fatalf("notation %s printed the PIN:\n%s", strings.Join(args, " "), r)
	}
	return r
}

func (w *world) mustNotation(t *testing.T, args ...string) result {
	t.Helper()
	r := w.run(t, args...)
	if r.code != 0 {
		t.Fatalf("notation %s: %s", strings.Join(args, " "), r)
	}
	return r
}

var artifactN sync.Mutex
var artifactCount int

// push pushes a fresh artifact and returns its digest reference.
func (w *world) push(t *testing.T) string {
	t.Helper()
	artifactN.Lock()
	artifactCount++
	n := artifactCount
	artifactN.Unlock()
	ref := w.reg.Ref(fmt.Sprintf("e2e/app:v%d", n))
	digest := e2e.PushT(t, w.tools, ref, []byte(fmt.Sprintf("artifact %d %s", n, t.Name())))
	return w.reg.Ref("e2e/app@" + digest)
}

func keyURI(kt string) string { return "pkcs11:token=" + tokenLbl + ";object=" + kt }

func TestE2ESignVerifyEveryKeyTypeAndFormat(t *testing.T) {
	w := setup(t)
	for _, kt := range testpki.KeyTypes() {
		for _, format := range []string{"cose", "jws"} {
			t.Run(kt+"/"+format, func(t *testing.T) {
				ref := w.push(t)
				w.mustNotation(t, "sign", "--insecure-registry", "--signature-format", format, "--plugin", "pkcs11", "--id", keyURI(kt), ref)
				w.mustNotation(t, "verify", "--insecure-registry", ref)
				insp := w.mustNotation(t, "inspect", "--insecure-registry", "-o", "json", ref)
				wantType := map[string]string{"cose": "application/cose", "jws": "application/jose+json"}[format]
				if !strings.Contains(insp.stdout, wantType) {
					t.Fatalf("inspect does not show a %s envelope:\n%s", wantType, insp.stdout)
				}
			})
		}
	}
	t.Run("key add then sign --key", func(t *testing.T) {
		uri := keyURI("ec-384") + "?module-path=" + w.module
		w.mustNotation(t, "key", "add", "--plugin", "pkcs11", "--id", uri, "release-key")
		ref := w.push(t)
		w.mustNotation(t, "sign", "--insecure-registry", "--key", "release-key", ref)
		w.mustNotation(t, "verify", "--insecure-registry", ref)
	})
	t.Run("chain from certificate_chain file", func(t *testing.T) {
		ref := w.push(t)
		w.mustNotation(t, "sign", "--insecure-registry", "--plugin", "pkcs11", "--id", keyURI("bad")+";id="+badID,
			"--plugin-config", "certificate_chain="+abs(t, filepath.Join(pki_, "bad", "wrong-order-chain.pem")), ref)
		w.mustNotation(t, "verify", "--insecure-registry", ref)
	})
	t.Run("pin-source file", func(t *testing.T) {
		pinFile := filepath.Join(t.TempDir(), "pin")
		if err := os.WriteFile(pinFile, []byte(e2ePIN+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		ref := w.push(t)
		w.mustNotation(t, "sign", "--insecure-registry", "--plugin", "pkcs11", "--id", keyURI("ec-256")+"?pin-source=file:"+pinFile,
			"--plugin-config", "timeout=20s", ref)
		w.mustNotation(t, "verify", "--insecure-registry", ref)
	})
	t.Run("debug output never shows the PIN", func(t *testing.T) {
		ref := w.push(t)
		r := w.mustNotation(t, "sign", "-d", "--insecure-registry", "--plugin", "pkcs11", "--id", keyURI("ec-256"), ref)
		if !strings.Contains(r.stdout+r.stderr, "generate-signature") {
			t.Fatalf("-d output does not show the plugin calls, so the check proves nothing:\n%s", r)
		}
	})
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestE2ENegative(t *testing.T) {
	w := setup(t)
	bad := func(name string) []string {
		return []string{"--id", keyURI("bad") + ";id=" + badID, "--plugin-config", "certificate_chain=" + abs(t, filepath.Join(pki_, "bad", name+"-chain.pem"))}
	}
	cases := []struct {
		name string
		env  []string // appended to notation's environment
		args []string // after sign --plugin pkcs11
		want []string // all must appear in notation's output
	}{
		{name: "wrong PIN", env: []string{"NOTATION_PKCS11_PIN=0000-wrong"}, args: []string{"--id", keyURI("ec-256")}, want: []string{"ACCESS_DENIED", "PIN is incorrect"}},
		{name: "unknown key", args: []string{"--id", keyURI("no-such-key")}, want: []string{"no-such-key", "VALIDATION_ERROR"}},
		{name: "certificate for another key", args: []string{"--id", keyURI("bad") + ";id=" + badID, "--plugin-config", "certificate_chain=" + abs(t, filepath.Join(pki_, "bad", "other-key-chain.pem"))}, want: []string{"does not match the signing key", "Other Key"}},
		{name: "no certificate on the token", args: []string{"--id", keyURI("bad") + ";id=" + badID}, want: []string{"no certificate with the key's CKA_ID", "certificate_chain"}},
		{name: "server-auth EKU", args: bad("serverauth-eku"), want: []string{"serverAuth", "fix:"}},
		{name: "no key usage", args: bad("no-keyusage"), want: []string{"key usage extension is missing", "fix:"}},
		{name: "non-critical key usage", args: bad("keyusage-noncritical"), want: []string{"not critical", "fix:"}},
		{name: "keyCertSign on leaf", args: bad("keyusage-keycertsign"), want: []string{"keyCertSign", "fix:"}},
		{name: "CA leaf", args: bad("ca-leaf"), want: []string{"must not be a CA", "fix:"}},
		{name: "expired", args: bad("expired"), want: []string{"expired on", "fix:"}},
		{name: "not yet valid", args: bad("not-yet-valid"), want: []string{"not valid before", "fix:"}},
		{name: "missing intermediate", args: bad("missing-intermediate"), want: []string{"incomplete certificate chain", "Intermediate"}},
		{name: "RSA-1024", args: []string{"--id", keyURI("rsa-1024") + ";id=" + rsa1024, "--plugin-config", "certificate_chain=" + abs(t, filepath.Join(pki_, "bad", "rsa-1024-chain.pem"))}, want: []string{"RSA 1024"}},
		{name: "PIN in pluginConfig", args: []string{"--id", keyURI("ec-256"), "--plugin-config", "pin=" + e2ePIN}, want: []string{"refused", "pin-source", "NOTATION_PKCS11_PIN"}},
		{name: "pin-value in URI", args: []string{"--id", keyURI("ec-256") + "?pin-value=" + e2ePIN}, want: []string{"pin-value is refused"}},
		{name: "module does not exist", args: []string{"--id", keyURI("ec-256") + "?module-path=/nonexistent/libpkcs11.so"}, want: []string{"/nonexistent/libpkcs11.so"}},
		{name: "token and serial", args: []string{"--id", "pkcs11:token=release;serial=1234;object=ec-256"}, want: []string{"token and serial"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref := w.push(t)
			n := w.notation
			if c.env != nil {
				n = e2e.NewNotation(w.tools.Notation, filepath.Dir(w.notation.ConfigDir()), append(w.notation.Env(), c.env...))
			}
			args := append([]string{"sign", "-d", "--insecure-registry", "--plugin", "pkcs11"}, c.args...)
			args = append(args, ref)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, errOut, code, err := n.Run(ctx, args...)
			if err != nil {
				t.Fatal(err)
			}
			r := result{out, errOut, code}
			if code != 1 {
				t.Fatalf("want notation's exit code 1, got %s", r)
			}
			for _, want := range c.want {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r)
				}
			}
			if c.name != "PIN in pluginConfig" && c.name != "pin-value in URI" && strings.Contains(out+errOut, e2ePIN) {
				t.Fatalf("the PIN leaked:\n%s", r)
			}
			if strings.Contains(strings.ReplaceAll(out+errOut, `"pin":"`+e2ePIN, ""), e2ePIN) && c.name == "PIN in pluginConfig" {
				// notation itself logs the request with -d; our reply must not repeat it.
				if strings.Count(out+errOut, e2ePIN) > strings.Count(out+errOut, `"pin":"`+e2ePIN+`"`) {
					t.Fatalf("the plugin repeated the PIN given in pluginConfig:\n%s", r)
				}
			}
			if v := w.run(t, "verify", "--insecure-registry", ref); v.code == 0 {
				t.Fatalf("artifact verifies although signing failed: %s", v)
			}
		})
	}
	t.Run("self-signed leaf signs but does not verify", func(t *testing.T) {
		// A single self-signed signing certificate is allowed by the Notary
		// Project rules; it fails verification because no trust store
		// holds it.
		ref := w.push(t)
		w.mustNotation(t, append([]string{"sign", "--insecure-registry", "--plugin", "pkcs11"}, append(bad("self-signed-leaf"), ref)...)...)
		if v := w.run(t, "verify", "--insecure-registry", ref); v.code == 0 {
			t.Fatalf("self-signed signature verified against the test roots: %s", v)
		}
	})
}

// TestE2EConcurrentSigns runs 50 notation sign processes against one token
// at once; every one must succeed and verify.
func TestE2EConcurrentSigns(t *testing.T) {
	w := setup(t)
	const n = 50
	refs := make([]string, n)
	for i := range refs {
		refs[i] = w.push(t)
	}
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range refs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			kt := []string{"ec-256", "rsa-2048"}[i%2]
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			out, errOut, code, err := w.notation.Run(ctx, "sign", "--insecure-registry", "--plugin", "pkcs11", "--id", keyURI(kt), refs[i])
			if err != nil {
				errOut += err.Error()
				code = -1
			}
			results[i] = result{out, errOut, code}
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("sign %d: %s", i, r)
		}
	}
	for _, ref := range refs {
		w.mustNotation(t, "verify", "--insecure-registry", ref)
	}
}
