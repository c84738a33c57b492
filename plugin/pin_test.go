package plugin

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// A PIN in pluginConfig is refused without echoing it, before any HSM is
// touched: notation stores pluginConfig in plaintext and logs it with -d.
func TestPINInPluginConfigRefused(t *testing.T) {
	keys := []string{"pin", "PIN", "user_pin", "password", "Pin", "userPin", "so_pin", "PASSWORD", "token_password", "pin-source"}
	for _, key := range keys {
		for _, command := range []proto.Command{proto.CommandDescribeKey, proto.CommandGenerateSignature} {
			t.Run(key+"/"+string(command), func(t *testing.T) {
				cfg := map[string]string{key: configPIN}
				var req any = describeReq(keyURI, cfg)
				if command == proto.CommandGenerateSignature {
					req = signReq(keyURI, keyTypes()[3], cfg)
				}
				p := newPlugin(noBackend(t), stdEnv(fakeModule(t)), nil)
				msg := wantError(t, runPlugin(t, p, string(command), req), proto.ErrorCodeValidation,
					`"`+key+`"`, "plaintext", "pin-source", pkcs11.PINEnv)
				if strings.Contains(msg, configPIN) {
					t.Errorf("message echoes the PIN: %s", msg)
				}
			})
		}
	}
	// Next to valid keys, and with the PIN value also in a valid key's
	// neighbour: still refused, still not echoed.
	t.Run("among valid keys", func(t *testing.T) {
		cfg := map[string]string{ConfigTimeout: "5s", ConfigKeyCache: "on", "user_pin": configPIN}
		p := newPlugin(noBackend(t), stdEnv(fakeModule(t)), nil)
		wantError(t, runPlugin(t, p, "describe-key", describeReq(keyURI, cfg)), proto.ErrorCodeValidation, "user_pin", "plaintext")
	})
}

// pin-value in the key URI is refused without echoing it.
func TestPINValueInURIRefused(t *testing.T) {
	ids := []string{
		keyURI + "?pin-value=" + uriPIN,
		"pkcs11:token=fake-token;object=signing-key?module-path=/opt/x.so&pin-value=" + uriPIN,
		"PKCS11:object=signing-key?PIN-VALUE=" + uriPIN,
		"pkcs11:object=signing-key?pin-value=" + uriPIN + "&pin-value=" + uriPIN,
		"pkcs11:object=signing-key?pin-source=file:/etc/pin&pin-value=" + uriPIN,
	}
	for _, id := range ids {
		for _, command := range []proto.Command{proto.CommandDescribeKey, proto.CommandGenerateSignature} {
			t.Run(string(command), func(t *testing.T) {
				var req any = describeReq(id, nil)
				if command == proto.CommandGenerateSignature {
					req = signReq(id, keyTypes()[3], nil)
				}
				p := newPlugin(noBackend(t), stdEnv(fakeModule(t)), nil)
				msg := wantError(t, runPlugin(t, p, string(command), req), proto.ErrorCodeValidation,
					"pin-value is refused", "plaintext", "pin-source", pkcs11.PINEnv)
				if strings.Contains(msg, uriPIN) {
					t.Errorf("message echoes the PIN: %s", msg)
				}
			})
		}
	}
}

// A PIN that lands somewhere else in a bad key id is not echoed either.
func TestMalformedKeyIDDoesNotEchoPIN(t *testing.T) {
	ids := []string{
		"token=fake-token;object=signing-key?pin-value=" + uriPIN,     // no scheme
		"pkcs11:token=fake-token;pin-value=" + uriPIN + ";object=key", // in the path part
		"pkcs11:object=key;id=?pin-value=" + uriPIN,                   // empty id first
		"pkcs11:object=key?pin-value=" + uriPIN + "&module-name=x",    // two problems
	}
	for _, id := range ids {
		t.Run(id[:12], func(t *testing.T) {
			p := newPlugin(noBackend(t), stdEnv(fakeModule(t)), nil)
			msg := wantError(t, runPlugin(t, p, "describe-key", describeReq(id, nil)), proto.ErrorCodeValidation, "invalid PKCS#11 URI")
			if strings.Contains(msg, uriPIN) {
				t.Errorf("message echoes the PIN: %s", msg)
			}
		})
	}
}

