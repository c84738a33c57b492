package plugin

import (
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// pluginConfig keys, set with `notation sign --plugin-config KEY=VALUE` or
// `notation key add --plugin-config KEY=VALUE`.
const (
	ConfigModulePath       = "module_path"       // PKCS#11 module, when the URI has no module-path
	ConfigCertificateChain = "certificate_chain" // file with the signing certificate and its issuers: PEM, DER or PKCS#7 (.p7b)
	ConfigTimeout          = "timeout"           // bound on each HSM call, a Go duration such as 10s
	ConfigKeyCache         = "key_cache"         // "off" disables the describe-key cache
	ConfigHSMLock          = "hsm_lock"          // "off" lets plugin processes use the module at the same time
	ConfigAuditLog         = "audit_log"         // absolute path of a JSON-lines audit log of every signature (default off)
)

// ModuleEnv names the PKCS#11 module when neither the URI nor pluginConfig does.
const ModuleEnv = "NOTATION_PKCS11_MODULE"

// Config is the validated pluginConfig.
type Config struct {
	ModulePath       string
	CertificateChain string
	Timeout          time.Duration
	KeyCache         bool
	// HSMLock serialises plugin processes that use the same module
	// (default on): SoftHSM and smart cards are not safe for concurrent
	// use by several processes. Network HSMs may turn it off.
	HSMLock bool
	// AuditLog, when set, is the file every generate-signature appends
	// one JSON line to (see AuditRecord).
	AuditLog string
}

// ParseConfig validates pluginConfig. A key that looks like a PIN is refused
// without echoing its value; unknown keys are refused so that typos do not
// pass silently.
func ParseConfig(m map[string]string) (Config, error) {
	cfg := Config{Timeout: pkcs11.DefaultTimeout, KeyCache: true, HSMLock: true}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var err error
	for _, k := range keys {
		v := m[k]
		if strings.Contains(strings.ToLower(k), "pin") || strings.Contains(strings.ToLower(k), "password") {
			return Config{}, configError(k, ConfigSecret, nil, "pluginConfig %q is refused: notation stores pluginConfig in plaintext (signingkeys.json) and prints it with -d, so a PIN there leaks; "+
				"put pin-source=file:/absolute/path in the key URI (a file only you can read) or set %s, and remove the key (notation key update / delete)", k, pkcs11.PINEnv)
		}
		if !slices.Contains(validKeys(), k) {
			return Config{}, configError(k, ConfigUnknownKey, nil, "unknown pluginConfig key %q; valid keys: %s", k, strings.Join(validKeys(), ", "))
		}
		switch k {
		case ConfigModulePath:
			cfg.ModulePath = v
		case ConfigCertificateChain:
			cfg.CertificateChain = v
		case ConfigTimeout:
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return Config{}, configError(k, ConfigInvalidValue, err, "pluginConfig timeout %q is not a positive duration such as 10s or 1m", v)
			}
			cfg.Timeout = d
		case ConfigKeyCache:
			if cfg.KeyCache, err = onOff(k, v); err != nil {
				return Config{}, err
			}
		case ConfigAuditLog:
			if !filepath.IsAbs(v) {
				return Config{}, configError(k, ConfigInvalidValue, nil, "pluginConfig audit_log %q must be an absolute file path", v)
			}
			cfg.AuditLog = filepath.Clean(v)
		case ConfigHSMLock:
			if cfg.HSMLock, err = onOff(k, v); err != nil {
				return Config{}, err
			}
		}
	}
	return cfg, nil
}

// validKeys are the pluginConfig keys, sorted.
func validKeys() []string {
	return []string{ConfigAuditLog, ConfigCertificateChain, ConfigHSMLock, ConfigKeyCache, ConfigModulePath, ConfigTimeout}
}

// modulePath picks the module: the URI's module-path, else pluginConfig
// module_path, else the environment.
func modulePath(u *pkcs11.URI, cfg Config, getenv func(string) string) (string, error) {
	switch {
	case u.ModulePath != "":
		return u.ModulePath, nil
	case cfg.ModulePath != "":
		return cfg.ModulePath, nil
	case getenv(ModuleEnv) != "":
		return getenv(ModuleEnv), nil
	}
	return "", configError(ConfigModulePath, ConfigNoModule, nil, "no PKCS#11 module named; add module-path=/path/to/module.so to the key URI, or --plugin-config %s=/path/to/module.so, or set %s",
		ConfigModulePath, ModuleEnv)
}

func onOff(k, v string) (bool, error) {
	switch v {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, configError(k, ConfigInvalidValue, nil, "pluginConfig %s %q must be on or off", k, v)
}
