//go:build unix

package pkcs11_test

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// These tests load the real module through the shim (internal/e2e), which
// blocks in the call the test names until the test opens a gate, and check
// what pkcs11.Token does: its time bound, and the stuck state after it.
// A stuck module stays initialised for the rest of the process, so each
// scenario runs in a child process (this test binary, in
// TestStuckHelperProcess), as the plugin runs in a process of its own.

const (
	stuckMode    = "NOTATION_PKCS11_TEST_STUCK"         // the scenario the child runs
	stuckModule  = "NOTATION_PKCS11_TEST_STUCK_MODULE"  // the shim
	stuckTimeout = "NOTATION_PKCS11_TEST_STUCK_TIMEOUT" // Options.Timeout
	stuckURI     = "pkcs11:token=stuck;object=ec-256"
)

// stuckReport is what the child prints on stdout.
type stuckReport struct {
	LoginErr     string        `json:"loginErr"`
	LoginTimeout bool          `json:"loginTimeout"`
	SignErr      string        `json:"signErr"`
	SignTimeout  bool          `json:"signTimeout"`
	SigLen       int           `json:"sigLen"`
	Elapsed      time.Duration `json:"elapsed"`
	// After the time-out: a second call, and Close.
	AgainErr     string `json:"againErr"`
	AgainTimeout bool   `json:"againTimeout"`
	CloseErr     string `json:"closeErr"`
}

// TestStuckHelperProcess is the child's side; in a normal run it does
// nothing.
func TestStuckHelperProcess(t *testing.T) {
	mode := os.Getenv(stuckMode)
	if mode == "" {
		return
	}
	timeout, err := time.ParseDuration(os.Getenv(stuckTimeout))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	u, err := pkcs11.ParseURI(stuckURI)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := pkcs11.Open(ctx, u, pkcs11.Options{ModulePath: os.Getenv(stuckModule), Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	var rep stuckReport
	start := time.Now()
	key, err := tok.Login(ctx, pkcs11.NewPIN(userPIN))
	if err != nil {
		rep.Elapsed = time.Since(start)
		rep.LoginErr, rep.LoginTimeout = err.Error(), errors.Is(err, pkcs11.ErrTimeout)
		_, err = tok.Login(ctx, pkcs11.NewPIN(userPIN))
	} else {
		digest := make([]byte, 32)
		start = time.Now()
		var sig []byte
		sig, err = key.Sign(nil, digest, crypto.SHA256)
		rep.Elapsed = time.Since(start)
		rep.SigLen = len(sig)
		if err != nil {
			rep.SignErr, rep.SignTimeout = err.Error(), errors.Is(err, pkcs11.ErrTimeout)
		}
		_, err = key.Sign(nil, digest, crypto.SHA256)
	}
	if err != nil {
		rep.AgainErr, rep.AgainTimeout = err.Error(), errors.Is(err, pkcs11.ErrTimeout)
	}
	if err := tok.Close(); err != nil {
		rep.CloseErr = err.Error()
	}
	if mode == "late" {
		// The module answers after all: the answer must go nowhere.
		gate := os.Getenv("P11SHIM_GATE")
		lctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := e2e.ReleaseGate(lctx, gate); err != nil {
			t.Fatal(err)
		}
		if err := e2e.WaitShimLog(lctx, os.Getenv("P11SHIM_LOG"), "C_Sign done 0x0"); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(rep)
	os.Stdout.Write(b)
	os.Exit(0)
}

// TestTokenTimeoutStuckModule (issue 13): a module that never answers
// C_Sign or C_Login makes the real Token return ErrTimeout after its time
// bound (not before), without a signature; every later call fails at once
// without entering the module; Close neither finalises nor unloads it. When
// the module answers late, its signature goes nowhere.
func TestTokenTimeoutStuckModule(t *testing.T) {
	h := softHSM(t, "stuck")
	if err := h.ImportKey("stuck", userPIN, filepath.Join("..", "..", "testdata", "pki", "ec-256", "leaf.key"), "ec-256", []byte{1}); err != nil {
		t.Fatal(err)
	}
	lib := e2e.BuildShimT(t)
	const timeout = 300 * time.Millisecond
	for _, tc := range []struct {
		name, block, mode string
	}{
		{"C_Sign blocks", "C_Sign", "hang"},
		{"C_Sign answers after the time-out", "C_Sign", "late"},
		{"C_Login blocks", "C_Login", "hang"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			gate, err := e2e.NewGate(dir)
			if err != nil {
				t.Fatal(err)
			}
			shim := e2e.Shim{Module: h.Module(), Log: filepath.Join(dir, "shim.log"), Block: tc.block, Gate: gate}
			cmd := exec.Command(os.Args[0], "-test.run=^TestStuckHelperProcess$", "-test.count=1")
			cmd.Env = append(append(os.Environ(), shim.Env()...),
				stuckMode+"="+tc.mode, stuckModule+"="+lib, stuckTimeout+"="+timeout.String())
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var rep stuckReport
			if err := json.Unmarshal(out, &rep); err != nil {
				t.Fatalf("child output %q: %v", out, err)
			}
			log, err := e2e.ReadShimLog(shim.Log)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Elapsed < timeout {
				t.Errorf("the call gave up after %s, before the time-out %s", rep.Elapsed, timeout)
			}
			what, gotErr, isTimeout := "signing", rep.SignErr, rep.SignTimeout
			if tc.block == "C_Login" {
				what, gotErr, isTimeout = "logging in", rep.LoginErr, rep.LoginTimeout
			}
			if !isTimeout || !strings.Contains(gotErr, what+" took longer than "+timeout.String()) {
				t.Errorf("blocked %s: got %q, want ErrTimeout naming %q", tc.block, gotErr, what)
			}
			if rep.SigLen != 0 {
				t.Errorf("a %d-byte signature came back with the time-out", rep.SigLen)
			}
			if !rep.AgainTimeout || !strings.Contains(rep.AgainErr, "an earlier call is still running") {
				t.Errorf("call after the time-out: %q, want an immediate ErrTimeout", rep.AgainErr)
			}
			if rep.CloseErr != "" {
				t.Errorf("Close: %s", rep.CloseErr)
			}
			if n := count(log, tc.block); n != 1 && tc.block == "C_Sign" {
				t.Errorf("C_Sign reached the module %d times, want once (log %q)", n, log)
			}
			if !slices.Contains(log, "block "+tc.block) {
				t.Errorf("the shim never blocked in %s (log %q)", tc.block, log)
			}
			if i := slices.Index(log, "block "+tc.block); i >= 0 && slices.Contains(log[i:], "C_Finalize") {
				t.Errorf("Close finalised a module with a call still running (log %q)", log)
			}
			late := slices.Contains(log, "C_Sign done 0x0")
			if late != (tc.mode == "late") {
				t.Errorf("module answered late: %v, want %v (log %q)", late, tc.mode == "late", log)
			}
		})
	}
}

func count(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if l == prefix {
			n++
		}
	}
	return n
}
