package userdirs

import (
	"errors"
	"path/filepath"
	"testing"
)

type env map[string]string

func (e env) get(k string) string { return e[k] }

func TestCacheDir(t *testing.T) {
	cases := []struct {
		name string
		goos string
		env  env
		want string // "" means ErrNoCacheDir
	}{
		{"NOTATION_PKCS11_CACHE wins", "linux", env{CacheEnv: "/var/cache/np", "XDG_CACHE_HOME": "/x", "HOME": "/home/u"}, "/var/cache/np"},
		{"XDG_CACHE_HOME", "linux", env{"XDG_CACHE_HOME": "/x/cache", "HOME": "/home/u"}, "/x/cache/notation-pkcs11"},
		{"HOME", "linux", env{"HOME": "/home/u"}, "/home/u/.cache/notation-pkcs11"},
		{"relative XDG_CACHE_HOME is ignored", "linux", env{"XDG_CACHE_HOME": "rel", "HOME": "/home/u"}, "/home/u/.cache/notation-pkcs11"},
		{"relative HOME", "linux", env{"HOME": "rel"}, ""},
		{"nothing set", "linux", env{"NOTATION_CONFIG": "/c"}, ""},
		{"macOS", "darwin", env{"HOME": "/Users/u", "XDG_CACHE_HOME": "/x"}, "/Users/u/Library/Caches/notation-pkcs11"},
		{"macOS without HOME", "darwin", env{"XDG_CACHE_HOME": "/x"}, ""},
		{"Windows", "windows", env{"LocalAppData": "/appdata", "HOME": "/home/u"}, "/appdata/notation-pkcs11"},
		{"Windows without LocalAppData", "windows", env{"HOME": "/home/u"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := cacheDir(c.goos, c.env.get)
			if c.want == "" {
				if !errors.Is(err, ErrNoCacheDir) {
					t.Fatalf("got %q, %v; want ErrNoCacheDir", got, err)
				}
				return
			}
			if err != nil || got != filepath.FromSlash(c.want) {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// TestCacheDirReadsOnlyGetenv: the process environment is never read.
func TestCacheDirReadsOnlyGetenv(t *testing.T) {
	t.Setenv(CacheEnv, "/process/cache")
	t.Setenv("XDG_CACHE_HOME", "/process/xdg")
	t.Setenv("HOME", "/process/home")
	if got, err := CacheDir(env{}.get); !errors.Is(err, ErrNoCacheDir) {
		t.Errorf("CacheDir(empty env) = %q, %v; want ErrNoCacheDir", got, err)
	}
	if got, err := CacheDir(nil); !errors.Is(err, ErrNoCacheDir) {
		t.Errorf("CacheDir(nil) = %q, %v", got, err)
	}
	if got, err := UserCacheDir(nil); !errors.Is(err, ErrNoCacheDir) {
		t.Errorf("UserCacheDir(nil) = %q, %v", got, err)
	}
}
