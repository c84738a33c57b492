package pkcs11

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pinEnv is a getenv that knows only the given variables and records what
// was asked.
type pinEnv struct {
	vars  map[string]string
	asked []string
}

func (e *pinEnv) get(k string) string {
	e.asked = append(e.asked, k)
	return e.vars[k]
}

// pinWriteFile writes a pin-source file with the given mode (chmod'ed after
// creation so the umask does not interfere).
func pinWriteFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadPINFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name, value, want string
	}{
		{"plain", "4711", "4711"},
		{"kept verbatim, spaces and newline included", " 47 11\n", " 47 11\n"},
		{"non-ASCII", "pässwörd", "pässwörd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := &pinEnv{vars: map[string]string{PINEnv: tc.value}}
			pin, err := ReadPIN(&URI{Object: "k"}, env.get)
			if err != nil {
				t.Fatalf("ReadPIN: %v", err)
			}
			if pin.value() != tc.want || pin.Empty() {
				t.Errorf("PIN = %q, want %q", pin.value(), tc.want)
			}
			if len(env.asked) != 1 || env.asked[0] != "NOTATION_PKCS11_PIN" {
				t.Errorf("getenv asked for %v, want [NOTATION_PKCS11_PIN]", env.asked)
			}
		})
	}
}

func TestReadPINNoPIN(t *testing.T) {
	for _, vars := range []map[string]string{nil, {PINEnv: ""}, {"NOTATION_PKCS11_PIN_FILE": "/p", "PIN": "1"}} {
		env := &pinEnv{vars: vars}
		pin, err := ReadPIN(&URI{Object: "k"}, env.get)
		if !errors.Is(err, ErrNoPIN) {
			t.Fatalf("vars %v: ReadPIN = %v, %v; want ErrNoPIN", vars, pin, err)
		}
		if !pin.Empty() {
			t.Errorf("vars %v: non-empty PIN with ErrNoPIN", vars)
		}
	}
	// The message names both ways of giving a PIN.
	for _, w := range []string{"no PIN", "pin-source=file:/absolute/path", "NOTATION_PKCS11_PIN"} {
		if !strings.Contains(ErrNoPIN.Error(), w) {
			t.Errorf("ErrNoPIN %q does not contain %q", ErrNoPIN, w)
		}
	}
	if PINEnv != "NOTATION_PKCS11_PIN" {
		t.Errorf("PINEnv = %q", PINEnv)
	}
}

func TestReadPINFromFile(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("7", maxPINFile)
	for _, tc := range []struct {
		name    string
		content string
		mode    os.FileMode
		want    string
	}{
		{"0600 with LF", "4711\n", 0o600, "4711"},
		{"0600 with CRLF", "4711\r\n", 0o600, "4711"},
		{"no trailing newline", "4711", 0o600, "4711"},
		{"owner read-only 0400", "4711\n", 0o400, "4711"},
		{"owner rwx 0700", "4711\n", 0o700, "4711"},
		{"inner and outer spaces kept", " 47 11 \n", 0o600, " 47 11 "},
		{"tabs kept", "\t4711\t\n", 0o600, "\t4711\t"},
		{"only one newline trimmed", "4711\n\n", 0o600, "4711\n"},
		{"inner newline kept", "47\n11\n", 0o600, "47\n11"},
		{"CR before CRLF kept", "4711\r\r\n", 0o600, "4711\r"},
		{"bare trailing CR trimmed too", "4711\r", 0o600, "4711"},
		{"non-ASCII", "pässwörd\n", 0o600, "pässwörd"},
		{"exactly 4096 bytes", big, 0o600, big},
		{"4095 bytes and a newline", big[:maxPINFile-1] + "\n", 0o600, big[:maxPINFile-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pinWriteFile(t, dir, strings.ReplaceAll(tc.name, " ", "_"), tc.content, tc.mode)
			// The env PIN must be ignored when the URI has a pin-source.
			env := &pinEnv{vars: map[string]string{PINEnv: "from-env"}}
			pin, err := ReadPIN(&URI{Object: "k", PINSource: p}, env.get)
			if err != nil {
				t.Fatalf("ReadPIN: %v", err)
			}
			if pin.value() != tc.want {
				t.Errorf("PIN = %q, want %q", pin.value(), tc.want)
			}
			if len(env.asked) != 0 {
				t.Errorf("getenv asked for %v although the URI has a pin-source", env.asked)
			}
		})
	}
}

