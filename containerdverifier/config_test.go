package containerdverifier

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	const base = `"trustPolicy": "/etc/np/trustpolicy.json", "trustStore": "/etc/np/truststore", "revocation": {"cacheDir": "/var/cache/np/crl"}`
	cases := []struct {
		name  string
		doc   string
		field string // the *ConfigError's Field
		want  string // a part of its message; "" for success
		check func(t *testing.T, c *Config)
	}{
		{name: "minimal: defaults", doc: `{` + base + `}`, check: func(t *testing.T, c *Config) {
			if time.Duration(c.Timeout) != DefaultTimeout || time.Duration(c.Revocation.OCSPTimeout) != DefaultOCSPTimeout ||
				time.Duration(c.Revocation.CRLTimeout) != DefaultCRLTimeout || c.Revocation.Offline || len(c.Registry.PlainHTTP) != 0 {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "everything", doc: `{"trustPolicy": "/p.json", "trustStore": "/ts", "timeout": "5s",
			"revocation": {"cacheDir": "/c", "offline": true, "ocspTimeout": "1s", "crlTimeout": "1500ms"},
			"registry": {"dockerConfig": "/etc/np/config.json", "plainHTTP": ["127.0.0.1:5000", "localhost:5001", "[::1]:5002", "127.0.0.2"]}}`,
			check: func(t *testing.T, c *Config) {
				if time.Duration(c.Timeout) != 5*time.Second || !c.Revocation.Offline || time.Duration(c.Revocation.CRLTimeout) != 1500*time.Millisecond ||
					c.Registry.DockerConfig != "/etc/np/config.json" || !c.plainHTTP("[::1]:5002") || c.plainHTTP("127.0.0.1:5001") {
					t.Errorf("parsed: %+v", c)
				}
			}},
		{name: "unknown key", doc: `{` + base + `, "trustStores": "/x"}`, want: `unknown key "trustStores"; the document takes trustPolicy, trustStore, timeout, revocation, registry`},
		{name: "key in another case", doc: `{` + base + `, "Timeout": "5s"}`, want: `unknown key "Timeout" (did you mean "timeout"? keys are case-sensitive)`},
		{name: "unknown nested key", doc: `{` + base + `, "registry": {"plainHttp": []}}`, want: `unknown key "registry.plainHttp" (did you mean "plainHTTP"?`},
		{name: "duplicate key", doc: `{` + base + `, "trustPolicy": "/other.json"}`, want: `key "trustPolicy" is given twice`},
		{name: "duplicate nested key", doc: `{"trustPolicy": "/p", "trustStore": "/t", "revocation": {"cacheDir": "/a", "cacheDir": "/b"}}`, want: `key "revocation.cacheDir" is given twice`},
		{name: "trailing data", doc: `{` + base + `} {}`, want: "data after the JSON object"},
		{name: "not an object", doc: `["/etc"]`, want: "not a JSON object"},
		{name: "nested not an object", doc: `{` + strings.Replace(base, `{"cacheDir": "/var/cache/np/crl"}`, `"/var/cache"`, 1) + `}`, want: "revocation must be a JSON object"},
		{name: "not JSON", doc: `{"trustPolicy": }`, want: "not JSON"},
		{name: "empty", doc: ``, want: "not JSON"},
		{name: "wrong type", doc: `{` + base + `, "registry": {"plainHTTP": "127.0.0.1:5000"}}`, want: "cannot unmarshal string"},
		{name: "bad duration", doc: `{` + base + `, "timeout": 8}`, want: `want a duration string such as "800ms" or "8s", got 8`},
		{name: "unparsable duration", doc: `{` + base + `, "timeout": "8 seconds"}`, want: "want a duration string"},
		{name: "too large", doc: `{` + base + strings.Repeat(" ", MaxConfigBytes) + `}`, want: "larger than 65536 bytes"},
		{name: "policy missing", doc: `{"trustStore": "/t", "revocation": {"cacheDir": "/c"}}`, field: "trustPolicy", want: "missing; give an absolute path"},
		{name: "cache missing", doc: `{"trustPolicy": "/p", "trustStore": "/t"}`, field: "revocation.cacheDir", want: "missing"},
		{name: "relative path", doc: `{"trustPolicy": "trustpolicy.json", "trustStore": "/t", "revocation": {"cacheDir": "/c"}}`, field: "trustPolicy", want: `"trustpolicy.json" is not an absolute path`},
		{name: "relative docker config", doc: `{` + base + `, "registry": {"dockerConfig": "config.json"}}`, field: "registry.dockerConfig", want: "not an absolute path"},
		{name: "negative timeout", doc: `{` + base + `, "timeout": "-1s"}`, field: "timeout", want: "negative"},
		{name: "revocation budget over the timeout", doc: `{"trustPolicy": "/p", "trustStore": "/t", "timeout": "4s", "revocation": {"cacheDir": "/c"}}`, field: "revocation",
			want: "ocspTimeout (2s) + crlTimeout (3s) must be below timeout (4s)"},
		{name: "negative OCSP timeout", doc: `{"trustPolicy": "/p", "trustStore": "/t", "revocation": {"cacheDir": "/c", "ocspTimeout": "-1s"}}`, field: "revocation.ocspTimeout", want: "negative"},
		{name: "plain HTTP to a remote registry", doc: `{` + base + `, "registry": {"plainHTTP": ["registry.example.com:5000"]}}`, field: "registry.plainHTTP[0]",
			want: "plain HTTP is only allowed to a loopback registry"},
		{name: "plain HTTP to a LAN address", doc: `{` + base + `, "registry": {"plainHTTP": ["127.0.0.1:5000", "10.0.0.1:5000"]}}`, field: "registry.plainHTTP[1]", want: "loopback"},
		{name: "plain HTTP with a scheme", doc: `{` + base + `, "registry": {"plainHTTP": ["http://127.0.0.1:5000"]}}`, field: "registry.plainHTTP[0]", want: "HOST:PORT"},
		{name: "plain HTTP bad port", doc: `{` + base + `, "registry": {"plainHTTP": ["127.0.0.1:http"]}}`, field: "registry.plainHTTP[0]", want: "the port is not a number"},
		{name: "plain HTTP listed twice", doc: `{` + base + `, "registry": {"plainHTTP": ["127.0.0.1:5000", "127.0.0.1:5000"]}}`, field: "registry.plainHTTP[1]", want: "listed twice"},
		{name: "escape characters escaped", doc: `{` + base + `, "registry": {"plainHTTP": ["\u001b[31m"]}}`, field: "registry.plainHTTP[0]", want: `"\x1b[31m"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ParseConfig("/etc/np/containerd-verifier.json", []byte(c.doc))
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				c.check(t, cfg)
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v: want a *ConfigError wrapping ErrInvalidConfig", err)
			}
			if ce.Field != c.field || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q (field %q): want field %q and %q", err, ce.Field, c.field, c.want)
			}
			if !strings.HasPrefix(err.Error(), "configuration /etc/np/containerd-verifier.json: ") {
				t.Errorf("error %q does not name the file first", err)
			}
			if strings.ContainsAny(err.Error(), "\x1b\n") {
				t.Errorf("error %q holds a raw control character", err)
			}
			if want := "edit /etc/np/containerd-verifier.json, then run: notation-pkcs11-containerd check --config /etc/np/containerd-verifier.json"; ce.Fix() != want {
				t.Errorf("Fix() = %q, want %q", ce.Fix(), want)
			}
		})
	}
}

func TestConfigPath(t *testing.T) {
	if got := ConfigPath(func(string) string { return "" }); got != DefaultConfigPath {
		t.Errorf("ConfigPath without the variable = %q", got)
	}
	if got := ConfigPath(nil); got != DefaultConfigPath {
		t.Errorf("ConfigPath(nil) = %q", got)
	}
	env := func(k string) string {
		if k == ConfigEnv {
			return "/srv/verifier.json"
		}
		return ""
	}
	if got := ConfigPath(env); got != "/srv/verifier.json" {
		t.Errorf("ConfigPath with %s = %q", ConfigEnv, got)
	}
	if _, err := LoadConfig("relative.json"); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "not absolute") {
		t.Errorf("LoadConfig(relative) = %v", err)
	}
}
