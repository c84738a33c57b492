package revocation

import (
	"context"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// world is a root -> intermediate -> leaf chain whose revocation endpoints
// point at one fake server:
//
//	intermediate: CRL /root.crl (signed by the root)
//	leaf:         OCSP /ocsp, CRL /int.crl (signed by the intermediate)
//
// By default every endpoint answers "good".
type world struct {
	t     *testing.T
	srv   *fakeServer
	root  *testCA
	inter *testCA
	leaf  *x509.Certificate
	dir   string
	opts  Options
	// ocspAnswer builds the OCSP response for the leaf; nil: good.
	ocspAnswer func(req *ocsp.Request) []byte
}

type worldConfig struct {
	leaf  func(srv *fakeServer) endpoints // default: /ocsp + /int.crl
	inter func(srv *fakeServer) endpoints // default: /root.crl
}

func newWorld(t *testing.T, cfg worldConfig) *world {
	t.Helper()
	dir := t.TempDir() // removed after the server closed and clients drained
	w := &world{t: t, srv: newFakeServer(t), dir: dir}
	if cfg.leaf == nil {
		cfg.leaf = func(s *fakeServer) endpoints {
			return endpoints{ocsp: []string{s.url("/ocsp")}, crl: []string{s.url("/int.crl")}}
		}
	}
	if cfg.inter == nil {
		cfg.inter = func(s *fakeServer) endpoints { return endpoints{crl: []string{s.url("/root.crl")}} }
	}
	w.root = newRoot(t, "Test Root")
	w.inter = w.root.issueCA(t, "Test Intermediate", cfg.inter(w.srv))
	w.leaf = w.inter.issueLeaf(t, "Test Leaf", cfg.leaf(w.srv))
	w.srv.serveBytes("/root.crl", w.root.signCRL(t, crlSpec{}))
	w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{}))
	w.srv.handle("/ocsp", func(rw http.ResponseWriter, r *http.Request) {
		req := ocspRequestOf(t, r, "/ocsp")
		if req == nil {
			http.Error(rw, "bad request", http.StatusBadRequest)
			return
		}
		if w.ocspAnswer != nil {
			rw.Write(w.ocspAnswer(req))
			return
		}
		rw.Write(w.inter.signOCSP(t, w.leaf, ocspSpec{status: ocsp.Good}))
	})
	w.opts = Options{
		CacheDir: filepath.Join(w.dir, "crl"), OCSPTimeout: 500 * time.Millisecond,
		CRLTimeout: time.Second, ChainTimeout: 4 * time.Second,
		OnCacheError: func(err error) { t.Logf("cache error: %v", err) },
	}
	return w
}

func (w *world) chain() []*x509.Certificate {
	return []*x509.Certificate{w.leaf, w.inter.cert, w.root.cert}
}

func (w *world) client() *Client {
	w.t.Helper()
	c, err := New(w.opts)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(c.drain)
	return c
}

// check runs one chain check with a fresh client.
func (w *world) check(signingTime time.Time) []Result {
	w.t.Helper()
	return w.checkWith(w.client(), signingTime, testNow)
}

func (w *world) checkWith(c *Client, signingTime, now time.Time) []Result {
	w.t.Helper()
	res, err := c.Check(context.Background(), Request{Chain: w.chain(), SigningTime: signingTime, Now: now})
	if err != nil {
		w.t.Fatalf("Check: %v", err)
	}
	if len(res) != 3 {
		w.t.Fatalf("got %d results, want 3", len(res))
	}
	return res
}

// want asserts a result's status and method, and that its detail contains
// every fragment.
func want(t *testing.T, r Result, status Status, method Method, detail ...string) {
	t.Helper()
	t.Logf("%s %s %s: %s", r.Status, r.Method, r.URL, r.Detail)
	if r.Status != status || r.Method != method {
		t.Errorf("got status %q method %q (detail %q), want %q %q", r.Status, r.Method, r.Detail, status, method)
	}
	for _, d := range detail {
		if !strings.Contains(r.Detail, d) {
			t.Errorf("detail %q does not contain %q", r.Detail, d)
		}
	}
}

// cachedCRLFiles lists the cached CRL files.
func (w *world) cachedCRLFiles() []string {
	w.t.Helper()
	m, err := filepath.Glob(filepath.Join(w.opts.CacheDir, "*"+cacheExt))
	if err != nil {
		w.t.Fatal(err)
	}
	return m
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
