package revocation

import (
	"bytes"
	"crypto"
	_ "crypto/sha1" // OCSP CertIDs use SHA-1
	_ "crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ASN.1 of an OCSP response (RFC 6960 section 4.2.1), as in
// golang.org/x/crypto/ocsp, plus the fields that package drops: the raw
// signature algorithm, every embedded certificate, the response extensions
// and the CertID hashes.

type ocspResponseASN1 struct {
	Status   asn1.Enumerated
	Response ocspResponseBytes `asn1:"explicit,tag:0,optional"`
}

type ocspResponseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

type ocspBasicResponse struct {
	TBSResponseData    ocspResponseData
	SignatureAlgorithm asn1.RawValue
	Signature          asn1.BitString
	Certificates       []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type ocspResponseData struct {
	Raw            asn1.RawContent
	Version        int `asn1:"optional,default:0,explicit,tag:0"`
	RawResponderID asn1.RawValue
	ProducedAt     time.Time `asn1:"generalized"`
	Responses      []ocspSingleASN1
	Extensions     []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type ocspCertID struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	NameHash      []byte
	IssuerKeyHash []byte
	SerialNumber  *big.Int
}

type ocspSingleASN1 struct {
	CertID           ocspCertID
	CertStatus       asn1.RawValue    // CHOICE good [0], revoked [1], unknown [2]
	ThisUpdate       time.Time        `asn1:"generalized"`
	NextUpdate       time.Time        `asn1:"generalized,explicit,tag:0,optional"`
	SingleExtensions []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type ocspRevokedInfo struct {
	RevocationTime time.Time       `asn1:"generalized"`
	Reason         asn1.Enumerated `asn1:"explicit,tag:0,optional"`
}

// ocspStatus is the certStatus of a single response.
type ocspStatus int

const (
	ocspGood ocspStatus = iota
	ocspRevoked
	ocspUnknown
)

// ocspResponse is a parsed, not yet verified, basic OCSP response.
type ocspResponse struct {
	tbs       []byte
	sigAlg    x509.SignatureAlgorithm
	signature []byte
	certs     [][]byte
	exts      []pkix.Extension
	singles   []ocspSingle
}

// ocspSingle is one SingleResponse.
type ocspSingle struct {
	hashOID    asn1.ObjectIdentifier
	nameHash   []byte
	keyHash    []byte
	serial     *big.Int
	status     ocspStatus
	revokedAt  time.Time
	reason     int // -1 when absent
	thisUpdate time.Time
	nextUpdate time.Time
	exts       []pkix.Extension
}

func oidOCSPBasic() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
}
func oidOCSPNonce() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
}
func oidInvalidityDate() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{2, 5, 29, 24}
}
func oidReasonCode() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 5, 29, 21} }

// shortASN1Error words an encoding/asn1 error without the field
// parameters it appends to structural errors.
func shortASN1Error(err error) string {
	var se asn1.StructuralError
	var sy asn1.SyntaxError
	switch {
	case errors.As(err, &se):
		return "unexpected ASN.1 structure"
	case errors.As(err, &sy):
		return "invalid DER: " + sy.Msg
	}
	return err.Error()
}

// ocspStatusNames names the OCSPResponseStatus values.
func ocspStatusName(s int) string {
	switch s {
	case 1:
		return "malformedRequest"
	case 2:
		return "internalError"
	case 3:
		return "tryLater"
	case 5:
		return "sigRequired"
	case 6:
		return "unauthorized"
	}
	return fmt.Sprintf("status %d", s)
}

