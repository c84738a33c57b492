package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Caps on what ParseCertificates reads: a certificate file is a chain or a
// trust bundle, never anything near these.
const (
	// MaxCertificateData is the largest input ParseCertificates parses.
	MaxCertificateData = 16 << 20
	// MaxCertificates is the most certificates one input may hold.
	MaxCertificates = 1000
)

// ErrCertificateFormat is matched (errors.Is) by every error of
// ParseCertificates: the data is not certificates in a form it reads.
var ErrCertificateFormat = errors.New("unreadable certificate data")

// Errors a *CertificateParseError wraps when the input is past a cap.
var (
	// ErrTooLarge: the input is larger than MaxCertificateData.
	ErrTooLarge = fmt.Errorf("larger than %d bytes", MaxCertificateData)
	// ErrTooManyCertificates: the input holds more than MaxCertificates.
	ErrTooManyCertificates = fmt.Errorf("more than %d certificates", MaxCertificates)
)

// CertificateParseError is an error of ParseCertificates. Index is the
// 1-based position of the certificate (or PEM block) that could not be
// read; 0 when the error concerns the whole input.
type CertificateParseError struct {
	Index int
	Msg   string
	Err   error // the cause from crypto/x509 or encoding/asn1, if any
}

func (e *CertificateParseError) Error() string {
	msg := e.Msg
	switch {
	case msg == "" && e.Err != nil:
		msg = e.Err.Error()
	case e.Err != nil:
		msg += ": " + e.Err.Error()
	}
	if e.Index > 0 {
		return fmt.Sprintf("certificate %d: %s", e.Index, msg)
	}
	return msg
}

func (e *CertificateParseError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrCertificateFormat) true.
func (e *CertificateParseError) Is(target error) bool { return target == ErrCertificateFormat }

// isPEMPKCS7 reports whether a PEM label is that of a PKCS#7/CMS bundle:
// RFC 7468's "PKCS7" (what OpenSSL and AD CS write), "CMS", and the older
// "PKCS #7 SIGNED DATA".
func isPEMPKCS7(label string) bool {
	return label == "PKCS7" || label == "CMS" || label == "PKCS #7 SIGNED DATA"
}

// ParseCertificates reads certificates in any of the forms a CA hands out:
// a PEM bundle of CERTIFICATE blocks (text before and between blocks is
// skipped, as openssl writes it), PEM PKCS7 blocks, one or more
// concatenated DER certificates (.cer, .crt), or a DER certs-only PKCS#7
// SignedData (.p7b, as AD CS exports it). Certificates are returned in the
// order they appear. Anything else is an error that names the position:
// another PEM block type (a private key pasted into a chain file is noticed
// rather than ignored), text after the last block, a PKCS#7 with signers,
// content or CRLs, or more than MaxCertificates certificates. Every error
// is a *CertificateParseError and matches ErrCertificateFormat.
//
// Input that holds "-----BEGIN " is read as PEM, input starting with a DER
// SEQUENCE as DER.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if len(data) > MaxCertificateData {
		return nil, &CertificateParseError{Err: ErrTooLarge}
	}
	rest := bytes.TrimSpace(data)
	var certs []*x509.Certificate
	var err error
	switch {
	case len(rest) == 0:
	case bytes.Contains(rest, []byte("-----BEGIN ")):
		certs, err = parsePEM(rest)
	case data[0] == 0x30:
		certs, err = parseDER(data)
	default:
		return nil, &CertificateParseError{Index: 1, Msg: "neither PEM (-----BEGIN CERTIFICATE----- or -----BEGIN PKCS7-----) nor DER (a certificate or a .p7b PKCS#7 bundle)"}
	}
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, &CertificateParseError{Msg: "no certificate found"}
	}
	return certs, nil
}

func parsePEM(rest []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for len(rest) > 0 {
		n := len(certs) + 1
		block, next := pem.Decode(rest)
		switch {
		case block == nil:
			return nil, &CertificateParseError{Index: n, Msg: "not PEM (expected -----BEGIN CERTIFICATE----- or -----BEGIN PKCS7----- and a matching END line)"}
		case block.Type == "CERTIFICATE":
			if len(certs) >= MaxCertificates {
				return nil, tooMany()
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, &CertificateParseError{Index: n, Msg: "PEM CERTIFICATE block", Err: err}
			}
			certs = append(certs, c)
		case isPEMPKCS7(block.Type):
			p7, err := parsePKCS7(block.Bytes, len(certs))
			if err != nil {
				return nil, err
			}
			certs = append(certs, p7...)
		default:
			return nil, &CertificateParseError{Index: n, Msg: fmt.Sprintf("PEM block %q is not a CERTIFICATE (or PKCS7 bundle)", block.Type)}
		}
		rest = bytes.TrimSpace(next)
	}
	return certs, nil
}

// parseDER reads concatenated DER certificates, or one DER PKCS#7. DER is
// not trimmed: a certificate may well end in a byte that looks like space.
func parseDER(data []byte) ([]*x509.Certificate, error) {
	first, _, err := derNext(data)
	if err != nil {
		return nil, &CertificateParseError{Index: 1, Msg: "DER", Err: err}
	}
	if isPKCS7(first) {
		return parsePKCS7(data, 0)
	}
	var certs []*x509.Certificate
	for rest := data; len(rest) > 0; {
		n := len(certs) + 1
		if len(certs) >= MaxCertificates {
			return nil, tooMany()
		}
		tlv, next, err := derNext(rest)
		if err != nil {
			return nil, &CertificateParseError{Index: n, Msg: "DER", Err: err}
		}
		c, err := x509.ParseCertificate(tlv.FullBytes)
		if err != nil {
			return nil, &CertificateParseError{Index: n, Msg: "DER certificate", Err: err}
		}
		certs = append(certs, c)
		rest = next
	}
	return certs, nil
}

func tooMany() error {
	return &CertificateParseError{Err: ErrTooManyCertificates}
}
