//go:build unix

package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/plugin"
)

// TPM faults (issue 16): the TPM daemon goes away, or hangs, while the
// plugin signs; the token, or the whole TPM, goes away between
// describe-key and generate-signature. Each is a clean protocol error
// within the pluginConfig timeout: never a hang, never a signature.

// tpmShimWorld is a TPM world whose plugin loads the shim in front of
// tpm2-pkcs11, with a block armed later through a file, and one EC-256 key
// with its chain on the token.
type tpmShimWorld struct {
	*tpmWorld
	shim e2e.Shim
	arm  string // the block file
	uri  string
}

func newTPMShimWorld(t *testing.T) *tpmShimWorld {
	t.Helper()
	shimLib := e2e.BuildShimT(t)
	dir := t.TempDir()
	gate, err := e2e.NewGate(dir)
	if err != nil {
		t.Fatal(err)
	}
	module, err := e2e.TPM2PKCS11Module()
	if err != nil {
		t.Fatal(err)
	}
	arm := filepath.Join(dir, "block")
	shim := e2e.Shim{Module: module, Log: filepath.Join(dir, "shim.log"), BlockFile: arm, Gate: gate}
	w := &tpmShimWorld{tpmWorld: newTPMWorld(t, pluginBinary(t), shimLib, shim.Env()...), shim: shim, arm: arm}
	w.uri = w.addKey(t, e2e.TPMECC256, "fault-key", false)
	w.certify(t, w.uri, "fault-key")
	return w
}

// armBlock makes the next process that loads the shim block on entry to
// fn until the gate is released.
func (w *tpmShimWorld) armBlock(t *testing.T, fn string) {
	t.Helper()
	if err := os.WriteFile(w.arm, []byte(fn), 0o600); err != nil {
		t.Fatal(err)
	}
}

// signedAfterBlock reports whether the shim log shows a successful C_Sign
// after the block.
func (w *tpmShimWorld) signedAfterBlock(t *testing.T, block string) bool {
	t.Helper()
	lines, err := e2e.ReadShimLog(w.shim.Log)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(lines, block)
	if i < 0 {
		t.Fatalf("the shim never blocked (%q): %q", block, lines)
	}
	return slices.Contains(lines[i:], "C_Sign done 0x0")
}

