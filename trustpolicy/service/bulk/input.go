package bulk

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
)

// Input is one artifact to verify.
type Input struct {
	// Reference is the artifact as given: REGISTRY/REPOSITORY:TAG,
	// REGISTRY/REPOSITORY@DIGEST or oci-layout:PATH[@DIGEST|:TAG].
	Reference string `json:"reference"`
	// Source says where it came from, for messages: "FILE:LINE",
	// "argument 2", "tag v1 of REGISTRY/REPOSITORY".
	Source string `json:"source,omitempty"`
}

// ErrBadInput is wrapped by every error about the list of inputs itself.
var ErrBadInput = errors.New("bad input")

// LineError is a line of a reference list that is not a reference.
type LineError struct {
	// Name is the list's name (its file, or "stdin"), Line its 1-based
	// line number.
	Name string
	Line int
	// Text is the line, trimmed.
	Text string
	Err  error
}

func (e *LineError) Error() string {
	return textsafe.Escape(fmt.Sprintf("%s:%d: %q: %v", e.Name, e.Line, e.Text, e.Err))
}

// Unwrap returns the underlying error and ErrBadInput.
func (e *LineError) Unwrap() []error { return []error{e.Err, ErrBadInput} }

// MaxLineBytes caps one line of a reference list.
const MaxLineBytes = 64 << 10

// ReadList reads a reference list from r: one reference per line, with
// surrounding white space trimmed; blank lines and lines whose first
// non-blank character is # are skipped. Each reference is checked with
// check (nil: none); the first bad line ends the reading with a
// *LineError naming name and the line. Inputs carry "name:LINE" as their
// Source.
func ReadList(r io.Reader, name string, check func(ref string) error) ([]Input, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineBytes)
	var out []Input
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if strings.ContainsAny(text, " \t") {
			return nil, &LineError{Name: name, Line: line, Text: text, Err: errors.New("one reference per line, without spaces")}
		}
		if check != nil {
			if err := check(text); err != nil {
				return nil, &LineError{Name: name, Line: line, Text: text, Err: err}
			}
		}
		out = append(out, Input{Reference: text, Source: fmt.Sprintf("%s:%d", name, line)})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &LineError{Name: name, Line: line + 1, Text: "", Err: fmt.Errorf("line longer than %d bytes", MaxLineBytes)}
		}
		return nil, fmt.Errorf("%w: reading %s: %w", ErrBadInput, name, err)
	}
	return out, nil
}
