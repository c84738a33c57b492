package revocation

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

func crlOnly(s *fakeServer) endpoints { return endpoints{crl: []string{s.url("/int.crl")}} }

func TestBadCRLNeverEntersCache(t *testing.T) {
	w := newWorld(t, worldConfig{leaf: crlOnly})
	w.srv.serveBytes("/int.crl", w.root.signCRL(t, crlSpec{next: testNow.AddDate(1, 0, 0)})) // wrong key, far future
	c := w.client()
	want(t, w.checkWith(c, time.Time{}, testNow)[0], StatusUnknown, MethodCRL, "not signed by the issuing CA")
	key := cacheKey(w.inter.cert, nil, false)
	if fileExists(filepath.Join(w.opts.CacheDir, key+cacheExt)) {
		t.Fatal("the bad CRL was written to the cache")
	}
	if _, ok := c.crls.mem.get(key); ok {
		t.Fatal("the bad CRL entered the memory cache")
	}
	// Not pinned: the next check downloads again and gets the good CRL.
	w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{}))
	want(t, w.checkWith(c, time.Time{}, testNow)[0], StatusOK, MethodCRL)
	if n := w.srv.count("/int.crl"); n != 2 {
		t.Errorf("%d downloads, want 2", n)
	}
}

func TestCRLCacheReuseAndRefetch(t *testing.T) {
	w := newWorld(t, worldConfig{leaf: crlOnly})
	r := w.check(time.Time{})[0] // client 1 downloads
	want(t, r, StatusOK, MethodCRL)
	if r.FromCache {
		t.Error("first check claims the cache")
	}
	// A new client (a new process) reloads from disk; no download.
	r = w.check(time.Time{})[0]
	want(t, r, StatusOK, MethodCRL)
	if !r.FromCache || w.srv.count("/int.crl") != 1 {
		t.Errorf("reload: fromCache=%v downloads=%d", r.FromCache, w.srv.count("/int.crl"))
	}
	// After NextUpdate the cached CRL is stale and is downloaded again.
	later := testNow.Add(48 * time.Hour)
	w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{number: 2, this: later.Add(-time.Hour), next: later.Add(24 * time.Hour)}))
	w.srv.serveBytes("/root.crl", w.root.signCRL(t, crlSpec{number: 2, this: later.Add(-time.Hour), next: later.Add(24 * time.Hour)}))
	r = w.checkWith(w.client(), time.Time{}, later)[0]
	want(t, r, StatusOK, MethodCRL)
	if r.FromCache || w.srv.count("/int.crl") != 2 || !r.NextUpdate.Equal(later.Add(24*time.Hour)) {
		t.Errorf("refetch: %+v, downloads=%d", r, w.srv.count("/int.crl"))
	}
}

