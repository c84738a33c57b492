//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package truststore

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

// TestNamedPipe: notation-go would open a named pipe in a store and block
// forever; this package rejects it without opening it (a deliberate
// difference), so it is not compared with notation.
func TestNamedPipe(t *testing.T) {
	f := newFixtures(t)
	l := newLayout(t)
	l.file(caS+"root.pem", pemOf(f.root))
	if err := syscall.Mkfifo(l.path(caS+"pipe"), 0o644); err != nil {
		t.Fatalf("cannot make a named pipe: %v", err)
	}
	ref := Ref{TypeCA, "s"}
	done := make(chan error, 1)
	go func() {
		_, err := Load(l.root, []Ref{ref}).Certificates(ref)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Fatalf("error %v, want ErrNotRegular", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Load blocked on a named pipe")
	}
	// A pipe behind the entry check (a race) is refused after opening.
	if _, err := (osSource{root: l.root}).readFile(caS + "pipe"); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("readFile on a pipe: %v, want ErrNotRegular", err)
	}
	// And a symlink is not followed when opened.
	l.symlink("root.pem", caS+"link")
	if _, err := (osSource{root: l.root}).readFile(caS + "link"); err == nil {
		t.Fatal("readFile followed a symlink")
	}
}
