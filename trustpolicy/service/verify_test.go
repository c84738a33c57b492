package service_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

// TestVerify: Service.Verify against an in-process registry, the flow of
// trustpolicy verify REF.
func TestVerify(t *testing.T) {
	type check func(t *testing.T, w *world, r *trustpolicy.Report, sigs []ocispec.Descriptor)
	cases := []struct {
		name  string
		setup func(t *testing.T, w *world) []ocispec.Descriptor
		ref   func(w *world) string // default w.ref()
		opts  service.Options
		scope string // policy scope, default "*"
		// verdict and signatures tried; want in the report's error.
		verdict trustpolicy.Verdict
		tried   int
		want    []string
		check   check
	}{
		{
			name:    "verified",
			setup:   func(t *testing.T, w *world) []ocispec.Descriptor { return []ocispec.Descriptor{w.good(t)} },
			verdict: trustpolicy.VerdictVerified, tried: 1,
			check: func(t *testing.T, w *world, r *trustpolicy.Report, sigs []ocispec.Descriptor) {
				if r.Reference != w.ref() || r.Tag != "" || len(r.Warnings) != 0 || r.Policy == nil || r.Policy.Name != "test" || r.Signatures[0].Digest != sigs[0].Digest.String() {
					t.Errorf("report %+v", r)
				}
			},
		},
		{
			name:    "no signatures",
			setup:   func(*testing.T, *world) []ocispec.Descriptor { return nil },
			verdict: trustpolicy.VerdictFailed, tried: 0,
			want: []string{`no signature is associated with "`, "make sure the artifact was signed successfully"},
		},
		{
			name: "first verified wins, an earlier failure is reported",
			setup: func(t *testing.T, w *world) []ocispec.Descriptor {
				return []ocispec.Descriptor{w.bad(t), w.good(t), w.good(t)}
			},
			verdict: trustpolicy.VerdictVerified, tried: 2,
			check: func(t *testing.T, w *world, r *trustpolicy.Report, sigs []ocispec.Descriptor) {
				first := r.Signatures[0]
				if first.Digest != sigs[0].Digest.String() || first.Verdict != trustpolicy.VerdictFailed || first.Check(trustpolicy.TypeAuthenticity).Outcome != trustpolicy.OutcomeFailed {
					t.Errorf("first signature %+v: want it reported as failing authenticity", first.Result)
				}
				if r.Signatures[1].Verdict != trustpolicy.VerdictVerified || r.Error != "" {
					t.Errorf("second signature %+v, report error %q", r.Signatures[1].Result, r.Error)
				}
				if w.reg.Requested(sigs[2].Digest.String()) {
					t.Error("the signature after the one that verified was fetched")
				}
			},
		},
		{
			name:    "every signature fails",
			setup:   func(t *testing.T, w *world) []ocispec.Descriptor { return []ocispec.Descriptor{w.bad(t), w.bad(t)} },
			verdict: trustpolicy.VerdictFailed, tried: 2,
			want: []string{"authenticity check failed"},
		},
		{
			name: "max signatures",
			setup: func(t *testing.T, w *world) []ocispec.Descriptor {
				return []ocispec.Descriptor{w.bad(t), w.bad(t), w.good(t)}
			},
			opts:    service.Options{MaxSignatures: 2},
			verdict: trustpolicy.VerdictFailed, tried: 2,
			want: []string{"too many signatures: more than 2 signatures refer to it; only the first 2 were examined"},
			check: func(t *testing.T, w *world, _ *trustpolicy.Report, sigs []ocispec.Descriptor) {
				if w.reg.Requested(sigs[2].Digest.String()) {
					t.Error("a signature beyond the limit was fetched")
				}
			},
		},
		{
			name: "subject mismatch",
			setup: func(t *testing.T, w *world) []ocispec.Descriptor {
				return []ocispec.Descriptor{w.reg.AddSignatureOf("app", w.subject, &w.other, cose, w.signer.Sign(t, w.other, cose)), w.good(t)}
			},
			verdict: trustpolicy.VerdictFailed, tried: 0,
			want: []string{"unable to retrieve digital signature with digest", "subject digest mismatch: signature manifest ", " names subject ", "it is the signature of another artifact"},
			check: func(t *testing.T, w *world, r *trustpolicy.Report, sigs []ocispec.Descriptor) {
				if !strings.Contains(r.Error, w.other.Digest.String()) || !strings.Contains(r.Error, "the artifact verified is "+w.subject.Digest.String()) {
					t.Errorf("error %q does not name both digests", r.Error)
				}
				if w.reg.Requested(sigs[1].Digest.String()) {
					t.Error("a signature after one that could not be retrieved was fetched (notation stops)")
				}
			},
		},
		{
			name: "subject mismatch by tag",
			setup: func(t *testing.T, w *world) []ocispec.Descriptor {
				return []ocispec.Descriptor{w.reg.AddSignatureOf("app", w.subject, &w.other, cose, w.signer.Sign(t, w.other, cose))}
			},
			ref:     func(w *world) string { return w.reg.Ref("app:v1") },
			verdict: trustpolicy.VerdictFailed, tried: 0,
			want: []string{"subject digest mismatch", "the tag v1 may have moved since the signature was listed; verify by digest"},
		},
		{
			name: "verified by tag",
			setup: func(t *testing.T, w *world) []ocispec.Descriptor {
				return []ocispec.Descriptor{w.good(t)}
			},
			ref:     func(w *world) string { return w.reg.Ref("app:v1") },
			verdict: trustpolicy.VerdictVerified, tried: 1,
			check: func(t *testing.T, w *world, r *trustpolicy.Report, _ []ocispec.Descriptor) {
				if r.Reference != w.ref() || r.Tag != "v1" || len(r.Warnings) != 1 || r.Warnings[0] != trustpolicy.TagWarning("v1") {
					t.Errorf("reference %q tag %q warnings %q: want the digest, the tag and notation's warning", r.Reference, r.Tag, r.Warnings)
				}
			},
		},
		{
			name: "a signature that cannot be retrieved ends the search",
			setup: func(t *testing.T, w *world) []ocispec.Descriptor {
				sigs := []ocispec.Descriptor{w.good(t), w.good(t)}
				w.reg.Tamper(func(rw http.ResponseWriter, req *http.Request) bool {
					if strings.HasSuffix(req.URL.Path, "/manifests/"+sigs[0].Digest.String()) {
						servicetest.WriteError(rw, http.StatusBadRequest, "UNKNOWN", "disk on fire\x1b[2J") // 5xx would be retried
						return true
					}
					return false
				})
				return sigs
			},
			verdict: trustpolicy.VerdictFailed, tried: 0,
			want: []string{"unable to retrieve digital signature with digest", "disk on fire\\x1b[2J"},
		},
		{
			name:    "no applicable policy",
			setup:   func(t *testing.T, w *world) []ocispec.Descriptor { return []ocispec.Descriptor{w.good(t)} },
			scope:   "registry.example/other",
			verdict: trustpolicy.VerdictFailed, tried: 0,
			want: []string{"no applicable trust policy"},
			check: func(t *testing.T, w *world, r *trustpolicy.Report, _ []ocispec.Descriptor) {
				if !strings.Contains(r.Fix, `registryScopes lists "`+w.reg.Ref("app")+`"`) {
					t.Errorf("fix %q", r.Fix)
				}
				if w.reg.Requested("sha256-") || w.reg.Requested("referrers") {
					t.Error("signatures were listed without a policy")
				}
			},
		},
		{
			name:    "user metadata missing",
			setup:   func(t *testing.T, w *world) []ocispec.Descriptor { return []ocispec.Descriptor{w.good(t)} },
			opts:    service.Options{UserMetadata: map[string]string{"team": "release"}},
			verdict: trustpolicy.VerdictFailed, tried: 1,
			want: []string{"unable to find specified metadata in the signature"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			sigs := c.setup(t, w)
			ref := w.ref()
			if c.ref != nil {
				ref = c.ref(w)
			}
			scope := "*"
			if c.scope != "" {
				scope = c.scope
			}
			r, err := w.service(t, trustpolicy.LevelStrict, scope).Verify(t.Context(), ref, c.opts)
			checkOutcome(t, r, err, c.verdict, c.tried, c.want)
			if c.check != nil {
				c.check(t, w, r, sigs)
			}
		})
	}
}

