package revocation

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// Config is the small set of revocation settings a configuration file or a
// command's flags hold, checked and turned into [Options] in one place, so
// every gate (the trustpolicy command, the Ratify verifier, the containerd
// verifier) builds its checker the same way:
//
//   - ChainTimeout is OCSPTimeout + CRLTimeout (the worst case of one
//     responder and one distribution point), after defaults;
//   - CacheDir must be absolute (a process run by containerd or Ratify has
//     no meaningful working folder; a command resolves its flag first);
//   - Offline needs the disk cache: offline answers come only from CRLs
//     fetched or imported earlier.
//
// The zero value is the package defaults with the default cache folder.
type Config struct {
	// CacheDir is the CRL and OCSP cache folder, an absolute path. Empty:
	// the package default (os.UserCacheDir()/notation-pkcs11/crl), unless
	// NoDiskCache.
	CacheDir string
	// NoDiskCache keeps CRLs and OCSP responses in memory only.
	NoDiskCache bool
	// Offline answers from the cache only (see Options.Offline).
	Offline bool
	// OCSPTimeout and CRLTimeout bound one OCSP exchange and one CRL
	// download; 0 takes the default (DefaultOCSPTimeout,
	// DefaultCRLTimeout).
	OCSPTimeout time.Duration
	CRLTimeout  time.Duration
	// MaxCRLSize caps one CRL; 0 takes DefaultMaxCRLSize.
	MaxCRLSize int64
	// ImportArgs are the caller's trust-store flags for the crl import
	// command of the offline hints (see Options.ImportArgs), for example
	// {"--truststore", "/etc/notation-pkcs11/truststore"}.
	ImportArgs []string
}

// Config field names, as ConfigError.Field reports them: the lowerCamel
// names a JSON configuration uses for these settings.
const (
	ConfigFieldCacheDir    = "cacheDir"
	ConfigFieldNoDiskCache = "noDiskCache"
	ConfigFieldOffline     = "offline"
	ConfigFieldOCSPTimeout = "ocspTimeout"
	ConfigFieldCRLTimeout  = "crlTimeout"
	ConfigFieldMaxCRLSize  = "maxCRLSize"
)

// ErrInvalidConfig is wrapped by every *ConfigError.
var ErrInvalidConfig = errors.New("invalid revocation configuration")

// ConfigError is a [Config] setting that cannot be used. Field is one of
// the ConfigField names, so that a caller can name its own key or flag.
// errors.Is(err, ErrInvalidConfig) holds; a setting that conflicts with
// the disk cache being off also wraps ErrNoDiskCache.
type ConfigError struct {
	Field string
	Msg   string
	kind  error
}

func (e *ConfigError) Error() string { return e.Field + ": " + e.Msg }

// Is makes errors.Is(err, ErrInvalidConfig) true, and ErrNoDiskCache for
// offline without a disk cache.
func (e *ConfigError) Is(target error) bool {
	return target == ErrInvalidConfig || (e.kind != nil && target == e.kind)
}

// Options checks c and returns the Options it stands for. The caller may
// then set the hooks (HTTPClient, OnCacheError) before New.
func (c Config) Options() (Options, error) {
	switch {
	case c.OCSPTimeout < 0:
		return Options{}, &ConfigError{Field: ConfigFieldOCSPTimeout, Msg: fmt.Sprintf("%s is negative; give a positive duration such as \"2s\"", c.OCSPTimeout)}
	case c.CRLTimeout < 0:
		return Options{}, &ConfigError{Field: ConfigFieldCRLTimeout, Msg: fmt.Sprintf("%s is negative; give a positive duration such as \"5s\"", c.CRLTimeout)}
	case c.MaxCRLSize < 0:
		return Options{}, &ConfigError{Field: ConfigFieldMaxCRLSize, Msg: fmt.Sprintf("%d is negative; give a size in bytes, or 0 for %d", c.MaxCRLSize, DefaultMaxCRLSize)}
	case c.NoDiskCache && c.CacheDir != "":
		return Options{}, &ConfigError{Field: ConfigFieldNoDiskCache, Msg: fmt.Sprintf("set together with %s %q; give one of them", ConfigFieldCacheDir, c.CacheDir)}
	case c.Offline && c.NoDiskCache:
		return Options{}, &ConfigError{Field: ConfigFieldOffline, Msg: "offline needs the disk cache, where fetched and imported CRLs are; remove " + ConfigFieldNoDiskCache, kind: ErrNoDiskCache}
	case c.CacheDir != "" && !filepath.IsAbs(c.CacheDir):
		return Options{}, &ConfigError{Field: ConfigFieldCacheDir, Msg: fmt.Sprintf("%q is not an absolute path", c.CacheDir)}
	}
	ocsp, crl := c.OCSPTimeout, c.CRLTimeout
	setDefault(&ocsp, DefaultOCSPTimeout)
	setDefault(&crl, DefaultCRLTimeout)
	dir := c.CacheDir
	if dir != "" {
		dir = filepath.Clean(dir)
	}
	return Options{
		OCSPTimeout:  ocsp,
		CRLTimeout:   crl,
		ChainTimeout: ocsp + crl,
		MaxCRLSize:   c.MaxCRLSize,
		Offline:      c.Offline,
		CacheDir:     dir,
		NoDiskCache:  c.NoDiskCache,
		ImportArgs:   append([]string(nil), c.ImportArgs...),
	}, nil
}

// NewFromConfig is New(c.Options()) with onCacheError (may be nil) as
// Options.OnCacheError. Its errors are a *ConfigError, or New's (a
// *CacheTrustError for a cache folder the effective user does not own
// alone).
func NewFromConfig(c Config, onCacheError func(error)) (*Client, error) {
	o, err := c.Options()
	if err != nil {
		return nil, err
	}
	o.OnCacheError = onCacheError
	return New(o)
}
