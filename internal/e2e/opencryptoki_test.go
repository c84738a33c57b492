//go:build unix

package e2e_test

import (
	"errors"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

// opencryptoki PINs have 4 to 8 characters.
const ockHarnessPIN = "ock-5512"

// TestOpencryptokiHarness: the soft token is initialised as the test
// token without a prompt or a PIN on any command line; the user PIN logs
// in; a second start (the token is the harness's own now) initialises it
// again, empty; Stop stops the pkcsslotd the harness started.
func TestOpencryptokiHarness(t *testing.T) {
	for round := range 2 {
		o := e2e.StartOpencryptokiT(t, ockHarnessPIN)
		m := p11.New(o.Module())
		if m == nil {
			t.Fatal("cannot load libopencryptoki.so")
		}
		if err := m.Initialize(); err != nil {
			t.Fatal(err)
		}
		sh, _ := loginAndFindNone(t, m, e2e.OpencryptokiTestLabel, ockHarnessPIN)
		if round == 0 {
			pub := []*p11.Attribute{p11.NewAttribute(p11.CKA_TOKEN, true), p11.NewAttribute(p11.CKA_MODULUS_BITS, 2048), p11.NewAttribute(p11.CKA_LABEL, "left-over")}
			priv := []*p11.Attribute{p11.NewAttribute(p11.CKA_TOKEN, true), p11.NewAttribute(p11.CKA_SIGN, true), p11.NewAttribute(p11.CKA_LABEL, "left-over")}
			if _, _, err := m.GenerateKeyPair(sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)}, pub, priv); err != nil {
				t.Fatal(err)
			}
		}
		m.CloseSession(sh)
		m.Finalize()
		m.Destroy()
		started := o.StartedDaemon()
		if err := o.Stop(); err != nil {
			t.Fatal(err)
		}
		if started && e2e.OpencryptokiDaemonRunning() {
			t.Fatal("pkcsslotd still runs after Stop")
		}
	}
}

// loginAndFindNone logs in to token and checks that it holds no private
// key; it returns the session.
func loginAndFindNone(t *testing.T, m *p11.Ctx, token, pin string) (p11.SessionHandle, int) {
	t.Helper()
	slots, err := m.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		ti, err := m.GetTokenInfo(s)
		if err != nil || trimLabel(ti.Label) != token {
			continue
		}
		sh, err := m.OpenSession(s, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Login(sh, p11.CKU_USER, pin); err != nil {
			t.Fatal(err)
		}
		if err := m.FindObjectsInit(sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY)}); err != nil {
			t.Fatal(err)
		}
		hs, _, err := m.FindObjects(sh, 10)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.FindObjectsFinal(sh); err != nil {
			t.Fatal(err)
		}
		if len(hs) != 0 {
			t.Fatalf("the freshly initialised token holds %d private keys", len(hs))
		}
		return sh, 0
	}
	t.Fatalf("no token %q", token)
	return 0, 0
}

func trimLabel(s string) string {
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == 0) {
		s = s[:len(s)-1]
	}
	return s
}

// TestOpencryptokiAlwaysAuthenticateNotEnforced: opencryptoki 3.8 stores
// CKA_ALWAYS_AUTHENTICATE on an RSA key but does not enforce it (C_Sign
// without a context-specific login signs) and refuses the
// context-specific login itself with CKR_USER_TYPE_INVALID. So the
// attribute is not supported there (docs/tokens.md).
func TestOpencryptokiAlwaysAuthenticateNotEnforced(t *testing.T) {
	o := e2e.StartOpencryptokiT(t, ockHarnessPIN)
	m := p11.New(o.Module())
	if m == nil {
		t.Fatal("cannot load libopencryptoki.so")
	}
	defer m.Destroy()
	if err := m.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer m.Finalize()
	sh, _ := loginAndFindNone(t, m, e2e.OpencryptokiTestLabel, ockHarnessPIN)
	defer m.CloseSession(sh)
	pub := []*p11.Attribute{p11.NewAttribute(p11.CKA_TOKEN, true), p11.NewAttribute(p11.CKA_MODULUS_BITS, 2048),
		p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}), p11.NewAttribute(p11.CKA_VERIFY, true)}
	priv := []*p11.Attribute{p11.NewAttribute(p11.CKA_TOKEN, true), p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SIGN, true), p11.NewAttribute(p11.CKA_ALWAYS_AUTHENTICATE, true)}
	_, key, err := m.GenerateKeyPair(sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)}, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.GetAttributeValue(sh, key, []*p11.Attribute{p11.NewAttribute(p11.CKA_ALWAYS_AUTHENTICATE, nil)})
	if err != nil || len(a[0].Value) != 1 || a[0].Value[0] != 1 {
		t.Fatalf("CKA_ALWAYS_AUTHENTICATE read back: %v, %v", a, err)
	}
	digest := make([]byte, 32)
	mech := []*p11.Mechanism{p11.NewMechanism(p11.CKM_SHA256_RSA_PKCS_PSS, p11.NewPSSParams(p11.CKM_SHA256, p11.CKG_MGF1_SHA256, 32))}
	if err := m.SignInit(sh, mech, key); err != nil {
		t.Fatal(err)
	}
	if sig, err := m.Sign(sh, digest); err != nil || len(sig) != 256 {
		t.Fatalf("C_Sign without a context-specific login: %d bytes, %v (opencryptoki 3.8 does not enforce the attribute)", len(sig), err)
	}
	if err := m.SignInit(sh, mech, key); err != nil {
		t.Fatal(err)
	}
	if err := m.Login(sh, p11.CKU_CONTEXT_SPECIFIC, ockHarnessPIN); !errors.Is(err, p11.Error(p11.CKR_USER_TYPE_INVALID)) {
		t.Fatalf("context-specific login: %v, want CKR_USER_TYPE_INVALID", err)
	}
}
