package main

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the terminal side a program
// writes to, and the master side that reads what it wrote.
func openPTY(t *testing.T) (term, master *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, m
}

// TestProgressOnlyOnATerminal: bulk verify draws its progress bar on
// stderr when stderr is a terminal, and writes nothing of it to a pipe.
func TestProgressOnlyOnATerminal(t *testing.T) {
	w := newBulkWorld(t)
	refs := []string{w.signed(t, "app", "v1", "one"), w.signed(t, "app", "v2", "two"), w.signed(t, "app", "v3", "three")}
	args := append([]string{"verify", "--plain-http"}, refs...)

	term, master := openPTY(t)
	var out bytes.Buffer
	code := run(t.Context(), args, env{stdout: &out, stderr: term, getenv: configOnly(w.config), now: func() time.Time { return time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC) }})
	term.Close()
	drawn, _ := io.ReadAll(master) // ends with EIO once the terminal side is closed
	if code != exitVerified || !strings.Contains(string(drawn), "verifying") || !strings.Contains(string(drawn), "/3)") {
		t.Errorf("terminal: exit %d, stderr %q", code, drawn)
	}
	if strings.Contains(out.String(), "verifying") {
		t.Errorf("progress on stdout: %q", out.String())
	}

	r, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	code = run(t.Context(), args, env{stdout: &out, stderr: pw, getenv: configOnly(w.config), now: func() time.Time { return time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC) }})
	pw.Close()
	piped, _ := io.ReadAll(r)
	if code != exitVerified || len(piped) != 0 {
		t.Errorf("pipe: exit %d, stderr %q", code, piped)
	}
}
