package revocation

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// partitionWorld: the leaf is in partition 1 (/p1.crl), OCSP is down, and
// the intermediate publishes two partitioned CRLs, each with an issuing
// distribution point naming its own URL. The leaf is revoked in partition 1.
type partitionWorld struct {
	*world
	p1, p2 []byte // the CRLs of partition 1 (revokes the leaf) and 2 (empty)
}

func newPartitionWorld(t *testing.T) *partitionWorld {
	w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints {
		return endpoints{ocsp: []string{s.url("/ocsp")}, crl: []string{s.url("/p1.crl")}}
	}})
	w.srv.serveStatus("/ocsp", 503)
	pw := &partitionWorld{world: w}
	pw.p1 = w.inter.signCRL(t, crlSpec{entries: []x509.RevocationListEntry{revoked(w.leaf, 1, testNow.Add(-time.Hour))},
		exts: []pkixExt{idpExt([]string{w.srv.url("/p1.crl")}, false, false, nil)}})
	pw.p2 = w.inter.signCRL(t, crlSpec{exts: []pkixExt{idpExt([]string{w.srv.url("/p2.crl")}, false, false, nil)}})
	w.srv.serveBytes("/p1.crl", pw.p1)
	w.srv.serveBytes("/p2.crl", pw.p2)
	return pw
}

// interFiles lists the cache files that hold a CRL of the intermediate or
// map a partition URL.
func (w *partitionWorld) interFiles() []string {
	w.t.Helper()
	var out []string
	for _, pat := range []string{issuerID(w.inter.cert) + "-*", urlRefName(w.srv.url("/p1.crl")), urlRefName(w.srv.url("/p2.crl"))} {
		m, err := filepath.Glob(filepath.Join(w.opts.CacheDir, pat))
		if err != nil {
			w.t.Fatal(err)
		}
		out = append(out, m...)
	}
	return out
}

// TestPartitionSubstitution: partition 2's valid, current CRL served at
// partition 1's URL must not answer for a leaf of partition 1, must not be
// cached and must not be mapped to the URL, so that a later offline run
// does not use it either.
func TestPartitionSubstitution(t *testing.T) {
	w := newPartitionWorld(t)
	w.srv.serveBytes("/p1.crl", w.p2) // the attacker's answer
	c := w.client()
	res := w.checkWith(c, time.Time{}, testNow)
	want(t, res[0], StatusUnknown, MethodOCSPFallbackCRL, "issuing distribution point mismatch", w.srv.url("/p2.crl"), "not "+w.srv.url("/p1.crl"))
	if files := w.interFiles(); len(files) != 0 {
		t.Errorf("the other partition's CRL was cached or mapped: %v", files)
	}
	if _, ok := c.crls.urlKey(w.srv.url("/p1.crl")); ok {
		t.Error("the URL was mapped in memory")
	}
	if _, ok := c.crls.mem.get(cacheKey(w.inter.cert, idpExt([]string{w.srv.url("/p2.crl")}, false, false, nil).Value, false)); ok {
		t.Error("the other partition's CRL entered the memory cache")
	}
	// Offline later: nothing to use.
	off := w.opts
	off.Offline = true
	oc, err := New(off)
	if err != nil {
		t.Fatal(err)
	}
	want(t, w.checkWith(oc, time.Time{}, testNow)[0], StatusUnknown, MethodOCSPFallbackCRL, "no cached CRL for "+w.srv.url("/p1.crl"))

	// The honest answer revokes, and is cached under its own URL.
	w.srv.serveBytes("/p1.crl", w.p1)
	want(t, w.checkWith(w.client(), time.Time{}, testNow)[0], StatusRevoked, MethodOCSPFallbackCRL)
	want(t, w.checkWith(oc, time.Time{}, testNow)[0], StatusRevoked, MethodOCSPFallbackCRL)
}

