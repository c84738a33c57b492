package testpki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testkit"
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
func encodeCerts(certs ...*x509.Certificate) []byte { return testkit.PEM(certs...) }

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

// issue signs tmpl for pub with issuerKey through the repository's one
// certificate factory (internal/testkit.Create, which signs without
// randomness and sets the subject key ID and, for RSA, a PKCS #1 v1.5
// algorithm matching the key size). A nil issuer makes the certificate
// self-signed. The serial number is the next of the generator's.
func (g *generator) issue(tmpl *x509.Certificate, pub crypto.PublicKey, issuer *x509.Certificate, issuerKey crypto.Signer) (*x509.Certificate, error) {
	tmpl.SerialNumber = big.NewInt(firstSerial + g.issued)
	cert, err := testkit.Create(tmpl, pub, issuer, issuerKey)
	if err != nil {
		return nil, err
	}
	g.issued++
	return cert, nil
}
