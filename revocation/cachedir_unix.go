//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package revocation

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// dirHandle is an opened, checked folder; files are opened relative to its
// descriptor (openat) without following symlinks.
type dirHandle struct {
	f      *os.File
	folder string // the cache folder, for fixes
}

// openDirHandle opens path (creating it, mode 0700, when create is set)
// and checks the opened folder.
func openDirHandle(path string, create bool) (*dirHandle, error) {
	if create {
		if err := os.MkdirAll(path, 0o700); err != nil {
			return nil, fmt.Errorf("cannot create the CRL cache folder: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot open the CRL cache folder: %w", err)
	}
	if err := checkOwned(f, path, path, true); err != nil {
		f.Close()
		return nil, err
	}
	return &dirHandle{f: f, folder: path}, nil
}

// at runs fn with the folder's descriptor, keeping it open meanwhile.
func (h *dirHandle) at(fn func(dirfd int) error) error {
	rc, err := h.f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

func (h *dirHandle) display(name string) string { return filepath.Join(h.f.Name(), name) }

// openat opens name relative to the folder with O_NOFOLLOW and O_CLOEXEC.
func (h *dirHandle) openat(name string, flags int, perm uint32) (*os.File, error) {
	var fd int
	err := h.at(func(dirfd int) error {
		var err error
		for {
			fd, err = unix.Openat(dirfd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
			if err != unix.EINTR {
				return err
			}
		}
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: h.display(name), Err: err}
	}
	return os.NewFile(uintptr(fd), h.display(name)), nil
}

func (h *dirHandle) openDir(name string, create bool) (*dirHandle, error) {
	if create {
		err := h.at(func(dirfd int) error { return unix.Mkdirat(dirfd, name, 0o700) })
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, &os.PathError{Op: "mkdir", Path: h.display(name), Err: err}
		}
	}
	f, err := h.openat(name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, h.refuseSymlink(name, err)
	}
	if err := checkOwned(f, f.Name(), h.folder, true); err != nil {
		f.Close()
		return nil, err
	}
	return &dirHandle{f: f, folder: h.folder}, nil
}

func (h *dirHandle) openFile(name string) (*os.File, error) {
	f, err := h.openat(name, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, h.refuseSymlink(name, err)
	}
	if err := checkOwned(f, f.Name(), h.folder, false); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// refuseSymlink turns the error of an O_NOFOLLOW open of a symlink into a
// *CacheTrustError.
func (h *dirHandle) refuseSymlink(name string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EMLINK) || errors.Is(err, unix.ENOTDIR) {
		return &CacheTrustError{Path: h.display(name), Folder: h.folder, NotRegular: true, EUID: os.Geteuid()}
	}
	return err
}

// writeTemp writes data, synced, to a new file (mode 0600) with a
// temporary name beside name, and returns that name.
func (h *dirHandle) writeTemp(name string, data []byte) (string, error) {
	tmp := fmt.Sprintf(".%s.tmp-%016x", name, rand.Uint64())
	f, err := h.openat(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		h.remove(tmp)
		return "", err
	}
	return tmp, nil
}

// rename moves tmp over name, atomically.
func (h *dirHandle) rename(tmp, name string) error {
	if err := h.at(func(dirfd int) error { return unix.Renameat(dirfd, tmp, dirfd, name) }); err != nil {
		return &os.PathError{Op: "rename", Path: h.display(name), Err: err}
	}
	return nil
}

// remove deletes name, ignoring errors (a temporary file left behind).
func (h *dirHandle) remove(name string) {
	_ = h.at(func(dirfd int) error { return unix.Unlinkat(dirfd, name, 0) })
}

func (h *dirHandle) names() ([]string, error) {
	d, err := h.openat(".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// checkOwned checks an opened file or folder with fstat: of the expected
// type, owned by the effective user, not writable by group or others.
func checkOwned(f *os.File, path, folder string, dir bool) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	euid := os.Geteuid()
	e := &CacheTrustError{Path: path, Folder: folder, IsDir: dir, EUID: euid, Mode: st.Mode().Perm()}
	if dir && !st.IsDir() || !dir && !st.Mode().IsRegular() {
		if dir {
			return fmt.Errorf("the CRL cache path %s is not a folder", path)
		}
		e.NotRegular = true
		return e
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("cannot read the owner of %s", path)
	}
	e.Owner = int(sys.Uid)
	if e.Owner != euid || e.Mode&0o022 != 0 {
		return e
	}
	return nil
}
