package admission

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

const (
	pkiDir = "../testdata/pki"
	cose   = "application/cose"
)

// testNow is within every test certificate's validity.
var testNow = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// fakeRevocation answers every certificate with one status, and the
// nextUpdate it is given. It counts its calls.
type fakeRevocation struct {
	mu     sync.Mutex
	status revocation.Status
	next   time.Time
	calls  int
}

func (f *fakeRevocation) set(s revocation.Status, next time.Time) {
	f.mu.Lock()
	f.status, f.next = s, next
	f.mu.Unlock()
}

func (f *fakeRevocation) checks() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeRevocation) Check(_ context.Context, req revocation.Request) ([]revocation.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	out := make([]revocation.Result, len(req.Chain))
	for i := range out {
		out[i] = revocation.Result{Status: f.status, Method: revocation.MethodCRL, URL: "http://127.0.0.1:1/ca.crl", ThisUpdate: req.Now, NextUpdate: f.next}
		if f.status == revocation.StatusRevoked {
			out[i].RevokedAt, out[i].Reason = req.Now.Add(-time.Minute), "keyCompromise"
		}
		if i == len(out)-1 {
			out[i] = revocation.Result{Status: revocation.StatusNonRevokable}
		}
	}
	return out, nil
}

// world is an in-process registry on 127.0.0.1 with the ec-256 test
// signer, whose root the policy trusts (ca:test, any identity, level
// strict, every repository), and an untrusted rsa-2048 signer; the policy
// and trust store live in dir.
type world struct {
	reg       *servicetest.Registry
	signer    *servicetest.Signer
	untrusted *servicetest.Signer
	dir       string
	paths     trustpolicy.Paths
	clock     *clock
	rev       *fakeRevocation
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{
		reg:       servicetest.NewRegistry(t),
		signer:    servicetest.NewSigner(t, pkiDir, "ec-256"),
		untrusted: servicetest.NewSigner(t, pkiDir, "rsa-2048"),
		dir:       t.TempDir(),
		clock:     &clock{t: testNow},
		rev:       &fakeRevocation{status: revocation.StatusNonRevokable},
	}
	w.paths = trustpolicy.Paths{Policy: filepath.Join(w.dir, "trustpolicy.json"), TrustStore: filepath.Join(w.dir, "truststore")}
	writeConfig(t, w.dir, policyJSON("strict", "*"), w.signer.Root())
	return w
}

// policyJSON is a trust policy with one statement "test" of level for
// scope, trusting ca:test and any identity.
func policyJSON(level, scope string) string {
	b, _ := json.Marshal(map[string]any{"version": "1.0", "trustPolicies": []any{map[string]any{
		"name": "test", "registryScopes": []string{scope}, "signatureVerification": map[string]any{"level": level},
		"trustStores": []string{"ca:test"}, "trustedIdentities": []string{"*"},
	}}})
	return string(b)
}

// writeConfig writes dir/trustpolicy.json and dir/truststore/x509/ca/test/root.crt.
func writeConfig(t testing.TB, dir, policy string, root *x509.Certificate) {
	t.Helper()
	store := filepath.Join(dir, "truststore", "x509", "ca", "test")
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "trustpolicy.json"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store, "root.crt"), pemCert(root), 0o644); err != nil {
		t.Fatal(err)
	}
}

// artifact stores a manifest in repo at tag and returns it.
func (w *world) artifact(repo, tag, content string) ocispec.Descriptor {
	return w.reg.PutManifest(repo, tag, ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"content":"`+content+`"}`))
}

// signed stores a manifest signed by the trusted signer and returns its
// digest reference.
func (w *world) signed(t testing.TB, repo, tag, content string) string {
	t.Helper()
	d := w.artifact(repo, tag, content)
	w.reg.AddSignature(repo, d, cose, w.signer.Sign(t, d, cose))
	return w.reg.Ref(repo + "@" + d.Digest.String())
}

// server starts a Server over the world (Reload done) and an HTTP test
// server for its handler.
func (w *world) server(t testing.TB, edit func(*Config)) (*Server, *httptest.Server) {
	t.Helper()
	client, err := registry.New(registry.Options{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Paths: w.paths, Registry: client, Revocation: w.rev, Now: w.clock.Now}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs
}

// post sends a ProviderRequest for keys and decodes the response.
func post(t *testing.T, url string, keys ...string) (int, ProviderResponse) {
	t.Helper()
	body, _ := json.Marshal(ProviderRequest{APIVersion: APIVersionV1beta1, Kind: KindProviderRequest, Request: Request{Keys: keys}})
	return postRaw(t, url, "application/json", body)
}

func postRaw(t *testing.T, url, contentType string, body []byte) (int, ProviderResponse) {
	t.Helper()
	resp, err := http.Post(url+PathVerify, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var pr ProviderResponse
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pr); err != nil {
		t.Fatalf("response %q: %v", raw, err)
	}
	if pr.Kind != KindProviderResponse || !pr.Response.Idempotent {
		t.Errorf("response %s: want kind ProviderResponse, idempotent", raw)
	}
	return resp.StatusCode, pr
}

// value decodes an item's value.
func value(t *testing.T, it Item) ItemValue {
	t.Helper()
	var v ItemValue
	if err := json.Unmarshal(it.Value, &v); err != nil {
		t.Fatalf("item %+v: %v", it, err)
	}
	return v
}

// get fetches path and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// metricValue is the value of the sample line "name{labels} value" in the
// /metrics text, or -1.
func metricValue(t *testing.T, url, sample string) string {
	t.Helper()
	_, body := get(t, url+PathMetrics)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v
		}
	}
	return "absent"
}

// newHTTPServer serves s's handler on 127.0.0.1 until the test ends and
// returns its URL.
func newHTTPServer(t *testing.T, s *Server) string {
	t.Helper()
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}
