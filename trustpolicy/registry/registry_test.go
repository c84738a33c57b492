package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
)

const (
	mtJWS  = registry.MediaTypeJWSEnvelope
	mtCOSE = registry.MediaTypeCOSEEnvelope
)

// anonymous never has credentials, so tests never read the developer's
// docker configuration.
func anonymous(context.Context, string) (auth.Credential, error) { return auth.EmptyCredential, nil }

func newClient(t *testing.T, opts registry.Options) *registry.Client {
	t.Helper()
	opts.PlainHTTP = true
	if opts.Credentials == nil {
		opts.Credentials = anonymous
	}
	c, err := registry.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func resolve(t *testing.T, c *registry.Client, ref string) registry.Target {
	t.Helper()
	target, err := c.Resolve(t.Context(), ref)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", ref, err)
	}
	return target
}

// collect returns every signature Signatures visits, and its error.
func collect(t *testing.T, c *registry.Client, target registry.Target) ([]registry.Signature, error) {
	t.Helper()
	var sigs []registry.Signature
	err := c.Signatures(t.Context(), target, func(s registry.Signature) bool {
		sigs = append(sigs, s)
		return false
	})
	return sigs, err
}

func wantErr(t *testing.T, err error, is error, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want %v", is)
	}
	t.Logf("error: %v", err)
	if is != nil && !errors.Is(err, is) {
		t.Errorf("error %q does not wrap %q", err, is)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestNewRejectsNegativeLimits(t *testing.T) {
	for _, opts := range []registry.Options{{MaxSignatures: -1}, {MaxManifestBytes: -1}, {MaxEnvelopeBytes: -1}} {
		if _, err := registry.New(opts); err == nil {
			t.Errorf("New(%+v) = nil error, want one", opts)
		}
	}
	if _, err := registry.New(registry.Options{}); err != nil {
		t.Errorf("New(zero Options): %v", err)
	}
}

func TestResolve(t *testing.T) {
	f := newFake(t)
	art := f.addArtifact("demo/app", "v1")
	c := newClient(t, registry.Options{})

	got := resolve(t, c, f.ref("demo/app:v1"))
	want := registry.Target{
		Reference:  f.ref("demo/app@" + art.Digest.String()),
		Descriptor: art,
		Repository: f.ref("demo/app"),
		Tag:        "v1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Resolve(tag) = %+v, want %+v", got, want)
	}

	got = resolve(t, c, f.ref("demo/app@"+art.Digest.String()))
	want.Tag = ""
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Resolve(digest) = %+v, want %+v", got, want)
	}
	// tag@digest: the digest wins, as in notation.
	got = resolve(t, c, f.ref("demo/app:ignored@"+art.Digest.String()))
	if got.Descriptor.Digest != art.Digest || got.Tag != "" {
		t.Errorf("Resolve(tag@digest) = %+v", got)
	}
}

func TestResolveNotFound(t *testing.T) {
	f := newFake(t)
	f.addArtifact("demo/app", "v1")
	c := newClient(t, registry.Options{})
	ctx := t.Context()

	ref := f.ref("demo/app:nope")
	_, err := c.Resolve(ctx, ref)
	wantErr(t, err, registry.ErrNotFound, ref, `no tag "nope"`)
	if !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("error %q does not wrap oras' errdef.ErrNotFound", err)
	}

	ref = f.ref("other/repo@" + digest.FromString("x").String())
	_, err = c.Resolve(ctx, ref)
	wantErr(t, err, registry.ErrNotFound, ref, "has no manifest")
}

// TestResolveLyingDigest: the registry answers a digest reference with
// another digest.
func TestResolveLyingDigest(t *testing.T) {
	f := newFake(t)
	art := f.addArtifact("demo/app", "v1")
	other := digest.FromString("other")
	f.tamper = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/manifests/"+other.String()) {
			writeContent(w, art.MediaType, art.Digest, []byte("{}"))
			return true
		}
		return false
	}
	c := newClient(t, registry.Options{})
	_, err := c.Resolve(t.Context(), f.ref("demo/app@"+other.String()))
	wantErr(t, err, nil, "digest mismatch")
}

