package truststore

import (
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var crlNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func TestDiscover(t *testing.T) {
	f := newFixtures(t)
	l := newLayout(t)
	l.file("x509/tsa/t/root.pem", pemOf(f.tsaRoot))
	l.file("x509/ca/b/root.pem", pemOf(f.root))
	l.file("x509/ca/a/root.pem", pemOf(f.root2))
	l.file("x509/signingAuthority/s/root.pem", pemOf(f.root))
	l.file("x509/ca/stray.pem", pemOf(f.root)) // a file, not a store
	l.dir("x509/ca/bad name")                  // not a valid store name
	l.dir("x509/other/x")                      // not a store type
	refs, err := Discover(l.root)
	if err != nil {
		t.Fatal(err)
	}
	want := []Ref{{TypeCA, "a"}, {TypeCA, "b"}, {TypeSigningAuthority, "s"}, {TypeTSA, "t"}}
	if !slices.Equal(refs, want) {
		t.Errorf("Discover: %v, want %v", refs, want)
	}
	if refs, err := Discover(t.TempDir()); err != nil || len(refs) != 0 {
		t.Errorf("empty root: %v %v", refs, err)
	}
}

func TestCRLIssuers(t *testing.T) {
	f := newFixtures(t)
	for _, tc := range []struct {
		name    string
		build   func(l *layout)
		extra   []*x509.Certificate
		want    []*x509.Certificate
		skipped []error // one sentinel per skipped item, in order
		err     error
	}{
		{"every store's certificates", func(l *layout) {
			l.file(caS+"root.pem", pemOf(f.root))
			l.file("x509/tsa/t/tsa.pem", pemOf(f.tsaRoot))
		}, nil, []*x509.Certificate{f.root, f.tsaRoot}, nil, nil},
		{"an intermediate that chains is an issuer", func(l *layout) { l.file(caS+"root.pem", pemOf(f.root)) },
			[]*x509.Certificate{f.leaf, f.inter}, []*x509.Certificate{f.root, f.inter}, nil, nil},
		{"an intermediate that does not chain is not", func(l *layout) { l.file(caS+"root.pem", pemOf(f.root2)) },
			[]*x509.Certificate{f.inter}, []*x509.Certificate{f.root2}, []error{ErrNotAnchored}, nil},
		{"a broken store is skipped", func(l *layout) {
			l.file(caS+"root.pem", pemOf(f.root))
			l.file("x509/ca/broken/leaf.pem", pemOf(f.leaf))
		}, nil, []*x509.Certificate{f.root}, []error{ErrNotCA}, nil},
		{"no certificate at all", func(l *layout) { l.dir("x509/ca") }, nil, nil, nil, ErrNoCertificates},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLayout(t)
			tc.build(l)
			got, skipped, err := CRLIssuers(l.root, tc.extra, crlNow)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), "a CRL is accepted only from a CA that chains to a trust store") {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, tc.want, (*x509.Certificate).Equal) {
				t.Errorf("issuers %v, want %v", subjects(got), subjects(tc.want))
			}
			if len(skipped) != len(tc.skipped) {
				t.Fatalf("skipped %v, want %v", skipped, tc.skipped)
			}
			for i, s := range skipped {
				if !errors.Is(s, tc.skipped[i]) {
					t.Errorf("skipped[%d] %v, want %v", i, s, tc.skipped[i])
				}
			}
		})
	}
}
