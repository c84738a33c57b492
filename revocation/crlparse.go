package revocation

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// This file parses a CRL without building an x509.RevocationList entry per
// revoked certificate. The header (version, algorithm, issuer, times,
// extensions) is parsed by x509.ParseRevocationList on a "skeleton": the same
// DER with the revokedCertificates list cut out, so every header rule is the
// standard library's own. The entries are walked here with cryptobyte,
// applying the same encoding rules as the standard library (or stricter), and
// go straight into a sorted index. The signature is checked over the
// original, complete TBSCertList.

// DER contents of the entry extension OIDs we understand.
const (
	oidDERReasonCode     = "\x55\x1d\x15" // 2.5.29.21
	oidDERInvalidityDate = "\x55\x1d\x18" // 2.5.29.24
)

// Object identifiers of the CRL extensions this package interprets.
func oidIssuingDistributionPoint() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{2, 5, 29, 28}
}
func oidDeltaCRLIndicator() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 5, 29, 27} }
func oidFreshestCRL() asn1.ObjectIdentifier       { return asn1.ObjectIdentifier{2, 5, 29, 46} }

// crlHeader is a CRL without its entries.
type crlHeader struct {
	skel      *x509.RevocationList // header fields, parsed by the standard library
	tbs       []byte               // the complete signed TBSCertList
	revoked   cryptobyte.String    // content of revokedCertificates (may be empty)
	idp       *idpInfo             // issuing distribution point, nil when absent
	idpRaw    []byte               // its DER value, nil when absent
	deltaBase *big.Int             // DeltaCRLIndicator (base CRL number) of a delta CRL
	deltaURLs []string             // FreshestCRL URIs of a base CRL
}

// parseCRLHeader reads everything but the entries. Its cost does not depend
// on the number of entries.
func parseCRLHeader(der []byte) (*crlHeader, error) {
	in := cryptobyte.String(der)
	var outer, tbsEl, aiEl, sigEl cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, errors.New("malformed CRL: not a single DER SEQUENCE")
	}
	if !outer.ReadASN1Element(&tbsEl, cbasn1.SEQUENCE) ||
		!outer.ReadASN1Element(&aiEl, cbasn1.SEQUENCE) ||
		!outer.ReadASN1Element(&sigEl, cbasn1.BIT_STRING) || !outer.Empty() {
		return nil, errors.New("malformed CRL: want tbsCertList, signatureAlgorithm, signatureValue")
	}
	tbs := tbsEl
	if !tbs.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, errors.New("malformed CRL: bad tbsCertList")
	}
	// Walk version, signature, issuer, thisUpdate and the optional nextUpdate
	// to find the optional revokedCertificates SEQUENCE.
	rest := tbs
	var skip cryptobyte.String
	if !rest.ReadASN1Element(&skip, cbasn1.INTEGER) ||
		!rest.ReadASN1Element(&skip, cbasn1.SEQUENCE) ||
		!rest.ReadASN1Element(&skip, cbasn1.SEQUENCE) || !skipTime(&rest) {
		return nil, errors.New("malformed CRL: bad version, signature, issuer or thisUpdate")
	}
	if rest.PeekASN1Tag(cbasn1.UTCTime) || rest.PeekASN1Tag(cbasn1.GeneralizedTime) {
		if !skipTime(&rest) {
			return nil, errors.New("malformed CRL: bad nextUpdate")
		}
	}
	h := &crlHeader{tbs: tbsEl}
	pre := tbs[:len(tbs)-len(rest)]
	post := rest
	if rest.PeekASN1Tag(cbasn1.SEQUENCE) {
		var revokedEl cryptobyte.String
		if !rest.ReadASN1Element(&revokedEl, cbasn1.SEQUENCE) {
			return nil, errors.New("malformed CRL: bad revokedCertificates")
		}
		post = rest
		h.revoked = revokedEl
		h.revoked.ReadASN1(&h.revoked, cbasn1.SEQUENCE) // cannot fail: just read as an element
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(pre)
			b.AddBytes(post)
		})
		b.AddBytes(aiEl)
		b.AddBytes(sigEl)
	})
	skelDER, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("malformed CRL: %w", err)
	}
	h.skel, err = x509.ParseRevocationList(skelDER)
	if err != nil {
		return nil, fmt.Errorf("malformed CRL: %w", err)
	}
	if err := h.readExtensions(); err != nil {
		return nil, err
	}
	return h, nil
}

