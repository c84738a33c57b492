package pkcs11

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalidURI is wrapped by every error ParseURI returns, a *URIError.
var ErrInvalidURI = errors.New("invalid PKCS#11 URI")

// URI is a parsed RFC 7512 PKCS#11 URI naming one private key on one token,
// e.g. "pkcs11:token=release;object=signing-key?pin-source=file:/etc/pin".
//
// Token selectors (Token, Serial, SlotID, Manufacturer, Model) narrow the
// slots; key selectors (Object, ID) narrow the private keys on the token.
// A PIN value is never held: pin-value is refused by ParseURI.
type URI struct {
	Token        string // token label (CK_TOKEN_INFO.label)
	Manufacturer string // token manufacturerID
	Model        string // token model
	Serial       string // token serialNumber
	SlotID       *uint  // slot-id
	Object       string // CKA_LABEL of the key
	ID           []byte // CKA_ID of the key
	Type         string // object type: empty or "private"
	ModulePath   string // module-path query attribute
	PINSource    string // pin-source query attribute, an absolute file path
}

// pathAttrs are the attributes a URI's path may hold, sorted.
func pathAttrs() []string {
	return []string{
		"id", "library-description", "library-manufacturer", "library-version",
		"manufacturer", "model", "object", "serial",
		"slot-description", "slot-id", "slot-manufacturer", "token", "type",
	}
}

// queryAttrs are the attributes a URI's query may hold, sorted.
func queryAttrs() []string {
	return []string{"module-name", "module-path", "pin-source", "pin-value"}
}

// ParseURI parses and validates a key URI. Errors name the attribute and say
// what would be valid. None of them repeats a value that may be a PIN: not
// a pin-value or pin-source value, not an attribute without a name, and not
// the value of any attribute whose name contains "pin" or "pass" (such
// attributes, e.g. x-pin-value, are refused).
func ParseURI(s string) (*URI, error) {
	u, err := parseURI(s)
	if err != nil {
		return nil, err
	}
	return u, u.validate()
}

// ParseTokenURI parses a URI that names a token only, such as
// "pkcs11:token=release?module-path=/usr/lib/softhsm/libsofthsm2.so": the
// same syntax and checks as ParseURI, but object=, id= and type= are
// refused (the key is named elsewhere, e.g. by key generate's --label).
func ParseTokenURI(s string) (*URI, error) {
	u, err := parseURI(s)
	if err != nil {
		return nil, err
	}
	if u.Object != "" || len(u.ID) > 0 || u.Type != "" {
		return nil, uriError(URIKeyInTokenURI, "", "a token URI names no key; remove object=, id= and type= (e.g. pkcs11:token=release)")
	}
	u.Object = "-" // satisfy the key-selector check, then clear it
	err = u.validate()
	u.Object = ""
	if err != nil {
		return nil, err
	}
	return u, nil
}

func parseURI(s string) (*URI, error) {
	const scheme = "pkcs11:"
	if !strings.HasPrefix(strings.ToLower(s), scheme) {
		// The value is not echoed: it is not a URI, so nothing says which
		// part of it might be a PIN.
		return nil, uriError(URIScheme, "", "the key id does not start with %q; use e.g. pkcs11:token=release;object=signing-key", scheme)
	}
	body := s[len(scheme):]
	path, query, _ := strings.Cut(body, "?")
	u := &URI{}
	seen := map[string]bool{}
	if err := eachAttr(path, ";", pathAttrs(), seen, u.setPath); err != nil {
		return nil, err
	}
	if err := eachAttr(query, "&", queryAttrs(), seen, u.setQuery); err != nil {
		return nil, err
	}
	return u, nil
}

func eachAttr(part, sep string, known []string, seen map[string]bool, set func(k, v string) error) error {
	if part == "" {
		return nil
	}
	where := map[string]string{";": "path", "&": "query"}[sep]
	for i, attr := range strings.Split(part, sep) {
		if attr == "" {
			continue
		}
		k, raw, ok := strings.Cut(attr, "=")
		k = strings.ToLower(k)
		isKnown := slices.Contains(known, k)
		if !ok && isKnown {
			return uriError(URINotNameValue, k, "attribute %q has no value (want name=value)", k)
		}
		if !ok || k == "" {
			// A nameless attribute is never repeated: it may be a PIN
			// pasted in (pkcs11:...?987654).
			return uriError(URINotNameValue, "", "%s attribute %d is not name=value (it is not repeated here, as it may be a PIN); "+
				"write e.g. object=signing-key, and give the PIN with pin-source=file:/absolute/path or %s", where, i+1, PINEnv)
		}
		if isPINName(k) && !isKnown && k != "pin-source" {
			return uriError(URISecret, k, "attribute %q is refused and its value is not repeated: a PIN never goes into the key URI, which notation stores in plaintext (signingkeys.json) and prints with -d; "+
				"use pin-source=file:/absolute/path (a file only its owner can read) or the %s environment variable", k, PINEnv)
		}
		if !isKnown {
			if strings.HasPrefix(k, "x-") {
				continue // vendor attribute (RFC 7512 section 2.3): ignored
			}
			return uriError(URIUnknownAttribute, k, "unknown attribute %q; valid here: %s", k, strings.Join(known, ", "))
		}
		if seen[k] {
			return uriError(URIDuplicate, k, "attribute %q given twice", k)
		}
		seen[k] = true
		if k == "pin-value" {
			return uriError(URISecret, k, "pin-value is refused: notation stores the key id in plaintext (signingkeys.json) and prints it with -d; "+
				"use pin-source=file:/absolute/path (a file only its owner can read) or the %s environment variable", PINEnv)
		}
		// RFC 7512 values are percent-encoded; '+' is a literal plus, so
		// PathUnescape (not QueryUnescape) is the right decoder.
		v, err := url.PathUnescape(raw)
		if err != nil {
			if isPINName(k) {
				return uriError(URIEncoding, k, "attribute %q: bad percent-encoding (the value is not repeated here, as it may be a PIN)", k)
			}
			return uriError(URIEncoding, k, "attribute %q: bad percent-encoding in %q", k, raw)
		}
		if err := set(k, v); err != nil {
			return err
		}
	}
	return nil
}