// parseOCSPResponse parses a DER OCSP response. It checks structure only.
func parseOCSPResponse(der []byte) (*ocspResponse, error) {
	var outer ocspResponseASN1
	if rest, err := asn1.Unmarshal(der, &outer); err != nil {
		return nil, kindf(ErrMalformedOCSP, "malformed OCSP response: the %d bytes received are not a DER OCSPResponse (%s)", len(der), shortASN1Error(err))
	} else if len(rest) > 0 {
		return nil, kindf(ErrMalformedOCSP, "malformed OCSP response: trailing data")
	}
	if outer.Status != 0 {
		return nil, kindf(ErrMalformedOCSP, "the OCSP responder answered %q instead of a response", ocspStatusName(int(outer.Status)))
	}
	if !outer.Response.ResponseType.Equal(oidOCSPBasic()) {
		return nil, kindf(ErrMalformedOCSP, "unsupported OCSP response type %v", outer.Response.ResponseType)
	}
	var basic ocspBasicResponse
	if rest, err := asn1.Unmarshal(outer.Response.Response, &basic); err != nil {
		return nil, kindf(ErrMalformedOCSP, "malformed basic OCSP response (%s)", shortASN1Error(err))
	} else if len(rest) > 0 {
		return nil, kindf(ErrMalformedOCSP, "malformed basic OCSP response: trailing data")
	}
	if len(basic.TBSResponseData.Responses) == 0 {
		return nil, kindf(ErrMalformedOCSP, "the OCSP response contains no single response")
	}
	r := &ocspResponse{
		tbs:       basic.TBSResponseData.Raw,
		sigAlg:    sigAlgFromAI(basic.SignatureAlgorithm.FullBytes),
		signature: basic.Signature.RightAlign(),
		exts:      basic.TBSResponseData.Extensions,
	}
	for _, c := range basic.Certificates {
		r.certs = append(r.certs, c.FullBytes)
	}
	for i, s := range basic.TBSResponseData.Responses {
		single, err := s.convert()
		if err != nil {
			return nil, kindf(ErrMalformedOCSP, "malformed OCSP single response %d: %w", i, err)
		}
		r.singles = append(r.singles, single)
	}
	return r, nil
}

func (s *ocspSingleASN1) convert() (ocspSingle, error) {
	out := ocspSingle{
		hashOID: s.CertID.HashAlgorithm.Algorithm, nameHash: s.CertID.NameHash,
		keyHash: s.CertID.IssuerKeyHash, serial: s.CertID.SerialNumber,
		reason: -1, thisUpdate: s.ThisUpdate, nextUpdate: s.NextUpdate, exts: s.SingleExtensions,
	}
	if out.serial == nil {
		return out, errors.New("no serial number")
	}
	st := s.CertStatus
	switch {
	case st.Class != asn1.ClassContextSpecific:
		return out, errors.New("bad certStatus")
	case st.Tag == 0 && !st.IsCompound && len(st.Bytes) == 0:
		out.status = ocspGood
	case st.Tag == 2 && !st.IsCompound && len(st.Bytes) == 0:
		out.status = ocspUnknown
	case st.Tag == 1 && st.IsCompound:
		var ri ocspRevokedInfo
		if rest, err := asn1.UnmarshalWithParams(st.FullBytes, &ri, "tag:1"); err != nil || len(rest) > 0 {
			return out, fmt.Errorf("bad revokedInfo: %v", err)
		}
		out.status, out.revokedAt = ocspRevoked, ri.RevocationTime
		if hasReasonField(st.Bytes) {
			out.reason = int(ri.Reason)
		}
	default:
		return out, errors.New("bad certStatus")
	}
	return out, nil
}

// hasReasonField reports whether revokedInfo content carries the optional
// [0] revocationReason.
func hasReasonField(content []byte) bool {
	s := cryptobyte.String(content)
	var t cryptobyte.String
	if !s.ReadASN1Element(&t, cbasn1.GeneralizedTime) {
		return false
	}
	return s.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific())
}

// sigAlgFromAI maps a DER AlgorithmIdentifier to an x509 signature
// algorithm with the standard library's own rules (including the RSA-PSS
// parameter checks) by parsing a minimal CRL that carries it.
func sigAlgFromAI(ai []byte) x509.SignatureAlgorithm {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(1)
			b.AddBytes(ai)
			b.AddASN1(cbasn1.SEQUENCE, func(*cryptobyte.Builder) {})
			b.AddASN1UTCTime(time.Unix(0, 0).UTC())
		})
		b.AddBytes(ai)
		b.AddASN1BitString(nil)
	})
	der, err := b.Bytes()
	if err != nil {
		return x509.UnknownSignatureAlgorithm
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return x509.UnknownSignatureAlgorithm
	}
	return rl.SignatureAlgorithm
}

// certIDHash returns the hash function of a CertID.
func certIDHash(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	switch {
	case oid.Equal(asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}):
		return crypto.SHA1, true
	case oid.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}):
		return crypto.SHA256, true
	case oid.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}):
		return crypto.SHA384, true
	case oid.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}):
		return crypto.SHA512, true
	}
	return 0, false
}

