package revocation

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// CRLCache holds validated CRLs on disk and in memory and fetches missing
// ones. Every CRL is validated against its issuing CA before it is stored;
// a CRL that fails validation is never cached. It is safe for concurrent
// use by goroutines and, through atomic file replacement, by processes.
type CRLCache struct {
	dir     string   // "" when there is no disk cache
	disk    *diskDir // nil when there is no disk cache
	chains  *diskDir // disk's chains/ folder (offline hints)
	http    *httpGetter
	timeout time.Duration
	maxSize int64
	offline bool
	onErr   func(error)
	// hintArgs are Options.ImportArgs.
	hintArgs []string

	mem     *lru[*crlIndex]
	urlsMu  sync.Mutex
	urls    map[string]string // CRL URL -> cache key
	fetches flightGroup[*crlIndex]
	loads   flightGroup[*crlIndex]
}

// NewCRLCache returns the CRL cache configured by opts (CacheDir,
// NoDiskCache, HTTPClient, CRLTimeout, MaxCRLSize, Offline,
// MemoryCacheBytes, OnCacheError).
func NewCRLCache(opts Options) (*CRLCache, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return newCRLCache(o)
}

func newCRLCache(o Options) (*CRLCache, error) {
	c := &CRLCache{
		http:     &httpGetter{client: o.HTTPClient},
		timeout:  o.CRLTimeout,
		maxSize:  o.MaxCRLSize,
		offline:  o.Offline,
		onErr:    o.OnCacheError,
		hintArgs: o.ImportArgs,
		mem:      newLRU[*crlIndex](o.MemoryCacheBytes),
		urls:     map[string]string{},
	}
	if !o.NoDiskCache {
		disk, err := newDiskDir(o.CacheDir)
		if err != nil {
			return nil, err
		}
		c.dir, c.disk, c.chains = o.CacheDir, disk, disk.sub(chainFolder)
	}
	return c, nil
}

func (c *CRLCache) cacheErr(err error) {
	if err != nil && c.onErr != nil {
		c.onErr(err)
	}
}

// cachedBase finds a fresh, applicable base CRL for url and issuer: first
// through the URL mapping, then by issuer (an imported CRL does not know its
// URL). A cached CRL of another partition (its issuing distribution point
// names neither u nor a distribution point of cert) is never used, whatever
// mapped it. It returns an *ExpiredError when only expired ones exist.
func (c *CRLCache) cachedBase(u string, cert, issuer *x509.Certificate, now time.Time) (*crlIndex, Source, error) {
	var stale error
	dpNames := distributionPointOf(cert, u)
	tried := map[string]bool{}
	try := func(key string) (*crlIndex, Source) {
		tried[key] = true
		idx, src, err := c.loadKey(key, issuer, now)
		var se *ExpiredError
		switch {
		case errors.As(err, &se):
			stale = err
			return nil, SourceNone
		case err != nil:
			if !errors.Is(err, fs.ErrNotExist) {
				c.cacheErr(fmt.Errorf("cached CRL %s: %w", key, err))
			}
			return nil, SourceNone
		case idx.deltaBase != nil || idx.idp.applies(cert) != nil:
			return nil, SourceNone
		}
		if err := idx.idp.checkScope(u, dpNames); err != nil {
			c.cacheErr(fmt.Errorf("cached CRL %s not used: %w", key, err))
			return nil, SourceNone
		}
		return idx, src
	}
	if key, ok := c.urlKey(u); ok {
		if idx, src := try(key); idx != nil {
			return idx, src, nil
		}
	}
	for _, key := range c.keysForIssuer(issuer, u, dpNames) {
		if tried[key] {
			continue
		}
		if idx, src := try(key); idx != nil {
			c.urlsMu.Lock()
			c.urls[u] = key // found by issuer: remember, in memory only
			c.urlsMu.Unlock()
			return idx, src, nil
		}
	}
	if stale != nil {
		return nil, SourceNone, stale
	}
	return nil, SourceNone, ErrNotCached
}

// keysForIssuer lists the cached base CRLs of issuer whose scope may cover
// url or one of dpNames (the names of its distribution point), newest
// first. The index headers it reads are
// only a filter: cachedBase re-checks the scope of the verified CRL.
func (c *CRLCache) keysForIssuer(issuer *x509.Certificate, u string, dpNames []string) []string {
	if c.dir == "" {
		return nil
	}
	matches, _ := c.disk.names(issuerID(issuer)+"-", "-base"+cacheExt)
	type cand struct {
		key  string
		this time.Time
	}
	var cands []cand
	for _, name := range matches {
		m, err := readIndexMeta(c.disk, name)
		if err != nil {
			continue
		}
		if len(m.IDPURLs) > 0 && !containsString(m.IDPURLs, u) && !slices.ContainsFunc(dpNames, func(s string) bool { return containsString(m.IDPURLs, s) }) {
			continue
		}
		cands = append(cands, cand{m.Key, m.ThisUpdate})
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].this.After(cands[j].this) })
	keys := make([]string, len(cands))
	for i, cd := range cands {
		keys[i] = cd.key
	}
	return keys
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// urlKey maps a URL to the key of the CRL last fetched from it.
func (c *CRLCache) urlKey(u string) (string, bool) {
	c.urlsMu.Lock()
	key, ok := c.urls[u]
	c.urlsMu.Unlock()
	if ok || c.dir == "" {
		return key, ok
	}
	b, err := c.disk.readFile(urlRefName(u), 4096)
	if err != nil {
		return "", false
	}
	lines := strings.SplitN(string(b), "\n", 3)
	if len(lines) < 2 || lines[1] != u || strings.ContainsAny(lines[0], `/\.`) {
		return "", false
	}
	return lines[0], true
}

// loadKey returns the CRL stored under key if it verifies against issuer
// and is fresh at now, and where it came from: SourceImported for a CRL
// that was imported, else SourceMemory or SourceDisk.
func (c *CRLCache) loadKey(key string, issuer *x509.Certificate, now time.Time) (*crlIndex, Source, error) {
	spki := sha256.Sum256(issuer.RawSubjectPublicKeyInfo)
	src := SourceMemory
	idx, ok := c.mem.get(key)
	if !ok || idx.spki != spki {
		if c.dir == "" {
			return nil, SourceNone, fs.ErrNotExist
		}
		// Read the small header first: an expired CRL is not worth loading.
		m, err := readIndexMeta(c.disk, key+cacheExt)
		if err != nil {
			return nil, SourceNone, err
		}
		if now.After(m.NextUpdate) {
			return nil, SourceNone, &ExpiredError{NextUpdate: m.NextUpdate, Now: now}
		}
		idx, err = c.loads.do(context.Background(), key+" "+issuerID(issuer), func(context.Context) (*crlIndex, error) {
			return c.loadDisk(key, issuer)
		})
		if err != nil {
			return nil, SourceNone, err
		}
		src = SourceDisk
	}
	if err := idx.checkTime(now); err != nil {
		return nil, SourceNone, err
	}
	if idx.imported() {
		src = SourceImported
	}
	return idx, src, nil
}

func (c *CRLCache) loadDisk(key string, issuer *x509.Certificate) (*crlIndex, error) {
	idx, err := loadCached(c.disk, key, issuer, c.maxSize)
	if err != nil {
		return nil, err
	}
	c.mem.put(key, idx, idx.memSize())
	return idx, nil
}
