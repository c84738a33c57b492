package containerdverifier

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// ErrFileNotTrusted is wrapped by every *FileTrustError.
var ErrFileNotTrusted = errors.New("file not trusted")

// FileTrustError is a file or folder the verifier trusts (its
// configuration, the trust policy, the trust store) that is not a regular
// file (or folder), is owned by another user than the effective user and
// root, or that group or others can write: whoever can write it decides
// which images pull. errors.Is(err, ErrFileNotTrusted) and
// errors.Is(err, ErrInvalidConfig) hold; Fix is the command that repairs
// it.
type FileTrustError struct {
	// What names the file's role ("configuration file", "trust policy").
	What string
	Path string
	// IsDir says Path must be a folder.
	IsDir bool
	// NotRegular: a symlink, a special file, or a file where a folder is
	// expected (or the other way round); Owner and Mode are then not
	// meaningful.
	NotRegular bool
	Owner      int
	EUID       int
	Mode       fs.FileMode
}

func (e *FileTrustError) Error() string {
	var why string
	switch {
	case e.NotRegular && e.IsDir:
		why = "is not a folder"
	case e.NotRegular:
		why = "is not a regular file (a symlink or a special file)"
	case e.Owner != e.EUID && e.Owner != 0:
		why = fmt.Sprintf("is owned by uid %d, not by root or the effective user (uid %d), so that user decides which images pull", e.Owner, e.EUID)
	default:
		why = fmt.Sprintf("is writable by group or others (mode %04o), who could then decide which images pull", e.Mode)
	}
	return fmt.Sprintf("the %s %s %s", e.What, textsafe.Escape(e.Path), why)
}

// Is makes errors.Is(err, ErrFileNotTrusted) and errors.Is(err,
// ErrInvalidConfig) true.
func (e *FileTrustError) Is(target error) bool {
	return target == ErrFileNotTrusted || target == ErrInvalidConfig
}

// Fix is the shell command that makes the file root's and not writable by
// group or others, or for a symlink, replaces it with a copy of the file it
// points to (checked in turn by the next run). It is empty for a file
// where a folder is expected: the configuration names the wrong path.
func (e *FileTrustError) Fix() string {
	p := shellQuote(e.Path)
	switch {
	case e.NotRegular && !e.IsDir:
		return fmt.Sprintf("cp --remove-destination \"$(readlink -f %s)\" %s", p, p)
	case e.NotRegular:
		return ""
	case e.Owner != e.EUID && e.Owner != 0:
		return fmt.Sprintf("chown %d %s && chmod go-w %s", e.EUID, p, p)
	}
	return "chmod go-w " + p
}

// checkTrusted checks an opened file: of the expected type, owned by the
// effective user or root, not writable by group or others.
func checkTrusted(f *os.File, what string, dir bool) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("the %s %s: %w", what, textsafe.Escape(f.Name()), err)
	}
	e := &FileTrustError{What: what, Path: f.Name(), IsDir: dir, EUID: os.Geteuid(), Mode: st.Mode().Perm()}
	if dir != st.IsDir() || !dir && !st.Mode().IsRegular() {
		e.NotRegular = true
		return e
	}
	owner, ok := fileOwner(st)
	if !ok {
		return nil // no owner to check (Windows: access is the ACL's)
	}
	e.Owner = owner
	if owner != e.EUID && owner != 0 || e.Mode&0o022 != 0 {
		return e
	}
	return nil
}

// readTrusted reads a trusted file of at most limit bytes. It is opened
// without following a final symlink and without blocking on a FIFO, and the
// opened file is checked, so it cannot be swapped between check and read.
func readTrusted(path, what string, limit int64) ([]byte, error) {
	f, err := openNoFollow(path, false)
	if err != nil {
		return nil, openError(path, what, false, err)
	}
	defer f.Close()
	if err := checkTrusted(f, what, false); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: the %s %s: %w", ErrInvalidConfig, what, textsafe.Escape(path), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: the %s %s is larger than %d bytes", ErrInvalidConfig, what, textsafe.Escape(path), limit)
	}
	return data, nil
}

// openError words a failed open: a symlink is a *FileTrustError, anything
// else an error naming the file and wrapping ErrInvalidConfig.
func openError(path, what string, dir bool, err error) error {
	if isSymlinkErr(err) {
		return &FileTrustError{What: what, Path: path, IsDir: dir, NotRegular: true, EUID: os.Geteuid()}
	}
	return fmt.Errorf("%w: the %s %s: %w", ErrInvalidConfig, what, textsafe.Escape(path), unwrapPath(err))
}

// unwrapPath drops the *fs.PathError wrapper, whose text repeats the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkTrustStore checks the trust store folders the policy names and their
// files: root, root/x509, root/x509/TYPE and root/x509/TYPE/NAME must be
// folders, and every file in a store a regular file, owned by the effective
// user or root and not writable by group or others. The root and the
// x509 and type folders may be symlinks (as notation allows); their targets
// are checked. A folder or store that does not exist is left to the trust
// store lint.
func checkTrustStore(root string, refs []truststore.Ref) error {
	const what = "trust store folder"
	dirs := []string{root, filepath.Join(root, "x509")}
	seenType := map[string]bool{}
	for _, r := range refs {
		t := filepath.Join(root, "x509", string(r.Type))
		if !seenType[t] {
			seenType[t] = true
			dirs = append(dirs, t)
		}
	}
	for _, d := range dirs {
		if err := checkDir(d, what, true); err != nil {
			return err
		}
	}
	for _, r := range refs {
		store := filepath.Join(root, "x509", string(r.Type), r.Name)
		if err := checkDir(store, what, false); err != nil {
			return err
		}
		f, err := openNoFollow(store, true)
		if err != nil {
			continue // missing: the trust store lint says so
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			continue
		}
		for _, n := range names {
			p := filepath.Join(store, n)
			fh, err := openNoFollow(p, false)
			if err != nil {
				if isSymlinkErr(err) {
					return openError(p, "trust store file", false, err)
				}
				continue // the trust store lint reports it
			}
			err = checkTrusted(fh, "trust store file", false)
			fh.Close()
			if err != nil {
				var te *FileTrustError
				if errors.As(err, &te) && te.NotRegular {
					continue // a sub-folder: the trust store lint reports it
				}
				return err
			}
		}
	}
	return nil
}

// checkDir checks one folder; follow says whether a symlink to a folder is
// accepted. A missing folder is no error here.
func checkDir(path, what string, follow bool) error {
	var f *os.File
	var err error
	if follow {
		f, err = os.Open(path)
	} else {
		f, err = openNoFollow(path, true)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return openError(path, what, true, err)
	}
	defer f.Close()
	return checkTrusted(f, what, true)
}
