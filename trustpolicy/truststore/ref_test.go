package truststore

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	valid := map[string]Ref{
		"ca:acme":                  {TypeCA, "acme"},
		"signingAuthority:a_b.c-1": {TypeSigningAuthority, "a_b.c-1"},
		"tsa:test-timestamp":       {TypeTSA, "test-timestamp"},
		"ca:.":                     {TypeCA, "."},
		"ca:..":                    {TypeCA, ".."},
		"ca:UPPER":                 {TypeCA, "UPPER"},
	}
	for s, want := range valid {
		got, err := ParseRef(s)
		if err != nil || got != want {
			t.Errorf("ParseRef(%q) = %v, %v; want %v", s, got, err, want)
		}
		if got.String() != s {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), s)
		}
	}
	invalid := map[string]string{
		"ca":                     "missing the ':' separator",
		"":                       "missing the ':' separator",
		"ca:":                    "invalid name",
		"ca:#@$@$":               "invalid name",
		"ca:a:b":                 "invalid name",
		"ca:a b":                 "invalid name",
		"ca:a/b":                 "invalid name",
		"ca:acme\n":              "invalid name",
		"CA:acme":                "unsupported type",
		"signingauthority:acme":  "unsupported type",
		"invalid:x":              "unsupported type",
		":acme":                  "unsupported type",
		" ca:acme":               "unsupported type",
		"x509.signingAuthority:": "unsupported type",
	}
	for s, words := range invalid {
		_, err := ParseRef(s)
		if err == nil {
			t.Errorf("ParseRef(%q) succeeded, want an error", s)
			continue
		}
		if !errors.Is(err, ErrInvalidRef) {
			t.Errorf("ParseRef(%q) error %v does not wrap ErrInvalidRef", s, err)
		}
		if !strings.Contains(err.Error(), words) {
			t.Errorf("ParseRef(%q) error %q does not say %q", s, err, words)
		}
		if strings.Contains(words, "type") && !strings.Contains(err.Error(), "ca, signingAuthority or tsa") {
			t.Errorf("ParseRef(%q) error %q does not say what is valid", s, err)
		}
	}
}

// TestValidNameMatchesNotation checks ValidName against notation-go's
// regular expression on random strings.
func TestValidNameMatchesNotation(t *testing.T) {
	re := regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	alphabet := []rune("aZ09_.-/\\: \n\t#é\x00+")
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		n := r.IntN(6)
		var b strings.Builder
		for j := 0; j < n; j++ {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		s := b.String()
		if ValidName(s) != re.MatchString(s) {
			t.Fatalf("ValidName(%q) = %v, notation's pattern says %v", s, ValidName(s), re.MatchString(s))
		}
	}
}

func TestTypes(t *testing.T) {
	for _, typ := range Types() {
		if !typ.Valid() {
			t.Errorf("%q not valid", typ)
		}
	}
	for _, typ := range []Type{"", "CA", "Tsa", "signingauthority", "x509"} {
		if typ.Valid() {
			t.Errorf("%q valid", typ)
		}
	}
}
