package pki

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// ErrMalformedSignature is returned when an ECDSA signature is not a valid
// DER SEQUENCE of two positive INTEGERs that fit the curve.
var ErrMalformedSignature = errors.New("malformed ECDSA signature")

// ECDSARaw converts a DER ECDSA signature (what crypto.Signer returns) into
// the fixed-width r||s form that COSE and JWS carry, each half left-padded to
// the curve's byte size.
func ECDSARaw(pub *ecdsa.PublicKey, der []byte) ([]byte, error) {
	var r, s big.Int
	input := cryptobyte.String(der)
	var inner cryptobyte.String
	if !input.ReadASN1(&inner, asn1.SEQUENCE) || !input.Empty() ||
		!inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) || !inner.Empty() {
		return nil, ErrMalformedSignature
	}
	size := (pub.Curve.Params().BitSize + 7) / 8
	if r.Sign() <= 0 || s.Sign() <= 0 || len(r.Bytes()) > size || len(s.Bytes()) > size {
		return nil, fmt.Errorf("%w: r or s out of range for %s", ErrMalformedSignature, pub.Curve.Params().Name)
	}
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out, nil
}
