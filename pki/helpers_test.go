package pki_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"path/filepath"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testkit"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
)

// fixtureDir is testdata/pki at the module root, seen from pki/.
var fixtureDir = filepath.Join("..", "testdata", "pki")

// epoch is the fixed "now" of every chain test.
var epoch = testpki.Epoch()

// keyTypes are the six key types with a full good chain under testdata/pki.
var keyTypes = []string{"rsa-2048", "rsa-3072", "rsa-4096", "ec-256", "ec-384", "ec-521"}

// badLeafFixtures are the bad/<name>.crt + bad/<name>-chain.pem pairs.
var badLeafFixtures = []string{
	"serverauth-eku", "no-keyusage", "keyusage-noncritical", "keyusage-keycertsign",
	"ca-leaf", "expired", "not-yet-valid", "rsa-1024", "self-signed-leaf", "ok-leaf", "other-key",
}

func fixture(parts ...string) string {
	return filepath.Join(append([]string{fixtureDir}, parts...)...)
}

func loadCerts(t testing.TB, parts ...string) []*x509.Certificate {
	t.Helper()
	certs, err := testpki.LoadCertificates(fixture(parts...))
	if err != nil {
		t.Fatalf("load %v: %v", parts, err)
	}
	return certs
}

func loadCert(t testing.TB, parts ...string) *x509.Certificate {
	t.Helper()
	certs := loadCerts(t, parts...)
	if len(certs) != 1 {
		t.Fatalf("%v: want 1 certificate, got %d", parts, len(certs))
	}
	return certs[0]
}

func loadSigner(t testing.TB, parts ...string) crypto.Signer {
	t.Helper()
	s, err := testpki.LoadSigner(fixture(parts...))
	if err != nil {
		t.Fatalf("load key %v: %v", parts, err)
	}
	return s
}

// testCA is a certificate and its key, for chains built inside a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// newP256 is a new random P-256 key (testkit.NewECKey).
func newP256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	return testkit.NewECKey(t)
}

func testName(cn string) pkix.Name {
	return pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"Notation PKCS11 Unit Test"}, CommonName: cn}
}

// caTmpl is a valid Notary Project CA profile (testkit.CATemplate); the
// serial number is derived when the certificate is made.
func caTmpl(cn string) *x509.Certificate {
	return testkit.CATemplate(testName(cn), epoch.AddDate(-1, 0, 0), epoch.AddDate(20, 0, 0))
}

// leafTmpl is a valid Notary Project signing-certificate profile
// (testkit.LeafTemplate).
func leafTmpl(cn string) *x509.Certificate {
	return testkit.LeafTemplate(testName(cn), epoch.AddDate(-1, 0, 0), epoch.AddDate(10, 0, 0))
}

// issue signs tmpl for pub with issuer (nil issuer: self-signed with
// selfKey), through testkit.Issue.
func issue(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey, issuer *testCA, selfKey crypto.Signer) *x509.Certificate {
	t.Helper()
	if issuer != nil {
		return testkit.Issue(t, tmpl, pub, issuer.cert, issuer.key)
	}
	return testkit.Issue(t, tmpl, pub, nil, selfKey)
}

// newRoot returns a self-signed root CA without a path length constraint.
func newRoot(t testing.TB, cn string) *testCA {
	t.Helper()
	k := newP256(t)
	tmpl := caTmpl(cn)
	return &testCA{issue(t, tmpl, &k.PublicKey, nil, k), k}
}

// newSub returns a CA issued by parent, with tmpl mutated by mut.
func newSub(t testing.TB, cn string, parent *testCA, mut func(*x509.Certificate)) *testCA {
	t.Helper()
	k := newP256(t)
	tmpl := caTmpl(cn)
	if mut != nil {
		mut(tmpl)
	}
	return &testCA{issue(t, tmpl, &k.PublicKey, parent, nil), k}
}

// newLeaf returns a leaf issued by parent, with tmpl mutated by mut.
func newLeaf(t testing.TB, cn string, parent *testCA, mut func(*x509.Certificate)) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	k := newP256(t)
	tmpl := leafTmpl(cn)
	if mut != nil {
		mut(tmpl)
	}
	return issue(t, tmpl, &k.PublicKey, parent, nil), k
}

func sameChain(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func subjects(certs []*x509.Certificate) []string {
	out := make([]string, len(certs))
	for i, c := range certs {
		out[i] = c.Subject.CommonName
	}
	return out
}

// permutations returns every ordering of certs.
func permutations(certs []*x509.Certificate) [][]*x509.Certificate {
	if len(certs) <= 1 {
		return [][]*x509.Certificate{append([]*x509.Certificate(nil), certs...)}
	}
	var out [][]*x509.Certificate
	for i := range certs {
		rest := make([]*x509.Certificate, 0, len(certs)-1)
		rest = append(rest, certs[:i]...)
		rest = append(rest, certs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]*x509.Certificate{certs[i]}, p...))
		}
	}
	return out
}
