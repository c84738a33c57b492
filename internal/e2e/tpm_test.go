//go:build unix

package e2e_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

const tpmTestPIN = "tpm-harness-PIN-8812"

// TestTPMHarness: swtpm, the session bus and tpm2-abrmd start; tpm2_ptool
// makes a token and keys that the tpm2-pkcs11 module lists; a tpm2_ptool
// failure does not show the PIN; Stop ends every process (the ports close)
// and removes the bus folder.
func TestTPMHarness(t *testing.T) {
	tpm := e2e.StartTPMT(t)
	ctx := t.Context()
	if !tpm.HasCurve("TPM2_ECC_NIST_P256") {
		t.Fatal("swtpm does not offer P-256")
	}
	if err := tpm.AddToken(ctx, "harness", "so-"+tpmTestPIN, tpmTestPIN); err != nil {
		t.Fatal(err)
	}
	id, err := tpm.AddKey(ctx, "harness", tpmTestPIN, e2e.TPMECC256, "k1", false)
	if err != nil || len(id) == 0 {
		t.Fatalf("AddKey: %q, %v", id, err)
	}
	// A wrong PIN: tpm2_ptool fails, and the error does not repeat it.
	_, err = tpm.AddKey(ctx, "harness", "wrong-"+tpmTestPIN, e2e.TPMECC256, "k2", false)
	if err == nil || strings.Contains(err.Error(), tpmTestPIN) || !strings.Contains(err.Error(), "tpm2_ptool") {
		t.Fatalf("AddKey with a wrong PIN: %v", err)
	}

	for _, kv := range tpm.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	labels := moduleKeyLabels(t, tpm.Module(), "harness", tpmTestPIN)
	if len(labels) != 1 || labels[0] != "k1" {
		t.Fatalf("the module lists private keys %q, want [k1]", labels)
	}

	port := tpm.Port()
	if err := tpm.Stop(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
		c.Close()
		t.Fatalf("swtpm still listens on %d after Stop", port)
	}
	bus := strings.TrimPrefix(tpm.Env()[0], "DBUS_SESSION_BUS_ADDRESS=unix:path=")
	if _, err := os.Stat(bus); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the bus socket %s is still there after Stop: %v", bus, err)
	}
	if err := tpm.Stop(); err != nil {
		t.Fatalf("a second Stop: %v", err)
	}
}

// TestTPMEnforcesAlwaysAuthenticate: tpm2-pkcs11 keeps
// CKA_ALWAYS_AUTHENTICATE on a key made with tpm2_ptool addkey
// --attr-always-authenticate and enforces it: C_Sign without a
// context-specific login is CKR_USER_NOT_LOGGED_IN (and leaves the
// operation active); with one it signs; the next C_Sign needs a new login.
func TestTPMEnforcesAlwaysAuthenticate(t *testing.T) {
	tpm := e2e.StartTPMT(t)
	ctx := t.Context()
	if err := tpm.AddToken(ctx, "aa", "so-"+tpmTestPIN, tpmTestPIN); err != nil {
		t.Fatal(err)
	}
	if _, err := tpm.AddKey(ctx, "aa", tpmTestPIN, e2e.TPMECC256, "aa-key", true); err != nil {
		t.Fatal(err)
	}
	for _, kv := range tpm.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	m := p11.New(tpm.Module())
	if m == nil {
		t.Fatal("cannot load the module")
	}
	defer m.Destroy()
	if err := m.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer m.Finalize()
	sh, key := loginAndFind(t, m, "aa", tpmTestPIN, "aa-key")
	attr, err := m.GetAttributeValue(sh, key, []*p11.Attribute{p11.NewAttribute(p11.CKA_ALWAYS_AUTHENTICATE, nil)})
	if err != nil || len(attr[0].Value) != 1 || attr[0].Value[0] != 1 {
		t.Fatalf("CKA_ALWAYS_AUTHENTICATE: %v, %v", attr, err)
	}
	digest := make([]byte, 32)
	mech := []*p11.Mechanism{p11.NewMechanism(p11.CKM_ECDSA, nil)}
	if err := m.SignInit(sh, mech, key); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sign(sh, digest); !errors.Is(err, p11.Error(p11.CKR_USER_NOT_LOGGED_IN)) {
		t.Fatalf("C_Sign without a context-specific login: %v, want CKR_USER_NOT_LOGGED_IN", err)
	}
	// The failed C_Sign left the operation active (tpm2-pkcs11 1.9).
	if err := m.SignInit(sh, mech, key); !errors.Is(err, p11.Error(p11.CKR_OPERATION_ACTIVE)) {
		t.Fatalf("C_SignInit after the refused C_Sign: %v, want CKR_OPERATION_ACTIVE", err)
	}
	if err := m.Login(sh, p11.CKU_CONTEXT_SPECIFIC, tpmTestPIN); err != nil {
		t.Fatal(err)
	}
	if sig, err := m.Sign(sh, digest); err != nil || len(sig) != 64 {
		t.Fatalf("C_Sign after the context-specific login: %d bytes, %v", len(sig), err)
	}
	if err := m.SignInit(sh, mech, key); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sign(sh, digest); !errors.Is(err, p11.Error(p11.CKR_USER_NOT_LOGGED_IN)) {
		t.Fatalf("a second C_Sign without a new login: %v, want CKR_USER_NOT_LOGGED_IN", err)
	}
}

