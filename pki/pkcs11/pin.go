package pkcs11

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
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

// ReadPIN returns the PIN for a key URI: from the URI's pin-source file
// (see [PINFileError] for what the file must be), else from PINEnv as looked
// up by getenv. One trailing newline (LF or CRLF) of a file is trimmed.
//
// A PIN taken from PINEnv is also removed from the process environment
// (os.Unsetenv), so that the PKCS#11 module, and any process it starts, do
// not inherit it: call ReadPIN before the module loads. Callers that need
// the PIN again must keep it (or capture the variable first, as
// plugin.New does).
func ReadPIN(u *URI, getenv func(string) string) (PIN, error) {
	if u.PINSource != "" {
		return readPINFile(u.PINSource)
	}
	if v := getenv(PINEnv); v != "" {
		_ = os.Unsetenv(PINEnv)
		return NewPIN(v), nil
	}
	return PIN{}, ErrNoPIN
}

// TakePINEnv reads PINEnv from the process environment and removes it from
// the environment, so that a PKCS#11 module loaded afterwards, and the
// processes it starts, do not inherit the PIN. It returns "" when the
// variable is not set.
func TakePINEnv() string {
	v := os.Getenv(PINEnv)
	_ = os.Unsetenv(PINEnv)
	return v
}

// FileProblem says why a file is refused: a pin-source file
// (PINFileError) here; package plugin uses it for the audit log and the
// certificate_chain file too.
type FileProblem string

// The file problems.
const (
	// FileOpen: the file cannot be opened or read; the error wraps the
	// cause (fs.ErrNotExist, fs.ErrPermission, syscall.EISDIR, ...).
	FileOpen FileProblem = "open"
	// FileSymlink: a symbolic link where the file itself must be named.
	FileSymlink FileProblem = "symlink"
	// FileNotRegular: a FIFO, device, socket or folder.
	FileNotRegular FileProblem = "notRegular"
	// FileOwner: owned by another user than the effective one (its mode
	// may be wrong too; the fix repairs both).
	FileOwner FileProblem = "owner"
	// FileMode: group or others have permission bits on it.
	FileMode FileProblem = "mode"
	// FileTooLarge: larger than the file can sensibly be.
	FileTooLarge FileProblem = "tooLarge"
	// FileEmpty: the file holds nothing.
	FileEmpty FileProblem = "empty"
)

// PINFileError says why a pin-source file is refused, and how to fix it.
// It wraps ErrPINSource (and the file-system error, if any). The file must
// be a regular file (not a symbolic link, FIFO or device) owned by the
// effective user, with no permission bits for group or others.
type PINFileError struct {
	Path    string      // the pin-source path
	Problem FileProblem // what is wrong, for code
	Reason  string      // what is wrong, for people, e.g. "readable by group or others (mode 0640)"
	Err     error       // the file-system error, or nil
	fix     string
}

func (e *PINFileError) Error() string {
	return fmt.Sprintf("%s %s: %s", ErrPINSource, e.Path, e.Reason)
}

func (e *PINFileError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrPINSource, e.Err}
	}
	return []error{ErrPINSource}
}

// Fix returns the shell command that makes the file acceptable, exactly as
// it is to be run (e.g. "chmod 600 /etc/notation/pin"), or "" when no
// command does (a missing file, a symbolic link, a FIFO).
func (e *PINFileError) Fix() string { return e.fix }

func pinFileError(path string, p FileProblem, reason string, err error, fix string) error {
	return &PINFileError{Path: path, Problem: p, Reason: reason, Err: err, fix: fix}
}

// readPINFile opens the file first and checks what it opened, so that
// nothing can be swapped in between a check and the open: O_NOFOLLOW
// refuses a symbolic link, O_NONBLOCK makes opening a FIFO return at once
// (the type check then refuses it) instead of waiting for a writer.
func readPINFile(path string) (PIN, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		cause := errors.Unwrap(err)
		if cause == nil {
			cause = err
		}
		if errors.Is(err, unix.ELOOP) {
			return PIN{}, pinFileError(path, FileSymlink, "is a symbolic link, which is refused (what it points to could be swapped); name the file itself in pin-source", cause, "")
		}
		return PIN{}, pinFileError(path, FileOpen, cause.Error(), cause, "")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return PIN{}, pinFileError(path, FileOpen, err.Error(), err, "")
	}
	if !st.Mode().IsRegular() {
		return PIN{}, pinFileError(path, FileNotRegular, fmt.Sprintf("not a regular file (%s)", FileKind(st.Mode())), nil, "")
	}
	if err := checkPrivateFile(path, st); err != nil {
		return PIN{}, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPINFile+1))
	if err != nil {
		return PIN{}, pinFileError(path, FileOpen, err.Error(), err, "")
	}
	if len(b) > maxPINFile {
		return PIN{}, pinFileError(path, FileTooLarge, fmt.Sprintf("larger than %d bytes; it should hold only the PIN", maxPINFile), nil, "")
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return PIN{}, pinFileError(path, FileEmpty, "empty", nil, "")
	}
	return NewPIN(v), nil
}

// checkPrivateFile refuses a file that is not owned by the effective user
// or that group or others have any permission on; the error's Fix runs the
// chown and chmod that repair both.
func checkPrivateFile(path string, st os.FileInfo) error {
	euid := os.Geteuid()
	var reasons, fixes []string
	var problem FileProblem
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != euid {
		reasons = append(reasons, fmt.Sprintf("owned by uid %d, not by the user reading it (uid %d)", sys.Uid, euid))
		fixes = append(fixes, chownCommand(euid, path))
		problem = FileOwner
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		reasons = append(reasons, fmt.Sprintf("readable by group or others (mode %04o)", perm))
		fixes = append(fixes, "chmod 600 "+shellQuote(path))
		if problem == "" {
			problem = FileMode
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	return pinFileError(path, problem, strings.Join(reasons, " and "), nil, strings.Join(fixes, " && "))
}

// chownCommand is the command that gives path to uid: plain chown for root,
// through sudo for anyone else (only root may give a file away).
func chownCommand(uid int, path string) string {
	c := fmt.Sprintf("chown %d %s", uid, shellQuote(path))
	if os.Geteuid() != 0 {
		c = "sudo " + c
	}
	return c
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=+,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// FileKind names what a file that is not a regular one is: "a directory",
// "a FIFO", "a socket", "a device", or the mode's type letters.
func FileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}
