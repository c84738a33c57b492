package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
)

// This file reads the one PKCS#7 (RFC 2315, CMS RFC 5652) structure a CA
// hands out as a certificate bundle: a "degenerate", certs-only SignedData,
// as `openssl crl2pkcs7 -nocrl` writes it and AD CS exports a chain (.p7b):
//
//	ContentInfo ::= SEQUENCE { contentType (signedData), content [0] EXPLICIT SignedData }
//	SignedData  ::= SEQUENCE { version INTEGER, digestAlgorithms SET,
//	                           encapContentInfo SEQUENCE { contentType (data) },
//	                           certificates [0] IMPLICIT SET OF Certificate OPTIONAL,
//	                           signerInfos SET (empty) }
//
// It is strict: DER only (encoding/asn1), nothing after a structure, no
// signers, no encapsulated content, no CRLs, no certificate other than an
// X.509 one. A bundle with signatures is not a certificate list, and
// nothing here would check those signatures.

var (
	oidPKCS7Data       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidPKCS7SignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
)

// derNext reads one DER TLV from b and returns it with what follows.
func derNext(b []byte) (asn1.RawValue, []byte, error) {
	var rv asn1.RawValue
	rest, err := asn1.Unmarshal(b, &rv)
	if err != nil {
		return rv, nil, err
	}
	return rv, rest, nil
}

// derElements splits the contents of a constructed value into its TLVs.
func derElements(b []byte, max int) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(b) > 0 {
		if len(out) >= max {
			return nil, fmt.Errorf("%w: more than %d", errTooManyElements, max)
		}
		rv, rest, err := derNext(b)
		if err != nil {
			return nil, err
		}
		out = append(out, rv)
		b = rest
	}
	return out, nil
}

func isUniversal(rv asn1.RawValue, tag int) bool {
	return rv.Class == asn1.ClassUniversal && rv.Tag == tag
}

func isContext(rv asn1.RawValue, tag int) bool {
	return rv.Class == asn1.ClassContextSpecific && rv.Tag == tag && rv.IsCompound
}

// isPKCS7 reports whether a top-level SEQUENCE starts with an OID, as a
// ContentInfo does (a certificate starts with its TBS SEQUENCE).
func isPKCS7(rv asn1.RawValue) bool {
	if !isUniversal(rv, asn1.TagSequence) || !rv.IsCompound {
		return false
	}
	first, _, err := derNext(rv.Bytes)
	return err == nil && isUniversal(first, asn1.TagOID)
}

// parsePKCS7 returns the certificates of a DER certs-only SignedData.
// before is how many certificates precede it in the input.
func parsePKCS7(der []byte, before int) ([]*x509.Certificate, error) {
	fail := func(msg string, err error) error {
		return &CertificateParseError{Index: before + 1, Msg: "PKCS#7 bundle: " + msg, Err: err}
	}
	ci, rest, err := derNext(der)
	if err != nil {
		return nil, fail("not DER", err)
	}
	if len(rest) > 0 {
		return nil, fail(fmt.Sprintf("%d byte(s) after the end", len(rest)), nil)
	}
	if !isUniversal(ci, asn1.TagSequence) {
		return nil, fail("not a ContentInfo SEQUENCE", nil)
	}
	parts, err := derElements(ci.Bytes, 2)
	if err != nil || len(parts) != 2 {
		return nil, fail("ContentInfo is not a content type and [0] content", err)
	}
	var typ asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(parts[0].FullBytes, &typ); err != nil {
		return nil, fail("content type", err)
	}
	if !typ.Equal(oidPKCS7SignedData) {
		return nil, fail(fmt.Sprintf("content type %s is not SignedData (1.2.840.113549.1.7.2)", typ), nil)
	}
	if !isContext(parts[1], 0) {
		return nil, fail("SignedData is not in an explicit [0]", nil)
	}
	sdTLV, rest, err := derNext(parts[1].Bytes)
	if err != nil || len(rest) > 0 || !isUniversal(sdTLV, asn1.TagSequence) {
		return nil, fail("SignedData is not one SEQUENCE", err)
	}
	sd, err := derElements(sdTLV.Bytes, 6)
	if err != nil {
		return nil, fail("SignedData", err)
	}
	// version, digestAlgorithms, encapContentInfo, [0] certificates, [1] crls, signerInfos
	if len(sd) < 4 {
		return nil, fail("SignedData has too few fields", nil)
	}
	var version int
	if _, err := asn1.Unmarshal(sd[0].FullBytes, &version); err != nil || version < 1 || version > 5 {
		return nil, fail("SignedData version is not 1 to 5", err)
	}
	if !isUniversal(sd[1], asn1.TagSet) {
		return nil, fail("digestAlgorithms is not a SET", nil)
	}
	if err := checkEncapData(sd[2]); err != nil {
		return nil, fail("encapContentInfo", err)
	}
	signers := sd[len(sd)-1]
	if !isUniversal(signers, asn1.TagSet) {
		return nil, fail("signerInfos is not a SET", nil)
	}
	if len(signers.Bytes) > 0 {
		return nil, fail("it is signed (signerInfos is not empty); export the certificates only, e.g. openssl pkcs7 -print_certs", nil)
	}
	var certSet *asn1.RawValue
	for i := 3; i < len(sd)-1; i++ {
		switch {
		case isContext(sd[i], 0) && certSet == nil && i == 3:
			certSet = &sd[i]
		case isContext(sd[i], 1):
			return nil, fail("it holds CRLs; export the certificates only (openssl crl2pkcs7 -nocrl)", nil)
		default:
			return nil, fail(fmt.Sprintf("unexpected SignedData field %d", i+1), nil)
		}
	}
	if certSet == nil {
		return nil, nil // no certificates: ParseCertificates reports it
	}
	elems, err := derElements(certSet.Bytes, MaxCertificates+1)
	if err != nil {
		if errors.Is(err, errTooManyElements) {
			return nil, tooMany()
		}
		return nil, fail("certificates", err)
	}
	if before+len(elems) > MaxCertificates {
		return nil, tooMany()
	}
	certs := make([]*x509.Certificate, 0, len(elems))
	for i, e := range elems {
		n := before + i + 1
		if !isUniversal(e, asn1.TagSequence) {
			return nil, &CertificateParseError{Index: n, Msg: fmt.Sprintf("PKCS#7 bundle holds a certificate of another kind (tag [%d], class %d); only X.509 certificates are read", e.Tag, e.Class)}
		}
		c, err := x509.ParseCertificate(e.FullBytes)
		if err != nil {
			return nil, &CertificateParseError{Index: n, Msg: "PKCS#7 bundle", Err: err}
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// errTooManyElements is derElements' error for a value with too many parts.
var errTooManyElements = errors.New("too many elements")

// checkEncapData checks the encapContentInfo: content type data and no
// content.
func checkEncapData(rv asn1.RawValue) error {
	if !isUniversal(rv, asn1.TagSequence) {
		return errors.New("not a SEQUENCE")
	}
	parts, err := derElements(rv.Bytes, 2)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return errors.New("empty")
	}
	var typ asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(parts[0].FullBytes, &typ); err != nil {
		return err
	}
	if !typ.Equal(oidPKCS7Data) {
		return fmt.Errorf("content type %s is not data (1.2.840.113549.1.7.1)", typ)
	}
	if len(parts) > 1 {
		return errors.New("it carries content; a certificate bundle has none")
	}
	return nil
}
