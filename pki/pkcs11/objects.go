package pkcs11

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"

	p11 "github.com/miekg/pkcs11"
)

// maxObjects bounds every object search, so a token crowded with objects
// cannot make a lookup unbounded.
const maxObjects = 256

// session is one session on a slot: read-only, or read-write to create
// objects.
type session struct {
	m *module
	h p11.SessionHandle
}

func (m *module) openSession(slot uint, rw bool) (*session, error) {
	flags := uint(p11.CKF_SERIAL_SESSION)
	if rw {
		flags |= p11.CKF_RW_SESSION
	}
	h, err := m.ctx.OpenSession(slot, flags)
	if err != nil {
		return nil, fmt.Errorf("failed to open a session on slot %d: %w", slot, err)
	}
	return &session{m: m, h: h}, nil
}

func (s *session) close() { _ = s.m.ctx.CloseSession(s.h) }

func (s *session) find(template []*p11.Attribute) ([]p11.ObjectHandle, error) {
	if err := s.m.ctx.FindObjectsInit(s.h, template); err != nil {
		return nil, fmt.Errorf("failed to search objects: %w", err)
	}
	hs, _, err := s.m.ctx.FindObjects(s.h, maxObjects)
	if ferr := s.m.ctx.FindObjectsFinal(s.h); err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		return nil, fmt.Errorf("failed to search objects: %w", err)
	}
	return hs, nil
}

func (s *session) attrs(h p11.ObjectHandle, types ...uint) ([][]byte, error) {
	tmpl := make([]*p11.Attribute, len(types))
	for i, t := range types {
		tmpl[i] = p11.NewAttribute(t, nil)
	}
	got, err := s.m.ctx.GetAttributeValue(s.h, h, tmpl)
	if err != nil {
		return nil, fmt.Errorf("failed to read object attributes: %w", err)
	}
	out := make([][]byte, len(types))
	for _, a := range got {
		for i, t := range types {
			if a.Type == t {
				out[i] = a.Value
			}
		}
	}
	return out, nil
}

func keyTemplate(class uint, u *URI) []*p11.Attribute {
	t := []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, class)}
	if u.Object != "" {
		t = append(t, p11.NewAttribute(p11.CKA_LABEL, u.Object))
	}
	if len(u.ID) > 0 {
		t = append(t, p11.NewAttribute(p11.CKA_ID, u.ID))
	}
	return t
}

// publicKey finds the public half of the key u names without logging in:
// a public-key object with the key's label and id, else a certificate with
// the key's id. It returns the key and its CKA_ID.
func (s *session) publicKey(u *URI) (crypto.PublicKey, []byte, error) {
	hs, err := s.find(keyTemplate(p11.CKO_PUBLIC_KEY, u))
	if err != nil {
		return nil, nil, err
	}
	if len(hs) > 1 {
		return nil, nil, fmt.Errorf("%w: %d public keys match %s; add id= to the URI", ErrAmbiguous, len(hs), u.KeyDescription())
	}
	if len(hs) == 1 {
		v, err := s.attrs(hs[0], p11.CKA_KEY_TYPE, p11.CKA_ID)
		if err != nil {
			return nil, nil, err
		}
		pub, err := s.exportPublic(hs[0], v[0])
		return pub, v[1], err
	}
	if len(u.ID) > 0 {
		certs, err := s.certificates(p11.NewAttribute(p11.CKA_ID, u.ID))
		if err != nil {
			return nil, nil, err
		}
		if len(certs) > 0 {
			return certs[0].PublicKey, u.ID, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: no public key object matches %s without logging in", ErrKeyNotFound, u.KeyDescription())
}

func (s *session) exportPublic(h p11.ObjectHandle, keyType []byte) (crypto.PublicKey, error) {
	kt, err := ulong(keyType)
	if err != nil {
		return nil, err
	}
	switch kt {
	case p11.CKK_RSA:
		v, err := s.attrs(h, p11.CKA_MODULUS, p11.CKA_PUBLIC_EXPONENT)
		if err != nil {
			return nil, err
		}
		e := new(big.Int).SetBytes(v[1])
		if len(v[0]) == 0 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31 {
			return nil, tagged(ErrMalformedObject, "malformed RSA public key object")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(v[0]), E: int(e.Int64())}, nil
	case p11.CKK_EC:
		v, err := s.attrs(h, p11.CKA_EC_PARAMS, p11.CKA_EC_POINT)
		if err != nil {
			return nil, err
		}
		return parseECPublic(v[0], v[1])
	}
	return nil, fmt.Errorf("key type 0x%x is neither RSA nor EC", kt)
}

// curveFor returns the curve of a named-curve OID, or nil for one other
// than P-256, P-384 and P-521.
func curveFor(oid asn1.ObjectIdentifier) elliptic.Curve {
	switch oid.String() {
	case "1.2.840.10045.3.1.7":
		return elliptic.P256()
	case "1.3.132.0.34":
		return elliptic.P384()
	case "1.3.132.0.35":
		return elliptic.P521()
	}
	return nil
}

func parseECPublic(params, point []byte) (*ecdsa.PublicKey, error) {
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(params, &oid); err != nil || len(rest) > 0 {
		return nil, tagged(ErrMalformedObject, "EC key parameters are not a named curve")
	}
	curve := curveFor(oid)
	if curve == nil {
		return nil, tagged(ErrUnsupportedCurve, "EC curve %s is not P-256, P-384 or P-521", oid)
	}
	// CKA_EC_POINT is a DER OCTET STRING holding the point; some modules
	// store the bare point. A bare uncompressed point also starts with
	// 0x04 (the OCTET STRING tag), so decide by length first.
	raw := point
	size := (curve.Params().BitSize + 7) / 8
	if len(point) != 1+2*size {
		var inner []byte
		if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
			raw = inner
		}
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, raw)
	if err != nil {
		return nil, tagged(ErrMalformedObject, "malformed EC point: %w", err)
	}
	return pub, nil
}

func ulong(b []byte) (uint, error) {
	if len(b) != 8 && len(b) != 4 {
		return 0, tagged(ErrMalformedObject, "malformed CK_ULONG attribute")
	}
	var v uint
	for i := len(b) - 1; i >= 0; i-- { // little-endian, as on every platform cgo targets here
		v = v<<8 | uint(b[i])
	}
	return v, nil
}

// certificates returns the X.509 certificates matching extra attributes.
// Values that do not parse are skipped: a token may hold other objects.
func (s *session) certificates(extra ...*p11.Attribute) ([]*x509.Certificate, error) {
	tmpl := append([]*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_CERTIFICATE),
		p11.NewAttribute(p11.CKA_CERTIFICATE_TYPE, p11.CKC_X_509),
	}, extra...)
	hs, err := s.find(tmpl)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, h := range hs {
		v, err := s.attrs(h, p11.CKA_VALUE)
		if err != nil {
			return nil, err
		}
		if c, err := x509.ParseCertificate(v[0]); err == nil {
			out = append(out, c)
		}
	}
	return out, nil
}
