package registry_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-core-go/signature/jws"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
)

// recorder logs "METHOD PATH STATUS" of every exchange.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	log  []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	status := "error"
	if err == nil {
		status = resp.Status
	}
	r.mu.Lock()
	r.log = append(r.log, req.Method+" "+req.URL.Path+" "+status)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) saw(prefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.log, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

// TestE2ENotationSignatures: signatures made by the real notation CLI
// v1.3.2 in a real distribution registry (no referrers API, so notation
// stores them with the referrers tag schema) are listed and fetched, and
// their envelopes parse and name the artifact.
func TestE2ENotationSignatures(t *testing.T) {
	tools := e2e.ToolsT(t) // skips, or fails under CI / NOTATION_PKCS11_E2E=required
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	ctx := t.Context()

	start := time.Now()
	reg := e2e.StartRegistryT(t, tools)
	t.Logf("registry start: %v", time.Since(start))
	ref := reg.Ref("e2e/registry:v1")
	artifactDigest := e2e.PushT(t, tools, ref, []byte("artifact for the registry layer\n"))
	digestRef := reg.Ref("e2e/registry@" + artifactDigest)

	n := e2e.NewNotationT(t, tools)
	mustRun := func(args ...string) string {
		t.Helper()
		start := time.Now()
		stdout, stderr, code, err := n.Run(ctx, args...)
		if err != nil || code != 0 {
			t.Fatalf("notation %v: exit %d, err %v\nstdout: %s\nstderr: %s", args, code, err, stdout, stderr)
		}
		t.Logf("notation %s: %v", args[0], time.Since(start))
		return stdout
	}
	mustRun("cert", "generate-test", "--default", "e2e-registry")
	mustRun("sign", "--insecure-registry", "--signature-format", "cose", digestRef)
	mustRun("sign", "--insecure-registry", "--signature-format", "jws", digestRef)
	listed := mustRun("list", "--insecure-registry", digestRef)
	t.Logf("notation list:\n%s", listed)

	rec := &recorder{base: http.DefaultTransport}
	c, err := registry.New(registry.Options{PlainHTTP: true, HTTPClient: &http.Client{Transport: rec, Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}

	start = time.Now()
	target, err := c.Resolve(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("resolve: %v", time.Since(start))
	if target.Descriptor.Digest.String() != artifactDigest || target.Reference != digestRef ||
		target.Repository != reg.Ref("e2e/registry") || target.Tag != "v1" ||
		target.Descriptor.MediaType != ocispec.MediaTypeImageManifest || target.Descriptor.Size <= 0 {
		t.Fatalf("Resolve(%s) = %+v, want digest %s", ref, target, artifactDigest)
	}

	start = time.Now()
	var sigs []registry.Signature
	err = c.Signatures(ctx, target, func(s registry.Signature) bool {
		sigs = append(sigs, s)
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("list and fetch %d signatures: %v", len(sigs), time.Since(start))
	if len(sigs) != 2 {
		t.Fatalf("got %d signatures, want 2", len(sigs))
	}

	// The registry has no referrers API: the tag schema was used.
	if !rec.saw("GET /v2/e2e/registry/referrers/" + artifactDigest + " 404") {
		t.Errorf("the referrers API was not tried first (or did not answer 404); requests:\n%s", strings.Join(rec.log, "\n"))
	}
	if !rec.saw("GET /v2/e2e/registry/manifests/sha256-" + strings.TrimPrefix(artifactDigest, "sha256:") + " 200") {
		t.Errorf("the referrers tag schema was not used; requests:\n%s", strings.Join(rec.log, "\n"))
	}

	// notation list shows the same signature manifests.
	var ours []string
	for _, s := range sigs {
		ours = append(ours, s.Descriptor.Digest.String())
	}
	theirs := slices.DeleteFunc(regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindAllString(listed, -1),
		func(d string) bool { return d == artifactDigest })
	if !slices.Equal(ours, theirs) { // same order too: both read the same index
		t.Errorf("signature manifests %v, notation list shows %v:\n%s", ours, theirs, listed)
	}

	var mediaTypes []string
	for _, s := range sigs {
		if s.Err != nil {
			t.Errorf("signature %s: %v", s.Descriptor.Digest, s.Err)
			continue
		}
		if s.Descriptor.ArtifactType != registry.ArtifactTypeNotation || s.Descriptor.MediaType != ocispec.MediaTypeImageManifest {
			t.Errorf("signature manifest descriptor %+v", s.Descriptor)
		}
		mediaTypes = append(mediaTypes, s.MediaType)
		env, err := signature.ParseEnvelope(s.MediaType, s.Envelope)
		if err != nil {
			t.Errorf("ParseEnvelope(%s): %v", s.MediaType, err)
			continue
		}
		content, err := env.Verify() // integrity against the embedded chain, not trust
		if err != nil {
			t.Errorf("%s envelope does not verify: %v", s.MediaType, err)
			continue
		}
		var payload struct {
			TargetArtifact ocispec.Descriptor `json:"targetArtifact"`
		}
		if err := json.Unmarshal(content.Payload.Content, &payload); err != nil {
			t.Errorf("%s payload: %v", s.MediaType, err)
			continue
		}
		got := payload.TargetArtifact
		if got.Digest != target.Descriptor.Digest || got.MediaType != target.Descriptor.MediaType || got.Size != target.Descriptor.Size {
			t.Errorf("%s payload targetArtifact = %+v, want %+v", s.MediaType, got, target.Descriptor)
		}
	}
	slices.Sort(mediaTypes)
	if want := []string{cose.MediaTypeEnvelope, jws.MediaTypeEnvelope}; !slices.Equal(mediaTypes, want) {
		t.Errorf("envelope media types %v, want %v", mediaTypes, want)
	}
	if registry.MediaTypeCOSEEnvelope != cose.MediaTypeEnvelope || registry.MediaTypeJWSEnvelope != jws.MediaTypeEnvelope {
		t.Error("envelope media type constants differ from notation-core-go's")
	}

	// The default HTTP client (timeouts, retries) sees the same.
	def, err := registry.New(registry.Options{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defTarget, err := def.Resolve(ctx, ref)
	if err != nil || defTarget.Reference != target.Reference || defTarget.Descriptor.Size != target.Descriptor.Size {
		t.Fatalf("default client: Resolve = %+v, %v; want %+v", defTarget, err, target)
	}
	count := 0
	err = def.Signatures(ctx, defTarget, func(s registry.Signature) bool {
		if s.Err == nil {
			count++
		}
		return false
	})
	if err != nil || count != 2 {
		t.Errorf("default client: %d good signatures, error %v; want 2", count, err)
	}

	// Stopping at the first signature fetches no more envelopes.
	before := len(rec.log)
	err = c.Signatures(ctx, target, func(registry.Signature) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	blobs := 0
	for _, l := range rec.log[before:] {
		if strings.Contains(l, "/blobs/") {
			blobs++
		}
	}
	if blobs != 1 {
		t.Errorf("stopping at the first signature fetched %d envelopes, want 1", blobs)
	}
}
