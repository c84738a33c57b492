package pki

import (
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"strings"

	ldap "github.com/go-ldap/ldap/v3"
)

// ErrSubject is wrapped by every error ParseSubject returns.
var ErrSubject = errors.New("invalid certificate subject")

// maxSubject caps the subject string ParseSubject accepts.
const maxSubject = 1024

// subjectAttrs maps the attribute names a signing certificate subject may
// use to where they go in a pkix.Name, with RFC 5280's upper bound on the
// value length.
var subjectAttrs = map[string]struct {
	set func(n *pkix.Name, v string)
	max int
}{
	"C":            {func(n *pkix.Name, v string) { n.Country = []string{v} }, 2},
	"ST":           {func(n *pkix.Name, v string) { n.Province = []string{v} }, 128},
	"L":            {func(n *pkix.Name, v string) { n.Locality = []string{v} }, 128},
	"O":            {func(n *pkix.Name, v string) { n.Organization = []string{v} }, 64},
	"OU":           {func(n *pkix.Name, v string) { n.OrganizationalUnit = []string{v} }, 64},
	"CN":           {func(n *pkix.Name, v string) { n.CommonName = v }, 64},
	"SERIALNUMBER": {func(n *pkix.Name, v string) { n.SerialNumber = v }, 64},
}

// ParseSubject parses a certificate subject such as
// "C=US,ST=WA,O=Acme,CN=Release Signing" (RFC 4514 syntax, attributes in any
// order) and checks it against what a Notation trust policy x509.subject
// identity needs: C, ST and O present, one attribute per RDN (no "+"), no
// attribute given twice, no hex-encoded "#" values, and only the attributes
// C, ST (or S), L, O, OU, CN and SERIALNUMBER. Errors name the attribute and
// say what to write instead.
func ParseSubject(s string) (pkix.Name, error) {
	var name pkix.Name
	if len(s) > maxSubject {
		return name, fmt.Errorf("%w: longer than %d characters", ErrSubject, maxSubject)
	}
	if strings.TrimSpace(s) == "" {
		return name, fmt.Errorf("%w: empty; give e.g. \"C=US,ST=WA,O=Acme,CN=Release Signing\"", ErrSubject)
	}
	if strings.Contains(s, "=#") {
		return name, fmt.Errorf("%w: hex-encoded values (=#...) cannot be named by a notation x509.subject identity; write the value as text", ErrSubject)
	}
	dn, err := ldap.ParseDN(s)
	if err != nil {
		return name, fmt.Errorf("%w: %q does not parse as a distinguished name (%v); write NAME=value pairs separated by commas, escaping a comma in a value as \\,", ErrSubject, s, err)
	}
	seen := map[string]bool{}
	for _, rdn := range dn.RDNs {
		if len(rdn.Attributes) != 1 {
			return name, fmt.Errorf("%w: multi-valued RDN (attributes joined with +) is not supported by notation x509.subject identities; give each attribute on its own, separated by commas", ErrSubject)
		}
		a := rdn.Attributes[0]
		typ := strings.ToUpper(a.Type)
		if typ == "S" {
			typ = "ST"
		}
		spec, ok := subjectAttrs[typ]
		if !ok {
			return name, fmt.Errorf("%w: attribute %q is not supported; use C, ST, L, O, OU, CN or SERIALNUMBER", ErrSubject, a.Type)
		}
		if seen[typ] {
			return name, fmt.Errorf("%w: attribute %s is given twice; notation x509.subject identities need each attribute at most once", ErrSubject, typ)
		}
		seen[typ] = true
		if strings.TrimSpace(a.Value) == "" {
			return name, fmt.Errorf("%w: attribute %s is empty", ErrSubject, typ)
		}
		if len(a.Value) > spec.max {
			return name, fmt.Errorf("%w: attribute %s is longer than %d characters", ErrSubject, typ, spec.max)
		}
		if typ == "C" && !isCountryCode(a.Value) {
			return name, fmt.Errorf("%w: C=%q must be a two-letter ISO 3166 country code such as US", ErrSubject, a.Value)
		}
		spec.set(&name, a.Value)
	}
	var missing []string
	for _, m := range []string{"C", "ST", "O"} {
		if !seen[m] {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		return name, fmt.Errorf("%w: %s missing; a notation x509.subject identity needs C, ST and O, e.g. \"C=US,ST=WA,O=Acme,CN=Release Signing\"", ErrSubject, strings.Join(missing, ", "))
	}
	return name, nil
}

func isCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
