package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"sort"
	"strings"
	"time"
)

// This file is the CRL cache API of the trustpolicy crl command: import,
// list, fetch and download.

// CRLInfo describes a cached CRL.
type CRLInfo struct {
	// Issuer is the CRL issuer's distinguished name.
	Issuer string `json:"issuer"`
	// Number is the CRL number, nil when the CRL has none.
	Number     *big.Int  `json:"number,omitempty"`
	ThisUpdate time.Time `json:"thisUpdate"`
	NextUpdate time.Time `json:"nextUpdate"`
	// Entries is the number of revoked certificates listed.
	Entries int `json:"entries"`
	// Source is "network URL" or "import FILE".
	Source string `json:"source"`
	// URL is the distribution point it was fetched from, when known.
	URL string `json:"url,omitempty"`
	// Delta is true for a delta CRL; DeltaBase is then its base CRL number.
	Delta     bool     `json:"delta,omitempty"`
	DeltaBase *big.Int `json:"deltaBase,omitempty"`
	// DeltaURLs lists the freshest-CRL (delta) URLs of a base CRL: fetch and
	// import those too when working offline.
	DeltaURLs []string `json:"deltaURLs,omitempty"`
	// ScopeURLs are the distribution point URLs of a partitioned CRL.
	ScopeURLs []string `json:"scopeURLs,omitempty"`
	// Key is the cache key; File is the cache file (the index followed by
	// the CRL; CRL returns the CRL's DER).
	Key    string `json:"key"`
	File   string `json:"file,omitempty"`
	SHA256 string `json:"sha256"`
}

// Expired reports whether the CRL is past its NextUpdate at now.
func (i CRLInfo) Expired(now time.Time) bool { return now.After(i.NextUpdate) }

// Import validates a CRL (DER) against the one of issuers that issued it
// (the command passes every certificate of the trust stores and the CA
// certificates that chain to them) and stores it. now is the validation
// time: the CRL must not be expired then. source describes where it came
// from, e.g. "import /path/ca.crl" ("import " is added when missing: checks
// that use the CRL report SourceImported). A CRL with an issuing distribution
// point is found under its distribution point names (or by issuer), never
// under another URL. The error wraps an *IssuerError when no certificate
// given issued it, and one of the package's sentinels otherwise.
func (c *CRLCache) Import(der []byte, issuers []*x509.Certificate, now time.Time, source string) (CRLInfo, error) {
	if c.disk == nil {
		return CRLInfo{}, kindf(ErrNoDiskCache, "cannot import a CRL: the disk cache is disabled")
	}
	if !strings.HasPrefix(source, importPrefix) {
		source = importPrefix + source
	}
	idx, err := c.acceptFrom(der, issuers, now, accept{source: source, kind: wantAny, persist: true})
	if err != nil {
		return CRLInfo{}, fmt.Errorf("the CRL was not imported: %w", err)
	}
	return idx.info(c.dir), nil
}

// acceptFrom validates der against each of issuers whose subject is its
// issuer name (and whose subject key identifier, when both are present, is
// its authority key identifier) until one accepts it, and stores it.
func (c *CRLCache) acceptFrom(der []byte, issuers []*x509.Certificate, now time.Time, a accept) (*crlIndex, error) {
	h, entries, err := parseCRL(der, crlLimits{maxSize: c.maxSize})
	if err != nil {
		return nil, err
	}
	var errs []error
	named := 0
	for _, iss := range issuers {
		if iss == nil || !bytes.Equal(iss.RawSubject, h.skel.RawIssuer) {
			continue
		}
		named++
		if len(h.skel.AuthorityKeyId) > 0 && len(iss.SubjectKeyId) > 0 && !bytes.Equal(h.skel.AuthorityKeyId, iss.SubjectKeyId) {
			continue
		}
		idx, err := c.acceptParsed(der, h, entries, iss, now, a)
		if err == nil {
			return idx, nil
		}
		errs = append(errs, err)
	}
	switch len(errs) {
	case 0:
		return nil, &IssuerError{Issuer: h.skel.Issuer.String(), AuthorityKeyID: h.skel.AuthorityKeyId, Given: len(issuers), NameMatches: named}
	case 1:
		return nil, errs[0]
	}
	return nil, errors.Join(errs...)
}

