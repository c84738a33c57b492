package revocation

import (
	"encoding/asn1"
	"errors"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// readExtension reads one CRL entry extension into e. It understands
// reasonCode and invalidityDate and rejects any other critical extension.
func (e *crlEntry) readExtension(exts *cryptobyte.String) error {
	var ext, oid, val cryptobyte.String
	if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) {
		return errors.New("malformed extension")
	}
	var other asn1.ObjectIdentifier // set for extensions we do not understand
	if string(oid) != oidDERReasonCode && string(oid) != oidDERInvalidityDate {
		// Validate the OID as the standard library would (rare path).
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.OBJECT_IDENTIFIER, func(b *cryptobyte.Builder) { b.AddBytes(oid) })
		full, err := b.Bytes()
		if s := cryptobyte.String(full); err != nil || !s.ReadASN1ObjectIdentifier(&other) {
			return errors.New("malformed extension OID")
		}
	}
	critical := false
	if ext.PeekASN1Tag(cbasn1.BOOLEAN) && !ext.ReadASN1Boolean(&critical) {
		return errors.New("malformed extension critical flag")
	}
	if !ext.ReadASN1(&val, cbasn1.OCTET_STRING) || !ext.Empty() {
		return errors.New("malformed extension value")
	}
	switch {
	case string(oid) == oidDERReasonCode:
		var code int
		if !val.ReadASN1Enum(&code) || !val.Empty() {
			return errors.New("malformed reasonCode extension")
		}
		e.flags |= flagReason
		if code < 0 || code >= reasonOther {
			e.reason = reasonOther
		} else {
			e.reason = uint8(code)
		}
	case string(oid) == oidDERInvalidityDate:
		var t cryptobyte.String
		var tm timeValue
		if val.ReadASN1Element(&t, cbasn1.GeneralizedTime) && val.Empty() && tm.parse(t) {
			e.flags |= flagInvalidity
			e.invalidAt = tm.unix
		} else {
			e.flags |= flagBadInvalidity
		}
	case critical:
		return kindf(ErrUnsupportedCRL, "unsupported critical entry extension %s", other)
	}
	return nil
}

// timeValue is a parsed UTCTime or GeneralizedTime.
type timeValue struct{ unix int64 }

// parse reads one complete time element with cryptobyte's rules.
func (tv *timeValue) parse(el cryptobyte.String) bool {
	unix, ok := readTime(&el)
	if !ok || !el.Empty() {
		return false
	}
	tv.unix = unix
	return true
}

// readTime reads a UTCTime or GeneralizedTime and returns Unix seconds.
// Sub-second precision is dropped (see doc.go).
func readTime(s *cryptobyte.String) (int64, bool) {
	if u, ok := fastUTCTime(s); ok {
		return u, true
	}
	var t timeOrZero
	switch {
	case s.PeekASN1Tag(cbasn1.UTCTime):
		if !s.ReadASN1UTCTime(&t.t) {
			return 0, false
		}
	case s.PeekASN1Tag(cbasn1.GeneralizedTime):
		if !s.ReadASN1GeneralizedTime(&t.t) {
			return 0, false
		}
	default:
		return 0, false
	}
	return t.t.Unix(), true
}
