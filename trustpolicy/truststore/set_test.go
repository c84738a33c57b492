package truststore

import (
	"crypto/x509"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

func TestStoreErrorFormat(t *testing.T) {
	e := &StoreError{Ref: Ref{TypeCA, "acme"}, Path: "/etc/notation/truststore/x509/ca/acme/leaf.pem",
		Subject: "CN=leaf,O=Acme,C=US", Err: ErrNotCA, file: true,
		Msg: "is not a CA and not self-signed; trust stores hold root or intermediate CA certificates, put the issuing root here instead"}
	want := `trust store ca:acme: file leaf.pem: certificate "CN=leaf,O=Acme,C=US": is not a CA and not self-signed; trust stores hold root or intermediate CA certificates, put the issuing root here instead`
	if e.Error() != want {
		t.Errorf("got  %s\nwant %s", e.Error(), want)
	}
	if !errors.Is(e, ErrNotCA) {
		t.Error("errors.Is(e, ErrNotCA) is false")
	}
	if got := (&StoreError{Err: ErrAccess}).Error(); got != "trust store: "+ErrAccess.Error() {
		t.Errorf("bare error: %q", got)
	}
}

func TestLoadDeduplicatesAndKeepsErrors(t *testing.T) {
	f := newFixtures(t)
	l := newLayout(t)
	l.file("x509/ca/good/r.pem", pemOf(f.root))
	l.file("x509/ca/bad/l.pem", pemOf(f.leaf))
	good, bad, missing := Ref{TypeCA, "good"}, Ref{TypeCA, "bad"}, Ref{TypeTSA, "missing"}
	set := Load(l.root, []Ref{good, bad, good, missing, bad})
	if got := set.Refs(); len(got) != 3 {
		t.Fatalf("Refs() = %v, want 3 refs", got)
	}
	if c, err := set.Certificates(good); err != nil || !sameDER(c, []*x509.Certificate{f.root}) {
		t.Errorf("good: %v %v", subjects(c), err)
	}
	if _, err := set.Certificates(bad); !errors.Is(err, ErrNotCA) {
		t.Errorf("bad: %v", err)
	}
	if _, err := set.Certificates(missing); !errors.Is(err, ErrStoreNotFound) {
		t.Errorf("missing: %v", err)
	}
	if _, err := set.Certificates(Ref{TypeCA, "never-loaded"}); !errors.Is(err, ErrStoreNotFound) || !strings.Contains(err.Error(), "was not loaded") {
		t.Errorf("not loaded: %v", err)
	}
	var nilSet *Set
	if _, err := nilSet.Certificates(good); !errors.Is(err, ErrStoreNotFound) {
		t.Errorf("nil set: %v", err)
	}
}

func TestCertificatesReturnsACopy(t *testing.T) {
	f := newFixtures(t)
	ref := Ref{TypeCA, "s"}
	set := NewSet(map[Ref][]*x509.Certificate{ref: {f.root, f.root2}})
	c, _ := set.Certificates(ref)
	c[0] = f.leaf
	_ = append(c[:1], f.leaf)
	again, _ := set.Certificates(ref)
	if !sameDER(again, []*x509.Certificate{f.root, f.root2}) {
		t.Fatalf("the Set changed through a returned slice: %s", subjects(again))
	}
}

func TestNewSet(t *testing.T) {
	f := newFixtures(t)
	ca, sa, tsa := Ref{TypeCA, "a"}, Ref{TypeSigningAuthority, "a"}, Ref{TypeTSA, "a"}
	tests := []struct {
		name    string
		ref     Ref
		certs   []*x509.Certificate
		wantErr error
	}{
		{"ca roots", ca, []*x509.Certificate{f.root, f.inter, f.selfLeaf}, nil},
		{"signingAuthority root", sa, []*x509.Certificate{f.root}, nil},
		{"tsa roots", tsa, []*x509.Certificate{f.tsaRoot, f.v1Root}, nil},
		{"empty", ca, nil, ErrNoCertificates},
		{"nil certificate", ca, []*x509.Certificate{f.root, nil}, ErrMalformedCertificate},
		{"certificate without DER", ca, []*x509.Certificate{{IsCA: true}}, ErrMalformedCertificate},
		{"leaf in ca", ca, []*x509.Certificate{f.root, f.leaf}, ErrNotCA},
		{"leaf in signingAuthority", sa, []*x509.Certificate{f.leaf2}, ErrNotCA},
		{"intermediate in tsa", tsa, []*x509.Certificate{f.tsaInter}, ErrNotRoot},
		{"self-signed leaf in tsa", tsa, []*x509.Certificate{f.selfLeaf}, ErrNotRoot},
		{"not self-issued in tsa", tsa, []*x509.Certificate{f.caOtherIssuer}, ErrNotRoot},
		{"leaf in tsa", tsa, []*x509.Certificate{f.leaf}, ErrNotCA},
		{"invalid type", Ref{"CA", "a"}, []*x509.Certificate{f.root}, ErrInvalidRef},
		{"invalid name", Ref{TypeCA, "a b"}, []*x509.Certificate{f.root}, ErrInvalidRef},
		{"over the cap", ca, repeat(f.root, MaxCertificates+1), ErrTooLarge},
		{"at the cap", ca, repeat(f.root, MaxCertificates), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := NewSet(map[Ref][]*x509.Certificate{tc.ref: tc.certs})
			got, err := set.Certificates(tc.ref)
			if tc.wantErr == nil {
				if err != nil || !sameDER(got, tc.certs) {
					t.Fatalf("got %s, %v; want the certificates", subjects(got), err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "trust store "+tc.ref.String()+": ") {
				t.Errorf("error %q does not name the store", err)
			}
		})
	}
}

func repeat(c *x509.Certificate, n int) []*x509.Certificate {
	out := make([]*x509.Certificate, n)
	for i := range out {
		out[i] = c
	}
	return out
}

func TestDigest(t *testing.T) {
	f := newFixtures(t)
	a, b := Ref{TypeCA, "a"}, Ref{TypeTSA, "b"}
	base := NewSet(map[Ref][]*x509.Certificate{a: {f.root, f.root2}, b: {f.tsaRoot}})
	if base.Digest() != NewSet(map[Ref][]*x509.Certificate{b: {f.tsaRoot}, a: {f.root, f.root2}}).Digest() {
		t.Error("the same contents give different digests")
	}
	differ := map[string]*Set{
		"certificate order": NewSet(map[Ref][]*x509.Certificate{a: {f.root2, f.root}, b: {f.tsaRoot}}),
		"other certificate": NewSet(map[Ref][]*x509.Certificate{a: {f.root, f.inter}, b: {f.tsaRoot}}),
		"other ref name":    NewSet(map[Ref][]*x509.Certificate{{TypeCA, "c"}: {f.root, f.root2}, b: {f.tsaRoot}}),
		"other ref type":    NewSet(map[Ref][]*x509.Certificate{{TypeSigningAuthority, "a"}: {f.root, f.root2}, b: {f.tsaRoot}}),
		"one store less":    NewSet(map[Ref][]*x509.Certificate{a: {f.root, f.root2}}),
		"store in error":    NewSet(map[Ref][]*x509.Certificate{a: {f.root, f.root2}, b: {f.tsaInter}}),
		"empty":             NewSet(nil),
	}
	seen := map[[32]byte]string{base.Digest(): "base"}
	for name, s := range differ {
		d := s.Digest()
		if other, dup := seen[d]; dup {
			t.Errorf("%s and %s have the same digest", name, other)
		}
		seen[d] = name
	}
	var nilSet *Set
	if nilSet.Digest() != NewSet(nil).Digest() || (&Set{}).Digest() != NewSet(nil).Digest() {
		t.Error("a nil Set and an empty Set differ")
	}

	// Load and NewSet agree on the same contents.
	l := newLayout(t)
	l.file("x509/ca/a/1.pem", pemOf(f.root))
	l.file("x509/ca/a/2.der", derOf(f.root2))
	l.file("x509/tsa/b/r.pem", pemOf(f.tsaRoot))
	if Load(l.root, []Ref{a, b}).Digest() != base.Digest() {
		t.Error("Load and NewSet give different digests for the same certificates")
	}
}

func TestSetConcurrentUse(t *testing.T) {
	f := newFixtures(t)
	ref := Ref{TypeCA, "s"}
	set := NewSet(map[Ref][]*x509.Certificate{ref: {f.root, f.root2}})
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				c, err := set.Certificates(ref)
				if err != nil || len(c) != 2 {
					t.Error("unexpected result")
					return
				}
				c[0] = nil
				_ = set.Digest()
				_ = set.Refs()
			}
		}()
	}
	wg.Wait()
}

