package main

import (
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// revCase is one revocation scenario. Under strict a certificate that is
// not proven good fails the revocation check (enforce); under permissive
// and audit the failure is logged and the signature verifies, as in
// notation.
type revCase struct {
	name   string
	setup  func(t *testing.T) // fault modes, revocations, CRL publication
	target func() []string    // the artifact reference, or local-mode flags
	flags  []string           // extra verify flags
	stores []string           // trust stores of the policy (default ca:ossl, ca:ossl2)
	good   bool               // verifies under strict
	// The strict run's evidence: the certificate at index cert has status
	// with method, and detail (for revoked: the reason) holds want.
	cert   int
	status revocation.Status
	method revocation.Method
	want   string
	// failing is the check a bad status fails (default revocation).
	failing trustpolicy.ValidationType
	// notation: notation verify v1.3.2 on the same artifact must agree
	// under every level.
	notation bool
}

func TestE2ERevocation(t *testing.T) {
	w := newRevWorld(t)
	ca, ca2 := w.ca, w.ca2
	good, revoked := w.leaf(t, ca, "good"), w.leaf(t, ca, "revoked")
	hold, delta := w.leaf(t, ca, "hold"), w.leaf(t, ca, "delta")
	saLater, saEarlier := w.leaf(t, ca, "sa-later"), w.leaf(t, ca, "sa-earlier")
	dpGood, dpRevoked := w.leaf(t, ca2, "dp-good"), w.leaf(t, ca2, "dp-revoked")

	goodRef, revokedRef := w.sign(t, good, "good"), w.sign(t, revoked, "revoked")
	holdRef, deltaRef := w.sign(t, hold, "hold"), w.sign(t, delta, "delta")
	dpGoodRef, dpRevokedRef := w.sign(t, dpGood, "dp-good"), w.sign(t, dpRevoked, "dp-revoked")
	tsaRef := w.sign(t, good, "timestamped", "--timestamp-url", w.tsaURL, "--timestamp-root-cert", w.ca.TSARootPath())
	signedAt := time.Now().UTC().Truncate(time.Second)
	saLaterArgs, saEarlierArgs := w.localSA(t, saLater, signedAt), w.localSA(t, saEarlier, signedAt)

	must(t, ca.Revoke(revoked.cert, "keyCompromise"))
	must(t, ca2.Revoke(dpRevoked.cert, "keyCompromise"))
	must(t, ca.PublishCRL())
	must(t, ca2.PublishCRL())

	ref := func(r string) func() []string { return func() []string { return []string{r} } }
	local := func(a []string) func() []string { return func() []string { return a } }
	ocsp := func(m e2e.OCSPMode) func(t *testing.T) { return func(t *testing.T) { must(t, ca.SetOCSPMode(m)) } }
	ocspDown := func(t *testing.T) { must(t, ca.SetOCSPDown(true)) }
	both := func(fs ...func(t *testing.T)) func(t *testing.T) {
		return func(t *testing.T) {
			for _, f := range fs {
				f(t)
			}
		}
	}
	crl := func(m e2e.CRLMode) func(t *testing.T) { return func(t *testing.T) { must(t, ca.SetCRLMode(m)) } }
	crlDown := func(t *testing.T) { must(t, ca.SetCRLDown(true)) }
	tsaStores := []string{"ca:ossl", "tsa:ossl-tsa"}
	saStores := []string{"signingAuthority:ossl-sa"}
	fast := []string{"--ocsp-timeout", "300ms", "--crl-timeout", "300ms"}

	cases := []revCase{
		{name: "good", target: ref(goodRef), good: true, status: revocation.StatusOK, method: revocation.MethodOCSP, want: ca.OCSPURL(), notation: true},
		{name: "revoked leaf", target: ref(revokedRef), status: revocation.StatusRevoked, method: revocation.MethodOCSP, want: "keyCompromise", notation: true},
		{name: "OCSP down, CRL decides good", setup: ocspDown, target: ref(goodRef), good: true, status: revocation.StatusOK, method: revocation.MethodOCSPFallbackCRL, want: "ocsp", notation: true},
		{name: "OCSP down, CRL decides revoked", setup: ocspDown, target: ref(revokedRef), status: revocation.StatusRevoked, method: revocation.MethodOCSPFallbackCRL, want: "keyCompromise", notation: true},
		{name: "OCSP and CRL down", setup: both(ocspDown, crlDown), target: ref(goodRef), status: revocation.StatusUnknown, method: revocation.MethodOCSPFallbackCRL, want: ca.CRLURL(), notation: true},
		{name: "OCSP unknown status, CRL decides", setup: ocsp(e2e.OCSPModeUnknown), target: ref(revokedRef), status: revocation.StatusRevoked, method: revocation.MethodOCSPFallbackCRL, want: "keyCompromise"},
		{name: "OCSP unknown status, CRL down", setup: both(ocsp(e2e.OCSPModeUnknown), crlDown), target: ref(goodRef), status: revocation.StatusUnknown, method: revocation.MethodOCSPFallbackCRL, want: "unknown"},
		{name: "expired OCSP response, CRL down", setup: both(ocsp(e2e.OCSPModeNoNextUpdate), crlDown), target: ref(goodRef), status: revocation.StatusUnknown, method: revocation.MethodOCSPFallbackCRL, want: "expired OCSP response"},
		{name: "expired OCSP response, CRL decides", setup: ocsp(e2e.OCSPModeNoNextUpdate), target: ref(goodRef), good: true, status: revocation.StatusOK, method: revocation.MethodOCSPFallbackCRL, want: "expired OCSP response"},
		{name: "CRL expired", setup: both(ocspDown, crl(e2e.CRLModeExpired)), target: ref(goodRef), status: revocation.StatusUnknown, method: revocation.MethodOCSPFallbackCRL, want: "expired"},
		{name: "CRL signed by the wrong key", setup: both(ocspDown, crl(e2e.CRLModeWrongKey)), target: ref(revokedRef), status: revocation.StatusUnknown, method: revocation.MethodOCSPFallbackCRL, want: "not signed by the issuing CA"},
		{name: "CRL larger than the cap", setup: both(ocspDown, crl(e2e.CRLModeHuge)), target: ref(goodRef), status: revocation.StatusUnknown, method: revocation.MethodOCSPFallbackCRL, want: "larger"},
		{name: "slow servers past the timeouts", setup: both(ocsp(e2e.OCSPModeSlow), crl(e2e.CRLModeSlow)), target: ref(goodRef), flags: fast, status: revocation.StatusUnknown, method: revocation.MethodOCSPFallbackCRL, want: "300ms"},
		{name: "slow OCSP, CRL decides", setup: ocsp(e2e.OCSPModeSlow), target: ref(revokedRef), flags: []string{"--ocsp-timeout", "300ms"}, status: revocation.StatusRevoked, method: revocation.MethodOCSPFallbackCRL, want: "keyCompromise"},
		{name: "garbage OCSP, HTTP 500 CRL", setup: both(ocsp(e2e.OCSPModeGarbage), crl(e2e.CRLMode500)), target: ref(goodRef), status: revocation.StatusUnknown, method: revocation.MethodOCSPFallbackCRL, want: "500"},
		{name: "HTTP 500 OCSP, garbage CRL", setup: both(ocsp(e2e.OCSPMode500), crl(e2e.CRLModeGarbage)), target: ref(goodRef), status: revocation.StatusUnknown, method: revocation.MethodOCSPFallbackCRL, want: "500"},
		{name: "garbage OCSP, CRL decides", setup: ocsp(e2e.OCSPModeGarbage), target: ref(goodRef), good: true, status: revocation.StatusOK, method: revocation.MethodOCSPFallbackCRL, want: ca.CRLURL()},
		{name: "first distribution point dead, second good", target: ref(dpGoodRef), good: true, status: revocation.StatusOK, method: revocation.MethodCRL, want: "127.0.0.1:1"},
		{name: "first distribution point dead, second revokes", target: ref(dpRevokedRef), status: revocation.StatusRevoked, method: revocation.MethodCRL, want: "keyCompromise"},
		{name: "delta CRL not yet published", setup: ocspDown, target: ref(deltaRef), good: true, status: revocation.StatusOK, method: revocation.MethodOCSPFallbackCRL},
		{name: "delta CRL revokes", setup: both(ocspDown, func(t *testing.T) {
			must(t, ca.Revoke(delta.cert, "superseded"))
			must(t, ca.PublishDeltaCRL())
		}), target: ref(deltaRef), status: revocation.StatusRevoked, method: revocation.MethodOCSPFallbackCRL, want: "superseded"},
		{name: "certificateHold", setup: both(ocspDown, func(t *testing.T) {
			must(t, ca.Revoke(hold.cert, "certificateHold"))
			must(t, ca.PublishCRL())
		}), target: ref(holdRef), status: revocation.StatusRevoked, method: revocation.MethodOCSPFallbackCRL, want: "certificateHold"},
		{name: "certificateHold over OCSP", target: ref(holdRef), status: revocation.StatusRevoked, method: revocation.MethodOCSP, want: "certificateHold"},
		{name: "removeFromCRL releases the hold", setup: both(ocspDown, func(t *testing.T) {
			must(t, ca.Revoke(hold.cert, "removeFromCRL"))
			must(t, ca.PublishCRL())
		}), target: ref(holdRef), good: true, status: revocation.StatusOK, method: revocation.MethodOCSPFallbackCRL},
		{name: "removeFromCRL over OCSP", target: ref(holdRef), good: true, status: revocation.StatusOK, method: revocation.MethodOCSP},
		{name: "invalidityDate after the signing time (signingAuthority)", setup: func(t *testing.T) {
			must(t, ca.RevokeWithInvalidity(saLater.cert, "keyCompromise", signedAt.Add(time.Hour)))
			must(t, ca.RevokeWithInvalidity(saEarlier.cert, "keyCompromise", signedAt.Add(-time.Hour)))
			must(t, ca.PublishCRL())
		}, target: local(saLaterArgs), stores: saStores, good: true, status: revocation.StatusOK, method: revocation.MethodOCSP},
		{name: "invalidityDate after the signing time, CRL decides", setup: ocspDown, target: local(saLaterArgs), stores: saStores, good: true, status: revocation.StatusOK, method: revocation.MethodOCSPFallbackCRL},
		{name: "invalidityDate before the signing time", target: local(saEarlierArgs), stores: saStores, status: revocation.StatusRevoked, method: revocation.MethodOCSP, want: "keyCompromise"},
		{name: "invalidityDate before the signing time, CRL decides", setup: ocspDown, target: local(saEarlierArgs), stores: saStores, status: revocation.StatusRevoked, method: revocation.MethodOCSPFallbackCRL, want: "keyCompromise"},
		{name: "timestamped, TSA certificate good", target: ref(tsaRef), stores: tsaStores, good: true, status: revocation.StatusOK, method: revocation.MethodOCSP, notation: true},
		{name: "TSA certificate revoked", setup: func(t *testing.T) {
			must(t, ca.Revoke(ca.TSACertPath(), "keyCompromise"))
			must(t, ca.PublishCRL())
		}, target: ref(tsaRef), stores: tsaStores, failing: trustpolicy.TypeAuthenticTimestamp, want: "timestamping certificate with subject", notation: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Cleanup(func() { resetFaults(t, ca, ca2) })
			if c.setup != nil {
				c.setup(t)
			}
			w.runCase(t, c)
		})
	}

	// Difference 1 of revocation/doc.go: notation-core-go stops at the
	// first distribution point that fails; this command tries the next.
	t.Run("notation stops at the dead first distribution point", func(t *testing.T) {
		w.policy(t, "strict", "ca:ossl2")
		if ok, out := w.notationVerifyClean(t, dpGoodRef); ok {
			t.Errorf("notation verify passed with a dead first distribution point; revocation/doc.go says it fails:\n%s", out)
		}
		if r := w.verify(t, time.Now(), []string{dpGoodRef}); r.code != exitVerified {
			t.Errorf("trustpolicy verify: exit %d: %s", r.code, r.rep.Error)
		}
	})

	t.Run("explain shows the evidence", func(t *testing.T) {
		w.policy(t, "strict", "ca:ossl")
		r := w.run(t, time.Now(), "explain", "--plain-http", revokedRef)
		t.Logf("explain:\n%s", r.out)
		if r.code != exitFailed {
			t.Errorf("explain of a revoked signature: exit %d", r.code)
		}
		day := time.Now().UTC().Format("2006-01-02")
		for _, s := range []string{"Revocation (signing chain):", "CN=revoked", "revoked " + day, "reason keyCompromise", "ocsp", "network " + ca.OCSPURL(), "nonRevokable", "How to fix:"} {
			if !strings.Contains(r.out, s) {
				t.Errorf("explain output lacks %q", s)
			}
		}
	})

	// The TSA certificate was revoked by the table above: explain lists the
	// timestamping chain's evidence too.
	t.Run("explain shows the timestamping chain", func(t *testing.T) {
		w.policy(t, "strict", tsaStores...)
		r := w.run(t, time.Now(), "explain", "--plain-http", tsaRef)
		if r.code != exitFailed {
			t.Errorf("explain of a signature timestamped by a revoked TSA: exit %d", r.code)
		}
		i := strings.Index(r.out, "Revocation (timestamping chain):")
		if i < 0 || !strings.Contains(r.out[i:], "revoked ") || !strings.Contains(r.out[i:], "reason keyCompromise") {
			t.Errorf("explain output lacks the revoked TSA certificate in its timestamping chain section:\n%s", r.out)
		}
	})

	t.Run("offline", func(t *testing.T) {
		t.Cleanup(func() { resetFaults(t, ca, ca2) })
		w.offline(t, good, goodRef, revokedRef)
	})

	// Last: revoking the intermediate revokes every leaf of the CA.
	t.Run("revoked intermediate", func(t *testing.T) {
		must(t, ca.RevokeIntermediate("keyCompromise"))
		must(t, ca.PublishCRL())
		w.runCase(t, revCase{target: ref(goodRef), cert: 1, status: revocation.StatusRevoked, method: revocation.MethodOCSP, want: "keyCompromise", notation: true})
		ocspDown(t)
		defer resetFaults(t, ca, ca2)
		w.runCase(t, revCase{target: ref(goodRef), cert: 1, status: revocation.StatusRevoked, method: revocation.MethodOCSPFallbackCRL, want: "keyCompromise", notation: true})
	})
}

