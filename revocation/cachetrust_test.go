//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package revocation

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nobody is the uid the tests give cache files to: another user.
const nobody = 65534

// needRoot ends a test that must make files owned by another user, which
// only root can do (CI runs as root).
func needRoot(t *testing.T) {
	t.Helper()
	if euid := os.Geteuid(); euid != 0 {
		t.Skipf("giving a file to uid %d needs root; euid is %d", nobody, euid)
	}
}

// runFix runs a printed fix with sh, as a user would paste it.
func runFix(t *testing.T, fix string) {
	t.Helper()
	if out, err := exec.Command("sh", "-c", fix).CombinedOutput(); err != nil {
		t.Fatalf("the printed fix %q failed: %v\n%s", fix, err, out)
	}
}

func TestCacheFolderTrust(t *testing.T) {
	for _, tc := range []struct {
		name  string
		owner int // -1: the effective user
		mode  os.FileMode
		why   string // in the message
		fix   string // the fix, with DIR for the folder
	}{
		{"owned by another user", nobody, 0o700, "owned by uid 65534, not by the effective user (uid 0)", "chown -R 0 DIR"},
		{"0755 owned by another user", nobody, 0o755, "owned by uid 65534", "chown -R 0 DIR"},
		{"0777 owned by another user", nobody, 0o777, "owned by uid 65534", "chown -R 0 DIR && chmod -R go-w DIR"},
		{"group-writable", -1, 0o770, "writable by other users (mode 0770)", "chmod -R go-w DIR"},
		{"world-writable", -1, 0o777, "writable by other users (mode 0777)", "chmod -R go-w DIR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.owner >= 0 {
				needRoot(t)
			}
			dir := filepath.Join(t.TempDir(), "crl cache") // a space: the fix quotes it
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tc.mode); err != nil {
				t.Fatal(err)
			}
			if tc.owner >= 0 {
				if err := os.Lchown(dir, tc.owner, tc.owner); err != nil {
					t.Fatal(err)
				}
			}
			_, err := New(Options{CacheDir: dir})
			var te *CacheTrustError
			if !errors.Is(err, ErrCacheNotTrusted) || !errors.As(err, &te) {
				t.Fatalf("New accepted the folder: %v", err)
			}
			quoted := "'" + dir + "'"
			wantFix := strings.ReplaceAll(tc.fix, "DIR", quoted)
			if te.Fix() != wantFix {
				t.Errorf("fix %q, want %q", te.Fix(), wantFix)
			}
			for _, s := range []string{"the CRL cache folder " + dir, tc.why, "run: " + wantFix} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q lacks %q", err, s)
				}
			}
			runFix(t, te.Fix())
			if _, err := New(Options{CacheDir: dir}); err != nil {
				t.Fatalf("after the fix: %v", err)
			}
		})
	}
}

// TestCacheFileTrust: each file read from the cache is opened without
// following a symlink and checked on its descriptor; a refused file is
// reported and not used, and the printed fix makes it usable again.
func TestCacheFileTrust(t *testing.T) {
	for _, tc := range []struct {
		name   string
		root   bool
		tamper func(t *testing.T, dir, idx string)
		why    string
		fixed  Status // the offline status after running the fix
	}{
		{"index owned by another user", true, func(t *testing.T, dir, idx string) {
			if err := os.Lchown(idx, nobody, nobody); err != nil {
				t.Fatal(err)
			}
		}, "owned by uid 65534", StatusOK},
		{"index writable by others", false, func(t *testing.T, dir, idx string) {
			if err := os.Chmod(idx, 0o666); err != nil {
				t.Fatal(err)
			}
		}, "writable by other users (mode 0666)", StatusOK},
		{"index is a symlink", false, func(t *testing.T, dir, idx string) {
			if err := os.Rename(idx, filepath.Join(dir, "elsewhere")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("elsewhere", idx); err != nil {
				t.Fatal(err)
			}
		}, "is not a regular file", StatusUnknown},
		{"index is a named pipe", false, func(t *testing.T, dir, idx string) {
			if err := os.Remove(idx); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(idx, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "is not a regular file", StatusUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root {
				needRoot(t)
			}
			w := newWorld(t, worldConfig{leaf: crlOnly})
			want(t, w.check(time.Time{})[0], StatusOK, MethodCRL) // fills the cache
			dir := w.opts.CacheDir
			idx := filepath.Join(dir, cacheKey(w.inter.cert, nil, false)+cacheExt)
			tc.tamper(t, dir, idx)
			var reported []error
			w.opts.Offline = true
			w.opts.OnCacheError = func(err error) { reported = append(reported, err) }
			r := w.check(time.Time{}) // a named pipe is opened non-blocking: no wait
			want(t, r[0], StatusUnknown, MethodCRL, "no cached CRL")
			var te *CacheTrustError
			if len(reported) == 0 || !errors.As(reported[0], &te) || !strings.Contains(reported[0].Error(), idx) ||
				!strings.Contains(reported[0].Error(), tc.why) {
				t.Fatalf("reported %v, want a *CacheTrustError naming %s and %q", reported, idx, tc.why)
			}
			runFix(t, te.Fix())
			reported = nil
			want(t, w.check(time.Time{})[0], tc.fixed, MethodCRL)
			for _, err := range reported {
				if errors.Is(err, ErrCacheNotTrusted) {
					t.Errorf("still refused after the fix: %v", err)
				}
			}
		})
	}
}

// TestCacheFolderKeptOpen: the folder is checked once, on its descriptor,
// and used through it: a folder put at the path afterwards is not used.
func TestCacheFolderKeptOpen(t *testing.T) {
	w := newWorld(t, worldConfig{leaf: crlOnly})
	dir := w.opts.CacheDir
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	c := w.client()
	if err := os.Rename(dir, dir+".checked"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o777); err != nil { // swapped in after the check
		t.Fatal(err)
	}
	want(t, w.checkWith(c, time.Time{}, testNow)[0], StatusOK, MethodCRL)
	if got, _ := filepath.Glob(filepath.Join(dir, "*")); len(got) != 0 {
		t.Errorf("wrote into the folder swapped in: %v", got)
	}
	if got, _ := filepath.Glob(filepath.Join(dir+".checked", "*"+cacheExt)); len(got) != 2 {
		t.Errorf("the checked folder holds %v, want the two CRL indexes", got)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/home/u/.cache/notation-pkcs11/crl": "/home/u/.cache/notation-pkcs11/crl",
		"/tmp/crl cache":                     "'/tmp/crl cache'",
		"/tmp/it's":                          `'/tmp/it'\''s'`,
		"/tmp/$(id)":                         "'/tmp/$(id)'",
		"":                                   "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
		if out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(in)).Output(); err != nil || string(out) != in {
			t.Errorf("sh reads %s as %q (%v), want %q", shellQuote(in), out, err, in)
		}
	}
}
