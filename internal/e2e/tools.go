package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrToolsMissing is wrapped by the error [FindTools] returns when a binary
// is absent.
var ErrToolsMissing = errors.New("e2e: peer tools missing")

// Tools holds the paths of the real peer binaries.
type Tools struct {
	Notation string // notation CLI v1.3.2
	Oras     string // oras v1.2.3
	Registry string // distribution registry v3.1.2
}

// ToolsDir returns the folder [FindTools] looks in: $NOTATION_PKCS11_TOOLS_BIN
// if set, else the bin folder that scripts/tools.sh fills
// ($NOTATION_PKCS11_TOOLS/bin, else ${XDG_CACHE_HOME:-$HOME/.cache}/notation-pkcs11/tools/bin).
func ToolsDir() (string, error) {
	if d := os.Getenv("NOTATION_PKCS11_TOOLS_BIN"); d != "" {
		return d, nil
	}
	if d := os.Getenv("NOTATION_PKCS11_TOOLS"); d != "" {
		return filepath.Join(d, "bin"), nil
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("e2e: locating the tools folder: %w (set NOTATION_PKCS11_TOOLS_BIN)", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "notation-pkcs11", "tools", "bin"), nil
}

// FindTools locates notation, oras and registry in [ToolsDir]. Its error
// names every missing binary, wraps [ErrToolsMissing] and tells how to build
// them.
func FindTools() (Tools, error) {
	dir, err := ToolsDir()
	if err != nil {
		return Tools{}, err
	}
	t := Tools{
		Notation: filepath.Join(dir, "notation"),
		Oras:     filepath.Join(dir, "oras"),
		Registry: filepath.Join(dir, "registry"),
	}
	var missing []string
	for _, p := range []string{t.Notation, t.Oras, t.Registry} {
		if !isExecutable(p) {
			missing = append(missing, filepath.Base(p))
		}
	}
	if len(missing) > 0 {
		return Tools{}, fmt.Errorf("%w: %s not found (or not executable) in %s; run scripts/tools.sh or make tools, or set NOTATION_PKCS11_TOOLS_BIN to a folder holding them",
			ErrToolsMissing, strings.Join(missing, ", "), dir)
	}
	return t, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
