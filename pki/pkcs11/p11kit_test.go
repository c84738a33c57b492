//go:build unix

package pkcs11_test

import (
	"context"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// TestP11KitRemoting (issue 16): through p11-kit-client.so and a p11-kit
// server in front of SoftHSM, a key logs in, its chain is read from the
// token after the login, and it signs. p11-kit-client keeps its connection
// per function list: when the library was initialised a second time for
// the login and the first handle finalised, reading the chain failed with
// CKR_CRYPTOKI_NOT_INITIALIZED. p11-kit 0.24 carries only the raw signing
// mechanisms, so the key hashes here.
func TestP11KitRemoting(t *testing.T) {
	h := tokenWithChains(t, "remote", "ec-256", "rsa-3072")
	srv, client := e2e.StartP11KitServerT(t, h, "remote", "")
	t.Setenv("P11_KIT_SERVER_ADDRESS", srv.Address())
	for _, tc := range []struct {
		kt   string
		mech uint
	}{
		{"ec-256", p11.CKM_ECDSA},
		{"rsa-3072", p11.CKM_RSA_PKCS_PSS},
	} {
		t.Run(tc.kt, func(t *testing.T) {
			u := mustURI(t, "pkcs11:token=remote;object="+tc.kt)
			tok, err := pkcs11.Open(context.Background(), u, pkcs11.Options{ModulePath: client, Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			defer tok.Close()
			if tok.Info().Manufacturer != "SoftHSM project" {
				t.Errorf("token %+v is not the SoftHSM token behind the server", tok.Info())
			}
			mech := signLikeThePlugin(t, tok)
			if mech.Code != tc.mech || !mech.LocalHash {
				t.Errorf("mechanism %s, want %s with the digest made here", mech, pkcs11.MechanismName(tc.mech))
			}
		})
	}
}