func TestReadPINFileRefused(t *testing.T) {
	dir := t.TempDir()
	const secret = "S3cr3t-4711"
	link := filepath.Join(dir, "link-to-0644")
	if err := os.Symlink(pinWriteFile(t, dir, "target-0644", secret, 0o644), link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		path    string
		problem FileProblem
		is      error    // also wrapped, besides ErrPINSource
		words   []string // details the reason gives (the mode, the kind of file, the limit)
	}{
		{"0640", pinWriteFile(t, dir, "pin-0640", secret+"\n", 0o640), FileMode, nil, []string{"readable by group or others", "mode 0640"}},
		{"0644", pinWriteFile(t, dir, "pin-0644", secret+"\n", 0o644), FileMode, nil, []string{"readable by group or others", "mode 0644"}},
		{"0604", pinWriteFile(t, dir, "pin-0604", secret+"\n", 0o604), FileMode, nil, []string{"mode 0604"}},
		{"0660", pinWriteFile(t, dir, "pin-0660", secret+"\n", 0o660), FileMode, nil, []string{"mode 0660"}},
		{"0777", pinWriteFile(t, dir, "pin-0777", secret+"\n", 0o777), FileMode, nil, []string{"mode 0777"}},
		{"0610", pinWriteFile(t, dir, "pin-0610", secret+"\n", 0o610), FileMode, nil, []string{"mode 0610"}},
		{"symlink to a 0644 file", link, FileSymlink, unix.ELOOP, nil},
		{"directory", dir, FileNotRegular, nil, []string{"not a regular file (a directory)"}},
		{"device", os.DevNull, FileNotRegular, nil, []string{"not a regular file (a device)"}},
		{"missing file", filepath.Join(dir, "missing"), FileOpen, fs.ErrNotExist, nil},
		{"missing directory", filepath.Join(dir, "nodir", "pin"), FileOpen, fs.ErrNotExist, nil},
		{"empty", pinWriteFile(t, dir, "empty", "", 0o600), FileEmpty, nil, nil},
		{"only LF", pinWriteFile(t, dir, "lf", "\n", 0o600), FileEmpty, nil, nil},
		{"only CRLF", pinWriteFile(t, dir, "crlf", "\r\n", 0o600), FileEmpty, nil, nil},
		{"4097 bytes", pinWriteFile(t, dir, "big", strings.Repeat("7", maxPINFile+1), 0o600), FileTooLarge, nil, []string{"larger than 4096 bytes", "only the PIN"}},
		{"4096 bytes and a newline", pinWriteFile(t, dir, "big-nl", strings.Repeat("7", maxPINFile)+"\n", 0o600), FileTooLarge, nil, []string{"larger than 4096 bytes"}},
		{"1 MiB", pinWriteFile(t, dir, "huge", strings.Repeat(secret, 1<<20/len(secret)), 0o600), FileTooLarge, nil, []string{"larger than 4096 bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := &pinEnv{vars: map[string]string{PINEnv: "from-env"}}
			pin, err := ReadPIN(&URI{Object: "k", PINSource: tc.path}, env.get)
			if err == nil {
				t.Fatalf("ReadPIN = %q, want an error", pin.value())
			}
			if !pin.Empty() {
				t.Errorf("PIN %q returned with an error", pin.value())
			}
			if !errors.Is(err, ErrPINSource) {
				t.Errorf("error %v does not wrap ErrPINSource", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			// No fallback to the environment when the pin-source is bad.
			if len(env.asked) != 0 {
				t.Errorf("getenv asked for %v after a bad pin-source", env.asked)
			}
			msg := err.Error()
			for _, w := range append([]string{"unusable pin-source file", tc.path}, tc.words...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			var pe *PINFileError
			if !errors.As(err, &pe) || pe.Path != tc.path || pe.Reason == "" || pe.Problem != tc.problem {
				t.Fatalf("error %v is not a *PINFileError (%s) for %s", err, tc.problem, tc.path)
			}
			// A mode problem is fixed by chmod; nothing else has a command.
			wantFix := ""
			if tc.problem == FileMode {
				wantFix = "chmod 600 " + tc.path
			}
			if pe.Fix() != wantFix {
				t.Errorf("Fix() = %q, want %q", pe.Fix(), wantFix)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error %q repeats the file's content", msg)
			}
		})
	}
}

// pinFormats are the ways a PIN could reach a log line.
func pinFormats(p PIN) map[string]string {
	type exported struct {
		Name string
		PIN  PIN
	}
	e := exported{"k", p}
	out := map[string]string{
		"String()":          p.String(),
		"GoString()":        p.GoString(),
		"%v":                fmt.Sprintf("%v", p),
		"%+v":               fmt.Sprintf("%+v", p),
		"%#v":               fmt.Sprintf("%#v", p),
		"%s":                fmt.Sprintf("%s", p),
		"%q":                fmt.Sprintf("%q", p),
		"%x":                fmt.Sprintf("%x", p),
		"%X":                fmt.Sprintf("%X", p),
		"%10.4v":            fmt.Sprintf("%10.4v", p),
		"Sprint":            fmt.Sprint(p),
		"Sprintln":          fmt.Sprintln(p, "x"),
		"pointer %v":        fmt.Sprintf("%v", &p),
		"pointer %+v":       fmt.Sprintf("%+v", &p),
		"pointer %#v":       fmt.Sprintf("%#v", &p),
		"slice %v":          fmt.Sprintf("%v", []PIN{p, p}),
		"slice %#v":         fmt.Sprintf("%#v", []PIN{p}),
		"map %v":            fmt.Sprintf("%v", map[string]PIN{"pin": p}),
		"map %#v":           fmt.Sprintf("%#v", map[string]PIN{"pin": p}),
		"any %v":            fmt.Sprintf("%v", any(p)),
		"exported field %v": fmt.Sprintf("%v", e),
		"exported field +v": fmt.Sprintf("%+v", e),
		"exported field #v": fmt.Sprintf("%#v", e),
		"wrapped error":     fmt.Errorf("login with %v failed: %w", p, errors.New("x")).Error(),
	}
	if b, err := json.Marshal(p); err == nil {
		out["json"] = string(b)
	} else {
		out["json"] = err.Error()
	}
	if b, err := json.Marshal(e); err == nil {
		out["json field"] = string(b)
	}
	var logBuf strings.Builder
	l := log.New(&logBuf, "", 0)
	l.Printf("pin %v %+v %#v", p, p, p)
	l.Println(p)
	out["log"] = logBuf.String()
	return out
}

func TestPINNeverFormatted(t *testing.T) {
	const secret = "S3cr3t-4711"
	p := NewPIN(secret)
	if p.Empty() {
		t.Fatal("NewPIN(secret).Empty() = true")
	}
	if !NewPIN("").Empty() || !(PIN{}).Empty() {
		t.Error("an empty PIN is not Empty()")
	}
	if p.value() != secret {
		t.Fatalf("NewPIN stored %q", p.value())
	}
	for name, s := range pinFormats(p) {
		if strings.Contains(s, secret) || strings.Contains(s, "S3cr3t") || strings.Contains(s, fmt.Sprintf("%x", secret)) {
			t.Errorf("%s reveals the PIN: %q", name, s)
		}
	}
	if got := p.String(); got != "[PIN redacted]" {
		t.Errorf("String() = %q", got)
	}
	if got := fmt.Sprintf("%#v", p); got != "pkcs11.PIN{[redacted]}" {
		t.Errorf("%%#v = %q", got)
	}
}

// TestPINNeverFormattedAnyVerb (regression): fmt consults Stringer and
// GoStringer only for %v, %s, %q, %x and %X; under a wrong verb (%d, %t,
// %o, ...) it prints the struct's fields, which once held the PIN itself.
// The verbs are in a variable so that vet does not refuse this test.
func TestPINNeverFormattedAnyVerb(t *testing.T) {
	const secret = "S3cr3t-4711"
	p := NewPIN(secret)
	for _, verb := range []string{"%d", "%t", "%o", "%b", "%c", "%e", "%U", "%p"} {
		if s := fmt.Sprintf(verb, p); strings.Contains(s, secret) {
			t.Errorf("fmt.Sprintf(%q, pin) reveals the PIN: %q", verb, s)
		}
	}
}

// TestPINInUnexportedField (regression): fmt cannot call methods on
// unexported struct fields, so a PIN held in one (as internal/demo does) is
// printed by reflection, field by field, under %v, %+v and %#v.
func TestPINInUnexportedField(t *testing.T) {
	const secret = "S3cr3t-4711"
	holder := struct {
		name string
		pin  PIN
	}{"k", NewPIN(secret)}
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		if s := fmt.Sprintf(verb, holder); strings.Contains(s, secret) {
			t.Errorf("fmt.Sprintf(%q, struct{pin PIN}) reveals the PIN: %q", verb, s)
		}
	}
}

// TestReadPINFIFONoWriter (regression): a pin-source that is a named pipe
// is refused at once. Opening a pipe blocks until some process opens it for
// writing, and checking the name before opening it left a window in which
// a FIFO could be swapped in: the file is now opened first, non-blocking,
// and the opened file is checked.
func TestReadPINFIFONoWriter(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pin.fifo")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	type result struct {
		pin PIN
		err error
	}
	done := make(chan result, 1)
	go func() {
		pin, err := ReadPIN(&URI{Object: "k", PINSource: p}, func(string) string { return "" })
		done <- result{pin, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-testBudget(t):
		t.Errorf("ReadPIN on a FIFO with no writer did not return")
		unblockFIFO(t, p)
		r = <-done
	}
	var pe *PINFileError
	if !errors.As(r.err, &pe) || !errors.Is(r.err, ErrPINSource) || pe.Problem != FileNotRegular || !strings.Contains(pe.Reason, "a FIFO") || pe.Fix() != "" {
		t.Errorf("ReadPIN(FIFO) = %v, want a *PINFileError: not a regular file (a FIFO), with no fix", r.err)
	}
}

// testBudget fires shortly before the test binary's -timeout would end the
// whole run, so that a hang fails this test with a message instead.
func testBudget(t *testing.T) <-chan time.Time {
	d, ok := t.Deadline()
	if !ok {
		return nil // no -timeout: wait for as long as it takes
	}
	return time.After(time.Until(d) - 10*time.Second)
}

// unblockFIFO opens the pipe for writing and closes it, which lets a
// reader blocked in open(2) go on.
func unblockFIFO(t *testing.T, p string) {
	for {
		fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK, 0)
		if err == nil {
			unix.Close(fd)
			return
		}
		if !errors.Is(err, unix.ENXIO) {
			t.Fatalf("cannot unblock the reader: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