// TestLoadFS covers an fs.FS that reports symlinks (testing/fstest.MapFS).
func TestLoadFS(t *testing.T) {
	f := newFixtures(t)
	fsys := fstest.MapFS{
		"x509/ca/good/r.pem":    {Data: pemOf(f.root)},
		"x509/ca/link":          {Data: []byte("good"), Mode: fs.ModeSymlink},
		"x509/ca/haslink/r.pem": {Data: pemOf(f.root)},
		"x509/ca/haslink/l.pem": {Data: []byte("r.pem"), Mode: fs.ModeSymlink},
		"x509/tsa/t/r.der":      {Data: derOf(f.tsaRoot)},
	}
	set := LoadFS(fsys, []Ref{{TypeCA, "good"}, {TypeCA, "link"}, {TypeCA, "haslink"}, {TypeTSA, "t"}, {TypeTSA, "none"}})
	if c, err := set.Certificates(Ref{TypeCA, "good"}); err != nil || !sameDER(c, []*x509.Certificate{f.root}) {
		t.Errorf("good: %v", err)
	}
	if c, err := set.Certificates(Ref{TypeTSA, "t"}); err != nil || !sameDER(c, []*x509.Certificate{f.tsaRoot}) {
		t.Errorf("tsa: %v", err)
	}
	if _, err := set.Certificates(Ref{TypeCA, "link"}); !errors.Is(err, ErrNotRegular) {
		t.Errorf("symlinked store: %v", err)
	}
	if _, err := set.Certificates(Ref{TypeCA, "haslink"}); !errors.Is(err, ErrNotRegular) {
		t.Errorf("store with a symlink: %v", err)
	}
	if _, err := set.Certificates(Ref{TypeTSA, "none"}); !errors.Is(err, ErrStoreNotFound) {
		t.Errorf("missing: %v", err)
	}
}
