package revocation

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testkit"
)

func TestOCSPUnknownStatus(t *testing.T) {
	t.Run("falls back to CRL", func(t *testing.T) {
		w := newWorld(t, worldConfig{})
		w.ocspAnswer = func(*ocsp.Request) []byte { return w.inter.signOCSP(t, w.leaf, ocspSpec{status: ocsp.Unknown}) }
		res := w.check(time.Time{})
		want(t, res[0], StatusOK, MethodOCSPFallbackCRL, "status unknown")
	})
	t.Run("is final among servers", func(t *testing.T) {
		w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints {
			return endpoints{ocsp: []string{s.url("/ocsp"), s.url("/ocsp2")}}
		}})
		w.ocspAnswer = func(*ocsp.Request) []byte { return w.inter.signOCSP(t, w.leaf, ocspSpec{status: ocsp.Unknown}) }
		w.srv.serveStatus("/ocsp2", http.StatusInternalServerError)
		res := w.check(time.Time{})
		want(t, res[0], StatusUnknown, MethodOCSP, "status unknown")
		if w.srv.count("/ocsp2") != 0 {
			t.Error("an unknown status must not try the next server")
		}
	})
	t.Run("errors move to the next server", func(t *testing.T) {
		w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints {
			return endpoints{ocsp: []string{s.url("/dead"), "https://ocsp.example/", s.url("/ocsp")}}
		}})
		w.srv.serveStatus("/dead", http.StatusInternalServerError)
		res := w.check(time.Time{})
		want(t, res[0], StatusOK, MethodOCSP, "https URLs are not supported")
		if res[0].URL != w.srv.url("/ocsp") {
			t.Errorf("URL %q", res[0].URL)
		}
	})
}

func TestExpiredOCSPResponse(t *testing.T) {
	for name, spec := range map[string]ocspSpec{
		"past nextUpdate":    {status: ocsp.Good, this: testNow.Add(-3 * time.Hour), next: testNow.Add(-time.Hour)},
		"missing nextUpdate": {status: ocsp.Good, noNext: true},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints { return endpoints{ocsp: []string{s.url("/ocsp")}} }})
			w.ocspAnswer = func(*ocsp.Request) []byte { return w.inter.signOCSP(t, w.leaf, spec) }
			res := w.check(time.Time{})
			want(t, res[0], StatusUnknown, MethodOCSP, "expired OCSP response")
		})
	}
}

