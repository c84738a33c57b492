package pkcs11_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// TestParseURINeverEchoesPINText (regression, issue 12 #5): a pin-source
// value, an attribute without a name and the value of any attribute whose
// name contains "pin" were quoted into errors, and from there into the
// audit log: pin-source=987654 and ?987654 both repeated the PIN.
func TestParseURINeverEchoesPINText(t *testing.T) {
	const pin = "987654"
	for _, tc := range []struct {
		name, in string
		problem  pkcs11.URIProblem
		attr     string // URIError.Attribute
	}{
		{"pin-source that is a PIN", "pkcs11:object=k?pin-source=" + pin, pkcs11.URIInvalidValue, "pin-source"},
		{"pin-source file: and a PIN", "pkcs11:object=k?pin-source=file:" + pin, pkcs11.URIInvalidValue, "pin-source"},
		{"pin-source with bad percent-encoding", "pkcs11:object=k?pin-source=%zz" + pin, pkcs11.URIEncoding, "pin-source"},
		{"nameless query attribute", "pkcs11:object=k?" + pin, pkcs11.URINotNameValue, ""},
		{"nameless query attribute after another", "pkcs11:object=k?module-path=/m.so&" + pin, pkcs11.URINotNameValue, ""},
		{"nameless path attribute", "pkcs11:object=k;" + pin, pkcs11.URINotNameValue, ""},
		{"nameless path attribute first", "pkcs11:" + pin + ";object=k", pkcs11.URINotNameValue, ""},
		{"empty name", "pkcs11:object=k?=" + pin, pkcs11.URINotNameValue, ""},
		{"token URI, nameless", "pkcs11:token=t?" + pin, pkcs11.URINotNameValue, ""},
		{"vendor PIN attribute", "pkcs11:object=k?x-pin-value=" + pin, pkcs11.URISecret, "x-pin-value"},
		{"vendor PIN attribute in upper case", "pkcs11:object=k?X-PIN=" + pin, pkcs11.URISecret, "x-pin"},
		{"vendor PIN attribute in the path", "pkcs11:object=k;x-user-pin=" + pin, pkcs11.URISecret, "x-user-pin"},
		{"PIN attribute with bad percent-encoding", "pkcs11:object=k?x-pin=%zz" + pin, pkcs11.URISecret, "x-pin"},
		{"password attribute", "pkcs11:object=k?x-password=" + pin, pkcs11.URISecret, "x-password"},
		{"userpin attribute", "pkcs11:object=k?UserPin=" + pin, pkcs11.URISecret, "userpin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, parse := range []func(string) (*pkcs11.URI, error){pkcs11.ParseURI, pkcs11.ParseTokenURI} {
				_, err := parse(tc.in)
				if !errors.Is(err, pkcs11.ErrInvalidURI) {
					t.Fatalf("error %v, want ErrInvalidURI", err)
				}
				if strings.Contains(err.Error(), pin) {
					t.Errorf("error %q repeats the PIN", err)
				}
				// Both parsers see the same problem: ParseTokenURI's own
				// (a key in a token URI) comes after these.
				wantURIError(t, err, tc.problem, tc.attr)
			}
		})
	}
	// Vendor attributes without a PIN-like name are still ignored.
	if u, err := pkcs11.ParseURI("pkcs11:object=k?x-vendor=1"); err != nil || u.Object != "k" {
		t.Fatalf("x-vendor attribute: %v, %v", u, err)
	}
}

// uriSecretMarker is put into every value that might be a PIN by
// uriInjectSecret; no error may contain it.
const uriSecretMarker = "Q7S3CR3T"

// uriInjectSecret puts the marker around the text of every attribute in s
// that has no name, and around the value of every attribute whose name
// contains "pin" or "pass" (pin-source, pin-value, x-pin-value, ...),
// splitting s exactly as RFC 7512 does: path and query at the first '?',
// path attributes at ';', query attributes at '&'.
func uriInjectSecret(s string) string {
	path, query, hasQuery := strings.Cut(s, "?")
	inject := func(part, sep string) string {
		attrs := strings.Split(part, sep)
		for i, a := range attrs {
			if a == "" {
				continue
			}
			k, v, ok := strings.Cut(a, "=")
			lk := strings.ToLower(k)
			switch {
			case !ok:
				attrs[i] = uriSecretMarker + a + uriSecretMarker
			case k == "" || strings.Contains(lk, "pin") || strings.Contains(lk, "pass"):
				attrs[i] = k + "=" + uriSecretMarker + v + uriSecretMarker
			}
		}
		return strings.Join(attrs, sep)
	}
	// The scheme stays as it is: "pkcs11:" followed by the first path attribute.
	scheme := ""
	if len(path) >= len("pkcs11:") && strings.EqualFold(path[:len("pkcs11:")], "pkcs11:") {
		scheme, path = path[:len("pkcs11:")], path[len("pkcs11:"):]
	}
	out := scheme + inject(path, ";")
	if hasQuery {
		out += "?" + inject(query, "&")
	}
	return out
}

