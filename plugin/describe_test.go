package plugin

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// keyIDVariants are key URIs that name the fake key in unusual but valid
// spellings; the response must echo each byte for byte.
func keyIDVariants() []string {
	return []string{
		keyURI,
		"PKCS11:object=signing-key;token=fake%2Dtoken;id=%01%02",
		"pkcs11:token=fake-token;id=%01%02;x-vendor=ignored",
		"pkcs11:object=signing%2Dkey",
	}
}

func TestDescribeKeyEachKeyType(t *testing.T) {
	for _, kt := range keyTypes() {
		for i, id := range keyIDVariants() {
			t.Run(kt.kt+"/"+id, func(t *testing.T) {
				mod := fakeModule(t)
				b := &fakeBackend{t: t, tok: goodToken(t, kt.kt, i%2 == 0)}
				p := newPlugin(b, stdEnv(mod), nil)
				r := runPlugin(t, p, "describe-key", describeReq(id, nil))
				resp := wantOK[proto.DescribeKeyResponse](t, r)
				if resp.KeyID != id {
					t.Errorf("keyId %q, want exactly %q", resp.KeyID, id)
				}
				if resp.KeySpec != kt.spec {
					t.Errorf("keySpec %q, want %q", resp.KeySpec, kt.spec)
				}
				opens, closes, publics, logins, signs := b.counts()
				if opens != 1 || closes != 1 || publics != 1 || logins != 0 || signs != 0 {
					t.Errorf("opens %d closes %d publicKey %d logins %d signs %d; want 1 1 1 0 0 (no login when the public key is visible)", opens, closes, publics, logins, signs)
				}
				if b.lastOpts.ModulePath != mod {
					t.Errorf("module %q, want %q", b.lastOpts.ModulePath, mod)
				}
			})
		}
	}
}