// envCheckBackend records, when the module would load, whether the PIN
// variable is still in the environment and what a process started then
// (as a module may start one) sees of it.
type envCheckBackend struct {
	*fakeBackend
	set   bool
	child string
}

func (b *envCheckBackend) Open(ctx context.Context, u *pkcs11.URI, opts pkcs11.Options) (Token, error) {
	_, b.set = os.LookupEnv(pkcs11.PINEnv)
	out, err := exec.Command("sh", "-c", `printf %s "${`+pkcs11.PINEnv+`-unset}"`).Output()
	if err != nil {
		b.t.Fatal(err)
	}
	b.child = string(out)
	return b.fakeBackend.Open(ctx, u, opts)
}

// TestPINEnvNotInherited (regression, issue 12 #7): NOTATION_PKCS11_PIN
// stayed in the environment that the module, and any process it starts,
// inherit. New takes it out of the environment before any module loads
// (describe-key loads the module before it knows whether it needs the
// PIN), and the PIN still reaches the token.
func TestPINEnvNotInherited(t *testing.T) {
	for _, command := range []proto.Command{proto.CommandDescribeKey, proto.CommandGenerateSignature} {
		t.Run(string(command), func(t *testing.T) {
			t.Setenv(ModuleEnv, fakeModule(t))
			t.Setenv(pkcs11.PINEnv, testPIN)
			tok := goodToken(t, "ec-256", true)
			tok.HidePublic = true // describe-key has to log in
			b := &envCheckBackend{fakeBackend: &fakeBackend{t: t, tok: tok}}
			p := New(Options{Backend: b, Now: testpki.Epoch})
			if _, ok := os.LookupEnv(pkcs11.PINEnv); ok {
				t.Errorf("%s is still set after New", pkcs11.PINEnv)
			}
			var req any = describeReq(keyURI, nil)
			if command == proto.CommandGenerateSignature {
				req = signReq(keyURI, keyTypeOf(t, "ec-256"), nil)
			}
			if r := runPlugin(t, p, string(command), req); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if b.set || b.child != "unset" {
				t.Errorf("when the module loaded, %s was set: %v; a child saw %d bytes of it", pkcs11.PINEnv, b.set, len(b.child))
			}
			if _, _, _, logins, _ := b.counts(); logins == 0 {
				t.Error("no login: the PIN did not reach the token")
			}
		})
	}
}

// A refused pin-source file reaches notation with its fix, as a command
// that works as printed (issue 12 #6).
func TestPINFileFixInToProtocolError(t *testing.T) {
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "user pin")
	if err := os.WriteFile(pinFile, []byte(pinFilePIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pinFile, 0o640); err != nil {
		t.Fatal(err)
	}
	id := keyURI + "?pin-source=file:" + strings.ReplaceAll(pinFile, " ", "%20")
	b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", true)}
	b.tok.PIN = pinFilePIN
	p := newPlugin(b, env{ModuleEnv: fakeModule(t)}, nil)
	req := signReq(id, keyTypeOf(t, "ec-256"), nil)
	msg := wantError(t, runPlugin(t, p, "generate-signature", req), proto.ErrorCodeValidation,
		"unusable pin-source file "+pinFile, "mode 0640", "; run: chmod 600 '"+pinFile+"'")
	fix := msg[strings.LastIndex(msg, "; run: ")+len("; run: "):]
	if out, err := exec.Command("sh", "-c", fix).CombinedOutput(); err != nil {
		t.Fatalf("the fix %q failed: %v: %s", fix, err, out)
	}
	wantOK[proto.GenerateSignatureResponse](t, runPlugin(t, p, "generate-signature", req))
}
