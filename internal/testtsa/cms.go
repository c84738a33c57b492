package testtsa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	_ "crypto/sha256" // hash implementations for crypto.Hash.New
	_ "crypto/sha512"

	"github.com/notaryproject/tspclient-go"
)

// The ASN.1 structures below follow RFC 5652 (CMS), RFC 3161 (TSTInfo) and
// RFC 5035 / RFC 2634 (ESS). Fields whose tagging encoding/asn1 cannot
// express are asn1.RawValues built by hand.

// algorithmIdentifier is pkix.AlgorithmIdentifier; redeclared so that an
// absent Parameters is omitted rather than encoded.
type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

// accuracy is TSTInfo's Accuracy; zero fields are omitted.
type accuracy struct {
	Seconds int `asn1:"optional"`
	Millis  int `asn1:"optional,tag:0"`
	Micros  int `asn1:"optional,tag:1"`
}

type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint tspclient.MessageImprint
	SerialNumber   *big.Int
	GenTime        asn1.RawValue // GeneralizedTime with fractional seconds
	Accuracy       accuracy      `asn1:"optional"`
	Nonce          *big.Int      `asn1:"optional"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue // [0] EXPLICIT
}

type signedData struct {
	Version          int
	DigestAlgorithms []algorithmIdentifier `asn1:"set"`
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional"` // [0] IMPLICIT SET OF Certificate
	SignerInfos      []signerInfo  `asn1:"set"`
}

type encapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     asn1.RawValue // [0] EXPLICIT OCTET STRING
}

type signerInfo struct {
	Version            int
	SID                issuerAndSerialNumber
	DigestAlgorithm    algorithmIdentifier
	SignedAttrs        asn1.RawValue // [0] IMPLICIT SET OF Attribute
	SignatureAlgorithm algorithmIdentifier
	Signature          []byte
}

type issuerAndSerialNumber struct {
	Issuer asn1.RawValue // the Name's DER
	Serial *big.Int
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue // SET OF, one value
}

// issuerSerial is ESS IssuerSerial: issuer is GeneralNames holding one
// directoryName.
type issuerSerial struct {
	Issuer []asn1.RawValue
	Serial *big.Int
}

// essCertID serves both ESSCertID (SHA-1) and ESSCertIDv2 with its
// hashAlgorithm left at the DEFAULT id-sha256, which DER omits.
type essCertID struct {
	CertHash     []byte
	IssuerSerial issuerSerial
}

// signingCertificate serves both SigningCertificate and
// SigningCertificateV2 (no policies).
type signingCertificate struct {
	Certs []essCertID
}

