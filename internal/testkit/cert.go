package testkit

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"testing"
)

// Create signs tmpl for pub with key, issued by parent (nil: self-issued,
// the template is its own parent). What the template leaves unset is
// filled in: the serial number (derived from the template, the parent's
// subject and pub, so distinct certificates get distinct serials), the
// subject key identifier (RFC 5280 4.2.1.2 method 1) and, for an RSA key,
// a PKCS #1 v1.5 signature algorithm whose hash matches the key size.
// tmpl is not modified.
func Create(tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, key crypto.Signer) (*x509.Certificate, error) {
	if tmpl == nil || pub == nil || key == nil {
		return nil, errors.New("testkit: Create needs a template, a public key and a signing key")
	}
	c := *tmpl
	if c.SubjectKeyId == nil {
		skid, err := SubjectKeyID(pub)
		if err != nil {
			return nil, fmt.Errorf("testkit: certificate %q: %w", c.Subject.CommonName, err)
		}
		c.SubjectKeyId = skid
	}
	if c.SignatureAlgorithm == x509.UnknownSignatureAlgorithm {
		c.SignatureAlgorithm = SignatureAlgorithm(key)
	}
	if parent == nil {
		parent = &c
	}
	if c.SerialNumber == nil {
		serial, err := deriveSerial(&c, parent, pub)
		if err != nil {
			return nil, fmt.Errorf("testkit: certificate %q: %w", c.Subject.CommonName, err)
		}
		c.SerialNumber = serial
	}
	der, err := x509.CreateCertificate(nil, &c, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("testkit: certificate %q: %w", c.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testkit: certificate %q: %w", c.Subject.CommonName, err)
	}
	return cert, nil
}

// Issue is Create for a test: a failure ends the test.
func Issue(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, key crypto.Signer) *x509.Certificate {
	t.Helper()
	cert, err := Create(tmpl, pub, parent, key)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// SubjectKeyID is the SHA-1 of the subjectPublicKey bits (RFC 5280
// 4.2.1.2, method 1).
func SubjectKeyID(pub crypto.PublicKey) ([]byte, error) {
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

// SignatureAlgorithm picks PKCS #1 v1.5 (deterministic) with a hash
// matching an RSA key's size; for other keys x509 chooses (ECDSA matches
// the hash to the curve).
func SignatureAlgorithm(key crypto.Signer) x509.SignatureAlgorithm {
	pub, ok := key.Public().(*rsa.PublicKey)
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

// deriveSerial is a positive 127-bit serial number from what makes a
// certificate distinct: subject, issuer, key, validity, usages and
// endpoints.
func deriveSerial(c, parent *x509.Certificate, pub crypto.PublicKey) (*big.Int, error) {
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	h := sha256.New()
	field := func(b []byte) {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
		h.Write(b)
	}
	field([]byte(c.Subject.String()))
	field([]byte(parent.Subject.String()))
	field(pubDER)
	field(fmt.Appendf(nil, "%d %d %v %d %d %v %q %q %v", c.NotBefore.UnixNano(), c.NotAfter.UnixNano(), c.IsCA, c.MaxPathLen,
		c.KeyUsage, c.ExtKeyUsage, c.OCSPServer, c.CRLDistributionPoints, c.UnknownExtKeyUsage))
	for _, e := range c.ExtraExtensions {
		field([]byte(e.Id.String()))
		field(e.Value)
	}
	sum := h.Sum(nil)
	sum[0] &= 0x7f
	n := new(big.Int).SetBytes(sum[:16])
	return n.Add(n, big.NewInt(1)), nil
}

// PEM returns certs as concatenated CERTIFICATE blocks.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// DER returns the certificates' DER encodings, concatenated.
func DER(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, c.Raw...)
	}
	return out
}
