package revocation

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// diskDir is a cache folder whose content is trusted (see doc.go, "Cache
// trust"). It is opened once and checked with fstat on the opened
// descriptor: a folder, owned by the effective user, that neither group nor
// others can write. Every file in it is then opened relative to that
// descriptor, without following a symlink, and checked the same way on
// its own descriptor, so there is no window between check and use. A
// folder that does not exist yet is created (mode 0700) on the first
// write and checked then.
type diskDir struct {
	path   string
	parent *diskDir // for a sub-folder; nil for the cache folder itself
	hooks  *dirHooks
	mu     sync.Mutex
	h      *dirHandle // nil until the folder exists and passed the check
}

// dirHooks let a test stop a writer between writing a new file and renaming
// it into place, and a reader between opening a file and reading it, to
// race them under its control. Production code leaves them nil.
type dirHooks struct {
	beforeRename func(name string)
	afterOpen    func(name string)
}

// newDiskDir returns the cache folder path, checking it now if it exists.
func newDiskDir(path string) (*diskDir, error) {
	d := &diskDir{path: path}
	if _, err := d.handle(false); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return d, nil
}

// sub returns the sub-folder name, opened relative to d.
func (d *diskDir) sub(name string) *diskDir {
	return &diskDir{path: filepath.Join(d.path, name), parent: d, hooks: d.hooks}
}

// handle opens and checks the folder, creating it when create is set. It
// returns an error wrapping fs.ErrNotExist when the folder does not exist.
func (d *diskDir) handle(create bool) (*dirHandle, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.h != nil {
		return d.h, nil
	}
	var h *dirHandle
	var err error
	if d.parent == nil {
		h, err = openDirHandle(d.path, create)
	} else {
		var p *dirHandle
		if p, err = d.parent.handle(create); err == nil {
			h, err = p.openDir(filepath.Base(d.path), create)
		}
	}
	if err != nil {
		return nil, err
	}
	d.h = h
	return h, nil
}

// open opens the regular file name in the folder for reading, after the
// trust checks.
func (d *diskDir) open(name string) (*os.File, error) {
	h, err := d.handle(false)
	if err != nil {
		return nil, err
	}
	f, err := h.openFile(name)
	if err == nil && d.hooks != nil && d.hooks.afterOpen != nil {
		d.hooks.afterOpen(name)
	}
	return f, err
}

// readFile reads the file name, refusing one over limit bytes (0: no
// limit).
func (d *diskDir) readFile(name string, limit int64) ([]byte, error) {
	f, err := d.open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		if limit > 0 && st.Size() > limit {
			return nil, kindf(ErrTooLarge, "%s is larger than the %s limit", f.Name(), byteSize(limit))
		}
		buf.Grow(int(st.Size()) + 1)
	}
	r := io.Reader(f)
	if limit > 0 {
		r = io.LimitReader(f, limit+1)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	if limit > 0 && int64(buf.Len()) > limit {
		return nil, kindf(ErrTooLarge, "%s is larger than the %s limit", f.Name(), byteSize(limit))
	}
	return buf.Bytes(), nil
}

// writeAtomic replaces the file name with data: a new file (mode 0600)
// written and synced under a temporary name, then renamed over it, so
// readers in other processes see the old or the new file, never a mix.
func (d *diskDir) writeAtomic(name string, data []byte) error {
	h, err := d.handle(true)
	if err != nil {
		return err
	}
	tmp, err := h.writeTemp(name, data)
	if err != nil {
		return err
	}
	if d.hooks != nil && d.hooks.beforeRename != nil {
		d.hooks.beforeRename(name)
	}
	if err := h.rename(tmp, name); err != nil {
		h.remove(tmp)
		return err
	}
	return nil
}

// names lists the entries of the folder whose names have prefix and
// suffix, or nothing when the folder does not exist.
func (d *diskDir) names(prefix, suffix string) ([]string, error) {
	h, err := d.handle(false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	all, err := h.names()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		if strings.HasPrefix(n, prefix) && strings.HasSuffix(n, suffix) && !strings.HasPrefix(n, ".") {
			out = append(out, n)
		}
	}
	return out, nil
}

// CacheTrustError is a cache folder, or a file in it, that is not owned by
// the effective user or that group or others can write: its owner could
// remove entries from a CRL index and so un-revoke certificates. Fix
// returns the command that makes the effective user its sole writer.
// errors.Is(err, ErrCacheNotTrusted) holds.
type CacheTrustError struct {
	// Path is the folder or file refused; Folder is the cache folder (the
	// fix applies to all of it).
	Path, Folder string
	// IsDir says whether Path is a folder.
	IsDir bool
	// Owner is Path's owner uid, EUID the process's effective uid.
	Owner, EUID int
	// Mode is Path's permission bits.
	Mode fs.FileMode
	// NotRegular is set for a file that is not a regular file (a symlink,
	// a named pipe); Owner and Mode are then not meaningful.
	NotRegular bool
}

func (e *CacheTrustError) Error() string {
	what := "file"
	if e.IsDir {
		what = "folder"
	}
	var why string
	switch {
	case e.NotRegular:
		why = "is not a regular file (a symlink or a special file)"
	case e.Owner != e.EUID:
		why = fmt.Sprintf("is owned by uid %d, not by the effective user (uid %d), so that user could un-revoke certificates", e.Owner, e.EUID)
	default:
		why = fmt.Sprintf("is writable by other users (mode %04o), who could un-revoke certificates", e.Mode)
	}
	return fmt.Sprintf("the CRL cache %s %s %s; run: %s", what, e.Path, why, e.Fix())
}

// Fix is the shell command that makes the cache folder the effective
// user's alone: chown (through sudo unless running as root) when another
// user owns it, chmod when others can write it, rm for a file that is not
// a regular file.
func (e *CacheTrustError) Fix() string {
	dir := shellQuote(e.Folder)
	switch {
	case e.NotRegular:
		return "rm -f " + shellQuote(e.Path)
	case e.Owner != e.EUID:
		sudo := "sudo "
		if e.EUID == 0 {
			sudo = ""
		}
		fix := fmt.Sprintf("%schown -R %d %s", sudo, e.EUID, dir)
		if e.Mode&0o022 != 0 {
			fix += fmt.Sprintf(" && %schmod -R go-w %s", sudo, dir)
		}
		return fix
	}
	return "chmod -R go-w " + dir
}

func (e *CacheTrustError) Is(target error) bool { return target == ErrCacheNotTrusted }

// shellQuote quotes s for a POSIX shell unless it needs no quoting.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
