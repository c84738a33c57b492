package revocation

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/userdirs"
)

// Defaults. The OCSP and CRL timeouts and the size caps are
// notation-core-go's.
const (
	DefaultOCSPTimeout         = 2 * time.Second
	DefaultCRLTimeout          = 5 * time.Second
	DefaultChainTimeout        = DefaultOCSPTimeout + DefaultCRLTimeout
	DefaultMaxCRLSize          = 32 << 20 // 32 MiB
	DefaultMaxOCSPResponseSize = 20480    // 20 KB
	DefaultMemoryCacheBytes    = 256 << 20
	DefaultOCSPMemoryEntries   = 4096
)

// Options configures New and NewCRLCache. The zero value is usable: every
// zero field takes its default.
type Options struct {
	// HTTPClient sends OCSP and CRL requests; tests inject a RoundTripper
	// through it. Default: a client with http.DefaultTransport. Its own
	// Timeout, if set, applies on top of the timeouts below.
	HTTPClient *http.Client

	// OCSPTimeout bounds one OCSP exchange (default 2 s). CRLTimeout bounds
	// one CRL download, base or delta (default 5 s).
	OCSPTimeout time.Duration
	CRLTimeout  time.Duration
	// ChainTimeout bounds a whole Check (default 7 s: one OCSP timeout plus
	// one CRL timeout, the worst case of a certificate with one responder
	// and one distribution point). Certificates are checked in parallel; a
	// certificate not decided in time is Unknown. A download still running
	// then completes in the background (within its own timeout) and fills
	// the cache for the next check.
	ChainTimeout time.Duration

	// MaxCRLSize caps a CRL download, import or cached file (default
	// 32 MiB). MaxOCSPResponseSize caps an OCSP response (default 20 KB).
	MaxCRLSize          int64
	MaxOCSPResponseSize int64

	// Offline never touches the network: only the caches answer. A missing
	// or expired CRL is Unknown, with a Detail that says how to import it.
	Offline bool

	// CacheDir holds validated CRLs and their indexes (default: crl in
	// notation-pkcs11's cache folder, internal/userdirs.CacheDir:
	// $NOTATION_PKCS11_CACHE/crl, else ~/.cache/notation-pkcs11/crl or
	// $XDG_CACHE_HOME/notation-pkcs11/crl; created with mode 0700); OCSP
	// responses go to its "ocsp" subdirectory. NoDiskCache keeps everything
	// in memory only.
	CacheDir    string
	NoDiskCache bool

	// MemoryCacheBytes bounds the in-memory CRL indexes (default 256 MiB;
	// about 48 bytes per revoked certificate). OCSPMemoryEntries bounds the
	// in-memory OCSP responses (default 4096).
	MemoryCacheBytes  int64
	OCSPMemoryEntries int

	// OnCacheError, when set, receives cache read and write failures, which
	// otherwise never fail a check (the network result is used).
	OnCacheError func(error)

	// ImportArgs are the arguments the offline hints add to the crl import
	// command they print, so that it works as printed: the caller's
	// --truststore DIR (or --policy FILE) when not the default. The hints
	// always add --crl-cache with this cache's folder.
	ImportArgs []string
}

// withDefaults fills zero fields and rejects negative ones.
func (o Options) withDefaults() (Options, error) {
	if o.OCSPTimeout < 0 || o.CRLTimeout < 0 || o.ChainTimeout < 0 || o.MaxCRLSize < 0 ||
		o.MaxOCSPResponseSize < 0 || o.MemoryCacheBytes < 0 || o.OCSPMemoryEntries < 0 {
		return o, errors.New("revocation: timeouts, sizes and cache bounds must not be negative")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	setDefault(&o.OCSPTimeout, DefaultOCSPTimeout)
	setDefault(&o.CRLTimeout, DefaultCRLTimeout)
	setDefault(&o.ChainTimeout, DefaultChainTimeout)
	setDefault(&o.MaxCRLSize, DefaultMaxCRLSize)
	setDefault(&o.MaxOCSPResponseSize, DefaultMaxOCSPResponseSize)
	setDefault(&o.MemoryCacheBytes, DefaultMemoryCacheBytes)
	setDefault(&o.OCSPMemoryEntries, DefaultOCSPMemoryEntries)
	if o.CacheDir == "" && !o.NoDiskCache {
		base, err := userdirs.CacheDir(os.Getenv)
		if err != nil {
			return o, fmt.Errorf("revocation: %w; set Options.CacheDir or Options.NoDiskCache", err)
		}
		o.CacheDir = filepath.Join(base, "crl")
	}
	return o, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
