//go:build unix

package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// openThroughShim opens the key labelled kt on token label through the
// shim in front of h's module, with shim's faults; it returns the token,
// the logged-in key and the shim's log file.
// SoftHSM 2.6 has no CKM_ECDSA_SHA*: the shim provides them (ECDSAHash).
func openThroughShim(t *testing.T, h *e2e.SoftHSM, lib, label, kt string, hide []uint) (*pkcs11.Token, *pkcs11.Key, string) {
	t.Helper()
	shim := e2e.Shim{Module: h.Module(), Log: filepath.Join(t.TempDir(), "shim.log"), Hide: hide, ECDSAHash: true}
	for _, kv := range shim.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	tok, err := pkcs11.Open(context.Background(), mustURI(t, "pkcs11:token="+label+";object="+kt), pkcs11.Options{ModulePath: lib, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tok.Close() })
	key, err := tok.Login(context.Background(), pkcs11.NewPIN(userPIN))
	if err != nil {
		t.Fatal(err)
	}
	return tok, key, shim.Log
}

// TestMechanismNegotiation (issue 16): with the shim hiding mechanisms from
// SoftHSM, a key signs with the hashing mechanism when only that is
// offered, with the raw one over a local digest when only that is, and
// refuses, naming the missing mechanisms and never calling C_SignInit,
// when neither is. Each signature verifies as Notation checks it.
func TestMechanismNegotiation(t *testing.T) {
	kts := []string{"ec-256", "ec-384", "ec-521", "rsa-2048", "rsa-3072", "rsa-4096"}
	h := tokenWithChains(t, "mechs", kts...)
	lib := e2e.BuildShimT(t)
	for _, kt := range kts {
		pub := loadPublic(t, kt)
		ks, err := pki.KeySpecOf(pub)
		if err != nil {
			t.Fatal(err)
		}
		alg, _ := pki.AlgorithmFor(ks)
		raw, hashed := uint(p11.CKM_ECDSA), map[crypto.Hash]uint{crypto.SHA256: p11.CKM_ECDSA_SHA256, crypto.SHA384: p11.CKM_ECDSA_SHA384, crypto.SHA512: p11.CKM_ECDSA_SHA512}[alg.Hash]
		if !alg.ECDSA {
			raw, hashed = p11.CKM_RSA_PKCS_PSS, map[crypto.Hash]uint{crypto.SHA256: p11.CKM_SHA256_RSA_PKCS_PSS, crypto.SHA384: p11.CKM_SHA384_RSA_PKCS_PSS, crypto.SHA512: p11.CKM_SHA512_RSA_PKCS_PSS}[alg.Hash]
		}
		for _, tc := range []struct {
			name      string
			hide      []uint
			want      uint // 0: refused
			localHash bool
		}{
			{"all offered", nil, hashed, false},
			{"hashing variant only", []uint{raw}, hashed, false},
			{"raw only", []uint{hashed}, raw, true},
			{"none", []uint{raw, hashed}, 0, false},
		} {
			t.Run(kt+"/"+tc.name, func(t *testing.T) {
				_, key, log := openThroughShim(t, h, lib, "mechs", kt, tc.hide)
				mech, err := key.SignMechanism(alg.SignerOpts())
				msg := []byte("negotiated " + kt + " " + tc.name)
				sig, signErr := crypto.SignMessage(key, nil, msg, alg.SignerOpts())
				lines, lerr := e2e.ReadShimLog(log)
				if lerr != nil {
					t.Fatal(lerr)
				}
				if tc.want == 0 {
					var me *pkcs11.MechanismError
					for _, e := range []error{err, signErr} {
						if !errors.As(e, &me) || !errors.Is(e, pkcs11.ErrMechanism) {
							t.Fatalf("got %v, want a *MechanismError", e)
						}
						if want := []string{pkcs11.MechanismName(hashed), pkcs11.MechanismName(raw)}; !slices.Equal(me.Missing, want) || me.Token != "mechs" || me.Digest {
							t.Errorf("MechanismError %+v, want token mechs missing %q", me, want)
						}
					}
					if len(me.Offered) == 0 || slices.Contains(me.Offered, pkcs11.MechanismName(raw)) {
						t.Errorf("offered mechanisms %q: want SoftHSM's others, without the hidden ones", me.Offered)
					}
					if slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "C_SignInit") }) {
						t.Errorf("C_SignInit was called although no mechanism fits (log %q)", lines)
					}
					return
				}
				if err != nil || signErr != nil {
					t.Fatalf("SignMechanism %v, SignMessage %v", err, signErr)
				}
				if mech.Code != tc.want || mech.LocalHash != tc.localHash || mech.Hash != alg.Hash {
					t.Errorf("mechanism %+v, want %s localHash=%v", mech, pkcs11.MechanismName(tc.want), tc.localHash)
				}
				verifyMessage(t, pub, alg.Hash, msg, sig)
				if want := fmt.Sprintf("C_SignInit 0x%x", tc.want); !slices.Contains(lines, want) {
					t.Errorf("the token was not asked for %s (log %q)", pkcs11.MechanismName(tc.want), lines)
				}
				// A digest can go only to the raw mechanism.
				d := alg.Hash.New()
				d.Write(msg)
				_, err = key.Sign(nil, d.Sum(nil), alg.SignerOpts())
				var me *pkcs11.MechanismError
				if tc.localHash || tc.hide == nil {
					if err != nil {
						t.Errorf("Sign(digest) with the raw mechanism offered: %v", err)
					}
				} else if !errors.As(err, &me) || !me.Digest || !slices.Equal(me.Missing, []string{pkcs11.MechanismName(hashed)}) {
					t.Errorf("Sign(digest) with only %s offered: %v, want a *MechanismError about the digest", pkcs11.MechanismName(hashed), err)
				}
			})
		}
	}
}

