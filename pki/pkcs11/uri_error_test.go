package pkcs11_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// wantURIError checks that err is a *URIError with the problem and
// attribute.
func wantURIError(t *testing.T, err error, p pkcs11.URIProblem, attr string) {
	t.Helper()
	var ue *pkcs11.URIError
	if !errors.As(err, &ue) || !errors.Is(err, pkcs11.ErrInvalidURI) {
		t.Fatalf("error %v, want a *URIError (ErrInvalidURI)", err)
	}
	if ue.Problem != p || ue.Attribute != attr {
		t.Errorf("error %q: problem %q, attribute %q; want %q, %q", err, ue.Problem, ue.Attribute, p, attr)
	}
}

// TestURIErrorMessages: what a person reads for each problem names the
// attribute and says what to write instead.
func TestURIErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		in    string
		words []string
	}{
		{"/etc/pkcs11/key", []string{`does not start with "pkcs11:"`, "pkcs11:token=release;object=signing-key"}},
		{"pkcs11:object", []string{`attribute "object" has no value`, "name=value"}},
		{"pkcs11:object=k;x", []string{"path attribute 2 is not name=value", "pin-source=file:/absolute/path", "NOTATION_PKCS11_PIN"}},
		{"pkcs11:object=k?pin=1234", []string{`attribute "pin" is refused`, "signingkeys.json", "pin-source=file:/absolute/path", "NOTATION_PKCS11_PIN"}},
		{"pkcs11:object=k?pin-value=1234", []string{"pin-value is refused", "plaintext", "signingkeys.json", "pin-source=file:/absolute/path", "NOTATION_PKCS11_PIN"}},
		{"pkcs11:object=k;label=x", []string{`unknown attribute "label"`, "valid here: " + "id, library-description, library-manufacturer, library-version, manufacturer, model, object, serial, slot-description, slot-id, slot-manufacturer, token, type"}},
		{"pkcs11:object=k?label=x", []string{`unknown attribute "label"`, "valid here: module-name, module-path, pin-source, pin-value"}},
		{"pkcs11:object=a;object=b", []string{`attribute "object" given twice`}},
		{"pkcs11:object=%zz", []string{`attribute "object": bad percent-encoding in "%zz"`}},
		{"pkcs11:slot-id=abc;object=k", []string{`slot-id "abc" is not a decimal number`}},
		{"pkcs11:object=k;id=", []string{"id is empty", "id=%01%02"}},
		{"pkcs11:object=k;type=public", []string{"type=public", "must name a private key", "type=private"}},
		{"pkcs11:object=k?module-path=libsofthsm2.so", []string{`module-path "libsofthsm2.so"`, "absolute path"}},
		{"pkcs11:object=k?pin-source=pin.txt", []string{"pin-source must be file:/absolute/path", "not repeated"}},
		{"pkcs11:object=k?module-name=mypkcs11", []string{"module-name is not supported", "module-path=/absolute/path"}},
		{"pkcs11:slot-id=1;serial=s;token=t;object=k", []string{"token and serial and slot-id", "keep one of them"}},
		{"pkcs11:token=release", []string{"no key selected", "object=<key label>", "id=<key CKA_ID>"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := pkcs11.ParseURI(tc.in)
			if !errors.Is(err, pkcs11.ErrInvalidURI) {
				t.Fatalf("ParseURI(%q) = %v, want ErrInvalidURI", tc.in, err)
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
