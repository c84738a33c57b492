//go:build unix

package main

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testca"
)

// p11-kit remoting end to end (issue 16): `p11-kit server` in front of a
// SoftHSM token stands in for a network HSM, and the plugin loads
// p11-kit-client.so. The plugin's environment has no SOFTHSM2_CONF: every
// call crosses the socket.

const (
	rkPIN     = "rk-PIN-31337-x" // distinctive, so a leak is easy to spot
	rkToken   = "remote"
	rkSubject = "C=US,ST=WA,L=Seattle,O=Acme Remote,CN=Remote Signing"
)

type rkWorld struct {
	hsm    *e2e.SoftHSM
	srv    *e2e.P11KitServer
	client string // p11-kit-client.so
	bin    string // the plugin
	env    []string
	dir    string
}

// newRK initialises the SoftHSM token and starts the server in front of
// module (SoftHSM when empty; the shim for fault injection, with shimEnv).
// bin is the plugin binary.
func newRK(t testing.TB, bin, module string, shimEnv ...string) *rkWorld {
	t.Helper()
	hsm := e2e.NewSoftHSMT(t)
	if err := hsm.InitToken(rkToken, "so-"+rkPIN, rkPIN); err != nil {
		t.Fatal(err)
	}
	w := &rkWorld{hsm: hsm, bin: bin, dir: t.TempDir()}
	w.srv, w.client = e2e.StartP11KitServerT(t, hsm, rkToken, module, shimEnv...)
	w.env = append(w.srv.Env(), "PATH="+os.Getenv("PATH"), "HOME="+t.TempDir(),
		"NOTATION_PKCS11_PIN="+rkPIN, "NOTATION_PKCS11_MODULE="+w.client, "NOTATION_PKCS11_CACHE="+t.TempDir())
	return w
}

// np runs the plugin binary with args (and stdin); no output may hold the PIN.
func (w *rkWorld) np(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env = w.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("notation-pkcs11 %s: %v (ctx %v)", strings.Join(args, " "), err, ctx.Err())
	}
	r := result{out.String(), errOut.String(), code}
	if strings.Contains(r.stdout+r.stderr, rkPIN) {
		t.Fatalf("notation-pkcs11 %s printed the PIN", strings.Join(args, " "))
	}
	return r
}

