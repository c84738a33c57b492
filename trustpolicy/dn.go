package trustpolicy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
)

// DN is a distinguished name parsed with notation's rules for x509.subject
// trusted identities and signing certificate subjects: an ordered list of
// attribute type/value pairs, each type at most once, with C, ST and O
// present and non-empty. The alias S is stored as ST.
//
// A DN is an immutable value. Two DNs are == when they hold the same
// attributes in the same order; SubsetOf is the order-independent
// comparison notation uses for matching. The zero DN has no attributes.
type DN struct {
	// enc holds the attributes in order, each as
	// uvarint(len(type)) type uvarint(len(value)) value.
	enc string
}

// DNAttribute is one attribute type/value pair of a DN.
type DNAttribute struct {
	Type  string
	Value string
}

// ErrInvalidDN is wrapped by every error of ParseDN, a *DNError.
var ErrInvalidDN = errors.New("invalid distinguished name")

// DNProblem says why notation cannot use a distinguished name.
type DNProblem string

// The problems ParseDN reports.
const (
	// DNUnparsable: not RFC 4514 TYPE=VALUE pairs.
	DNUnparsable DNProblem = "unparsable"
	// DNHexValue: a hex-encoded value ("=#"), which notation does not
	// support.
	DNHexValue DNProblem = "hexValue"
	// DNMultiValued: a multi-valued RDN ('+').
	DNMultiValued DNProblem = "multiValued"
	// DNDuplicate: an attribute type (DNError.Attribute) appears twice.
	DNDuplicate DNProblem = "duplicate"
	// DNMissing: one of C, ST and O (DNError.Attribute) is missing or
	// empty.
	DNMissing DNProblem = "missing"
)

// DNError is a distinguished name notation cannot use; errors.Is(err,
// ErrInvalidDN) holds.
type DNError struct {
	// DN is the text given to ParseDN.
	DN string
	// Problem says what is wrong; Attribute names the attribute type for
	// DNDuplicate and DNMissing.
	Problem   DNProblem
	Attribute string

	msg string
}

func (e *DNError) Error() string { return e.msg }

// Is makes errors.Is(err, ErrInvalidDN) true.
func (e *DNError) Is(target error) bool { return target == ErrInvalidDN }

func dnError(s string, p DNProblem, attr, format string, args ...any) *DNError {
	return &DNError{DN: s, Problem: p, Attribute: attr, msg: fmt.Sprintf(format, args...)}
}

// The attributes notation requires in every DN, in the order it checks them.
func mandatoryDNTypes() [3]string { return [3]string{"C", "ST", "O"} }

// ParseDN parses s exactly as notation-go v1.3.2 parses an x509.subject
// identity or a certificate subject (internal/pkix.ParseDistinguishedName):
//
//   - s must not contain "=#" (hex-encoded BER values are unsupported);
//   - s is parsed by github.com/go-ldap/ldap/v3 ParseDN (RFC 4514: ',' or
//     ';' separate RDNs, spaces around types and values are trimmed, type
//     names are case-sensitive);
//   - multi-valued RDNs ('+') are rejected;
//   - S is an alias for ST, and a type may appear only once (notation lets
//     a later value replace an earlier empty one, and so does ParseDN);
//   - C, ST and O must be present with non-empty values.
//
// Its errors are *DNError, whose Problem says which rule s breaks.
func ParseDN(s string) (dn DN, err error) {
	defer func() {
		if r := recover(); r != nil {
			dn, err = DN{}, dnError(s, DNUnparsable, "", "distinguished name %q cannot be parsed: %v", s, r)
		}
	}()
	if strings.Contains(s, "=#") {
		return DN{}, dnError(s, DNHexValue, "", "distinguished name %q contains \"=#\" (a hex-encoded attribute value), which notation does not support; write attribute values as text", s)
	}
	parsed, err := ldap.ParseDN(s)
	if err != nil {
		return DN{}, dnError(s, DNUnparsable, "", "distinguished name %q cannot be parsed (%v); write it as TYPE=VALUE pairs separated by commas (RFC 4514), with at least C, ST (or S) and O, e.g. \"C=US, ST=WA, O=Acme\"", s, err)
	}
	var attrs []DNAttribute
	index := make(map[string]int)
	for _, rdn := range parsed.RDNs {
		if len(rdn.Attributes) > 1 {
			return DN{}, dnError(s, DNMultiValued, "", "distinguished name %q has a multi-valued RDN (attributes joined by '+'), which notation does not support; separate attributes with ',' and escape a literal plus as \"\\+\"", s)
		}
		for _, a := range rdn.Attributes {
			typ := a.Type
			if typ == "S" {
				typ = "ST"
			}
			i, seen := index[typ]
			switch {
			case !seen:
				index[typ] = len(attrs)
				attrs = append(attrs, DNAttribute{Type: typ, Value: a.Value})
			case attrs[i].Value == "":
				attrs[i].Value = a.Value
			default:
				return DN{}, dnError(s, DNDuplicate, typ, "distinguished name %q has more than one %s attribute; each attribute type may appear only once (S and ST are the same type)", s, typ)
			}
		}
	}
	for _, typ := range mandatoryDNTypes() {
		if i, ok := index[typ]; !ok || attrs[i].Value == "" {
			return DN{}, dnError(s, DNMissing, typ, "distinguished name %q has no %s value; C, ST (or S) and O are required, e.g. \"C=US, ST=WA, O=Acme\"", s, typ)
		}
	}
	return newDN(attrs), nil
}