// TestPartitionPoisonedMapping: a cache written by an older version that
// mapped partition 1's URL to partition 2's CRL is not believed.
func TestPartitionPoisonedMapping(t *testing.T) {
	w := newPartitionWorld(t)
	w.opts.Offline = true
	c := w.client()
	info, err := c.CRLCache().Import(w.p2, []*x509.Certificate{w.inter.cert}, testNow, "import p2.crl")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(info.ScopeURLs, []string{w.srv.url("/p2.crl")}) {
		t.Errorf("scope %v", info.ScopeURLs)
	}
	// Imported with an IDP: indexed under its IDP name only.
	if !fileExists(filepath.Join(w.opts.CacheDir, urlRefName(w.srv.url("/p2.crl")))) || fileExists(filepath.Join(w.opts.CacheDir, urlRefName(w.srv.url("/p1.crl")))) {
		t.Errorf("import mapped %v", w.interFiles())
	}
	want(t, w.check(time.Time{})[0], StatusUnknown, MethodOCSPFallbackCRL, "no cached CRL for "+w.srv.url("/p1.crl"))
	// Poison: p1 -> p2's key, as the fetch path of an older version saved it.
	u := w.srv.url("/p1.crl")
	if err := os.WriteFile(filepath.Join(w.opts.CacheDir, urlRefName(u)), []byte(info.Key+"\n"+u+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var cacheErrs []error
	w.opts.OnCacheError = func(err error) { cacheErrs = append(cacheErrs, err) }
	want(t, w.check(time.Time{})[0], StatusUnknown, MethodOCSPFallbackCRL, "no cached CRL for "+u)
	if len(cacheErrs) == 0 || !errors.Is(cacheErrs[0], ErrIDPMismatch) {
		t.Errorf("cache errors %v, want the mismatch reported", cacheErrs)
	}
}

// TestPartitionFetchAPI: crl fetch of a URL (no certificate) applies the
// rule with the URL alone.
func TestPartitionFetchAPI(t *testing.T) {
	w := newPartitionWorld(t)
	w.srv.serveBytes("/p1.crl", w.p2)
	c := w.client().CRLCache()
	u := w.srv.url("/p1.crl")
	_, err := c.FetchFrom(context.Background(), u, []*x509.Certificate{w.root.cert, w.inter.cert}, testNow)
	var mis *IDPMismatchError
	if !errors.Is(err, ErrIDPMismatch) || !errors.As(err, &mis) || mis.URL != u || !slices.Equal(mis.IDPURLs, []string{w.srv.url("/p2.crl")}) {
		t.Errorf("FetchFrom: %v", err)
	}
	if _, err := c.Fetch(context.Background(), u, w.inter.cert, testNow); !errors.Is(err, ErrIDPMismatch) {
		t.Errorf("Fetch: %v", err)
	}
	if files := w.interFiles(); len(files) != 0 {
		t.Errorf("cached or mapped: %v", files)
	}
	// The right CRL at the right URL is accepted and mapped.
	info, err := c.FetchFrom(context.Background(), w.srv.url("/p2.crl"), []*x509.Certificate{w.inter.cert}, testNow)
	if err != nil || info.URL != w.srv.url("/p2.crl") {
		t.Fatalf("FetchFrom p2: %+v %v", info, err)
	}
	if !fileExists(filepath.Join(w.opts.CacheDir, urlRefName(w.srv.url("/p2.crl")))) {
		t.Error("not mapped")
	}
}

// TestPartitionMirror: a distribution point that names one CRL at two URIs
// accepts a CRL whose IDP names only the other one (RFC 5280 6.3.3 compares
// the IDP with the names of the distribution point), but a second
// distribution point of the certificate is another partition.
func TestPartitionMirror(t *testing.T) {
	var leafDP pkix.Extension
	w := newWorld(t, worldConfig{leaf: func(s *fakeServer) endpoints {
		leafDP = dpGroupsExt([][]string{{s.url("/m1/p1.crl"), s.url("/m2/p1.crl")}, {s.url("/p2.crl")}})
		return endpoints{exts: []pkix.Extension{leafDP}}
	}})
	w.srv.serveStatus("/m1/", 503)
	p1 := w.inter.signCRL(t, crlSpec{entries: []x509.RevocationListEntry{revoked(w.leaf, 1, testNow.Add(-time.Hour))},
		exts: []pkixExt{idpExt([]string{w.srv.url("/m1/p1.crl")}, false, false, nil)}})
	w.srv.serveBytes("/m2/p1.crl", p1)
	want(t, w.check(time.Time{})[0], StatusRevoked, MethodCRL)
	if got := distributionPointOf(w.leaf, w.srv.url("/p2.crl")); !slices.Equal(got, []string{w.srv.url("/p2.crl")}) {
		t.Errorf("distributionPointOf: %v", got)
	}
	// The CRL naming /m1/p1.crl served for the other distribution point is
	// refused there.
	w.opts.CacheDir = filepath.Join(t.TempDir(), "crl")
	w.srv.serveStatus("/m2/p1.crl", 503)
	w.srv.serveBytes("/p2.crl", p1)
	r := w.check(time.Time{})[0]
	want(t, r, StatusUnknown, MethodCRL, "issuing distribution point mismatch")
}

// TestPartitionDelta: a delta CRL has its base's IDP (RFC 5280 5.2.4), not
// the delta URL; a delta of another partition does not combine.
func TestPartitionDelta(t *testing.T) {
	w := newPartitionWorld(t)
	idp1 := idpExt([]string{w.srv.url("/p1.crl")}, false, false, nil)
	idp2 := idpExt([]string{w.srv.url("/p2.crl")}, false, false, nil)
	w.srv.serveBytes("/p1.crl", w.inter.signCRL(t, crlSpec{number: 5, exts: []pkixExt{idp1, dpExt(t, oidFreshestCRL(), false, w.srv.url("/p1-delta.crl"))}}))
	leafEntry := []x509.RevocationListEntry{revoked(w.leaf, 1, testNow.Add(-time.Hour))}
	w.srv.serveBytes("/p1-delta.crl", w.inter.signCRL(t, crlSpec{number: 6, entries: leafEntry, exts: []pkixExt{idp1, deltaIndicatorExt(5)}}))
	want(t, w.check(time.Time{})[0], StatusRevoked, MethodOCSPFallbackCRL)

	w.opts.CacheDir = filepath.Join(t.TempDir(), "crl")
	w.srv.serveBytes("/p1-delta.crl", w.inter.signCRL(t, crlSpec{number: 6, exts: []pkixExt{idp2, deltaIndicatorExt(5)}}))
	want(t, w.check(time.Time{})[0], StatusUnknown, MethodOCSPFallbackCRL, "different scopes")
}

func TestCheckScope(t *testing.T) {
	const u, sib, other = "http://ca/p1.crl", "http://mirror/p1.crl", "http://ca/p2.crl"
	dirName := func() *idpInfo { // distributionPoint present, no URI
		idp, err := parseIDP(idpDirNameExt(t))
		if err != nil {
			t.Fatal(err)
		}
		return idp
	}
	for _, tc := range []struct {
		name     string
		idp      *idpInfo
		url      string
		certURLs []string
		ok       bool
	}{
		{"no IDP: the issuer's full scope", nil, u, nil, true},
		{"IDP without a distribution point", &idpInfo{onlyUser: true}, u, nil, true},
		{"names the URL", &idpInfo{named: true, uris: []string{other, u}}, u, nil, true},
		{"names a sibling of the certificate's distribution point", &idpInfo{named: true, uris: []string{sib}}, u, []string{u, sib}, true},
		{"names another partition", &idpInfo{named: true, uris: []string{other}}, u, []string{u}, false},
		{"names another partition, no certificate", &idpInfo{named: true, uris: []string{other}}, u, nil, false},
		{"directory name only: fail closed", dirName(), u, []string{u}, false},
		{"case differs", &idpInfo{named: true, uris: []string{strings.ToUpper(u)}}, u, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.idp.checkScope(tc.url, tc.certURLs)
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrIDPMismatch) {
				t.Fatalf("checkScope: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "issuing distribution point mismatch") {
				t.Errorf("message %q", err)
			}
		})
	}
}

// dpGroupsExt encodes a CRLDistributionPoints extension with one
// DistributionPoint per group, each naming the group's URIs.
func dpGroupsExt(groups [][]string) pkix.Extension {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, g := range groups {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						for _, u := range g {
							b.AddASN1(cbasn1.Tag(6).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(u)) })
						}
					})
				})
			})
		}
	})
	return pkix.Extension{Id: oidCRLDistributionPoints(), Value: b.BytesOrPanic()}
}

// idpDirNameExt is an IDP value whose distribution point is a directory
// name (GeneralName [4]), without any URI.
func idpDirNameExt(t *testing.T) []byte {
	t.Helper()
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(*cryptobyte.Builder) {})
				})
			})
		})
	})
	return b.BytesOrPanic()
}
