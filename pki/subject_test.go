package pki

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSubject(t *testing.T) {
	const identity, profile = "identity", "profile"
	cases := []struct {
		in   string
		want string // pkix.Name.String() on success
		rule string // identity or profile: which rule refuses it
		attr string // the attribute the error names, "" for none
	}{
		{in: "C=US,ST=WA,O=Acme,CN=Release Signing", want: "CN=Release Signing,O=Acme,ST=WA,C=US"},
		{in: "CN=Release Signing, O=Acme, ST=WA, C=US", want: "CN=Release Signing,O=Acme,ST=WA,C=US"},
		{in: "C=US,S=WA,L=Seattle,O=Acme\\, Inc.,OU=Build,CN=x", want: "CN=x,OU=Build,O=Acme\\, Inc.,L=Seattle,ST=WA,C=US"},
		{in: "C=US;ST=WA;O=Acme", want: "O=Acme,ST=WA,C=US"},
		{in: "C=US,ST=WA,O=Acme,SERIALNUMBER=42", want: "SERIALNUMBER=42,O=Acme,ST=WA,C=US"},
		{in: "C=,C=US,ST=WA,O=Acme", want: "O=Acme,ST=WA,C=US"}, // notation: a later value replaces an empty one
		// Notation's DN parser refuses these: no identity could name them.
		{in: "c=US,st=WA,o=Acme", rule: identity, attr: "c"},
		{in: "C=US,st=WA,O=Acme", rule: identity, attr: "st"},
		{in: "", rule: identity},
		{in: "C=US,O=Acme", rule: identity},
		{in: "CN=only", rule: identity},
		{in: "C=US,ST=WA,O=Acme+OU=Build", rule: identity},
		{in: "C=US,ST=WA,O=Acme,O=Other", rule: identity},
		{in: "C=US,ST=WA,S=OR,O=Acme", rule: identity},
		{in: "C=US,ST=WA,O=", rule: identity},
		{in: "C=US,ST=WA,O=#0403616263", rule: identity},
		{in: "C=US;ST", rule: identity},
		// The request profile refuses these.
		{in: "C=USA,ST=WA,O=Acme", rule: profile, attr: "C"},
		{in: "C=us,ST=WA,O=Acme", rule: profile, attr: "C"},
		{in: "C=US,ST=WA,O=Acme,OU=", rule: profile, attr: "OU"},
		{in: "C=US,ST=WA,O=Acme,E=a@b.c", rule: profile, attr: "E"},
		{in: "C=US,ST=WA,O=Acme,cn=x", rule: profile, attr: "cn"},
		{in: "C=US,ST=WA,O=Acme,CN=" + strings.Repeat("x", 65), rule: profile, attr: "CN"},
		{in: strings.Repeat("C=US,", 300), rule: profile},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			name, err := ParseSubject(c.in)
			if c.rule != "" {
				var se *SubjectError
				if !errors.As(err, &se) || !errors.Is(err, ErrSubject) {
					t.Fatalf("ParseSubject(%q) = %v, want a *SubjectError", c.in, err)
				}
				if se.Identity != (c.rule == identity) || errors.Is(err, ErrSubjectIdentity) != se.Identity {
					t.Errorf("ParseSubject(%q): identity %v, want the %s rule: %v", c.in, se.Identity, c.rule, err)
				}
				if se.Attribute != c.attr || se.Subject != c.in {
					t.Errorf("ParseSubject(%q): attribute %q of %q, want %q: %v", c.in, se.Attribute, se.Subject, c.attr, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSubject(%q): %v", c.in, err)
			}
			if got := name.String(); got != c.want {
				t.Fatalf("ParseSubject(%q) = %q, want %q", c.in, got, c.want)
			}
			if id, err := SubjectIdentity(name); err != nil || !strings.HasPrefix(id, "x509.subject: ") {
				t.Fatalf("no trusted identity for %q: %q, %v", name, id, err)
			}
		})
	}
}

// FuzzParseSubject: never a panic; an accepted subject has C, ST and O,
// and its RFC 4514 form parses back to the same name.
func FuzzParseSubject(f *testing.F) {
	for _, s := range []string{"C=US,ST=WA,O=Acme,CN=Release Signing", "C=US,ST=WA,O=a\\,b", "C=US+ST=WA,O=x", "CN=#00", "O=\\41", "", "c=US,st=WA,o=x"} {
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