func TestResolveInvalidReference(t *testing.T) {
	c := newClient(t, registry.Options{})
	for _, ref := range []string{
		"",
		"alpine",
		"alpine:3",
		"library/alpine:3",             // docker hub shorthand: no registry host
		"127.0.0.1:5000/demo/app",      // no tag or digest
		"127.0.0.1:5000/Demo/app:v1",   // upper case repository
		"127.0.0.1:5000/demo/app@sha1", // bad digest
		"127.0.0.1:5000/demo/app:bad tag",
	} {
		_, err := c.Resolve(t.Context(), ref)
		wantErr(t, err, registry.ErrInvalidReference, "REGISTRY/REPOSITORY:TAG")
	}
}

func TestSignaturesTagSchema(t *testing.T) {
	f := newFake(t) // no referrers API
	art := f.addArtifact("demo/app", "v1")
	s1 := f.addSignature("demo/app", art, mtCOSE, []byte("cose envelope"))
	s2 := f.addSignature("demo/app", art, mtJWS, []byte(`{"payload":"jws envelope"}`))
	other := f.addArtifact("demo/app", "v2")
	f.addSignature("demo/app", other, mtJWS, []byte("signature of another artifact"))

	c := newClient(t, registry.Options{})
	target := resolve(t, c, f.ref("demo/app:v1"))
	sigs, err := collect(t, c, target)
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 2 {
		t.Fatalf("got %d signatures, want 2", len(sigs))
	}
	for i, want := range []struct {
		desc      ocispec.Descriptor
		mediaType string
		envelope  string
	}{{s1, mtCOSE, "cose envelope"}, {s2, mtJWS, `{"payload":"jws envelope"}`}} {
		s := sigs[i]
		if s.Err != nil {
			t.Errorf("signature %d: %v", i, s.Err)
			continue
		}
		if s.Descriptor.Digest != want.desc.Digest || s.Descriptor.ArtifactType != registry.ArtifactTypeNotation {
			t.Errorf("signature %d descriptor = %+v, want %+v", i, s.Descriptor, want.desc)
		}
		if s.MediaType != want.mediaType || s.EnvelopeDescriptor.MediaType != want.mediaType {
			t.Errorf("signature %d media type = %q, want %q", i, s.MediaType, want.mediaType)
		}
		if string(s.Envelope) != want.envelope {
			t.Errorf("signature %d envelope = %q, want %q", i, s.Envelope, want.envelope)
		}
		if s.EnvelopeDescriptor.Digest != digest.FromBytes(s.Envelope) {
			t.Errorf("signature %d envelope descriptor %v does not match the envelope", i, s.EnvelopeDescriptor)
		}
	}
	if !f.requested("/referrers/" + art.Digest.String()) {
		t.Error("the referrers API was not tried first")
	}
	if !f.requested("/manifests/sha256-" + art.Digest.Encoded()) {
		t.Error("the referrers tag schema was not used")
	}
}

func TestSignaturesReferrersAPI(t *testing.T) {
	f := newFake(t)
	f.UseReferrersAPI()
	art := f.addArtifact("demo/app", "v1")
	s1 := f.addSignature("demo/app", art, mtJWS, []byte("jws"))
	// An SBOM referrer: the fake ignores the artifactType filter (and says
	// so by omitting OCI-Filters-Applied), so the client must filter.
	sbom := f.putManifest("demo/app", "", ocispec.MediaTypeImageManifest, []byte(`{"sbom":true}`))
	sbom.ArtifactType = "application/spdx+json"
	f.listReferrer("demo/app", art, sbom)
	s2 := f.addSignature("demo/app", art, mtCOSE, []byte("cose"))

	c := newClient(t, registry.Options{})
	sigs, err := collect(t, c, resolve(t, c, f.ref("demo/app:v1")))
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 2 || sigs[0].Descriptor.Digest != s1.Digest || sigs[1].Descriptor.Digest != s2.Digest {
		t.Fatalf("signatures = %+v, want %v then %v", sigs, s1.Digest, s2.Digest)
	}
	for _, s := range sigs {
		if s.Err != nil {
			t.Error(s.Err)
		}
	}
	if f.requested("/manifests/sha256-") {
		t.Error("the referrers tag schema was used although the referrers API answered")
	}
	if f.requested(sbom.Digest.String()) {
		t.Error("the SBOM referrer was fetched")
	}
}

