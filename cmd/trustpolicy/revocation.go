package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/internal/userdirs"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
)

// revocationFlags are the revocation options of verify, explain and crl.
type revocationFlags struct {
	offline     bool
	cacheDir    string
	noDiskCache bool
	ocspTimeout time.Duration
	crlTimeout  time.Duration
	// importArgs are the flags the offline hints' crl import command
	// needs besides --crl-cache (revocation.Options.ImportArgs).
	importArgs []string
}

// register adds the flags to cmd. network is false for "crl list" and
// "crl import", which never use the network.
func (f *revocationFlags) register(cmd *cobra.Command, network bool) {
	fs := cmd.Flags()
	fs.StringVar(&f.cacheDir, "crl-cache", "", "CRL and OCSP cache `folder` (default: the user cache dir, e.g. ~/.cache/notation-pkcs11/crl)")
	if !network {
		return
	}
	fs.BoolVar(&f.offline, "offline", false, "never use the network: only cached (fetched or imported) CRLs and OCSP responses answer")
	fs.BoolVar(&f.noDiskCache, "no-disk-cache", false, "keep CRLs and OCSP responses in memory only, for this run")
	fs.DurationVar(&f.ocspTimeout, "ocsp-timeout", revocation.DefaultOCSPTimeout, "bound one OCSP exchange by this `duration`")
	fs.DurationVar(&f.crlTimeout, "crl-timeout", revocation.DefaultCRLTimeout, "bound one CRL download by this `duration`")
}

// defaultCacheDir is the CRL cache, crl/ in notation-pkcs11's cache folder
// (internal/userdirs.CacheDir, as the plugin and the revocation package
// find it), found through e (never the process environment directly, so
// tests that pass an env without HOME never write to the real user cache).
// e.cacheDir, when set and NOTATION_PKCS11_CACHE is not, names the user's
// cache folder instead of XDG_CACHE_HOME and HOME.
func defaultCacheDir(e env) (string, error) {
	if e.cacheDir != nil && (e.getenv == nil || e.getenv(userdirs.CacheEnv) == "") {
		base, err := e.cacheDir()
		if err != nil {
			return "", err
		}
		if base == "" {
			return "", userdirs.ErrNoCacheDir
		}
		return filepath.Join(base, "notation-pkcs11", "crl"), nil
	}
	base, err := userdirs.CacheDir(e.getenv)
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "crl"), nil
}

// options turns the flags into revocation.Options. Without --crl-cache and
// without a user cache folder, the caches are in memory only. warn receives
// cache problems (they never fail a check).
func (f *revocationFlags) options(e env, warn func(error)) (revocation.Options, error) {
	if f.ocspTimeout <= 0 || f.crlTimeout <= 0 {
		return revocation.Options{}, badInput("--ocsp-timeout and --crl-timeout must be positive")
	}
	o := revocation.Options{
		Offline:      f.offline,
		OCSPTimeout:  f.ocspTimeout,
		CRLTimeout:   f.crlTimeout,
		ChainTimeout: f.ocspTimeout + f.crlTimeout,
		CacheDir:     f.cacheDir,
		NoDiskCache:  f.noDiskCache,
		OnCacheError: warn,
		ImportArgs:   f.importArgs,
	}
	if o.NoDiskCache {
		o.CacheDir = ""
	} else if o.CacheDir == "" {
		dir, err := defaultCacheDir(e)
		if err != nil {
			o.NoDiskCache = true // memory only
		} else {
			o.CacheDir = dir
		}
	}
	if o.CacheDir != "" {
		abs, err := filepath.Abs(o.CacheDir)
		if err != nil {
			return o, badInput("--crl-cache %s: %v", o.CacheDir, err)
		}
		o.CacheDir = abs
	}
	return o, nil
}

// newChecker builds the revocation checker of verify and explain.
func (f *revocationFlags) newChecker(e env) (*revocation.Client, error) {
	o, err := f.options(e, func(err error) {
		fmt.Fprintf(e.stderr, "trustpolicy: warning: revocation cache: %s\n", textsafe.Escape(err.Error()))
	})
	if err != nil {
		return nil, err
	}
	if o.Offline && o.NoDiskCache {
		fmt.Fprintln(e.stderr, "trustpolicy: warning: --offline without a disk cache: no CRL can answer; pass --crl-cache DIR (where crl fetch or crl import put them)")
	}
	c, err := revocation.New(o)
	if err != nil {
		return nil, usageError{fmt.Errorf("%w (fix the folder, pass --crl-cache DIR or --no-disk-cache)", err)}
	}
	return c, nil
}
