package revocation

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// This file is the way into the CRL cache: fetch, validate, store.

// fetchKind says what a fetched CRL must be.
type fetchKind int

const (
	wantBase fetchKind = iota
	wantDelta
	wantAny
)

// accept says what a CRL must be to enter the cache, besides valid and
// fresh: its kind, its scope, and (relate) its fit with a base CRL.
type accept struct {
	url    string // downloaded from; "" for an import
	source string // "network URL" or "import FILE"
	kind   fetchKind
	// certURLs are the names of the certificate's distribution point that
	// lists url (distributionPointOf); a base CRL's issuing distribution
	// point must name url or one of them. nil when no certificate is
	// involved (crl fetch URL).
	certURLs []string
	// relate, when not nil, must accept the CRL (a delta CRL's base).
	relate func(*crlIndex) error
	// persist makes a failure to store the CRL an error (import).
	persist bool
}

// fetch downloads, validates and stores the CRL at a.url. Concurrent calls
// for the same URL, issuer and certificate distribution points share one
// download.
func (c *CRLCache) fetch(ctx context.Context, issuer *x509.Certificate, now time.Time, a accept) (*crlIndex, error) {
	if err := checkHTTPURL(a.url, "CRL distribution points"); err != nil {
		return nil, err
	}
	if c.offline {
		return nil, ErrOffline
	}
	flightKey := fmt.Sprintf("%d %s %s %x", a.kind, a.url, issuerID(issuer), sha256.Sum256([]byte(strings.Join(a.certURLs, "\n"))))
	idx, err := c.fetches.do(ctx, flightKey, func(fctx context.Context) (*crlIndex, error) {
		der, err := c.http.exchange(fctx, "GET", a.url, nil, "", c.timeout, c.maxSize)
		if err != nil {
			return nil, err
		}
		return c.validateAndStore(der, issuer, now, a)
	})
	if err != nil {
		return nil, err
	}
	if err := idx.checkTime(now); err != nil { // a caller with a later Now
		return nil, err
	}
	return idx, nil
}

// validateAndStore is the one gate into the cache: parse, validate against
// issuer at now, check kind and scope, then write.
func (c *CRLCache) validateAndStore(der []byte, issuer *x509.Certificate, now time.Time, a accept) (*crlIndex, error) {
	h, entries, err := parseCRL(der, crlLimits{maxSize: c.maxSize})
	if err != nil {
		return nil, err
	}
	return c.acceptParsed(der, h, entries, issuer, now, a)
}

// acceptParsed validates a parsed CRL against issuer at now, checks its
// kind, scope and relation, and stores it. A store failure is an error when
// a.persist is set (an import), else it is reported through OnCacheError
// and the validated CRL is still returned.
func (c *CRLCache) acceptParsed(der []byte, h *crlHeader, entries []crlEntry, issuer *x509.Certificate, now time.Time, a accept) (*crlIndex, error) {
	switch {
	case a.kind == wantBase && h.deltaBase != nil:
		return nil, kindf(ErrCRLKind, "the distribution point serves a delta CRL, not a complete CRL")
	case a.kind == wantDelta && h.deltaBase == nil:
		return nil, kindf(ErrCRLKind, "the freshest-CRL URL serves a complete CRL, not a delta CRL")
	}
	idx, err := buildIndex(der, h, entries, issuer, now)
	if err != nil {
		return nil, err
	}
	// A base CRL must cover the URL it came from or the certificate (RFC
	// 5280 section 6.3.3): a delta CRL is bound to its base's scope instead
	// (checkDelta), and an import has no URL (it is found under its IDP
	// names, and every lookup checks the scope again).
	if idx.deltaBase == nil && a.url != "" {
		if err := idx.idp.checkScope(a.url, a.certURLs); err != nil {
			return nil, err
		}
	}
	if a.relate != nil {
		if err := a.relate(idx); err != nil {
			return nil, err
		}
	}
	idx.source, idx.url = a.source, a.url
	if err := c.store(idx, der, now); err != nil {
		if a.persist {
			return nil, err
		}
		if !errors.Is(err, ErrNewerCached) {
			c.cacheErr(fmt.Errorf("failed to cache the CRL from %s: %w", a.source, err))
		}
	}
	return idx, nil
}

// newerCachedError: the cache already holds a newer CRL for the slot.
type newerCachedError struct{ have indexMeta }

