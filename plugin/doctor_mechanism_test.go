//go:build unix

package plugin

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
)

// TestDoctorMechanisms (issue 16): through the real PKCS#11 layer (the
// shim in front of SoftHSM hides mechanisms), doctor reports the mechanism
// generate-signature will sign with, in the key check's text and in the
// report's mechanism field; a token that offers none that fits fails the
// key link, naming the missing mechanisms in the text and in
// missingMechanisms (with the ones it offers).
func TestDoctorMechanisms(t *testing.T) {
	h := shimToken(t, "ec-256", "rsa-3072")
	t.Setenv("SOFTHSM2_CONF", h.ConfPath())
	lib := e2e.BuildShimT(t)
	for _, tc := range []struct {
		kt, offered string
		hide        []uint
		want        string // mechanism name; "" refused
		local       bool
	}{
		{"ec-256", "hashing", nil, "CKM_ECDSA_SHA256", false},
		{"ec-256", "raw only", []uint{p11.CKM_ECDSA_SHA256}, "CKM_ECDSA", true},
		{"ec-256", "none", []uint{p11.CKM_ECDSA, p11.CKM_ECDSA_SHA256}, "", false},
		{"rsa-3072", "hashing", nil, "CKM_SHA384_RSA_PKCS_PSS", false},
		{"rsa-3072", "raw only", []uint{p11.CKM_SHA384_RSA_PKCS_PSS}, "CKM_RSA_PKCS_PSS", true},
		{"rsa-3072", "none", []uint{p11.CKM_RSA_PKCS_PSS, p11.CKM_SHA384_RSA_PKCS_PSS}, "", false},
	} {
		t.Run(tc.kt+"/"+tc.offered, func(t *testing.T) {
			shim := e2e.Shim{Module: h.Module(), Hide: tc.hide, ECDSAHash: true}
			for _, kv := range shim.Env() {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			chain, err := filepath.Abs(filepath.Join(pkiDir, tc.kt, "chain.pem"))
			if err != nil {
				t.Fatal(err)
			}
			p := New(Options{Getenv: stdEnv(lib).get, Now: testpki.Epoch})
			uri := "pkcs11:token=" + tokenLabel + ";object=" + tc.kt
			rep := p.Doctor(context.Background(), uri, map[string]string{ConfigCertificateChain: chain},
				DoctorOptions{KeyName: "rel", Revocation: revocation.NonRevokableOnly()})
			js, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Mechanism                            *pkcs11.SignMechanism
				MissingMechanisms, OfferedMechanisms []string
			}
			if err := json.Unmarshal(js, &doc); err != nil {
				t.Fatal(err)
			}
			key := checkNamed(t, rep, CheckKey)
			if tc.want == "" {
				hidden := []string{pkcs11.MechanismName(tc.hide[0]), pkcs11.MechanismName(tc.hide[1])}
				if rep.Failed != CheckKey || doc.Mechanism != nil {
					t.Fatalf("failed %q, mechanism %+v; want the key link to fail:\n%s", rep.Failed, doc.Mechanism, js)
				}
				for _, m := range hidden {
					if !slices.Contains(doc.MissingMechanisms, m) || !strings.Contains(key.Detail, m) || slices.Contains(doc.OfferedMechanisms, m) {
						t.Errorf("%s: missing %q, offered %q, text %q", m, doc.MissingMechanisms, doc.OfferedMechanisms, key.Detail)
					}
				}
				if len(doc.OfferedMechanisms) == 0 {
					t.Errorf("no offered mechanisms in %s", js)
				}
				return
			}
			if !rep.OK || doc.Mechanism == nil || doc.Mechanism.Name != tc.want || doc.Mechanism.LocalHash != tc.local || doc.MissingMechanisms != nil {
				t.Fatalf("want %s (local hash %v):\n%s", tc.want, tc.local, js)
			}
			if !strings.Contains(key.Detail, "signs with "+doc.Mechanism.String()) {
				t.Errorf("the key check's text %q does not name %s", key.Detail, doc.Mechanism)
			}
		})
	}
}

// checkNamed returns the report's check called name.
func checkNamed(t *testing.T, rep *DoctorReport, name string) Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s check in %+v", name, rep.Checks)
	return Check{}
}
