package e2e_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

// TestFindToolsMissing needs no tools: the error must name what is missing
// and how to build it.
func TestFindToolsMissing(t *testing.T) {
	t.Setenv("NOTATION_PKCS11_TOOLS_BIN", t.TempDir())
	_, err := e2e.FindTools()
	if !errors.Is(err, e2e.ErrToolsMissing) {
		t.Fatalf("FindTools() error = %v, want ErrToolsMissing", err)
	}
	for _, want := range []string{"notation, oras, registry", "scripts/tools.sh", "make tools"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("FindTools() error %q does not mention %q", err, want)
		}
	}
}

func TestStartRegistryReportsEarlyExit(t *testing.T) {
	bin, err := exec.LookPath("false") // coreutils: on every machine this runs on
	if err != nil {
		t.Fatal(err)
	}
	_, err = e2e.StartRegistry(context.Background(), bin, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("StartRegistry(false) error = %v, want an early-exit error", err)
	}
}

// TestSignVerify drives registry, oras and notation for real: a signed
// artifact verifies under a strict policy, an unsigned one does not, and the
// registry's port is closed after Stop.
func TestSignVerify(t *testing.T) {
	tools := e2e.ToolsT(t) // skips, or fails under CI / NOTATION_PKCS11_E2E=required
	ctx := t.Context()

	start := time.Now()
	reg := e2e.StartRegistryT(t, tools)
	t.Logf("registry start: %v (%s)", time.Since(start), reg.Addr())

	signed := reg.Ref("e2e/app") + "@" + e2e.PushT(t, tools, reg.Ref("e2e/app:signed"), []byte("signed artifact\n"))
	unsigned := reg.Ref("e2e/app") + "@" + e2e.PushT(t, tools, reg.Ref("e2e/app:unsigned"), []byte("unsigned artifact\n"))

	n := e2e.NewNotationT(t, tools)
	mustRun := func(args ...string) {
		t.Helper()
		stdout, stderr, code, err := n.Run(ctx, args...)
		if err != nil || code != 0 {
			t.Fatalf("notation %v: exit %d, err %v\nstdout: %s\nstderr: %s", args, code, err, stdout, stderr)
		}
	}
	mustRun("cert", "generate-test", "--default", "e2etest")
	if err := n.WriteTrustPolicy(e2e.StrictPolicy("e2etest")); err != nil {
		t.Fatal(err)
	}

	start = time.Now()
	mustRun("sign", "--insecure-registry", signed)
	t.Logf("notation sign: %v", time.Since(start))

	start = time.Now()
	mustRun("verify", "--insecure-registry", signed)
	t.Logf("notation verify: %v", time.Since(start))

	_, stderr, code, err := n.Run(ctx, "verify", "--insecure-registry", unsigned)
	if err != nil || code == 0 {
		t.Fatalf("verify of unsigned artifact: exit %d, err %v, want a non-zero exit; stderr: %s", code, err, stderr)
	}
	t.Logf("unsigned artifact: exit %d: %s", code, strings.TrimSpace(stderr))

	// The generated certificate's subject satisfies a matching identity, and
	// AddCert fills another store; a foreign identity fails.
	cert := filepath.Join(n.ConfigDir(), "localkeys", "e2etest.crt")
	if err := n.AddCert("ca", "other", cert); err != nil {
		t.Fatal(err)
	}
	if err := n.WriteTrustPolicy(e2e.StrictPolicy("other", "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=e2etest")); err != nil {
		t.Fatal(err)
	}
	mustRun("verify", "--insecure-registry", signed)
	if err := n.WriteTrustPolicy(e2e.StrictPolicy("other", "x509.subject: C=US, ST=WA, O=Elsewhere, CN=someone")); err != nil {
		t.Fatal(err)
	}
	if _, _, code, err := n.Run(ctx, "verify", "--insecure-registry", signed); err != nil || code == 0 {
		t.Fatalf("verify with a foreign identity: exit %d, err %v, want a non-zero exit", code, err)
	}

	if err := reg.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := reg.Stop(); err != nil { // idempotent
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", reg.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still answers after Stop", reg.Addr())
	}
}

// TestSoftHSMImport initialises a token in a temporary folder, imports an EC
// key and finds it with OpenSC's pkcs11-tool.
func TestSoftHSMImport(t *testing.T) {
	h := e2e.NewSoftHSMT(t)
	tool, err := exec.LookPath("pkcs11-tool")
	if err != nil {
		if e2e.Required() {
			t.Fatalf("pkcs11-tool not found (apt-get install opensc): %v", err)
		}
		t.Skipf("pkcs11-tool not found (apt-get install opensc): %v", err)
	}
	const token, soPIN, pin = "e2e-token", "5678", "1234"
	if err := h.InitToken(token, soPIN, pin); err != nil {
		t.Fatal(err)
	}

	key := filepath.Join("..", "..", "testdata", "pki", "ec-256", "leaf.key")
	if _, err := os.Stat(key); err != nil {
		key = filepath.Join(t.TempDir(), "ec.key") // SEC 1 form: exercises the PKCS#8 conversion
		if out, err := exec.Command("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key).CombinedOutput(); err != nil {
			t.Fatalf("openssl ecparam: %v: %s", err, out)
		}
	}
	t.Logf("importing %s", key)
	if err := h.ImportKey(token, pin, key, "leaf", []byte{0x0a, 0x01}); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(tool, "--module", h.Module(), "--token-label", token, "--list-objects", "--login", "--pin", pin)
	cmd.Env = append(os.Environ(), h.Env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool: %v\n%s", err, out)
	}
	for _, want := range []string{"Private Key Object; EC", "label:      leaf", "ID:         0a01"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("pkcs11-tool output lacks %q:\n%s", want, out)
		}
	}
}

// TestStartRegistryRetriesTakenPort fakes the port race: the first start
// fails the way the registry does when its port was taken, the second runs
// the real registry.
func TestStartRegistryRetriesTakenPort(t *testing.T) {
	tools := e2e.ToolsT(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "registry-wrapper")
	body := "#!/bin/sh\n" +
		"if [ ! -e tried ]; then : > tried; echo 'level=fatal msg=\"listen tcp 127.0.0.1:1: bind: address already in use\"' >&2; exit 1; fi\n" +
		"exec '" + tools.Registry + "' \"$@\"\n"
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	reg, err := e2e.StartRegistry(t.Context(), script, filepath.Join(dir, "reg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Stop(); err != nil {
		t.Fatal(err)
	}
}