func skipTime(s *cryptobyte.String) bool {
	var t cryptobyte.String
	return s.ReadASN1Element(&t, cbasn1.UTCTime) || s.ReadASN1Element(&t, cbasn1.GeneralizedTime)
}

// readExtensions interprets the CRL extensions. Only the issuing
// distribution point and the delta CRL indicator may be critical (RFC 5280
// section 5.2, as in notation-core-go).
func (h *crlHeader) readExtensions() error {
	seen := map[string]bool{}
	for _, ext := range h.skel.Extensions {
		id := ext.Id.String()
		if seen[id] {
			return fmt.Errorf("malformed CRL: extension %s appears twice", id)
		}
		seen[id] = true
		switch {
		case ext.Id.Equal(oidIssuingDistributionPoint()):
			idp, err := parseIDP(ext.Value)
			if err != nil {
				return fmt.Errorf("malformed issuing distribution point extension: %w", err)
			}
			h.idp, h.idpRaw = idp, ext.Value
		case ext.Id.Equal(oidDeltaCRLIndicator()):
			n := new(big.Int)
			v := cryptobyte.String(ext.Value)
			if !v.ReadASN1Integer(n) || !v.Empty() || n.Sign() < 0 {
				return errors.New("malformed delta CRL indicator extension")
			}
			h.deltaBase = n
		case ext.Id.Equal(oidFreshestCRL()):
			urls, err := parseDistributionPointURIs(ext.Value)
			if err != nil {
				return fmt.Errorf("malformed freshest CRL extension: %w", err)
			}
			h.deltaURLs = urls
		default:
			if ext.Critical {
				return kindf(ErrUnsupportedCRL, "unsupported critical CRL extension %s", id)
			}
		}
	}
	return nil
}

// checkSignature verifies the signature over the complete TBSCertList with
// the standard library's rules (CA basic constraints, cRLSign key usage).
func (h *crlHeader) checkSignature(issuer *x509.Certificate) error {
	rl := &x509.RevocationList{
		RawTBSRevocationList: h.tbs,
		Signature:            h.skel.Signature,
		SignatureAlgorithm:   h.skel.SignatureAlgorithm,
	}
	if err := rl.CheckSignatureFrom(issuer); err != nil {
		return kindf(ErrCRLSignature, "the CRL is not signed by the issuing CA %q: %w", issuer.Subject.String(), err)
	}
	if !bytes.Equal(h.skel.RawIssuer, issuer.RawSubject) {
		return kindf(ErrCRLSignature, "the CRL issuer %q is not the issuing CA %q", h.skel.Issuer.String(), issuer.Subject.String())
	}
	return nil
}

// crlEntry is one revoked certificate, in a fixed-width form that sorts and
// searches without allocation.
type crlEntry struct {
	k0, k1, k2 uint64 // serialKey
	revokedAt  int64  // Unix seconds
	invalidAt  int64  // Unix seconds, when flagInvalidity
	ord        uint32 // position in the CRL, to keep duplicates in order
	reason     uint8  // when flagReason; reasonOther for out-of-range codes
	flags      uint8
}

const (
	flagReason     = 1 << 0
	flagInvalidity = 1 << 1
	// flagBadInvalidity marks an invalidityDate that does not parse. As in
	// notation-core-go it makes the status unknown only for that serial.
	flagBadInvalidity = 1 << 2

	reasonHold   = 6   // certificateHold
	reasonRemove = 8   // removeFromCRL
	reasonOther  = 255 // a reason code outside 0..254
)

