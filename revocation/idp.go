package revocation

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// idpInfo is the issuing distribution point extension of a CRL (RFC 5280
// section 5.2.5): the scope of the CRL.
type idpInfo struct {
	uris          []string // distributionPoint fullName URIs
	named         bool     // distributionPoint is present (it may hold no URI)
	onlyUser      bool
	onlyCA        bool
	onlyAttribute bool
	indirect      bool
	reasons       uint16 // onlySomeReasons as a reason mask; 0 when absent
}

// allReasons is the mask of every CRL reason flag (RFC 5280 ReasonFlags
// bits 1..8: keyCompromise .. aACompromise).
const allReasons uint16 = 0x1fe

// parseIDP reads an IssuingDistributionPoint:
//
//	SEQUENCE {
//	  distributionPoint          [0] DistributionPointName OPTIONAL,
//	  onlyContainsUserCerts      [1] BOOLEAN DEFAULT FALSE,
//	  onlyContainsCACerts        [2] BOOLEAN DEFAULT FALSE,
//	  onlySomeReasons            [3] ReasonFlags OPTIONAL,
//	  indirectCRL                [4] BOOLEAN DEFAULT FALSE,
//	  onlyContainsAttributeCerts [5] BOOLEAN DEFAULT FALSE }
func parseIDP(value []byte) (*idpInfo, error) {
	in := cryptobyte.String(value)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, errors.New("not a SEQUENCE")
	}
	idp := &idpInfo{}
	var dpName cryptobyte.String
	var present bool
	if !seq.ReadOptionalASN1(&dpName, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, errors.New("bad distributionPoint")
	}
	if present {
		uris, err := readDistributionPointName(dpName)
		if err != nil {
			return nil, err
		}
		idp.uris, idp.named = uris, true
	}
	for i, out := range []*bool{&idp.onlyUser, &idp.onlyCA} {
		if !readImplicitBool(&seq, cbasn1.Tag(i+1).ContextSpecific(), out) {
			return nil, errors.New("bad boolean field")
		}
	}
	var reasons cryptobyte.String
	if !seq.ReadOptionalASN1(&reasons, &present, cbasn1.Tag(3).ContextSpecific()) {
		return nil, errors.New("bad onlySomeReasons")
	}
	if present {
		mask, err := reasonFlags(reasons)
		if err != nil {
			return nil, err
		}
		idp.reasons = mask
	}
	for i, out := range []*bool{&idp.indirect, &idp.onlyAttribute} {
		if !readImplicitBool(&seq, cbasn1.Tag(i+4).ContextSpecific(), out) {
			return nil, errors.New("bad boolean field")
		}
	}
	if !seq.Empty() {
		return nil, errors.New("trailing data")
	}
	if idp.onlyUser && idp.onlyCA || idp.onlyUser && idp.onlyAttribute || idp.onlyCA && idp.onlyAttribute {
		return nil, errors.New("more than one onlyContains field is true")
	}
	return idp, nil
}

func readImplicitBool(s *cryptobyte.String, tag cbasn1.Tag, out *bool) bool {
	var v cryptobyte.String
	var present bool
	if !s.ReadOptionalASN1(&v, &present, tag) {
		return false
	}
	if !present {
		return true
	}
	if len(v) != 1 || (v[0] != 0 && v[0] != 0xff) {
		return false
	}
	*out = v[0] == 0xff
	return true
}

// reasonFlags turns the content of a ReasonFlags BIT STRING into a mask
// whose bit i is ReasonFlags bit i.
func reasonFlags(b cryptobyte.String) (uint16, error) {
	if len(b) == 0 || b[0] > 7 || (len(b) == 1 && b[0] != 0) {
		return 0, errors.New("bad onlySomeReasons bit string")
	}
	var mask uint16
	for i, octet := range b[1:] {
		for bit := 0; bit < 8; bit++ {
			if octet&(0x80>>bit) != 0 {
				n := i*8 + bit
				if n < 16 {
					mask |= 1 << n
				}
			}
		}
	}
	return mask & allReasons, nil
}

// readDistributionPointName returns the URIs of a DistributionPointName
// (content of the [0] wrapper): fullName [0] GeneralNames, or
// nameRelativeToCRLIssuer [1], which has none.
func readDistributionPointName(dpName cryptobyte.String) ([]string, error) {
	var full cryptobyte.String
	var present bool
	if !dpName.ReadOptionalASN1(&full, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, errors.New("bad distribution point name")
	}
	if !present {
		return nil, nil
	}
	var uris []string
	for !full.Empty() {
		var name cryptobyte.String
		var tag cbasn1.Tag
		if !full.ReadAnyASN1(&name, &tag) {
			return nil, errors.New("bad general name")
		}
		if tag == cbasn1.Tag(6).ContextSpecific() {
			uris = append(uris, string(name))
		}
	}
	return uris, nil
}

