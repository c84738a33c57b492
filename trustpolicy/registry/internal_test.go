package registry

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

func anonymous(context.Context, string) (auth.Credential, error) { return auth.EmptyCredential, nil }

// trustingClient is New(Options{}) (HTTPS, default HTTP client) that also
// trusts srv's certificate.
func trustingClient(t *testing.T, srv *httptest.Server) *Client {
	t.Helper()
	c, err := New(Options{Credentials: anonymous})
	if err != nil {
		t.Fatal(err)
	}
	base := c.auth.Client.Transport.(httpsOnly).base.(*retry.Transport).Base.(*http.Transport)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	base.TLSClientConfig.RootCAs = pool
	return c
}

func quietTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestDefaultClientRefusesPlainHTTP: without PlainHTTP, neither a redirect
// to http:// nor a token realm on http:// is followed.
func TestDefaultClientRefusesPlainHTTP(t *testing.T) {
	var plainHits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainHits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(plain.Close)

	const manifest = `{"schemaVersion":2}`
	secure := quietTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/manifests/redirect"):
			http.Redirect(w, r, plain.URL+r.URL.Path, http.StatusTemporaryRedirect)
		case strings.HasSuffix(r.URL.Path, "/manifests/token"):
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+plain.URL+`/token",service="x"`)
			w.WriteHeader(http.StatusUnauthorized)
		case strings.HasSuffix(r.URL.Path, "/manifests/ok"):
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Docker-Content-Digest", digest.FromString(manifest).String())
			w.Header().Set("Content-Length", "19")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, manifest)
		default:
			http.NotFound(w, r)
		}
	}))
	host := strings.TrimPrefix(secure.URL, "https://")
	c := trustingClient(t, secure)

	if _, err := c.Resolve(t.Context(), host+"/demo/app:ok"); err != nil {
		t.Fatalf("Resolve over HTTPS: %v", err)
	}
	for _, tag := range []string{"redirect", "token"} {
		_, err := c.Resolve(t.Context(), host+"/demo/app:"+tag)
		if !errors.Is(err, errPlainHTTPRefused) {
			t.Errorf("Resolve(%s) error = %v, want errPlainHTTPRefused", tag, err)
		} else {
			t.Logf("error: %v", err)
		}
	}
	if n := plainHits.Load(); n != 0 {
		t.Errorf("the plain-HTTP server got %d requests", n)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "localhost:5000": true, "LOCALHOST:1": true,
		"127.0.0.1:5000": true, "127.1.2.3": true, "[::1]:5000": true, "::1": true,
		"10.0.0.1:5000": false, "registry.example:443": false, "localhost.example.com": false,
		"[::ffff:127.0.0.1]:80": true, "0.0.0.0:5000": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestDescribeTLSHint(t *testing.T) {
	err := &wrapErr{http.ErrSchemeMismatch}
	c := &Client{plainHTTPHint: DefaultPlainHTTPHint}
	remote := c.describe(err, "resolve r", registry.Reference{Registry: "registry.example"}, "")
	if strings.Contains(remote.Error(), "--plain-http") {
		t.Errorf("hint for a remote registry mentions --plain-http: %v", remote)
	}
	local := c.describe(err, "resolve r", registry.Reference{Registry: "127.0.0.1:5000"}, "")
	if !strings.Contains(local.Error(), "--plain-http") {
		t.Errorf("hint for a loopback registry does not mention --plain-http: %v", local)
	}
	ratify := &Client{plainHTTPHint: `set "useHttp": true in the store entry`}
	if got := ratify.describe(err, "resolve r", registry.Reference{Registry: "127.0.0.1:5000"}, "").Error(); !strings.HasSuffix(got, `serves plain HTTP, set "useHttp": true in the store entry`) || strings.Contains(got, "--plain-http") {
		t.Errorf("hint with Options.PlainHTTPHint: %v", got)
	}
	if plain := (&Client{plainHTTP: true, plainHTTPHint: DefaultPlainHTTPHint}).describe(err, "resolve r", registry.Reference{Registry: "127.0.0.1:5000"}, ""); strings.Contains(plain.Error(), "plain HTTP") {
		t.Errorf("hint with PlainHTTP on: %v", plain)
	}
}

type wrapErr struct{ err error }

func (e *wrapErr) Error() string { return "Get: " + e.err.Error() }
func (e *wrapErr) Unwrap() error { return e.err }

func TestSanitize(t *testing.T) {
	base := errors.New("a\x1b[31mb\u202ec\x00d\xffe")
	got := sanitize(base)
	if got.Error() != `a\x1b[31mb\u202ec\x00d\xffe` {
		t.Errorf("sanitize = %q", got)
	}
	if !errors.Is(got, base) {
		t.Error("sanitize lost the chain")
	}
	clean := errors.New("plain — text ✓")
	if sanitize(clean) != clean {
		t.Error("sanitize replaced a clean error")
	}
	if sanitize(nil) != nil {
		t.Error("sanitize(nil) != nil")
	}
}

// TestCheckResolved: a digest reference answered with another digest is
// refused with both digests, whatever the transport checked before.
func TestCheckResolved(t *testing.T) {
	d := digest.FromString("asked")
	other := digest.FromString("answered")
	for _, c := range []struct {
		ref  string
		got  digest.Digest
		fail bool
	}{
		{"registry.example/app@" + d.String(), d, false},
		{"registry.example/app:v1@" + d.String(), d, false},
		{"registry.example/app:v1", other, false},
		{"registry.example/app@" + d.String(), other, true},
		{"registry.example/app:v1@" + d.String(), other, true},
	} {
		r, err := registry.ParseReference(c.ref)
		if err != nil {
			t.Fatal(err)
		}
		err = checkResolved(c.ref, r, ocispec.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: c.got, Size: 2})
		var sm *trustpolicy.SubjectMismatchError
		switch {
		case !c.fail && err != nil:
			t.Errorf("%s answered with %s: %v", c.ref, c.got, err)
		case c.fail && (!errors.As(err, &sm) || !errors.Is(err, trustpolicy.ErrSubjectMismatch) || sm.ReferenceDigest != d || sm.DescriptorDigest != c.got ||
			!strings.Contains(err.Error(), d.String()) || !strings.Contains(err.Error(), c.got.String())):
			t.Errorf("%s answered with %s: %v", c.ref, c.got, err)
		}
	}
}
