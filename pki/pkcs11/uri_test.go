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
		name    string
		in      string
		problem pkcs11.URIProblem
		attr    string // URIError.Attribute
	}{
		{"empty", "", pkcs11.URIScheme, ""},
		{"no scheme", "object=k", pkcs11.URIScheme, ""},
		{"other scheme", "pkcs:object=k", pkcs11.URIScheme, ""},
		{"no colon", "pkcs11;object=k", pkcs11.URIScheme, ""},
		{"leading space", " pkcs11:object=k", pkcs11.URIScheme, ""},
		{"file path", "/etc/pkcs11/key", pkcs11.URIScheme, ""}, // the value is never echoed: it might hold a PIN
		{"scheme only", "pkcs11:", pkcs11.URINoKey, ""},
		{"token only", "pkcs11:token=release", pkcs11.URINoKey, ""},
		{"RFC 7512 slot-description only", "pkcs11:slot-description=Sun%20Metaslot", pkcs11.URINoKey, ""},
		{"empty object", "pkcs11:object=", pkcs11.URINoKey, ""},
		{"empty id", "pkcs11:object=k;id=", pkcs11.URIInvalidValue, "id"},
		{"RFC 7512 type=public", "pkcs11:object=my-pubkey;type=public", pkcs11.URIInvalidValue, "type"},
		{"type=cert", "pkcs11:object=my-certificate;type=cert", pkcs11.URIInvalidValue, "type"},
		{"type=secret-key", "pkcs11:object=k;type=secret-key", pkcs11.URIInvalidValue, "type"},
		{"type=data", "pkcs11:object=k;type=data", pkcs11.URIInvalidValue, "type"},
		{"type is case-sensitive", "pkcs11:object=k;type=Private", pkcs11.URIInvalidValue, "type"},
		{"RFC 7512 module-name", "pkcs11:object=my-sign-key;type=private?module-name=mypkcs11", pkcs11.URIUnsupported, "module-name"},
		{"relative module-path", "pkcs11:object=k?module-path=libsofthsm2.so", pkcs11.URIInvalidValue, "module-path"},
		{"relative pin-source", "pkcs11:object=k?pin-source=pin.txt", pkcs11.URIInvalidValue, "pin-source"},
		{"relative file: pin-source", "pkcs11:object=k?pin-source=file:pin.txt", pkcs11.URIInvalidValue, "pin-source"},
		{"dot-relative pin-source", "pkcs11:object=k?pin-source=./pin", pkcs11.URIInvalidValue, "pin-source"},
		{"file URL with a host", "pkcs11:object=k?pin-source=file://host/etc/pin", pkcs11.URIInvalidValue, "pin-source"},
		{"empty pin-source", "pkcs11:object=k?pin-source=", pkcs11.URIInvalidValue, "pin-source"},
		{"file: alone", "pkcs11:object=k?pin-source=file:", pkcs11.URIInvalidValue, "pin-source"},
		{"unknown path attribute", "pkcs11:object=k;label=x", pkcs11.URIUnknownAttribute, "label"},
		{"unknown query attribute", "pkcs11:object=k?label=x", pkcs11.URIUnknownAttribute, "label"},
		{"a PIN-like query attribute", "pkcs11:object=k?pin=1234", pkcs11.URISecret, "pin"},
		{"pin-source in the path", "pkcs11:object=k;pin-source=/p", pkcs11.URIUnknownAttribute, "pin-source"},
		{"nameless path attribute", "pkcs11:object=k;x", pkcs11.URINotNameValue, ""},
		{"nameless query attribute", "pkcs11:object=k?module-path=/m.so&x", pkcs11.URINotNameValue, ""},
		{"empty attribute name", "pkcs11:object=k?=x", pkcs11.URINotNameValue, ""},
		{"query attribute in the path", "pkcs11:object=k;module-path=/m.so", pkcs11.URIUnknownAttribute, "module-path"},
		{"path attribute in the query", "pkcs11:token=t?object=k", pkcs11.URIUnknownAttribute, "object"},
		{"RFC 7512 vendor attributes without x-", "pkcs11:token=my-token;object=my-certificate;type=private;vendor-aaa=value-a?pin-source=file:/etc/token_pin&vendor-bbb=value-b", pkcs11.URIUnknownAttribute, "vendor-aaa"},
		{"duplicate object", "pkcs11:object=a;object=b", pkcs11.URIDuplicate, "object"},
		{"duplicate object, different case", "pkcs11:object=a;OBJECT=b", pkcs11.URIDuplicate, "object"},
		{"duplicate id", "pkcs11:id=%01;id=%02", pkcs11.URIDuplicate, "id"},
		{"duplicate token, both empty", "pkcs11:token=;token=;object=k", pkcs11.URIDuplicate, "token"},
		{"duplicate pin-source", "pkcs11:object=k?pin-source=/a&pin-source=/b", pkcs11.URIDuplicate, "pin-source"},
		{"duplicate module-path", "pkcs11:object=k?module-path=/a.so&module-path=/a.so", pkcs11.URIDuplicate, "module-path"},
		{"token and serial", "pkcs11:token=t;serial=s;object=k", pkcs11.URIConflict, "token and serial"},
		{"token and slot-id", "pkcs11:token=t;slot-id=1;object=k", pkcs11.URIConflict, "token and slot-id"},
		{"serial and slot-id", "pkcs11:serial=s;slot-id=1;object=k", pkcs11.URIConflict, "serial and slot-id"},
		{"token, serial and slot-id", "pkcs11:slot-id=1;serial=s;token=t;object=k", pkcs11.URIConflict, "token and serial and slot-id"},
		{"slot-id not a number", "pkcs11:slot-id=abc;object=k", pkcs11.URIInvalidValue, "slot-id"},
		{"slot-id negative", "pkcs11:slot-id=-1;object=k", pkcs11.URIInvalidValue, "slot-id"},
		{"slot-id hex", "pkcs11:slot-id=0x10;object=k", pkcs11.URIInvalidValue, "slot-id"},
		{"slot-id with sign", "pkcs11:slot-id=+1;object=k", pkcs11.URIInvalidValue, "slot-id"},
		{"slot-id fraction", "pkcs11:slot-id=1.5;object=k", pkcs11.URIInvalidValue, "slot-id"},
		{"slot-id too large", "pkcs11:slot-id=4294967296;object=k", pkcs11.URIInvalidValue, "slot-id"},
		{"slot-id empty", "pkcs11:slot-id=;object=k", pkcs11.URIInvalidValue, "slot-id"},
		{"slot-id with space", "pkcs11:slot-id=%201;object=k", pkcs11.URIInvalidValue, "slot-id"},
		{"bad percent-encoding", "pkcs11:object=%zz", pkcs11.URIEncoding, "object"},
		{"truncated percent-encoding", "pkcs11:object=abc%2", pkcs11.URIEncoding, "object"},
		{"lone percent", "pkcs11:token=50%;object=k", pkcs11.URIEncoding, "token"},
		{"bad percent-encoding in id", "pkcs11:id=%G1", pkcs11.URIEncoding, "id"},
		{"bad percent-encoding in the query", "pkcs11:object=k?module-path=/a%", pkcs11.URIEncoding, "module-path"},
		{"attribute without value", "pkcs11:object", pkcs11.URINotNameValue, "object"},
		{"query attribute without value", "pkcs11:object=k?pin-source", pkcs11.URINotNameValue, "pin-source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := pkcs11.ParseURI(tc.in)
			if err == nil {
				t.Fatalf("ParseURI(%q) = %#v, want an error", tc.in, *u)
			}
			wantURIError(t, err, tc.problem, tc.attr)
		})
	}
}

