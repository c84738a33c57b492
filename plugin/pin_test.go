package plugin

import (
	"strings"
	"testing"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// A PIN in pluginConfig is refused without echoing it, before any HSM is
// touched: notation stores pluginConfig in plaintext and logs it with -d.
func TestPINInPluginConfigRefused(t *testing.T) {
	keys := []string{"pin", "PIN", "user_pin", "password", "Pin", "userPin", "so_pin", "PASSWORD", "token_password", "pin-source"}
	for _, key := range keys {
		for _, command := range []plugin.Command{plugin.CommandDescribeKey, plugin.CommandGenerateSignature} {
			t.Run(key+"/"+string(command), func(t *testing.T) {
				cfg := map[string]string{key: configPIN}
				var req any = describeReq(keyURI, cfg)
				if command == plugin.CommandGenerateSignature {
					req = signReq(keyURI, keyTypes[3], cfg)
				}
				p := newPlugin(noBackend(t), stdEnv(fakeModule(t)), nil)
				msg := wantError(t, runPlugin(t, p, string(command), req), plugin.ErrorCodeValidation,
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
		wantError(t, runPlugin(t, p, "describe-key", describeReq(keyURI, cfg)), plugin.ErrorCodeValidation, "user_pin", "plaintext")
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
		for _, command := range []plugin.Command{plugin.CommandDescribeKey, plugin.CommandGenerateSignature} {
			t.Run(string(command), func(t *testing.T) {
				var req any = describeReq(id, nil)
				if command == plugin.CommandGenerateSignature {
					req = signReq(id, keyTypes[3], nil)
				}
				p := newPlugin(noBackend(t), stdEnv(fakeModule(t)), nil)
				msg := wantError(t, runPlugin(t, p, string(command), req), plugin.ErrorCodeValidation,
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
			msg := wantError(t, runPlugin(t, p, "describe-key", describeReq(id, nil)), plugin.ErrorCodeValidation, "invalid PKCS#11 URI")
			if strings.Contains(msg, uriPIN) {
				t.Errorf("message echoes the PIN: %s", msg)
			}
		})
	}
}
