package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/plugin"
)

// noisyModule builds testdata/noisy.c, a PKCS#11 module that wraps
// SoftHSM and prints to stdout and stderr (with printf and with write) when
// it is loaded, asked for its function list and initialised.
func noisyModule(t *testing.T) string {
	t.Helper()
	gcc := e2e.LookPathT(t, "gcc", "gcc", "the noisy test module cannot be built")
	lib := filepath.Join(t.TempDir(), "libnoisy.so")
	if out, err := exec.Command(gcc, "-Wall", "-shared", "-fPIC", "-o", lib, filepath.Join("testdata", "noisy.c"), "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return lib
}

const noise = "NOISY-MODULE"

// TestNoisyModuleCannotCorruptOutput (#10): with a module that prints,
// every admin command's --output json is exactly one JSON document, text
// output and errors hold none of the noise, and the protocol answers stay
// clean too.
func TestNoisyModuleCannotCorruptOutput(t *testing.T) {
	const token = "noisy"
	w := newBinWorld(t, token)
	lib := noisyModule(t)
	// The module is really noisy: pkcs11-tool, which does not guard its
	// descriptors, shows the noise.
	tool := e2e.LookPathT(t, "pkcs11-tool", "opensc", "there is no independent PKCS#11 client to show the module prints")
	cmd := exec.Command(tool, "--module", lib, "-L")
	cmd.Env = append(append([]string(nil), w.env...), "NOISY_PKCS11_MODULE="+w.hsm.Module())
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), noise+" stdout: C_Initialize") || !strings.Contains(string(out), noise+" stderr: C_Initialize") {
		t.Fatalf("pkcs11-tool with the noisy module: %v\n%s", err, out)
	}
	key := w.newKey(t, token, "noisy-key") // through SoftHSM itself
	env := []string{"NOTATION_PKCS11_MODULE=" + lib, "NOISY_PKCS11_MODULE=" + w.hsm.Module()}
	tok := "pkcs11:token=" + token
	json := clitest.Want{JSON: true, Secrets: []string{contractPIN}}
	for _, c := range []struct {
		args []string
		want clitest.Want
		used string // in the output only if the module answered
	}{
		{[]string{"token", "list", "--output", "json"}, json, `"label": "noisy"`},
		{[]string{"key", "list", "--token", tok, "--output", "json"}, json, "noisy-key"},
		{[]string{"key", "generate", "--token", tok, "--type", "ec-256", "--label", "noisy-2", "--output", "json"}, json, "object=noisy-2"},
		{[]string{"csr", "--key", key, "--subject", "C=US,ST=WA,O=Acme", "--output", "json"}, json, "BEGIN CERTIFICATE REQUEST"},
		{[]string{"doctor", "--key", key, "--output", "json"}, clitest.Want{Code: doctorExit(plugin.CheckCertificate), JSON: true}, "the token accepts the PIN"},
		{[]string{"key", "generate", "--token", tok, "--type", "ec-256", "--label", "noisy-key", "--output", "json"}, clitest.Want{Code: 1, JSON: true, ErrorLine: true}, "already has a key"},
		{[]string{"token", "list"}, clitest.Want{}, "noisy"},
		{[]string{"doctor", "--key", key}, clitest.Want{Code: doctorExit(plugin.CheckCertificate), ErrorLine: true}, "the token accepts the PIN"},
	} {
		r := w.run(t, env, c.args...)
		if err := clitest.Check(r, c.want); err != nil {
			t.Error(err)
		}
		if strings.Contains(r.Stdout+r.Stderr, noise) {
			t.Errorf("%q: the module's output got through:\nstdout: %s\nstderr: %s", c.args, r.Stdout, r.Stderr)
		}
		if !strings.Contains(r.Stdout+r.Stderr, c.used) {
			t.Errorf("%q: the output does not show the token, so the module was not used:\n%s%s", c.args, r.Stdout, r.Stderr)
		}
	}
	t.Run("protocol", func(t *testing.T) {
		req := `{"contractVersion":"1.0","keyId":"` + key + `","pluginConfig":{"module_path":"` + lib + `"}}`
		r := runBinary(t, w.bin, append(append([]string(nil), w.env...), env...), req, "describe-key")
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, `{"keyId":`) || r.Stderr != "" || strings.Contains(r.Stdout, noise) {
			t.Fatalf("describe-key through the noisy module: %+v", r)
		}
	})
}

// TestProtocolCommandsUnchanged: the commands notation runs bypass the
// command tree: for bad requests (and arguments, and -h) the binary answers
// byte for byte what the plugin library answers, JSON error on stderr and
// exit 1, with nothing on stdout.
func TestProtocolCommandsUnchanged(t *testing.T) {
	bin := pluginBinary(t)
	env := []string{"PATH=/usr/bin:/bin", "NOTATION_PKCS11_CACHE=" + t.TempDir(), "NOTATION_PKCS11_MODULE=/nonexistent/libpkcs11.so"}
	getenv := func(k string) string {
		for _, e := range env {
			if v, ok := strings.CutPrefix(e, k+"="); ok {
				return v
			}
		}
		return ""
	}
	for _, c := range []struct {
		command, stdin string
	}{
		{"describe-key", "garbage"},
		{"describe-key", "{}"},
		{"describe-key", `{"contractVersion":"1.0","keyId":"pkcs11:token=t;object=k?pin-value=1234"}`},
		{"describe-key", `{"contractVersion":"1.0","keyId":"pkcs11:token=t;object=k"}`},
		{"generate-signature", `{"contractVersion":"1.0"}`},
		{"generate-signature", `{"contractVersion":"2.0","keyId":"pkcs11:token=t;object=k"}`},
		{"get-plugin-metadata", ""},
	} {
		got := runBinary(t, bin, env, c.stdin, c.command)
		var out, errOut bytes.Buffer
		p := plugin.New(plugin.Options{Version: version, Getenv: getenv})
		code := p.Run(context.Background(), c.command, strings.NewReader(c.stdin), &out, &errOut)
		if got.Code != code || got.Stdout != out.String() || got.Stderr != errOut.String() {
			t.Errorf("%s %q:\nbinary:  exit %d stdout %q stderr %q\nlibrary: exit %d stdout %q stderr %q", c.command, c.stdin, got.Code, got.Stdout, got.Stderr, code, out.String(), errOut.String())
		}
	}
	// Arguments are refused as before the command tree existed, -h included.
	for _, args := range [][]string{{"describe-key", "x"}, {"describe-key", "-h"}, {"generate-signature", "--output", "json"}} {
		got := runBinary(t, bin, env, "{}", args...)
		want := `{"errorCode":"VALIDATION_ERROR","errorMessage":"` + args[0] + ` takes no arguments; the request comes on stdin"}`
		if got.Code != 1 || got.Stdout != "" || got.Stderr != want {
			t.Errorf("%q: exit %d stdout %q stderr %q; want exit 1 and %s", args, got.Code, got.Stdout, got.Stderr, want)
		}
	}
}
