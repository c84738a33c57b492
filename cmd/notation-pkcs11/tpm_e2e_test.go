//go:build unix

package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

// TPM 2.0 end to end (issue 16): tpm2-pkcs11 on swtpm behind tpm2-abrmd
// (internal/e2e.StartTPMT), keys made with tpm2_ptool, and the plugin
// loading libtpm2_pkcs11.so.

const (
	tpmPIN   = "tpm-PIN-4471-x" // distinctive, so a leak is easy to spot
	tpmToken = "tpm-release"
)

type tpmWorld struct {
	*tokWorld
	tpm *e2e.TPM
}

// newTPMWorld starts a TPM, makes the token, and runs the plugin (bin)
// with module (the tpm2-pkcs11 module when empty; the shim in front of it
// for fault injection, with extra carrying the shim's variables).
func newTPMWorld(t testing.TB, bin, module string, extra ...string) *tpmWorld {
	t.Helper()
	tpm := e2e.StartTPMT(t)
	if err := tpm.AddToken(context.Background(), tpmToken, "so-"+tpmPIN, tpmPIN); err != nil {
		t.Fatal(err)
	}
	if module == "" {
		module = tpm.Module()
	}
	return &tpmWorld{tokWorld: newTokWorld(t, bin, module, tpmToken, tpmPIN, append(tpm.Env(), extra...)...), tpm: tpm}
}

// addKey makes a key with tpm2_ptool addkey and returns its URI.
func (w *tpmWorld) addKey(t testing.TB, algorithm, label string, alwaysAuth bool) string {
	t.Helper()
	if _, err := w.tpm.AddKey(context.Background(), tpmToken, tpmPIN, algorithm, label, alwaysAuth); err != nil {
		t.Fatal(err)
	}
	return "pkcs11:token=" + tpmToken + ";object=" + label
}

// TestE2ETPM: token list, key generate (refused: tpm2-pkcs11 makes no
// sign-only key), then for keys made by tpm2_ptool (EC P-256, P-384 when
// the TPM offers it, RSA-3072, and an EC P-256 key with
// CKA_ALWAYS_AUTHENTICATE): key list, csr, cert import, doctor naming the
// mechanism, notation sign COSE and JWS, notation verify and trustpolicy
// verify.
func TestE2ETPM(t *testing.T) {
	w := newTPMWorld(t, pluginBinary(t), "")
	tl := w.human(t, 0, "token", "list", "--output", "json")
	if !strings.Contains(tl.Stdout, `"label": "`+tpmToken+`"`) || !strings.Contains(tl.Stdout, `"manufacturer": "IBM"`) {
		t.Fatalf("token list on the TPM:\n%s", tl.Stdout)
	}
	// C_GenerateKeyPair works on tpm2-pkcs11 1.9, but every key it makes
	// can decrypt as well as sign: it refuses the sign-only template
	// (CKA_DECRYPT false) with CKR_GENERAL_ERROR. key generate fails
	// closed, with one line that says why.
	gen := w.human(t, 1, "key", "generate", "--token", "pkcs11:token="+tpmToken, "--type", "ec-256", "--label", "generated")
	if !strings.Contains(gen.Stderr, "CKR_GENERAL_ERROR") || !strings.Contains(gen.Stderr, "sign-only") {
		t.Fatalf("key generate on the TPM: %+v", gen)
	}

	s := w.newSigner(t)
	cases := []struct {
		algorithm, label, keyType, mechanism string
		alwaysAuth                           bool
	}{
		{e2e.TPMECC256, "tpm-ec-256", "EC-256", "CKM_ECDSA_SHA256", false},
		{e2e.TPMECC384, "tpm-ec-384", "EC-384", "CKM_ECDSA_SHA384", false},
		{e2e.TPMRSA3072, "tpm-rsa-3072", "RSA-3072", "CKM_SHA384_RSA_PKCS_PSS", false},
		{e2e.TPMECC256, "tpm-ec-256-aa", "EC-256", "CKM_ECDSA_SHA256", true},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			if c.algorithm == e2e.TPMECC384 && !w.tpm.HasCurve("TPM2_ECC_NIST_P384") {
				if e2e.Required() {
					t.Fatal("swtpm, which make test runs, offers NIST P-384; this TPM does not (tpm2_getcap ecc-curves)")
				}
				t.Skip("this TPM does not offer NIST P-384 (tpm2_getcap ecc-curves)")
			}
			uri := w.addKey(t, c.algorithm, c.label, c.alwaysAuth)
			var keys struct {
				Keys []struct{ Label, KeySpec string }
			}
			kl := w.human(t, 0, "key", "list", "--token", "pkcs11:token="+tpmToken, "--output", "json")
			if err := json.Unmarshal([]byte(kl.Stdout), &keys); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, k := range keys.Keys {
				found = found || (k.Label == c.label && k.KeySpec == c.keyType)
			}
			if !found {
				t.Fatalf("key list does not show %s as %s:\n%s", c.label, c.keyType, kl.Stdout)
			}
			w.certify(t, uri, c.label)
			w.doctorMechanism(t, uri, c.mechanism)
			s.signAndVerify(t, uri, c.label)
		})
	}
}
