package testkit

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

var (
	from = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)
	now  = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
)

func name(cn string) pkix.Name {
	return pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"testkit"}, CommonName: cn}
}

// TestCreateIsDeterministic: the same template, key and issuer give the
// same bytes, for every key type the repository signs with.
func TestCreateIsDeterministic(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	for kname, key := range map[string]crypto.Signer{"ec": ECKey(t, "det"), "ed25519": Ed25519Key("det"), "rsa": rsaKey} {
		a := Issue(t, CATemplate(name("det "+kname), from, to), key.Public(), nil, key)
		b := Issue(t, CATemplate(name("det "+kname), from, to), key.Public(), nil, key)
		if !bytes.Equal(a.Raw, b.Raw) {
			t.Errorf("%s: two certificates from the same inputs differ", kname)
		}
		if kname == "rsa" && a.SignatureAlgorithm != x509.SHA384WithRSA {
			t.Errorf("RSA-3072 signed with %s, want SHA384-RSA", a.SignatureAlgorithm)
		}
	}
	if !ECKey(t, "x").Equal(ECKey(t, "x")) || ECKey(t, "x").Equal(ECKey(t, "y")) || !Ed25519Key("x").Equal(Ed25519Key("x")) {
		t.Error("derived keys are not a function of their name")
	}
}

// TestChain: a root, an intermediate and a leaf made with the toolkit form
// a chain crypto/x509 verifies, with distinct serials and key identifiers
// that link each certificate to its issuer.
func TestChain(t *testing.T) {
	root := NewRoot(t, CATemplate(name("Root"), from, to), ECKey(t, "root"))
	inter := root.NewCA(t, CATemplate(name("Intermediate"), from, to), ECKey(t, "inter"))
	leafKey := NewECKey(t)
	leaf := inter.Issue(t, LeafTemplate(name("Leaf"), from, to), leafKey.Public())
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.Cert)
	inters.AddCert(inter.Cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range []*x509.Certificate{root.Cert, inter.Cert, leaf} {
		if c.SerialNumber.Sign() <= 0 || seen[c.SerialNumber.String()] {
			t.Errorf("%s: serial %s", c.Subject, c.SerialNumber)
		}
		seen[c.SerialNumber.String()] = true
	}
	if !bytes.Equal(leaf.AuthorityKeyId, inter.Cert.SubjectKeyId) || !bytes.Equal(inter.Cert.AuthorityKeyId, root.Cert.SubjectKeyId) {
		t.Error("authority key identifiers do not name the issuers")
	}
	// Another leaf for the same key but another profile gets another serial.
	other := LeafTemplate(name("Leaf"), from, to)
	other.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if c := inter.Issue(t, other, leafKey.Public()); c.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Error("two different certificates share a serial number")
	}
	// A serial number given in the template is kept.
	fixed := LeafTemplate(name("Fixed"), from, to)
	fixed.SerialNumber = big.NewInt(42)
	if c := inter.Issue(t, fixed, leafKey.Public()); c.SerialNumber.Int64() != 42 {
		t.Errorf("serial %s, want 42", c.SerialNumber)
	}
	if _, err := Create(nil, leafKey.Public(), nil, leafKey); err == nil {
		t.Error("Create without a template")
	}
}

func TestCRLAndOCSP(t *testing.T) {
	root := NewRoot(t, CATemplate(name("Root"), from, to), ECKey(t, "root"))
	leaf := root.Issue(t, LeafTemplate(name("Leaf"), from, to), NewECKey(t).Public())
	der := root.CRL(t, &x509.RevocationList{ThisUpdate: now, NextUpdate: now.Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: leaf.SerialNumber, RevocationTime: now}}})
	crl, err := x509.ParseRevocationList(der)
	if err != nil || crl.CheckSignatureFrom(root.Cert) != nil || crl.Number.Int64() != 1 || len(crl.RevokedCertificateEntries) != 1 {
		t.Fatalf("CRL: %v", err)
	}
	respTmpl := ocsp.Response{Status: ocsp.Good, ThisUpdate: now, NextUpdate: now.Add(time.Hour)}
	resp, err := ocsp.ParseResponseForCert(root.OCSP(t, leaf, respTmpl, nil), leaf, root.Cert)
	if err != nil || resp.Status != ocsp.Good || resp.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Fatalf("OCSP by the CA: %v", err)
	}
	rt := LeafTemplate(name("Responder"), from, to)
	rt.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	rkey := NewECKey(t)
	responder := &CA{Cert: root.Issue(t, rt, rkey.Public()), Key: rkey}
	resp, err = ocsp.ParseResponseForCert(root.OCSP(t, leaf, respTmpl, responder), leaf, root.Cert)
	if err != nil || resp.Certificate == nil || !resp.Certificate.Equal(responder.Cert) {
		t.Fatalf("OCSP by a delegated responder: %v", err)
	}
}

// TestResign makes a version 1 certificate, one signed with
// ecdsa-with-SHA1 and one whose issuer name is another certificate's
// subject, which x509.CreateCertificate refuses to make.
func TestResign(t *testing.T) {
	key := ECKey(t, "resign")
	base := NewRoot(t, CATemplate(name("Base"), from, to), key).Cert
	other := NewRoot(t, CATemplate(name("Other"), from, to), ECKey(t, "other")).Cert
	sha1Alg := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}}
	sign := func(tbs []byte) []byte {
		sum := sha256.Sum256(tbs) // the hash does not matter to the test
		sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	v1 := Resign(t, base, 1, base.RawSubject, sha1Alg, sign)
	if v1.Version != 1 || len(v1.Extensions) != 0 || v1.SignatureAlgorithm != x509.ECDSAWithSHA1 {
		t.Errorf("version %d, %d extensions, %s", v1.Version, len(v1.Extensions), v1.SignatureAlgorithm)
	}
	v3 := Resign(t, base, 3, other.RawSubject, sha1Alg, sign)
	if v3.Version != 3 || len(v3.Extensions) != len(base.Extensions) || !bytes.Equal(v3.RawIssuer, other.RawSubject) || !bytes.Equal(v3.RawSubject, base.RawSubject) {
		t.Errorf("version %d, issuer %s", v3.Version, v3.Issuer)
	}
	if pemOut := PEM(base, v1); len(DER(base, v1)) != len(base.Raw)+len(v1.Raw) || bytes.Count(pemOut, []byte("BEGIN CERTIFICATE")) != 2 {
		t.Error("PEM or DER lost a certificate")
	}
}