// token returns the DER ContentInfo of a signed timestamp token for req.
func (t *TSA) token(req *tspclient.Request, genTime time.Time, serial int64) ([]byte, error) {
	genTime = genTime.UTC()
	imprint := tspclient.MessageImprint{
		HashAlgorithm: req.MessageImprint.HashAlgorithm,
		HashedMessage: slices.Clone(req.MessageImprint.HashedMessage),
	}
	if t.opts.WrongMessageImprint && len(imprint.HashedMessage) > 0 {
		imprint.HashedMessage[0] ^= 0xff
	}
	info, err := asn1.Marshal(tstInfo{
		Version:        1,
		Policy:         t.policy,
		MessageImprint: imprint,
		SerialNumber:   big.NewInt(serial),
		GenTime:        generalizedTime(genTime),
		Accuracy:       t.accuracy,
		Nonce:          req.Nonce,
	})
	if err != nil {
		return nil, fmt.Errorf("testtsa: encoding TSTInfo: %w", err)
	}
	contentType := oidTSTInfo()
	if t.opts.WrongContentType {
		contentType = oidData()
	}

	attrs, err := t.signedAttributes(contentType, info, genTime)
	if err != nil {
		return nil, err
	}
	h := t.hash.New()
	h.Write(attrs)
	sig, err := t.signer.Sign(rand.Reader, h.Sum(nil), t.hash)
	if err != nil {
		return nil, fmt.Errorf("testtsa: signing: %w", err)
	}
	// The signature covers the attributes as a SET (tag 0x31); the
	// SignerInfo carries them [0] IMPLICIT, same length and content.
	implicitAttrs := slices.Clone(attrs)
	implicitAttrs[0] = 0xa0

	leaf := t.chain[0]
	eContent, err := asn1.Marshal(info) // OCTET STRING
	if err != nil {
		return nil, fmt.Errorf("testtsa: encoding eContent: %w", err)
	}
	sd := signedData{
		Version:          3, // RFC 5652 5.1: eContentType is not id-data
		DigestAlgorithms: []algorithmIdentifier{{Algorithm: t.hashAlg}},
		EncapContentInfo: encapContentInfo{
			EContentType: contentType,
			EContent:     explicit0(eContent),
		},
		SignerInfos: []signerInfo{{
			Version:            1,
			SID:                issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: leaf.RawIssuer}, Serial: leaf.SerialNumber},
			DigestAlgorithm:    algorithmIdentifier{Algorithm: t.hashAlg},
			SignedAttrs:        asn1.RawValue{FullBytes: implicitAttrs},
			SignatureAlgorithm: t.sigAlg,
			Signature:          sig,
		}},
	}
	if req.CertReq {
		sd.Certificates = t.certificateSet()
	}
	sdDER, err := asn1.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("testtsa: encoding SignedData: %w", err)
	}
	ci, err := asn1.Marshal(contentInfo{ContentType: oidSignedData(), Content: explicit0(sdDER)})
	if err != nil {
		return nil, fmt.Errorf("testtsa: encoding ContentInfo: %w", err)
	}
	return ci, nil
}

// signedAttributes returns the DER SET OF Attribute (sorted, as DER wants).
func (t *TSA) signedAttributes(contentType asn1.ObjectIdentifier, info []byte, genTime time.Time) ([]byte, error) {
	h := t.hash.New()
	h.Write(info)
	type attrValue struct {
		id    asn1.ObjectIdentifier
		value any
	}
	values := []attrValue{
		{oidContentType(), contentType},
		{oidMessageDigest(), h.Sum(nil)},
	}
	if !t.opts.OmitSigningTime {
		// encoding/asn1 picks UTCTime for 1950-2049, else GeneralizedTime,
		// as RFC 5652 11.3 requires.
		values = append(values, attrValue{oidSigningTime(), genTime.Truncate(time.Second)})
	}
	if !t.opts.OmitSigningCertificate {
		id, value := t.essAttribute()
		values = append(values, attrValue{id, value})
	}
	attrs := make([]attribute, 0, len(values))
	for _, v := range values {
		der, err := asn1.Marshal(v.value)
		if err != nil {
			return nil, fmt.Errorf("testtsa: encoding attribute %v: %w", v.id, err)
		}
		attrs = append(attrs, attribute{
			Type:   v.id,
			Values: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: der},
		})
	}
	der, err := asn1.MarshalWithParams(attrs, "set") // encoding/asn1 sorts SET OF
	if err != nil {
		return nil, fmt.Errorf("testtsa: encoding signed attributes: %w", err)
	}
	return der, nil
}

// essAttribute returns the signing-certificate-v2 attribute (or v1 when
// Options.SigningCertificateV1) for the TSA leaf.
func (t *TSA) essAttribute() (asn1.ObjectIdentifier, signingCertificate) {
	leaf := t.chain[0]
	is := issuerSerial{
		Issuer: []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: leaf.RawIssuer}},
		Serial: leaf.SerialNumber,
	}
	if t.opts.SigningCertificateV1 {
		sum := sha1.Sum(leaf.Raw)
		return oidSigningCertificate(), signingCertificate{Certs: []essCertID{{CertHash: sum[:], IssuerSerial: is}}}
	}
	h := crypto.SHA256.New()
	h.Write(leaf.Raw)
	return oidSigningCertificateV2(), signingCertificate{Certs: []essCertID{{CertHash: h.Sum(nil), IssuerSerial: is}}}
}