func TestParseURIPinValueRefused(t *testing.T) {
	const pin = "S3cr3t-4711"
	for _, tc := range []struct {
		name    string
		in      string
		problem pkcs11.URIProblem
		attr    string
	}{
		{"query pin-value", "pkcs11:token=t;object=k?pin-value=" + pin, pkcs11.URISecret, "pin-value"},
		{"RFC 7512 pin-value example", "pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=" + pin, pkcs11.URISecret, "pin-value"},
		{"upper-case name", "pkcs11:object=k?PIN-VALUE=" + pin, pkcs11.URISecret, "pin-value"},
		{"after a pin-source", "pkcs11:object=k?pin-source=/p&pin-value=" + pin, pkcs11.URISecret, "pin-value"},
		{"before a pin-source", "pkcs11:object=k?pin-value=" + pin + "&pin-source=/p", pkcs11.URISecret, "pin-value"},
		{"percent-encoded value", "pkcs11:object=k?pin-value=%53%33" + pin, pkcs11.URISecret, "pin-value"},
		{"bad percent-encoding in the value", "pkcs11:object=k?pin-value=%zz" + pin, pkcs11.URISecret, "pin-value"},
		{"empty value", "pkcs11:object=k?pin-value=", pkcs11.URISecret, "pin-value"},
		{"twice", "pkcs11:object=k?pin-value=" + pin + "&pin-value=" + pin, pkcs11.URISecret, "pin-value"},
		{"without a key selector", "pkcs11:token=t?pin-value=" + pin, pkcs11.URISecret, "pin-value"},
		{"in the path", "pkcs11:object=k;pin-value=" + pin, pkcs11.URISecret, "pin-value"},
		{"after a bad slot-id", "pkcs11:object=k;slot-id=x?pin-value=" + pin, pkcs11.URIInvalidValue, "slot-id"},
		{"after a bad path value", "pkcs11:object=%zz?pin-value=" + pin, pkcs11.URIEncoding, "object"},
		{"wrong scheme with a query", "pkcs:object=k?pin-value=" + pin, pkcs11.URIScheme, ""},
		{"no scheme with a path", "token=t;object=k?pin-value=" + pin, pkcs11.URIScheme, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := pkcs11.ParseURI(tc.in)
			if err == nil {
				t.Fatalf("ParseURI = %#v, want an error", *u)
			}
			wantURIError(t, err, tc.problem, tc.attr)
			if strings.Contains(err.Error(), pin) || strings.Contains(err.Error(), "S3cr3t") {
				t.Errorf("error %q repeats the PIN", err)
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
