package truststore

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testkit"
)

// The test PKI, made by internal/testkit (the repository's one certificate
// factory): Ed25519 keys derived from names (so keys and Ed25519
// signatures are deterministic), fixed validity, serials derived from names.

func testKey(name string) ed25519.PrivateKey { return testkit.Ed25519Key("truststore " + name) }

func testName(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"Acme"}, Country: []string{"US"}}
}

func serial(name string) *big.Int {
	h := sha256.Sum256([]byte("serial " + name))
	return new(big.Int).SetBytes(h[:16])
}

type certOpts struct {
	ca       bool
	keyUsage x509.KeyUsage // zero means the default for ca/leaf
	notAfter time.Time
}

// mint creates a v3 certificate for name's key, issued by issuer (nil means
// self-signed) and signed with signerName's key.
func mint(t testing.TB, name string, issuer *x509.Certificate, signerName string, o certOpts) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(name),
		Subject:               testName(name),
		NotBefore:             time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2044, 1, 1, 0, 0, 0, 0, time.UTC),
		BasicConstraintsValid: true,
		IsCA:                  o.ca,
		KeyUsage:              o.keyUsage,
	}
	if !o.notAfter.IsZero() {
		tmpl.NotAfter = o.notAfter
	}
	if tmpl.KeyUsage == 0 {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		if o.ca {
			tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		}
	}
	parent := issuer
	if parent == nil {
		// Self-issued: the issuer name is the subject, and no authority
		// key identifier names a key (signerName's may be another's).
		parent = &x509.Certificate{Subject: tmpl.Subject}
	}
	return testkit.Issue(t, tmpl, testKey(name).Public(), parent, testKey(signerName))
}

// resign is testkit.Resign: it makes what x509.CreateCertificate refuses
// to make (version 1, ecdsa-with-SHA1, another issuer name).
func resign(t testing.TB, base *x509.Certificate, version int, rawIssuer []byte, alg pkix.AlgorithmIdentifier, sign func(tbs []byte) []byte) *x509.Certificate {
	t.Helper()
	return testkit.Resign(t, base, version, rawIssuer, alg, sign)
}

var (
	oidEd25519       = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidECDSAWithSHA1 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	ed25519AlgID     = pkix.AlgorithmIdentifier{Algorithm: oidEd25519}
	ecdsaSHA1AlgID   = pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA1}
)

func ed25519Signer(name string) func([]byte) []byte {
	return func(tbs []byte) []byte { return ed25519.Sign(testKey(name), tbs) }
}

// sha1SelfSigned makes a self-signed ECDSA P-256 certificate signed with
// ecdsa-with-SHA1.
func sha1SelfSigned(t testing.TB, name string, ca bool) *x509.Certificate {
	t.Helper()
	key := testkit.ECKey(t, "truststore "+name)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(name),
		Subject:               testName(name),
		NotBefore:             time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2044, 1, 1, 0, 0, 0, 0, time.UTC),
		BasicConstraintsValid: true,
		IsCA:                  ca,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	base := testkit.Issue(t, tmpl, key.Public(), nil, key)
	return resign(t, base, 3, base.RawSubject, ecdsaSHA1AlgID, func(tbs []byte) []byte {
		h := sha1.Sum(tbs)
		sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	})
}

// fixtures is the set of certificates the tests use.
type fixtures struct {
	root, root2, inter, leaf, leaf2 *x509.Certificate
	selfLeaf                        *x509.Certificate // self-signed, not a CA
	selfLeafOtherIssuer             *x509.Certificate // signed by its own key, issuer name differs
	caNoCertSign                    *x509.Certificate // self-signed CA, keyUsage digitalSignature only
	selfIssuedCA                    *x509.Certificate // CA, subject == issuer, signed by another key
	selfIssuedLeaf                  *x509.Certificate // not a CA, subject == issuer, signed by another key
	v1Root, v1Leaf                  *x509.Certificate // version 1: self-signed, and issued by root
	sha1CA, sha1Leaf                *x509.Certificate // self-signed with ecdsa-with-SHA1
	expiredRoot                     *x509.Certificate
	tsaRoot, tsaInter               *x509.Certificate
	caNoBasicConstraints            *x509.Certificate // v3 self-signed, no basicConstraints
	caOtherIssuer                   *x509.Certificate // CA signed by its own key, issuer name differs
}

func newFixtures(t testing.TB) *fixtures {
	t.Helper()
	f := &fixtures{}
	f.root = mint(t, "Root CA", nil, "Root CA", certOpts{ca: true})
	f.root2 = mint(t, "Second Root CA", nil, "Second Root CA", certOpts{ca: true})
	f.inter = mint(t, "Intermediate CA", f.root, "Root CA", certOpts{ca: true})
	f.leaf = mint(t, "leaf", f.inter, "Intermediate CA", certOpts{})
	f.leaf2 = mint(t, "leaf2", f.root, "Root CA", certOpts{})
	f.selfLeaf = mint(t, "Self-Signed Leaf", nil, "Self-Signed Leaf", certOpts{})
	f.selfLeafOtherIssuer = resign(t, f.selfLeaf, 3, f.root.RawSubject, ed25519AlgID, ed25519Signer("Self-Signed Leaf"))
	f.caNoCertSign = mint(t, "CA Without CertSign", nil, "CA Without CertSign", certOpts{ca: true, keyUsage: x509.KeyUsageDigitalSignature})
	f.selfIssuedCA = mint(t, "Self-Issued CA", nil, "Root CA", certOpts{ca: true})
	f.selfIssuedLeaf = mint(t, "Self-Issued Leaf", nil, "Root CA", certOpts{})
	v1base := mint(t, "V1 Root", nil, "V1 Root", certOpts{})
	f.v1Root = resign(t, v1base, 1, v1base.RawSubject, ed25519AlgID, ed25519Signer("V1 Root"))
	v1leafBase := mint(t, "V1 Leaf", nil, "V1 Leaf", certOpts{})
	f.v1Leaf = resign(t, v1leafBase, 1, f.root.RawSubject, ed25519AlgID, ed25519Signer("Root CA"))
	f.sha1CA = sha1SelfSigned(t, "SHA1 CA", true)
	f.sha1Leaf = sha1SelfSigned(t, "SHA1 Leaf", false)
	f.expiredRoot = mint(t, "Expired Root CA", nil, "Expired Root CA", certOpts{ca: true, notAfter: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)})
	f.tsaRoot = mint(t, "TSA Root CA", nil, "TSA Root CA", certOpts{ca: true})
	f.tsaInter = mint(t, "TSA Intermediate CA", f.tsaRoot, "TSA Root CA", certOpts{ca: true})
	f.caOtherIssuer = resign(t, f.tsaRoot, 3, f.root.RawSubject, ed25519AlgID, ed25519Signer("TSA Root CA"))
	noBC := mint(t, "No BasicConstraints", nil, "No BasicConstraints", certOpts{})
	var exts []pkix.Extension
	for _, e := range noBC.Extensions {
		if !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 19}) {
			exts = append(exts, e)
		}
	}
	noBC.Extensions = exts
	f.caNoBasicConstraints = resign(t, noBC, 3, noBC.RawSubject, ed25519AlgID, ed25519Signer("No BasicConstraints"))
	return f
}

func pemOf(certs ...*x509.Certificate) []byte { return testkit.PEM(certs...) }

func derOf(certs ...*x509.Certificate) []byte { return testkit.DER(certs...) }
