package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/internal/userdirs"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// KeyCache remembers the key spec of each key URI so that describe-key can
// answer without loading the PKCS#11 module. It holds no secret: an entry is
// the key spec and the SHA-256 of the public key. generate-signature always
// re-derives the key spec from the real key and replaces or drops the entry.
//
// Entries are keyed by the module path, the module file's size and
// modification time, and the URI's token and key attributes, so a changed
// module or a different URI misses. Writes are atomic (rename), so
// concurrent plugin processes never read a torn entry. Only entries this
// user wrote are used: the folder must be the effective user's and not
// writable by group or others, and so must each entry (a regular file).
type KeyCache struct {
	// Dir holds the entries; created 0700 on first write.
	Dir string
}

type cacheEntry struct {
	KeySpec      proto.KeySpec `json:"keySpec"`
	PublicKeySHA string        `json:"publicKeySha256"`
}

func (c *KeyCache) path(modulePath string, u *pkcs11.URI) (string, bool) {
	if c == nil || c.Dir == "" {
		return "", false
	}
	st, err := os.Stat(modulePath)
	if err != nil {
		return "", false
	}
	sel := *u
	sel.PINSource = "" // where the PIN lives does not change the key
	sel.ModulePath = ""
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s", modulePath, st.Size(), st.ModTime().UnixNano(), sel.String())
	return filepath.Join(c.Dir, hex.EncodeToString(h.Sum(nil))+".json"), true
}

// Get returns the cached key spec, if a valid entry exists.
func (c *KeyCache) Get(modulePath string, u *pkcs11.URI) (proto.KeySpec, bool) {
	p, ok := c.path(modulePath, u)
	if !ok {
		return "", false
	}
	if !c.trustedDir() {
		return "", false
	}
	// Opened first, then checked: no symbolic link, no FIFO to hang on,
	// only an entry this user wrote.
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", false
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !ownPrivate(st, false) {
		return "", false
	}
	var e cacheEntry
	if err := json.NewDecoder(io.LimitReader(f, 4096)).Decode(&e); err != nil {
		return "", false
	}
	if _, err := pki.AlgorithmFor(e.KeySpec); err != nil {
		return "", false
	}
	return e.KeySpec, true
}

// Put records the key spec of the real key. Failures are ignored: the cache
// only saves time.
func (c *KeyCache) Put(modulePath string, u *pkcs11.URI, ks proto.KeySpec, pubDER []byte) {
	p, ok := c.path(modulePath, u)
	if !ok {
		return
	}
	sum := sha256.Sum256(pubDER)
	b, err := json.Marshal(cacheEntry{KeySpec: ks, PublicKeySHA: hex.EncodeToString(sum[:])})
	if err != nil {
		return
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil || !c.trustedDir() {
		return
	}
	tmp, err := os.CreateTemp(c.Dir, ".entry-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), p) != nil {
		_ = os.Remove(tmp.Name())
	}
}

// trustedDir reports whether the cache folder is a real folder (not a
// symbolic link) of this user that group and others cannot write; entries
// anyone else could have written are not used.
func (c *KeyCache) trustedDir() bool {
	st, err := os.Lstat(c.Dir)
	return err == nil && st.IsDir() && ownPrivate(st, true)
}

// ownPrivate reports whether st is owned by the effective user and not
// writable by group or others (a regular file, unless dir).
func ownPrivate(st os.FileInfo, dir bool) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Geteuid() && st.Mode().Perm()&0o022 == 0 && (dir || st.Mode().IsRegular())
}

// Drop removes an entry that proved wrong.
func (c *KeyCache) Drop(modulePath string, u *pkcs11.URI) {
	if p, ok := c.path(modulePath, u); ok {
		_ = os.Remove(p)
	}
}

// DefaultStateDir is internal/userdirs.CacheDir: $NOTATION_PKCS11_CACHE
// (from getenv), else notation-pkcs11 under the user's cache directory
// (XDG_CACHE_HOME and HOME from the process environment, as
// os.UserCacheDir); "" when neither exists. The key-spec cache lives in its
// keys/ folder and the module locks in locks/.
func DefaultStateDir(getenv func(string) string) string {
	d, err := userdirs.CacheDir(func(k string) string {
		if k == userdirs.CacheEnv {
			return getenv(k)
		}
		return os.Getenv(k)
	})
	if err != nil {
		return ""
	}
	return d
}

// DefaultKeyCacheDir is the keys/ folder of DefaultStateDir.
func DefaultKeyCacheDir(getenv func(string) string) string {
	if d := DefaultStateDir(getenv); d != "" {
		return filepath.Join(d, "keys")
	}
	return ""
}