func (e *newerCachedError) Is(target error) bool { return target == ErrNewerCached }

func (e *newerCachedError) Error() string {
	return fmt.Sprintf("a newer CRL (number %s, thisUpdate %s) is already cached for this issuer; not replacing it",
		e.have.Number, e.have.ThisUpdate.Format(time.RFC3339))
}

// store writes a validated CRL with its index, as one file replaced
// atomically, then maps its URLs.
func (c *CRLCache) store(idx *crlIndex, der []byte, now time.Time) error {
	if c.dir == "" {
		c.remember(idx)
		return nil
	}
	if have, err := readIndexMeta(c.disk, idx.key+cacheExt); err == nil && !now.After(have.NextUpdate) {
		hn := bigString(have.Number)
		if hn != nil && idx.number != nil && hn.Cmp(idx.number) > 0 {
			return &newerCachedError{have: have}
		}
	}
	c.remember(idx)
	enc, err := encodeIndex(idx, der)
	if err != nil {
		return err
	}
	if err := c.disk.writeAtomic(idx.key+cacheExt, enc); err != nil {
		return err
	}
	return c.writeURLRefs(idx)
}

// remember puts a validated CRL in the memory layer and maps its URLs.
func (c *CRLCache) remember(idx *crlIndex) {
	c.mem.put(idx.key, idx, idx.memSize())
	urls := idx.mappedURLs()
	if len(urls) == 0 {
		return
	}
	c.urlsMu.Lock()
	for _, u := range urls {
		c.urls[u] = idx.key
	}
	c.urlsMu.Unlock()
}

// mappedURLs are the URLs a validated CRL is found under: the names of its
// issuing distribution point, and the URL it was downloaded from (which
// validateAndStore checked against them). A delta CRL is found through its
// base, never by URL; a CRL without an IDP that was imported has no URL and
// is found by issuer.
func (idx *crlIndex) mappedURLs() []string {
	if idx.deltaBase != nil {
		return nil
	}
	var urls []string
	if idx.idp != nil {
		urls = append(urls, idx.idp.uris...)
	}
	if idx.url != "" && !slices.Contains(urls, idx.url) {
		urls = append(urls, idx.url)
	}
	return urls
}

func (c *CRLCache) writeURLRefs(idx *crlIndex) error {
	var errs []error
	for _, u := range idx.mappedURLs() {
		errs = append(errs, c.disk.writeAtomic(urlRefName(u), []byte(idx.key+"\n"+u+"\n")))
	}
	return errors.Join(errs...)
}

// readIndexMeta reads only the JSON header of the cache file name.
func readIndexMeta(d *diskDir, name string) (indexMeta, error) {
	f, err := d.open(name)
	if err != nil {
		return indexMeta{}, err
	}
	path := f.Name()
	defer f.Close()
	head := make([]byte, len(indexMagic)+4)
	if _, err := io.ReadFull(f, head); err != nil {
		return indexMeta{}, fmt.Errorf("%s: %w", path, err)
	}
	n := binary.BigEndian.Uint32(head[len(indexMagic):])
	if n > 1<<20 {
		return indexMeta{}, fmt.Errorf("%s: CRL index header too large", path)
	}
	buf := make([]byte, len(head)+int(n))
	copy(buf, head)
	if _, err := io.ReadFull(f, buf[len(head):]); err != nil {
		return indexMeta{}, fmt.Errorf("%s: %w", path, err)
	}
	m, _, err := decodeIndexMeta(buf)
	return m, err
}

func (idx *crlIndex) info(dir string) CRLInfo {
	m := idx.meta()
	return metaInfo(m, dir)
}

func metaInfo(m indexMeta, dir string) CRLInfo {
	info := CRLInfo{
		Issuer: m.Issuer, Number: bigString(m.Number),
		ThisUpdate: m.ThisUpdate, NextUpdate: m.NextUpdate,
		Entries: m.Entries, Source: m.Source, URL: m.URL,
		Delta: m.DeltaBase != "", DeltaBase: bigString(m.DeltaBase),
		DeltaURLs: m.DeltaURLs, ScopeURLs: m.IDPURLs,
		Key: m.Key, SHA256: m.DERSHA256,
	}
	if dir != "" {
		info.File = filepath.Join(dir, m.Key+cacheExt)
	}
	return info
}
