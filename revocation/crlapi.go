package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"sort"
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
	// Key is the cache key; File is the cached DER file.
	Key    string `json:"key"`
	File   string `json:"file,omitempty"`
	SHA256 string `json:"sha256"`
}

// Expired reports whether the CRL is past its NextUpdate at now.
func (i CRLInfo) Expired(now time.Time) bool { return now.After(i.NextUpdate) }

// Import validates a CRL (DER) against one of issuers (the command passes
// every certificate of the trust stores and the known intermediates) and
// stores it. now is the validation time: the CRL must not be expired then.
// source describes where it came from, e.g. "import /path/ca.crl".
func (c *CRLCache) Import(der []byte, issuers []*x509.Certificate, now time.Time, source string) (CRLInfo, error) {
	if c.dir == "" {
		return CRLInfo{}, errors.New("cannot import a CRL: the disk cache is disabled")
	}
	h, entries, err := parseCRL(der, crlLimits{maxSize: c.maxSize})
	if err != nil {
		return CRLInfo{}, fmt.Errorf("failed to import the CRL: %w", err)
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
		idx, err := buildIndex(der, h, entries, iss, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		idx.source = source
		if err := c.store(idx, der, now); err != nil {
			return CRLInfo{}, fmt.Errorf("failed to import the CRL: %w", err)
		}
		return idx.info(c.dir), nil
	}
	if len(errs) == 0 && named > 0 {
		return CRLInfo{}, fmt.Errorf("failed to import the CRL: its authority key identifier %X matches none of the %d trusted certificates named %q: it is not signed by that CA's key", h.skel.AuthorityKeyId, named, h.skel.Issuer.String())
	}
	if len(errs) == 0 {
		return CRLInfo{}, fmt.Errorf("failed to import the CRL: none of the %d certificates given is its issuer %q; add the issuing CA's certificate to a trust store", len(issuers), h.skel.Issuer.String())
	}
	return CRLInfo{}, fmt.Errorf("failed to import the CRL: %w", errors.Join(errs...))
}

// List describes every CRL in the disk cache, expired ones included.
func (c *CRLCache) List() ([]CRLInfo, error) {
	if c.dir == "" {
		return nil, nil
	}
	names, err := c.disk.names("", ".idx")
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
// issuer at now and stores it. It fails in offline mode.
func (c *CRLCache) Fetch(ctx context.Context, url string, issuer *x509.Certificate, now time.Time) (CRLInfo, error) {
	if issuer == nil {
		return CRLInfo{}, errors.New("failed to fetch the CRL: the issuing CA certificate is required to validate it")
	}
	idx, err := c.fetch(ctx, issuer, now, accept{url: url, source: "network " + url, kind: wantAny})
	if err != nil {
		return CRLInfo{}, fmt.Errorf("failed to fetch the CRL from %s: %w", url, err)
	}
	return idx.info(c.dir), nil
}

// Download returns the bytes at url (http only, size-capped, HTTP 200
// required) without validating or caching them, for carrying to an offline
// machine. It fails in offline mode.
func (c *CRLCache) Download(ctx context.Context, url string) ([]byte, error) {
	if err := checkHTTPURL(url, "CRL distribution points"); err != nil {
		return nil, err
	}
	if c.offline {
		return nil, errors.New("failed to download the CRL: offline mode: the network is not used")
	}
	der, err := c.http.exchange(ctx, "GET", url, nil, "", c.timeout, c.maxSize)
	if err != nil {
		return nil, fmt.Errorf("failed to download the CRL from %s: %w", url, err)
	}
	return der, nil
}

// FetchFrom downloads the CRL (complete or delta) at url, validates it
// against the one of issuers that is its issuer (same subject, signature
// checked) at now and stores it, remembering url. It is Fetch for a caller
// that knows the URL but not which CA signs the CRL (the command's
// "crl fetch URL"). It fails in offline mode.
func (c *CRLCache) FetchFrom(ctx context.Context, url string, issuers []*x509.Certificate, now time.Time) (CRLInfo, error) {
	der, err := c.Download(ctx, url)
	if err != nil {
		return CRLInfo{}, err
	}
	h, err := parseCRLHeader(der)
	if err != nil {
		return CRLInfo{}, fmt.Errorf("failed to fetch the CRL from %s: %w", url, err)
	}
	var errs []error
	for _, iss := range issuers {
		if iss == nil || !bytes.Equal(iss.RawSubject, h.skel.RawIssuer) {
			continue
		}
		idx, err := c.validateAndStore(der, iss, now, accept{url: url, source: "network " + url, kind: wantAny})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return idx.info(c.dir), nil
	}
	if len(errs) == 0 {
		return CRLInfo{}, fmt.Errorf("failed to fetch the CRL from %s: none of the %d certificates given is its issuer %q; add the issuing CA's certificate to a trust store or pass its chain", url, len(issuers), h.skel.Issuer.String())
	}
	return CRLInfo{}, fmt.Errorf("failed to fetch the CRL from %s: %w", url, errors.Join(errs...))
}
