package textsafe

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestEscapeJSON(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a":"plain","n":1}`, `{"a":"plain","n":1}`},
		{"{\n  \"a\": \"x\"\n}\n", "{\n  \"a\": \"x\"\n}\n"},
		{`"evil` + "\u202e" + `gnp.exe"`, `"evil\u202egnp.exe"`},
		{`"del` + "\x7f" + `c1` + "\u0085" + `"`, `"del\u007fc1\u0085"`},
		{`"zero` + "\u200b" + `width` + "\u2028" + `"`, `"zero\u200bwidth\u2028"`},
		{`"tag` + "\U000E0001" + `"`, `"tag\udb40\udc01"`},
		{`"bad` + "\xff" + `"`, `"bad\ufffd"`},
		{`"Müller, 東京"`, `"Müller, 東京"`},
	} {
		got := EscapeJSON([]byte(tc.in))
		if string(got) != tc.want {
			t.Errorf("EscapeJSON(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if Has(string(bytes.ReplaceAll(got, []byte("\n"), nil))) {
			t.Errorf("EscapeJSON(%q) still has unsafe runes: %q", tc.in, got)
		}
	}
}

// TestEscapeJSONRoundTrip: what encoding/json writes decodes to the same
// value after escaping, and nothing unsafe is left but structural newlines.
func TestEscapeJSONRoundTrip(t *testing.T) {
	v := map[string]string{"subject": "CN=signer\u202eexe.txt,O=\x1b[31mExample\u0085\u00ad\U000E0001\x7f", "plain": "ok"}
	for _, indent := range []bool{false, true} {
		var b []byte
		var err error
		if indent {
			b, err = json.MarshalIndent(v, "", "  ")
		} else {
			b, err = json.Marshal(v)
		}
		if err != nil {
			t.Fatal(err)
		}
		esc := EscapeJSON(b)
		if Has(string(bytes.ReplaceAll(esc, []byte("\n"), nil))) {
			t.Fatalf("unsafe rune left in %q", esc)
		}
		var back map[string]string
		if err := json.Unmarshal(esc, &back); err != nil {
			t.Fatal(err)
		}
		if back["subject"] != v["subject"] || back["plain"] != "ok" {
			t.Errorf("decoded %q, want %q", back, v)
		}
	}
	clean := []byte(`{"a":"b"}`)
	if got := EscapeJSON(clean); &got[0] != &clean[0] {
		t.Error("a document with nothing to escape was copied")
	}
}
