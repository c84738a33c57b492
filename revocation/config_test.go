package revocation

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigOptions(t *testing.T) {
	abs := t.TempDir()
	cases := []struct {
		name  string
		cfg   Config
		field string // the *ConfigError's field, "" for success
		kind  error  // a second sentinel the error wraps
		want  Options
	}{
		{name: "zero value: defaults", cfg: Config{},
			want: Options{OCSPTimeout: DefaultOCSPTimeout, CRLTimeout: DefaultCRLTimeout, ChainTimeout: DefaultChainTimeout}},
		{name: "chain timeout is the sum", cfg: Config{OCSPTimeout: time.Second, CRLTimeout: 3 * time.Second, CacheDir: abs, Offline: true, ImportArgs: []string{"--truststore", "/ts"}},
			want: Options{OCSPTimeout: time.Second, CRLTimeout: 3 * time.Second, ChainTimeout: 4 * time.Second, CacheDir: abs, Offline: true, ImportArgs: []string{"--truststore", "/ts"}}},
		{name: "one timeout given, the other defaults", cfg: Config{OCSPTimeout: 500 * time.Millisecond},
			want: Options{OCSPTimeout: 500 * time.Millisecond, CRLTimeout: DefaultCRLTimeout, ChainTimeout: 500*time.Millisecond + DefaultCRLTimeout}},
		{name: "cache folder cleaned", cfg: Config{CacheDir: abs + "/x/../crl/"},
			want: Options{OCSPTimeout: DefaultOCSPTimeout, CRLTimeout: DefaultCRLTimeout, ChainTimeout: DefaultChainTimeout, CacheDir: filepath.Join(abs, "crl")}},
		{name: "memory only", cfg: Config{NoDiskCache: true, MaxCRLSize: 1 << 20},
			want: Options{OCSPTimeout: DefaultOCSPTimeout, CRLTimeout: DefaultCRLTimeout, ChainTimeout: DefaultChainTimeout, NoDiskCache: true, MaxCRLSize: 1 << 20}},
		{name: "negative OCSP timeout", cfg: Config{OCSPTimeout: -1}, field: ConfigFieldOCSPTimeout},
		{name: "negative CRL timeout", cfg: Config{CRLTimeout: -time.Second}, field: ConfigFieldCRLTimeout},
		{name: "negative CRL size", cfg: Config{MaxCRLSize: -1}, field: ConfigFieldMaxCRLSize},
		{name: "relative cache folder", cfg: Config{CacheDir: "crl"}, field: ConfigFieldCacheDir},
		{name: "offline without disk cache", cfg: Config{Offline: true, NoDiskCache: true}, field: ConfigFieldOffline, kind: ErrNoDiskCache},
		{name: "no disk cache and a cache folder", cfg: Config{NoDiskCache: true, CacheDir: abs}, field: ConfigFieldNoDiskCache},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.cfg.Options()
			if c.field != "" {
				var ce *ConfigError
				if !errors.As(err, &ce) || ce.Field != c.field || !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("error %v: want a *ConfigError for %s wrapping ErrInvalidConfig", err, c.field)
				}
				if c.kind != nil && !errors.Is(err, c.kind) {
					t.Errorf("error %v does not wrap %v", err, c.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.OCSPTimeout != c.want.OCSPTimeout || got.CRLTimeout != c.want.CRLTimeout || got.ChainTimeout != c.want.ChainTimeout ||
				got.CacheDir != c.want.CacheDir || got.Offline != c.want.Offline || got.NoDiskCache != c.want.NoDiskCache || got.MaxCRLSize != c.want.MaxCRLSize ||
				strings.Join(got.ImportArgs, " ") != strings.Join(c.want.ImportArgs, " ") {
				t.Errorf("Options() = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestNewFromConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "crl")
	var cacheErrs []error
	c, err := NewFromConfig(Config{CacheDir: dir, Offline: true}, func(err error) { cacheErrs = append(cacheErrs, err) })
	if err != nil {
		t.Fatal(err)
	}
	if !c.opts.Offline || c.opts.CacheDir != dir || c.opts.OnCacheError == nil {
		t.Errorf("client options %+v: want offline, cache %s and the cache error hook", c.opts, dir)
	}
	if _, err := NewFromConfig(Config{CacheDir: "relative"}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("relative cache folder: error %v, want ErrInvalidConfig", err)
	}
	// A cache folder others can write is New's *CacheTrustError, with its fix.
	open := t.TempDir()
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err = NewFromConfig(Config{CacheDir: open}, nil)
	var te *CacheTrustError
	if !errors.As(err, &te) || !errors.Is(err, ErrCacheNotTrusted) || te.Fix() == "" {
		t.Errorf("world-writable cache folder: error %v, want a *CacheTrustError with a fix", err)
	}
	if len(cacheErrs) != 0 {
		t.Errorf("cache errors reported: %v", cacheErrs)
	}
}