// TestVerifyErrors: nothing decided, an error instead of a report.
func TestVerifyErrors(t *testing.T) {
	w := newWorld(t)
	s := w.service(t, trustpolicy.LevelStrict)
	zero := "sha256:" + strings.Repeat("0", 64)
	w.reg.Tamper(func(rw http.ResponseWriter, req *http.Request) bool {
		if req.Method == http.MethodHead && strings.HasSuffix(req.URL.Path, "/manifests/zero") {
			rw.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
			rw.Header().Set("Docker-Content-Digest", zero)
			rw.Header().Set("Content-Length", "2")
			rw.WriteHeader(http.StatusOK)
			return true
		}
		return false
	})
	cases := []struct {
		name  string
		ref   string
		opts  service.Options
		is    []error
		field service.Field
		want  string
	}{
		{name: "no registry host", ref: "app:v1", is: []error{service.ErrInvalidInput, registry.ErrInvalidReference}, field: service.FieldReference, want: "missing registry or repository"},
		{name: "negative limit", ref: w.ref(), opts: service.Options{MaxSignatures: -1}, is: []error{service.ErrInvalidInput}, field: service.FieldOptions, want: "max signatures must be positive, not -1"},
		{name: "not found", ref: w.reg.Ref("app:nope"), is: []error{registry.ErrNotFound}, want: `has no tag "nope"`},
		{name: "placeholder digest", ref: w.reg.Ref("app:zero"), is: []error{trustpolicy.ErrInvalidDescriptor}, want: "the registry's answer for " + w.reg.Ref("app:zero") + ": invalid artifact descriptor: digest " + zero + " is all zeros"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := s.Verify(t.Context(), c.ref, c.opts)
			if err == nil || r != nil {
				t.Fatalf("Verify = %+v, %v; want an error and no report", r, err)
			}
			for _, is := range c.is {
				if !errors.Is(err, is) {
					t.Errorf("error %q does not wrap %q", err, is)
				}
			}
			var ie *service.InputError
			if (c.field != "") != errors.As(err, &ie) || c.field != "" && ie.Field != c.field {
				t.Errorf("error %v: want an *InputError for %q", err, c.field)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q lacks %q", err, c.want)
			}
		})
	}
	noRegistry, err := service.New(service.Config{Engine: engine(t, policy(t, "strict", "*"), w.signer.Root())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noRegistry.Verify(t.Context(), w.ref(), service.Options{}); !errors.Is(err, service.ErrNoRegistry) {
		t.Errorf("Verify without a registry client: %v", err)
	}
	if _, err := service.New(service.Config{}); err == nil {
		t.Error("New without an engine: nil error")
	}
}
