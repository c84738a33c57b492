package truststore

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/notaryproject/notation-go/dir"
	ntruststore "github.com/notaryproject/notation-go/verifier/truststore"
)

// checkedInStore is the layout of testdata/store (Ed25519 fixtures, so
// regenerating gives the same bytes).
func checkedInStore(f *fixtures) map[string][]byte {
	return map[string][]byte{
		"x509/ca/acme/root.pem":                  pemOf(f.root),
		"x509/ca/acme/intermediate.der":          derOf(f.inter),
		"x509/ca/acme/bundle.crt":                pemOf(f.root2, f.selfLeaf),
		"x509/signingAuthority/acme/root.cer":    derOf(f.root),
		"x509/tsa/timestamp/tsa-root.pem":        pemOf(f.tsaRoot),
		"x509/ca/leaf-in-ca/root.pem":            pemOf(f.root),
		"x509/ca/leaf-in-ca/leaf.pem":            pemOf(f.leaf),
		"x509/tsa/intermediate/intermediate.pem": pemOf(f.tsaInter),
		"x509/ca/junk/root.pem":                  pemOf(f.root),
		"x509/ca/junk/notes.txt":                 []byte("these are our roots\n"),
	}
}

// TestTestdataUpToDate checks that testdata/store and the FuzzLoadFile seeds
// are exactly what the fixtures generate (Ed25519 signatures are
// deterministic); TRUSTSTORE_WRITE_TESTDATA=1 rewrites them first.
func TestTestdataUpToDate(t *testing.T) {
	f := newFixtures(t)
	want := map[string][]byte{}
	for rel, data := range checkedInStore(f) {
		want[filepath.Join("testdata", "store", filepath.FromSlash(rel))] = data
	}
	for i, seed := range fuzzSeeds(f) {
		want[filepath.Join("testdata", "fuzz", "FuzzLoadFile", fmt.Sprintf("seed-%02d", i))] = fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", seed)
	}
	if os.Getenv("TRUSTSTORE_WRITE_TESTDATA") == "1" {
		for p, data := range want {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for p, data := range want {
		got, err := os.ReadFile(p)
		if err != nil || string(got) != string(data) {
			t.Errorf("%s is stale or missing (%v); regenerate with TRUSTSTORE_WRITE_TESTDATA=1 go test -run TestTestdataUpToDate ./trustpolicy/truststore/", p, err)
		}
	}
}

// TestCheckedInStore loads testdata/store with Load, LoadFS and notation-go.
func TestCheckedInStore(t *testing.T) {
	f := newFixtures(t)
	root := filepath.Join("testdata", "store")
	// TestTestdataUpToDate checks the files are the fixtures.
	tests := []struct {
		ref     Ref
		want    []*x509.Certificate
		wantErr error
	}{
		{Ref{TypeCA, "acme"}, []*x509.Certificate{f.root2, f.selfLeaf, f.inter, f.root}, nil},
		{Ref{TypeSigningAuthority, "acme"}, []*x509.Certificate{f.root}, nil},
		{Ref{TypeTSA, "timestamp"}, []*x509.Certificate{f.tsaRoot}, nil},
		{Ref{TypeCA, "leaf-in-ca"}, nil, ErrNotCA},
		{Ref{TypeTSA, "intermediate"}, nil, ErrNotRoot},
		{Ref{TypeCA, "junk"}, nil, ErrMalformedCertificate},
		{Ref{TypeTSA, "acme"}, nil, ErrStoreNotFound},
	}
	var refs []Ref
	for _, tc := range tests {
		refs = append(refs, tc.ref)
	}
	// notation wants the folder that holds truststore/: copy into one.
	base := t.TempDir()
	if err := os.CopyFS(filepath.Join(base, "truststore"), os.DirFS(root)); err != nil {
		t.Fatal(err)
	}
	ns := ntruststore.NewX509TrustStore(dir.NewSysFS(base))
	for name, set := range map[string]*Set{"Load": Load(root, refs), "LoadFS": LoadFS(os.DirFS(root), refs)} {
		for _, tc := range tests {
			got, err := set.Certificates(tc.ref)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("%s %s: %v, want %v", name, tc.ref, err, tc.wantErr)
				}
			} else if err != nil || !sameDER(got, tc.want) {
				t.Errorf("%s %s: %s, %v; want %s", name, tc.ref, subjects(got), err, subjects(tc.want))
			}
			_, nerr := ns.GetCertificates(context.Background(), ntruststore.Type(tc.ref.Type), tc.ref.Name)
			if (nerr == nil) != (tc.wantErr == nil) {
				t.Errorf("notation %s: %v", tc.ref, nerr)
			}
		}
	}
}