// serialKey turns the DER content of an INTEGER (minimal two's complement)
// into 24 bytes: the length then the bytes, zero padded. Equal keys mean
// equal integers. Serials longer than 23 octets (RFC 5280 allows 20) are
// replaced by a SHA-256 prefix after a 0xff marker; a collision could only
// make a certificate look revoked, never good.
func serialKey(content []byte) (k0, k1, k2 uint64) {
	var k [24]byte
	if len(content) <= 23 {
		k[0] = byte(len(content))
		copy(k[1:], content)
	} else {
		sum := sha256.Sum256(content)
		k[0] = 0xff
		copy(k[1:], sum[:23])
	}
	return binary.BigEndian.Uint64(k[0:]), binary.BigEndian.Uint64(k[8:]), binary.BigEndian.Uint64(k[16:])
}

// certSerialKey is serialKey for a certificate's serial number. It does not
// allocate for non-negative serials of up to 32 octets.
func certSerialKey(n *big.Int) (k0, k1, k2 uint64) {
	if n.Sign() >= 0 && n.BitLen() <= 256 {
		var buf [33]byte
		n.FillBytes(buf[1:])
		// Minimal two's complement: drop leading zero octets, but keep one
		// when the next octet has its top bit set (or the value is zero).
		i := 0
		for i < len(buf)-1 && buf[i] == 0 && buf[i+1]&0x80 == 0 {
			i++
		}
		return serialKey(buf[i:])
	}
	der, err := asn1.Marshal(n)
	if err != nil {
		return 0, 0, 0 // unreachable for a parsed certificate; matches nothing
	}
	s := cryptobyte.String(der)
	var content cryptobyte.String
	if !s.ReadASN1(&content, cbasn1.INTEGER) {
		return 0, 0, 0
	}
	return serialKey(content)
}

// validInteger applies the DER rules that cryptobyte applies to INTEGERs.
func validInteger(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if len(b) == 1 {
		return true
	}
	return !(b[0] == 0 && b[1]&0x80 == 0 || b[0] == 0xff && b[1]&0x80 == 0x80)
}

// parseEntries indexes revokedCertificates. It rejects the whole CRL on an
// unsupported critical entry extension, as RFC 5280 section 5.3 requires.
func parseEntries(revoked cryptobyte.String) ([]crlEntry, error) {
	entries := make([]crlEntry, 0, countElements(revoked))
	for ord := uint32(0); !revoked.Empty(); ord++ {
		if ord == ^uint32(0) {
			return nil, errors.New("CRL has too many entries")
		}
		var ent, serial cryptobyte.String
		if !revoked.ReadASN1(&ent, cbasn1.SEQUENCE) {
			return nil, fmt.Errorf("malformed CRL entry %d", ord)
		}
		if !ent.ReadASN1(&serial, cbasn1.INTEGER) || !validInteger(serial) {
			return nil, fmt.Errorf("malformed serial number in CRL entry %d", ord)
		}
		e := crlEntry{ord: ord}
		e.k0, e.k1, e.k2 = serialKey(serial)
		t, ok := readTime(&ent)
		if !ok {
			return nil, fmt.Errorf("malformed revocation date in CRL entry %d", ord)
		}
		e.revokedAt = t
		var exts cryptobyte.String
		var present bool
		if !ent.ReadOptionalASN1(&exts, &present, cbasn1.SEQUENCE) || !ent.Empty() {
			return nil, fmt.Errorf("malformed extensions in CRL entry %d", ord)
		}
		for present && !exts.Empty() {
			if err := e.readExtension(&exts); err != nil {
				return nil, fmt.Errorf("CRL entry %d (serial %x): %w", ord, []byte(serial), err)
			}
		}
		entries = append(entries, e)
	}
	return sortEntries(entries), nil
}
