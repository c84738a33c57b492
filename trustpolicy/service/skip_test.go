package service_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

// brokenForSignatures makes every GET fail (referrers API, referrers tag
// schema, signature manifests, envelopes); only resolving the artifact
// (HEAD of its manifest) works.
func brokenForSignatures(w *world) {
	w.reg.Tamper(func(rw http.ResponseWriter, req *http.Request) bool {
		if req.Method == http.MethodGet && req.URL.Path != "/v2/" {
			servicetest.WriteError(rw, http.StatusBadRequest, "UNKNOWN", "registry broken")
			return true
		}
		return false
	})
}

// TestSkipBeforeAnySignatureFetch: under a statement of level skip nothing
// of the signatures is fetched, so a registry that fails every signature
// fetch still gives "skipped", in the flow of trustpolicy verify (Verify)
// and in the Ratify verifier's (VerifySignature, which for a subject by
// digest asks the registry nothing at all). The same registry under strict
// fails, so the registry errors are real.
func TestSkipBeforeAnySignatureFetch(t *testing.T) {
	w := newWorld(t)
	sig := w.good(t)
	brokenForSignatures(w)
	skip := w.service(t, trustpolicy.LevelSkip, w.reg.Ref("app"))

	for _, ref := range []string{w.ref(), w.reg.Ref("app:v1")} {
		r, err := skip.Verify(t.Context(), ref, service.Options{})
		if err != nil {
			t.Fatalf("Verify(%s): %v", ref, err)
		}
		checkReport(t, r)
		if r.Verdict != trustpolicy.VerdictSkipped || r.Err() != nil || len(r.Signatures) != 1 || r.Policy == nil || r.Policy.Name != "test" {
			t.Errorf("Verify(%s) under skip: %s", ref, r.Summary())
		}
		r, err = skip.VerifySignature(t.Context(), ref, sig, service.Options{})
		if err != nil || r.Verdict != trustpolicy.VerdictSkipped || r.Err() != nil {
			t.Errorf("VerifySignature(%s) under skip: %+v, %v", ref, r, err)
		}
	}
	for _, q := range w.reg.Requests() {
		if strings.HasPrefix(q, http.MethodGet) && q != "GET /v2/" {
			t.Errorf("request %q under skip", q)
		}
	}

	r, err := w.service(t, trustpolicy.LevelStrict).Verify(t.Context(), w.ref(), service.Options{})
	if err != nil || r.Verdict != trustpolicy.VerdictFailed || !strings.Contains(r.Error, "registry broken") {
		t.Errorf("the same registry under strict: %+v, %v; want a failure naming the registry error", r, err)
	}

	// The Ratify flow with a subject by digest: the registry is not asked.
	w.reg.Close()
	r, err = skip.VerifySignature(t.Context(), w.ref(), sig, service.Options{})
	if err != nil || r.Verdict != trustpolicy.VerdictSkipped || r.Reference != w.ref() {
		t.Errorf("VerifySignature with the registry down under skip: %+v, %v", r, err)
	}
}

// TestConcurrentVerify: one Service serves concurrent calls of every kind
// (run with -race).
func TestConcurrentVerify(t *testing.T) {
	w := newWorld(t)
	sig := w.good(t)
	s := w.service(t, trustpolicy.LevelStrict)
	env := w.signer.Sign(t, w.subject, cose)
	var wg sync.WaitGroup
	errs := make(chan string, 24)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r *trustpolicy.Report
			var err error
			switch i % 3 {
			case 0:
				r, err = s.Verify(t.Context(), w.reg.Ref("app:v1"), service.Options{MaxSignatures: 1 + i})
			case 1:
				r, err = s.VerifySignature(t.Context(), w.ref(), sig, service.Options{})
			default:
				r, err = s.VerifyEnvelope(t.Context(), service.Envelope{Data: env, MediaType: cose, Descriptor: w.subject, Reference: w.ref()}, service.Options{})
			}
			switch {
			case err != nil:
				errs <- err.Error()
			case r.Verdict != trustpolicy.VerdictVerified:
				errs <- r.Summary()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
