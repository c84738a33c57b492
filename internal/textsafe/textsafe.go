package textsafe

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Unsafe reports whether r must not reach a terminal as is: C0 and C1
// controls, DEL, bidirectional formatting controls, line and paragraph
// separators, other invisible format characters, and U+FFFD (which stands
// for bytes that were not UTF-8).
func Unsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case unicode.Is(unicode.Bidi_Control, r), unicode.Is(unicode.Cf, r):
		return true
	case r == '\u2028', r == '\u2029', r == utf8.RuneError:
		return true
	}
	return false
}

// Has reports whether s holds any rune that [Escape] would change.
func Has(s string) bool {
	return strings.IndexFunc(s, Unsafe) >= 0 || !utf8.ValidString(s)
}

// Escape returns s with every unsafe rune, including newline and tab,
// written as a Go-style escape (\n, \t, \x1b, \u202e) and bytes that are
// not UTF-8 as \xNN. Use it for one-line fields: names, digests, URLs,
// annotation values.
func Escape(s string) string { return escape(s, false) }

// EscapeLines is [Escape] that keeps newlines and tabs, for blocks of text
// that are meant to span lines.
func EscapeLines(s string) string { return escape(s, true) }

func escape(s string, keepLines bool) string {
	if !Has(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keepLines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case Unsafe(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case Unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Error returns err unchanged when its message is safe, else an error whose
// message is escaped and which still wraps err for errors.Is and errors.As.
func Error(err error) error {
	if err == nil || !Has(err.Error()) {
		return err
	}
	return &escapedError{msg: Escape(err.Error()), err: err}
}

type escapedError struct {
	msg string
	err error
}

func (e *escapedError) Error() string { return e.msg }
func (e *escapedError) Unwrap() error { return e.err }
