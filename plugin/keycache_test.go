package plugin

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"
	"golang.org/x/sys/unix"
)

// cacheFiles lists the entries of a cache directory.
func cacheFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestKeyCacheRoundTrip(t *testing.T) {
	for _, kt := range keyTypes() {
		t.Run(kt.kt, func(t *testing.T) {
			mod := fakeModule(t)
			dir := filepath.Join(t.TempDir(), "state", "keys")
			c := &KeyCache{Dir: dir}
			u := mustURI(t, keyURI)
			if ks, ok := c.Get(mod, u); ok {
				t.Fatalf("empty cache answered %q", ks)
			}
			c.Put(mod, u, kt.spec, []byte("public key DER"))
			ks, ok := c.Get(mod, u)
			if !ok || ks != kt.spec {
				t.Fatalf("Get = %q %v, want %q", ks, ok, kt.spec)
			}
			// The PIN source and the spelling of the URI do not matter;
			// a module-path in the URI is keyed by the module argument.
			for _, same := range []string{
				keyURI + "?pin-source=file:/some/pin",
				"pkcs11:id=%01%02;object=signing-key;token=fake-token",
				keyURI + "?module-path=/ignored/in/favour/of/the/argument.so",
			} {
				if ks, ok := c.Get(mod, mustURI(t, same)); !ok || ks != kt.spec {
					t.Errorf("Get(%s) = %q %v, want a hit", same, ks, ok)
				}
			}
			// Overwrite.
			c.Put(mod, u, proto.KeySpecEC521, nil)
			if ks, _ := c.Get(mod, u); ks != proto.KeySpecEC521 {
				t.Errorf("after overwrite Get = %q", ks)
			}
			// Drop.
			c.Drop(mod, u)
			if ks, ok := c.Get(mod, u); ok {
				t.Errorf("after Drop Get = %q", ks)
			}
			c.Drop(mod, u) // dropping a missing entry is harmless
		})
	}
}

