package containerdverifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
)

// Where the configuration is. containerd passes the verifier nothing but
// its arguments, so the file is at a fixed path, which the environment of
// the containerd service may override.
const (
	DefaultConfigPath = "/etc/notation-pkcs11/containerd-verifier.json"
	ConfigEnv         = "NOTATION_PKCS11_CONTAINERD_CONFIG"
	// MaxConfigBytes caps the configuration file.
	MaxConfigBytes = 64 << 10
)

// Defaults. containerd's per-verifier timeout is 10 s by default: the
// verifier answers well inside it. Revocation gets at most DefaultOCSPTimeout
// + DefaultCRLTimeout = 5 s of DefaultTimeout = 8 s, leaving 3 s for the
// registry.
const (
	DefaultTimeout     = 8 * time.Second
	DefaultOCSPTimeout = 2 * time.Second
	DefaultCRLTimeout  = 3 * time.Second
)

// Config is the verifier's configuration file (JSON):
//
//	{
//	  "trustPolicy": "/etc/notation-pkcs11/trustpolicy.json",
//	  "trustStore":  "/etc/notation-pkcs11/truststore",
//	  "timeout": "8s",
//	  "revocation": {"cacheDir": "/var/cache/notation-pkcs11/crl", "offline": false,
//	                 "ocspTimeout": "2s", "crlTimeout": "3s"},
//	  "registry": {"dockerConfig": "/etc/notation-pkcs11/docker-config.json",
//	               "plainHTTP": ["127.0.0.1:5000"]}
//	}
//
// trustPolicy, trustStore and revocation.cacheDir are required; every path
// is absolute.
type Config struct {
	// TrustPolicy is a notation trustpolicy.json file.
	TrustPolicy string `json:"trustPolicy"`
	// TrustStore is the folder holding x509/<type>/<name>/ (notation's
	// $NOTATION_CONFIG/truststore).
	TrustStore string `json:"trustStore"`
	// Timeout bounds one whole verification, from the start of the process:
	// configuration, registry and revocation. Default 8 s; keep it below
	// containerd's per_verifier_timeout.
	Timeout Duration `json:"timeout"`
	// Revocation configures OCSP and CRL checking.
	Revocation RevocationConfig `json:"revocation"`
	// Registry configures access to the registries.
	Registry RegistryConfig `json:"registry"`
}

// RevocationConfig is the "revocation" object.
type RevocationConfig struct {
	// CacheDir holds validated CRLs and OCSP responses across pulls (each
	// pull is a new process: this cache is what makes the next one fast),
	// and the CRLs that `trustpolicy crl fetch` and `crl import` put there
	// for offline use. Required.
	CacheDir string `json:"cacheDir"`
	// Offline answers from CacheDir only; a missing or expired CRL makes the
	// status unknown.
	Offline bool `json:"offline"`
	// OCSPTimeout bounds one OCSP exchange (default 2 s), CRLTimeout one CRL
	// download (default 3 s). Their sum must stay below Timeout.
	OCSPTimeout Duration `json:"ocspTimeout"`
	CRLTimeout  Duration `json:"crlTimeout"`
}

// RegistryConfig is the "registry" object.
type RegistryConfig struct {
	// DockerConfig is a docker config.json holding registry credentials
	// (auths, credsStore, credHelpers). Empty: anonymous access only; the
	// verifier never reads the docker configuration of the user containerd
	// runs as.
	DockerConfig string `json:"dockerConfig"`
	// PlainHTTP lists the registries (HOST:PORT as in image references)
	// reached over plain HTTP. Only loopback hosts are accepted: localhost,
	// 127.0.0.0/8 and [::1].
	PlainHTTP []string `json:"plainHTTP"`
}

// ErrInvalidConfig is wrapped by every error about the configuration: the
// file itself (*ConfigError, *FileTrustError), the trust policy and trust
// store it names (*LintError), and the revocation cache.
var ErrInvalidConfig = errors.New("invalid containerd verifier configuration")

// ConfigError is a problem of the configuration file. Field is the JSON
// path of the key ("revocation.cacheDir"), empty for the document.
type ConfigError struct {
	File  string
	Field string
	Msg   string
	// Err is the underlying error, if any (fs.ErrNotExist for a missing
	// file).
	Err error
}

