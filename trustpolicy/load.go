package trustpolicy

// This file is the package's only I/O: it reads the policy file with
// notation's file rules (ReadPolicyFile, LoadDocument, LintFile) and loads
// the policy and stores from notation's folders into an Engine (Load).

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// ConfigEnv is the environment variable notation reads for its configuration
// folder; the policy and trust stores live under it.
const ConfigEnv = "NOTATION_CONFIG"

// Paths is where the policy document and trust stores are.
type Paths struct {
	// Policy is the trust policy file (notation: $NOTATION_CONFIG/trustpolicy.json).
	Policy string
	// TrustStore is the folder that holds x509/ (notation:
	// $NOTATION_CONFIG/truststore).
	TrustStore string
}

// DefaultPaths returns notation v1.3's locations: under $NOTATION_CONFIG, or
// else under the user's config folder (os.UserConfigDir()/notation).
func DefaultPaths(getenv func(string) string) (Paths, error) {
	dir := getenv(ConfigEnv)
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return Paths{}, errors.New("trustpolicy: cannot find notation's config folder: set " + ConfigEnv + " or pass --policy and --truststore")
		}
		dir = filepath.Join(base, "notation")
	}
	return Paths{Policy: filepath.Join(dir, "trustpolicy.json"), TrustStore: filepath.Join(dir, "truststore")}, nil
}

// Load reads and compiles the policy, loads every trust store it names and
// returns an Engine. A store that fails to load does not fail Load: as in
// notation, its error is reported by the verifications that use it.
func Load(p Paths, rev revocation.Checker) (*Engine, error) {
	return LoadWithOptions(p, rev, CompileOptions{})
}

// LoadWithOptions is Load with the policy compiled by CompileWithOptions.
func LoadWithOptions(p Paths, rev revocation.Checker, opts CompileOptions) (*Engine, error) {
	doc, err := LoadDocument(p.Policy)
	if err != nil {
		return nil, err
	}
	pol, err := CompileWithOptions(doc, opts)
	if err != nil {
		return nil, err
	}
	return New(Config{Policy: pol, Stores: truststore.Load(p.TrustStore, pol.StoreRefs()), Revocation: rev})
}

// MaxPolicyFileSize is the largest policy file LoadDocument reads. notation
// has no limit; 16 MiB holds well over 10,000 statements.
const MaxPolicyFileSize = 16 << 20

// policyHelpLink is where notation points users to write a policy.
const policyHelpLink = "https://notaryproject.dev/docs/quickstart/#create-a-trust-policy"

// LoadDocument reads and decodes a trust policy file with notation's file
// rules. The errors are distinct and name the path: a missing file wraps
// ErrPolicyNotFound; a symlink, directory or other non-regular file wraps
// ErrPolicyNotRegular (notation does not follow symlinks); a file that
// cannot be opened or read (e.g. permissions) or is larger than
// MaxPolicyFileSize wraps ErrPolicyUnreadable; JSON that does not decode
// wraps ErrMalformedPolicy. LoadDocument does not validate.
func LoadDocument(path string) (*Document, error) {
	data, err := ReadPolicyFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := decodeDocument(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformedPolicy, path, err)
	}
	return doc, nil
}

// LintFile reads and decodes a trust policy file as LoadDocument does, and
// also returns the problems of its keys (LintKeys): what notation ignores.
func LintFile(path string) (*Document, []*KeyProblem, error) {
	data, err := ReadPolicyFile(path)
	if err != nil {
		return nil, nil, err
	}
	doc, err := decodeDocument(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrMalformedPolicy, path, err)
	}
	keys, err := LintKeys(data)
	if err != nil {
		// decodeDocument read the first value, so LintKeys can walk it.
		return doc, keys, fmt.Errorf("%w: %s: %v", ErrMalformedPolicy, path, err)
	}
	return doc, keys, nil
}

// ReadPolicyFile reads a trust policy file with notation's file rules and
// returns its bytes; see LoadDocument for the errors.
func ReadPolicyFile(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, policyFileError(path, err)
	}
	if err := requireRegular(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, policyFileError(path, err)
	}
	defer f.Close()
	// The file was checked by name; make sure the one opened is the same
	// regular file.
	if fi2, err := f.Stat(); err != nil {
		return nil, policyFileError(path, err)
	} else if !fi2.Mode().IsRegular() || !os.SameFile(fi, fi2) {
		return nil, fmt.Errorf("%w: %s changed while it was being opened; retry", ErrPolicyNotRegular, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxPolicyFileSize+1))
	if err != nil {
		return nil, policyFileError(path, err)
	}
	if len(data) > MaxPolicyFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d MiB, the largest trust policy file accepted", ErrPolicyUnreadable, path, MaxPolicyFileSize>>20)
	}
	return data, nil
}

func requireRegular(path string, fi fs.FileInfo) error {
	m := fi.Mode()
	switch {
	case m&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symlink; notation does not follow symlinks, so put the policy file itself there", ErrPolicyNotRegular, path)
	case m.IsDir():
		return fmt.Errorf("%w: %s is a directory; the trust policy must be a JSON file (see %s)", ErrPolicyNotRegular, path, policyHelpLink)
	case !m.IsRegular():
		return fmt.Errorf("%w: %s is a %s file; the trust policy must be a regular JSON file", ErrPolicyNotRegular, path, fileKind(m))
	}
	return nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special"
}

func policyFileError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s does not exist; create it (see %s)", ErrPolicyNotFound, path, policyHelpLink)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %s: permission denied; make the file (and its folders) readable by this user", ErrPolicyUnreadable, path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%w: %s: %v", ErrPolicyUnreadable, path, err)
}