func TestKeyCachePermissions(t *testing.T) {
	mod := fakeModule(t)
	dir := filepath.Join(t.TempDir(), "a", "b", "keys")
	c := &KeyCache{Dir: dir}
	c.Put(mod, mustURI(t, keyURI), proto.KeySpecEC256, []byte("pub"))
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o700 {
		t.Errorf("cache dir mode %04o, want 0700", perm)
	}
	files := cacheFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("cache files %q, want one entry", files)
	}
	if !strings.HasSuffix(files[0], ".json") || strings.HasPrefix(files[0], ".") {
		t.Errorf("entry %q is not a finished .json entry", files[0])
	}
	fst, err := os.Stat(filepath.Join(dir, files[0]))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fst.Mode().Perm(); perm != 0o600 {
		t.Errorf("entry mode %04o, want 0600", perm)
	}
	// The entry holds no secret and not the public key itself.
	data, err := os.ReadFile(filepath.Join(dir, files[0]))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"keySpec":"EC-256"`) || strings.Contains(string(data), "pub\"") {
		t.Errorf("entry %s", data)
	}
}

func TestKeyCacheMisses(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, mod string) (string, string) // module and URI to look up
	}{
		{"different object", func(t *testing.T, mod string) (string, string) {
			return mod, "pkcs11:token=fake-token;object=other-key;id=%01%02"
		}},
		{"different id", func(t *testing.T, mod string) (string, string) {
			return mod, "pkcs11:token=fake-token;object=signing-key;id=%01%03"
		}},
		{"different token", func(t *testing.T, mod string) (string, string) {
			return mod, "pkcs11:token=other-token;object=signing-key;id=%01%02"
		}},
		{"token selected by serial", func(t *testing.T, mod string) (string, string) {
			return mod, "pkcs11:serial=0001;object=signing-key;id=%01%02"
		}},
		{"different module file", func(t *testing.T, mod string) (string, string) {
			return fakeModule(t), keyURI
		}},
		{"module mtime changed", func(t *testing.T, mod string) (string, string) {
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(mod, later, later); err != nil {
				t.Fatal(err)
			}
			return mod, keyURI
		}},
		{"module size changed", func(t *testing.T, mod string) (string, string) {
			st, err := os.Stat(mod)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(mod, []byte("a rebuilt module, longer than before"), 0o755); err != nil {
				t.Fatal(err)
			}
			// Keep the mtime, so that only the size differs.
			if err := os.Chtimes(mod, st.ModTime(), st.ModTime()); err != nil {
				t.Fatal(err)
			}
			return mod, keyURI
		}},
		{"module removed", func(t *testing.T, mod string) (string, string) {
			if err := os.Remove(mod); err != nil {
				t.Fatal(err)
			}
			return mod, keyURI
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mod := fakeModule(t)
			c := &KeyCache{Dir: t.TempDir()}
			c.Put(mod, mustURI(t, keyURI), proto.KeySpecRSA2048, []byte("pub"))
			if _, ok := c.Get(mod, mustURI(t, keyURI)); !ok {
				t.Fatal("no hit before the change")
			}
			m, id := tc.change(t, mod)
			if ks, ok := c.Get(m, mustURI(t, id)); ok {
				t.Errorf("Get(%s, %s) = %q, want a miss", m, id, ks)
			}
		})
	}
}

func TestKeyCacheCorruptEntries(t *testing.T) {
	tests := []struct {
		name    string
		content string
	}{
		{"garbage", "\x00\x01garbage"},
		{"empty", ""},
		{"truncated JSON", `{"keySpec":"EC-2`},
		{"unknown key spec", `{"keySpec":"RSA-1024","publicKeySha256":"00"}`},
		{"empty key spec", `{"keySpec":"","publicKeySha256":"00"}`},
		{"wrong type", `{"keySpec":256}`},
		{"array", `["EC-256"]`},
		{"huge", `{"keySpec":"EC-256","x":"` + strings.Repeat("a", 8192) + `"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mod := fakeModule(t)
			dir := t.TempDir()
			c := &KeyCache{Dir: dir}
			u := mustURI(t, keyURI)
			c.Put(mod, u, proto.KeySpecEC256, []byte("pub"))
			files := cacheFiles(t, dir)
			if len(files) != 1 {
				t.Fatalf("files %q", files)
			}
			if err := os.WriteFile(filepath.Join(dir, files[0]), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if ks, ok := c.Get(mod, u); ok {
				t.Errorf("corrupt entry answered %q", ks)
			}
			// describe-key then reads the key and repairs the entry.
			b := &fakeBackend{t: t, tok: goodToken(t, "ec-384", false)}
			p := newPlugin(b, stdEnv(mod), c)
			resp := wantOK[proto.DescribeKeyResponse](t, runPlugin(t, p, "describe-key", describeReq(keyURI, nil)))
			if resp.KeySpec != proto.KeySpecEC384 || b.opened() != 1 {
				t.Errorf("describe-key %+v with %d opens, want EC-384 read from the key", resp, b.opened())
			}
		})
	}
}

// A nil cache, or one without a directory, is disabled.
func TestKeyCacheDisabled(t *testing.T) {
	mod := fakeModule(t)
	u := mustURI(t, keyURI)
	for _, c := range []*KeyCache{nil, {Dir: ""}} {
		c.Put(mod, u, proto.KeySpecEC256, []byte("pub"))
		if ks, ok := c.Get(mod, u); ok {
			t.Errorf("disabled cache %v answered %q", c, ks)
		}
		c.Drop(mod, u)
	}
	// An unwritable location is ignored (the cache only saves time).
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &KeyCache{Dir: filepath.Join(file, "keys")}
	c.Put(mod, u, proto.KeySpecEC256, []byte("pub"))
	if _, ok := c.Get(mod, u); ok {
		t.Error("cache under a regular file answered")
	}
	b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", true)}
	p := newPlugin(b, stdEnv(mod), c)
	wantOK[proto.GenerateSignatureResponse](t, runPlugin(t, p, "generate-signature", signReq(keyURI, keyTypeOf(t, "ec-256"), nil)))
}

// Concurrent writers never leave a torn entry: every Get sees a whole
// entry or none, and no temporary file is left behind.
func TestKeyCacheConcurrentPut(t *testing.T) {
	mod := fakeModule(t)
	dir := t.TempDir()
	c := &KeyCache{Dir: dir}
	u := mustURI(t, keyURI)
	valid := map[proto.KeySpec]bool{}
	for _, kt := range keyTypes() {
		valid[kt.spec] = true
	}
	const writers = 20
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var bad []string
	var mu sync.Mutex
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if ks, ok := c.Get(mod, u); ok && !valid[ks] {
					mu.Lock()
					bad = append(bad, string(ks))
					mu.Unlock()
				}
			}
		}()
	}
	var pw sync.WaitGroup
	for i := 0; i < writers; i++ {
		pw.Add(1)
		go func(i int) {
			defer pw.Done()
			kt := keyTypes()[i%len(keyTypes())]
			for j := 0; j < 25; j++ {
				c.Put(mod, u, kt.spec, []byte(fmt.Sprintf("key %d", i)))
			}
		}(i)
	}
	pw.Wait()
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("Get returned invalid key specs: %q", bad)
	}
	ks, ok := c.Get(mod, u)
	if !ok || !valid[ks] {
		t.Errorf("final Get = %q %v", ks, ok)
	}
	files := cacheFiles(t, dir)
	if len(files) != 1 || strings.HasPrefix(files[0], ".") {
		t.Errorf("cache dir holds %q, want exactly one entry and no temporary files", files)
	}
}

func TestDefaultKeyCacheDir(t *testing.T) {
	if got := DefaultKeyCacheDir(env{"NOTATION_PKCS11_CACHE": "/var/cache/np"}.get); got != filepath.Join("/var/cache/np", "keys") {
		t.Errorf("with NOTATION_PKCS11_CACHE: %q", got)
	}
	xdg := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", xdg)
	if got := DefaultKeyCacheDir(env{}.get); got != filepath.Join(xdg, "notation-pkcs11", "keys") {
		t.Errorf("without NOTATION_PKCS11_CACHE: %q, want under %s", got, xdg)
	}
	// Neither a cache variable nor a home: no cache.
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	if got := DefaultKeyCacheDir(env{}.get); got != "" {
		t.Errorf("without any cache location: %q, want \"\"", got)
	}
}

// Entries someone else could have written are not used (quality bar: files
// we trust are ours): an entry of another user, one that group or others
// may write, a symbolic link, a FIFO (which must not hang Get), and any
// entry in a folder that others may write or that is not ours. Then
// describe-key reads the key itself.
func TestKeyCacheUntrustedEntries(t *testing.T) {
	for _, tc := range []struct {
		name   string
		root   bool // needs root (chown)
		change func(t *testing.T, dir, entry string)
	}{
		{"entry of another user", true, func(t *testing.T, dir, entry string) { mustDo(t, os.Chown(entry, 65534, 65534)) }},
		{"entry writable by others", false, func(t *testing.T, dir, entry string) { mustDo(t, os.Chmod(entry, 0o606)) }},
		{"entry a symlink", false, func(t *testing.T, dir, entry string) {
			other := filepath.Join(t.TempDir(), "planted.json")
			mustDo(t, os.WriteFile(other, []byte(`{"keySpec":"EC-256","publicKeySha256":"00"}`), 0o600))
			mustDo(t, os.Remove(entry))
			mustDo(t, os.Symlink(other, entry))
		}},
		{"entry a FIFO", false, func(t *testing.T, dir, entry string) {
			mustDo(t, os.Remove(entry))
			mustDo(t, unix.Mkfifo(entry, 0o600))
		}},
		{"folder writable by others", false, func(t *testing.T, dir, entry string) { mustDo(t, os.Chmod(dir, 0o777)) }},
		{"folder of another user", true, func(t *testing.T, dir, entry string) { mustDo(t, os.Chown(dir, 65534, 65534)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Geteuid() != 0 {
				t.Skip("giving a file to another user needs root (CI runs as root)")
			}
			mod := fakeModule(t)
			dir := filepath.Join(t.TempDir(), "keys")
			c := &KeyCache{Dir: dir}
			u := mustURI(t, keyURI)
			c.Put(mod, u, proto.KeySpecEC256, []byte("pub"))
			entry, _ := c.path(mod, u)
			tc.change(t, dir, entry)
			if ks, ok := c.Get(mod, u); ok {
				t.Fatalf("untrusted entry answered %q", ks)
			}
			b := &fakeBackend{t: t, tok: goodToken(t, "ec-384", false)}
			p := newPlugin(b, stdEnv(mod), c)
			resp := wantOK[proto.DescribeKeyResponse](t, runPlugin(t, p, "describe-key", describeReq(keyURI, nil)))
			if resp.KeySpec != proto.KeySpecEC384 || b.opened() != 1 {
				t.Errorf("describe-key %+v with %d opens, want EC-384 read from the key", resp, b.opened())
			}
		})
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