func (e *ConfigError) Error() string {
	where := "configuration " + textsafe.Escape(e.File)
	if e.Field != "" {
		where += ": " + e.Field
	}
	return where + ": " + e.Msg
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Unwrap returns Err.
func (e *ConfigError) Unwrap() error { return e.Err }

// Fix is the edit and the command that checks it.
func (e *ConfigError) Fix() string { return checkFix(e.File) }

// checkFix is the fix of every configuration problem.
func checkFix(file string) string {
	return fmt.Sprintf("edit %s, then run: %s check --config %s", file, CommandName, shellQuote(file))
}

// CommandName is the verifier's command name.
const CommandName = "notation-pkcs11-containerd"

// ConfigPath is the configuration file: $NOTATION_PKCS11_CONTAINERD_CONFIG
// when set, else DefaultConfigPath.
func ConfigPath(getenv func(string) string) string {
	if getenv != nil {
		if p := getenv(ConfigEnv); p != "" {
			return p
		}
	}
	return DefaultConfigPath
}

// LoadConfig reads the configuration file at path: a regular file (not a
// symlink) owned by the effective user or root that group and others
// cannot write (*FileTrustError otherwise), at most MaxConfigBytes, then
// ParseConfig.
func LoadConfig(path string) (*Config, error) {
	if !filepath.IsAbs(path) {
		return nil, &ConfigError{File: path, Msg: fmt.Sprintf("the path is not absolute; set %s to an absolute path", ConfigEnv)}
	}
	data, err := readTrusted(path, "configuration file", MaxConfigBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &ConfigError{File: path, Err: err,
			Msg: fmt.Sprintf("the file does not exist; write it (see docs/containerd.md), or set %s in containerd's environment to the file", ConfigEnv)}
	}
	if err != nil {
		return nil, err
	}
	return ParseConfig(path, data)
}

// ParseConfig decodes and checks a configuration; file names it in errors.
// The JSON is strict: one object, keys exactly as documented (no unknown,
// duplicate or differently cased key), nothing but white space after it.
func ParseConfig(file string, data []byte) (*Config, error) {
	fail := func(field, format string, a ...any) error {
		return &ConfigError{File: file, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	if len(data) > MaxConfigBytes {
		return nil, fail("", "larger than %d bytes", MaxConfigBytes)
	}
	if err := checkKeys(data); err != nil {
		return nil, &ConfigError{File: file, Msg: textsafe.Escape(err.Error())}
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fail("", "%s", textsafe.Escape(strings.TrimPrefix(err.Error(), "json: ")))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fail("", "data after the JSON object; the file holds one object")
	}
	if err := c.check(fail); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) check(fail func(field, format string, a ...any) error) error {
	for _, p := range []struct{ field, path string }{
		{"trustPolicy", c.TrustPolicy},
		{"trustStore", c.TrustStore},
		{"revocation.cacheDir", c.Revocation.CacheDir},
	} {
		if p.path == "" {
			return fail(p.field, "missing; give an absolute path")
		}
	}
	for _, p := range []struct{ field, path string }{
		{"trustPolicy", c.TrustPolicy},
		{"trustStore", c.TrustStore},
		{"revocation.cacheDir", c.Revocation.CacheDir},
		{"registry.dockerConfig", c.Registry.DockerConfig},
	} {
		if p.path != "" && !filepath.IsAbs(p.path) {
			return fail(p.field, "%s is not an absolute path", quote(p.path))
		}
	}
	if c.Timeout == 0 {
		c.Timeout = Duration(DefaultTimeout)
	}
	r := &c.Revocation
	if r.OCSPTimeout == 0 {
		r.OCSPTimeout = Duration(DefaultOCSPTimeout)
	}
	if r.CRLTimeout == 0 {
		r.CRLTimeout = Duration(DefaultCRLTimeout)
	}
	switch {
	case c.Timeout < 0:
		return fail("timeout", "%s is negative", c.Timeout)
	case r.OCSPTimeout < 0:
		return fail("revocation.ocspTimeout", "%s is negative", r.OCSPTimeout)
	case r.CRLTimeout < 0:
		return fail("revocation.crlTimeout", "%s is negative", r.CRLTimeout)
	case r.OCSPTimeout+r.CRLTimeout >= c.Timeout:
		return fail("revocation", "ocspTimeout (%s) + crlTimeout (%s) must be below timeout (%s), or a slow responder uses the whole budget: lower them or raise timeout (keep timeout below containerd's per_verifier_timeout)",
			r.OCSPTimeout, r.CRLTimeout, c.Timeout)
	}
	if _, err := c.revocationConfig().Options(); err != nil {
		var ce *revocation.ConfigError
		if errors.As(err, &ce) {
			return fail("revocation."+ce.Field, "%s", ce.Msg)
		}
		return fail("revocation", "%v", err)
	}
	seen := map[string]bool{}
	for i, h := range c.Registry.PlainHTTP {
		field := fmt.Sprintf("registry.plainHTTP[%d]", i)
		if err := checkLoopback(h); err != nil {
			return fail(field, "%s: %v", quote(h), err)
		}
		if seen[h] {
			return fail(field, "%q is listed twice", h)
		}
		seen[h] = true
	}
	return nil
}

// revocationConfig is the revocation package's view of the settings.
func (c *Config) revocationConfig() revocation.Config {
	return revocation.Config{
		CacheDir:    c.Revocation.CacheDir,
		Offline:     c.Revocation.Offline,
		OCSPTimeout: time.Duration(c.Revocation.OCSPTimeout),
		CRLTimeout:  time.Duration(c.Revocation.CRLTimeout),
		// The offline hints' crl import command needs this trust store.
		ImportArgs: []string{"--truststore", c.TrustStore},
	}
}

// checkLoopback accepts HOST or HOST:PORT whose host is localhost or a
// loopback address, written as an image reference writes it.
func checkLoopback(hostport string) error {
	host := hostport
	if h, port, err := net.SplitHostPort(hostport); err == nil {
		if port == "" || strings.TrimLeft(port, "0123456789") != "" {
			return errors.New("the port is not a number")
		}
		host = h
	} else if strings.Contains(hostport, ":") && !strings.HasPrefix(hostport, "[") {
		return errors.New("write HOST:PORT as in the image reference, e.g. 127.0.0.1:5000")
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return errors.New("plain HTTP is only allowed to a loopback registry (localhost, 127.0.0.0/8, [::1]): on any other host nothing authenticates the registry; give that registry TLS")
}

// plainHTTP reports whether the registry host of a reference is listed.
func (c *Config) plainHTTP(registryHost string) bool {
	return slices.Contains(c.Registry.PlainHTTP, registryHost)
}

// shellQuote quotes s for a POSIX shell unless it needs no quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// quote is s in double quotes, escaped for a terminal (strconv.Quote
// would escape the escapes again).
func quote(s string) string { return `"` + textsafe.Escape(s) + `"` }
