package truststore

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
)

// TestConformance covers cases 18-23 of the conformance list
// (/work/shared/research/trust-policy-semantics.md §6): what loads, what
// fails, with which sentinel and which words.
func TestConformance(t *testing.T) {
	f := newFixtures(t)
	tests := []struct {
		id      string
		name    string
		build   func(l *layout)
		ref     Ref
		want    []*x509.Certificate // on success
		wantErr error               // sentinel on failure
		msg     []string            // words the error must contain
	}{
		{id: "18", name: "mixed PEM and DER store loads",
			build: func(l *layout) { l.file(caS+"a.pem", pemOf(f.root)); l.file(caS+"b.der", derOf(f.root2)) },
			ref:   Ref{TypeCA, "s"}, want: []*x509.Certificate{f.root, f.root2}},
		{id: "18", name: "self-signed non-CA leaf in a ca store is accepted",
			build: func(l *layout) { l.file(caS+"self.pem", pemOf(f.selfLeaf)) },
			ref:   Ref{TypeCA, "s"}, want: []*x509.Certificate{f.selfLeaf}},
		{id: "19", name: "non-certificate file fails the store",
			build: func(l *layout) { l.file(caS+"root.pem", pemOf(f.root)); l.file(caS+"notes.txt", []byte("hello")) },
			ref:   Ref{TypeCA, "s"}, wantErr: ErrMalformedCertificate,
			msg: []string{"trust store ca:s", "file notes.txt", "cannot be parsed as PEM or DER certificates"}},
		{id: "20", name: "CA-issued leaf in its own file",
			build: func(l *layout) { l.file(caS+"root.pem", pemOf(f.root)); l.file(caS+"leaf.pem", pemOf(f.leaf2)) },
			ref:   Ref{TypeCA, "s"}, wantErr: ErrNotCA,
			msg: []string{`trust store ca:s: file leaf.pem: certificate "CN=leaf2,O=Acme,C=US": is not a CA and not self-signed; trust stores hold root or intermediate CA certificates, put the issuing root here instead`}},
		{id: "20", name: "CA-issued leaf bundled with the root",
			build: func(l *layout) { l.file(saS+"chain.pem", pemOf(f.root, f.leaf2)) },
			ref:   Ref{TypeSigningAuthority, "s"}, wantErr: ErrNotCA,
			msg: []string{"trust store signingAuthority:s", "file chain.pem", `"CN=leaf2,O=Acme,C=US"`}},
		{id: "21", name: "tsa store with a non-CA certificate",
			build: func(l *layout) { l.file(tsaS+"leaf.pem", pemOf(f.selfLeaf)) },
			ref:   Ref{TypeTSA, "s"}, wantErr: ErrNotRoot,
			msg: []string{"trust store tsa:s", "file leaf.pem", "is not a root CA certificate", "parent certificate cannot sign"}},
		{id: "21", name: "tsa store with a CA that is not self-issued",
			build: func(l *layout) { l.file(tsaS+"ca.pem", pemOf(f.caOtherIssuer)) },
			ref:   Ref{TypeTSA, "s"}, wantErr: ErrNotRoot,
			msg: []string{"is not a root CA certificate", `its issuer "CN=Root CA,O=Acme,C=US" differs from its subject`}},
		{id: "21", name: "tsa store with an intermediate",
			build: func(l *layout) { l.file(tsaS+"i.pem", pemOf(f.tsaInter)) },
			ref:   Ref{TypeTSA, "s"}, wantErr: ErrNotRoot},
		{id: "22", name: "TSA root under signingAuthority loads (the scheme check is the verifier's)",
			build: func(l *layout) { l.file(saS+"tsa.pem", pemOf(f.tsaRoot)) },
			ref:   Ref{TypeSigningAuthority, "s"}, want: []*x509.Certificate{f.tsaRoot}},
		{id: "23", name: "sub-folder fails the store",
			build: func(l *layout) { l.file(caS+"root.pem", pemOf(f.root)); l.dir(caS + "old") },
			ref:   Ref{TypeCA, "s"}, wantErr: ErrNotRegular, msg: []string{"file old", "is a folder"}},
		{id: "23", name: "symlinked file fails the store",
			build: func(l *layout) { l.file(caS+"root.pem", pemOf(f.root)); l.symlink("root.pem", caS+"link.pem") },
			ref:   Ref{TypeCA, "s"}, wantErr: ErrNotRegular, msg: []string{"file link.pem", "is a symlink"}},
		{id: "23", name: "symlinked store folder fails",
			build: func(l *layout) { l.file("x509/ca/real/root.pem", pemOf(f.root)); l.symlink("real", "x509/ca/s") },
			ref:   Ref{TypeCA, "s"}, wantErr: ErrNotRegular, msg: []string{"is a symlink"}},
		{id: "23", name: "empty store",
			build: func(l *layout) { l.dir(caS) },
			ref:   Ref{TypeCA, "s"}, wantErr: ErrNoCertificates, msg: []string{"holds no certificate"}},
		{id: "23", name: "empty file",
			build: func(l *layout) { l.file(caS+"root.pem", pemOf(f.root)); l.file(caS+".gitkeep", nil) },
			ref:   Ref{TypeCA, "s"}, wantErr: ErrNoCertificates, msg: []string{"file .gitkeep", "holds no certificate"}},
		{id: "-", name: "missing store",
			build: func(l *layout) { l.dir("x509/ca") },
			ref:   Ref{TypeCA, "s"}, wantErr: ErrStoreNotFound, msg: []string{"does not exist"}},
	}
	for _, tc := range tests {
		t.Run(tc.id+" "+tc.name, func(t *testing.T) {
			l := newLayout(t)
			tc.build(l)
			got, err := Load(l.root, []Ref{tc.ref}).Certificates(tc.ref)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("error %v, want success", err)
				}
				if !sameDER(got, tc.want) {
					t.Fatalf("got %s, want %s", subjects(got), subjects(tc.want))
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want one wrapping %v", err, tc.wantErr)
			}
			var se *StoreError
			if !errors.As(err, &se) || se.Ref != tc.ref {
				t.Fatalf("error %v is not a *StoreError for %s", err, tc.ref)
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
		})
	}
}
