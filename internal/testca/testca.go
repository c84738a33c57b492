// Package testca is a development-only issuing CA: it signs Notation
// code-signing certificates for keys generated in an HSM, so that the demo
// and the tests can go from an empty token to a verified signature. A
// [Profile] adds CRL distribution points or replaces the EKU (to make bad
// certificates on purpose), and [CA.CRL] signs CRLs for revocation tests.
// The command in ./issue issues a request from the command line.
//
// # Security
//
// Its keys are public test keys (testdata/pki/ca). Never trust its root
// outside tests; real deployments use their own CA with the profile the
// README describes.
package testca

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// CA is an intermediate CA with its root.
type CA struct {
	Root         *x509.Certificate
	Intermediate *x509.Certificate
	key          crypto.Signer
}

// Load reads root.crt, intermediate.crt and intermediate.key from dir.
func Load(dir string) (*CA, error) {
	root, err := readCert(filepath.Join(dir, "root.crt"))
	if err != nil {
		return nil, err
	}
	inter, err := readCert(filepath.Join(dir, "intermediate.crt"))
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "intermediate.key")
	block, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(block)
	if err != nil {
		return nil, fmt.Errorf("testca: %s: %w", path, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok || !publicEqual(signer.Public(), inter.PublicKey) {
		return nil, fmt.Errorf("testca: %s is not the key of %s", path, inter.Subject)
	}
	return &CA{Root: root, Intermediate: inter, key: signer}, nil
}

// Chain returns the issuer chain to append after an issued leaf.
func (ca *CA) Chain() []*x509.Certificate { return []*x509.Certificate{ca.Intermediate, ca.Root} }

// Profile adjusts what Issue puts in a certificate; the zero value is the
// Notary Project leaf profile.
type Profile struct {
	// CRLDistributionPoints are http URLs of the CA's CRL (see CRL).
	CRLDistributionPoints []string
	// ExtKeyUsage replaces the codeSigning EKU when set: tests use it to
	// issue certificates that break the rules (for example serverAuth).
	ExtKeyUsage []x509.ExtKeyUsage
}

// Issue signs a code-signing certificate for pub with the Notary Project
// leaf profile: critical keyUsage digitalSignature, EKU codeSigning,
// basicConstraints CA:FALSE. The serial is derived from the key and the
// validity, so reissuing the same request gives the same certificate.
func (ca *CA) Issue(pub crypto.PublicKey, subject pkix.Name, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	return ca.IssueWith(pub, subject, notBefore, notAfter, Profile{})
}

// IssueWith is Issue with a Profile. The serial also depends on the
// profile, so two profiles for one key give two serials.
func (ca *CA) IssueWith(pub crypto.PublicKey, subject pkix.Name, notBefore, notAfter time.Time, p Profile) (*x509.Certificate, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("testca: %w", err)
	}
	h := sha256.New()
	h.Write(spki)
	fmt.Fprintf(h, "%d-%d", notBefore.Unix(), notAfter.Unix())
	if len(p.CRLDistributionPoints) > 0 || p.ExtKeyUsage != nil {
		fmt.Fprintf(h, "-%q-%v", p.CRLDistributionPoints, p.ExtKeyUsage)
	}
	serial := new(big.Int).SetBytes(h.Sum(nil)[:16])
	skid := sha256.Sum256(spki)
	eku := []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	if p.ExtKeyUsage != nil {
		eku = p.ExtKeyUsage
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
		SubjectKeyId:          skid[:20],
		CRLDistributionPoints: p.CRLDistributionPoints,
	}
	der, err := x509.CreateCertificate(nil, tmpl, ca.Intermediate, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("testca: failed to issue a certificate for %s: %w", subject, err)
	}
	return x509.ParseCertificate(der)
}

// IssueCSR checks the request's signature and issues a certificate for its
// key and subject.
func (ca *CA) IssueCSR(csr *x509.CertificateRequest, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	return ca.IssueCSRWith(csr, notBefore, notAfter, Profile{})
}

// IssueCSRWith is IssueCSR with a Profile.
func (ca *CA) IssueCSRWith(csr *x509.CertificateRequest, notBefore, notAfter time.Time, p Profile) (*x509.Certificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("testca: the request for %s has a bad signature: %w", csr.Subject, err)
	}
	return ca.IssueWith(csr.PublicKey, csr.Subject, notBefore, notAfter, p)
}

// CRL returns a DER CRL signed by the intermediate, numbered number, that
// revokes the given certificates (reason keyCompromise) as of thisUpdate.
func (ca *CA) CRL(number int64, revoked []*x509.Certificate, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	entries := make([]x509.RevocationListEntry, len(revoked))
	for i, c := range revoked {
		entries[i] = x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: thisUpdate, ReasonCode: 1}
	}
	der, err := x509.CreateRevocationList(nil, &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: entries,
	}, ca.Intermediate, ca.key)
	if err != nil {
		return nil, fmt.Errorf("testca: failed to sign a CRL: %w", err)
	}
	return der, nil
}

// PEM encodes certificates as a PEM bundle.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func readCert(path string) (*x509.Certificate, error) {
	der, err := readPEM(path, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testca: %s: %w", path, err)
	}
	return c, nil
}

func readPEM(path, typ string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("testca: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != typ {
		return nil, fmt.Errorf("testca: %s: no %s PEM block", path, typ)
	}
	return block.Bytes, nil
}

func publicEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// ErrNoCA is returned by FindDir when no CA directory is found.
var ErrNoCA = errors.New("testca: testdata/pki/ca not found")

// FindDir walks up from start to the module root and returns its
// testdata/pki/ca directory.
func FindDir(start string) (string, error) {
	start, err := filepath.Abs(start)
	if err != nil {
		return "", fmt.Errorf("testca: %w", err)
	}
	for d := start; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "testdata", "pki", "ca")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", ErrNoCA
		}
	}
}
