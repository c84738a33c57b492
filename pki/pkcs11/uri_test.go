package pkcs11_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

func uriSlot(n uint) *uint { return &n }

// uriParseCases are URIs ParseURI accepts, with the URI they parse to and
// the canonical String form.
type uriParseCase struct {
	name string
	in   string
	want pkcs11.URI
	str  string // canonical String(); empty: not checked
}

func uriParseCases() []uriParseCase {
	return []uriParseCase{
		{"object only", "pkcs11:object=signing-key",
			pkcs11.URI{Object: "signing-key"}, "pkcs11:object=signing-key"},
		{"doc example", "pkcs11:token=release;object=signing-key?pin-source=file:/etc/pin",
			pkcs11.URI{Token: "release", Object: "signing-key", PINSource: "/etc/pin"}, "pkcs11:token=release;object=signing-key?pin-source=file:/etc/pin"},
		{"attributes in any order", "pkcs11:object=signing-key;token=release?pin-source=/etc/pin",
			pkcs11.URI{Token: "release", Object: "signing-key", PINSource: "/etc/pin"}, "pkcs11:token=release;object=signing-key?pin-source=file:/etc/pin"},
		{"upper-case scheme", "PKCS11:object=k",
			pkcs11.URI{Object: "k"}, "pkcs11:object=k"},
		{"upper-case attribute names", "pkcs11:OBJECT=k;Token=t",
			pkcs11.URI{Token: "t", Object: "k"}, "pkcs11:token=t;object=k"},
		{"id percent-encoded", "pkcs11:id=%01%02",
			pkcs11.URI{ID: []byte{1, 2}}, "pkcs11:id=%01%02"},
		{"id lower-case hex", "pkcs11:id=%0a%ff",
			pkcs11.URI{ID: []byte{0x0a, 0xff}}, "pkcs11:id=%0A%FF"},
		{"id as plain text", "pkcs11:id=abc",
			pkcs11.URI{ID: []byte("abc")}, "pkcs11:id=%61%62%63"},
		{"id with NUL bytes", "pkcs11:id=%00%00",
			pkcs11.URI{ID: []byte{0, 0}}, "pkcs11:id=%00%00"},
		{"object and id", "pkcs11:object=signing-key;id=%01",
			pkcs11.URI{Object: "signing-key", ID: []byte{1}}, "pkcs11:object=signing-key;id=%01"},
		{"plus stays literal", "pkcs11:object=a+b%2Bc",
			pkcs11.URI{Object: "a+b+c"}, "pkcs11:object=a+b+c"},
		{"percent-encoded space", "pkcs11:object=my%20key",
			pkcs11.URI{Object: "my key"}, "pkcs11:object=my%20key"},
		{"percent-encoded semicolon and percent", "pkcs11:object=a%3Bb%25c",
			pkcs11.URI{Object: "a;b%c"}, "pkcs11:object=a%3Bb%25c"},
		{"equals sign in a value", "pkcs11:object=k=v",
			pkcs11.URI{Object: "k=v"}, "pkcs11:object=k=v"},
		// RFC 7512 section 3, with type=cert changed to type=private.
		{"RFC 7512 full example", "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=private;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin",
			pkcs11.URI{Token: "The Software PKCS#11 Softtoken", Manufacturer: "Snake Oil, Inc.", Model: "1.0", Object: "my-certificate", Type: "private", ID: []byte{0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91}, PINSource: "/etc/token_pin"},
			"pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;id=%69%95%3E%5C%F4%BD%EC%91;type=private?pin-source=file:/etc/token_pin"},
		{"RFC 7512 private key with pin-source", "pkcs11:object=my-key;type=private?pin-source=file:/etc/token",
			pkcs11.URI{Object: "my-key", Type: "private", PINSource: "/etc/token"}, "pkcs11:object=my-key;type=private?pin-source=file:/etc/token"},
		{"RFC 7512 module-path", "pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1",
			pkcs11.URI{Object: "my-sign-key", Type: "private", ModulePath: "/mnt/libmypkcs11.so.1"}, "pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1"},
		{"RFC 7512 percent and semicolon in a token", "pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-key",
			pkcs11.URI{Token: "A name with a substring %;", Object: "my-key"}, "pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-key"},
		{"RFC 7512 UTF-8 token", "pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-key",
			pkcs11.URI{Token: "Name with a small A with acute: \u00e1", Object: "my-key"}, "pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-key"},
		{"RFC 7512 library attributes are accepted and not kept", "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23;object=k",
			pkcs11.URI{Object: "k"}, "pkcs11:object=k"},
		{"slot attributes are accepted and not kept", "pkcs11:slot-description=Sun%20Metaslot;slot-manufacturer=Sun;object=k",
			pkcs11.URI{Object: "k"}, "pkcs11:object=k"},
		{"pin-source file:///abs", "pkcs11:object=k?pin-source=file:///etc/pin",
			pkcs11.URI{Object: "k", PINSource: "/etc/pin"}, "pkcs11:object=k?pin-source=file:/etc/pin"},
		{"pin-source bare absolute path", "pkcs11:object=k?pin-source=/etc/pin",
			pkcs11.URI{Object: "k", PINSource: "/etc/pin"}, "pkcs11:object=k?pin-source=file:/etc/pin"},
		{"pin-source is cleaned", "pkcs11:object=k?pin-source=file:/etc/../run//pin/",
			pkcs11.URI{Object: "k", PINSource: "/run/pin"}, "pkcs11:object=k?pin-source=file:/run/pin"},
		{"pin-source percent-encoded", "pkcs11:object=k?pin-source=file:%2Fhome%2Fme%2Fmy%20pin",
			pkcs11.URI{Object: "k", PINSource: "/home/me/my pin"}, "pkcs11:object=k?pin-source=file:/home/me/my%20pin"},
		{"module-path and pin-source", "pkcs11:token=t;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/p",
			pkcs11.URI{Token: "t", Object: "k", ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PINSource: "/p"}, "pkcs11:token=t;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/p"},
		{"query attributes in any order", "pkcs11:object=k?pin-source=/p&module-path=/m.so",
			pkcs11.URI{Object: "k", ModulePath: "/m.so", PINSource: "/p"}, "pkcs11:object=k?module-path=/m.so&pin-source=file:/p"},
		{"question mark inside the query", "pkcs11:object=k?module-path=/opt/a?b.so",
			pkcs11.URI{Object: "k", ModulePath: "/opt/a?b.so"}, "pkcs11:object=k?module-path=/opt/a?b.so"},
		{"module-path with space and ampersand", "pkcs11:object=k?module-path=/opt/my%20lib%26co/m.so",
			pkcs11.URI{Object: "k", ModulePath: "/opt/my lib&co/m.so"}, "pkcs11:object=k?module-path=/opt/my%20lib%26co/m.so"},
		{"serial", "pkcs11:serial=0123456789abcdef;object=k",
			pkcs11.URI{Serial: "0123456789abcdef", Object: "k"}, "pkcs11:serial=0123456789abcdef;object=k"},
		{"slot-id 0", "pkcs11:slot-id=0;object=k",
			pkcs11.URI{SlotID: uriSlot(0), Object: "k"}, "pkcs11:slot-id=0;object=k"},
		{"slot-id with leading zeros", "pkcs11:slot-id=007;object=k",
			pkcs11.URI{SlotID: uriSlot(7), Object: "k"}, "pkcs11:slot-id=7;object=k"},
		{"slot-id max uint32", "pkcs11:slot-id=4294967295;object=k",
			pkcs11.URI{SlotID: uriSlot(4294967295), Object: "k"}, "pkcs11:slot-id=4294967295;object=k"},
		{"manufacturer and model narrow a token label", "pkcs11:token=t;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;object=k",
			pkcs11.URI{Token: "t", Manufacturer: "SoftHSM project", Model: "SoftHSM v2", Object: "k"}, "pkcs11:token=t;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;object=k"},
		{"type=private", "pkcs11:object=k;type=private",
			pkcs11.URI{Object: "k", Type: "private"}, "pkcs11:object=k;type=private"},
		{"empty attributes are skipped", "pkcs11:;;object=k;;?&&pin-source=/p&",
			pkcs11.URI{Object: "k", PINSource: "/p"}, "pkcs11:object=k?pin-source=file:/p"},
		{"empty token value", "pkcs11:token=;object=k",
			pkcs11.URI{Object: "k"}, "pkcs11:object=k"},
		{"empty query", "pkcs11:object=k?",
			pkcs11.URI{Object: "k"}, "pkcs11:object=k"},
		{"x- vendor attributes are ignored", "pkcs11:x-vendor=1;object=k;X-Other=%zz?x-foo=bar&x-foo=baz",
			pkcs11.URI{Object: "k"}, "pkcs11:object=k"},
		{"reserved characters allowed unencoded", "pkcs11:object=a:b[c]d@e!f$g'h(i)j*k,l",
			pkcs11.URI{Object: "a:b[c]d@e!f$g'h(i)j*k,l"}, "pkcs11:object=a:b[c]d@e!f$g'h(i)j*k,l"},
		{"slash and question mark in a path value", "pkcs11:object=a%2Fb%3Fc",
			pkcs11.URI{Object: "a/b?c"}, "pkcs11:object=a%2Fb%3Fc"},
	}
}