func TestSignaturesLimitAndStop(t *testing.T) {
	f := newFake(t)
	art := f.addArtifact("demo/app", "v1")
	var envs []ocispec.Descriptor
	for i := range 5 {
		f.addSignature("demo/app", art, mtJWS, []byte(fmt.Sprintf("envelope %d", i)))
		envs = append(envs, ocispec.Descriptor{Digest: digest.FromString(fmt.Sprintf("envelope %d", i))})
	}

	t.Run("over the limit", func(t *testing.T) {
		c := newClient(t, registry.Options{MaxSignatures: 3})
		target := resolve(t, c, f.ref("demo/app:v1"))
		sigs, err := collect(t, c, target)
		wantErr(t, err, registry.ErrTooManySignatures, target.Reference, "more than 3 signatures")
		if len(sigs) != 3 {
			t.Errorf("visited %d signatures, want 3", len(sigs))
		}
		if f.requested("/blobs/" + envs[3].Digest.String()) {
			t.Error("a signature beyond the limit was fetched")
		}
	})
	t.Run("exactly the limit", func(t *testing.T) {
		c := newClient(t, registry.Options{MaxSignatures: 5})
		sigs, err := collect(t, c, resolve(t, c, f.ref("demo/app:v1")))
		if err != nil || len(sigs) != 5 {
			t.Errorf("visited %d signatures, error %v; want 5 and nil", len(sigs), err)
		}
	})
	t.Run("stop", func(t *testing.T) {
		f := newFake(t)
		art := f.addArtifact("demo/app", "v1")
		f.addSignature("demo/app", art, mtJWS, []byte("first"))
		second := f.addSignature("demo/app", art, mtJWS, []byte("second"))
		c := newClient(t, registry.Options{})
		n := 0
		err := c.Signatures(t.Context(), resolve(t, c, f.ref("demo/app:v1")), func(registry.Signature) bool {
			n++
			return true
		})
		if err != nil || n != 1 {
			t.Errorf("visited %d, error %v; want 1 and nil", n, err)
		}
		if f.requested(second.Digest.String()) || f.requested(digest.FromString("second").String()) {
			t.Error("the second signature was fetched after the caller stopped")
		}
	})
}

func TestNoSignatures(t *testing.T) {
	for _, api := range []bool{false, true} {
		f := newFake(t)
		if api {
			f.UseReferrersAPI()
		}
		f.addArtifact("demo/app", "v1")
		c := newClient(t, registry.Options{})
		target := resolve(t, c, f.ref("demo/app:v1"))
		_, err := collect(t, c, target)
		wantErr(t, err, registry.ErrNoSignatures, "no signatures found for "+target.Reference, "notation sign")
	}
}