// isPINName reports whether an attribute name looks like it carries a PIN
// or password: such values are never repeated in an error.
func isPINName(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "pin") || strings.Contains(k, "pass")
}

func (u *URI) setPath(k, v string) error {
	switch k {
	case "token":
		u.Token = v
	case "manufacturer":
		u.Manufacturer = v
	case "model":
		u.Model = v
	case "serial":
		u.Serial = v
	case "slot-id":
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return uriError(URIInvalidValue, k, "slot-id %q is not a decimal number", v)
		}
		id := uint(n)
		u.SlotID = &id
	case "object":
		u.Object = v
	case "id":
		u.ID = []byte(v)
		if len(u.ID) == 0 {
			return uriError(URIInvalidValue, k, "id is empty; give the key's CKA_ID percent-encoded, e.g. id=%%01%%02")
		}
	case "type":
		if v != "private" {
			return uriError(URIInvalidValue, k, "type=%s: the key URI must name a private key (type=private, or leave type out)", v)
		}
		u.Type = v
	}
	// library-* and slot-description/slot-manufacturer are accepted and not
	// used to select: they describe the module, which module-path names.
	return nil
}

func (u *URI) setQuery(k, v string) error {
	switch k {
	case "module-path":
		if !filepath.IsAbs(v) {
			return uriError(URIInvalidValue, k, "module-path %q must be an absolute path to the PKCS#11 module (.so)", v)
		}
		u.ModulePath = v
	case "module-name":
		return uriError(URIUnsupported, k, "module-name is not supported; name the module file with module-path=/absolute/path/to/module.so")
	case "pin-source":
		p := v
		switch {
		case strings.HasPrefix(p, "file://"):
			p = strings.TrimPrefix(p, "file://")
		case strings.HasPrefix(p, "file:"):
			p = strings.TrimPrefix(p, "file:")
		}
		if !filepath.IsAbs(p) {
			// The value is not repeated: a pin-source that is no path
			// may well be the PIN itself (pin-source=987654).
			return uriError(URIInvalidValue, k, "pin-source must be file:/absolute/path naming a file that holds the PIN (the value given is not repeated here, as it may be the PIN itself)")
		}
		u.PINSource = filepath.Clean(p)
	}
	return nil
}

func (u *URI) validate() error {
	var tokenSel []string
	if u.Token != "" {
		tokenSel = append(tokenSel, "token")
	}
	if u.Serial != "" {
		tokenSel = append(tokenSel, "serial")
	}
	if u.SlotID != nil {
		tokenSel = append(tokenSel, "slot-id")
	}
	if len(tokenSel) > 1 {
		return uriError(URIConflict, strings.Join(tokenSel, " and "), "%s each select a token on their own and may contradict each other; keep one of them", strings.Join(tokenSel, " and "))
	}
	if u.Object == "" && len(u.ID) == 0 {
		return uriError(URINoKey, "", "no key selected; add object=<key label> or id=<key CKA_ID>")
	}
	return nil
}

// String returns the URI in canonical form: attributes in a fixed order,
// values percent-encoded. It never contains a PIN (a pin-source path is not
// a secret and is kept).
func (u *URI) String() string {
	var path []string
	add := func(k, v string) {
		if v != "" {
			path = append(path, k+"="+escape(v, false))
		}
	}
	add("token", u.Token)
	add("manufacturer", u.Manufacturer)
	add("model", u.Model)
	add("serial", u.Serial)
	if u.SlotID != nil {
		path = append(path, "slot-id="+strconv.FormatUint(uint64(*u.SlotID), 10))
	}
	add("object", u.Object)
	if len(u.ID) > 0 {
		path = append(path, "id="+percentAll(u.ID))
	}
	add("type", u.Type)
	s := "pkcs11:" + strings.Join(path, ";")
	var q []string
	if u.ModulePath != "" {
		q = append(q, "module-path="+escape(u.ModulePath, true))
	}
	if u.PINSource != "" {
		q = append(q, "pin-source="+escape("file:"+u.PINSource, true))
	}
	if len(q) > 0 {
		s += "?" + strings.Join(q, "&")
	}
	return s
}

// KeyDescription names the key selectors for messages, e.g.
// `object="signing-key" id=%01`.
func (u *URI) KeyDescription() string {
	var parts []string
	if u.Object != "" {
		parts = append(parts, fmt.Sprintf("object=%q", u.Object))
	}
	if len(u.ID) > 0 {
		parts = append(parts, "id="+percentAll(u.ID))
	}
	return strings.Join(parts, " ")
}

// escape percent-encodes v for a path attribute, or for a query attribute
// when query is true (RFC 7512 allows '/' and '?' unencoded there).
func escape(v string, query bool) string {
	allowed := "-._~:[]@!$'()*+,="
	if query {
		allowed += "/?|"
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(allowed, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func percentAll(b []byte) string {
	h := strings.ToUpper(hex.EncodeToString(b))
	var s strings.Builder
	for i := 0; i < len(h); i += 2 {
		s.WriteString("%" + h[i:i+2])
	}
	return s.String()
}