// TestE2ETPMDaemonFaults: generate-signature is held in C_Sign; then
// tpm2-abrmd is stopped (a clean ERROR naming the PKCS#11 failure, long
// before the 1h bound) or frozen (TIMEOUT after the 2s bound). No
// signature either way. With the daemon gone, the human commands (token
// list, doctor) fail with one line and none of the TSS's noise.
func TestE2ETPMDaemonFaults(t *testing.T) {
	for _, fault := range []string{"stopped", "frozen"} {
		t.Run(fault, func(t *testing.T) {
			w := newTPMShimWorld(t)
			w.armBlock(t, "C_Sign")
			cfg := map[string]string{"timeout": "1h"}
			if fault == "frozen" {
				cfg["timeout"] = "2s"
			}
			type answer struct {
				r   clitest.Run
				err error
			}
			done := make(chan answer, 1)
			go func() {
				r, err := runProc(w.bin, w.env, signRequest(w.uri, cfg), "generate-signature")
				done <- answer{r, err}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := e2e.WaitShimLog(ctx, w.shim.Log, "block C_Sign"); err != nil {
				t.Fatal(err)
			}
			var err error
			if fault == "stopped" {
				err = w.tpm.StopResourceManager()
			} else {
				err = w.tpm.FreezeResourceManager()
			}
			if err != nil {
				t.Fatal(err)
			}
			if fault == "stopped" {
				// C_Sign goes on into tpm2-pkcs11, which finds the
				// daemon gone.
				if err := e2e.ReleaseGate(ctx, w.shim.Gate); err != nil {
					t.Fatal(err)
				}
			}
			var got answer
			select {
			case got = <-done:
			case <-ctx.Done():
				t.Fatal("generate-signature hung after the TPM daemon was " + fault)
			}
			if got.err != nil {
				t.Fatal(got.err)
			}
			w.checkOutput(t, got.r)
			code, msg := protocolError(t, result{got.r.Stdout, got.r.Stderr, got.r.Code})
			switch fault {
			case "stopped":
				if code != "ERROR" || !strings.Contains(msg, "failed to sign") || !strings.Contains(msg, "CKR_") {
					t.Fatalf("daemon stopped: %s %q, want ERROR naming the PKCS#11 failure", code, msg)
				}
			case "frozen":
				if code != "TIMEOUT" || !strings.Contains(msg, "signing took longer than 2s") {
					t.Fatalf("daemon frozen: %s %q, want TIMEOUT", code, msg)
				}
			}
			if fault == "stopped" && w.signedAfterBlock(t, "block C_Sign") {
				t.Fatal("the TPM signed although its daemon was stopped")
			}
			t.Logf("TPM daemon %s: %s: %s", fault, code, msg)
			if fault == "stopped" {
				w.armBlock(t, "")
				w.human(t, 1, "token", "list")
				w.human(t, doctorExit(plugin.CheckModule), "doctor", "--key", w.uri)
			}
		})
	}
}

// TestE2ETPMRemovedBetweenDescribeAndSign: describe-key answers, then the
// token is removed from the store (tpm2_ptool rmtoken) or the TPM itself
// goes (swtpm killed); generate-signature fails with one protocol error,
// no signature.
func TestE2ETPMRemovedBetweenDescribeAndSign(t *testing.T) {
	for _, gone := range []string{"token", "tpm"} {
		t.Run(gone, func(t *testing.T) {
			w := newTPMWorld(t, pluginBinary(t), "")
			uri := w.addKey(t, e2e.TPMECC256, "going-key", false)
			w.certify(t, uri, "going-key")
			dk := w.np(t, `{"contractVersion":"1.0","keyId":"`+uri+`"}`, "describe-key")
			if dk.Code != 0 || !strings.Contains(dk.Stdout, `"keySpec":"EC-256"`) {
				t.Fatalf("describe-key: %+v", dk)
			}
			var err error
			if gone == "token" {
				err = w.tpm.RemoveToken(context.Background(), tpmToken)
			} else {
				err = w.tpm.KillTPM()
			}
			if err != nil {
				t.Fatal(err)
			}
			r := w.np(t, signRequest(uri, map[string]string{"timeout": "1h"}), "generate-signature")
			code, msg := protocolError(t, result{r.Stdout, r.Stderr, r.Code})
			want := map[string][2]string{"token": {"VALIDATION_ERROR", "token not found"}, "tpm": {"ERROR", "CKR_GENERAL_ERROR"}}[gone]
			if code != want[0] || !strings.Contains(msg, want[1]) {
				t.Fatalf("%s removed: %s %q, want %s naming %q", gone, code, msg, want[0], want[1])
			}
			t.Logf("%s removed after describe-key: %s: %s", gone, code, msg)
		})
	}
}

// TestE2ETPMSignFailsCleanly: notation sign runs describe-key, then
// generate-signature, which the shim holds at C_SignInit while the TPM is
// pulled out (swtpm killed). notation sign fails naming the plugin's error,
// and no signature reaches the registry.
func TestE2ETPMSignFailsCleanly(t *testing.T) {
	tools := e2e.ToolsT(t)
	w := newTPMShimWorld(t)
	reg := e2e.StartRegistryT(t, tools)
	n := e2e.NewNotationT(t, tools, w.env...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, errOut, code, err := n.Run(ctx, "plugin", "install", "--file", w.bin); err != nil || code != 0 {
		t.Fatalf("plugin install: %v %s", err, errOut)
	}
	ref := reg.Ref("tpm-gone/app:v1")
	digest := e2e.PushT(t, tools, ref, []byte("artifact"))
	ref = reg.Ref("tpm-gone/app@" + digest)
	w.armBlock(t, "C_SignInit")
	type answer struct {
		out, errOut string
		code        int
		err         error
	}
	done := make(chan answer, 1)
	go func() {
		out, errOut, code, err := n.Run(ctx, "sign", "--insecure-registry", "--plugin", "pkcs11", "--id", w.uri, ref)
		done <- answer{out, errOut, code, err}
	}()
	if err := e2e.WaitShimLog(ctx, w.shim.Log, "block C_SignInit"); err != nil {
		t.Fatal(err)
	}
	if err := w.tpm.KillTPM(); err != nil {
		t.Fatal(err)
	}
	if err := e2e.ReleaseGate(ctx, w.shim.Gate); err != nil {
		t.Fatal(err)
	}
	var a answer
	select {
	case a = <-done:
	case <-ctx.Done():
		t.Fatal("notation sign hung after the TPM was pulled out")
	}
	if a.err != nil || a.code == 0 {
		t.Fatalf("notation sign with the TPM gone: exit %d, %v\n%s%s", a.code, a.err, a.out, a.errOut)
	}
	if !strings.Contains(a.errOut, "CKR_") || strings.Contains(a.out+a.errOut, tpmPIN) {
		t.Fatalf("notation sign error does not name the PKCS#11 failure, or leaks the PIN:\n%s", a.errOut)
	}
	for _, noise := range moduleNoise {
		if strings.Contains(a.out+a.errOut, noise) {
			t.Fatalf("the module's noise (%q) reached notation:\n%s", noise, a.errOut)
		}
	}
	if w.signedAfterBlock(t, "block C_SignInit") {
		t.Fatal("the TPM signed although it was pulled out")
	}
	ls, lsErr, lsCode, err := n.Run(ctx, "ls", "--insecure-registry", ref)
	if err != nil || lsCode != 0 || strings.Contains(ls, "application/") {
		t.Fatalf("notation ls after the failed sign: exit %d, %v\n%s%s", lsCode, err, ls, lsErr)
	}
	t.Logf("notation sign with the TPM pulled out: %s", strings.TrimSpace(a.errOut))
}