func newDN(attrs []DNAttribute) DN {
	var b []byte
	for _, a := range attrs {
		b = binary.AppendUvarint(b, uint64(len(a.Type)))
		b = append(b, a.Type...)
		b = binary.AppendUvarint(b, uint64(len(a.Value)))
		b = append(b, a.Value...)
	}
	return DN{enc: string(b)}
}

// each calls fn for every attribute in order until fn returns false.
func (d DN) each(fn func(typ, value string) bool) {
	s := d.enc
	for len(s) > 0 {
		typ, rest, ok := cutLengthPrefixed(s)
		if !ok {
			return
		}
		value, rest, ok := cutLengthPrefixed(rest)
		if !ok {
			return
		}
		if !fn(typ, value) {
			return
		}
		s = rest
	}
}

func cutLengthPrefixed(s string) (field, rest string, ok bool) {
	var n uint64
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		n |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			w := i + 1
			if n > uint64(len(s)-w) {
				return "", "", false
			}
			return s[w : w+int(n)], s[w+int(n):], true
		}
	}
	return "", "", false
}

// Attributes returns a copy of the attributes in order.
func (d DN) Attributes() []DNAttribute {
	var out []DNAttribute
	d.each(func(t, v string) bool {
		out = append(out, DNAttribute{Type: t, Value: v})
		return true
	})
	return out
}

// Len returns the number of attributes.
func (d DN) Len() int {
	n := 0
	d.each(func(string, string) bool { n++; return true })
	return n
}

// IsZero reports whether d has no attributes.
func (d DN) IsZero() bool { return d.enc == "" }

// Get returns the value of the attribute type typ (use "ST" for S).
func (d DN) Get(typ string) (value string, ok bool) {
	d.each(func(t, v string) bool {
		if t == typ {
			value, ok = v, true
			return false
		}
		return true
	})
	return value, ok
}

// SubsetOf reports whether every attribute of d has the same value in other,
// notation's pkix.IsSubsetDN: order does not matter, comparison is exact
// and case-sensitive, and an attribute other lacks counts as the empty value.
func (d DN) SubsetOf(other DN) bool {
	o := make(map[string]string)
	other.each(func(t, v string) bool { o[t] = v; return true })
	return d.subsetOfMap(o)
}

func (d DN) subsetOfMap(o map[string]string) bool {
	ok := true
	d.each(func(t, v string) bool {
		if o[t] != v {
			ok = false
		}
		return ok
	})
	return ok
}

// String renders d as "C=US, ST=WA, O=Acme", escaping values (RFC 4514) so
// that ParseDN(d.String()) returns d. '#' and '=' are always escaped, so the
// result never contains "=#"; control, invisible and bidirectional
// characters are written as hex pairs, so it is safe to print.
func (d DN) String() string {
	var b strings.Builder
	d.each(func(t, v string) bool {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		writeDNEscaped(&b, t)
		b.WriteByte('=')
		writeDNEscaped(&b, v)
		return true
	})
	return b.String()
}

// identityOrder returns d with C, ST and O first, then the other attributes
// in their order.
func (d DN) identityOrder() DN {
	attrs := d.Attributes()
	out := make([]DNAttribute, 0, len(attrs))
	for _, typ := range mandatoryDNTypes() {
		for _, a := range attrs {
			if a.Type == typ {
				out = append(out, a)
			}
		}
	}
	for _, a := range attrs {
		if a.Type != "C" && a.Type != "ST" && a.Type != "O" {
			out = append(out, a)
		}
	}
	return newDN(out)
}

// writeDNEscaped writes s so that go-ldap's decoding (which trims unescaped
// spaces and understands "\c" and "\xx" escapes) returns s.
func writeDNEscaped(b *strings.Builder, s string) {
	const hexDigits = "0123456789abcdef"
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, textsafe.Unsafe(r):
			// Controls, invisible and bidirectional characters: every byte
			// as a hex pair, so the text is safe to print and parses back.
			for j := i; j < i+size; j++ {
				b.WriteByte('\\')
				b.WriteByte(hexDigits[s[j]>>4])
				b.WriteByte(hexDigits[s[j]&0xf])
			}
		case r == ' ' && (i == 0 || i == len(s)-1):
			b.WriteString(`\ `)
		case strings.ContainsRune(`"#+,;<=>\`, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
}
