package registry

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// tarFS is a read-only fs.FS over the regular files of a tar archive. A
// member's name is taken cleaned and without a leading "./", so that an
// archive made with `tar -cf layout.tar -C layout .` opens like one made
// by oras (oras-go's own tar reader takes names literally and finds no
// "oci-layout" in it). Each Open opens the archive again: files are read
// in place, never held in memory.
type tarFS struct {
	path    string
	entries map[string]tarEntry
}

type tarEntry struct {
	hdr *tar.Header
	off int64
}

// newTarFS indexes the archive at p.
func newTarFS(p string) (*tarFS, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := &tarFS{path: p, entries: map[string]tarEntry{}}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a tar archive: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if !fs.ValidPath(name) {
			continue
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, err
		}
		t.entries[name] = tarEntry{hdr: hdr, off: off}
	}
	return t, nil
}

// Open opens the member name.
func (t *tarFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	e, ok := t.entries[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f, err := os.Open(t.path)
	if err != nil {
		return nil, err
	}
	return &tarFile{Reader: io.NewSectionReader(f, e.off, e.hdr.Size), f: f, info: e.hdr.FileInfo()}, nil
}

type tarFile struct {
	io.Reader
	f    *os.File
	info fs.FileInfo
}

func (f *tarFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *tarFile) Close() error               { return f.f.Close() }
