package pkcs11

import (
	"crypto"
	"errors"
	"slices"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"
)

// TestChooseMechanism: the hashing mechanism when the message is at hand
// and the token has it, else the raw one with local hashing; with only a
// digest, the raw one; else a *MechanismError naming what is missing.
func TestChooseMechanism(t *testing.T) {
	type want struct {
		code      uint
		localHash bool
		missing   []string // set: an error naming these
		digest    bool     // the error says a digest was given
	}
	for _, tc := range []struct {
		name    string
		s       scheme
		h       crypto.Hash
		has     []uint
		message bool
		want    want
	}{
		{"EC both, message", schemeECDSA, crypto.SHA256, []uint{p11.CKM_ECDSA, p11.CKM_ECDSA_SHA256}, true, want{code: p11.CKM_ECDSA_SHA256}},
		{"EC both, digest", schemeECDSA, crypto.SHA256, []uint{p11.CKM_ECDSA, p11.CKM_ECDSA_SHA256}, false, want{code: p11.CKM_ECDSA, localHash: true}},
		{"EC raw only, message", schemeECDSA, crypto.SHA384, []uint{p11.CKM_ECDSA}, true, want{code: p11.CKM_ECDSA, localHash: true}},
		{"EC hashing only, message", schemeECDSA, crypto.SHA512, []uint{p11.CKM_ECDSA_SHA512}, true, want{code: p11.CKM_ECDSA_SHA512}},
		{"EC other hash only", schemeECDSA, crypto.SHA384, []uint{p11.CKM_ECDSA_SHA256}, true, want{missing: []string{"CKM_ECDSA_SHA384", "CKM_ECDSA"}}},
		{"EC hashing only, digest", schemeECDSA, crypto.SHA256, []uint{p11.CKM_ECDSA_SHA256}, false, want{missing: []string{"CKM_ECDSA_SHA256"}, digest: true}},
		{"EC none", schemeECDSA, crypto.SHA256, []uint{p11.CKM_RSA_PKCS_PSS}, true, want{missing: []string{"CKM_ECDSA_SHA256", "CKM_ECDSA"}}},
		{"PSS both", schemePSS, crypto.SHA384, []uint{p11.CKM_RSA_PKCS_PSS, p11.CKM_SHA384_RSA_PKCS_PSS}, true, want{code: p11.CKM_SHA384_RSA_PKCS_PSS}},
		{"PSS raw only (p11-kit 0.24)", schemePSS, crypto.SHA384, []uint{p11.CKM_RSA_PKCS_PSS, p11.CKM_RSA_PKCS}, true, want{code: p11.CKM_RSA_PKCS_PSS, localHash: true}},
		{"PSS hashing only", schemePSS, crypto.SHA256, []uint{p11.CKM_SHA256_RSA_PKCS_PSS}, true, want{code: p11.CKM_SHA256_RSA_PKCS_PSS}},
		{"PSS none: PKCS #1 v1.5 does not do", schemePSS, crypto.SHA256, []uint{p11.CKM_RSA_PKCS, p11.CKM_SHA256_RSA_PKCS}, true, want{missing: []string{"CKM_SHA256_RSA_PKCS_PSS", "CKM_RSA_PKCS_PSS"}}},
		{"PKCS1v15 raw only", schemePKCS1v15, crypto.SHA512, []uint{p11.CKM_RSA_PKCS}, true, want{code: p11.CKM_RSA_PKCS, localHash: true}},
		{"PKCS1v15 hashing", schemePKCS1v15, crypto.SHA256, []uint{p11.CKM_RSA_PKCS, p11.CKM_SHA256_RSA_PKCS}, true, want{code: p11.CKM_SHA256_RSA_PKCS}},
		{"PKCS1v15 none", schemePKCS1v15, crypto.SHA256, nil, true, want{missing: []string{"CKM_SHA256_RSA_PKCS", "CKM_RSA_PKCS"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := chooseMechanism("tok", tc.s, tc.h, func(c uint) bool { return slices.Contains(tc.has, c) }, tc.message)
			if tc.want.missing == nil {
				if err != nil {
					t.Fatalf("chooseMechanism: %v", err)
				}
				hn, _ := hashName(tc.h)
				if m.Code != tc.want.code || m.LocalHash != tc.want.localHash || m.Hash != tc.h || m.Name != MechanismName(tc.want.code) || m.HashName != hn {
					t.Errorf("got %+v, want %s localHash=%v", m, MechanismName(tc.want.code), tc.want.localHash)
				}
				return
			}
			var me *MechanismError
			if !errors.As(err, &me) || !errors.Is(err, ErrMechanism) {
				t.Fatalf("got %+v, %v; want a *MechanismError", m, err)
			}
			if !slices.Equal(me.Missing, tc.want.missing) || me.Digest != tc.want.digest || me.Token != "tok" {
				t.Errorf("error %+v, want missing %q digest=%v", me, tc.want.missing, tc.want.digest)
			}
			if m != (SignMechanism{}) {
				t.Errorf("a mechanism %+v came with the error", m)
			}
		})
	}
	t.Run("unsupported hash", func(t *testing.T) {
		// Not a missing mechanism: no *MechanismError.
		_, err := chooseMechanism("tok", schemeECDSA, crypto.SHA1, func(uint) bool { return true }, true)
		if !errors.Is(err, ErrMechanism) || errors.As(err, new(*MechanismError)) {
			t.Fatalf("SHA-1: %v, want ErrMechanism without a *MechanismError", err)
		}
	})
}

func TestMechanismErrorText(t *testing.T) {
	e := &MechanismError{Token: "remote", Signature: "ECDSA with SHA-256", Missing: []string{"CKM_ECDSA_SHA256", "CKM_ECDSA"}, Offered: []string{"CKM_RSA_PKCS", "CKM_RSA_PKCS_PSS"}}
	want := `the token cannot make this signature: token "remote" cannot sign ECDSA with SHA-256: it offers none of CKM_ECDSA_SHA256, CKM_ECDSA for signing (its signing mechanisms: CKM_RSA_PKCS, CKM_RSA_PKCS_PSS); use a key type this token signs with, or another token`
	if e.Error() != want {
		t.Errorf("got  %s\nwant %s", e.Error(), want)
	}
	e.Offered = nil
	if !strings.Contains(e.Error(), "(its signing mechanisms: none)") {
		t.Errorf("no offered mechanisms: %s", e.Error())
	}
	if MechanismName(0x80001234) != "0x80001234" || MechanismName(p11.CKM_ECDSA) != "CKM_ECDSA" {
		t.Errorf("MechanismName: %s, %s", MechanismName(0x80001234), MechanismName(p11.CKM_ECDSA))
	}
	m := SignMechanism{Name: "CKM_ECDSA", HashName: "SHA-256", LocalHash: true}
	if m.String() != "CKM_ECDSA over a SHA-256 digest made by the plugin" {
		t.Errorf("String: %s", m)
	}
	m = SignMechanism{Name: "CKM_ECDSA_SHA256", HashName: "SHA-256"}
	if m.String() != "CKM_ECDSA_SHA256 (the token hashes)" {
		t.Errorf("String: %s", m)
	}
}
