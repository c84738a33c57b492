//go:build unix

package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// TestSoftHSMEnforcesAlwaysAuthenticate checks the premise of the tests
// below: SoftHSM keeps CKA_ALWAYS_AUTHENTICATE on a private key and refuses
// C_Sign with CKR_USER_NOT_LOGGED_IN unless a context-specific login came
// after C_SignInit.
func TestSoftHSMEnforcesAlwaysAuthenticate(t *testing.T) {
	h := softHSM(t, "aa-premise")
	if _, err := e2e.GenerateAlwaysAuthKey(h.Module(), "aa-premise", userPIN, "aa", []byte{0xAA}); err != nil {
		t.Fatal(err)
	}
	ctx, s := rawSession(t, h, "aa-premise", true)
	defer ctx.Finalize()
	if err := ctx.Login(s, p11.CKU_USER, userPIN); err != nil {
		t.Fatal(err)
	}
	if err := ctx.FindObjectsInit(s, []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY), p11.NewAttribute(p11.CKA_LABEL, "aa")}); err != nil {
		t.Fatal(err)
	}
	hs, _, err := ctx.FindObjects(s, 2)
	_ = ctx.FindObjectsFinal(s)
	if err != nil || len(hs) != 1 {
		t.Fatalf("found %d keys, %v", len(hs), err)
	}
	digest := sha256.Sum256([]byte("premise"))
	if err := ctx.SignInit(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_ECDSA, nil)}, hs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := ctx.Sign(s, digest[:]); !errors.Is(err, p11.Error(p11.CKR_USER_NOT_LOGGED_IN)) {
		t.Fatalf("C_Sign without a context-specific login: %v, want CKR_USER_NOT_LOGGED_IN", err)
	}
}

// TestAlwaysAuthenticateKey (issue 16, issue 13): a key with
// CKA_ALWAYS_AUTHENTICATE gets a context-specific login (C_Login with
// CKU_CONTEXT_SPECIFIC = 2) right before each signature, on SoftHSM, which
// enforces the attribute; keys without it get none.
func TestAlwaysAuthenticateKey(t *testing.T) {
	h := softHSM(t, "aa")
	pub, err := e2e.GenerateAlwaysAuthKey(h.Module(), "aa", userPIN, "card-key", []byte{0xAA, 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ImportKey("aa", userPIN, filepath.Join("..", "..", "testdata", "pki", "ec-256", "leaf.key"), "plain", []byte{0xAA, 2}); err != nil {
		t.Fatal(err)
	}
	lib := e2e.BuildShimT(t)
	for _, tc := range []struct {
		label      string
		alwaysAuth bool
	}{{"card-key", true}, {"plain", false}} {
		t.Run(tc.label, func(t *testing.T) {
			shim := e2e.Shim{Module: h.Module(), Log: filepath.Join(t.TempDir(), "shim.log")}
			for _, kv := range shim.Env() {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			tok, err := pkcs11.Open(context.Background(), mustURI(t, "pkcs11:token=aa;object="+tc.label), pkcs11.Options{ModulePath: lib, Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			defer tok.Close()
			key, err := tok.Login(context.Background(), pkcs11.NewPIN(userPIN))
			if err != nil {
				t.Fatal(err)
			}
			if key.AlwaysAuthenticate() != tc.alwaysAuth {
				t.Fatalf("AlwaysAuthenticate = %v, want %v", key.AlwaysAuthenticate(), tc.alwaysAuth)
			}
			if tc.alwaysAuth && !pki.PublicKeyEqual(key.Public(), pub) {
				t.Fatal("Login found another key")
			}
			const n = 3
			for i := range n {
				msg := []byte{byte(i)}
				sig, err := crypto.SignMessage(key, nil, msg, crypto.SHA256)
				if err != nil {
					t.Fatalf("signature %d: %v", i, err)
				}
				verifyMessage(t, key.Public(), crypto.SHA256, msg, sig)
			}
			log, err := e2e.ReadShimLog(shim.Log)
			if err != nil {
				t.Fatal(err)
			}
			// Each C_Sign is preceded, after its C_SignInit, by a
			// successful context-specific login (or, without the
			// attribute, by none).
			signs, contextLogins := 0, 0
			for i, l := range log {
				switch {
				case l == "C_Login 2":
					contextLogins++
					if i == 0 || !strings.HasPrefix(log[i-1], "C_SignInit") || log[i+1] != "C_Login done 0x0" || log[i+2] != "C_Sign" {
						t.Errorf("context-specific login out of place at line %d (log %q)", i, log)
					}
				case l == "C_Sign":
					signs++
				}
			}
			want := 0
			if tc.alwaysAuth {
				want = n
			}
			if signs != n || contextLogins != want {
				t.Errorf("%d signatures with %d context-specific logins, want %d with %d (log %q)", signs, contextLogins, n, want, log)
			}
		})
	}
	t.Run("wrong PIN for the context-specific login", func(t *testing.T) {
		tok := open(t, h, "pkcs11:token=aa;object=card-key")
		key, err := tok.Login(context.Background(), pkcs11.NewPIN(userPIN))
		if err != nil {
			t.Fatal(err)
		}
		// The PIN changes on the token between login and signature: the
		// context-specific login fails, nothing is signed, and the key
		// still signs once the PIN is right again.
		changePIN(t, h, "aa", userPIN, "other-PIN-77")
		_, err = crypto.SignMessage(key, nil, []byte("x"), crypto.SHA256)
		var le *pkcs11.LoginError
		if !errors.As(err, &le) || !errors.Is(err, pkcs11.ErrLogin) || !le.ContextSpecific || !errors.Is(err, p11.Error(p11.CKR_PIN_INCORRECT)) || strings.Contains(err.Error(), "other-PIN-77") {
			t.Fatalf("signature after the PIN changed: %v, want a context-specific *LoginError for CKR_PIN_INCORRECT without the PIN", err)
		}
		changePIN(t, h, "aa", "other-PIN-77", userPIN)
		if _, err := crypto.SignMessage(key, nil, []byte("x"), crypto.SHA256); err != nil {
			t.Fatalf("signature after the PIN was restored: %v", err)
		}
	})
}

// rawSession loads h's module with miekg/pkcs11 directly and opens a
// read-write session on the token labelled label. With own, this handle
// initialises the module (the caller finalises it); without, the module
// must be initialised already in this process (by an open Token), and the
// handle only borrows it.
func rawSession(t *testing.T, h *e2e.SoftHSM, label string, own bool) (*p11.Ctx, p11.SessionHandle) {
	t.Helper()
	ctx := p11.New(h.Module())
	if ctx == nil {
		t.Fatal("cannot load the module")
	}
	t.Cleanup(ctx.Destroy)
	err := ctx.Initialize()
	if own && err != nil || !own && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatalf("C_Initialize: %v", err)
	}
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, slot := range slots {
		if ti, err := ctx.GetTokenInfo(slot); err == nil && strings.TrimRight(ti.Label, " ") == label {
			s, err := ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ctx.CloseSession(s) })
			return ctx, s
		}
	}
	t.Fatalf("no token %q", label)
	return nil, 0
}

// changePIN sets the user PIN of token label from old to new, through the
// module a Token of this process has initialised and logged in to.
func changePIN(t *testing.T, h *e2e.SoftHSM, label, old, new string) {
	t.Helper()
	ctx, s := rawSession(t, h, label, false)
	if err := ctx.SetPIN(s, old, new); err != nil {
		t.Fatalf("C_SetPIN: %v", err)
	}
}