func TestTamperedCacheIsNotTrusted(t *testing.T) {
	w := newWorld(t, worldConfig{leaf: crlOnly})
	w.check(time.Time{})
	key := cacheKey(w.inter.cert, nil, false)
	path := filepath.Join(w.opts.CacheDir, key+cacheExt)
	orig, _ := os.ReadFile(path)
	d, err := newDiskDir(w.opts.CacheDir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := loadCached(d, key, w.inter.cert, 0)
	if err != nil {
		t.Fatal(err)
	}
	for name, tamper := range map[string]func(){
		"bit flip": func() {
			b := append([]byte(nil), orig...)
			b[len(b)-10] ^= 1
			os.WriteFile(path, b, 0o600)
		},
		"other CRL with the index, checksum recomputed": func() {
			b, err := encodeIndex(idx, w.inter.signCRL(t, crlSpec{number: 7}))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(path, b, 0o600)
		},
	} {
		t.Run(name, func(t *testing.T) {
			before := w.srv.count("/int.crl")
			tamper()
			off := w.opts
			off.Offline = true
			c, err := New(off)
			if err != nil {
				t.Fatal(err)
			}
			want(t, w.checkWith(c, time.Time{}, testNow)[0], StatusUnknown, MethodCRL, "no cached CRL")
			want(t, w.check(time.Time{})[0], StatusOK, MethodCRL) // online: downloads and repairs
			if w.srv.count("/int.crl") != before+1 {
				t.Error("no new download")
			}
		})
	}
}

func TestOfflineEmptyCache(t *testing.T) {
	w := newWorld(t, worldConfig{})
	w.opts.Offline = true
	res := w.check(time.Time{})
	u := w.srv.url("/int.crl")
	chainFile := filepath.Join(w.opts.CacheDir, "chains", "chain-"+chainID(w.chain())+".pem")
	want(t, res[0], StatusUnknown, MethodOCSPFallbackCRL, "offline mode: no cached OCSP response",
		"no cached CRL for "+u+"; the signing chain is saved as "+chainFile+`; copy it to a connected machine and run "trustpolicy crl fetch --out crls chain-`+chainID(w.chain())+`.pem" in its folder, then copy that crls folder here and run "trustpolicy crl import --crl-cache `+w.opts.CacheDir+" --issuer "+chainFile+` crls/*.crl" in the folder that holds it`)
	saved, err := testpkiChain(chainFile)
	if err != nil || len(saved) != 3 || !saved[0].Equal(w.leaf) || !saved[1].Equal(w.inter.cert) || !saved[2].Equal(w.root.cert) {
		t.Errorf("saved chain %v: %v", saved, err)
	}
	want(t, res[1], StatusUnknown, MethodCRL, "no cached CRL for "+w.srv.url("/root.crl"))
	if w.srv.count("/ocsp")+w.srv.count("/int.crl")+w.srv.count("/root.crl") != 0 {
		t.Error("offline mode used the network")
	}
}

func TestOfflineWithImportedCRL(t *testing.T) {
	w := newWorld(t, worldConfig{})
	w.opts.Offline = true
	c := w.client()
	issuers := []*x509.Certificate{w.root.cert, w.inter.cert}
	at := testNow.Add(-time.Hour)
	intCRL := w.inter.signCRL(t, crlSpec{entries: []x509.RevocationListEntry{revoked(w.leaf, 1, at)}})
	info, err := c.CRLCache().Import(intCRL, issuers, testNow, "import /media/usb/int.crl")
	if err != nil {
		t.Fatal(err)
	}
	if info.Entries != 1 || info.Source != "import /media/usb/int.crl" || info.URL != "" || info.Number.Int64() != 1 || !fileExists(info.File) {
		t.Errorf("info %+v", info)
	}
	if _, err := c.CRLCache().Import(w.root.signCRL(t, crlSpec{}), issuers, testNow, "import root.crl"); err != nil {
		t.Fatal(err)
	}
	res := w.checkWith(c, time.Time{}, testNow)
	want(t, res[0], StatusRevoked, MethodOCSPFallbackCRL)
	want(t, res[1], StatusOK, MethodCRL)
	if !res[0].FromCache || !res[0].RevokedAt.Equal(at) {
		t.Errorf("%+v", res[0])
	}
	// A new offline client (new process) finds them on disk by issuer.
	res = w.check(time.Time{})
	want(t, res[0], StatusRevoked, MethodOCSPFallbackCRL)
	// Expired: the hint says so.
	res = w.checkWith(w.client(), time.Time{}, testNow.Add(72*time.Hour))
	want(t, res[1], StatusUnknown, MethodCRL, "the cached CRL for "+w.srv.url("/root.crl")+" expired at", `"trustpolicy crl fetch --out crls chain-`, "trustpolicy crl import --crl-cache")
	if w.srv.count("/ocsp")+w.srv.count("/int.crl")+w.srv.count("/root.crl") != 0 {
		t.Error("offline mode used the network")
	}
	list, err := c.CRLCache().List()
	if err != nil || len(list) != 2 {
		t.Fatalf("List: %v %+v", err, list)
	}
	if list[0].Issuer != "CN=Test Intermediate,O=Test" || list[1].Issuer != "CN=Test Root,O=Test" {
		t.Errorf("List order: %q %q", list[0].Issuer, list[1].Issuer)
	}
}

func TestImportErrors(t *testing.T) {
	w := newWorld(t, worldConfig{})
	c := w.client().CRLCache()
	crl := w.inter.signCRL(t, crlSpec{number: 5})
	other := newRoot(t, "Test Intermediate") // the intermediate's name, another key
	otherCert := *other.cert
	otherCert.RawSubject, otherCert.SubjectKeyId = w.inter.cert.RawSubject, []byte{1, 2, 3}
	inter := []*x509.Certificate{w.inter.cert}
	for _, tc := range []struct {
		name    string
		der     []byte
		issuers []*x509.Certificate
		kind    error
		text    string // a fact the message must state
	}{
		{"unknown issuer", crl, []*x509.Certificate{w.root.cert}, ErrNoIssuer, `its issuer "CN=Test Intermediate,O=Test" is none of the 1 certificates given`},
		{"same name, other key", crl, []*x509.Certificate{&otherCert}, ErrCRLSignature, "not signed by that CA's key"},
		{"the root's CRL among several candidates", w.root.signCRL(t, crlSpec{}), []*x509.Certificate{w.inter.cert, w.root.cert}, nil, ""},
		{"expired", w.inter.signCRL(t, crlSpec{next: testNow.Add(-time.Minute), this: testNow.Add(-time.Hour)}), inter, ErrCRLExpired, "expired"},
		{"junk", []byte("junk"), inter, ErrMalformedCRL, "malformed CRL"},
		{"unsupported critical extension", w.inter.signCRL(t, crlSpec{exts: []pkixExt{{Id: []int{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}}}), inter, ErrUnsupportedCRL, "1.2.3.4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Import(tc.der, tc.issuers, testNow, "import x")
			if tc.kind == nil {
				if err != nil {
					t.Fatalf("a valid root CRL: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.text) || !strings.HasPrefix(err.Error(), "the CRL was not imported: ") {
				t.Fatalf("got %v, want %v stating %q", err, tc.kind, tc.text)
			}
		})
	}
	if _, err := c.Import(crl, inter, testNow, "import x"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Import(crl, inter, testNow, "import x"); err != nil {
		t.Errorf("re-import of the same CRL: %v", err)
	}
	var newer *newerCachedError
	if _, err := c.Import(w.inter.signCRL(t, crlSpec{number: 4}), inter, testNow, "import x"); !errors.Is(err, ErrNewerCached) || !errors.As(err, &newer) || newer.have.Number != "5" {
		t.Errorf("rollback: %v", err)
	}
	w.opts.NoDiskCache = true
	if _, err := w.client().CRLCache().Import(crl, inter, testNow, "import x"); !errors.Is(err, ErrNoDiskCache) {
		t.Errorf("import without a disk cache: %v", err)
	}
}

// TestFetchErrors: a failed download says so; a CRL downloaded but not
// accepted says it was downloaded, not accepted, and why, and caches
// nothing.
func TestFetchErrors(t *testing.T) {
	w := newWorld(t, worldConfig{})
	u := w.srv.url("/int.crl")
	both := []*x509.Certificate{w.root.cert, w.inter.cert}
	impostor := newRoot(t, "Test Intermediate") // the intermediate's name, another key
	for _, tc := range []struct {
		name     string
		serve    func()
		issuers  []*x509.Certificate
		opts     func(*Options)
		rejected bool // downloaded, then not accepted
		kind     error
		text     string
	}{
		{"issuer not given", nil, []*x509.Certificate{w.root.cert}, nil, true, ErrNoIssuer,
			`the CRL downloaded from ` + u + ` was not accepted: its issuer "CN=Test Intermediate,O=Test" is none of the 1 certificates given`},
		{"signed by another key", func() { w.srv.serveBytes("/int.crl", impostor.signCRL(t, crlSpec{number: 2})) }, both, nil, true, ErrCRLSignature, "not signed by that CA's key"},
		{"expired", func() {
			w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{this: testNow.Add(-2 * time.Hour), next: testNow.Add(-time.Hour)}))
		}, both, nil, true, ErrCRLExpired, "expired at"},
		{"HTTP 500", func() { w.srv.serveStatus("/int.crl", 500) }, both, nil, false, ErrHTTPStatus, "failed to download the CRL from " + u + ": the server answered HTTP 500"},
		{"too large", nil, both, func(o *Options) { o.MaxCRLSize = 100 }, false, ErrTooLarge, "larger than the 100 bytes limit"},
		{"offline", nil, both, func(o *Options) { o.Offline = true }, false, ErrOffline, "offline mode"},
		{"https", nil, both, nil, false, ErrNotHTTP, "https URLs are not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{}))
			if tc.serve != nil {
				tc.serve()
			}
			o := w.opts
			o.CacheDir = filepath.Join(t.TempDir(), "crl")
			if tc.opts != nil {
				tc.opts(&o)
			}
			c, err := NewCRLCache(o)
			if err != nil {
				t.Fatal(err)
			}
			url := u
			if tc.kind == ErrNotHTTP {
				url = "https" + strings.TrimPrefix(u, "http")
			}
			_, err = c.FetchFrom(context.Background(), url, tc.issuers, testNow)
			var rej *RejectedError
			if !errors.Is(err, tc.kind) || errors.As(err, &rej) != tc.rejected || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v; want %v, rejected=%v, stating %q", err, tc.kind, tc.rejected, tc.text)
			}
			if rej != nil && rej.URL != url {
				t.Errorf("RejectedError.URL %q", rej.URL)
			}
			if strings.Contains(err.Error(), "failed to fetch") || strings.Contains(err.Error(), "trust store") {
				t.Errorf("message %q", err)
			}
			if list, _ := c.List(); len(list) != 0 {
				t.Errorf("cached %+v", list)
			}
		})
	}
}