// List describes every CRL in the disk cache, expired ones included.
func (c *CRLCache) List() ([]CRLInfo, error) {
	if c.dir == "" {
		return nil, nil
	}
	names, err := c.disk.names("", cacheExt)
	if err != nil {
		return nil, fmt.Errorf("failed to list the CRL cache: %w", err)
	}
	var out []CRLInfo
	for _, name := range names {
		m, err := readIndexMeta(c.disk, name)
		if err != nil {
			return nil, fmt.Errorf("failed to list the CRL cache: %w", err)
		}
		out = append(out, metaInfo(m, c.dir))
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Issuer != b.Issuer {
			return a.Issuer < b.Issuer
		}
		if a.Delta != b.Delta {
			return !a.Delta
		}
		return a.ThisUpdate.Before(b.ThisUpdate)
	})
	return out, nil
}

// Fetch downloads the CRL (complete or delta) at url, validates it against
// issuer at now and stores it. It fails in offline mode. Once the download
// succeeded, a CRL that is not accepted gives a *RejectedError.
func (c *CRLCache) Fetch(ctx context.Context, url string, issuer *x509.Certificate, now time.Time) (CRLInfo, error) {
	if issuer == nil {
		return CRLInfo{}, errors.New("cannot fetch the CRL: the issuing CA certificate is required to validate it")
	}
	return c.FetchFrom(ctx, url, []*x509.Certificate{issuer}, now)
}

// Download returns the bytes at url (http only, size-capped, HTTP 200
// required) without validating or caching them, for carrying to an offline
// machine. It fails in offline mode.
func (c *CRLCache) Download(ctx context.Context, url string) ([]byte, error) {
	if err := checkHTTPURL(url, "CRL distribution points"); err != nil {
		return nil, err
	}
	if c.offline {
		return nil, kindf(ErrOffline, "cannot download the CRL from %s: offline mode: the network is not used", url)
	}
	der, err := c.http.exchange(ctx, "GET", url, nil, "", c.timeout, c.maxSize)
	if err != nil {
		return nil, fmt.Errorf("failed to download the CRL from %s: %w", url, err)
	}
	return der, nil
}

// FetchFrom downloads the CRL (complete or delta) at url, validates it
// against the one of issuers that issued it (as Import) at now and stores
// it, found under url. It is Fetch for a caller that knows the URL but not
// which CA signs the CRL (the command's "crl fetch URL"). It fails in
// offline mode. A download that fails gives an error naming the URL; a CRL
// downloaded but not accepted gives a *RejectedError that wraps why (an
// *IssuerError, an *IDPMismatchError, an *ExpiredError, ...). Nothing is
// cached then.
func (c *CRLCache) FetchFrom(ctx context.Context, url string, issuers []*x509.Certificate, now time.Time) (CRLInfo, error) {
	der, err := c.Download(ctx, url)
	if err != nil {
		return CRLInfo{}, err
	}
	idx, err := c.acceptFrom(der, issuers, now, accept{url: url, source: "network " + url, kind: wantAny})
	if err != nil {
		return CRLInfo{}, &RejectedError{URL: url, Err: err}
	}
	return idx.info(c.dir), nil
}

// CRL returns the DER of the cached CRL named key (CRLInfo.Key), exactly
// as it was fetched or imported, after checking the cache file's checksum
// and the CRL's recorded digest: to carry it to another machine (crl fetch
// --out). A key that names no cached CRL gives an error wrapping
// fs.ErrNotExist.
func (c *CRLCache) CRL(key string) ([]byte, error) {
	if c.disk == nil {
		return nil, kindf(ErrNoDiskCache, "cannot read a cached CRL: the disk cache is disabled")
	}
	if !validKey(key) {
		return nil, fmt.Errorf("%q is not a CRL cache key: %w", key, fs.ErrNotExist)
	}
	der, err := cachedDER(c.disk, key, c.maxSize)
	if err != nil {
		return nil, fmt.Errorf("cannot read the cached CRL %s: %w", key, err)
	}
	return der, nil
}

// validKey reports whether key has the form of a cache key (see cacheKey).
func validKey(key string) bool {
	if key == "" || len(key) > 128 {
		return false
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
