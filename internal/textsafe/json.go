package textsafe

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// EscapeJSON returns encoded JSON with every rune that [Unsafe] names
// written as a \uXXXX escape (a surrogate pair above U+FFFF), so the
// document decodes to the same values and never reaches a terminal raw.
// encoding/json escapes C0 controls, but leaves DEL, C1 controls,
// bidirectional and other format characters as they are.
//
// b must be JSON as encoding/json writes it: an unsafe rune can then only
// occur inside a string, where the escape means the same rune. Newlines are
// kept, because encoding/json writes them only between values (indented
// output) and always escapes them inside strings. Bytes that are not UTF-8
// become \ufffd, as encoding/json decodes them anyway. b is not modified;
// when it holds nothing to escape, it is returned as is.
func EscapeJSON(b []byte) []byte {
	if !hasJSONUnsafe(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == '\n' || !Unsafe(r):
			out = append(out, b[i:i+size]...)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += size
	}
	return out
}

// hasJSONUnsafe reports whether EscapeJSON would change b.
func hasJSONUnsafe(b []byte) bool {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r != '\n' && Unsafe(r) {
			return true
		}
		i += size
	}
	return false
}
