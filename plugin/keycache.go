package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

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
// concurrent plugin processes never read a torn entry.
type KeyCache struct {
	// Dir holds the entries; created 0700 on first write.
	Dir string
}

type cacheEntry struct {
	KeySpec      plugin.KeySpec `json:"keySpec"`
	PublicKeySHA string         `json:"publicKeySha256"`
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
func (c *KeyCache) Get(modulePath string, u *pkcs11.URI) (plugin.KeySpec, bool) {
	p, ok := c.path(modulePath, u)
	if !ok {
		return "", false
	}
	f, err := os.Open(p)
	if err != nil {
		return "", false
	}
	defer f.Close()
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
func (c *KeyCache) Put(modulePath string, u *pkcs11.URI, ks plugin.KeySpec, pubDER []byte) {
	p, ok := c.path(modulePath, u)
	if !ok {
		return
	}
	sum := sha256.Sum256(pubDER)
	b, err := json.Marshal(cacheEntry{KeySpec: ks, PublicKeySHA: hex.EncodeToString(sum[:])})
	if err != nil {
		return
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
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

// Drop removes an entry that proved wrong.
func (c *KeyCache) Drop(modulePath string, u *pkcs11.URI) {
	if p, ok := c.path(modulePath, u); ok {
		_ = os.Remove(p)
	}
}

// DefaultStateDir is $NOTATION_PKCS11_CACHE, else notation-pkcs11 under the
// user's cache directory; "" when neither exists. The key-spec cache lives in
// its keys/ folder and the module locks in locks/.
func DefaultStateDir(getenv func(string) string) string {
	if d := getenv("NOTATION_PKCS11_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "notation-pkcs11")
}

// DefaultKeyCacheDir is the keys/ folder of DefaultStateDir.
func DefaultKeyCacheDir(getenv func(string) string) string {
	if d := DefaultStateDir(getenv); d != "" {
		return filepath.Join(d, "keys")
	}
	return ""
}
