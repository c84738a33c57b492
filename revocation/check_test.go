package revocation

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testkit"
)

func TestGood(t *testing.T) {
	w := newWorld(t, worldConfig{})
	res := w.check(time.Time{})
	want(t, res[0], StatusOK, MethodOCSP)
	want(t, res[1], StatusOK, MethodCRL)
	want(t, res[2], StatusNonRevokable, MethodNone)
	if res[0].URL != w.srv.url("/ocsp") || res[1].URL != w.srv.url("/root.crl") {
		t.Errorf("URLs %q %q", res[0].URL, res[1].URL)
	}
	if !res[0].NextUpdate.Equal(testNow.Add(time.Hour)) || res[0].FromCache {
		t.Errorf("OCSP evidence: %+v", res[0])
	}
	if w.srv.count("/int.crl") != 0 {
		t.Error("the CRL was fetched although OCSP answered")
	}
}

func TestRevokedLeafByOCSP(t *testing.T) {
	w := newWorld(t, worldConfig{})
	at := testNow.Add(-48 * time.Hour)
	w.ocspAnswer = func(*ocsp.Request) []byte {
		return w.inter.signOCSP(t, w.leaf, ocspSpec{status: ocsp.Revoked, revokedAt: at, reason: ocsp.KeyCompromise})
	}
	res := w.check(time.Time{})
	want(t, res[0], StatusRevoked, MethodOCSP)
	if !res[0].RevokedAt.Equal(at) || res[0].Reason != "keyCompromise" {
		t.Errorf("revocation evidence: %+v", res[0])
	}
	if w.srv.count("/int.crl") != 0 {
		t.Error("a revoked OCSP answer must not fall back to CRL")
	}
}

func TestRevokedIntermediateByCRL(t *testing.T) {
	w := newWorld(t, worldConfig{})
	at := testNow.Add(-time.Hour)
	w.srv.serveBytes("/root.crl", w.root.signCRL(t, crlSpec{entries: []x509.RevocationListEntry{revoked(w.inter.cert, 2, at)}}))
	res := w.check(time.Time{})
	want(t, res[0], StatusOK, MethodOCSP)
	want(t, res[1], StatusRevoked, MethodCRL)
	if res[1].Reason != "cACompromise" || !res[1].RevokedAt.Equal(at) {
		t.Errorf("evidence: %+v", res[1])
	}
}

func TestOCSPDownCRLDecides(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries func(w *world) []x509.RevocationListEntry
		status  Status
	}{
		{"good", func(*world) []x509.RevocationListEntry { return nil }, StatusOK},
		{"revoked", func(w *world) []x509.RevocationListEntry {
			return []x509.RevocationListEntry{revoked(w.leaf, 1, testNow.Add(-time.Hour))}
		}, StatusRevoked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, worldConfig{})
			w.srv.serveStatus("/ocsp", http.StatusInternalServerError)
			w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{entries: tc.entries(w)}))
			res := w.check(time.Time{})
			want(t, res[0], tc.status, MethodOCSPFallbackCRL, "ocsp "+w.srv.url("/ocsp"), "500")
			if res[0].URL != w.srv.url("/int.crl") {
				t.Errorf("URL %q", res[0].URL)
			}
		})
	}
}

func TestBothDown(t *testing.T) {
	w := newWorld(t, worldConfig{})
	w.srv.serveStatus("/ocsp", http.StatusServiceUnavailable)
	w.srv.serveStatus("/int.crl", http.StatusNotFound)
	res := w.check(time.Time{})
	want(t, res[0], StatusUnknown, MethodOCSPFallbackCRL,
		"ocsp "+w.srv.url("/ocsp"), "503", "crl "+w.srv.url("/int.crl"), "404")
	want(t, res[1], StatusOK, MethodCRL)
}

func TestCRLFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		serve  func(w *world)
		detail string
	}{
		{"expired", func(w *world) {
			w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{this: testNow.Add(-48 * time.Hour), next: testNow.Add(-time.Hour)}))
		}, "the CRL expired at"},
		{"wrong key", func(w *world) { w.srv.serveBytes("/int.crl", w.root.signCRL(t, crlSpec{})) }, "not signed by the issuing CA"},
		{"garbage", func(w *world) { w.srv.serveBytes("/int.crl", []byte("not a CRL")) }, "malformed CRL"},
		{"HTTP 500", func(w *world) { w.srv.serveStatus("/int.crl", 500) }, "HTTP 500"},
		{"delta served as base", func(w *world) {
			w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{number: 2, exts: []pkixExt{deltaIndicatorExt(1)}}))
		}, "serves a delta CRL"},
		{"unknown critical CRL extension", func(w *world) {
			w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{exts: []pkixExt{{Id: []int{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}}}))
		}, "unsupported critical CRL extension 1.2.3.4"},
		{"unknown critical entry extension", func(w *world) {
			e := revoked(w.inter.cert, 1, testNow, pkixExt{Id: []int{1, 2, 3, 5}, Critical: true, Value: []byte{5, 0}})
			w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{entries: []x509.RevocationListEntry{e}}))
		}, "unsupported critical entry extension 1.2.3.5"},
		{"issuer name differs", func(w *world) {
			// Same key, other subject: the signature verifies, the name does not match.
			tmpl := *w.inter.cert
			tmpl.Subject, tmpl.RawSubject = pkix.Name{CommonName: "Another Name"}, nil
			other := &testCA{cert: testkit.Issue(t, &tmpl, &w.inter.key.PublicKey, w.root.cert, w.root.key), key: w.inter.key}
			w.srv.serveBytes("/int.crl", other.signCRL(t, crlSpec{}))
		}, `the CRL issuer "CN=Another Name" is not the issuing CA`},
		{"no nextUpdate", func(w *world) {
			w.srv.serveBytes("/int.crl", w.inter.signCRLNoNext(t))
		}, "no nextUpdate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints { return endpoints{crl: []string{s.url("/int.crl")}} }})
			tc.serve(w)
			res := w.check(time.Time{})
			want(t, res[0], StatusUnknown, MethodCRL, "crl "+w.srv.url("/int.crl"), tc.detail)
			if files := w.cachedCRLFiles(); len(files) != 1 { // only the root's CRL
				t.Errorf("cache holds %v", files)
			}
		})
	}
}

func TestCRLLargerThanCap(t *testing.T) {
	w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints { return endpoints{crl: []string{s.url("/int.crl")}} }})
	w.opts.MaxCRLSize = 200
	var entries []x509.RevocationListEntry
	for i := 0; i < 20; i++ {
		entries = append(entries, revoked(w.root.issueLeaf(t, "x", endpoints{}), 1, testNow))
	}
	w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{entries: entries}))
	w.srv.serveBytes("/root.crl", w.root.signCRL(t, crlSpec{}))
	res := w.check(time.Time{})
	want(t, res[0], StatusUnknown, MethodCRL, "larger than the 200 bytes limit")
}

func TestSlowServerPastTimeout(t *testing.T) {
	w := newWorld(t, worldConfig{})
	w.opts.OCSPTimeout, w.opts.CRLTimeout = 100*time.Millisecond, 200*time.Millisecond
	w.srv.serveSlow("/ocsp", 5*time.Second, nil)
	w.srv.serveSlow("/int.crl", 5*time.Second, w.inter.signCRL(t, crlSpec{}))
	res := w.check(time.Time{}) // the servers answer after 5 s: the timeouts end the exchanges
	want(t, res[0], StatusUnknown, MethodOCSPFallbackCRL, "within the 100ms timeout", "within the 200ms timeout")
}

func TestChainTimeout(t *testing.T) {
	w := newWorld(t, worldConfig{})
	w.opts.OCSPTimeout, w.opts.CRLTimeout, w.opts.ChainTimeout = time.Second, time.Second, 150*time.Millisecond
	w.srv.serveSlow("/ocsp", 5*time.Second, nil)
	res := w.check(time.Time{}) // OCSP answers after 5 s: the chain timeout ends the check
	want(t, res[0], StatusUnknown, MethodOCSPFallbackCRL, "ran out of time (chain timeout 150ms)")
}

func TestFirstDistributionPointDeadSecondGood(t *testing.T) {
	w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints {
		return endpoints{crl: []string{s.url("/dead.crl"), s.url("/int.crl")}}
	}})
	w.srv.serveStatus("/dead.crl", http.StatusBadGateway)
	res := w.check(time.Time{})
	want(t, res[0], StatusOK, MethodCRL, "crl "+w.srv.url("/dead.crl"), "502")
	if res[0].URL != w.srv.url("/int.crl") {
		t.Errorf("URL %q", res[0].URL)
	}
}

func TestHTTPSDistributionPoint(t *testing.T) {
	w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints {
		return endpoints{crl: []string{"https://crl.example/int.crl"}}
	}})
	want(t, w.check(time.Time{})[0], StatusUnknown, MethodCRL, "https URLs are not supported", "https://crl.example/int.crl")
}

