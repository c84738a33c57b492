package service_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

// TestVerifySignature: one signature handed over by its manifest
// descriptor, the Ratify verifier's flow.
func TestVerifySignature(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(t *testing.T, w *world) (subject string, sig ocispec.Descriptor)
		verdict trustpolicy.Verdict
		tried   int
		want    []string // in the report's error, or its summary when verified
		check   func(t *testing.T, w *world, r *trustpolicy.Report)
	}{
		{
			name:    "verified",
			setup:   func(t *testing.T, w *world) (string, ocispec.Descriptor) { return w.ref(), w.good(t) },
			verdict: trustpolicy.VerdictVerified, tried: 1,
		},
		{
			name:    "by tag",
			setup:   func(t *testing.T, w *world) (string, ocispec.Descriptor) { return w.reg.Ref("app:v1"), w.good(t) },
			verdict: trustpolicy.VerdictVerified, tried: 1,
			check: func(t *testing.T, w *world, r *trustpolicy.Report) {
				if r.Reference != w.ref() || r.Tag != "v1" || len(r.Warnings) != 1 || r.Signatures[0].Reference != w.ref() {
					t.Errorf("report %+v: want the digest verified, the tag and its warning", r)
				}
			},
		},
		{
			name:    "untrusted",
			setup:   func(t *testing.T, w *world) (string, ocispec.Descriptor) { return w.ref(), w.bad(t) },
			verdict: trustpolicy.VerdictFailed, tried: 1,
			want: []string{"authenticity check failed"},
		},
		{
			name: "manifest names another subject",
			setup: func(t *testing.T, w *world) (string, ocispec.Descriptor) {
				return w.ref(), w.reg.AddSignatureOf("app", w.subject, &w.other, cose, w.signer.Sign(t, w.other, cose))
			},
			verdict: trustpolicy.VerdictFailed, tried: 0,
			want: []string{"subject digest mismatch: signature manifest", "it is the signature of another artifact"},
		},
		{
			name: "tag moved",
			setup: func(t *testing.T, w *world) (string, ocispec.Descriptor) {
				return w.reg.Ref("app:v1"), w.reg.AddSignatureOf("app", w.other, &w.other, cose, w.signer.Sign(t, w.other, cose))
			},
			verdict: trustpolicy.VerdictFailed, tried: 0,
			want: []string{"the tag v1 may have moved since the signature was listed; verify by digest"},
			check: func(t *testing.T, w *world, r *trustpolicy.Report) {
				if !strings.Contains(r.Error, "names subject "+w.other.Digest.String()+", but the artifact verified is "+w.subject.Digest.String()) {
					t.Errorf("error %q does not name both digests", r.Error)
				}
			},
		},
		{
			name: "envelope missing",
			setup: func(t *testing.T, w *world) (string, ocispec.Descriptor) {
				sig := w.good(t)
				w.reg.Tamper(func(rw http.ResponseWriter, req *http.Request) bool {
					if strings.Contains(req.URL.Path, "/blobs/") {
						servicetest.WriteError(rw, http.StatusBadRequest, "BLOB_UNKNOWN", "blob unknown\u202e")
						return true
					}
					return false
				})
				return w.ref(), sig
			},
			verdict: trustpolicy.VerdictFailed, tried: 0,
			want: []string{"unable to retrieve digital signature with digest", `blob unknown\u202e`},
		},
		{
			name: "not a signature manifest",
			setup: func(t *testing.T, w *world) (string, ocispec.Descriptor) {
				return w.ref(), ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("nope"), Size: 4}
			},
			verdict: trustpolicy.VerdictFailed, tried: 0,
			want: []string{"fetching the manifest"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			subject, sig := c.setup(t, w)
			r, err := w.service(t, trustpolicy.LevelStrict).VerifySignature(t.Context(), subject, sig, service.Options{})
			checkOutcome(t, r, err, c.verdict, c.tried, c.want)
			if c.tried == 1 && r.Signatures[0].Digest != sig.Digest.String() {
				t.Errorf("signature reported as %q, want %s", r.Signatures[0].Digest, sig.Digest)
			}
			if c.check != nil {
				c.check(t, w, r)
			}
		})
	}
}

// TestVerifySignatureErrors: nothing decided.
func TestVerifySignatureErrors(t *testing.T) {
	w := newWorld(t)
	sig := w.good(t)
	s := w.service(t, trustpolicy.LevelStrict)
	if _, err := s.VerifySignature(t.Context(), "not a reference", sig, service.Options{}); !errors.Is(err, service.ErrInvalidInput) || !errors.Is(err, trustpolicy.ErrInvalidReference) {
		t.Errorf("invalid subject: %v", err)
	}
	w.reg.Close()
	r, err := s.VerifySignature(t.Context(), w.ref(), sig, service.Options{})
	if err == nil || r != nil || !strings.Contains(err.Error(), "resolve "+w.ref()) {
		t.Errorf("registry down: %+v, %v; want the resolve error", r, err)
	}
}

// TestVerifySignatureNoPolicy: no statement applies: the report says so,
// and the registry is not asked anything.
func TestVerifySignatureNoPolicy(t *testing.T) {
	w := newWorld(t)
	sig := w.good(t)
	before := len(w.reg.Requests())
	r, err := w.service(t, trustpolicy.LevelStrict, "registry.example/other").VerifySignature(t.Context(), w.ref(), sig, service.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r)
	if r.Verdict != trustpolicy.VerdictFailed || !strings.Contains(r.Error, "no applicable trust policy") || !strings.Contains(r.Fix, w.reg.Ref("app")) {
		t.Errorf("report %+v", r)
	}
	if n := len(w.reg.Requests()); n != before {
		t.Errorf("%d requests to the registry without an applicable policy", n-before)
	}
}
