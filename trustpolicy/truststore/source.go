package truststore

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// source is the file system a Set is loaded from. Names are slash-separated
// and relative to the trust store root (the folder that holds x509/).
type source interface {
	// lstat describes name without following a final symlink.
	lstat(name string) (fs.FileInfo, error)
	// readDir lists a folder, sorted by file name, entry types as lstat sees
	// them.
	readDir(name string) ([]fs.DirEntry, error)
	// readFile reads a regular file, at most MaxFileSize+1 bytes, so a
	// longer result means the file is over the cap. A non-regular file gives
	// an error wrapping ErrNotRegular.
	readFile(name string) ([]byte, error)
	// display returns name as shown in errors.
	display(name string) string
}

// readRegular reads at most MaxFileSize+1 bytes of f after checking that it
// is a regular file.
func readRegular(f fs.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: file mode %s", ErrNotRegular, st.Mode().Type())
	}
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}

// osSource reads the operating system's file system under root.
type osSource struct{ root string }

func (s osSource) display(name string) string {
	return filepath.Join(s.root, filepath.FromSlash(name))
}

func (s osSource) lstat(name string) (fs.FileInfo, error) { return os.Lstat(s.display(name)) }

func (s osSource) readDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(s.display(name)) }

func (s osSource) readFile(name string) ([]byte, error) {
	// openFlags adds O_NOFOLLOW and O_NONBLOCK where available, so a file
	// swapped for a symlink or a named pipe after the folder was listed is
	// neither followed nor waited on.
	f, err := os.OpenFile(s.display(name), os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readRegular(f)
}

// fsSource reads an fs.FS whose root holds x509/. Symlinks are detected when
// the FS implements fs.ReadLinkFS (os.DirFS and testing/fstest.MapFS do).
type fsSource struct{ fsys fs.FS }

func (s fsSource) display(name string) string { return name }

func (s fsSource) lstat(name string) (fs.FileInfo, error) { return fs.Lstat(s.fsys, name) }

func (s fsSource) readDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(s.fsys, name) }

func (s fsSource) readFile(name string) ([]byte, error) {
	f, err := s.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readRegular(f)
}

// storeDir is the slash path of a store relative to the root, cleaned the way
// notation-go's path.Join and filepath.Join clean it (so "." and ".." names
// resolve as they do in notation).
func storeDir(ref Ref) string { return path.Join("x509", string(ref.Type), ref.Name) }
