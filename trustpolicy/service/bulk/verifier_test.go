package bulk_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/bulk"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

const (
	pkiDir = "../../../testdata/pki"
	cose   = "application/cose"
)

var testNow = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)

func anonymous(context.Context, string) (auth.Credential, error) { return auth.EmptyCredential, nil }

// engine is a strict engine over scopes "*" (and level skip for
// skip.example/app) trusting root in ca:test.
func engine(t *testing.T, root *x509.Certificate) *trustpolicy.Engine {
	t.Helper()
	doc, err := trustpolicy.ParseDocument([]byte(`{"version":"1.0","trustPolicies":[
	 {"name":"all","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:test"],"trustedIdentities":["*"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := trustpolicy.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := truststore.ParseRef("ca:test")
	if err != nil {
		t.Fatal(err)
	}
	e, err := trustpolicy.New(trustpolicy.Config{
		Policy:     p,
		Stores:     truststore.NewSet(map[truststore.Ref][]*x509.Certificate{ref: {root}}),
		Revocation: revocation.NonRevokableOnly(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// world is an in-process registry with signed and unsigned artifacts and
// three indexes of two platforms each, and a Verifier over it.
type world struct {
	reg    *servicetest.Registry
	signer *servicetest.Signer
	eng    *trustpolicy.Engine
	client *registry.Client
	svc    *service.Service
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{reg: servicetest.NewRegistry(t), signer: servicetest.NewSigner(t, pkiDir, "ec-256")}
	w.eng = engine(t, w.signer.Root())
	var err error
	if w.client, err = registry.New(registry.Options{PlainHTTP: true, Credentials: anonymous}); err != nil {
		t.Fatal(err)
	}
	if w.svc, err = service.New(service.Config{Engine: w.eng, Registry: w.client, Now: func() time.Time { return testNow }}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) artifact(repo, tag, content string) ocispec.Descriptor {
	put := func(mt string, data []byte) ocispec.Descriptor { return w.reg.PutBlob(mt, data) }
	return w.reg.PutManifest(repo, tag, ocispec.MediaTypeImageManifest, servicetest.ImageManifest(put, []byte(content)))
}

func (w *world) sign(t *testing.T, repo string, d ocispec.Descriptor) {
	t.Helper()
	w.reg.AddSignature(repo, d, cose, w.signer.Sign(t, ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}, cose))
}

// index stores an index of linux/amd64 and linux/arm64 manifests at tag,
// signing the index and each platform as asked.
func (w *world) index(t *testing.T, tag string, signIndex, signAMD, signARM bool) ocispec.Descriptor {
	t.Helper()
	amd, arm := w.artifact("multi", "", tag+" amd64"), w.artifact("multi", "", tag+" arm64")
	amd.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	arm.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	att := w.artifact("multi", "", tag+" attestation")
	att.Platform = &ocispec.Platform{OS: "unknown", Architecture: "unknown"}
	idx := w.reg.PutManifest("multi", tag, ocispec.MediaTypeImageIndex, servicetest.ImageIndex([]ocispec.Descriptor{amd, arm, att}))
	for _, s := range []struct {
		sign bool
		d    ocispec.Descriptor
	}{{signIndex, idx}, {signAMD, amd}, {signARM, arm}} {
		if s.sign {
			w.sign(t, "multi", s.d)
		}
	}
	return idx
}

func (w *world) verifier(platforms string) *bulk.Verifier {
	v := &bulk.Verifier{Open: func(_ context.Context, ref string) (bulk.Source, error) {
		return bulk.Source{Service: w.svc, Client: w.client, Reference: ref}, nil
	}}
	if platforms != "" {
		p, err := bulk.ParsePlatforms(platforms)
		if err != nil {
			panic(err)
		}
		v.Platforms = p
	}
	return v
}

func TestVerifier(t *testing.T) {
	w := newWorld(t)
	signed := w.artifact("app", "v1", "signed")
	w.sign(t, "app", signed)
	w.artifact("app", "unsigned", "unsigned")
	w.index(t, "both", true, true, false)
	w.index(t, "own", false, true, true)
	w.index(t, "half", false, true, false)

	type plat struct{ name, coveredBy string }
	cases := []struct {
		name, ref, platforms string
		verdict              trustpolicy.Verdict
		plats                []plat
		brief                string
	}{
		{"signed", w.reg.Ref("app:v1"), "", trustpolicy.VerdictVerified, nil, "verified: "},
		{"unsigned", w.reg.Ref("app:unsigned"), "all", trustpolicy.VerdictFailed, nil, "no signature"},
		{"not found", w.reg.Ref("app:nope"), "", trustpolicy.VerdictFailed, nil, "not found"},
		{"index without platforms", w.reg.Ref("multi:both"), "", trustpolicy.VerdictVerified, nil, "verified: "},
		{"index covers all", w.reg.Ref("multi:both"), "all", trustpolicy.VerdictVerified,
			[]plat{{"linux/amd64", bulk.CoveredByBoth}, {"linux/arm64/v8", bulk.CoveredByIndex}}, "verified: "},
		{"each platform its own", w.reg.Ref("multi:own"), "all", trustpolicy.VerdictVerified,
			[]plat{{"linux/amd64", bulk.CoveredByManifest}, {"linux/arm64/v8", bulk.CoveredByManifest}}, "every platform manifest (2)"},
		{"one platform uncovered", w.reg.Ref("multi:half"), "all", trustpolicy.VerdictFailed,
			[]plat{{"linux/amd64", bulk.CoveredByManifest}, {"linux/arm64/v8", bulk.CoveredByNone}}, "1 of 2 platforms not covered: linux/arm64/v8"},
		{"only the covered platform asked", w.reg.Ref("multi:half"), "linux/amd64", trustpolicy.VerdictVerified,
			[]plat{{"linux/amd64", bulk.CoveredByManifest}}, "verified: "},
		{"a platform the index lacks", w.reg.Ref("multi:both"), "linux/amd64,linux/s390x", trustpolicy.VerdictFailed,
			[]plat{{"linux/amd64", bulk.CoveredByBoth}, {"linux/s390x", bulk.CoveredByNone}}, "linux/s390x: the index"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := w.verifier(c.platforms).Verify(t.Context(), bulk.Input{Reference: c.ref, Source: "arg 1"})
			if r.Verdict != c.verdict || r.Schema != bulk.RecordSchema || r.Reference != c.ref || r.Source != "arg 1" {
				t.Fatalf("record %+v, want verdict %s", r, c.verdict)
			}
			if !strings.Contains(r.Brief, c.brief) || len([]rune(r.Brief)) > trustpolicy.MaxBriefLen {
				t.Errorf("brief %q lacks %q", r.Brief, c.brief)
			}
			if (c.verdict == trustpolicy.VerdictVerified) != (r.Error == "") {
				t.Errorf("error %q with verdict %s", r.Error, r.Verdict)
			}
			if c.name != "not found" && (r.Result == nil || !strings.HasPrefix(r.Digest, "sha256:") || !strings.HasSuffix(r.Result.Reference, r.Digest)) {
				t.Errorf("digest %q, result %+v", r.Digest, r.Result)
			}
			if len(r.Platforms) != len(c.plats) {
				t.Fatalf("platforms %+v, want %v", r.Platforms, c.plats)
			}
			for i, p := range c.plats {
				got := r.Platforms[i]
				if got.Platform != p.name || got.CoveredBy != p.coveredBy {
					t.Errorf("platform %d: %s covered by %s, want %s by %s", i, got.Platform, got.CoveredBy, p.name, p.coveredBy)
				}
				if got.Covered() && got.CoveredBy != bulk.CoveredByIndex && got.Verdict != trustpolicy.VerdictVerified {
					t.Errorf("platform %s covered by its manifest with verdict %s", got.Platform, got.Verdict)
				}
			}
			if _, err := json.Marshal(r); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestVerifierPlatformRequests: a platform manifest is verified from the
// index's descriptor: it is never resolved on its own.
func TestVerifierPlatformRequests(t *testing.T) {
	w := newWorld(t)
	w.index(t, "own", false, true, true)
	w.verifier("all").Verify(t.Context(), bulk.Input{Reference: w.reg.Ref("multi:own")})
	heads := 0
	for _, q := range w.reg.Requests() {
		if strings.HasPrefix(q, "HEAD ") {
			heads++
		}
	}
	if heads != 1 {
		t.Errorf("%d HEAD requests, want 1 (the index): %q", heads, w.reg.Requests())
	}
}

func TestVerifierLayout(t *testing.T) {
	w := newWorld(t)
	dir := filepath.Join(t.TempDir(), "layout")
	l := servicetest.NewLayout(t, dir)
	put := func(mt string, data []byte) ocispec.Descriptor { return l.PutBlob(t, mt, data) }
	d := l.PutManifest(t, "v1", ocispec.MediaTypeImageManifest, servicetest.ImageManifest(put, []byte("in a layout")))
	l.AddSignature(t, d, cose, w.signer.Sign(t, d, cose))
	v := &bulk.Verifier{Open: func(ctx context.Context, ref string) (bulk.Source, error) {
		lr, err := registry.ParseLayoutReference(ref)
		if err != nil {
			return bulk.Source{}, err
		}
		c, err := registry.NewLayout(ctx, lr.Path, registry.Options{})
		if err != nil {
			return bulk.Source{}, err
		}
		s, err := service.New(service.Config{Engine: w.eng, Registry: c, Now: func() time.Time { return testNow }})
		return bulk.Source{Service: s, Client: c, Reference: lr.Reference("registry.example/app")}, err
	}}
	r := v.Verify(t.Context(), bulk.Input{Reference: "oci-layout:" + dir + ":v1"})
	if r.Verdict != trustpolicy.VerdictVerified || r.Digest != d.Digest.String() {
		t.Errorf("layout record %+v", r)
	}
	r = v.Verify(t.Context(), bulk.Input{Reference: "oci-layout:" + dir + "/missing:v1"})
	if r.Verdict != trustpolicy.VerdictFailed || !strings.Contains(r.Error, "invalid OCI image layout") {
		t.Errorf("missing layout record %+v", r)
	}
}

// TestVerifierRequests: a signed artifact named by digest costs exactly
// the four requests it must make (resolve, one referrers call, the
// signature manifest, the envelope); by tag, the same four.
func TestVerifierRequests(t *testing.T) {
	w := newWorld(t)
	w.reg.UseReferrersAPI()
	d := w.artifact("app", "v1", "signed")
	w.sign(t, "app", d)
	for _, ref := range []string{w.reg.Ref("app@" + d.Digest.String()), w.reg.Ref("app:v1")} {
		before := len(w.reg.Requests())
		r := w.verifier("").Verify(t.Context(), bulk.Input{Reference: ref})
		reqs := w.reg.Requests()[before:]
		if r.Verdict != trustpolicy.VerdictVerified || len(reqs) != 4 ||
			!strings.HasPrefix(reqs[0], "HEAD /v2/app/manifests/") || !strings.HasPrefix(reqs[1], "GET /v2/app/referrers/"+d.Digest.String()) ||
			!strings.HasPrefix(reqs[2], "GET /v2/app/manifests/sha256:") || !strings.HasPrefix(reqs[3], "GET /v2/app/blobs/sha256:") {
			t.Errorf("%s: %s after %q", ref, r.Verdict, reqs)
		}
	}
}
