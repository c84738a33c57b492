package pki

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

func TestParseSubject(t *testing.T) {
	cases := []struct {
		in      string
		want    string // pkix.Name.String() on success
		wantErr string
	}{
		{in: "C=US,ST=WA,O=Acme,CN=Release Signing", want: "CN=Release Signing,O=Acme,ST=WA,C=US"},
		{in: "CN=Release Signing, O=Acme, ST=WA, C=US", want: "CN=Release Signing,O=Acme,ST=WA,C=US"},
		{in: "C=US,S=WA,L=Seattle,O=Acme\\, Inc.,OU=Build,CN=x", want: "CN=x,OU=Build,O=Acme\\, Inc.,L=Seattle,ST=WA,C=US"},
		{in: "c=US,st=WA,o=Acme", want: "O=Acme,ST=WA,C=US"},
		{in: "C=US,ST=WA,O=Acme,SERIALNUMBER=42", want: "SERIALNUMBER=42,O=Acme,ST=WA,C=US"},
		{in: "", wantErr: "empty"},
		{in: "C=US,O=Acme", wantErr: "ST missing"},
		{in: "CN=only", wantErr: "C, ST, O missing"},
		{in: "C=US,ST=WA,O=Acme+OU=Build", wantErr: "multi-valued"},
		{in: "C=US,ST=WA,O=Acme,O=Other", wantErr: "O is given twice"},
		{in: "C=US,ST=WA,S=OR,O=Acme", wantErr: "ST is given twice"},
		{in: "C=USA,ST=WA,O=Acme", wantErr: "longer than 2"},
		{in: "C=us,ST=WA,O=Acme", wantErr: "two-letter"},
		{in: "C=US,ST=WA,O=", wantErr: "O is empty"},
		{in: "C=US,ST=WA,O=Acme,E=a@b.c", wantErr: `"E" is not supported`},
		{in: "C=US,ST=WA,O=#0403616263", wantErr: "hex-encoded"},
		{in: "C=US,ST=WA,O=Acme,CN=" + strings.Repeat("x", 65), wantErr: "longer than 64"},
		{in: "C=US;ST", wantErr: "does not parse"},
		{in: strings.Repeat("C=US,", 300), wantErr: "longer than 1024"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			name, err := ParseSubject(c.in)
			if c.wantErr != "" {
				if err == nil || !errors.Is(err, ErrSubject) || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("ParseSubject(%q) = %v, want an ErrSubject containing %q", c.in, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSubject(%q): %v", c.in, err)
			}
			if got := name.String(); got != c.want {
				t.Fatalf("ParseSubject(%q) = %q, want %q", c.in, got, c.want)
			}
			// The verifier's rule can name every subject ParseSubject accepts.
			if id, err := trustpolicy.IdentityFor(&x509.Certificate{Subject: name}); err != nil || !strings.HasPrefix(id, "x509.subject: ") {
				t.Fatalf("no trusted identity for %q: %q, %v", name, id, err)
			}
		})
	}
}

// FuzzParseSubject: never a panic; an accepted subject has C, ST and O,
// and its RFC 4514 form parses back to the same name.
func FuzzParseSubject(f *testing.F) {
	for _, s := range []string{"C=US,ST=WA,O=Acme,CN=Release Signing", "C=US,ST=WA,O=a\\,b", "C=US+ST=WA,O=x", "CN=#00", "O=\\41", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := ParseSubject(s)
		if err != nil {
			if !errors.Is(err, ErrSubject) {
				t.Fatalf("error without ErrSubject: %v", err)
			}
			return
		}
		if len(name.Country) != 1 || len(name.Province) != 1 || len(name.Organization) != 1 {
			t.Fatalf("accepted %q without C, ST and O: %+v", s, name)
		}
		back, err := ParseSubject(name.String())
		if err != nil {
			t.Fatalf("%q accepted but its form %q is refused: %v", s, name.String(), err)
		}
		if back.String() != name.String() {
			t.Fatalf("%q: %q != %q", s, back.String(), name.String())
		}
	})
}