func TestDescribeKeyErrors(t *testing.T) {
	tests := []struct {
		name  string
		keyID string
		setup func(*fakeToken)
		code  proto.ErrorCode
		want  []string
	}{
		{"not a pkcs11 URI", "token=fake-token;object=signing-key", nil, proto.ErrorCodeValidation, []string{"invalid PKCS#11 URI", `"pkcs11:"`}},
		{"no key selector", "pkcs11:token=fake-token", nil, proto.ErrorCodeValidation, []string{"no key selected"}},
		{"unknown attribute", "pkcs11:token=fake-token;object=k;colour=blue", nil, proto.ErrorCodeValidation, []string{`unknown attribute "colour"`}},
		{"module-name refused", "pkcs11:object=signing-key?module-name=softhsm2", nil, proto.ErrorCodeValidation, []string{"module-name is not supported"}},
		{"relative module-path", "pkcs11:object=signing-key?module-path=lib/x.so", nil, proto.ErrorCodeValidation, []string{"must be an absolute path"}},
		{"no such token", "pkcs11:token=other;object=signing-key", nil, proto.ErrorCodeValidation, []string{"token not found", `"other"`}},
		{"no such key", "pkcs11:token=fake-token;object=nope", nil, proto.ErrorCodeValidation, []string{"key not found", `"nope"`}},
		{"module unusable", keyURI, func(tk *fakeToken) {
			tk.OpenErr = fmt.Errorf("%w: /x.so could not be loaded", pkcs11.ErrModule)
		}, proto.ErrorCodeGeneric, []string{"PKCS#11 module unusable"}},
		{"ambiguous", keyURI, func(tk *fakeToken) {
			tk.OpenErr = fmt.Errorf("%w: 2 tokens match", pkcs11.ErrAmbiguous)
		}, proto.ErrorCodeValidation, []string{"ambiguous PKCS#11 URI"}},
		{"open times out", keyURI, func(tk *fakeToken) { tk.Hang = hangOpen }, proto.ErrorCodeTimeout, []string{"did not answer in time", "loading the module"}},
		{"public key read times out (no PIN)", keyURI, func(tk *fakeToken) { tk.Hang = hangPublic }, proto.ErrorCodeTimeout, []string{"reading the public key"}},
		{"unsupported key", keyURI, func(tk *fakeToken) {
			tk.Signer = loadSigner(t, "bad/rsa-1024.key")
		}, proto.ErrorCodeValidation, []string{"unsupported key", "RSA 1024 bits", `"fake-token"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := goodToken(t, "ec-256", false)
			if tc.setup != nil {
				tc.setup(tok)
			}
			b := &fakeBackend{t: t, tok: tok}
			e := stdEnv(fakeModule(t))
			delete(e, pkcs11.PINEnv)
			p := newPlugin(b, e, nil)
			r := runPlugin(t, p, "describe-key", describeReq(tc.keyID, map[string]string{ConfigTimeout: "50ms"}))
			wantError(t, r, tc.code, tc.want...)
			if n := b.unclosed(); n != 0 {
				t.Errorf("%d opened tokens were not closed", n)
			}
		})
	}
}

// TestDescribeKeyHiddenPublicKey: a token that keeps public keys private is
// read by logging in, when a PIN is at hand.
func TestDescribeKeyHiddenPublicKey(t *testing.T) {
	pinDir := t.TempDir()
	goodPINFile := filepath.Join(pinDir, "pin")
	if err := os.WriteFile(goodPINFile, []byte(testPIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	loosePINFile := filepath.Join(pinDir, "pin-loose")
	if err := os.WriteFile(loosePINFile, []byte(testPIN), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loosePINFile, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		kt     string
		keyID  string
		pin    string // NOTATION_PKCS11_PIN; "" unset
		code   proto.ErrorCode
		want   []string
		logins int
	}{
		{"PIN from env, RSA", "rsa-3072", keyURI, testPIN, "", nil, 1},
		{"PIN from env, EC", "ec-521", keyURI, testPIN, "", nil, 1},
		{"PIN from pin-source", "ec-384", keyURI + "?pin-source=file:" + goodPINFile, "", "", nil, 1},
		{"no PIN", "ec-256", keyURI, "", proto.ErrorCodeValidation, []string{"key not found"}, 0},
		{"wrong PIN", "ec-256", keyURI, wrongPIN, proto.ErrorCodeAccessDenied, []string{"token login failed", "PIN is incorrect"}, 1},
		// The user named a PIN file; saying only "key not found" hides why it
		// was not used.
		{"unusable pin-source", "ec-256", keyURI + "?pin-source=file:" + loosePINFile, "", proto.ErrorCodeValidation, []string{"key not found", "pin-source", "chmod 600"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := goodToken(t, tc.kt, false)
			tok.HidePublic = true
			b := &fakeBackend{t: t, tok: tok}
			e := stdEnv(fakeModule(t))
			if tc.pin == "" {
				delete(e, pkcs11.PINEnv)
			} else {
				e[pkcs11.PINEnv] = tc.pin
			}
			p := newPlugin(b, e, nil)
			r := runPlugin(t, p, "describe-key", describeReq(tc.keyID, nil))
			if tc.code == "" {
				resp := wantOK[proto.DescribeKeyResponse](t, r)
				if want := keyTypeOf(t, tc.kt).spec; resp.KeySpec != want || resp.KeyID != tc.keyID {
					t.Errorf("response %+v, want keySpec %s and keyId %q", resp, want, tc.keyID)
				}
			} else {
				wantError(t, r, tc.code, tc.want...)
			}
			// A login takes the exclusive module lock on the token already
			// open: one module handle per process (issue 16).
			opens, closes, publics, logins, signs := b.counts()
			if opens != 1 || closes != 1 || publics != 1 || logins != tc.logins || signs != 0 {
				t.Errorf("opens %d closes %d publicKey %d logins %d signs %d; want 1 1 1 %d 0", opens, closes, publics, logins, signs, tc.logins)
			}
		})
	}
}

// A module that hangs while the public key is read must be reported as that
// time-out; the plugin must not go on to log in to the stuck token.
func TestDescribeKeyTimeoutDoesNotLogIn(t *testing.T) {
	tok := goodToken(t, "ec-256", false)
	tok.Hang = hangPublic
	b := &fakeBackend{t: t, tok: tok}
	p := newPlugin(b, stdEnv(fakeModule(t)), nil)
	start := time.Now()
	r := runPlugin(t, p, "describe-key", describeReq(keyURI, map[string]string{ConfigTimeout: "50ms"}))
	wantError(t, r, proto.ErrorCodeTimeout, "reading the public key", "50ms")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s despite timeout=50ms", d)
	}
	if _, _, _, logins, _ := b.counts(); logins != 0 {
		t.Errorf("logged in %d times after the public-key read timed out", logins)
	}
	if b.lastOpts.Timeout != 50*time.Millisecond {
		t.Errorf("backend timeout %s, want the pluginConfig 50ms", b.lastOpts.Timeout)
	}
}

func TestDescribeKeyCache(t *testing.T) {
	for _, kt := range keyTypes() {
		t.Run(kt.kt, func(t *testing.T) {
			mod := fakeModule(t)
			cache := &KeyCache{Dir: filepath.Join(t.TempDir(), "keys")}
			b := &fakeBackend{t: t, tok: goodToken(t, kt.kt, true)}
			p := newPlugin(b, stdEnv(mod), cache)

			// generate-signature confirms the key spec and records it.
			r := runPlugin(t, p, "generate-signature", signReq(keyURI, kt, nil))
			wantOK[proto.GenerateSignatureResponse](t, r)
			if got, ok := cache.Get(mod, mustURI(t, keyURI)); !ok || got != kt.spec {
				t.Fatalf("cache after generate-signature: %q %v, want %q", got, ok, kt.spec)
			}

			// A plugin whose backend must not be opened answers from the cache.
			cached := newPlugin(noBackend(t), stdEnv(mod), cache)
			for _, id := range []string{keyURI, keyURI + "?pin-source=file:/elsewhere/pin"} {
				resp := wantOK[proto.DescribeKeyResponse](t, runPlugin(t, cached, "describe-key", describeReq(id, nil)))
				if resp.KeySpec != kt.spec || resp.KeyID != id {
					t.Errorf("cached response %+v, want %s for %q", resp, kt.spec, id)
				}
			}

			// key_cache=off reads the key again.
			before := b.opened()
			resp := wantOK[proto.DescribeKeyResponse](t, runPlugin(t, p, "describe-key", describeReq(keyURI, map[string]string{ConfigKeyCache: "off"})))
			if resp.KeySpec != kt.spec {
				t.Errorf("keySpec %q, want %q", resp.KeySpec, kt.spec)
			}
			if b.opened() != before+1 {
				t.Errorf("key_cache=off did not open the token")
			}

			// A different key URI or module misses.
			other := fakeModule(t)
			for _, c := range []struct {
				id  string
				env env
			}{
				{"pkcs11:token=fake-token;object=signing-key", stdEnv(mod)},
				{keyURI, stdEnv(other)},
			} {
				before := b.opened()
				p2 := newPlugin(b, c.env, cache)
				resp := wantOK[proto.DescribeKeyResponse](t, runPlugin(t, p2, "describe-key", describeReq(c.id, nil)))
				if resp.KeySpec != kt.spec {
					t.Errorf("keySpec %q, want %q", resp.KeySpec, kt.spec)
				}
				if b.opened() != before+1 {
					t.Errorf("%s with module %s answered from a cache entry of another key", c.id, c.env[ModuleEnv])
				}
			}
		})
	}
}

// key_cache=off neither reads nor writes the cache.
func TestKeyCacheOffWritesNothing(t *testing.T) {
	mod := fakeModule(t)
	dir := filepath.Join(t.TempDir(), "keys")
	cache := &KeyCache{Dir: dir}
	b := &fakeBackend{t: t, tok: goodToken(t, "ec-384", true)}
	p := newPlugin(b, stdEnv(mod), cache)
	off := map[string]string{ConfigKeyCache: "off"}
	wantOK[proto.DescribeKeyResponse](t, runPlugin(t, p, "describe-key", describeReq(keyURI, off)))
	wantOK[proto.GenerateSignatureResponse](t, runPlugin(t, p, "generate-signature", signReq(keyURI, keyTypeOf(t, "ec-384"), off)))
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("key_cache=off wrote %d cache files", len(entries))
	}
	// A warm cache is bypassed too.
	cache.Put(mod, mustURI(t, keyURI), proto.KeySpecRSA4096, []byte("stale"))
	resp := wantOK[proto.DescribeKeyResponse](t, runPlugin(t, p, "describe-key", describeReq(keyURI, off)))
	if resp.KeySpec != proto.KeySpecEC384 {
		t.Errorf("key_cache=off answered %q from the cache, want EC-384 from the key", resp.KeySpec)
	}
}

func mustURI(t testing.TB, s string) *pkcs11.URI {
	t.Helper()
	u, err := pkcs11.ParseURI(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
