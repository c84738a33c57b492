package ratifyverifier

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// evil holds a terminal escape (ESC), a right-to-left override (U+202E),
// a newline and a C1 control: none may reach Ratify's output raw, and the
// message stays one line.
const evil = "blob\x1b[2J\u202eunknown\nVERIFIED\u0085"

// evilEscaped is evil as textsafe.Escape writes it.
const evilEscaped = `blob\x1b[2J\u202eunknown\nVERIFIED\x85`

// TestMessagesEscapeControlCharacters: text from outside (here a registry
// error) is escaped, not dropped, in the message and extensions.error, and
// the JSON line holds no control or bidirectional character.
func TestMessagesEscapeControlCharacters(t *testing.T) {
	f := newFixture(t, "application/cose")
	f.failBlobs(evil)
	resp, perr := runWith(t, f, f.config("strict", nil))
	if perr != nil {
		t.Fatal(perr)
	}
	if !strings.Contains(resp.Message, evilEscaped) || resp.Extensions.Error != resp.Message {
		t.Fatalf("message %q, error %q: want %q escaped in both", resp.Message, resp.Extensions.Error, evilEscaped)
	}
	assertSafeLine(t, resp)
}

// TestMarshalEscapes: Marshal escapes what a caller put in Message, and
// writes unsafe runes elsewhere (certificate text in extensions.result) as
// JSON escapes that decode to the same text.
func TestMarshalEscapes(t *testing.T) {
	subject := "CN=signer\u202eexe.txt,O=\x1b[31mExample"
	resp := &Response{Name: "np", Message: evil, Extensions: &Extensions{
		Verdict: trustpolicy.VerdictFailed,
		Result:  &trustpolicy.Result{Verdict: trustpolicy.VerdictFailed, Chain: []trustpolicy.CertInfo{{Role: "leaf", Subject: subject}}},
	}}
	line := assertSafeLine(t, resp)
	var back Response
	if err := json.Unmarshal(line, &back); err != nil {
		t.Fatal(err)
	}
	if back.Message != evilEscaped {
		t.Errorf("message %q, want %q", back.Message, evilEscaped)
	}
	if got := back.Extensions.Result.Chain[0].Subject; got != subject {
		t.Errorf("result subject %q, want %q unchanged after decoding", got, subject)
	}
	if resp.Message != evil {
		t.Error("Marshal changed the response")
	}
	pe := &ProtocolError{Code: CodeInternal, Msg: evil}
	b := pe.Marshal()
	var e ProtocolError
	if bytes.Count(b, []byte("\n")) != 1 || textsafe.Has(strings.TrimSuffix(string(b), "\n")) || json.Unmarshal(b, &e) != nil || e.Msg != evilEscaped {
		t.Errorf("ProtocolError.Marshal gave %q", b)
	}
}

// assertSafeLine marshals resp and checks it is one line of JSON with no
// rune textsafe calls unsafe.
func assertSafeLine(t *testing.T, resp *Response) []byte {
	t.Helper()
	line, err := resp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(line, []byte("\n")) != 1 || !bytes.HasSuffix(line, []byte("\n")) || !json.Valid(line) {
		t.Fatalf("not one line of JSON: %q", line)
	}
	if textsafe.Has(strings.TrimSuffix(string(line), "\n")) {
		t.Fatalf("control or bidirectional character in %q", line)
	}
	return line
}
