package truststore

import (
	"fmt"
	"strings"
)

// Type is a trust store type: the folder under x509/ that holds the store.
type Type string

// The store types notation-go v1.3.2 knows. The values are case-sensitive.
const (
	// TypeCA holds the roots (or pinned intermediates) of signing chains
	// verified under the notary.x509 signing scheme.
	TypeCA Type = "ca"
	// TypeSigningAuthority holds the roots (or pinned intermediates) of
	// signing chains verified under the notary.x509.signingAuthority scheme.
	TypeSigningAuthority Type = "signingAuthority"
	// TypeTSA holds the root certificates of trusted timestamp authorities.
	TypeTSA Type = "tsa"
)

// Types returns the valid store types in the order notation lists them.
func Types() []Type { return []Type{TypeCA, TypeSigningAuthority, TypeTSA} }

// Valid reports whether t is one of TypeCA, TypeSigningAuthority, TypeTSA.
func (t Type) Valid() bool {
	return t == TypeCA || t == TypeSigningAuthority || t == TypeTSA
}

// Ref names one trust store: its type and its name, written "type:name" in a
// trust policy.
type Ref struct {
	Type Type
	Name string
}

// String returns the ref as written in a trust policy: "type:name".
func (r Ref) String() string { return string(r.Type) + ":" + r.Name }

// Valid returns nil if the ref has a valid type and name, otherwise an error
// wrapping ErrInvalidRef that says what is valid. It applies the checks
// notation-go makes before it reads a store.
func (r Ref) Valid() error {
	if !r.Type.Valid() {
		return fmt.Errorf("%w: trust store %q: unsupported type %q, the type must be one of ca, signingAuthority or tsa (case-sensitive)", ErrInvalidRef, r.String(), string(r.Type))
	}
	if !ValidName(r.Name) {
		return fmt.Errorf("%w: trust store %q: invalid name %q, a name must match [a-zA-Z0-9_.-]+", ErrInvalidRef, r.String(), r.Name)
	}
	return nil
}

// ValidName reports whether name is a valid trust store name: one or more of
// the characters a-z, A-Z, 0-9, '_', '.' and '-'. Like notation-go it accepts
// "." and "..", which resolve to the type folder and to x509/ itself.
// It is notation-go's file.IsValidFileName pattern ^[a-zA-Z0-9_.-]+$.
func ValidName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

// ParseRef parses a trust policy's "type:name" store entry. It splits on the
// first ':'; the type must be ca, signingAuthority or tsa (case-sensitive) and
// the name must match [a-zA-Z0-9_.-]+, so "ca:a:b" is invalid. Errors wrap
// ErrInvalidRef.
func ParseRef(s string) (Ref, error) {
	typ, name, found := strings.Cut(s, ":")
	if !found {
		return Ref{}, fmt.Errorf("%w: trust store %q is missing the ':' separator, the format is TYPE:NAME with TYPE one of ca, signingAuthority or tsa, e.g. \"ca:acme\"", ErrInvalidRef, s)
	}
	r := Ref{Type: Type(typ), Name: name}
	if err := r.Valid(); err != nil {
		return Ref{}, err
	}
	return r, nil
}
