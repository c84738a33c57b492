package pkcs11

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// PINEnv is the environment variable the PIN is read from when the key URI
// has no pin-source.
const PINEnv = "NOTATION_PKCS11_PIN"

// maxPINFile caps how much of a pin-source file is read.
const maxPINFile = 4096

// ErrNoPIN is returned when neither a pin-source nor PINEnv gives a PIN.
var ErrNoPIN = errors.New("no PIN: add pin-source=file:/absolute/path to the key URI, or set " + PINEnv)

// ErrPINSource is wrapped by every error about a pin-source file.
var ErrPINSource = errors.New("unusable pin-source file")

// PIN holds a token user PIN. Its String and GoString methods never reveal
// it, and the value sits behind a pointer, so even a struct that embeds a
// PIN in an unexported field prints an address, not the PIN.
type PIN struct{ p *string }

// NewPIN wraps a PIN value.
func NewPIN(v string) PIN {
	if v == "" {
		return PIN{}
	}
	return PIN{&v}
}

// value returns the PIN for the module; "" when empty.
func (p PIN) value() string {
	if p.p == nil {
		return ""
	}
	return *p.p
}

func (PIN) String() string   { return "[PIN redacted]" }
func (PIN) GoString() string { return "pkcs11.PIN{[redacted]}" }

// Equal reports whether two PINs are the same, in constant time.
func (p PIN) Equal(q PIN) bool {
	return subtle.ConstantTimeCompare([]byte(p.value()), []byte(q.value())) == 1
}

// Empty reports whether no PIN is set.
func (p PIN) Empty() bool { return p.value() == "" }

// ReadPIN returns the PIN for a key URI: from the URI's pin-source file, else
// from PINEnv as looked up by getenv. A pin-source file must be a regular
// file that neither group nor others can read; one trailing newline (LF or
// CRLF) is trimmed.
func ReadPIN(u *URI, getenv func(string) string) (PIN, error) {
	if u.PINSource != "" {
		return readPINFile(u.PINSource)
	}
	if v := getenv(PINEnv); v != "" {
		return NewPIN(v), nil
	}
	return PIN{}, ErrNoPIN
}

func readPINFile(path string) (PIN, error) {
	// Stat before opening: opening a FIFO with no writer would block.
	if st, err := os.Stat(path); err != nil {
		return PIN{}, fmt.Errorf("%w %s: %w", ErrPINSource, path, errors.Unwrap(err))
	} else if !st.Mode().IsRegular() {
		return PIN{}, fmt.Errorf("%w %s: not a regular file", ErrPINSource, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return PIN{}, fmt.Errorf("%w %s: %w", ErrPINSource, path, errors.Unwrap(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return PIN{}, fmt.Errorf("%w %s: %w", ErrPINSource, path, err)
	}
	if !st.Mode().IsRegular() {
		return PIN{}, fmt.Errorf("%w %s: not a regular file", ErrPINSource, path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return PIN{}, fmt.Errorf("%w %s: readable by group or others (mode %04o); run: chmod 600 %s", ErrPINSource, path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPINFile+1))
	if err != nil {
		return PIN{}, fmt.Errorf("%w %s: %w", ErrPINSource, path, err)
	}
	if len(b) > maxPINFile {
		return PIN{}, fmt.Errorf("%w %s: larger than %d bytes; it should hold only the PIN", ErrPINSource, path, maxPINFile)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return PIN{}, fmt.Errorf("%w %s: empty", ErrPINSource, path)
	}
	return NewPIN(v), nil
}