func TestFetchAndDownload(t *testing.T) {
	w := newWorld(t, worldConfig{})
	c := w.client().CRLCache()
	info, err := c.Fetch(context.Background(), w.srv.url("/int.crl"), w.inter.cert, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if info.URL != w.srv.url("/int.crl") || info.Source != "network "+w.srv.url("/int.crl") {
		t.Errorf("%+v", info)
	}
	if _, err := c.Fetch(context.Background(), w.srv.url("/int.crl"), w.root.cert, testNow); err == nil {
		t.Error("fetch validated against the wrong issuer")
	}
	der, err := c.Download(context.Background(), w.srv.url("/root.crl"))
	if err != nil || len(der) == 0 {
		t.Fatal(err)
	}
	w.opts.Offline = true
	off := w.client().CRLCache()
	if _, err := off.Download(context.Background(), w.srv.url("/root.crl")); err == nil {
		t.Error("offline download")
	}
	if _, err := off.Fetch(context.Background(), w.srv.url("/root.crl"), w.root.cert, testNow); err == nil {
		t.Error("offline fetch")
	}
}

func TestOCSPCache(t *testing.T) {
	w := newWorld(t, worldConfig{})
	want(t, w.check(time.Time{})[0], StatusOK, MethodOCSP)
	r := w.check(time.Time{})[0] // new client: from the disk cache
	want(t, r, StatusOK, MethodOCSP)
	if !r.FromCache || w.srv.count("/ocsp") != 1 || r.URL != w.srv.url("/ocsp") {
		t.Errorf("%+v, %d requests", r, w.srv.count("/ocsp"))
	}
	// Past nextUpdate the cached response is not used.
	later := testNow.Add(2 * time.Hour)
	w.ocspAnswer = func(*ocsp.Request) []byte {
		return w.inter.signOCSP(t, w.leaf, ocspSpec{status: ocsp.Good, this: later, next: later.Add(time.Hour)})
	}
	w.srv.serveBytes("/root.crl", w.root.signCRL(t, crlSpec{number: 2, next: later.Add(time.Hour)}))
	r = w.checkWith(w.client(), time.Time{}, later)[0]
	want(t, r, StatusOK, MethodOCSP)
	if r.FromCache || w.srv.count("/ocsp") != 2 {
		t.Errorf("%+v", r)
	}
	// Unknown answers are not cached.
	w.ocspAnswer = func(*ocsp.Request) []byte { return w.inter.signOCSP(t, w.leaf, ocspSpec{status: ocsp.Unknown}) }
	w.opts.CacheDir = filepath.Join(t.TempDir(), "crl")
	w.check(time.Time{})
	if m, _ := filepath.Glob(filepath.Join(w.opts.CacheDir, "ocsp", "*")); len(m) != 0 {
		t.Errorf("unknown status cached: %v", m)
	}
}

func TestScopes(t *testing.T) {
	t.Run("onlySomeReasons needs another distribution point", func(t *testing.T) {
		w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints {
			return endpoints{crl: []string{s.url("/part.crl"), s.url("/int.crl")}}
		}})
		part := idpExt([]string{w.srv.url("/part.crl")}, false, false, []byte{7, 0x40}) // keyCompromise only
		w.srv.serveBytes("/part.crl", w.inter.signCRL(t, crlSpec{exts: []pkixExt{part}}))
		want(t, w.check(time.Time{})[0], StatusOK, MethodCRL)
		if w.srv.count("/int.crl") != 1 {
			t.Error("the complete CRL was not consulted")
		}
		w.srv.serveStatus("/int.crl", 500)
		w.opts.CacheDir = filepath.Join(t.TempDir(), "crl")
		want(t, w.check(time.Time{})[0], StatusUnknown, MethodCRL, "cover only some revocation reasons")
	})
	t.Run("CA-only CRL does not answer for a leaf", func(t *testing.T) {
		w := newWorld(t, worldConfig{leaf: crlOnly})
		w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{exts: []pkixExt{idpExt(nil, false, true, nil)}}))
		want(t, w.check(time.Time{})[0], StatusUnknown, MethodCRL, "covers CA certificates only")
	})
	t.Run("imported partition is matched by URL", func(t *testing.T) {
		w := newWorld(t, worldConfig{leaf: crlOnly})
		w.opts.Offline = true
		c := w.client()
		other := w.inter.signCRL(t, crlSpec{exts: []pkixExt{idpExt([]string{"http://elsewhere/p2.crl"}, false, false, nil)}})
		if _, err := c.CRLCache().Import(other, []*x509.Certificate{w.inter.cert}, testNow, "import p2"); err != nil {
			t.Fatal(err)
		}
		want(t, w.checkWith(c, time.Time{}, testNow)[0], StatusUnknown, MethodCRL, "no cached CRL for "+w.srv.url("/int.crl"))
		mine := w.inter.signCRL(t, crlSpec{exts: []pkixExt{idpExt([]string{w.srv.url("/int.crl")}, false, false, nil)}})
		if _, err := c.CRLCache().Import(mine, []*x509.Certificate{w.inter.cert}, testNow, "import p1"); err != nil {
			t.Fatal(err)
		}
		want(t, w.checkWith(c, time.Time{}, testNow)[0], StatusOK, MethodCRL)
	})
}

func TestMemoryOnly(t *testing.T) {
	w := newWorld(t, worldConfig{leaf: crlOnly})
	w.opts.NoDiskCache = true
	c := w.client()
	want(t, w.checkWith(c, time.Time{}, testNow)[0], StatusOK, MethodCRL)
	r := w.checkWith(c, time.Time{}, testNow)[0]
	if !r.FromCache || w.srv.count("/int.crl") != 1 {
		t.Errorf("memory cache unused: %+v", r)
	}
	if fileExists(w.opts.CacheDir) {
		t.Error("NoDiskCache wrote to disk")
	}
}
