package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testkit"
	"github.com/notation-pkcs11/notation-pkcs11/internal/userdirs"
)

func TestOCSPUsesGETWithoutNonce(t *testing.T) {
	w := newWorld(t, worldConfig{})
	var mu sync.Mutex
	var methods []string
	w.ocspAnswer = func(req *ocsp.Request) []byte {
		if req.HashAlgorithm.String() != "SHA-1" {
			t.Errorf("CertID hash %v", req.HashAlgorithm)
		}
		return w.inter.signOCSP(t, w.leaf, ocspSpec{status: ocsp.Good})
	}
	inner := w.srv.handlers["/ocsp"]
	w.srv.handle("/ocsp", func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		methods = append(methods, r.Method)
		mu.Unlock()
		p, _ := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/ocsp/"))
		der, err := base64.StdEncoding.DecodeString(p)
		nonce := []byte{0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02}
		if err != nil || bytes.Contains(der, nonce) || len(p) >= 255 {
			t.Errorf("GET request %q: %v (nonce or too long)", p, err)
		}
		inner(rw, r)
	})
	want(t, w.check(time.Time{})[0], StatusOK, MethodOCSP)
	if len(methods) != 1 || methods[0] != http.MethodGet {
		t.Errorf("methods %v", methods)
	}
}

func TestOCSPPostForLongRequests(t *testing.T) {
	srv := newFakeServer(t)
	var got *http.Request
	var body []byte
	srv.handle("/ocsp", func(rw http.ResponseWriter, r *http.Request) {
		got = r
		body, _ = io.ReadAll(r.Body)
		rw.Write([]byte("x"))
	})
	c, err := New(Options{NoDiskCache: true})
	if err != nil {
		t.Fatal(err)
	}
	long := bytes.Repeat([]byte{0x30}, 200) // base64 > 255 bytes
	if _, err := c.ocspExchange(context.Background(), srv.url("/ocsp"), long); err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPost || got.Header.Get("Content-Type") != "application/ocsp-request" || !bytes.Equal(body, long) {
		t.Errorf("%s %q %d bytes", got.Method, got.Header.Get("Content-Type"), len(body))
	}
}

// failingTransport injects a transport error for one host path.
type failingTransport struct {
	fail string
	next http.RoundTripper
}

func (f failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, f.fail) {
		return nil, errors.New("connection reset by fault injection")
	}
	return f.next.RoundTrip(r)
}

func TestInjectedTransport(t *testing.T) {
	w := newWorld(t, worldConfig{})
	w.opts.HTTPClient = &http.Client{Transport: failingTransport{fail: "/ocsp", next: http.DefaultTransport}}
	res := w.check(time.Time{})
	want(t, res[0], StatusOK, MethodOCSPFallbackCRL, "connection reset by fault injection")
	if strings.Contains(res[0].Detail, "Get \"") {
		t.Errorf("detail repeats the request URL: %q", res[0].Detail)
	}
}

func TestConnectionRefused(t *testing.T) {
	w := newWorld(t, worldConfig{leaf: func(*fakeServer) endpoints {
		return endpoints{ocsp: []string{"http://127.0.0.1:1/ocsp"}, crl: []string{"http://127.0.0.1:1/int.crl"}}
	}})
	want(t, w.check(time.Time{})[0], StatusUnknown, MethodOCSPFallbackCRL, "connection refused",
		"ocsp http://127.0.0.1:1/ocsp", "crl http://127.0.0.1:1/int.crl")
}