// TestSignatureShapes: each malformed signature is reported in its own Err
// and does not stop the good one after it.
func TestSignatureShapes(t *testing.T) {
	f := newFake(t)
	art := f.addArtifact("demo/app", "v1")
	env := func(s string) ocispec.Descriptor { return f.putBlob(mtJWS, []byte(s)) }
	bigEnvelope := f.putBlob(mtCOSE, bytes.Repeat([]byte("x"), 2000))
	type tc struct {
		name string
		desc ocispec.Descriptor
		want []string
		is   error
	}
	var cases []tc
	add := func(name string, d ocispec.Descriptor, is error, want ...string) {
		cases = append(cases, tc{name, d, want, is})
	}
	add("two layers", f.addReferrer("demo/app", art, ocispec.MediaTypeImageManifest,
		f.signatureManifest(art, env("a"), env("b"))), nil, "2 layers, want exactly 1")
	add("no layers", f.addReferrer("demo/app", art, ocispec.MediaTypeImageManifest,
		f.signatureManifest(art)), nil, "0 layers")
	add("unknown envelope type", f.addReferrer("demo/app", art, ocispec.MediaTypeImageManifest,
		f.signatureManifest(art, f.putBlob("application/pkcs7-signature", []byte("p7")))), nil,
		`unsupported signature envelope media type "application/pkcs7-signature"`)
	add("garbage manifest", f.addReferrer("demo/app", art, ocispec.MediaTypeImageManifest,
		[]byte("{not json")), nil, "decoding the manifest")
	add("envelope over the cap", f.addReferrer("demo/app", art, ocispec.MediaTypeImageManifest,
		f.signatureManifest(art, bigEnvelope)), errdef.ErrSizeExceedsLimit, "size 2000 bytes exceeds the limit of 1024 bytes")
	bigManifest := f.signatureManifest(art, env("c"))
	bigManifest = append(bigManifest[:len(bigManifest)-1], []byte(`,"padding":"`+strings.Repeat("p", 4096)+`"}`)...)
	add("manifest over the cap", f.addReferrer("demo/app", art, ocispec.MediaTypeImageManifest,
		bigManifest), errdef.ErrSizeExceedsLimit, "manifest: size")
	add("docker manifest", f.addReferrer("demo/app", art, "application/vnd.docker.distribution.manifest.v2+json",
		f.signatureManifest(art, env("d"))), nil, "unsupported manifest media type")
	add("media type confusion", f.addReferrer("demo/app", art, MediaTypeArtifactManifestForTest,
		f.signatureManifest(art, env("e"))), nil, "the manifest says its media type is")
	badDigest := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:../../../etc", Size: 2, ArtifactType: registry.ArtifactTypeNotation}
	f.listReferrer("demo/app", art, badDigest)
	add("invalid digest", badDigest, digest.ErrDigestInvalidLength, "invalid digest")
	// A good signature in the deprecated artifact manifest, last.
	good := f.addReferrer("demo/app", art, MediaTypeArtifactManifestForTest, mustJSON(t, map[string]any{
		"mediaType":    MediaTypeArtifactManifestForTest,
		"artifactType": registry.ArtifactTypeNotation,
		"blobs":        []ocispec.Descriptor{f.putBlob(mtCOSE, []byte("good"))},
		"subject":      art,
	}))

	c := newClient(t, registry.Options{MaxEnvelopeBytes: 1024, MaxManifestBytes: 4096})
	sigs, err := collect(t, c, resolve(t, c, f.ref("demo/app:v1")))
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != len(cases)+1 {
		t.Fatalf("got %d signatures, want %d", len(sigs), len(cases)+1)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := sigs[i]
			if s.Descriptor.Digest != tc.desc.Digest {
				t.Fatalf("signature %d is %v, want %v", i, s.Descriptor.Digest, tc.desc.Digest)
			}
			wantErr(t, s.Err, tc.is, append(tc.want, "signature manifest "+tc.desc.Digest.String())...)
			if s.Envelope != nil {
				t.Error("Envelope is set despite Err")
			}
		})
	}
	last := sigs[len(sigs)-1]
	if last.Err != nil || last.Descriptor.Digest != good.Digest || string(last.Envelope) != "good" || last.MediaType != mtCOSE {
		t.Errorf("artifact-manifest signature = %+v, want envelope %q", last, "good")
	}
	if f.requested("/blobs/" + bigEnvelope.Digest.String()) {
		t.Error("the oversized envelope was downloaded")
	}
	if f.requested(digest.FromBytes(bigManifest).String()) {
		t.Error("the oversized manifest was downloaded")
	}
	if f.requested("etc") {
		t.Error("an invalid digest made it into a URL")
	}
}

// MediaTypeArtifactManifestForTest checks the exported constant's value.
const MediaTypeArtifactManifestForTest = "application/vnd.oci.artifact.manifest.v1+json"

func TestConstants(t *testing.T) {
	if registry.MediaTypeArtifactManifest != MediaTypeArtifactManifestForTest {
		t.Error("MediaTypeArtifactManifest")
	}
	if registry.DefaultMaxEnvelopeBytes != 32<<20 || registry.DefaultMaxManifestBytes != 4<<20 || registry.DefaultMaxSignatures != 100 {
		t.Error("defaults differ from notation's")
	}
}

// TestLyingRegistry: content that does not match its descriptor is caught.
func TestLyingRegistry(t *testing.T) {
	f := newFake(t)
	art := f.addArtifact("demo/app", "v1")
	sameLen := f.addSignature("demo/app", art, mtJWS, []byte("honest envelope"))
	longer := f.addSignature("demo/app", art, mtJWS, []byte("short"))
	badManifest := f.addSignature("demo/app", art, mtCOSE, []byte("fine"))
	envSame := digest.FromString("honest envelope")
	envLonger := digest.FromString("short")
	f.tamper = func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.HasSuffix(r.URL.Path, "/blobs/"+envSame.String()):
			writeContent(w, "application/octet-stream", envSame, []byte("forged envelope"))
		case strings.HasSuffix(r.URL.Path, "/blobs/"+envLonger.String()):
			// No Content-Length check to hide behind: stream it.
			w.Header().Set("Docker-Content-Digest", envLonger.String())
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("a much longer forged envelope"))
			w.(http.Flusher).Flush()
		case strings.HasSuffix(r.URL.Path, "/manifests/"+badManifest.Digest.String()):
			forged := bytes.Repeat([]byte(" "), int(badManifest.Size))
			writeContent(w, ocispec.MediaTypeImageManifest, badManifest.Digest, forged)
		default:
			return false
		}
		return true
	}
	c := newClient(t, registry.Options{})
	sigs, err := collect(t, c, resolve(t, c, f.ref("demo/app:v1")))
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 3 {
		t.Fatalf("got %d signatures, want 3", len(sigs))
	}
	wantErr(t, sigs[0].Err, content.ErrMismatchedDigest, sameLen.Digest.String(), envSame.String())
	wantErr(t, sigs[1].Err, content.ErrTrailingData, longer.Digest.String())
	wantErr(t, sigs[2].Err, content.ErrMismatchedDigest, badManifest.Digest.String(), "fetching the manifest")
}