// matches reports whether the single response is about cert of issuer.
func (s *ocspSingle) matches(cert, issuer *x509.Certificate) bool {
	h, ok := certIDHash(s.hashOID)
	if !ok || s.serial.Cmp(cert.SerialNumber) != 0 {
		return false
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return false
	}
	nh := h.New()
	nh.Write(issuer.RawSubject)
	kh := h.New()
	kh.Write(spki.PublicKey.RightAlign())
	return bytes.Equal(nh.Sum(nil), s.nameHash) && bytes.Equal(kh.Sum(nil), s.keyHash)
}

// verify checks the response for cert at now: CertID, signature by the
// issuer or an authorised responder, critical extensions, and freshness.
// It returns the single response about cert.
func (r *ocspResponse) verify(cert, issuer *x509.Certificate, now time.Time) (*ocspSingle, error) {
	i := slices.IndexFunc(r.singles, func(s ocspSingle) bool { return s.matches(cert, issuer) })
	if i < 0 {
		return nil, kindf(ErrOCSPNotForCert, "the OCSP response is not about this certificate (no matching CertID)")
	}
	single := &r.singles[i]
	if err := r.checkSigner(issuer, now); err != nil {
		return nil, err
	}
	for _, ext := range r.exts {
		if ext.Critical && !ext.Id.Equal(oidOCSPNonce()) {
			return nil, kindf(ErrMalformedOCSP, "unsupported critical OCSP response extension %v", ext.Id)
		}
	}
	for _, ext := range single.exts {
		if ext.Critical && !ext.Id.Equal(oidInvalidityDate()) && !ext.Id.Equal(oidReasonCode()) {
			return nil, kindf(ErrMalformedOCSP, "unsupported critical OCSP single response extension %v", ext.Id)
		}
	}
	if single.nextUpdate.IsZero() {
		return nil, kindf(ErrOCSPExpired, "expired OCSP response: it has no nextUpdate")
	}
	if now.After(single.nextUpdate) {
		return nil, kindf(ErrOCSPExpired, "expired OCSP response: nextUpdate %s is before the verification time %s",
			single.nextUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return single, nil
}

// checkSigner accepts a response signed by the issuer, or by an embedded
// responder certificate that the issuer signed, that has the OCSPSigning
// extended key usage and that is valid at now (RFC 6960 section 4.2.2.2).
func (r *ocspResponse) checkSigner(issuer *x509.Certificate, now time.Time) error {
	if issuer.CheckSignature(r.sigAlg, r.tbs, r.signature) == nil {
		return nil
	}
	var reason error
	for _, raw := range r.certs {
		rc, err := x509.ParseCertificate(raw)
		if err != nil {
			reason = kindf(ErrMalformedOCSP, "the OCSP response carries an unparsable responder certificate: %w", err)
			continue
		}
		if !bytes.Equal(rc.RawIssuer, issuer.RawSubject) ||
			issuer.CheckSignature(rc.SignatureAlgorithm, rc.RawTBSCertificate, rc.Signature) != nil {
			reason = kindf(ErrOCSPResponderUnauthorized, "the OCSP responder certificate %q is not issued by the issuing CA %q", rc.Subject.String(), issuer.Subject.String())
			continue
		}
		if err := rc.CheckSignature(r.sigAlg, r.tbs, r.signature); err != nil {
			reason = kindf(ErrOCSPSignature, "bad OCSP response signature by responder %q: %w", rc.Subject.String(), err)
			continue
		}
		if !slices.Contains(rc.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
			return kindf(ErrOCSPResponderUnauthorized, "the delegated OCSP responder certificate %q lacks the OCSPSigning extended key usage", rc.Subject.String())
		}
		if now.Before(rc.NotBefore) || now.After(rc.NotAfter) {
			return kindf(ErrOCSPResponderValidity, "the delegated OCSP responder certificate %q is not valid at %s (valid %s to %s)",
				rc.Subject.String(), now.UTC().Format(time.RFC3339), rc.NotBefore.UTC().Format(time.RFC3339), rc.NotAfter.UTC().Format(time.RFC3339))
		}
		return nil
	}
	if reason == nil {
		return kindf(ErrOCSPSignature, "bad OCSP response signature: not signed by the issuing CA, and no responder certificate is included")
	}
	return reason
}

// invalidityDate returns the invalidityDate single extension, if valid.
func (s *ocspSingle) invalidityDate() (time.Time, bool) {
	for _, ext := range s.exts {
		if ext.Id.Equal(oidInvalidityDate()) {
			var t time.Time
			rest, err := asn1.UnmarshalWithParams(ext.Value, &t, "generalized")
			return t, err == nil && len(rest) == 0
		}
	}
	return time.Time{}, false
}
