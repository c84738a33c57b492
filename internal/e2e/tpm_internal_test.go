//go:build unix

package e2e

import (
	"bytes"
	"testing"
)

func TestParsePtoolID(t *testing.T) {
	for _, c := range []struct {
		out  string
		want []byte
		ok   bool
	}{
		{"action: add\nprivate:\n  CKA_ID: '6339'\npublic:\n  CKA_ID: '6339'\n", []byte("c9"), true},
		{"action: add\nprivate:\n  CKA_ID: \"0a0b\"\n", []byte{0x0a, 0x0b}, true},
		{"action: add\npublic:\n  CKA_ID: '6339'\n", nil, false},
		{"private:\n  CKA_ID: 'zz'\n", nil, false},
		{"private:\n  CKA_ID: ''\n", nil, false},
		{"", nil, false},
	} {
		got, err := parsePtoolID(c.out)
		if (err == nil) != c.ok || !bytes.Equal(got, c.want) {
			t.Errorf("parsePtoolID(%q) = %x, %v; want %x, ok %v", c.out, got, err, c.want, c.ok)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, c := range []struct {
		s       string
		secrets []string
		want    string
	}{
		{"--userpin=p1 --sopin=so-p1", []string{"so-p1", "p1"}, "--userpin=*** --sopin=***"},
		{"--userpin=p1 --sopin=so-p1", []string{"p1", "so-p1"}, "--userpin=*** --sopin=***"},
		{"nothing here", []string{"", "x1"}, "nothing here"},
		{"", nil, ""},
	} {
		if got := redact(c.s, c.secrets); got != c.want {
			t.Errorf("redact(%q) = %q, want %q", c.s, got, c.want)
		}
	}
}

func TestParseCurves(t *testing.T) {
	got := parseCurves("TPM2_ECC_NIST_P256: 0x3\nTPM2_ECC_NIST_P384: 0x4\n\n")
	if len(got) != 2 || got[0] != "TPM2_ECC_NIST_P256" || got[1] != "TPM2_ECC_NIST_P384" {
		t.Fatalf("parseCurves = %q", got)
	}
}
