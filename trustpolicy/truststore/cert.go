package truststore

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
)

const (
	// MaxFileSize is the largest file this package reads from a store,
	// 4 MiB. notation-go has no limit; this one is deliberate.
	MaxFileSize = 4 << 20
	// MaxCertificates is the most certificates one store may hold, 1000.
	// notation-go has no limit; this one is deliberate.
	MaxCertificates = 1000
)

// parseCertificates parses a store file exactly as notation-core-go v1.3.0's
// x509.ReadCertificateFile does: if pem.Decode finds a block anywhere, every
// block that pem.Decode yields (any block type; text before, between and
// after the blocks ignored; a malformed block skipped) must be one DER
// certificate; otherwise the whole data must be one or more concatenated DER
// certificates. Empty data yields no certificate and no error. The size cap
// on files (MaxFileSize) bounds the work.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return x509.ParseCertificates(data)
	}
	var certs []*x509.Certificate
	for block != nil {
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cert)
		block, rest = pem.Decode(rest)
	}
	return certs, nil
}

// problemKind is what is wrong with one certificate of a store.
type problemKind int

const (
	problemNone problemKind = iota
	problemNotCA
	problemNotRoot
	problemNotSelfIssued
)

// caOrSelfSigned is notation-go's truststore.ValidateCertificates rule for
// one certificate: a CA certificate, or one whose signature verifies with its
// own public key (SHA-1 allowed, subject and issuer not compared).
func caOrSelfSigned(cert *x509.Certificate) bool {
	if cert.IsCA {
		return true
	}
	return cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil
}

// rootCA is notation-go's isRootCACertificate rule for tsa stores: the
// certificate must verify as its own parent (CheckSignatureFrom: a CA, or a
// v1 certificate, allowed to sign certificates, no SHA-1) and be self-issued
// (RawSubject == RawIssuer). It returns the problem and the error of
// CheckSignatureFrom when that is the reason.
func rootCA(cert *x509.Certificate) (problemKind, error) {
	if err := cert.CheckSignatureFrom(cert); err != nil {
		return problemNotRoot, err
	}
	if !bytes.Equal(cert.RawSubject, cert.RawIssuer) {
		return problemNotSelfIssued, nil
	}
	return problemNone, nil
}
