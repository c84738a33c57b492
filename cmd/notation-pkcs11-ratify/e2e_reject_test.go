package main

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testca"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// verdictCase is one input given to both verifiers through `ratify verify`.
type verdictCase struct {
	name string
	ref  string
	v    verifiers
	// builtin and external are the verdicts wanted from Ratify's built-in
	// notation verifier and from this verifier.
	builtin, external bool
	// check is the check the external verifier's message must name when it
	// rejects ("authenticity", "revocation", ...).
	check string
	// stricter explains a case where the verdicts differ on purpose; it
	// must be one of the differences docs/ratify.md lists.
	stricter string
}

func (w *world) run(t *testing.T, c verdictCase) {
	t.Helper()
	if (c.builtin != c.external) != (c.stricter != "") {
		t.Fatalf("%s: verdicts differ only where the project is documented to be stricter", c.name)
	}
	b := report(t, c.name+": built-in", w.verify(t, c.ref, c.v.builtin))
	if b.IsSuccess != c.builtin {
		t.Errorf("%s: Ratify's notation verifier isSuccess=%v, want %v: %s %s", c.name, b.IsSuccess, c.builtin, b.Message, b.ErrorReason)
	}
	// docs/ratify.md, difference 3: Ratify's message is a descriptor dump.
	if !b.IsSuccess && !strings.HasPrefix(b.Message, "Failed to validate the Notation signature: {Descriptor:") {
		t.Errorf("%s: Ratify's message changed; update docs/ratify.md (difference 3): %q", c.name, b.Message)
	}
	e := report(t, c.name+": external", w.verify(t, c.ref, c.v.external))
	if e.IsSuccess != c.external {
		t.Errorf("%s: notation-pkcs11-ratify isSuccess=%v, want %v: %s", c.name, e.IsSuccess, c.external, e.Message)
	}
	ext := extensions(t, e)
	if c.external {
		if ext.Verdict != trustpolicy.VerdictVerified {
			t.Errorf("%s: extensions verdict %q, want verified", c.name, ext.Verdict)
		}
		return
	}
	want := c.check + " check failed: "
	if !strings.Contains(e.Message, want) || !strings.Contains(e.Message, "; fix: ") {
		t.Errorf("%s: message %q: want it to name the failing check (%q) and the fix", c.name, e.Message, want)
	}
	if ext.Verdict != trustpolicy.VerdictFailed || ext.Result == nil || ext.Result.Check(trustpolicy.ValidationType(c.check)).Outcome != trustpolicy.OutcomeFailed {
		t.Errorf("%s: extensions do not show %s failed: %s", c.name, c.check, e.Extensions)
	}
	t.Logf("%s: built-in: message %q, errorReason %q; external: %q", c.name, b.Message, b.ErrorReason, e.Message)
}

// TestE2ERatifyVerdicts gives the same inputs to Ratify's built-in notation
// verifier and to this verifier and compares the verdicts: wrong trusted
// identity, root not in the store, a store the configuration does not hold,
// revoked certificate (CRL), CRL server failing or slow, expired certificate
// under strict and permissive. The verdicts agree except where the project is
// documented to be stricter (verdictCase.stricter); every rejection by this
// verifier names the failing check.
func TestE2ERatifyVerdicts(t *testing.T) {
	w := newWorld(t)

	// An expiring leaf first: it must expire while the other cases run.
	ca, err := testca.Load(filepath.Join(testPKI, "ec-256"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := testpki.LoadSigner(filepath.Join(testPKI, "ec-256", "leaf.key"))
	if err != nil {
		t.Fatal(err)
	}
	notAfter := time.Now().Add(4 * time.Second).Truncate(time.Second)
	leaf, err := ca.Issue(key.Public(), pkix.Name{Country: []string{"US"}, Organization: []string{"Notation PKCS11 Test"}, CommonName: "Expiring Signer"},
		time.Now().Add(-time.Hour), notAfter)
	if err != nil {
		t.Fatal(err)
	}
	expChain := filepath.Join(w.dir, "expiring-chain.pem")
	if err := os.WriteFile(expChain, testca.PEM(append([]*x509.Certificate{leaf}, ca.Chain()...)...), 0o644); err != nil {
		t.Fatal(err)
	}
	ecURI := w.importKey(t, filepath.Join(testPKI, "ec-256", "leaf.key"), "ec-256")
	expiring := w.pushSigned(t, "verdicts/expiring", ecURI, expChain, "cose")

	signed := w.pushSigned(t, "verdicts/ec-256", ecURI, chain("ec-256"), "jws")
	strictAny := policy("strict", []string{"ca:test"}, star, nil)
	ec := w.newVerifiers(t, strictAny, root("ec-256"))

	// The same policy and root given to this verifier by path, in notation's
	// layout.
	byPath := ec
	{
		dir := filepath.Join(w.dir, "by-path")
		if err := os.MkdirAll(filepath.Join(dir, "truststore", "x509", "ca", "test"), 0o755); err != nil {
			t.Fatal(err)
		}
		rootPEM, err := os.ReadFile(root("ec-256"))
		if err != nil {
			t.Fatal(err)
		}
		pol, err := json.Marshal(strictAny)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "truststore", "x509", "ca", "test", "root.crt"), rootPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "trustpolicy.json"), pol, 0o644); err != nil {
			t.Fatal(err)
		}
		byPath.external = maps.Clone(ec.external)
		delete(byPath.external, "trustPolicyDoc")
		delete(byPath.external, "trustStores")
		byPath.external["trustPolicyPath"] = filepath.Join(dir, "trustpolicy.json")
		byPath.external["trustStorePath"] = filepath.Join(dir, "truststore")
	}

	for _, c := range []verdictCase{
		{name: "trusted", ref: signed, v: ec, builtin: true, external: true},
		{name: "trusted, tag subject", ref: w.reg.Ref("verdicts/ec-256") + ":v1", v: ec, builtin: true, external: true},
		{name: "trusted, policy and store by path", ref: signed, v: byPath, builtin: true, external: true},
		{name: "wrong trusted identity", ref: signed,
			v:     w.newVerifiers(t, policy("strict", []string{"ca:test"}, []string{"x509.subject: C=US, ST=WA, O=Notation PKCS11 Test, CN=Somebody Else"}, nil), root("ec-256")),
			check: "authenticity"},
		{name: "root not in the store", ref: signed, v: w.newVerifiers(t, strictAny, root("rsa-3072")), check: "authenticity"},
		{name: "store name not configured", ref: signed,
			v:       w.newVerifiers(t, policy("strict", []string{"ca:other"}, star, nil), root("ec-256")),
			builtin: true, check: "authenticity",
			stricter: "Ratify's trust store returns every configured certificate when no store matches the policy's store name"},
	} {
		t.Run(c.name, func(t *testing.T) { w.run(t, c) })
	}

	t.Run("revocation", func(t *testing.T) { w.revocationCases(t) })

	t.Run("expired", func(t *testing.T) {
		if d := time.Until(notAfter.Add(1500 * time.Millisecond)); d > 0 {
			time.Sleep(d) // wait for the leaf to expire; no duration is asserted
		}
		for _, c := range []verdictCase{
			{name: "expired under strict", ref: expiring, v: ec, check: "authenticTimestamp"},
			{name: "expired under permissive", ref: expiring, v: w.newVerifiers(t, policy("permissive", []string{"ca:test"}, star, nil), root("ec-256")),
				builtin: true, external: true},
		} {
			w.run(t, c)
		}
	})
}