// TestOCSPBadAnswers: each bad answer is refused for its own reason, checked
// both on the verifier (errors.Is) and in the result the check gives.
func TestOCSPBadAnswers(t *testing.T) {
	foreign := newRoot(t, "Foreign Responder") // no relation to the chain
	// foreignSigned is a response with the leaf's CertID (computed from the
	// real issuer) signed by the foreign key, with or without its
	// certificate embedded.
	foreignSigned := func(w *world, embed bool) []byte {
		tmpl := ocsp.Response{Status: ocsp.Good, SerialNumber: w.leaf.SerialNumber,
			ThisUpdate: testNow.Add(-time.Hour), NextUpdate: testNow.Add(time.Hour)}
		if embed {
			tmpl.Certificate = foreign.cert
		}
		return testkit.SignOCSP(t, w.inter.cert, foreign.kit(), tmpl)
	}
	delegated := func(eku bool, notAfter time.Time) func(w *world) []byte {
		return func(w *world) []byte {
			return w.inter.signOCSP(t, w.leaf, ocspSpec{status: ocsp.Good, responder: w.inter.issueResponder(t, eku, notAfter)})
		}
	}
	for _, tc := range []struct {
		name string
		body func(w *world) []byte
		kind error
		text string
	}{
		{"garbage", func(*world) []byte { return []byte("<html>hello</html>") }, ErrMalformedOCSP, "not a DER OCSPResponse"},
		{"tryLater", func(*world) []byte { return ocsp.TryLaterErrorResponse }, ErrMalformedOCSP, `answered "tryLater"`},
		{"about another certificate", func(w *world) []byte { return w.inter.signOCSP(t, w.inter.cert, ocspSpec{status: ocsp.Good}) }, ErrOCSPNotForCert, "no matching CertID"},
		{"about another issuer", func(w *world) []byte { return w.root.signOCSP(t, w.leaf, ocspSpec{status: ocsp.Good}) }, ErrOCSPNotForCert, "no matching CertID"},
		{"right CertID, foreign key", func(w *world) []byte { return foreignSigned(w, false) }, ErrOCSPSignature, "not signed by the issuing CA, and no responder certificate is included"},
		{"right CertID, foreign key and certificate", func(w *world) []byte { return foreignSigned(w, true) }, ErrOCSPResponderUnauthorized, `"CN=Foreign Responder,O=Test" is not issued by the issuing CA`},
		{"delegated responder without OCSPSigning", delegated(false, time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)), ErrOCSPResponderUnauthorized, "lacks the OCSPSigning extended key usage"},
		{"delegated responder expired", delegated(true, testNow.Add(-time.Hour)), ErrOCSPResponderValidity, "is not valid at 2025-06-01T12:00:00Z"},
		{"past nextUpdate", func(w *world) []byte {
			return w.inter.signOCSP(t, w.leaf, ocspSpec{status: ocsp.Good, this: testNow.Add(-3 * time.Hour), next: testNow.Add(-time.Hour)})
		}, ErrOCSPExpired, "expired OCSP response"},
		{"too large", func(*world) []byte { return make([]byte, DefaultMaxOCSPResponseSize+1) }, ErrTooLarge, "larger than the 20 KiB limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints { return endpoints{ocsp: []string{s.url("/ocsp")}} }})
			body := tc.body(w)
			w.ocspAnswer = func(*ocsp.Request) []byte { return body }
			var err error
			if len(body) > DefaultMaxOCSPResponseSize {
				req, rerr := ocsp.CreateRequest(w.leaf, w.inter.cert, nil)
				if rerr != nil {
					t.Fatal(rerr)
				}
				_, err = w.client().ocspExchange(context.Background(), w.srv.url("/ocsp"), req)
			} else {
				var resp *ocspResponse
				if resp, err = parseOCSPResponse(body); err == nil {
					_, err = resp.verify(w.leaf, w.inter.cert, testNow)
				}
			}
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("verify: %v; want %v stating %q", err, tc.kind, tc.text)
			}
			want(t, w.check(time.Time{})[0], StatusUnknown, MethodOCSP, "ocsp "+w.srv.url("/ocsp"), tc.text)
		})
	}
}

func TestDelegatedResponder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		eku     bool
		expires time.Time
		status  Status
		method  Method
		detail  string
	}{
		{"with OCSPSigning", true, time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC), StatusOK, MethodOCSP, ""},
		{"without OCSPSigning", false, time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC), StatusOK, MethodOCSPFallbackCRL, "lacks the OCSPSigning extended key usage"},
		{"expired", true, testNow.Add(-time.Hour), StatusOK, MethodOCSPFallbackCRL, "is not valid at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, worldConfig{})
			resp := w.inter.issueResponder(t, tc.eku, tc.expires)
			w.ocspAnswer = func(*ocsp.Request) []byte {
				return w.inter.signOCSP(t, w.leaf, ocspSpec{status: ocsp.Good, responder: resp})
			}
			want(t, w.check(time.Time{})[0], tc.status, tc.method, tc.detail)
		})
	}
	t.Run("issuer signs and embeds its own certificate", func(t *testing.T) {
		w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints { return endpoints{ocsp: []string{s.url("/ocsp")}} }})
		w.ocspAnswer = func(*ocsp.Request) []byte {
			return testkit.SignOCSP(t, w.inter.cert, w.inter.kit(), ocsp.Response{Status: ocsp.Good, SerialNumber: w.leaf.SerialNumber,
				ThisUpdate: testNow.Add(-time.Hour), NextUpdate: testNow.Add(time.Hour), Certificate: w.inter.cert})
		}
		want(t, w.check(time.Time{})[0], StatusOK, MethodOCSP)
	})
	t.Run("without OCSPSigning and no CRL", func(t *testing.T) {
		w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints { return endpoints{ocsp: []string{s.url("/ocsp")}} }})
		resp := w.inter.issueResponder(t, false, time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC))
		w.ocspAnswer = func(*ocsp.Request) []byte {
			return w.inter.signOCSP(t, w.leaf, ocspSpec{status: ocsp.Good, responder: resp})
		}
		want(t, w.check(time.Time{})[0], StatusUnknown, MethodOCSP, "lacks the OCSPSigning")
	})
}
