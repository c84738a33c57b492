package service_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
)

// TestResolveThenVerifyTarget: Resolve then VerifyTarget gives Verify's
// report with Verify's requests, no more.
func TestResolveThenVerifyTarget(t *testing.T) {
	for _, ref := range []func(w *world) string{
		func(w *world) string { return w.ref() },
		func(w *world) string { return w.reg.Ref("app:v1") },
	} {
		w := newWorld(t)
		w.bad(t)
		w.good(t)
		s := w.service(t, trustpolicy.LevelStrict)
		// The first listing on a host probes its referrers API: compare
		// warm runs.
		if _, err := s.Verify(t.Context(), ref(w), service.Options{}); err != nil {
			t.Fatal(err)
		}
		warm := len(w.reg.Requests())
		want, err := s.Verify(t.Context(), ref(w), service.Options{})
		if err != nil {
			t.Fatal(err)
		}
		verifyReqs := w.reg.Requests()[warm:]
		target, err := s.Resolve(t.Context(), ref(w))
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.VerifyTarget(t.Context(), target, service.Options{})
		checkOutcome(t, got, err, want.Verdict, len(want.Signatures), nil)
		if got.Reference != want.Reference || got.Tag != want.Tag || !slices.Equal(got.Warnings, want.Warnings) {
			t.Errorf("report %+v, want %+v", got, want)
		}
		if split := w.reg.Requests()[warm+len(verifyReqs):]; !slices.Equal(split, verifyReqs) {
			t.Errorf("Resolve+VerifyTarget requests %q, Verify's %q", split, verifyReqs)
		}
	}
}

func TestVerifyTargetRejects(t *testing.T) {
	w := newWorld(t)
	s := w.service(t, trustpolicy.LevelStrict)
	good, err := s.Resolve(t.Context(), w.ref())
	if err != nil {
		t.Fatal(err)
	}
	other := good
	other.Descriptor = w.other
	tagged := good
	tagged.Reference = w.reg.Ref("app:v1")
	for name, tg := range map[string]registry.Target{"other digest": other, "a tag as reference": tagged} {
		_, err := s.VerifyTarget(t.Context(), tg, service.Options{})
		var ie *service.InputError
		if !errors.As(err, &ie) || ie.Field != service.FieldSubject {
			t.Errorf("%s: error %v, want an InputError for the subject", name, err)
		}
	}
	if len(w.reg.Requests()) != 1 {
		t.Errorf("a rejected target made requests: %q", w.reg.Requests())
	}
}
