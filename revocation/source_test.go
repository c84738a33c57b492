package revocation

import (
	"crypto/x509"
	"testing"
	"time"
)

// wantSource asserts a result's Source and that FromCache agrees with it.
func wantSource(t *testing.T, step string, r Result, src Source) {
	t.Helper()
	if r.Source != src || r.FromCache != (src == SourceMemory || src == SourceDisk || src == SourceImported) {
		t.Errorf("%s: source %q fromCache %v, want %q (%s %s %s)", step, r.Source, r.FromCache, src, r.Status, r.Method, r.Detail)
	}
}

// TestResultSource: a Result says where its evidence came from: the
// network, the memory cache of the same client, the disk cache of a new
// client (a new process), or an imported CRL; nothing answered is none.
func TestResultSource(t *testing.T) {
	t.Run("crl", func(t *testing.T) {
		w := newWorld(t, worldConfig{leaf: crlOnly})
		c := w.client()
		wantSource(t, "first check", w.checkWith(c, time.Time{}, testNow)[0], SourceNetwork)
		wantSource(t, "same client", w.checkWith(c, time.Time{}, testNow)[0], SourceMemory)
		wantSource(t, "new client", w.check(time.Time{})[0], SourceDisk)
		if n := w.srv.count("/int.crl"); n != 1 {
			t.Errorf("%d downloads, want 1", n)
		}
	})
	t.Run("ocsp", func(t *testing.T) {
		w := newWorld(t, worldConfig{})
		c := w.client()
		wantSource(t, "first check", w.checkWith(c, time.Time{}, testNow)[0], SourceNetwork)
		wantSource(t, "same client", w.checkWith(c, time.Time{}, testNow)[0], SourceMemory)
		wantSource(t, "new client", w.check(time.Time{})[0], SourceDisk)
		if n := w.srv.count("/ocsp"); n != 1 {
			t.Errorf("%d OCSP requests, want 1", n)
		}
	})
	t.Run("imported", func(t *testing.T) {
		w := newWorld(t, worldConfig{leaf: crlOnly})
		w.opts.Offline = true
		c := w.client()
		issuers := []*x509.Certificate{w.root.cert, w.inter.cert}
		if _, err := c.CRLCache().Import(w.inter.signCRL(t, crlSpec{}), issuers, testNow, "int.crl"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CRLCache().Import(w.root.signCRL(t, crlSpec{}), issuers, testNow, "import root.crl"); err != nil {
			t.Fatal(err)
		}
		res := w.checkWith(c, time.Time{}, testNow)
		wantSource(t, "leaf, same client", res[0], SourceImported)
		wantSource(t, "intermediate, same client", res[1], SourceImported)
		wantSource(t, "root", res[2], SourceNone)
		wantSource(t, "new client", w.check(time.Time{})[0], SourceImported)
		list, err := c.CRLCache().List()
		if err != nil || len(list) != 2 || list[0].Source[:len(importPrefix)] != importPrefix || list[1].Source[:len(importPrefix)] != importPrefix {
			t.Errorf("List: %v %+v", err, list)
		}
	})
	t.Run("nothing answered", func(t *testing.T) {
		w := newWorld(t, worldConfig{leaf: crlOnly})
		w.opts.Offline = true
		wantSource(t, "offline, empty cache", w.check(time.Time{})[0], SourceNone)
	})
	t.Run("base cached, delta downloaded", func(t *testing.T) {
		w := newWorld(t, worldConfig{leaf: crlOnly})
		w.srv.serveBytes("/int.crl", w.inter.signCRL(t, crlSpec{number: 5, this: testNow.Add(-10 * time.Hour),
			exts: []pkixExt{dpExt(t, oidFreshestCRL(), false, w.srv.url("/delta.crl"))}}))
		w.srv.serveBytes("/delta.crl", w.inter.signCRL(t, crlSpec{number: 6, this: testNow.Add(-time.Hour), next: testNow.Add(2 * time.Hour),
			exts: []pkixExt{deltaIndicatorExt(5)}}))
		c := w.client()
		wantSource(t, "both downloaded", w.checkWith(c, time.Time{}, testNow)[0], SourceNetwork)
		wantSource(t, "both in memory", w.checkWith(c, time.Time{}, testNow)[0], SourceMemory)
		later := testNow.Add(3 * time.Hour)
		w.srv.serveBytes("/delta.crl", w.inter.signCRL(t, crlSpec{number: 7, this: later, next: later.Add(time.Hour),
			exts: []pkixExt{deltaIndicatorExt(5)}}))
		wantSource(t, "delta downloaded again", w.checkWith(c, time.Time{}, later)[0], SourceNetwork)
		wantSource(t, "both from disk", w.checkWith(w.client(), time.Time{}, later)[0], SourceDisk)
	})
}

func TestCombineSources(t *testing.T) {
	cases := []struct {
		in   []Source
		want Source
	}{
		{nil, SourceNone},
		{[]Source{SourceMemory, SourceDisk}, SourceDisk},
		{[]Source{SourceDisk, SourceImported}, SourceImported},
		{[]Source{SourceImported, SourceNetwork}, SourceNetwork},
		{[]Source{SourceMemory, SourceMemory}, SourceMemory},
		{[]Source{SourceNone, SourceMemory}, SourceMemory},
	}
	for _, c := range cases {
		if got := combineSources(c.in...); got != c.want {
			t.Errorf("combineSources(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