func TestInvalidityDate(t *testing.T) {
	signing := testNow.Add(-4 * time.Hour)
	for _, tc := range []struct {
		name    string
		inv     time.Duration // invalidity date relative to now; 0: none
		signing time.Time
		status  Status
	}{
		{"no invalidity date", 0, signing, StatusRevoked},
		{"invalidity after signing", -time.Hour, signing, StatusOK},
		{"invalidity before signing", -5 * time.Hour, signing, StatusRevoked},
		{"no signing time (notary.x509)", -time.Hour, time.Time{}, StatusRevoked},
	} {
		t.Run("crl/"+tc.name, func(t *testing.T) {
			w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints { return endpoints{crl: []string{s.url("/int.crl")}} }})
			e := revoked(w.leaf, 1, testNow.Add(-time.Hour))
			if tc.inv != 0 {
				e.ExtraExtensions = append(e.ExtraExtensions, invalidityExt(t, testNow.Add(tc.inv)))
			}
			w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{entries: []x509.RevocationListEntry{e}}))
			want(t, w.check(tc.signing)[0], tc.status, MethodCRL)
		})
		t.Run("ocsp/"+tc.name, func(t *testing.T) {
			w := newWorld(t, worldConfig{})
			w.ocspAnswer = func(*ocsp.Request) []byte {
				s := ocspSpec{status: ocsp.Revoked, revokedAt: testNow.Add(-time.Hour), reason: ocsp.KeyCompromise}
				if tc.inv != 0 {
					s.exts = append(s.exts, invalidityExt(t, testNow.Add(tc.inv)))
				}
				return w.inter.signOCSP(t, w.leaf, s)
			}
			want(t, w.check(tc.signing)[0], tc.status, MethodOCSP)
		})
	}
}

func TestHoldAndRemove(t *testing.T) {
	t0 := testNow.Add(-10 * time.Hour)
	for _, tc := range []struct {
		name   string
		base   []int // reasons in the base CRL, one hour apart
		delta  []int // then in the delta CRL
		status Status
	}{
		{"hold", []int{6}, nil, StatusRevoked},
		{"remove alone", []int{8}, nil, StatusOK},
		{"hold then remove", []int{6, 8}, nil, StatusOK},
		{"hold, remove, hold", []int{6, 8, 6}, nil, StatusRevoked},
		{"hold then remove in delta", []int{6}, []int{8}, StatusOK},
		{"hold then keyCompromise in delta", []int{6}, []int{1}, StatusRevoked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints { return endpoints{crl: []string{s.url("/int.crl")}} }})
			var base, delta []x509.RevocationListEntry
			at := t0
			for _, r := range tc.base {
				base = append(base, revoked(w.leaf, r, at))
				at = at.Add(time.Hour)
			}
			for _, r := range tc.delta {
				delta = append(delta, revoked(w.leaf, r, at))
				at = at.Add(time.Hour)
			}
			spec := crlSpec{number: 10, entries: base}
			if tc.delta != nil {
				spec.exts = []pkixExt{dpExt(t, oidFreshestCRL(), false, w.srv.url("/delta.crl"))}
				w.srv.serveBytes("/delta.crl", w.inter.signCRL(t, crlSpec{number: 11, entries: delta, exts: []pkixExt{deltaIndicatorExt(10)}}))
			}
			w.srv.serveBytes("/int.crl", w.inter.signCRL(t, spec))
			want(t, w.check(time.Time{})[0], tc.status, MethodCRL)
		})
	}
}

