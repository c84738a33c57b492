package truststore

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestLintClean(t *testing.T) {
	f := newFixtures(t)
	l := newLayout(t)
	l.file("x509/ca/a/r.pem", pemOf(f.root))
	l.file("x509/signingAuthority/b/r.der", derOf(f.root2))
	l.file("x509/tsa/t/r.pem", pemOf(f.tsaRoot))
	if probs := Lint(l.root, []Ref{{TypeCA, "a"}, {TypeTSA, "t"}}); probs != nil {
		t.Fatalf("problems in a clean store: %v", probs)
	}
}

// TestLintReportsEverything builds a trust store with many problems and
// checks that Lint reports each of them, once, in one call.
func TestLintReportsEverything(t *testing.T) {
	f := newFixtures(t)
	l := newLayout(t)
	l.file("x509/ca/good/r.pem", pemOf(f.root))
	// Two bad files and a bad certificate pair in one store.
	l.file("x509/ca/multi/a-junk.txt", []byte("junk"))
	l.file("x509/ca/multi/b-empty", nil)
	l.file("x509/ca/multi/c-leaves.pem", pemOf(f.leaf, f.root, f.leaf2))
	l.dir("x509/ca/multi/d-sub")
	l.symlink("c-leaves.pem", "x509/ca/multi/e-link.pem")
	l.file("x509/ca/multi/f-root.pem", pemOf(f.root2))
	// tsa: one cert fails the CA rule, one the root rule.
	l.file("x509/tsa/t/chain.pem", pemOf(f.leaf, f.tsaInter, f.tsaRoot))
	l.dir("x509/tsa/empty")
	l.symlink("good", "x509/ca/linked")
	// Things notation never reads.
	l.file("x509/ca/stray.pem", pemOf(f.root))
	l.file("x509/ca/bad name/r.pem", pemOf(f.root))
	l.file("x509/CA/x/r.pem", pemOf(f.root))
	l.file("x509/README", []byte("hi"))

	refs := []Ref{{TypeCA, "good"}, {TypeCA, "multi"}, {TypeSigningAuthority, "missing"}, {TypeCA, ".."}, {"Tsa", "x"}, {TypeCA, "good"}}
	probs := Lint(l.root, refs)
	for _, p := range probs {
		t.Log(p)
	}
	type want struct {
		ref     string
		err     error
		contain string
	}
	wants := []want{
		{"", ErrIgnored, "x509/CA is not a store type folder"},
		{"", ErrIgnored, "x509/README is not a store type folder"},
		{"", ErrIgnored, "bad name"},
		{"ca:linked", ErrNotRegular, "is a symlink"},
		{"ca:multi", ErrMalformedCertificate, "file a-junk.txt"},
		{"ca:multi", ErrNoCertificates, "file b-empty"},
		{"ca:multi", ErrNotCA, `file c-leaves.pem: certificate "CN=leaf,O=Acme,C=US"`},
		{"ca:multi", ErrNotCA, `file c-leaves.pem: certificate "CN=leaf2,O=Acme,C=US"`},
		{"ca:multi", ErrNotRegular, "file d-sub: is a folder"},
		{"ca:multi", ErrNotRegular, "file e-link.pem: is a symlink"},
		{"", ErrIgnored, "stray.pem is directly in the type folder"},
		{"tsa:empty", ErrNoCertificates, "holds no certificate"},
		{"tsa:t", ErrNotCA, `"CN=leaf,O=Acme,C=US"`},
		{"tsa:t", ErrNotRoot, `"CN=TSA Intermediate CA,O=Acme,C=US"`},
		{"signingAuthority:missing", ErrStoreNotFound, "does not exist"},
		{"ca:..", ErrInvalidRef, "accepted by notation"},
		{"Tsa:x", ErrInvalidRef, "unsupported store type"},
	}
	if len(probs) != len(wants) {
		t.Fatalf("%d problems, want %d", len(probs), len(wants))
	}
	for i, w := range wants {
		p := probs[i]
		if p.Ref.String() != w.ref && !(w.ref == "" && p.Ref == (Ref{})) {
			t.Errorf("problem %d: ref %q, want %q (%v)", i, p.Ref, w.ref, p)
		}
		if !errors.Is(p, w.err) {
			t.Errorf("problem %d: %v does not wrap %v", i, p, w.err)
		}
		if !strings.Contains(p.Error(), w.contain) {
			t.Errorf("problem %d: %q does not contain %q", i, p.Error(), w.contain)
		}
		if p.Path == "" && w.err != ErrInvalidRef {
			t.Errorf("problem %d: no path: %v", i, p)
		}
	}
	// Every store with a problem fails Load, with its first problem.
	set := Load(l.root, []Ref{{TypeCA, "multi"}, {TypeTSA, "t"}, {TypeCA, "good"}})
	if _, err := set.Certificates(Ref{TypeCA, "multi"}); !errors.Is(err, ErrMalformedCertificate) || !strings.Contains(err.Error(), "a-junk.txt") {
		t.Errorf("Load ca:multi: %v", err)
	}
	if _, err := set.Certificates(Ref{TypeTSA, "t"}); !errors.Is(err, ErrNotCA) {
		t.Errorf("Load tsa:t: %v", err)
	}
	if _, err := set.Certificates(Ref{TypeCA, "good"}); err != nil {
		t.Errorf("Load ca:good: %v", err)
	}
}

func TestLintNoX509(t *testing.T) {
	l := newLayout(t)
	if err := os.MkdirAll(l.root, 0o755); err != nil {
		t.Fatal(err)
	}
	probs := Lint(l.root, []Ref{{TypeCA, "a"}})
	if len(probs) != 2 || !errors.Is(probs[0], ErrStoreNotFound) || !strings.Contains(probs[0].Error(), "x509") ||
		probs[1].Ref != (Ref{TypeCA, "a"}) || !errors.Is(probs[1], ErrStoreNotFound) {
		t.Fatalf("got %v", probs)
	}
	if probs := Lint(l.root, nil); len(probs) != 1 {
		t.Fatalf("got %v", probs)
	}
}