// parseDistributionPointURIs reads the URIs of a CRLDistributionPoints or
// FreshestCRL extension value, like notation-core-go.
func parseDistributionPointURIs(value []byte) ([]string, error) {
	groups, err := parseDistributionPoints(value)
	return slices.Concat(groups...), err
}

// parseDistributionPoints reads a CRLDistributionPoints-syntax extension
// value and returns, per DistributionPoint, its fullName URIs (the names of
// one CRL, possibly at several places).
func parseDistributionPoints(value []byte) ([][]string, error) {
	in := cryptobyte.String(value)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, errors.New("not a SEQUENCE")
	}
	var groups [][]string
	for !seq.Empty() {
		var dp, name cryptobyte.String
		var present bool
		if !seq.ReadASN1(&dp, cbasn1.SEQUENCE) ||
			!dp.ReadOptionalASN1(&name, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, errors.New("bad distribution point")
		}
		if !present {
			continue
		}
		uris, err := readDistributionPointName(name)
		if err != nil {
			return nil, err
		}
		groups = append(groups, uris)
	}
	return groups, nil
}

// oidCRLDistributionPoints is the certificate extension the URLs come from.
func oidCRLDistributionPoints() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 5, 29, 31} }

// distributionPointOf returns the names of the certificate's CRL
// distribution point that lists url: one DistributionPoint may give several
// URIs for the same CRL. It is url alone when no distribution point of the
// certificate lists it.
func distributionPointOf(cert *x509.Certificate, url string) []string {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidCRLDistributionPoints()) {
			continue
		}
		groups, err := parseDistributionPoints(ext.Value)
		if err != nil {
			break
		}
		for _, g := range groups {
			if slices.Contains(g, url) {
				return g
			}
		}
	}
	return []string{url}
}

// applies reports whether a CRL with this scope can decide the status of
// cert. A nil scope (no IDP extension) covers every certificate of the
// issuer.
func (idp *idpInfo) applies(cert *x509.Certificate) error {
	switch {
	case idp == nil:
		return nil
	case idp.indirect:
		return kindf(ErrUnsupportedCRL, "indirect CRLs are not supported")
	case idp.onlyAttribute:
		return kindf(ErrUnsupportedCRL, "the CRL covers attribute certificates only")
	case idp.onlyCA && !(cert.BasicConstraintsValid && cert.IsCA):
		return kindf(ErrUnsupportedCRL, "the CRL covers CA certificates only")
	case idp.onlyUser && cert.BasicConstraintsValid && cert.IsCA:
		return kindf(ErrUnsupportedCRL, "the CRL covers end-entity certificates only")
	}
	return nil
}

// coveredReasons is the reason mask this scope covers.
func (idp *idpInfo) coveredReasons() uint16 {
	if idp == nil || idp.reasons == 0 {
		return allReasons
	}
	return idp.reasons
}

// checkScope applies RFC 5280 section 6.3.3 (b)(2)(i): when the CRL's
// issuing distribution point names distribution points, one of them must be
// url (where the CRL was downloaded from) or one of certURLs (the names of
// the certificate's distribution point being processed, see
// distributionPointOf). A CRL without an
// IDP, or whose IDP names no distribution point, covers every certificate
// of its issuer. A distribution point named only by a directory name or
// relative to the issuer never matches: fail closed.
func (idp *idpInfo) checkScope(url string, certURLs []string) error {
	if idp == nil || !idp.named {
		return nil
	}
	if slices.Contains(idp.uris, url) {
		return nil
	}
	for _, u := range certURLs {
		if slices.Contains(idp.uris, u) {
			return nil
		}
	}
	return &IDPMismatchError{URL: url, IDPURLs: slices.Clone(idp.uris), CertURLs: slices.Clone(certURLs)}
}

// coversAny reports whether the scope may answer for url or certURLs
// (checkScope without the error).
func (idp *idpInfo) coversAny(url string, certURLs []string) bool {
	return idp.checkScope(url, certURLs) == nil
}

// String describes the scope for error messages.
func (idp *idpInfo) String() string {
	if idp == nil {
		return "complete"
	}
	return fmt.Sprintf("distribution point %v", idp.uris)
}