func resetFaults(t *testing.T, cas ...*e2e.OpenSSLCA) {
	t.Helper()
	for _, c := range cas {
		for _, err := range []error{c.SetOCSPDown(false), c.SetCRLDown(false), c.SetOCSPMode(e2e.OCSPModeOK), c.SetCRLMode(e2e.CRLModeOK)} {
			if err != nil {
				t.Error(err)
			}
		}
	}
}

// runCase verifies c.target under the three levels and checks the verdict,
// the exit code, the evidence, and notation's verdict.
func (w *revWorld) runCase(t *testing.T, c revCase) {
	t.Helper()
	stores := c.stores
	if stores == nil {
		stores = []string{"ca:ossl", "ca:ossl2"}
	}
	failing := c.failing
	if failing == "" {
		failing = trustpolicy.TypeRevocation
	}
	target := c.target()
	for _, level := range revLevels {
		w.policy(t, level, stores...)
		r := w.verify(t, time.Now(), target, c.flags...)
		wantOK := c.good || level != "strict"
		if (r.code == exitVerified) != wantOK || (!wantOK && r.code != exitFailed) {
			t.Fatalf("%s: exit %d, want verified=%v: %s\n%s", level, r.code, wantOK, r.rep.Error, fmtCerts(revCheckOrNil(r)))
		}
		res := lastResult(t, r)
		fc := res.Check(failing)
		if fc == nil {
			t.Fatalf("%s: no %s check in %+v", level, failing, res.Checks)
		}
		switch {
		case c.good && fc.Outcome != trustpolicy.OutcomePassed:
			t.Errorf("%s: %s check %s: %s", level, failing, fc.Outcome, fc.Error)
		case !c.good && fc.Outcome != trustpolicy.OutcomeFailed:
			t.Errorf("%s: %s check %s, want failed", level, failing, fc.Outcome)
		case !c.good && level != "strict" && fc.Action != trustpolicy.ActionLog:
			t.Errorf("%s: %s check action %s, want log", level, failing, fc.Action)
		}
		if !c.good && level == "permissive" && !strings.Contains(res.Summary(), "logged") {
			t.Errorf("permissive: the summary does not say the failure was logged: %s", res.Summary())
		}
		if level == "strict" {
			w.evidence(t, c, r)
		}
		if c.notation {
			ok, out := w.notationVerifyClean(t, target[0])
			t.Logf("%s: notation verify passed=%v: %s", level, ok, strings.TrimSpace(out))
			if ok != (r.code == exitVerified) {
				t.Errorf("%s: notation verify passed=%v, trustpolicy exit %d\nnotation: %s\nours: %s%s", level, ok, r.code, out, r.rep.Error, fmtCerts(revCheckOrNil(r)))
			}
		}
	}
}