func TestTimestampingChain(t *testing.T) {
	srv := newFakeServer(t)
	root := newRoot(t, "TSA Root")
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tsa := root.issueLeaf(t, "TSA", endpoints{
		crl:  []string{srv.url("/root.crl")},
		exts: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	})
	// issueLeaf also sets code signing; rebuild without it.
	tmpl := *tsa
	tmpl.ExtKeyUsage = nil
	tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}}
	tmpl.CRLDistributionPoints = []string{srv.url("/root.crl")}
	tsa = testkit.Issue(t, &tmpl, tsa.PublicKey, root.cert, root.key)
	srv.serveBytes("/root.crl", root.signCRL(t, crlSpec{entries: []x509.RevocationListEntry{revoked(tsa, 1, testNow.Add(-time.Hour))}}))
	c, err := New(Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.drain)
	res, err := c.Check(context.Background(), Request{Chain: []*x509.Certificate{tsa, root.cert}, Purpose: PurposeTimestamping, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	want(t, res[0], StatusRevoked, MethodCRL)
	want(t, res[1], StatusNonRevokable, MethodNone)
	if _, err := c.Check(context.Background(), Request{Chain: []*x509.Certificate{tsa, root.cert}, Purpose: PurposeCodeSigning, Now: testNow}); err == nil {
		t.Error("a timestamping chain passed as code signing")
	}
}

func TestDeltaEvidence(t *testing.T) {
	w := newWorld(t, worldConfig{leaf: crlOnly})
	w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{number: 5, this: testNow.Add(-10 * time.Hour),
		exts: []pkixExt{dpExt(t, oidFreshestCRL(), false, w.srv.url("/delta.crl"))}}))
	w.srv.serveBytes("/delta.crl", w.inter.signCRL(t, crlSpec{number: 6, this: testNow.Add(-time.Hour), next: testNow.Add(2 * time.Hour),
		exts: []pkixExt{deltaIndicatorExt(5)}}))
	c := w.client()
	r := w.checkWith(c, time.Time{}, testNow)[0]
	want(t, r, StatusOK, MethodCRL)
	if !r.ThisUpdate.Equal(testNow.Add(-time.Hour)) || !r.NextUpdate.Equal(testNow.Add(2*time.Hour)) {
		t.Errorf("evidence %+v", r)
	}
	// Later, the delta has expired but the base has not: only the delta is
	// downloaded again.
	later := testNow.Add(3 * time.Hour)
	w.srv.serveBytes("/delta.crl", w.inter.signCRL(t, crlSpec{number: 7, this: later, next: later.Add(time.Hour),
		exts: []pkixExt{deltaIndicatorExt(5)}}))
	r = w.checkWith(c, time.Time{}, later)[0]
	want(t, r, StatusOK, MethodCRL)
	if w.srv.count("/int.crl") != 1 || w.srv.count("/delta.crl") != 2 || r.FromCache {
		t.Errorf("downloads base %d delta %d, %+v", w.srv.count("/int.crl"), w.srv.count("/delta.crl"), r)
	}
	list, _ := c.CRLCache().List()
	if len(list) != 3 || !list[1].Delta || list[1].DeltaBase.Int64() != 5 || len(list[0].DeltaURLs) != 1 {
		t.Errorf("list %+v", list)
	}
}

// TestOptionsDefaultCacheDir: the default cache is crl/ in notation-pkcs11's
// cache folder, the one the plugin and the trustpolicy command use
// (internal/userdirs): $NOTATION_PKCS11_CACHE first, else the user's.
func TestOptionsDefaultCacheDir(t *testing.T) {
	np, xdg := t.TempDir(), t.TempDir()
	t.Setenv("XDG_CACHE_HOME", xdg)
	t.Setenv("NOTATION_PKCS11_CACHE", np)
	if o, err := (Options{}).withDefaults(); err != nil || o.CacheDir != filepath.Join(np, "crl") {
		t.Errorf("with NOTATION_PKCS11_CACHE: %q, %v", o.CacheDir, err)
	}
	t.Setenv("NOTATION_PKCS11_CACHE", "")
	if o, err := (Options{}).withDefaults(); err != nil || o.CacheDir != filepath.Join(xdg, "notation-pkcs11", "crl") {
		t.Errorf("with XDG_CACHE_HOME: %q, %v", o.CacheDir, err)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	if o, err := (Options{}).withDefaults(); !errors.Is(err, userdirs.ErrNoCacheDir) {
		t.Errorf("no cache folder: %q, %v; want ErrNoCacheDir", o.CacheDir, err)
	}
	if o, err := (Options{NoDiskCache: true}).withDefaults(); err != nil || o.CacheDir != "" {
		t.Errorf("NoDiskCache: %q, %v", o.CacheDir, err)
	}
}

func TestOptionsValidation(t *testing.T) {
	if _, err := New(Options{OCSPTimeout: -1}); err == nil {
		t.Error("negative timeout accepted")
	}
	o, err := Options{CacheDir: "x"}.withDefaults()
	if err != nil || o.OCSPTimeout != 2*time.Second || o.CRLTimeout != 5*time.Second || o.ChainTimeout != 7*time.Second ||
		o.MaxCRLSize != 32<<20 || o.MaxOCSPResponseSize != 20480 {
		t.Errorf("%+v %v", o, err)
	}
}