func TestParseURI(t *testing.T) {
	for _, tc := range uriParseCases() {
		t.Run(tc.name, func(t *testing.T) {
			u, err := pkcs11.ParseURI(tc.in)
			if err != nil {
				t.Fatalf("ParseURI(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(*u, tc.want) {
				t.Errorf("ParseURI(%q) =\n  %#v\nwant\n  %#v", tc.in, *u, tc.want)
			}
			if tc.str != "" {
				if got := u.String(); got != tc.str {
					t.Errorf("String() = %q, want %q", got, tc.str)
				}
			}
			uriAssertRoundTrip(t, u)
		})
	}
}

// uriAssertRoundTrip checks that String gives a URI that parses back to u
// and is a fixed point.
func uriAssertRoundTrip(t *testing.T, u *pkcs11.URI) {
	t.Helper()
	s := u.String()
	if !strings.HasPrefix(s, "pkcs11:") {
		t.Fatalf("String() = %q does not start with pkcs11:", s)
	}
	u2, err := pkcs11.ParseURI(s)
	if err != nil {
		t.Fatalf("ParseURI(String() = %q): %v", s, err)
	}
	if !reflect.DeepEqual(u, u2) {
		t.Fatalf("round trip through %q:\n  %#v\nbecame\n  %#v", s, *u, *u2)
	}
	if s2 := u2.String(); s2 != s {
		t.Fatalf("String() is not canonical: %q then %q", s, s2)
	}
	for _, name := range uriAttributeNames(s) {
		if name == "pin-value" {
			t.Fatalf("String() = %q has a pin-value attribute", s)
		}
	}
}

// uriAttributeNames returns the names of the path and query attributes of a
// URI string, lower-cased.
func uriAttributeNames(s string) []string {
	body := strings.TrimPrefix(strings.ToLower(s), "pkcs11:")
	path, query, _ := strings.Cut(body, "?")
	var names []string
	for _, part := range [][]string{strings.Split(path, ";"), strings.Split(query, "&")} {
		for _, attr := range part {
			if attr == "" {
				continue
			}
			name, _, _ := strings.Cut(attr, "=")
			names = append(names, name)
		}
	}
	return names
}

func TestURIRoundTripConstructed(t *testing.T) {
	for _, u := range []pkcs11.URI{
		{Object: "k"},
		{ID: []byte{0}},
		{ID: []byte{0xff, 0x00, 0x25, 0x3b}},
		{Token: "t", Object: "k", ID: []byte("k1"), Type: "private"},
		{Serial: "s", SlotID: nil, Object: "k"},
		{SlotID: uriSlot(3), Manufacturer: "m", Model: "x", Object: "k"},
		{Object: "every/odd?char;&=%# +\t\"<>\\^`{|}~", Token: "\x00\x01\xff\u00e9"},
		{Object: "k", ModulePath: "/opt/a&b/mod;1 2.so?x=y", PINSource: "/tmp/a b/p?x&y=%z"},
		{Object: "k", PINSource: "/"},
		{Object: "pin-value", Token: "pin-value=1234"},
		{Object: "k", ModulePath: "/m.so"},
	} {
		t.Run(u.String(), func(t *testing.T) {
			u := u
			uriAssertRoundTrip(t, &u)
		})
	}
}

func TestParseURIRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		words []string // key words of the message
	}{
		{"empty", "", []string{"does not start with", `"pkcs11:"`, "pkcs11:token=release;object=signing-key"}},
		{"no scheme", "object=k", []string{"does not start with", `"pkcs11:"`}},
		{"other scheme", "pkcs:object=k", []string{"does not start with"}},
		{"no colon", "pkcs11;object=k", []string{"does not start with"}},
		{"leading space", " pkcs11:object=k", []string{"does not start with"}},
		{"file path", "/etc/pkcs11/key", []string{"does not start with"}}, // the value is never echoed: it might hold a PIN
		{"scheme only", "pkcs11:", []string{"no key selected", "object=<key label>", "id=<key CKA_ID>"}},
		{"token only", "pkcs11:token=release", []string{"no key selected", "object=", "id="}},
		{"RFC 7512 slot-description only", "pkcs11:slot-description=Sun%20Metaslot", []string{"no key selected"}},
		{"empty object", "pkcs11:object=", []string{"no key selected"}},
		{"empty id", "pkcs11:object=k;id=", []string{"id is empty", "id=%01%02"}},
		{"RFC 7512 type=public", "pkcs11:object=my-pubkey;type=public", []string{"type=public", "must name a private key", "type=private"}},
		{"type=cert", "pkcs11:object=my-certificate;type=cert", []string{"type=cert", "private key"}},
		{"type=secret-key", "pkcs11:object=k;type=secret-key", []string{"type=secret-key"}},
		{"type=data", "pkcs11:object=k;type=data", []string{"type=data"}},
		{"type is case-sensitive", "pkcs11:object=k;type=Private", []string{"type=Private"}},
		{"RFC 7512 module-name", "pkcs11:object=my-sign-key;type=private?module-name=mypkcs11", []string{"module-name is not supported", "module-path=/absolute/path"}},
		{"relative module-path", "pkcs11:object=k?module-path=libsofthsm2.so", []string{"module-path", "libsofthsm2.so", "absolute path"}},
		{"relative pin-source", "pkcs11:object=k?pin-source=pin.txt", []string{"pin-source", "file:/absolute/path", "not repeated"}},
		{"relative file: pin-source", "pkcs11:object=k?pin-source=file:pin.txt", []string{"pin-source", "file:/absolute/path", "not repeated"}},
		{"dot-relative pin-source", "pkcs11:object=k?pin-source=./pin", []string{"pin-source", "file:/absolute/path"}},
		{"file URL with a host", "pkcs11:object=k?pin-source=file://host/etc/pin", []string{"pin-source", "file:/absolute/path"}},
		{"empty pin-source", "pkcs11:object=k?pin-source=", []string{"pin-source", "file:/absolute/path"}},
		{"file: alone", "pkcs11:object=k?pin-source=file:", []string{"pin-source", "file:/absolute/path"}},
		{"unknown path attribute", "pkcs11:object=k;label=x", []string{`unknown attribute "label"`, "valid here:", "id", "manufacturer", "model", "object", "serial", "slot-id", "token", "type"}},
		{"unknown query attribute", "pkcs11:object=k?label=x", []string{`unknown attribute "label"`, "valid here:", "module-path", "pin-source"}},
		{"a PIN-like query attribute", "pkcs11:object=k?pin=1234", []string{`attribute "pin" is refused`, "pin-source=file:/absolute/path", "NOTATION_PKCS11_PIN"}},
		{"pin-source in the path", "pkcs11:object=k;pin-source=/p", []string{`unknown attribute "pin-source"`, "valid here:"}},
		{"nameless path attribute", "pkcs11:object=k;x", []string{"path attribute 2 is not name=value", "pin-source=file:/absolute/path"}},
		{"nameless query attribute", "pkcs11:object=k?module-path=/m.so&x", []string{"query attribute 2 is not name=value"}},
		{"empty attribute name", "pkcs11:object=k?=x", []string{"query attribute 1 is not name=value"}},
		{"query attribute in the path", "pkcs11:object=k;module-path=/m.so", []string{`unknown attribute "module-path"`, "object"}},
		{"path attribute in the query", "pkcs11:token=t?object=k", []string{`unknown attribute "object"`, "pin-source"}},
		{"RFC 7512 vendor attributes without x-", "pkcs11:token=my-token;object=my-certificate;type=private;vendor-aaa=value-a?pin-source=file:/etc/token_pin&vendor-bbb=value-b", []string{`unknown attribute "vendor-aaa"`, "valid here:"}},
		{"duplicate object", "pkcs11:object=a;object=b", []string{`attribute "object" given twice`}},
		{"duplicate object, different case", "pkcs11:object=a;OBJECT=b", []string{`attribute "object" given twice`}},
		{"duplicate id", "pkcs11:id=%01;id=%02", []string{`attribute "id" given twice`}},
		{"duplicate token, both empty", "pkcs11:token=;token=;object=k", []string{`attribute "token" given twice`}},
		{"duplicate pin-source", "pkcs11:object=k?pin-source=/a&pin-source=/b", []string{`attribute "pin-source" given twice`}},
		{"duplicate module-path", "pkcs11:object=k?module-path=/a.so&module-path=/a.so", []string{`attribute "module-path" given twice`}},
		{"token and serial", "pkcs11:token=t;serial=s;object=k", []string{"token and serial", "keep one of them"}},
		{"token and slot-id", "pkcs11:token=t;slot-id=1;object=k", []string{"token and slot-id", "keep one of them"}},
		{"serial and slot-id", "pkcs11:serial=s;slot-id=1;object=k", []string{"serial and slot-id", "keep one of them"}},
		{"token, serial and slot-id", "pkcs11:slot-id=1;serial=s;token=t;object=k", []string{"token and serial and slot-id"}},
		{"slot-id not a number", "pkcs11:slot-id=abc;object=k", []string{`slot-id "abc"`, "decimal number"}},
		{"slot-id negative", "pkcs11:slot-id=-1;object=k", []string{`slot-id "-1"`, "decimal number"}},
		{"slot-id hex", "pkcs11:slot-id=0x10;object=k", []string{`slot-id "0x10"`}},
		{"slot-id with sign", "pkcs11:slot-id=+1;object=k", []string{`slot-id "+1"`}},
		{"slot-id fraction", "pkcs11:slot-id=1.5;object=k", []string{`slot-id "1.5"`}},
		{"slot-id too large", "pkcs11:slot-id=4294967296;object=k", []string{`slot-id "4294967296"`}},
		{"slot-id empty", "pkcs11:slot-id=;object=k", []string{`slot-id ""`}},
		{"slot-id with space", "pkcs11:slot-id=%201;object=k", []string{`slot-id " 1"`}},
		{"bad percent-encoding", "pkcs11:object=%zz", []string{`attribute "object"`, "bad percent-encoding", `"%zz"`}},
		{"truncated percent-encoding", "pkcs11:object=abc%2", []string{`attribute "object"`, "bad percent-encoding"}},
		{"lone percent", "pkcs11:token=50%;object=k", []string{`attribute "token"`, "bad percent-encoding"}},
		{"bad percent-encoding in id", "pkcs11:id=%G1", []string{`attribute "id"`, "bad percent-encoding"}},
		{"bad percent-encoding in the query", "pkcs11:object=k?module-path=/a%", []string{`attribute "module-path"`, "bad percent-encoding"}},
		{"attribute without value", "pkcs11:object", []string{`attribute "object" has no value`, "name=value"}},
		{"query attribute without value", "pkcs11:object=k?pin-source", []string{`attribute "pin-source" has no value`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := pkcs11.ParseURI(tc.in)
			if err == nil {
				t.Fatalf("ParseURI(%q) = %#v, want an error", tc.in, *u)
			}
			if !errors.Is(err, pkcs11.ErrInvalidURI) {
				t.Errorf("error %v does not wrap ErrInvalidURI", err)
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseURIPinValueRefused(t *testing.T) {
	const pin = "S3cr3t-4711"
	for _, tc := range []struct {
		name  string
		in    string
		words []string
	}{
		{"query pin-value", "pkcs11:token=t;object=k?pin-value=" + pin, []string{"pin-value is refused", "plaintext", "signingkeys.json", "pin-source=file:/absolute/path", "NOTATION_PKCS11_PIN"}},
		{"RFC 7512 pin-value example", "pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=" + pin, []string{"pin-value is refused"}},
		{"upper-case name", "pkcs11:object=k?PIN-VALUE=" + pin, []string{"pin-value is refused"}},
		{"after a pin-source", "pkcs11:object=k?pin-source=/p&pin-value=" + pin, []string{"pin-value is refused"}},
		{"before a pin-source", "pkcs11:object=k?pin-value=" + pin + "&pin-source=/p", []string{"pin-value is refused"}},
		{"percent-encoded value", "pkcs11:object=k?pin-value=%53%33" + pin, []string{"pin-value is refused"}},
		{"bad percent-encoding in the value", "pkcs11:object=k?pin-value=%zz" + pin, []string{"pin-value is refused"}},
		{"empty value", "pkcs11:object=k?pin-value=", []string{"pin-value is refused"}},
		{"twice", "pkcs11:object=k?pin-value=" + pin + "&pin-value=" + pin, []string{"pin-value is refused"}},
		{"without a key selector", "pkcs11:token=t?pin-value=" + pin, []string{"pin-value is refused"}},
		{"in the path", "pkcs11:object=k;pin-value=" + pin, []string{`attribute "pin-value" is refused`}},
		{"after a bad slot-id", "pkcs11:object=k;slot-id=x?pin-value=" + pin, []string{"slot-id"}},
		{"after a bad path value", "pkcs11:object=%zz?pin-value=" + pin, []string{"bad percent-encoding"}},
		{"wrong scheme with a query", "pkcs:object=k?pin-value=" + pin, []string{"does not start with"}},
		{"no scheme with a path", "token=t;object=k?pin-value=" + pin, []string{"does not start with"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := pkcs11.ParseURI(tc.in)
			if err == nil {
				t.Fatalf("ParseURI = %#v, want an error", *u)
			}
			if !errors.Is(err, pkcs11.ErrInvalidURI) {
				t.Errorf("error %v does not wrap ErrInvalidURI", err)
			}
			if strings.Contains(err.Error(), pin) || strings.Contains(err.Error(), "S3cr3t") {
				t.Errorf("error %q repeats the PIN", err)
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestParseURINoSchemeNeverEchoesPIN (regression): ParseURI promises that no
// error repeats a pin-value. The "does not start with pkcs11:" message used
// to quote short inputs with no '?' or ';' whole, so a bare
// "pin-value=..." was repeated.
func TestParseURINoSchemeNeverEchoesPIN(t *testing.T) {
	const pin = "S3cr3t-4711"
	for _, in := range []string{
		"pin-value=" + pin,
		"pkcs11 object=k&pin-value=" + pin,
		"object=k&pin-value=" + pin,
	} {
		t.Run(in, func(t *testing.T) {
			_, err := pkcs11.ParseURI(in)
			if !errors.Is(err, pkcs11.ErrInvalidURI) {
				t.Fatalf("ParseURI(%q) error = %v, want ErrInvalidURI", in, err)
			}
			if strings.Contains(err.Error(), pin) {
				t.Errorf("error %q repeats the PIN", err)
			}
		})
	}
}

func TestURIKeyDescription(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"pkcs11:object=signing-key", `object="signing-key"`},
		{"pkcs11:id=%01%02", "id=%01%02"},
		{"pkcs11:object=signing-key;id=%01", `object="signing-key" id=%01`},
		{"pkcs11:token=t;object=a%22b;id=%FF?pin-source=/p", `object="a\"b" id=%FF`},
		{"pkcs11:id=ab", "id=%61%62"},
	} {
		u, err := pkcs11.ParseURI(tc.in)
		if err != nil {
			t.Fatalf("ParseURI(%q): %v", tc.in, err)
		}
		if got := u.KeyDescription(); got != tc.want {
			t.Errorf("KeyDescription(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := (&pkcs11.URI{Token: "t"}).KeyDescription(); got != "" {
		t.Errorf("KeyDescription with no key selector = %q, want empty", got)
	}
}
