package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"strings"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// ErrSubject is matched (errors.Is) by every error ParseSubject and
// SubjectIdentity return.
var ErrSubject = errors.New("invalid certificate subject")

// ErrSubjectIdentity is matched by a subject that no trust policy
// x509.subject identity can name: notation's DN parser refuses it. Only the
// trusted identity "*" could match a certificate with it.
var ErrSubjectIdentity = errors.New("no x509.subject identity can name the subject")

// SubjectError is a subject that ParseSubject or SubjectIdentity refuses.
// errors.Is(err, ErrSubject) holds for every one, and
// errors.Is(err, ErrSubjectIdentity) when the identity rule refuses it.
type SubjectError struct {
	// Subject is the subject as given to ParseSubject, or the name's RFC
	// 4514 form for SubjectIdentity.
	Subject string
	// Attribute is the attribute type at fault ("C"), or "" when the
	// fault is not one attribute's.
	Attribute string
	// Identity is true when the trust policy identity rule refuses the
	// subject (notation's DN parser, trustpolicy.ParseDN), false when only
	// the certificate-request profile of ParseSubject does.
	Identity bool
	// Err says what is wrong and what to write instead; for the identity
	// rule it is the verifier's own message.
	Err error
}

func (e *SubjectError) Error() string { return ErrSubject.Error() + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *SubjectError) Unwrap() error { return e.Err }

// Is matches ErrSubject, and ErrSubjectIdentity when Identity is set.
func (e *SubjectError) Is(target error) bool {
	return target == ErrSubject || (e.Identity && target == ErrSubjectIdentity)
}

// SubjectIdentity is this package's one rule for certificate subjects: it
// returns the trust policy x509.subject identity that names exactly this
// subject, worded as the verifier words it (trustpolicy.IdentityFor), e.g.
// "x509.subject: C=US, ST=WA, O=Acme, CN=Release Signing". csr refuses a
// subject it fails on, cert lint warns (RuleSubjectIdentity) and doctor
// says why it prints no trust policy. It fails with a *SubjectError
// (ErrSubjectIdentity) when notation's DN parser refuses the subject:
// C, ST or O missing, an attribute with two values (Go writes them as one
// multi-valued RDN, "O=a+O=b"), or a value Go writes as "=#..." (an
// attribute type Go has no name for).
func SubjectIdentity(subject pkix.Name) (string, error) {
	id, err := trustpolicy.IdentityFor(&x509.Certificate{Subject: subject})
	if err != nil {
		return "", &SubjectError{Subject: subject.String(), Identity: true, Err: err}
	}
	return id, nil
}

// identityProblem is the verifier's words for why no identity can name a
// subject (the Err of SubjectIdentity's error).
func identityProblem(err error) string {
	var se *SubjectError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	return err.Error()
}

// maxSubject caps the subject string ParseSubject accepts.
const maxSubject = 1024

// subjectAttr is where an attribute a signing certificate subject may use
// goes in a pkix.Name, with RFC 5280's upper bound on the value length.
func subjectAttr(typ string) (set func(n *pkix.Name, v string), max int, ok bool) {
	switch typ {
	case "C":
		return func(n *pkix.Name, v string) { n.Country = []string{v} }, 2, true
	case "ST":
		return func(n *pkix.Name, v string) { n.Province = []string{v} }, 128, true
	case "L":
		return func(n *pkix.Name, v string) { n.Locality = []string{v} }, 128, true
	case "O":
		return func(n *pkix.Name, v string) { n.Organization = []string{v} }, 64, true
	case "OU":
		return func(n *pkix.Name, v string) { n.OrganizationalUnit = []string{v} }, 64, true
	case "CN":
		return func(n *pkix.Name, v string) { n.CommonName = v }, 64, true
	case "SERIALNUMBER":
		return func(n *pkix.Name, v string) { n.SerialNumber = v }, 64, true
	}
	return nil, 0, false
}

// ParseSubject parses the subject of a certificate request, such as
// "C=US,ST=WA,O=Acme,CN=Release Signing" (RFC 4514, attributes in any
// order). Notation's DN parser (trustpolicy.ParseDN) decides what a trust
// policy identity can name: C, ST (or S) and O present, no attribute given
// twice, no multi-valued RDN ("+"), no hex value ("=#"), attribute types
// case-sensitive as in an identity. On top, the request profile allows only
// C, ST, L, O, OU, CN and SERIALNUMBER, non-empty and within RFC 5280's
// lengths, and C as a two-letter country code. Finally SubjectIdentity must
// name the result. Errors are *SubjectError and name the attribute.
func ParseSubject(s string) (pkix.Name, error) {
	var name pkix.Name
	if len(s) > maxSubject {
		return name, &SubjectError{Subject: s, Err: fmt.Errorf("longer than %d characters", maxSubject)}
	}
	dn, err := trustpolicy.ParseDN(s)
	if err != nil {
		attr, hint := miscased(s)
		if hint != "" {
			err = fmt.Errorf("%w%s", err, hint)
		}
		return name, &SubjectError{Subject: s, Attribute: attr, Identity: true, Err: err}
	}
	for _, a := range dn.Attributes() {
		set, max, ok := subjectAttr(a.Type)
		switch {
		case !ok:
			return pkix.Name{}, &SubjectError{Subject: s, Attribute: a.Type, Err: fmt.Errorf("attribute %q is not supported; use C, ST, L, O, OU, CN or SERIALNUMBER%s", a.Type, caseHint(a.Type))}
		case strings.TrimSpace(a.Value) == "":
			return pkix.Name{}, &SubjectError{Subject: s, Attribute: a.Type, Err: fmt.Errorf("attribute %s is empty", a.Type)}
		case len(a.Value) > max:
			return pkix.Name{}, &SubjectError{Subject: s, Attribute: a.Type, Err: fmt.Errorf("attribute %s is longer than %d characters", a.Type, max)}
		case a.Type == "C" && !isCountryCode(a.Value):
			return pkix.Name{}, &SubjectError{Subject: s, Attribute: a.Type, Err: fmt.Errorf("C=%q must be a two-letter ISO 3166 country code such as US", a.Value)}
		}
		set(&name, a.Value)
	}
	if _, err := SubjectIdentity(name); err != nil {
		return pkix.Name{}, err
	}
	return name, nil
}

// miscased returns the first attribute type of s that spells a supported
// type in lower or mixed case, and the hint that says how to write it.
func miscased(s string) (attr, hint string) {
	dn, err := ldap.ParseDN(s)
	if err != nil {
		return "", ""
	}
	for _, rdn := range dn.RDNs {
		for _, a := range rdn.Attributes {
			if h := caseHint(a.Type); h != "" {
				return a.Type, h
			}
		}
	}
	return "", ""
}

// caseHint says how to spell typ when it is a supported attribute type in
// the wrong case.
func caseHint(typ string) string {
	up := strings.ToUpper(typ)
	if up == typ {
		return ""
	}
	if up == "S" {
		up = "ST"
	}
	if _, _, ok := subjectAttr(up); !ok {
		return ""
	}
	return fmt.Sprintf(" (attribute types are case-sensitive, as in a trust policy identity: write %s, not %s)", up, typ)
}

func isCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
