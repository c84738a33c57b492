package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

// TestDemo runs the demo twice in the same folder with a freshly built
// plugin and the real peer tools. It skips when they are missing, unless CI
// or NOTATION_PKCS11_E2E=required is set (see e2e.ToolsT).
func TestDemo(t *testing.T) {
	tools := e2e.ToolsT(t)
	e2e.NewSoftHSMT(t) // only for its skip/fail decision on SoftHSM2
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "notation-pkcs11")
	verifier := filepath.Join(tmp, "trustpolicy")
	for out, pkg := range map[string]string{bin: "../../cmd/notation-pkcs11", verifier: "../../cmd/trustpolicy"} {
		if msg, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, msg)
		}
	}
	t.Setenv("SOFTHSM2_CONF", "") // run sets it; restore afterwards
	dir := filepath.Join(tmp, "demo")
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		var out bytes.Buffer
		err := run(ctx, options{Plugin: bin, Verify: verifier, Dir: dir, Tools: tools}, &out)
		cancel()
		if err != nil {
			t.Fatalf("run %d: %v\noutput:\n%s", i+1, err, out.String())
		}
		pinFile := filepath.Join(dir, "pin")
		st, err := os.Stat(pinFile)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %04o, want 0600", pinFile, st.Mode().Perm())
		}
		pin, err := os.ReadFile(pinFile)
		if err != nil {
			t.Fatal(err)
		}
		got := out.String()
		if p := strings.TrimSpace(string(pin)); p == "" || strings.Contains(got, p) {
			t.Fatalf("run %d: empty PIN or PIN printed:\n%s", i+1, got)
		}
		for n := 1; n <= totalSteps; n++ {
			if want := fmt.Sprintf("[%d/%d] ", n, totalSteps); !strings.Contains(got, want) {
				t.Errorf("run %d: no line %q in:\n%s", i+1, want, got)
			}
		}
		for _, want := range []string{"token label:   demo", keyURIBase, identity, "Successfully verified signature", "ECDSA-SHA-256",
			// trustpolicy explain: the verified artifact, then the two failures with their reasons
			"Verdict:    VERIFIED", "Verdict:    FAILED", "no signature", "integrity"} {
			if !strings.Contains(got, want) {
				t.Errorf("run %d: output lacks %q:\n%s", i+1, want, got)
			}
		}
	}
}
