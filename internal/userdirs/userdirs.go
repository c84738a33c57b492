// Package userdirs finds notation-pkcs11's per-user folders. It reads the
// environment only through the getenv function it is given, never the
// process environment directly, so a test (or a caller that runs with a
// cleaned environment) that passes no HOME never touches the real user's
// folders.
package userdirs

import (
	"errors"
	"path/filepath"
	"runtime"
)

// CacheEnv names notation-pkcs11's cache folder when set.
const CacheEnv = "NOTATION_PKCS11_CACHE"

// appName is the folder under the user's cache folder.
const appName = "notation-pkcs11"

// ErrNoCacheDir: neither CacheEnv nor the user's cache folder is set.
var ErrNoCacheDir = errors.New("cannot find the user cache folder (neither " + CacheEnv + ", XDG_CACHE_HOME nor HOME is set)")

// CacheDir returns notation-pkcs11's cache folder: $NOTATION_PKCS11_CACHE
// when set, else "notation-pkcs11" under the user's cache folder
// (UserCacheDir), e.g. ~/.cache/notation-pkcs11. The plugin keeps its
// key-spec cache in keys/ and its module locks in locks/, and the
// revocation cache is crl/. The error is ErrNoCacheDir when there is no
// such folder.
func CacheDir(getenv func(string) string) (string, error) {
	return cacheDir(runtime.GOOS, getenv)
}

func cacheDir(goos string, getenv func(string) string) (string, error) {
	if getenv == nil {
		return "", ErrNoCacheDir
	}
	if d := getenv(CacheEnv); d != "" {
		return d, nil
	}
	base, err := userCacheDir(goos, getenv)
	if err != nil {
		return "", err
	}
	return filepath.Join(base, appName), nil
}

// UserCacheDir is os.UserCacheDir over getenv: on Windows %LocalAppData%;
// on macOS $HOME/Library/Caches; elsewhere $XDG_CACHE_HOME when it is an
// absolute path (a relative one is ignored, as the XDG specification
// says), else $HOME/.cache when HOME is absolute. The error is
// ErrNoCacheDir when there is none.
func UserCacheDir(getenv func(string) string) (string, error) {
	return userCacheDir(runtime.GOOS, getenv)
}

func userCacheDir(goos string, getenv func(string) string) (string, error) {
	if getenv == nil {
		return "", ErrNoCacheDir
	}
	var dir string
	switch goos {
	case "windows":
		dir = getenv("LocalAppData")
	case "darwin", "ios":
		if h := getenv("HOME"); h != "" {
			dir = filepath.Join(h, "Library", "Caches")
		}
	default:
		dir = getenv("XDG_CACHE_HOME")
		if dir == "" || !filepath.IsAbs(dir) {
			dir = ""
			if h := getenv("HOME"); h != "" && filepath.IsAbs(h) {
				dir = filepath.Join(h, ".cache")
			}
		}
	}
	if dir == "" {
		return "", ErrNoCacheDir
	}
	return dir, nil
}
