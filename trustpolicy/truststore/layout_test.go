package truststore

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

// layout builds a notation config folder in a temporary folder: base is
// notation's {NOTATION_CONFIG} (what dir.NewSysFS takes), root is
// base/truststore (what Load takes).
type layout struct {
	t    testing.TB
	base string
	root string
}

func newLayout(t testing.TB) *layout {
	t.Helper()
	base := t.TempDir()
	return &layout{t: t, base: base, root: filepath.Join(base, "truststore")}
}

func (l *layout) path(rel string) string { return filepath.Join(l.root, filepath.FromSlash(rel)) }

// file writes root/rel, creating its folders.
func (l *layout) file(rel string, data []byte) {
	l.t.Helper()
	p := l.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// dir creates the folder root/rel.
func (l *layout) dir(rel string) {
	l.t.Helper()
	if err := os.MkdirAll(l.path(rel), 0o755); err != nil {
		l.t.Fatal(err)
	}
}

// symlink creates root/rel pointing to target (used as is).
func (l *layout) symlink(target, rel string) {
	l.t.Helper()
	p := l.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		// Only Windows refuses symlinks to a user without the privilege
		// (ERROR_PRIVILEGE_NOT_HELD); anywhere else it is a failure.
		if runtime.GOOS == "windows" && errors.Is(err, syscall.Errno(1314)) {
			l.t.Skipf("Windows refuses symlinks without the SeCreateSymbolicLinkPrivilege: %v", err)
		}
		l.t.Fatalf("cannot create a symlink: %v", err)
	}
}
