//go:build unix

package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestShimThroughPKCS11Tool drives the shim with an independent PKCS#11
// client (OpenSC's pkcs11-tool): it forwards to SoftHSM, hides the
// mechanisms it is told to, prints its noise, logs the calls, and holds a
// blocked call until the gate opens.
func TestShimThroughPKCS11Tool(t *testing.T) {
	tool := LookPathT(t, "pkcs11-tool", "opensc", "there is no independent PKCS#11 client to drive the shim")
	h := NewSoftHSMT(t)
	if err := h.InitToken("shim", "so-1234", "1234"); err != nil {
		t.Fatal(err)
	}
	lib := BuildShimT(t)
	dir := t.TempDir()
	run := func(t *testing.T, s Shim, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, tool, append([]string{"--module", lib}, args...)...)
		cmd.Env = append(append(baseEnv(), h.Env()...), s.Env()...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("pkcs11-tool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Run("forwards, hides, prints", func(t *testing.T) {
		s := Shim{Module: h.Module(), Log: filepath.Join(dir, "list.log"), Hide: []uint{0x1041, 0x0d}, Noise: true, ECDSAHash: true}
		out := run(t, s, "-M")
		for _, want := range []string{"RSA-PKCS,", ShimNoise + " stdout: C_Initialize", ShimNoise + " stderr: C_Initialize", ShimNoise + " fd1", "ECDSA-SHA256"} {
			if !strings.Contains(out, want) {
				t.Errorf("pkcs11-tool -M lacks %q:\n%s", want, out)
			}
		}
		for _, hidden := range []string{"\n  ECDSA,", "\n  RSA-PKCS-PSS,"} {
			if strings.Contains(out, hidden) {
				t.Errorf("hidden mechanism %q listed:\n%s", hidden, out)
			}
		}
		log, err := ReadShimLog(s.Log)
		if err != nil || !slices.Contains(log, "C_Initialize") || !slices.Contains(log, "C_Finalize") {
			t.Errorf("shim log %q, %v", log, err)
		}
	})
	t.Run("a blocked call waits for the gate", func(t *testing.T) {
		gate, err := NewGate(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		s := Shim{Module: h.Module(), Log: filepath.Join(dir, "block.log"), Block: "C_Login", Gate: gate}
		done := make(chan string, 1)
		go func() { done <- run(t, s, "--login", "--pin", "1234", "-O") }()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := WaitShimLog(ctx, s.Log, "block C_Login"); err != nil {
			t.Fatal(err)
		}
		select {
		case out := <-done:
			t.Fatalf("pkcs11-tool finished while C_Login was blocked:\n%s", out)
		default:
		}
		if err := ReleaseGate(ctx, gate); err != nil {
			t.Fatal(err)
		}
		<-done
		if err := WaitShimLog(ctx, s.Log, "C_Login done 0x0"); err != nil {
			t.Fatal(err)
		}
	})
}
