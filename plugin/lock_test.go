package plugin

import (
	"path/filepath"
	"strings"
	"testing"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
)

// The module lock: shared to read public objects, exclusive to log in and
// sign, one lock file per module under Options.LockDir, none when hsm_lock
// is off or no LockDir is set.
func TestModuleLockOptions(t *testing.T) {
	lockDir := filepath.Join(t.TempDir(), "locks")
	tests := []struct {
		name      string
		lockDir   string
		cfg       map[string]string
		command   proto.Command
		locked    bool
		exclusive bool
	}{
		{"describe-key takes the shared lock", lockDir, nil, proto.CommandDescribeKey, true, false},
		{"generate-signature takes the exclusive lock", lockDir, nil, proto.CommandGenerateSignature, true, true},
		{"hsm_lock on", lockDir, map[string]string{ConfigHSMLock: "on"}, proto.CommandGenerateSignature, true, true},
		{"hsm_lock off: describe-key", lockDir, map[string]string{ConfigHSMLock: "off"}, proto.CommandDescribeKey, false, false},
		{"hsm_lock off: generate-signature", lockDir, map[string]string{ConfigHSMLock: "off"}, proto.CommandGenerateSignature, false, true},
		{"no LockDir", "", nil, proto.CommandGenerateSignature, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mod := fakeModule(t)
			b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", true)}
			p := New(Options{Version: "1.2.3", Backend: b, Getenv: stdEnv(mod).get, Now: testpki.Epoch, LockDir: tc.lockDir})
			var req any = describeReq(keyURI, tc.cfg)
			if tc.command == proto.CommandGenerateSignature {
				req = signReq(keyURI, keyTypeOf(t, "ec-256"), tc.cfg)
			}
			r := runPlugin(t, p, string(tc.command), req)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			lf := b.lastOpts.LockFile
			switch {
			case !tc.locked && lf != "":
				t.Errorf("lock file %q, want none", lf)
			case tc.locked && (filepath.Dir(lf) != tc.lockDir || !strings.HasSuffix(lf, ".lock")):
				t.Errorf("lock file %q, want a .lock file in %s", lf, tc.lockDir)
			}
			if b.lastOpts.Exclusive != tc.exclusive {
				t.Errorf("exclusive %v, want %v", b.lastOpts.Exclusive, tc.exclusive)
			}
		})
	}
	t.Run("one lock file per module", func(t *testing.T) {
		lockFile := func(mod string) string {
			b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", false)}
			p := New(Options{Backend: b, Getenv: stdEnv(mod).get, LockDir: lockDir})
			wantOK[proto.DescribeKeyResponse](t, runPlugin(t, p, "describe-key", describeReq(keyURI, nil)))
			return b.lastOpts.LockFile
		}
		m1, m2 := fakeModule(t), fakeModule(t)
		if a, b := lockFile(m1), lockFile(m1); a != b || a == "" {
			t.Errorf("same module, lock files %q and %q", a, b)
		}
		if a, b := lockFile(m1), lockFile(m2); a == b {
			t.Errorf("different modules share the lock file %q", a)
		}
	})
	t.Run("hsm_lock invalid", func(t *testing.T) {
		p := New(Options{Backend: noBackend(t), Getenv: stdEnv(fakeModule(t)).get, LockDir: lockDir})
		wantError(t, runPlugin(t, p, "describe-key", describeReq(keyURI, map[string]string{ConfigHSMLock: "no"})),
			proto.ErrorCodeValidation, "hsm_lock", `"no"`, "on or off")
	})
}

// Logging in needs the exclusive module lock (pkcs11.Options.Exclusive:
// "logging in and signing"), also when describe-key has to log in because
// the token hides its public keys.
func TestLoginAlwaysUnderExclusiveLock(t *testing.T) {
	for _, command := range []proto.Command{proto.CommandDescribeKey, proto.CommandGenerateSignature} {
		t.Run(string(command), func(t *testing.T) {
			tok := goodToken(t, "ec-256", true)
			tok.HidePublic = true
			b := &fakeBackend{t: t, tok: tok}
			p := New(Options{Backend: b, Getenv: stdEnv(fakeModule(t)).get, Now: testpki.Epoch, LockDir: filepath.Join(t.TempDir(), "locks")})
			var req any = describeReq(keyURI, nil)
			if command == proto.CommandGenerateSignature {
				req = signReq(keyURI, keyTypeOf(t, "ec-256"), nil)
			}
			r := runPlugin(t, p, string(command), req)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			b.mu.Lock()
			logins, shared := b.logins, b.sharedLogins
			b.mu.Unlock()
			if logins == 0 {
				t.Fatal("no login happened")
			}
			if shared != 0 {
				t.Errorf("%d of %d logins happened under the shared module lock; logging in needs the exclusive lock", shared, logins)
			}
			if n := b.unclosed(); n != 0 {
				t.Errorf("%d tokens left open", n)
			}
		})
	}
}