func TestURIInjectSecret(t *testing.T) {
	m := uriSecretMarker
	for in, want := range map[string]string{
		"pkcs11:object=k?pin-source=/p":   "pkcs11:object=k?pin-source=" + m + "/p" + m,
		"pkcs11:object=k?987654":          "pkcs11:object=k?" + m + "987654" + m,
		"pkcs11:987654;object=k":          "pkcs11:" + m + "987654" + m + ";object=k",
		"PKCS11:object=k;x-PIN=1&a":       "PKCS11:object=k;x-PIN=" + m + "1&a" + m,
		"pkcs11:object=k?=1&x-pass=2&m=3": "pkcs11:object=k?=" + m + "1" + m + "&x-pass=" + m + "2" + m + "&m=3",
	} {
		if got := uriInjectSecret(in); got != want {
			t.Errorf("uriInjectSecret(%q) = %q, want %q", in, got, want)
		}
	}
}

// fuzzNoSecretInError is the PIN property FuzzParseURI checks on every
// input: with a marker in every value that might be a PIN, no error of
// ParseURI or ParseTokenURI contains the marker (or a part of it).
func fuzzNoSecretInError(t *testing.T, s string) {
	if strings.Contains(strings.ToUpper(s), "S3CR3T") {
		return // the input itself holds the marker somewhere harmless
	}
	in := uriInjectSecret(s)
	for _, parse := range []func(string) (*pkcs11.URI, error){pkcs11.ParseURI, pkcs11.ParseTokenURI} {
		if _, err := parse(in); err != nil && strings.Contains(strings.ToUpper(err.Error()), "S3CR3T") {
			t.Fatalf("the error for %q repeats a value that may be a PIN: %v", in, err)
		}
	}
}

// FuzzParseURI: no panic; errors wrap ErrInvalidURI and never repeat a
// value that may be a PIN (fuzzNoSecretInError); what parses is valid and
// round-trips through String.
func FuzzParseURI(f *testing.F) {
	for _, tc := range uriParseCases() {
		f.Add(tc.in)
	}
	for _, s := range []string{
		"", "pkcs11:", "pkcs11:object=k?pin-value=1234", "pkcs11:id=%", "pkcs11:slot-id=99999999999;object=k",
		"pkcs11:object=k?pin-source=file://x", "pkcs11:object=k;object=k", "pkcs11:token=a;serial=b;object=c",
		"pkcs11:object=%00?module-path=/%00", "pkcs11:object=k?pin-source=file:////a/../../b",
		"pkcs11:object=k?987654", "pkcs11:987654", "pkcs11:object=k?pin-source=987654", "pkcs11:object=k?x-pin-value=1",
		"pkcs11:object=k?pin-source=%zz", "pkcs11:object=k?=1", "pkcs11:token=t;x-PIN=%41",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fuzzNoSecretInError(t, s)
		u, err := pkcs11.ParseURI(s)
		if err != nil {
			var ue *pkcs11.URIError
			if !errors.Is(err, pkcs11.ErrInvalidURI) || !errors.As(err, &ue) || ue.Problem == "" {
				t.Fatalf("error %v is not a *URIError with a problem (ErrInvalidURI)", err)
			}
			return
		}
		if u.Object == "" && len(u.ID) == 0 {
			t.Fatalf("accepted %q without a key selector", s)
		}
		if u.Type != "" && u.Type != "private" {
			t.Fatalf("accepted type %q", u.Type)
		}
		if u.PINSource != "" && !strings.HasPrefix(u.PINSource, "/") {
			t.Fatalf("accepted relative pin-source %q", u.PINSource)
		}
		if u.ModulePath != "" && !strings.HasPrefix(u.ModulePath, "/") {
			t.Fatalf("accepted relative module-path %q", u.ModulePath)
		}
		n := 0
		for _, set := range []bool{u.Token != "", u.Serial != "", u.SlotID != nil} {
			if set {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("accepted %d token selectors in %q", n, s)
		}
		for _, name := range uriAttributeNames(s) {
			if name == "pin-value" {
				t.Fatalf("accepted a pin-value in %q", s)
			}
		}
		if u.KeyDescription() == "" {
			t.Fatalf("empty KeyDescription for %q", s)
		}
		uriAssertRoundTrip(t, u)
	})
}