// revocationCases signs with leaves of an OpenSSL CA whose certificates
// point at a CRL on 127.0.0.1 (no OCSP), revokes one, and breaks the CRL
// server in turn. The order matters: Ratify caches a CRL it fetched (under
// its HOME), so the failing-server cases come before any good fetch.
func (w *world) revocationCases(t *testing.T) {
	ca := e2e.NewOpenSSLCAT(t, e2e.CAOptions{NoOCSP: true, SlowDelay: 3 * time.Second})
	_, goodKey, err := ca.IssueLeaf("good", "")
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedKey, err := ca.IssueLeaf("revoked", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Revoke(revoked, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	if err := ca.PublishCRL(); err != nil {
		t.Fatal(err)
	}
	goodRef := w.pushSigned(t, "revocation/good", w.importKey(t, goodKey, "crl-good"), ca.ChainPath("good"), "cose")
	revokedRef := w.pushSigned(t, "revocation/revoked", w.importKey(t, revokedKey, "crl-revoked"), ca.ChainPath("revoked"), "jws")
	v := w.newVerifiers(t, policy("strict", []string{"ca:test"}, star, nil), ca.RootPath())

	steps := []struct {
		mode  e2e.CRLMode
		cases []verdictCase
	}{
		{e2e.CRLMode500, []verdictCase{{name: "CRL server failing", ref: goodRef, v: v, check: "revocation"}}},
		{e2e.CRLModeSlow, []verdictCase{{name: "CRL server slower than crlTimeout", ref: goodRef, v: v, builtin: true, check: "revocation",
			stricter: "Ratify's CRL fetcher has no timeout: it waits for a slow CRL server (here 3 s) however long it takes"}}},
		{e2e.CRLModeOK, []verdictCase{
			{name: "not revoked", ref: goodRef, v: v, builtin: true, external: true},
			{name: "revoked", ref: revokedRef, v: v, check: "revocation"},
		}},
	}
	for _, s := range steps {
		if err := ca.SetCRLMode(s.mode); err != nil {
			t.Fatal(err)
		}
		for _, c := range s.cases {
			t.Run(c.name, func(t *testing.T) { w.run(t, c) })
		}
	}

	// Offline mode (this verifier only; Ratify has none): with the CRL
	// server down, the CRLs cached by the online runs above still answer,
	// and an empty cache answers "unknown".
	if err := ca.SetCRLMode(e2e.CRLMode500); err != nil {
		t.Fatal(err)
	}
	offline := func(cacheDir string) map[string]any {
		c := maps.Clone(v.external)
		c["revocation"] = map[string]any{"offline": true, "cacheDir": cacheDir}
		return c
	}
	warm := v.external["revocation"].(map[string]any)["cacheDir"].(string)
	for _, c := range []struct {
		name, ref, cache string
		ok               bool
		want             string
	}{
		{"offline, cached, not revoked", goodRef, warm, true, "verified: "},
		{"offline, cached, revoked", revokedRef, warm, false, "revocation check failed: "},
		{"offline, empty cache", goodRef, t.TempDir(), false, "revocation check failed: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := report(t, c.name, w.verify(t, c.ref, offline(c.cache)))
			if e.IsSuccess != c.ok || !strings.Contains(e.Message, c.want) {
				t.Errorf("isSuccess=%v message %q, want %v with %q", e.IsSuccess, e.Message, c.ok, c.want)
			}
		})
	}
}
