package textsafe

import (
	"errors"
	"io/fs"
	"testing"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, one, lines string }{
		{"CN=Release Signing,O=Acme", "CN=Release Signing,O=Acme", "CN=Release Signing,O=Acme"},
		{"CN=x\x1b[2K\rVERIFIED", `CN=x\x1b[2K\rVERIFIED`, `CN=x\x1b[2K\rVERIFIED`},
		{"a\nb\tc", `a\nb\tc`, "a\nb\tc"},
		{"evil\u202egnp.exe", `evil\u202egnp.exe`, `evil\u202egnp.exe`},
		{"zero\u200bwidth", `zero\u200bwidth`, `zero\u200bwidth`},
		{"c1\u009bcsi", `c1\x9bcsi`, `c1\x9bcsi`},
		{"del\x7f", `del\x7f`, `del\x7f`},
		{"bad\xffutf8", `bad\xffutf8`, `bad\xffutf8`},
		{"sep\u2028line", `sep\u2028line`, `sep\u2028line`},
		{"Müller, 東京", "Müller, 東京", "Müller, 東京"},
	} {
		if got := Escape(tc.in); got != tc.one {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.one)
		}
		if got := EscapeLines(tc.in); got != tc.lines {
			t.Errorf("EscapeLines(%q) = %q, want %q", tc.in, got, tc.lines)
		}
		if Has(Escape(tc.in)) {
			t.Errorf("Escape(%q) still has unsafe runes", tc.in)
		}
	}
}

func TestError(t *testing.T) {
	if Error(nil) != nil {
		t.Fatal("Error(nil) != nil")
	}
	safe := errors.New("plain")
	if Error(safe) != safe {
		t.Fatal("a safe error was wrapped")
	}
	err := Error(&fs.PathError{Op: "open", Path: "x\x1b[31m", Err: fs.ErrNotExist})
	if err.Error() != `open x\x1b[31m: file does not exist` {
		t.Fatalf("message %q", err.Error())
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("the escaped error does not wrap its cause")
	}
}

func FuzzEscape(f *testing.F) {
	f.Add("CN=x\x1b[2K\rVERIFIED")
	f.Add("\u202e\xff")
	f.Fuzz(func(t *testing.T, s string) {
		if Has(Escape(s)) || Has(EscapeLines(s)) && !onlyLines(EscapeLines(s)) {
			t.Fatalf("unsafe output for %q", s)
		}
	})
}

func onlyLines(s string) bool {
	for _, r := range s {
		if Unsafe(r) && r != '\n' && r != '\t' {
			return false
		}
	}
	return true
}
