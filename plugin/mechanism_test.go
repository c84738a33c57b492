//go:build unix

package plugin

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"
	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// TestGenerateSignatureMechanisms (issue 16): generate-signature through the
// real PKCS#11 layer signs with what the token offers (the shim in front
// of SoftHSM hides mechanisms) and the signature verifies as notation
// checks it; a token with no fitting mechanism gets a VALIDATION_ERROR that
// names the missing ones. SignMechanismFor reports the same choice.
func TestGenerateSignatureMechanisms(t *testing.T) {
	h := shimToken(t, "ec-256", "rsa-3072")
	t.Setenv("SOFTHSM2_CONF", h.ConfPath())
	lib := e2e.BuildShimT(t)
	for _, tc := range []struct {
		kt, offered string
		hide        []uint
		want        string // mechanism name; "" refused
	}{
		{"ec-256", "all", nil, "CKM_ECDSA_SHA256"},
		{"ec-256", "raw only", []uint{p11.CKM_ECDSA_SHA256}, "CKM_ECDSA"},
		{"ec-256", "hashing only", []uint{p11.CKM_ECDSA}, "CKM_ECDSA_SHA256"},
		{"ec-256", "none", []uint{p11.CKM_ECDSA, p11.CKM_ECDSA_SHA256}, ""},
		{"rsa-3072", "all", nil, "CKM_SHA384_RSA_PKCS_PSS"},
		{"rsa-3072", "raw only", []uint{p11.CKM_SHA384_RSA_PKCS_PSS}, "CKM_RSA_PKCS_PSS"},
		{"rsa-3072", "hashing only", []uint{p11.CKM_RSA_PKCS_PSS}, "CKM_SHA384_RSA_PKCS_PSS"},
		{"rsa-3072", "none", []uint{p11.CKM_RSA_PKCS_PSS, p11.CKM_SHA384_RSA_PKCS_PSS}, ""},
	} {
		t.Run(tc.kt+"/"+tc.offered, func(t *testing.T) {
			shim := e2e.Shim{Module: h.Module(), Hide: tc.hide, ECDSAHash: true}
			for _, kv := range shim.Env() {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			kt := keyTypeOf(t, tc.kt)
			uri := "pkcs11:token=" + tokenLabel + ";object=" + tc.kt
			chain, err := filepath.Abs(filepath.Join(pkiDir, tc.kt, "chain.pem"))
			if err != nil {
				t.Fatal(err)
			}
			p := New(Options{Getenv: stdEnv(lib).get, Now: testpki.Epoch})
			r := runPlugin(t, p, "generate-signature", signReq(uri, kt, map[string]string{ConfigCertificateChain: chain, ConfigKeyCache: "off"}))
			mech, ok, mechErr := signMechanismOf(t, lib, uri, kt.spec)
			if tc.want == "" {
				hidden := []string{pkcs11.MechanismName(tc.hide[1]), pkcs11.MechanismName(tc.hide[0])}
				wantError(t, r, proto.ErrorCodeValidation, append(hidden, "cannot sign", `token "`+tokenLabel+`"`)...)
				var me *pkcs11.MechanismError
				if ok || !errors.As(mechErr, &me) {
					t.Errorf("SignMechanismFor = %v, %v, %v; want a *MechanismError", mech, ok, mechErr)
				}
				return
			}
			resp := wantOK[proto.GenerateSignatureResponse](t, r)
			verifyAsNotation(t, kt, parseChain(t, resp.CertificateChain)[0].PublicKey, []byte(testPayload), resp.Signature)
			if mechErr != nil || !ok || mech.Name != tc.want || mech.LocalHash != !strings.Contains(tc.want, "SHA") {
				t.Errorf("SignMechanismFor = %+v, %v, %v; want %s", mech, ok, mechErr, tc.want)
			}
		})
	}
	t.Run("a key that is not on a token", func(t *testing.T) {
		if m, ok, err := SignMechanismFor(&fakeKey{}, proto.KeySpecEC256); ok || err != nil || m != (pkcs11.SignMechanism{}) {
			t.Errorf("SignMechanismFor(fake) = %+v, %v, %v", m, ok, err)
		}
		if _, _, err := SignMechanismFor(&fakeKey{}, "EC-1024"); !errors.Is(err, ErrRequest) {
			t.Errorf("unknown key spec: %v", err)
		}
	})
}

// signMechanismOf opens the key through the real backend and asks
// SignMechanismFor, as doctor does.
func signMechanismOf(t *testing.T, lib, uri string, ks proto.KeySpec) (pkcs11.SignMechanism, bool, error) {
	t.Helper()
	u, err := pkcs11.ParseURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := HSM{}.Open(context.Background(), u, pkcs11.Options{ModulePath: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	key, err := tok.Login(context.Background(), pkcs11.NewPIN(testPIN))
	if err != nil {
		t.Fatal(err)
	}
	return SignMechanismFor(key, ks)
}