func revCheckOrNil(r revRun) *trustpolicy.Check {
	if r.rep == nil || len(r.rep.Signatures) == 0 {
		return &trustpolicy.Check{}
	}
	if c := r.rep.Signatures[len(r.rep.Signatures)-1].Check(trustpolicy.TypeRevocation); c != nil {
		return c
	}
	return &trustpolicy.Check{}
}

// evidence checks the per-certificate result of the strict run.
func (w *revWorld) evidence(t *testing.T, c revCase, r revRun) {
	t.Helper()
	res := lastResult(t, r)
	if c.failing == trustpolicy.TypeAuthenticTimestamp {
		fc := res.Check(c.failing)
		if !strings.Contains(fc.Error, c.want) || !strings.Contains(fc.Error, "is revoked") {
			t.Errorf("authenticTimestamp error %q, want %q ... is revoked", fc.Error, c.want)
		}
		return
	}
	if c.failing != "" {
		return
	}
	rc := revCheck(t, r)
	if len(rc.Revocation) != 3 {
		t.Fatalf("%d revocation results, want 3 (leaf, intermediate, root):%s", len(rc.Revocation), fmtCerts(rc))
	}
	if root := rc.Revocation[2]; root.Status != revocation.StatusNonRevokable {
		t.Errorf("root status %s, want nonRevokable", root.Status)
	}
	got := rc.Revocation[c.cert]
	text := got.Detail + " " + got.Reason + " " + got.URL
	if got.Status != c.status || got.Method != c.method || !strings.Contains(text, c.want) {
		t.Errorf("certificate %d: %s by %s (%q), want %s by %s mentioning %q:%s", c.cert, got.Status, got.Method, text, c.status, c.method, c.want, fmtCerts(rc))
	}
	if got.FromCache {
		t.Errorf("certificate %d: from cache, but the run has no disk cache and a fresh memory cache", c.cert)
	}
	switch got.Status {
	case revocation.StatusRevoked:
		if got.RevokedAt.IsZero() || got.Reason == "" {
			t.Errorf("revoked without time or reason: %+v", got)
		}
		fallthrough
	case revocation.StatusOK:
		if got.ThisUpdate.IsZero() || got.NextUpdate.IsZero() || got.URL == "" {
			t.Errorf("no thisUpdate/nextUpdate/URL: %+v", got)
		}
	}
}
