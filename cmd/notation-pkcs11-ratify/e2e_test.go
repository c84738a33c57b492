package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/ratifyverifier"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

var star = []string{"*"}

// TestE2ERatifyAcceptsPluginSignatures: Ratify's built-in notation verifier
// and this verifier both accept artifacts signed through the plugin (EC-256
// and RSA-3072 keys in SoftHSM, COSE and JWS) with only the key type's test
// root as trust anchor, and Ratify rejects an unsigned artifact.
func TestE2ERatifyAcceptsPluginSignatures(t *testing.T) {
	w := newWorld(t)
	for _, kt := range []string{"ec-256", "rsa-3072"} {
		uri := w.importKey(t, filepath.Join(testPKI, kt, "leaf.key"), kt)
		subject := "C=US, ST=WA, L=Seattle, O=Notation PKCS11 Test, CN=Test Signing " + strings.ToUpper(kt)
		v := w.newVerifiers(t, policy("strict", []string{"ca:test"}, []string{"x509.subject: " + subject}, nil), root(kt))
		for _, format := range []string{"cose", "jws"} {
			t.Run(kt+"/"+format, func(t *testing.T) {
				ref := w.pushSigned(t, "accept/"+kt+"-"+format, uri, chain(kt), format)
				b := report(t, "built-in", w.verify(t, ref, v.builtin))
				if !b.IsSuccess {
					t.Fatalf("Ratify's notation verifier rejected the plugin's %s signature: %s %s", format, b.Message, b.ErrorReason)
				}
				e := report(t, "external", w.verify(t, ref, v.external))
				if !e.IsSuccess {
					t.Fatalf("notation-pkcs11-ratify rejected the plugin's %s signature: %s", format, e.Message)
				}
				if e.Name != "np" || e.Type != "notation-pkcs11-ratify" || !strings.HasPrefix(e.Message, "verified: ") {
					t.Errorf("external report name %q type %q message %q", e.Name, e.Type, e.Message)
				}
				ext := extensions(t, e)
				var be ratifyverifier.Extensions
				if err := json.Unmarshal(b.Extensions, &be); err != nil || be.SN == "" || be.SN != ext.SN || be.Issuer != ext.Issuer {
					t.Errorf("Issuer/SN differ from Ratify's notation verifier: built-in %s, external %+v (%v)", b.Extensions, ext, err)
				}
				if ext.Verdict != trustpolicy.VerdictVerified || ext.Result == nil || len(ext.Result.Chain) != 3 ||
					ext.Result.Chain[2].Trusted != "ca:test" || ext.SN != ext.Result.Chain[0].Subject {
					t.Errorf("extensions: %s", e.Extensions)
				}
			})
		}
	}
	t.Run("unsigned", func(t *testing.T) {
		v := w.newVerifiers(t, policy("strict", []string{"ca:test"}, star, nil), root("ec-256"))
		ref := w.pushSigned(t, "accept/unsigned", "", "", "")
		for name, cfg := range map[string]map[string]any{"built-in": v.builtin, "external": v.external} {
			res := w.verify(t, ref, cfg)
			if res.IsSuccess {
				t.Errorf("%s: Ratify accepted an unsigned artifact: %s", name, res.Stdout)
			}
			// Ratify finds no referrer and runs no verifier at all.
			if !strings.Contains(res.Stdout, "No verification results") {
				t.Errorf("%s: want Ratify's \"No verification results\" reason: %s", name, res.Stdout)
			}
		}
	})
}

func extensions(t testing.TB, r e2e.RatifyReport) *ratifyverifier.Extensions {
	t.Helper()
	var e ratifyverifier.Extensions
	if err := json.Unmarshal(r.Extensions, &e); err != nil {
		t.Fatalf("extensions: %v: %s", err, r.Extensions)
	}
	return &e
}