// TestCSRMechanisms: certificate requests (RSA PKCS #1 v1.5, ECDSA) are
// signed with the hashing mechanism or, without it, the raw one (RSA with
// the DigestInfo made here), and verify.
func TestCSRMechanisms(t *testing.T) {
	h := tokenWithChains(t, "csr", "rsa-3072", "ec-384")
	lib := e2e.BuildShimT(t)
	for _, tc := range []struct {
		kt   string
		hide []uint
		want string
	}{
		{"rsa-3072", nil, "C_SignInit 0x41"},                            // CKM_SHA384_RSA_PKCS
		{"rsa-3072", []uint{p11.CKM_SHA384_RSA_PKCS}, "C_SignInit 0x1"}, // CKM_RSA_PKCS
		{"ec-384", nil, "C_SignInit 0x1045"},                            // CKM_ECDSA_SHA384
		{"ec-384", []uint{p11.CKM_ECDSA_SHA384}, "C_SignInit 0x1041"},   // CKM_ECDSA
	} {
		t.Run(tc.kt+"/"+tc.want, func(t *testing.T) {
			_, key, log := openThroughShim(t, h, lib, "csr", tc.kt, tc.hide)
			der, err := pki.CreateCSR(key, pkix.Name{CommonName: "negotiated", Organization: []string{"Test"}, Country: []string{"US"}})
			if err != nil {
				t.Fatal(err)
			}
			csr, err := x509.ParseCertificateRequest(der)
			if err != nil || csr.CheckSignature() != nil {
				t.Fatalf("the request does not verify: %v", err)
			}
			lines, _ := e2e.ReadShimLog(log)
			if !slices.Contains(lines, tc.want) {
				t.Errorf("want %q in the log %q", tc.want, lines)
			}
		})
	}
}

func loadPublic(t *testing.T, kt string) crypto.PublicKey {
	t.Helper()
	s, err := testpki.LoadSigner(filepath.Join("..", "..", "testdata", "pki", kt, "leaf.key"))
	if err != nil {
		t.Fatal(err)
	}
	return s.Public()
}