// certificateSet returns the [0] IMPLICIT SET OF Certificate: the chain
// without a self-issued root (unless the chain is that one certificate),
// sorted by DER as a SET OF must be.
func (t *TSA) certificateSet() asn1.RawValue {
	certs := t.chain
	if last := certs[len(certs)-1]; len(certs) > 1 && bytes.Equal(last.RawSubject, last.RawIssuer) {
		certs = certs[:len(certs)-1]
	}
	raws := make([][]byte, 0, len(certs))
	for _, c := range certs {
		raws = append(raws, c.Raw)
	}
	slices.SortFunc(raws, bytes.Compare)
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: bytes.Join(raws, nil)}
}

// explicit0 wraps der in a [0] EXPLICIT tag.
func explicit0(der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der}
}

// generalizedTime encodes t (UTC) as a DER GeneralizedTime: fractional
// seconds without trailing zeros, no dot when there are none. This is the
// form encoding/asn1 parses and re-serializes identically.
func generalizedTime(t time.Time) asn1.RawValue {
	return asn1.RawValue{
		Class: asn1.ClassUniversal,
		Tag:   asn1.TagGeneralizedTime,
		Bytes: []byte(t.UTC().Format("20060102150405.999999999Z")),
	}
}

// encodeAccuracy splits d into Accuracy's seconds, millis and micros.
func encodeAccuracy(d time.Duration) (accuracy, error) {
	if d < 0 {
		return accuracy{}, fmt.Errorf("testtsa: Options.Accuracy %v is negative", d)
	}
	if d%time.Microsecond != 0 {
		return accuracy{}, fmt.Errorf("testtsa: Options.Accuracy %v is not a whole number of microseconds", d)
	}
	return accuracy{
		Seconds: int(d / time.Second),
		Millis:  int(d % time.Second / time.Millisecond),
		Micros:  int(d % time.Millisecond / time.Microsecond),
	}, nil
}

// hashFromOID maps the hash algorithms tspclient-go accepts.
func hashFromOID(id asn1.ObjectIdentifier) (crypto.Hash, bool) {
	switch {
	case id.Equal(oidSHA256()):
		return crypto.SHA256, true
	case id.Equal(oidSHA384()):
		return crypto.SHA384, true
	case id.Equal(oidSHA512()):
		return crypto.SHA512, true
	}
	return 0, false
}

// algorithms picks the digest and signature algorithm for the TSA key.
func algorithms(pub crypto.PublicKey) (crypto.Hash, asn1.ObjectIdentifier, algorithmIdentifier, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			return crypto.SHA256, oidSHA256(), algorithmIdentifier{Algorithm: oidECDSAWithSHA256()}, nil
		case 384:
			return crypto.SHA384, oidSHA384(), algorithmIdentifier{Algorithm: oidECDSAWithSHA384()}, nil
		case 521:
			return crypto.SHA512, oidSHA512(), algorithmIdentifier{Algorithm: oidECDSAWithSHA512()}, nil
		}
		return 0, nil, algorithmIdentifier{}, fmt.Errorf("testtsa: unsupported curve %s", k.Curve.Params().Name)
	case *rsa.PublicKey:
		rsaAlg := algorithmIdentifier{Algorithm: oidRSAEncryption(), Parameters: asn1.NullRawValue}
		switch bits := k.N.BitLen(); {
		case bits <= 2048:
			return crypto.SHA256, oidSHA256(), rsaAlg, nil
		case bits <= 3072:
			return crypto.SHA384, oidSHA384(), rsaAlg, nil
		default:
			return crypto.SHA512, oidSHA512(), rsaAlg, nil
		}
	}
	return 0, nil, algorithmIdentifier{}, errors.New("testtsa: Options.Signer must be an ECDSA or RSA key")
}
