package testpki

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"time"
)

// Epoch is the fixed instant all validity periods are computed from; use it
// as the verification time in tests.
func Epoch() time.Time {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
}

// firstSerial is the serial number of the first certificate Generate issues;
// each further certificate gets the next number.
const firstSerial = 0x1000

// LoadCertificates reads every CERTIFICATE block of a PEM file, in order. It
// fails if the file holds no certificate or any other kind of PEM block.
func LoadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificates: %w", err)
	}
	var certs []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: unexpected PEM block %q", path, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", path, len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no CERTIFICATE PEM block", path)
	}
	return certs, nil
}

// encodeCerts returns certs as concatenated PEM blocks.
func encodeCerts(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func subject(cn string) pkix.Name {
	return pkix.Name{
		Country:      []string{"US"},
		Province:     []string{"WA"},
		Locality:     []string{"Seattle"},
		Organization: []string{"Notation PKCS11 Test"},
		CommonName:   cn,
	}
}

// caTemplate is a root (pathLen 1) or intermediate (pathLen 0) profile.
func caTemplate(cn string, pathLen int) *x509.Certificate {
	return &x509.Certificate{
		Subject:               subject(cn),
		NotBefore:             Epoch().AddDate(0, 0, -365),
		NotAfter:              Epoch().AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            pathLen,
		MaxPathLenZero:        pathLen == 0,
	}
}

// leafTemplate is a valid Notary Project code-signing leaf profile.
func leafTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               subject(cn),
		NotBefore:             Epoch().AddDate(0, 0, -365),
		NotAfter:              Epoch().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
}

// issue signs tmpl for pub with issuerKey. A nil issuer makes the certificate
// self-signed. The serial number, subject key ID and signature algorithm are
// set here; signing uses no randomness.
func (g *generator) issue(tmpl *x509.Certificate, pub crypto.PublicKey, issuer *x509.Certificate, issuerKey crypto.Signer) (*x509.Certificate, error) {
	skid, err := subjectKeyID(pub)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	tmpl.SerialNumber = big.NewInt(firstSerial + g.issued)
	tmpl.SubjectKeyId = skid
	tmpl.SignatureAlgorithm = signatureAlgorithm(issuerKey)
	if issuer == nil {
		issuer = tmpl
	}
	der, err := x509.CreateCertificate(nil, tmpl, issuer, pub, issuerKey)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	g.issued++
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return cert, nil
}

// subjectKeyID is the SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2,
// method 1).
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}

// signatureAlgorithm picks PKCS #1 v1.5 (deterministic) with a hash matching
// an RSA issuer's size; for ECDSA, x509 already matches the hash to the curve.
func signatureAlgorithm(issuerKey crypto.Signer) x509.SignatureAlgorithm {
	pub, ok := issuerKey.Public().(*rsa.PublicKey)
	switch {
	case !ok:
		return x509.UnknownSignatureAlgorithm
	case pub.N.BitLen() >= 4096:
		return x509.SHA512WithRSA
	case pub.N.BitLen() >= 3072:
		return x509.SHA384WithRSA
	default:
		return x509.SHA256WithRSA
	}
}
