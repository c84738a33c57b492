package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Required reports whether end-to-end tests must run rather than skip when
// a peer tool is missing: when CI is set (to anything but "", "0" or
// "false") or NOTATION_PKCS11_E2E=required.
func Required() bool {
	switch strings.ToLower(os.Getenv("CI")) {
	case "", "0", "false":
		return os.Getenv("NOTATION_PKCS11_E2E") == "required"
	}
	return true
}

// skipOrFatal ends the test because a prerequisite is missing: t.Fatal when
// [Required], else t.Skip.
func skipOrFatal(t testing.TB, reason string) {
	t.Helper()
	if Required() {
		t.Fatal(reason + " (end-to-end tests are required here: CI or NOTATION_PKCS11_E2E=required is set)")
	}
	t.Skip(reason)
}

// LookPathT returns the path of the program name, or ends the test when it
// is not installed: t.Fatal when [Required], else t.Skip with why and the
// apt-get package that provides it.
func LookPathT(t testing.TB, name, pkg, why string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		skipOrFatal(t, fmt.Sprintf("%s not found (apt-get install %s), so %s: %v", name, pkg, why, err))
	}
	return p
}

// ToolsT returns [FindTools]'s result, or ends the test with its error:
// t.Fatal when [Required], else t.Skip.
func ToolsT(t testing.TB) Tools {
	t.Helper()
	tools, err := FindTools()
	if err != nil {
		skipOrFatal(t, err.Error())
	}
	return tools
}

// StartRegistryT starts a registry in a temporary folder and stops it in
// t.Cleanup (reporting a failed stop with t.Error).
func StartRegistryT(t testing.TB, tools Tools) *Registry {
	t.Helper()
	dir := t.TempDir() // registered first, so removed after Stop
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := StartRegistry(ctx, tools.Registry, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// NewSoftHSMT returns a SoftHSM in a temporary folder. It ends the test
// (t.Fatal when [Required], else t.Skip) when softhsm2-util or the module is
// missing.
func NewSoftHSMT(t testing.TB) *SoftHSM {
	t.Helper()
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		skipOrFatal(t, "softhsm2-util not found: apt-get install softhsm2 ("+err.Error()+")")
	}
	h, err := NewSoftHSM(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(h.Module()); err != nil {
		skipOrFatal(t, "PKCS#11 module missing: "+err.Error())
	}
	return h
}

// NewNotationT returns a Notation with its state in a temporary folder.
func NewNotationT(t testing.TB, tools Tools, extraEnv ...string) *Notation {
	t.Helper()
	return NewNotation(tools.Notation, t.TempDir(), extraEnv)
}

// PushT is [Push] into a temporary folder that fails the test on error.
func PushT(t testing.TB, tools Tools, ref string, content []byte) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := Push(ctx, tools.Oras, ref, t.TempDir(), content)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
