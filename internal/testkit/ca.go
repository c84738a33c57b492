package testkit

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// CA is an issuing certificate and its key.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CATemplate is a CA profile: basicConstraints CA:true, keyUsage
// keyCertSign and cRLSign, valid from notBefore to notAfter.
func CATemplate(subject pkix.Name, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject: subject, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true,
	}
}

// LeafTemplate is the Notary Project code-signing leaf profile: critical
// keyUsage digitalSignature, extendedKeyUsage codeSigning,
// basicConstraints CA:false, valid from notBefore to notAfter.
func LeafTemplate(subject pkix.Name, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject: subject, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
}

// NewRoot is a self-signed CA for tmpl with key.
func NewRoot(t testing.TB, tmpl *x509.Certificate, key crypto.Signer) *CA {
	t.Helper()
	return &CA{Cert: Issue(t, tmpl, key.Public(), nil, key), Key: key}
}

// Issue signs tmpl for pub.
func (ca *CA) Issue(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	return Issue(t, tmpl, pub, ca.Cert, ca.Key)
}

// NewCA issues a CA certificate for tmpl with key.
func (ca *CA) NewCA(t testing.TB, tmpl *x509.Certificate, key crypto.Signer) *CA {
	t.Helper()
	return &CA{Cert: ca.Issue(t, tmpl, key.Public()), Key: key}
}

// CRL signs list; a nil Number is 1.
func (ca *CA) CRL(t testing.TB, list *x509.RevocationList) []byte {
	t.Helper()
	l := *list
	if l.Number == nil {
		l.Number = big.NewInt(1)
	}
	der, err := x509.CreateRevocationList(rand.Reader, &l, ca.Cert, ca.Key)
	if err != nil {
		t.Fatalf("testkit: CRL of %q: %v", ca.Cert.Subject, err)
	}
	return der
}

// OCSP signs an OCSP response about cert, which ca issued: by ca itself,
// or by responder (a delegated responder, whose certificate the response
// carries) when it is not nil. A nil SerialNumber is cert's.
func (ca *CA) OCSP(t testing.TB, cert *x509.Certificate, resp ocsp.Response, responder *CA) []byte {
	t.Helper()
	signer := ca
	if responder != nil {
		signer = responder
		resp.Certificate = responder.Cert
	}
	if resp.SerialNumber == nil {
		resp.SerialNumber = cert.SerialNumber
	}
	return SignOCSP(t, ca.Cert, signer, resp)
}

// SignOCSP signs resp, an answer about a certificate that issuer issued,
// with signer's key, exactly as given: whether resp carries a certificate
// (resp.Certificate) and which is up to the caller, so a test can make a
// response signed by a key that has nothing to do with the issuer.
func SignOCSP(t testing.TB, issuer *x509.Certificate, signer *CA, resp ocsp.Response) []byte {
	t.Helper()
	der, err := ocsp.CreateResponse(issuer, signer.Cert, resp, signer.Key)
	if err != nil {
		t.Fatalf("testkit: OCSP response by %q: %v", signer.Cert.Subject, err)
	}
	return der
}

// Resign rebuilds base's TBSCertificate with the given version (1 or 3; a
// version 1 certificate has no extensions), issuer name and signature
// algorithm identifier, and signs it with sign. It makes what
// x509.CreateCertificate refuses to: version 1 certificates, algorithms Go
// does not sign with (ecdsa-with-SHA1), an issuer name that is not the
// signer's subject.
func Resign(t testing.TB, base *x509.Certificate, version int, rawIssuer []byte, alg pkix.AlgorithmIdentifier, sign func(tbs []byte) []byte) *x509.Certificate {
	t.Helper()
	type validity struct{ NotBefore, NotAfter time.Time }
	type tbsCertificate struct {
		Version            int `asn1:"optional,explicit,default:0,tag:0"`
		SerialNumber       *big.Int
		SignatureAlgorithm pkix.AlgorithmIdentifier
		Issuer             asn1.RawValue
		Validity           validity
		Subject            asn1.RawValue
		PublicKey          asn1.RawValue
		Extensions         []pkix.Extension `asn1:"omitempty,optional,explicit,tag:3"`
	}
	tbs := tbsCertificate{
		Version:            version - 1,
		SerialNumber:       base.SerialNumber,
		SignatureAlgorithm: alg,
		Issuer:             asn1.RawValue{FullBytes: rawIssuer},
		Validity:           validity{base.NotBefore.UTC(), base.NotAfter.UTC()},
		Subject:            asn1.RawValue{FullBytes: base.RawSubject},
		PublicKey:          asn1.RawValue{FullBytes: base.RawSubjectPublicKeyInfo},
	}
	if version == 3 {
		tbs.Extensions = base.Extensions
	}
	tbsDER, err := asn1.Marshal(tbs)
	if err != nil {
		t.Fatal(err)
	}
	sig := sign(tbsDER)
	cert := struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}{asn1.RawValue{FullBytes: tbsDER}, alg, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}}
	der, err := asn1.Marshal(cert)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testkit: resigned %q does not parse: %v", base.Subject, err)
	}
	return c
}
