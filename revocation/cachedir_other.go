//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package revocation

import (
	"fmt"
	"os"
	"path/filepath"
)

// dirHandle on this platform opens files by path: there is no openat, and
// ownership is left to the platform's access control lists (on Windows the
// user's cache folder is private to the user by default). Only the file
// type is checked, after opening.
type dirHandle struct {
	path, folder string
}

func openDirHandle(path string, create bool) (*dirHandle, error) {
	if create {
		if err := os.MkdirAll(path, 0o700); err != nil {
			return nil, fmt.Errorf("cannot create the CRL cache folder: %w", err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open the CRL cache folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("the CRL cache path %s is not a folder", path)
	}
	return &dirHandle{path: path, folder: path}, nil
}

func (h *dirHandle) display(name string) string { return filepath.Join(h.path, name) }

func (h *dirHandle) openDir(name string, create bool) (*dirHandle, error) {
	p := h.display(name)
	if create {
		if err := os.Mkdir(p, 0o700); err != nil && !os.IsExist(err) {
			return nil, err
		}
	}
	st, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, &CacheTrustError{Path: p, Folder: h.folder, NotRegular: true}
	}
	return &dirHandle{path: p, folder: h.folder}, nil
}

func (h *dirHandle) openFile(name string) (*os.File, error) {
	f, err := os.Open(h.display(name))
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, &CacheTrustError{Path: h.display(name), Folder: h.folder, NotRegular: true}
	}
	return f, nil
}

func (h *dirHandle) writeTemp(name string, data []byte) (string, error) {
	f, err := os.CreateTemp(h.path, "."+name+".tmp-*")
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
		os.Remove(f.Name())
		return "", err
	}
	return filepath.Base(f.Name()), nil
}

func (h *dirHandle) rename(tmp, name string) error {
	return os.Rename(h.display(tmp), h.display(name))
}

func (h *dirHandle) remove(name string) { os.Remove(h.display(name)) }

func (h *dirHandle) names() ([]string, error) {
	ents, err := os.ReadDir(h.path)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ents))
	for i, e := range ents {
		out[i] = e.Name()
	}
	return out, nil
}