// loginAndFind opens a session on token, logs in and finds the private
// key labelled label.
func loginAndFind(t *testing.T, m *p11.Ctx, token, pin, label string) (p11.SessionHandle, p11.ObjectHandle) {
	t.Helper()
	slots, err := m.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		ti, err := m.GetTokenInfo(s)
		if err != nil || strings.TrimRight(ti.Label, " \x00") != token {
			continue
		}
		sh, err := m.OpenSession(s, p11.CKF_SERIAL_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.CloseSession(sh) })
		if err := m.Login(sh, p11.CKU_USER, pin); err != nil {
			t.Fatal(err)
		}
		if err := m.FindObjectsInit(sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY), p11.NewAttribute(p11.CKA_LABEL, label)}); err != nil {
			t.Fatal(err)
		}
		hs, _, err := m.FindObjects(sh, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.FindObjectsFinal(sh); err != nil {
			t.Fatal(err)
		}
		if len(hs) != 1 {
			t.Fatalf("%d private keys labelled %q", len(hs), label)
		}
		return sh, hs[0]
	}
	t.Fatalf("no token %q", token)
	return 0, 0
}

// TestStartTPMReportsEarlyExit: a TPM that exits at once fails the start
// with its log, and nothing is left running.
func TestStartTPMReportsEarlyExit(t *testing.T) {
	bin, err := exec.LookPath("false")
	if err != nil {
		t.Fatal(err)
	}
	tools := e2e.TPMTools{Swtpm: bin, DBusDaemon: bin, Abrmd: bin, Ptool: bin, Getcap: bin}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = e2e.StartTPM(ctx, tools, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "swtpm exited") {
		t.Fatalf("StartTPM with a swtpm that exits: %v", err)
	}
}

// moduleKeyLabels logs in to token through module, in this process, and
// returns the labels of its private keys.
func moduleKeyLabels(t *testing.T, module, token, pin string) []string {
	t.Helper()
	ctx := p11.New(module)
	if ctx == nil {
		t.Fatalf("cannot load %s", module)
	}
	defer ctx.Destroy()
	if err := ctx.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer ctx.Finalize()
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		ti, err := ctx.GetTokenInfo(s)
		if err != nil || strings.TrimRight(ti.Label, " \x00") != token {
			continue
		}
		sh, err := ctx.OpenSession(s, p11.CKF_SERIAL_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		defer ctx.CloseSession(sh)
		if err := ctx.Login(sh, p11.CKU_USER, pin); err != nil {
			t.Fatal(err)
		}
		if err := ctx.FindObjectsInit(sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY)}); err != nil {
			t.Fatal(err)
		}
		hs, _, err := ctx.FindObjects(sh, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := ctx.FindObjectsFinal(sh); err != nil {
			t.Fatal(err)
		}
		var labels []string
		for _, h := range hs {
			a, err := ctx.GetAttributeValue(sh, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, nil)})
			if err != nil {
				t.Fatal(err)
			}
			labels = append(labels, string(a[0].Value))
		}
		return labels
	}
	t.Fatalf("no token %q", token)
	return nil
}