func TestGarbageReferrersIndex(t *testing.T) {
	for _, api := range []bool{false, true} {
		t.Run(fmt.Sprintf("api=%v", api), func(t *testing.T) {
			f := newFake(t)
			if api {
				f.UseReferrersAPI()
			}
			art := f.addArtifact("demo/app", "v1")
			garbage := []byte("<html>not an index</html>")
			f.tamper = func(w http.ResponseWriter, r *http.Request) bool {
				if strings.Contains(r.URL.Path, "/referrers/") && api ||
					strings.HasSuffix(r.URL.Path, "/manifests/sha256-"+art.Digest.Encoded()) && !api {
					writeContent(w, ocispec.MediaTypeImageIndex, digest.FromBytes(garbage), garbage)
					return true
				}
				return false
			}
			c := newClient(t, registry.Options{})
			target := resolve(t, c, f.ref("demo/app:v1"))
			_, err := collect(t, c, target)
			// What the JSON decoder says about the garbage is its own wording.
			wantErr(t, err, nil, "list signatures of "+target.Reference)
			if errors.Is(err, registry.ErrNoSignatures) {
				t.Error("a broken index is reported as no signatures")
			}
		})
	}
}

func TestReferrersIndexOverCap(t *testing.T) {
	f := newFake(t)
	art := f.addArtifact("demo/app", "v1")
	for i := range 40 {
		f.addSignature("demo/app", art, mtJWS, []byte(fmt.Sprint(i)))
	}
	c := newClient(t, registry.Options{MaxManifestBytes: 2048})
	_, err := collect(t, c, resolve(t, c, f.ref("demo/app:v1")))
	wantErr(t, err, errdef.ErrSizeExceedsLimit, "exceeds")
}

func TestBasicAuth(t *testing.T) {
	const user, pass = "alice", "s3cret-Pa55"
	f := newFake(t)
	f.user, f.pass = user, pass
	art := f.addArtifact("demo/app", "v1")
	f.addSignature("demo/app", art, mtJWS, []byte("jws"))
	ref := f.ref("demo/app:v1")

	t.Run("with credentials", func(t *testing.T) {
		c := newClient(t, registry.Options{Credentials: auth.StaticCredential(f.host(), auth.Credential{Username: user, Password: pass})})
		sigs, err := collect(t, c, resolve(t, c, ref))
		if err != nil || len(sigs) != 1 || sigs[0].Err != nil {
			t.Fatalf("signatures %+v, error %v", sigs, err)
		}
	})
	t.Run("without credentials", func(t *testing.T) {
		c := newClient(t, registry.Options{})
		_, err := c.Resolve(t.Context(), ref)
		wantErr(t, err, registry.ErrUnauthorized, ref, "docker login "+f.host(), "credential helper")
	})
	t.Run("wrong password", func(t *testing.T) {
		c := newClient(t, registry.Options{Credentials: auth.StaticCredential(f.host(), auth.Credential{Username: user, Password: "wrong-" + pass})})
		_, err := c.Resolve(t.Context(), ref)
		wantErr(t, err, registry.ErrUnauthorized, "401")
		if strings.Contains(err.Error(), pass) || strings.Contains(err.Error(), basicAuth(user, "wrong-"+pass)) {
			t.Errorf("error %q reveals the credential", err)
		}
	})
}

