package promote_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/promote"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

const (
	pkiDir = "../../../testdata/pki"
	cose   = "application/cose"
)

var testNow = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)

func anonymous(context.Context, string) (auth.Credential, error) { return auth.EmptyCredential, nil }

// world is a staging registry (src) and a production registry (dst), the
// ec-256 signer whose root the policy trusts, and the rsa-2048 signer it
// does not.
type world struct {
	src, dst  *servicetest.WritableRegistry
	signer    *servicetest.Signer
	untrusted *servicetest.Signer
	engine    *trustpolicy.Engine
	dstCalls  atomic.Int32
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{
		src:       servicetest.NewWritableRegistry(t),
		dst:       servicetest.NewWritableRegistry(t),
		signer:    servicetest.NewSigner(t, pkiDir, "ec-256"),
		untrusted: servicetest.NewSigner(t, pkiDir, "rsa-2048"),
	}
	w.dst.Tamper(func(http.ResponseWriter, *http.Request) bool { w.dstCalls.Add(1); return false })
	doc, err := trustpolicy.ParseDocument([]byte(`{"version":"1.0","trustPolicies":[
 {"name":"all","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:test"],"trustedIdentities":["*"]},
 {"name":"skip","registryScopes":["` + w.src.Ref("skipped") + `"],"signatureVerification":{"level":"skip"}}]}`))
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
	w.engine, err = trustpolicy.New(trustpolicy.Config{Policy: p, Stores: truststore.NewSet(map[truststore.Ref][]*x509.Certificate{ref: {w.signer.Root()}}), Revocation: revocation.NonRevokableOnly()})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) config(t *testing.T, creds auth.CredentialFunc) promote.Config {
	t.Helper()
	if creds == nil {
		creds = anonymous
	}
	c, err := registry.New(registry.Options{PlainHTTP: true, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	s, err := service.New(service.Config{Engine: w.engine, Registry: c, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return promote.Config{Service: s, Client: c}
}

// artifact pushes an image manifest with a layer to src repo:tag.
func (w *world) artifact(repo, tag, content string) (manifest, layer ocispec.Descriptor) {
	put := func(mt string, data []byte) ocispec.Descriptor {
		d := w.src.PutBlob(mt, data)
		if mt != ocispec.DescriptorEmptyJSON.MediaType {
			layer = d
		}
		return d
	}
	manifest = w.src.PutManifest(repo, tag, ocispec.MediaTypeImageManifest, servicetest.ImageManifest(put, []byte(content)))
	return manifest, layer
}

func (w *world) sign(t *testing.T, s *servicetest.Signer, repo string, d ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	d = ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
	return w.src.AddSignature(repo, d, cose, s.Sign(t, d, cose))
}

func TestPromote(t *testing.T) {
	w := newWorld(t)
	d, layer := w.artifact("staging/app", "v1", "release 1.0")
	w.sign(t, w.untrusted, "staging/app", d)
	w.sign(t, w.signer, "staging/app", d)
	res, err := promote.Promote(t.Context(), w.src.Ref("staging/app:v1"), w.dst.Ref("prod/app"), w.config(t, nil))
	if err != nil {
		t.Fatalf("%v\n%+v", err, res)
	}
	if !res.Promoted || res.Tag != "v1" || res.Digest != d.Digest.String() || res.Destination != w.dst.Ref("prod/app:v1") || res.Schema != promote.Schema {
		t.Errorf("result %+v", res)
	}
	if res.Copied.Manifests != 1 || res.Copied.Signatures != 2 || res.Copied.Blobs < 3 {
		t.Errorf("copied %+v: want the manifest, its blobs and both signatures", res.Copied)
	}
	if w.dst.Tagged("prod/app", "v1") != d.Digest || !w.dst.HasBlob(layer.Digest) {
		t.Error("the tag or the layer is missing in DST")
	}
	if res.SourceReport.Verdict != trustpolicy.VerdictVerified || res.DestinationReport.Verdict != trustpolicy.VerdictVerified ||
		res.DestinationReport.Reference != w.dst.Ref("prod/app@"+d.Digest.String()) {
		t.Errorf("reports %+v %+v", res.SourceReport, res.DestinationReport)
	}
	// A second run finds everything there.
	again, err := promote.Promote(t.Context(), w.src.Ref("staging/app:v1"), w.dst.Ref("prod/app:stable"), w.config(t, nil))
	if err != nil || again.Copied.Manifests != 0 || again.Copied.Signatures != 0 || again.Copied.Existing == 0 || w.dst.Tagged("prod/app", "stable") != d.Digest {
		t.Errorf("second run: %v, %+v", err, again)
	}
}

func TestPromoteIndex(t *testing.T) {
	w := newWorld(t)
	amd, amdLayer := w.artifact("staging/multi", "", "amd64")
	arm, _ := w.artifact("staging/multi", "", "arm64")
	amd.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	arm.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	idx := w.src.PutManifest("staging/multi", "v1", ocispec.MediaTypeImageIndex, servicetest.ImageIndex([]ocispec.Descriptor{amd, arm}))
	w.sign(t, w.signer, "staging/multi", idx)
	res, err := promote.Promote(t.Context(), w.src.Ref("staging/multi:v1"), w.dst.Ref("prod/multi:v1"), w.config(t, nil))
	if err != nil || !res.Promoted {
		t.Fatalf("%v %+v", err, res)
	}
	for _, m := range []ocispec.Descriptor{idx, amd, arm} {
		if !w.dst.Has("prod/multi", m.Digest) {
			t.Errorf("DST lacks manifest %s", m.Digest)
		}
	}
	if !w.dst.HasBlob(amdLayer.Digest) || res.Copied.Manifests != 3 || res.Copied.Signatures != 1 {
		t.Errorf("copied %+v", res.Copied)
	}
}

// TestPromoteRefuses: nothing unverified reaches DST, not even a request.
func TestPromoteRefuses(t *testing.T) {
	w := newWorld(t)
	unsigned, _ := w.artifact("staging/app", "unsigned", "nobody signed this")
	w.artifact("skipped", "v1", "policy skips it")
	bad, _ := w.artifact("staging/app", "bad", "signed by a stranger")
	w.sign(t, w.untrusted, "staging/app", bad)
	// Tampered after signing: v2 was signed, then the tag was moved to
	// other content.
	signed, _ := w.artifact("staging/app", "v2", "release 2.0")
	w.sign(t, w.signer, "staging/app", signed)
	w.artifact("staging/app", "v2", "release 2.0 with a backdoor")
	for name, src := range map[string]string{
		"unsigned":                w.src.Ref("staging/app:unsigned"),
		"untrusted signer":        w.src.Ref("staging/app:bad"),
		"skipped by policy":       w.src.Ref("skipped:v1"),
		"tag moved after signing": w.src.Ref("staging/app:v2"),
	} {
		res, err := promote.Promote(t.Context(), src, w.dst.Ref("prod/app:v1"), w.config(t, nil))
		if !errors.Is(err, promote.ErrNotVerified) || res.Promoted || res.Error == "" || res.SourceReport == nil {
			t.Errorf("%s: %v, %+v", name, err, res)
		}
	}
	if n := w.dstCalls.Load(); n != 0 || w.dst.Has("prod/app", unsigned.Digest) {
		t.Errorf("DST saw %d requests for unverified artifacts", n)
	}
}

// TestPromoteTamperedBlob: a layer altered in SRC after signing (the
// signed manifest is intact, so SRC verifies) is caught while it is
// copied: DST gets no manifest and no tag.
func TestPromoteTamperedBlob(t *testing.T) {
	w := newWorld(t)
	d, layer := w.artifact("staging/app", "v1", "release 1.0")
	w.sign(t, w.signer, "staging/app", d)
	w.src.Tamper(func(rw http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+layer.Digest.String()) {
			evil := []byte("release 1.1") // the same length, other bytes
			rw.Header().Set("Content-Length", "11")
			rw.WriteHeader(http.StatusOK)
			_, _ = rw.Write(evil)
			return true
		}
		return false
	})
	res, err := promote.Promote(t.Context(), w.src.Ref("staging/app:v1"), w.dst.Ref("prod/app"), w.config(t, nil))
	if !errors.Is(err, promote.ErrCopy) || !errors.Is(err, promote.ErrTampered) || res.Promoted || res.SourceReport.Verdict != trustpolicy.VerdictVerified || !strings.Contains(err.Error(), "altered after signing") {
		t.Fatalf("%v, %+v", err, res)
	}
	t.Logf("error: %v", err)
	if w.dst.Has("prod/app", d.Digest) || w.dst.HasBlob(layer.Digest) || w.dst.Tagged("prod/app", "v1") != "" {
		t.Error("tampered content reached DST")
	}
}

// TestPromoteResumes: a copy interrupted before the signatures leaves DST
// untagged; the rerun completes it.
func TestPromoteResumes(t *testing.T) {
	w := newWorld(t)
	d, _ := w.artifact("staging/app", "v1", "release 1.0")
	sig := w.sign(t, w.signer, "staging/app", d)
	var failOnce atomic.Bool
	failOnce.Store(true)
	w.dst.Tamper(func(rw http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+sig.Digest.String()) && failOnce.Swap(false) {
			servicetest.WriteError(rw, http.StatusForbidden, "DENIED", "quota exceeded")
			return true
		}
		return false
	})
	res, err := promote.Promote(t.Context(), w.src.Ref("staging/app:v1"), w.dst.Ref("prod/app"), w.config(t, nil))
	if !errors.Is(err, promote.ErrCopy) || errors.Is(err, promote.ErrTampered) || !strings.Contains(err.Error(), "rerun") || res.Promoted || !w.dst.Has("prod/app", d.Digest) || w.dst.Tagged("prod/app", "v1") != "" {
		t.Fatalf("interrupted run: %v, %+v", err, res)
	}
	res, err = promote.Promote(t.Context(), w.src.Ref("staging/app:v1"), w.dst.Ref("prod/app"), w.config(t, nil))
	if err != nil || !res.Promoted || res.Copied.Signatures != 1 || res.Copied.Manifests != 0 || res.Copied.Existing == 0 || w.dst.Tagged("prod/app", "v1") != d.Digest {
		t.Errorf("rerun: %v, %+v", err, res)
	}
}

// TestPromoteCredentialsPerRegistry: DST asks for basic auth, SRC for
// none; the docker configuration holds DST's credential alone.
func TestPromoteCredentialsPerRegistry(t *testing.T) {
	w := newWorld(t)
	d, _ := w.artifact("staging/app", "v1", "release 1.0")
	w.sign(t, w.signer, "staging/app", d)
	w.dst.Tamper(func(rw http.ResponseWriter, r *http.Request) bool {
		if u, p, ok := r.BasicAuth(); ok && u == "prod-robot" && p == "s3cret" {
			return false
		}
		rw.Header().Set("WWW-Authenticate", `Basic realm="prod"`)
		servicetest.WriteError(rw, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return true
	})
	dockerConfig := func(host, user, pass string) auth.CredentialFunc {
		p := filepath.Join(t.TempDir(), "config.json")
		b := `{"auths":{"` + host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)) + `"}}}`
		if err := os.WriteFile(p, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
		return registry.DockerCredentials(p)
	}
	res, err := promote.Promote(t.Context(), w.src.Ref("staging/app:v1"), w.dst.Ref("prod/app"), w.config(t, dockerConfig(w.dst.Host(), "prod-robot", "s3cret")))
	if err != nil || !res.Promoted {
		t.Fatalf("%v %+v", err, res)
	}
	res, err = promote.Promote(t.Context(), w.src.Ref("staging/app:v1"), w.dst.Ref("prod/other"), w.config(t, dockerConfig(w.src.Host(), "prod-robot", "s3cret")))
	if !errors.Is(err, registry.ErrUnauthorized) || res.Promoted || !strings.Contains(err.Error(), "docker login "+w.dst.Host()) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("DST credential missing: %v", err)
	}
}

func TestPromoteDestination(t *testing.T) {
	w := newWorld(t)
	d, _ := w.artifact("staging/app", "v1", "release 1.0")
	w.sign(t, w.signer, "staging/app", d)
	other, _ := w.artifact("staging/app", "v0", "release 0.9")
	for _, dst := range []string{"prod/app", "not a reference", w.dst.Ref("prod/app@" + other.Digest.String())} {
		res, err := promote.Promote(t.Context(), w.src.Ref("staging/app:v1"), dst, w.config(t, nil))
		if !errors.Is(err, promote.ErrInvalidDestination) || res.Promoted {
			t.Errorf("%q: %v", dst, err)
		}
	}
	res, err := promote.Promote(t.Context(), w.src.Ref("staging/app@"+d.Digest.String()), w.dst.Ref("prod/app@"+d.Digest.String()), w.config(t, nil))
	if err != nil || !res.Promoted || res.Tag != "" || res.Destination != w.dst.Ref("prod/app@"+d.Digest.String()) {
		t.Errorf("by digest: %v %+v", err, res)
	}
}
