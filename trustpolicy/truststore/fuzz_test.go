package truststore

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/notaryproject/notation-go/dir"
	ntruststore "github.com/notaryproject/notation-go/verifier/truststore"
)

// FuzzLoadFile puts arbitrary bytes in a store file of each type and checks
// that loading never panics, that a loaded store holds only certificates that
// obey the store's rules, and that Load agrees with notation-go v1.3.2.
// Seeds are in testdata/fuzz/FuzzLoadFile (regenerate them with
// TRUSTSTORE_WRITE_TESTDATA=1 go test -run TestTestdataUpToDate).
//
//	go test -run '^$' -fuzz FuzzLoadFile -fuzztime 60s -fuzzminimizetime 500x ./trustpolicy/truststore/
//
// (-fuzzminimizetime bounds the minimization of each new input, which
// otherwise stalls a worker for up to a minute.)
func FuzzLoadFile(f *testing.F) {
	fx := newFixtures(f)
	for _, seed := range fuzzSeeds(fx) {
		f.Add(seed)
	}
	base := fuzzDir(f)
	root := filepath.Join(base, "truststore")
	refs := []Ref{{TypeCA, "s"}, {TypeSigningAuthority, "s"}, {TypeTSA, "s"}}
	// One file, hard-linked into the three stores: one write per input.
	file := filepath.Join(base, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		f.Fatal(err)
	}
	for _, r := range refs {
		store := filepath.Join(root, "x509", string(r.Type), "s")
		if err := os.MkdirAll(store, 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.Link(file, filepath.Join(store, "f")); err != nil {
			f.Skipf("cannot hard-link: %v", err)
		}
	}
	ns := ntruststore.NewX509TrustStore(dir.NewSysFS(base))
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		set := Load(root, refs)
		for _, r := range refs {
			got, err := set.Certificates(r)
			want, nerr := ns.GetCertificates(context.Background(), ntruststore.Type(r.Type), r.Name)
			if (err == nil) != (nerr == nil) {
				t.Fatalf("%s: ours %v, notation %v", r, err, nerr)
			}
			if err != nil {
				if _, ok := err.(*StoreError); !ok {
					t.Fatalf("%s: error %T is not a *StoreError", r, err)
				}
				continue
			}
			if !sameDER(got, want) {
				t.Fatalf("%s: certificates differ from notation's", r)
			}
			for _, c := range got {
				if !caOrSelfSigned(c) {
					t.Fatalf("%s: loaded a certificate that is neither CA nor self-signed", r)
				}
				if r.Type == TypeTSA {
					if k, _ := rootCA(c); k != problemNone {
						t.Fatalf("%s: loaded a non-root", r)
					}
				}
			}
		}
		// The in-memory path agrees with the file path.
		certs, perr := parseCertificates(data)
		if perr == nil && len(certs) > 0 {
			for _, r := range refs {
				_, ferr := set.Certificates(r)
				_, merr := NewSet(map[Ref][]*x509.Certificate{r: certs}).Certificates(r)
				if (ferr == nil) != (merr == nil) {
					t.Fatalf("%s: Load %v, NewSet %v", r, ferr, merr)
				}
			}
		}
	})
}

// fuzzSeeds are the inputs the fuzz corpus starts from.
func fuzzSeeds(f *fixtures) [][]byte {
	junk := []byte("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
	return [][]byte{
		nil,
		[]byte("\n"),
		pemOf(f.root),
		pemOf(f.root, f.inter),
		pemOf(f.root, f.leaf),
		pemOf(f.tsaRoot),
		pemOf(f.v1Root),
		pemOf(f.selfLeaf),
		pemOf(f.caOtherIssuer),
		derOf(f.root),
		derOf(f.root2, f.tsaRoot),
		derOf(f.leaf),
		append(derOf(f.root), 0),
		append(append([]byte("text before\n"), pemOf(f.root)...), junk...),
		bytes.ReplaceAll(pemOf(f.root), []byte("CERTIFICATE"), []byte("PRIVATE KEY")),
	}
}

// fuzzDir is a temporary folder, on /dev/shm when there is one: rewriting a
// file on a disk file system mounted with "discard" waits for the disk on
// every input.
func fuzzDir(f *testing.F) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "truststore-fuzz-"); err == nil {
			f.Cleanup(func() { _ = os.RemoveAll(d) })
			return d
		}
	}
	return f.TempDir()
}