func TestDeltaCRL(t *testing.T) {
	setup := func(t *testing.T, certFreshest bool) *world {
		w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints {
			ep := endpoints{crl: []string{s.url("/int.crl")}}
			if certFreshest {
				ep.exts = []pkixExt{dpExt(t, oidFreshestCRL(), false, s.url("/delta.crl"))}
			}
			return ep
		}})
		return w
	}
	t.Run("revokes", func(t *testing.T) {
		w := setup(t, false)
		w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{number: 5, exts: []pkixExt{dpExt(t, oidFreshestCRL(), false, w.srv.url("/delta.crl"))}}))
		w.srv.serveBytes("/delta.crl", w.inter.signCRL(t, crlSpec{number: 6, exts: []pkixExt{deltaIndicatorExt(5)},
			entries: []x509.RevocationListEntry{revoked(w.leaf, 1, testNow.Add(-time.Minute))}}))
		want(t, w.check(time.Time{})[0], StatusRevoked, MethodCRL)
		if w.srv.count("/delta.crl") != 1 {
			t.Error("delta not fetched once")
		}
	})
	t.Run("number not greater than base", func(t *testing.T) {
		w := setup(t, false)
		w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{number: 5, exts: []pkixExt{dpExt(t, oidFreshestCRL(), false, w.srv.url("/delta.crl"))}}))
		w.srv.serveBytes("/delta.crl", w.inter.signCRL(t, crlSpec{number: 5, exts: []pkixExt{deltaIndicatorExt(4)}}))
		want(t, w.check(time.Time{})[0], StatusUnknown, MethodCRL, "is not greater than the base CRL number 5")
	})
	t.Run("indicator above base", func(t *testing.T) {
		w := setup(t, false)
		w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{number: 5, exts: []pkixExt{dpExt(t, oidFreshestCRL(), false, w.srv.url("/delta.crl"))}}))
		w.srv.serveBytes("/delta.crl", w.inter.signCRL(t, crlSpec{number: 7, exts: []pkixExt{deltaIndicatorExt(6)}}))
		want(t, w.check(time.Time{})[0], StatusUnknown, MethodCRL, "applies to base CRL 6 or later")
	})
	t.Run("delta unavailable", func(t *testing.T) {
		w := setup(t, false)
		w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{number: 5, exts: []pkixExt{dpExt(t, oidFreshestCRL(), false, w.srv.url("/delta.crl"))}}))
		w.srv.serveStatus("/delta.crl", 500)
		want(t, w.check(time.Time{})[0], StatusUnknown, MethodCRL, "delta CRL "+w.srv.url("/delta.crl"))
	})
	t.Run("freshest only in certificate", func(t *testing.T) {
		w := setup(t, true)
		want(t, w.check(time.Time{})[0], StatusUnknown, MethodCRL, "delta CRLs announced only in the certificate are not supported")
	})
}

func TestNonRevokable(t *testing.T) {
	w := newWorld(t, worldConfig{
		leaf:  func(*fakeServer) endpoints { return endpoints{} },
		inter: func(*fakeServer) endpoints { return endpoints{} },
	})
	res := w.check(time.Time{})
	for i, r := range res {
		want(t, r, StatusNonRevokable, MethodNone)
		if r.Detail != "" {
			t.Errorf("result %d detail %q", i, r.Detail)
		}
	}
	// A single self-signed signing certificate.
	key := newKey(t)
	tmpl := &x509.Certificate{
		Subject: w.leaf.Subject, NotBefore: w.leaf.NotBefore, NotAfter: w.leaf.NotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, OCSPServer: []string{w.srv.url("/ocsp")},
	}
	self := testkit.Issue(t, tmpl, &key.PublicKey, nil, key)
	got, err := w.client().Check(context.Background(), Request{Chain: []*x509.Certificate{self}, Now: testNow})
	if err != nil || len(got) != 1 || got[0].Status != StatusNonRevokable {
		t.Fatalf("self-signed: %+v, %v", got, err)
	}
}

func TestInvalidChain(t *testing.T) {
	w := newWorld(t, worldConfig{})
	c := w.client()
	for name, chain := range map[string][]*x509.Certificate{
		"out of order": {w.inter.cert, w.leaf, w.root.cert},
		"no root":      {w.leaf, w.inter.cert},
		"empty":        nil,
	} {
		_, err := c.Check(context.Background(), Request{Chain: chain, Now: testNow})
		var ice *InvalidChainError
		if !errors.As(err, &ice) || !strings.HasPrefix(err.Error(), "invalid chain: ") {
			t.Errorf("%s: got %v", name, err)
		}
	}
	_, err := c.Check(context.Background(), Request{Chain: w.chain()})
	if !errors.Is(err, ErrNoTime) {
		t.Errorf("zero Now: %v", err)
	}
	// The leaf is a code-signing certificate, not a timestamping one.
	if _, err := c.Check(context.Background(), Request{Chain: w.chain(), Purpose: PurposeTimestamping, Now: testNow}); err == nil {
		t.Error("timestamping purpose accepted a code-signing chain")
	}
	if w.srv.count("/ocsp") != 0 {
		t.Error("an invalid chain reached the network")
	}
}

func TestCancelledContext(t *testing.T) {
	w := newWorld(t, worldConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.client().Check(ctx, Request{Chain: w.chain(), Now: testNow}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v", err)
	}
}
