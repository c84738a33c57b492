package ratifyverifier

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// testRegistry serves one subject manifest, one signature manifest and its
// envelope over plain HTTP on 127.0.0.1.
type testRegistry struct {
	subject, sigManifest, envelope []byte
	// lie replaces the bytes served for a blob (content not matching its
	// digest).
	lie []byte
}

func (r *testRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	serve := func(mt string, b []byte) {
		w.Header().Set("Content-Type", mt)
		w.Header().Set("Docker-Content-Digest", digest.FromBytes(b).String())
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if req.Method != http.MethodHead {
			_, _ = w.Write(b)
		}
	}
	switch p := req.URL.Path; {
	case p == "/v2/":
		w.WriteHeader(http.StatusOK)
	case p == "/v2/app/manifests/"+digest.FromBytes(r.subject).String():
		serve(ocispec.MediaTypeImageManifest, r.subject)
	case p == "/v2/app/manifests/"+digest.FromBytes(r.sigManifest).String():
		serve(ocispec.MediaTypeImageManifest, r.sigManifest)
	case p == "/v2/app/blobs/"+digest.FromBytes(r.envelope).String():
		if r.lie != nil {
			serve("application/octet-stream", r.lie)
			return
		}
		serve("application/octet-stream", r.envelope)
	default:
		http.NotFound(w, req)
	}
}

func manifestWith(layers ...ocispec.Descriptor) []byte {
	return manifestWithSubject(nil, layers...)
}

func manifestWithSubject(subject *ocispec.Descriptor, layers ...ocispec.Descriptor) []byte {
	b, _ := json.Marshal(ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: ocispec.DescriptorEmptyJSON, Layers: layers, Subject: subject})
	return b
}

// fetchFrom serves reg on 127.0.0.1 and fetches its signature manifest's
// envelope with a RegistryFetcher.
func fetchFrom(t *testing.T, reg *testRegistry) (Signature, error) {
	t.Helper()
	srv := httptest.NewServer(reg)
	defer srv.Close()
	f := NewRegistryFetcher(StoreConfig{Name: "oras", UseHTTP: true}, nil)
	ref := strings.TrimPrefix(srv.URL, "http://") + "/app@" + digest.FromBytes(reg.subject).String()
	sig := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(reg.sigManifest), Size: int64(len(reg.sigManifest))}
	return f.Envelope(context.Background(), ref, sig)
}

func TestRegistryFetcher(t *testing.T) {
	env := []byte("envelope bytes")
	envDesc := ocispec.Descriptor{MediaType: "application/cose", Digest: digest.FromBytes(env), Size: int64(len(env))}
	subject := manifestWith()
	cases := []struct {
		name     string
		manifest []byte
		lie      []byte
		size     int64 // overrides the signature descriptor's size
		want     string
	}{
		{name: "ok", manifest: manifestWith(envDesc)},
		{name: "two layers", manifest: manifestWith(envDesc, envDesc), want: "has 2 layers, want exactly 1"},
		{name: "no layer", manifest: manifestWith(), want: "has 0 layers"},
		{name: "unknown envelope type", manifest: manifestWith(ocispec.Descriptor{MediaType: "text/plain", Digest: envDesc.Digest, Size: envDesc.Size}), want: `envelope media type "text/plain"`},
		{name: "envelope too big", manifest: manifestWith(ocispec.Descriptor{MediaType: "application/cose", Digest: envDesc.Digest, Size: 33 << 20}), want: "outside 0..33554432"},
		{name: "envelope content lies", manifest: manifestWith(envDesc), lie: []byte("other bytes!!!"), want: "fetching signature envelope"},
		{name: "manifest too big", manifest: manifestWith(envDesc), size: 5 << 20, want: "over the 4194304-byte limit"},
		{name: "manifest not json", manifest: []byte("not json"), want: "invalid character"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := &testRegistry{subject: subject, sigManifest: c.manifest, envelope: env, lie: c.lie}
			srv := httptest.NewServer(reg)
			defer srv.Close()
			host := strings.TrimPrefix(srv.URL, "http://")
			f := NewRegistryFetcher(StoreConfig{Name: "oras", UseHTTP: true}, nil)
			ref := host + "/app@" + digest.FromBytes(subject).String()
			d, err := f.Resolve(context.Background(), ref)
			if err != nil || d.Digest != digest.FromBytes(subject) || d.Size != int64(len(subject)) || d.MediaType != ocispec.MediaTypeImageManifest {
				t.Fatalf("Resolve: %+v %v", d, err)
			}
			sig := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(c.manifest), Size: int64(len(c.manifest))}
			if c.size != 0 {
				sig.Size = c.size
			}
			got, err := f.Envelope(context.Background(), ref, sig)
			if c.want == "" {
				if err != nil || string(got.Envelope) != string(env) || got.MediaType != "application/cose" || got.Subject != nil {
					t.Fatalf("Envelope: %+v %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Envelope error %v, want %q", err, c.want)
			}
		})
	}
	t.Run("unknown subject", func(t *testing.T) {
		srv := httptest.NewServer(&testRegistry{subject: subject})
		defer srv.Close()
		f := NewRegistryFetcher(StoreConfig{Name: "oras", UseHTTP: true}, nil)
		_, err := f.Resolve(context.Background(), strings.TrimPrefix(srv.URL, "http://")+"/app@"+digest.FromString("nope").String())
		if err == nil || !strings.Contains(err.Error(), "resolving") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("bad subject", func(t *testing.T) {
		f := NewRegistryFetcher(StoreConfig{Name: "oras"}, nil)
		if _, err := f.Resolve(context.Background(), "not a reference"); err == nil || !strings.Contains(err.Error(), "is not a registry reference") {
			t.Fatalf("got %v", err)
		}
		if _, err := f.Envelope(context.Background(), "127.0.0.1:1/app@"+digest.FromString("x").String(), ocispec.Descriptor{MediaType: "application/json"}); err == nil || !strings.Contains(err.Error(), "unsupported media type") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestPlainHTTPRefused: without useHttp, no request leaves in clear text.
func TestPlainHTTPRefused(t *testing.T) {
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit = true }))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/", nil)
	_, err := defaultHTTPClient(false).Do(req)
	if !errors.Is(err, ErrPlainHTTP) || hit {
		t.Fatalf("got %v (server hit %v), want ErrPlainHTTP", err, hit)
	}
	resp, err := defaultHTTPClient(true).Do(req)
	if err != nil || !hit {
		t.Fatalf("useHttp: %v", err)
	}
	resp.Body.Close()
}