func (w *rkWorld) mustNP(t testing.TB, args ...string) result {
	t.Helper()
	r := w.np(t, "", args...)
	if r.code != 0 {
		t.Fatalf("notation-pkcs11 %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// newKey makes a key through the server with key generate, has the test CA
// issue its certificate from a csr made through the server, and imports
// the chain onto the token with cert import. It returns the key's URI.
func (w *rkWorld) newKey(t testing.TB, ca *testca.CA, kt, label string) string {
	t.Helper()
	r := w.mustNP(t, "key", "generate", "--token", "pkcs11:token="+rkToken, "--type", kt, "--label", label, "--output", "json")
	var gen struct{ URI, KeySpec string }
	if err := json.Unmarshal([]byte(r.stdout), &gen); err != nil || !strings.Contains(gen.URI, "object="+label) {
		t.Fatalf("key generate: %v\n%s", err, r)
	}
	csrPath := filepath.Join(w.dir, label+".csr")
	w.mustNP(t, "csr", "--key", gen.URI, "--subject", rkSubject, "--out", csrPath)
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
		t.Fatalf("the request made through the server does not verify: %v", err)
	}
	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	leaf, err := ca.IssueCSRWith(csr, now, now.Add(90*24*time.Hour), testca.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	chain := filepath.Join(w.dir, label+"-chain.pem")
	if err := os.WriteFile(chain, testca.PEM(append([]*x509.Certificate{leaf}, ca.Chain()...)...), 0o644); err != nil {
		t.Fatal(err)
	}
	w.mustNP(t, "cert", "import", "--key", gen.URI, chain)
	return gen.URI
}

func loadTestCA(t testing.TB) *testca.CA {
	t.Helper()
	dir, err := testca.FindDir(".")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := testca.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// TestE2EP11KitRemoting: token list, key generate, csr, cert import and
// doctor through the server, then notation sign (COSE and JWS) with the
// chain read from the token (no certificate_chain: the case that failed
// with CKR_CRYPTOKI_NOT_INITIALIZED) and notation verify, for EC-256 and
// RSA-3072.
func TestE2EP11KitRemoting(t *testing.T) {
	tools := e2e.ToolsT(t)
	w := newRK(t, pluginBinary(t), "")
	ca := loadTestCA(t)
	tl := w.mustNP(t, "token", "list", "--output", "json")
	if !strings.Contains(tl.stdout, `"label": "`+rkToken+`"`) || !strings.Contains(tl.stdout, "SoftHSM project") {
		t.Fatalf("token list through the server:\n%s", tl)
	}
	reg := e2e.StartRegistryT(t, tools)
	n := e2e.NewNotationT(t, tools, w.env...)
	mustNotation := func(t *testing.T, args ...string) result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, errOut, code, err := n.Run(ctx, args...)
		r := result{out, errOut, code}
		if err != nil || code != 0 {
			t.Fatalf("notation %s: %v %s", strings.Join(args, " "), err, r)
		}
		if strings.Contains(out+errOut, rkPIN) {
			t.Fatalf("notation %s printed the PIN", strings.Join(args, " "))
		}
		return r
	}
	mustNotation(t, "plugin", "install", "--file", w.bin)
	root := filepath.Join(w.dir, "root.crt")
	if err := os.WriteFile(root, testca.PEM(ca.Root), 0o644); err != nil {
		t.Fatal(err)
	}
	mustNotation(t, "cert", "add", "--type", "ca", "--store", "remote", root)
	if err := n.WriteTrustPolicy(e2e.StrictPolicy("remote")); err != nil {
		t.Fatal(err)
	}
	for _, kt := range []string{"ec-256", "rsa-3072"} {
		t.Run(kt, func(t *testing.T) {
			label := "remote-" + kt
			uri := w.newKey(t, ca, kt, label)
			if r := w.np(t, "", "doctor", "--key", uri); r.code != 0 {
				t.Fatalf("doctor through the server: %s", r)
			}
			mustNotation(t, "key", "add", "--plugin", "pkcs11", "--id", uri, label)
			for _, format := range []string{"cose", "jws"} {
				ref := reg.Ref("remote/" + kt + ":" + format)
				digest := e2e.PushT(t, tools, ref, []byte("artifact "+kt+" "+format))
				ref = reg.Ref("remote/" + kt + "@" + digest)
				mustNotation(t, "sign", "--insecure-registry", "--signature-format", format, "--key", label, ref)
				if r := mustNotation(t, "verify", "--insecure-registry", ref); !strings.Contains(r.stdout, "Successfully verified") {
					t.Fatalf("notation verify: %s", r)
				}
			}
		})
	}
}

// signRequest is a generate-signature request for the EC-256 key at uri.
func signRequest(uri string, cfg map[string]string) string {
	b, _ := json.Marshal(map[string]any{
		"contractVersion": "1.0", "keyId": uri, "keySpec": "EC-256", "hashAlgorithm": "SHA-256",
		"payload": base64.StdEncoding.EncodeToString([]byte(`{"targetArtifact":{}}`)), "pluginConfig": cfg,
	})
	return string(b)
}

// protocolError decodes the plugin's error object from stderr.
func protocolError(t *testing.T, r result) (code, msg string) {
	t.Helper()
	var e struct{ ErrorCode, ErrorMessage string }
	if err := json.Unmarshal([]byte(r.stderr), &e); err != nil || r.code != 1 || r.stdout != "" {
		t.Fatalf("want one protocol error on stderr, exit 1, nothing on stdout; got %s (%v)", r, err)
	}
	return e.ErrorCode, e.ErrorMessage
}

// TestE2EP11KitServerFaults: the server dies, or stops answering, while
// the plugin signs (the shim behind the server holds C_Sign until then).
// Killed: a clean protocol error at once, long before the time-out; frozen:
// TIMEOUT after pluginConfig timeout. Never a hang, never a signature, and
// notation sign fails without pushing one.
func TestE2EP11KitServerFaults(t *testing.T) {
	shimLib := e2e.BuildShimT(t)
	ca := loadTestCA(t)
	for _, fault := range []string{"killed", "frozen"} {
		t.Run(fault, func(t *testing.T) {
			dir := t.TempDir()
			gate, err := e2e.NewGate(dir)
			if err != nil {
				t.Fatal(err)
			}
			// The block is armed once the key and its chain are in place,
			// for the server process of the next connection.
			arm := filepath.Join(dir, "block")
			shim := e2e.Shim{Module: (&e2e.SoftHSM{}).Module(), Log: filepath.Join(dir, "shim.log"), BlockFile: arm, Gate: gate}
			w := newRK(t, pluginBinary(t), shimLib, shim.Env()...)
			uri := w.newKey(t, ca, "ec-256", "fault-key")
			if err := os.WriteFile(arm, []byte("C_Sign"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := map[string]string{"timeout": "1h"}
			if fault == "frozen" {
				cfg["timeout"] = "2s"
			}
			done := make(chan result, 1)
			go func() { done <- w.np(t, signRequest(uri, cfg), "generate-signature") }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := e2e.WaitShimLog(ctx, shim.Log, "block C_Sign"); err != nil {
				t.Fatal(err)
			}
			if fault == "killed" {
				err = w.srv.Kill()
			} else {
				err = w.srv.Freeze()
			}
			if err != nil {
				t.Fatal(err)
			}
			var r result
			select {
			case r = <-done:
			case <-ctx.Done():
				t.Fatal("generate-signature hung after the server was " + fault)
			}
			code, msg := protocolError(t, r)
			lines, _ := e2e.ReadShimLog(shim.Log)
			if i := slices.Index(lines, "block C_Sign"); i < 0 || slices.Contains(lines[i:], "C_Sign done 0x0") {
				t.Fatalf("the token signed, or never blocked (log %q)", lines)
			}
			switch fault {
			case "killed":
				if code != "ERROR" || !strings.Contains(msg, "failed to sign") || !strings.Contains(msg, "CKR_") {
					t.Fatalf("killed server: %s %q, want ERROR naming the PKCS#11 failure", code, msg)
				}
			case "frozen":
				if code != "TIMEOUT" || !strings.Contains(msg, "signing took longer than 2s") {
					t.Fatalf("frozen server: %s %q, want TIMEOUT", code, msg)
				}
			}
			t.Logf("%s server: %s: %s", fault, code, msg)
		})
	}
}

// TestE2EP11KitSignFailsCleanly: notation sign through a killed server
// fails, names the plugin error, and leaves no signature in the registry.
func TestE2EP11KitSignFailsCleanly(t *testing.T) {
	tools := e2e.ToolsT(t)
	w := newRK(t, pluginBinary(t), "")
	uri := w.newKey(t, loadTestCA(t), "ec-256", "gone-key")
	reg := e2e.StartRegistryT(t, tools)
	n := e2e.NewNotationT(t, tools, w.env...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, errOut, code, err := n.Run(ctx, "plugin", "install", "--file", w.bin); err != nil || code != 0 {
		t.Fatalf("plugin install: %v %s", err, errOut)
	}
	ref := reg.Ref("gone/app:v1")
	digest := e2e.PushT(t, tools, ref, []byte("artifact"))
	ref = reg.Ref("gone/app@" + digest)
	if err := w.srv.Kill(); err != nil {
		t.Fatal(err)
	}
	out, errOut, code, err := n.Run(ctx, "sign", "--insecure-registry", "--plugin", "pkcs11", "--id", uri, ref)
	if err != nil || code == 0 {
		t.Fatalf("notation sign with the server gone: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if !strings.Contains(errOut, "pkcs11") || strings.Contains(out+errOut, rkPIN) {
		t.Fatalf("notation sign error does not come from the plugin, or leaks the PIN:\n%s", errOut)
	}
	ls, lsErr, lsCode, err := n.Run(ctx, "ls", "--insecure-registry", ref)
	if err != nil || lsCode != 0 || strings.Contains(ls, "application/") {
		t.Fatalf("notation ls after the failed sign: exit %d, %v\n%s%s", lsCode, err, ls, lsErr)
	}
	t.Logf("notation sign with the server gone: %s", strings.TrimSpace(errOut))
}
