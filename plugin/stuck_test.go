//go:build unix

package plugin

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
)

// These tests run generate-signature against the real PKCS#11 layer
// (Backend HSM) with SoftHSM behind the fault-injecting shim of
// internal/e2e, in a child process (this test binary, in
// TestShimHelperProcess): a module stuck in a call stays so until the
// process exits, as a plugin process does.

const (
	shimHelperMode = "NOTATION_PKCS11_TEST_SHIM"        // "hang" or "late"
	shimHelperLib  = "NOTATION_PKCS11_TEST_SHIM_LIB"    // the shim module
	shimHelperCfg  = "NOTATION_PKCS11_TEST_SHIM_CONFIG" // pluginConfig as JSON
	shimHelperKey  = "NOTATION_PKCS11_TEST_SHIM_KEY"    // key URI
	shimHelperKT   = "NOTATION_PKCS11_TEST_SHIM_KT"     // key type, e.g. ec-256
)

// TestShimHelperProcess is the child's side; in a normal run it does
// nothing. It prints the Run result as JSON.
func TestShimHelperProcess(t *testing.T) {
	mode := os.Getenv(shimHelperMode)
	if mode == "" {
		return
	}
	var cfg map[string]string
	if err := json.Unmarshal([]byte(os.Getenv(shimHelperCfg)), &cfg); err != nil {
		t.Fatal(err)
	}
	p := New(Options{Getenv: stdEnv(os.Getenv(shimHelperLib)).get, Now: testpki.Epoch})
	start := time.Now()
	r := runPlugin(t, p, "generate-signature", signReq(os.Getenv(shimHelperKey), keyTypeOf(t, os.Getenv(shimHelperKT)), cfg))
	elapsed := time.Since(start)
	if mode == "late" {
		// The module answers after the time-out: nothing may change.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e2e.ReleaseGate(ctx, os.Getenv("P11SHIM_GATE")); err != nil {
			t.Fatal(err)
		}
		if err := e2e.WaitShimLog(ctx, os.Getenv("P11SHIM_LOG"), "C_Sign done 0x0"); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(shimChildResult{Code: r.code, Stdout: r.stdout, Stderr: r.stderr, Elapsed: elapsed})
	os.Stdout.Write(b)
	os.Exit(0)
}

type shimChildResult struct {
	Code           int
	Stdout, Stderr string
	Elapsed        time.Duration
}

// shimToken is a SoftHSM token holding the leaf key of kt, labelled kt.
func shimToken(t *testing.T, kts ...string) *e2e.SoftHSM {
	t.Helper()
	h := e2e.NewSoftHSMT(t)
	if err := h.InitToken(tokenLabel, "so-"+testPIN, testPIN); err != nil {
		t.Fatal(err)
	}
	for i, kt := range kts {
		if err := h.ImportKey(tokenLabel, testPIN, filepath.Join(pkiDir, kt, "leaf.key"), kt, []byte{0x30, byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// runShimChild runs generate-signature in a child with the shim in front of
// h's module.
func runShimChild(t *testing.T, h *e2e.SoftHSM, shim e2e.Shim, lib, mode, kt string, cfg map[string]string) shimChildResult {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestShimHelperProcess$", "-test.count=1")
	cmd.Env = append(append(append(os.Environ(), h.Env()...), shim.Env()...),
		shimHelperMode+"="+mode, shimHelperLib+"="+lib, shimHelperCfg+"="+string(b),
		shimHelperKey+"=pkcs11:token="+tokenLabel+";object="+kt, shimHelperKT+"="+kt)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var r shimChildResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	return r
}

// TestGenerateSignatureStuckModule (issue 13): with the real pkcs11.Token,
// a module that does not answer C_Sign or C_Login gives a TIMEOUT protocol
// error after pluginConfig timeout (not before) and never a signature, even
// when the module does produce one after the time-out.
func TestGenerateSignatureStuckModule(t *testing.T) {
	const kt = "ec-256"
	h := shimToken(t, kt)
	lib := e2e.BuildShimT(t)
	chain, err := filepath.Abs(filepath.Join(pkiDir, kt, "chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 300 * time.Millisecond
	cfg := map[string]string{ConfigTimeout: timeout.String(), ConfigCertificateChain: chain, ConfigKeyCache: "off"}
	for _, tc := range []struct {
		name, block, mode, what string
	}{
		{"C_Sign never answers", "C_Sign", "hang", "signing"},
		{"C_Sign answers after the time-out", "C_Sign", "late", "signing"},
		{"C_Login never answers", "C_Login", "hang", "logging in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			gate, err := e2e.NewGate(dir)
			if err != nil {
				t.Fatal(err)
			}
			shim := e2e.Shim{Module: h.Module(), Log: filepath.Join(dir, "shim.log"), Block: tc.block, Gate: gate}
			r := runShimChild(t, h, shim, lib, tc.mode, kt, cfg)
			wantError(t, result{r.Code, r.Stdout, r.Stderr}, proto.ErrorCodeTimeout, tc.what+" took longer than "+timeout.String())
			if r.Elapsed < timeout {
				t.Errorf("answered after %s, before the time-out %s", r.Elapsed, timeout)
			}
			if strings.Contains(r.Stderr, `"signature"`) {
				t.Errorf("the error carries a signature: %s", r.Stderr)
			}
			log, err := e2e.ReadShimLog(shim.Log)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(log, "block "+tc.block) {
				t.Errorf("the shim never blocked in %s (log %q)", tc.block, log)
			}
			if late := slices.Contains(log, "C_Sign done 0x0"); late != (tc.mode == "late") {
				t.Errorf("the module signed after the time-out: %v, want %v (log %q)", late, tc.mode == "late", log)
			}
		})
	}
}
