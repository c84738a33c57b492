package plugin

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want Config
	}{
		{"nil", nil, Config{Timeout: pkcs11.DefaultTimeout, KeyCache: true}},
		{"empty", map[string]string{}, Config{Timeout: pkcs11.DefaultTimeout, KeyCache: true}},
		{"module_path", map[string]string{ConfigModulePath: "/opt/hsm/lib.so"}, Config{ModulePath: "/opt/hsm/lib.so", Timeout: pkcs11.DefaultTimeout, KeyCache: true}},
		{"certificate_chain", map[string]string{ConfigCertificateChain: "/etc/chain.pem"}, Config{CertificateChain: "/etc/chain.pem", Timeout: pkcs11.DefaultTimeout, KeyCache: true}},
		{"timeout 10s", map[string]string{ConfigTimeout: "10s"}, Config{Timeout: 10 * time.Second, KeyCache: true}},
		{"timeout 1m30s", map[string]string{ConfigTimeout: "1m30s"}, Config{Timeout: 90 * time.Second, KeyCache: true}},
		{"timeout 250ms", map[string]string{ConfigTimeout: "250ms"}, Config{Timeout: 250 * time.Millisecond, KeyCache: true}},
		{"key_cache on", map[string]string{ConfigKeyCache: "on"}, Config{Timeout: pkcs11.DefaultTimeout, KeyCache: true}},
		{"key_cache off", map[string]string{ConfigKeyCache: "off"}, Config{Timeout: pkcs11.DefaultTimeout, KeyCache: false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConfig(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			// Compare the fields this test knows; others keep their defaults.
			if got.ModulePath != tc.want.ModulePath || got.CertificateChain != tc.want.CertificateChain || got.Timeout != tc.want.Timeout || got.KeyCache != tc.want.KeyCache {
				t.Errorf("ParseConfig(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	valid := "valid keys: " + strings.Join(validKeys(), ", ")
	tests := []struct {
		name    string
		in      map[string]string
		key     string // ConfigError.Key
		problem ConfigProblem
		want    []string // what the protocol message tells notation's user
	}{
		{"unknown key", map[string]string{"colour": "blue"}, "colour", ConfigUnknownKey, []string{`unknown pluginConfig key "colour"`, valid}},
		{"typo module-path", map[string]string{"module-path": "/x.so"}, "module-path", ConfigUnknownKey, []string{`"module-path"`, valid}},
		{"typo Timeout", map[string]string{"Timeout": "5s"}, "Timeout", ConfigUnknownKey, []string{`"Timeout"`, valid}},
		{"a PIN", map[string]string{"user_pin": "1234"}, "user_pin", ConfigSecret, []string{`pluginConfig "user_pin" is refused`, "pin-source=file:/absolute/path"}},
		{"a password", map[string]string{"Password": "1234"}, "Password", ConfigSecret, []string{`"Password" is refused`}},
		{"timeout not a duration", map[string]string{ConfigTimeout: "soon"}, ConfigTimeout, ConfigInvalidValue, []string{`timeout "soon"`, "positive duration"}},
		{"timeout without unit", map[string]string{ConfigTimeout: "10"}, ConfigTimeout, ConfigInvalidValue, []string{`timeout "10"`, "10s"}},
		{"timeout zero", map[string]string{ConfigTimeout: "0s"}, ConfigTimeout, ConfigInvalidValue, []string{`timeout "0s"`, "positive duration"}},
		{"timeout negative", map[string]string{ConfigTimeout: "-5s"}, ConfigTimeout, ConfigInvalidValue, []string{`timeout "-5s"`, "positive duration"}},
		{"timeout empty", map[string]string{ConfigTimeout: ""}, ConfigTimeout, ConfigInvalidValue, []string{`timeout ""`}},
		{"key_cache yes", map[string]string{ConfigKeyCache: "yes"}, ConfigKeyCache, ConfigInvalidValue, []string{"key_cache", `"yes"`, "on or off"}},
		{"key_cache OFF", map[string]string{ConfigKeyCache: "OFF"}, ConfigKeyCache, ConfigInvalidValue, []string{"key_cache", `"OFF"`, "on or off"}},
		{"hsm_lock no", map[string]string{ConfigHSMLock: "no"}, ConfigHSMLock, ConfigInvalidValue, []string{"hsm_lock", "on or off"}},
		{"relative audit_log", map[string]string{ConfigAuditLog: "relative.log"}, ConfigAuditLog, ConfigInvalidValue, []string{"audit_log", "absolute"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(tc.in)
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) || ce.Key != tc.key || ce.Problem != tc.problem {
				t.Fatalf("ParseConfig(%v) = %v, want a *ConfigError %s for %q (ErrConfig)", tc.in, err, tc.problem, tc.key)
			}
			// Through the protocol: VALIDATION_ERROR, the HSM untouched.
			p := newPlugin(noBackend(t), stdEnv(fakeModule(t)), nil)
			wantError(t, runPlugin(t, p, "describe-key", describeReq(keyURI, tc.in)), proto.ErrorCodeValidation, tc.want...)
		})
	}
}

func TestValidKeys(t *testing.T) {
	keys := validKeys()
	if !slices.IsSorted(keys) {
		t.Errorf("validKeys() %q is not sorted", keys)
	}
	for _, k := range []string{ConfigModulePath, ConfigCertificateChain, ConfigTimeout, ConfigKeyCache} {
		if !slices.Contains(keys, k) {
			t.Errorf("validKeys() %q lacks %q", keys, k)
		}
		var ce *ConfigError
		if _, err := ParseConfig(map[string]string{k: "on"}); errors.As(err, &ce) && ce.Problem == ConfigUnknownKey {
			t.Errorf("%s is refused as unknown", k)
		}
	}
}

func TestModulePathPrecedence(t *testing.T) {
	const (
		uriMod = "/uri/module.so"
		cfgMod = "/config/module.so"
		envMod = "/env/module.so"
	)
	tests := []struct {
		name string
		uri  string
		cfg  string
		env  string
		want string
	}{
		{"all three: URI wins", uriMod, cfgMod, envMod, uriMod},
		{"URI and env", uriMod, "", envMod, uriMod},
		{"URI only", uriMod, "", "", uriMod},
		{"config and env: config wins", "", cfgMod, envMod, cfgMod},
		{"config only", "", cfgMod, "", cfgMod},
		{"env only", "", "", envMod, envMod},
		{"module path with spaces", "/opt/My HSM/lib.so", "", "", "/opt/My HSM/lib.so"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := keyURI
			if tc.uri != "" {
				id += "?module-path=" + strings.ReplaceAll(tc.uri, " ", "%20")
			}
			var cfg map[string]string
			if tc.cfg != "" {
				cfg = map[string]string{ConfigModulePath: tc.cfg}
			}
			e := env{pkcs11.PINEnv: testPIN}
			if tc.env != "" {
				e[ModuleEnv] = tc.env
			}
			// Directly.
			c, err := ParseConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := modulePath(mustURI(t, id), c, e.get)
			if err != nil || got != tc.want {
				t.Errorf("modulePath = %q, %v; want %q", got, err, tc.want)
			}
			// Through describe-key: the backend is asked for that module.
			b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", false)}
			p := newPlugin(b, e, nil)
			wantOK[proto.DescribeKeyResponse](t, runPlugin(t, p, "describe-key", describeReq(id, cfg)))
			if b.lastOpts.ModulePath != tc.want {
				t.Errorf("backend opened module %q, want %q", b.lastOpts.ModulePath, tc.want)
			}
		})
	}
}

func TestModulePathMissing(t *testing.T) {
	want := []string{"no PKCS#11 module", "module-path=", "--plugin-config module_path=", ModuleEnv}
	_, err := modulePath(mustURI(t, keyURI), Config{}, env{}.get)
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) || ce.Problem != ConfigNoModule || ce.Key != ConfigModulePath {
		t.Fatalf("err = %v, want a *ConfigError %s (ErrConfig)", err, ConfigNoModule)
	}
	for _, command := range []string{"describe-key", "generate-signature"} {
		t.Run(command, func(t *testing.T) {
			p := newPlugin(noBackend(t), env{pkcs11.PINEnv: testPIN}, nil)
			var req any = describeReq(keyURI, nil)
			if command == "generate-signature" {
				req = signReq(keyURI, keyTypes()[0], nil)
			}
			wantError(t, runPlugin(t, p, command, req), proto.ErrorCodeValidation, want...)
		})
	}
}

// The pluginConfig timeout bounds the HSM calls.
func TestTimeoutReachesBackend(t *testing.T) {
	for _, tc := range []struct {
		cfg  map[string]string
		want time.Duration
	}{
		{nil, pkcs11.DefaultTimeout},
		{map[string]string{ConfigTimeout: "7s"}, 7 * time.Second},
		{map[string]string{ConfigTimeout: "2m"}, 2 * time.Minute},
	} {
		b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", true)}
		p := newPlugin(b, stdEnv(fakeModule(t)), nil)
		wantOK[proto.GenerateSignatureResponse](t, runPlugin(t, p, "generate-signature", signReq(keyURI, keyTypeOf(t, "ec-256"), tc.cfg)))
		if b.lastOpts.Timeout != tc.want {
			t.Errorf("pluginConfig %v: backend timeout %s, want %s", tc.cfg, b.lastOpts.Timeout, tc.want)
		}
	}
}
