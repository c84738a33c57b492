package service_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
)

// TestVerifyEnvelope: a local envelope, no registry at all.
func TestVerifyEnvelope(t *testing.T) {
	w := newWorld(t)
	env := w.signer.Sign(t, w.subject, cose)
	s, err := service.New(service.Config{Engine: engine(t, policy(t, "strict", "*"), w.signer.Root()), Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	zero := ocispec.Descriptor{MediaType: w.subject.MediaType, Digest: digest.Digest("sha256:" + strings.Repeat("0", 64)), Size: 1}
	cases := []struct {
		name    string
		ref     string
		desc    ocispec.Descriptor
		data    []byte
		verdict trustpolicy.Verdict
		tag     string
		field   service.Field // bad input
		is      error
	}{
		{name: "verified", ref: w.ref(), desc: w.subject, data: env, verdict: trustpolicy.VerdictVerified},
		{name: "by tag", ref: w.reg.Ref("app:v1"), desc: w.subject, data: env, verdict: trustpolicy.VerdictVerified, tag: "v1"},
		{name: "tampered", ref: w.ref(), desc: w.subject, data: append(env[:len(env)-3:len(env)-3], 'x', 'y', 'z'), verdict: trustpolicy.VerdictFailed},
		{name: "signature of another artifact", ref: w.reg.Ref("app@" + w.other.Digest.String()), desc: w.other, data: env, verdict: trustpolicy.VerdictFailed},
		{name: "reference names another digest", ref: w.reg.Ref("app@" + w.other.Digest.String()), desc: w.subject, data: env, field: service.FieldSubject, is: trustpolicy.ErrSubjectMismatch},
		{name: "placeholder descriptor", ref: w.reg.Ref("app:v1"), desc: zero, data: env, field: service.FieldDescriptor, is: trustpolicy.ErrInvalidDescriptor},
		{name: "reference selects nothing", ref: "registry.example/App@" + w.subject.Digest.String(), desc: w.subject, data: env, field: service.FieldReference, is: trustpolicy.ErrInvalidReference},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := s.VerifyEnvelope(t.Context(), service.Envelope{Data: c.data, MediaType: cose, Descriptor: c.desc, Reference: c.ref}, service.Options{})
			if c.field != "" {
				var ie *service.InputError
				if !errors.As(err, &ie) || ie.Field != c.field || !errors.Is(err, c.is) || !errors.Is(err, service.ErrInvalidInput) || r != nil {
					t.Fatalf("got %+v, %v; want an *InputError for %s wrapping %v", r, err, c.field, c.is)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkReport(t, r)
			if r.Verdict != c.verdict || len(r.Signatures) != 1 || r.Reference != w.reg.Ref("app@"+c.desc.Digest.String()) || r.Tag != c.tag || (c.tag != "") != (len(r.Warnings) == 1) {
				t.Errorf("report %s: verdict %s reference %q tag %q warnings %q", r.Summary(), r.Verdict, r.Reference, r.Tag, r.Warnings)
			}
		})
	}
	if n := len(w.reg.Requests()); n != 0 {
		t.Errorf("%d registry requests for local envelopes", n)
	}
}