// TestDockerConfig uses the default credential source: the docker config,
// read lazily. Not parallel: it sets DOCKER_CONFIG.
func TestDockerConfig(t *testing.T) {
	const user, pass = "bob", "hunter2-x"
	locked := newFake(t)
	locked.user, locked.pass = user, pass
	locked.addArtifact("demo/app", "v1")
	open := newFake(t)
	open.addArtifact("demo/app", "v1")

	newDefault := func(t *testing.T) *registry.Client {
		c, err := registry.New(registry.Options{PlainHTTP: true})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	writeConfig := func(t *testing.T, data string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("DOCKER_CONFIG", dir)
	}

	t.Run("auths", func(t *testing.T) {
		writeConfig(t, fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, locked.host(), basicAuth(user, pass)))
		resolve(t, newDefault(t), locked.ref("demo/app:v1"))
	})
	t.Run("malformed config", func(t *testing.T) {
		writeConfig(t, `{"auths": [`)
		c := newDefault(t)
		// Anonymous access never reads the config.
		resolve(t, c, open.ref("demo/app:v1"))
		_, err := c.Resolve(t.Context(), locked.ref("demo/app:v1"))
		wantErr(t, err, nil, "loading registry credentials from the docker config", "config.json")
	})
}

func TestTLSErrorsHintPlainHTTP(t *testing.T) {
	f := newFake(t)
	f.addArtifact("demo/app", "v1")
	tlsSrv := httptest.NewUnstartedServer(f)
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failure is the point
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	c, err := registry.New(registry.Options{Credentials: anonymous}) // HTTPS
	if err != nil {
		t.Fatal(err)
	}
	for name, host := range map[string]string{
		"plain HTTP server":  f.host(),
		"self-signed server": strings.TrimPrefix(tlsSrv.URL, "https://"),
		"localhost":          strings.Replace(f.host(), "127.0.0.1", "localhost", 1),
	} {
		t.Run(name, func(t *testing.T) {
			ref := host + "/demo/app:v1"
			_, err := c.Resolve(t.Context(), ref)
			wantErr(t, err, nil, "resolve "+ref, "TLS", "--plain-http")
		})
	}
}

// TestSanitizesRegistryText: a registry cannot put terminal control
// sequences into error messages.
func TestSanitizesRegistryText(t *testing.T) {
	f := newFake(t)
	f.UseReferrersAPI()
	art := f.addArtifact("demo/app", "v1")
	f.tamper = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/referrers/") {
			writeError(w, http.StatusBadRequest, "DENIED", "\x1b[2J\x1b]0;pwned\x07 \u202eevil")
			return true
		}
		return false
	}
	c := newClient(t, registry.Options{})
	target := resolve(t, c, f.ref("demo/app:v1"))
	_, err := collect(t, c, target)
	wantErr(t, err, nil, "pwned")
	if strings.ContainsAny(err.Error(), "\x1b\x07\u202e") {
		t.Errorf("error %q holds control characters", err)
	}
	_ = art
}

func TestSignaturesValidatesTarget(t *testing.T) {
	c := newClient(t, registry.Options{})
	err := c.Signatures(t.Context(), registry.Target{Repository: "127.0.0.1:1/x"}, func(registry.Signature) bool { return false })
	wantErr(t, err, digest.ErrDigestInvalidFormat)
	err = c.Signatures(t.Context(), registry.Target{}, nil)
	wantErr(t, err, nil, "visit")
}

func TestContextCanceled(t *testing.T) {
	f := newFake(t)
	art := f.addArtifact("demo/app", "v1")
	f.addSignature("demo/app", art, mtJWS, []byte("1"))
	f.addSignature("demo/app", art, mtJWS, []byte("2"))
	c := newClient(t, registry.Options{})
	target := resolve(t, c, f.ref("demo/app:v1"))
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	err := c.Signatures(ctx, target, func(registry.Signature) bool {
		n++
		cancel()
		return false
	})
	wantErr(t, err, context.Canceled)
	if n != 1 {
		t.Errorf("visited %d signatures after cancel, want 1", n)
	}
}

// TestConcurrentUse shares one Client between goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	f := newFake(t)
	f.user, f.pass = "u", "p"
	art := f.addArtifact("demo/app", "v1")
	f.addSignature("demo/app", art, mtCOSE, []byte("c"))
	c := newClient(t, registry.Options{Credentials: auth.StaticCredential(f.host(), auth.Credential{Username: "u", Password: "p"})})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			target, err := c.Resolve(t.Context(), f.ref("demo/app:v1"))
			if err == nil {
				_, err = collect(t, c, target)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
