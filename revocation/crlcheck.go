package revocation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// checkCRL tries the certificate's distribution points in order until one
// yields a valid answer: a revoked entry is final; a good answer is final
// once the CRLs consulted cover every revocation reason (a CRL without
// onlySomeReasons covers all). Unlike notation-core-go, a failing
// distribution point does not stop the search.
func (c *Client) checkCRL(ctx context.Context, cert, issuer *x509.Certificate, req Request) Result {
	certHasFreshest := false
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(oidFreshestCRL()) {
			certHasFreshest = true
		}
	}
	var problems []string
	var covered uint16
	var good Result
	for _, u := range cert.CRLDistributionPoints {
		r, cov, err := c.crlAt(ctx, u, cert, issuer, req, certHasFreshest)
		if err != nil {
			problems = append(problems, fmt.Sprintf("crl %s: %s", u, c.describeErr(ctx, err)))
			continue
		}
		if r.Status == StatusRevoked {
			return r
		}
		if covered == 0 {
			good = r
		}
		covered |= cov
		if covered == allReasons {
			good.Detail = joinDetail(joinDetail(problems...), good.Detail)
			return good
		}
	}
	if covered != 0 {
		problems = append(problems, "the CRLs that answered cover only some revocation reasons (onlySomeReasons)")
	}
	last := ""
	if n := len(cert.CRLDistributionPoints); n > 0 {
		last = cert.CRLDistributionPoints[n-1]
	}
	return Result{Status: StatusUnknown, Method: MethodCRL, URL: last, Detail: joinDetail(problems...)}
}

// crlAt decides the status from one distribution point and returns the
// reasons the answer covers.
func (c *Client) crlAt(ctx context.Context, u string, cert, issuer *x509.Certificate, req Request, certHasFreshest bool) (Result, uint16, error) {
	if err := checkHTTPURL(u, "CRL distribution points"); err != nil {
		return Result{}, 0, err
	}
	base, baseSrc, err := c.crls.base(ctx, u, cert, issuer, req)
	if err != nil {
		return Result{}, 0, err
	}
	if err := base.idp.applies(cert); err != nil {
		return Result{}, 0, err
	}
	if certHasFreshest && len(base.deltaURLs) == 0 {
		return Result{}, 0, kindf(ErrUnsupportedCRL, "the certificate names a freshest (delta) CRL that its base CRL does not; delta CRLs announced only in the certificate are not supported")
	}
	delta, deltaSrc, err := c.crls.delta(ctx, base, issuer, req)
	if err != nil {
		return Result{}, 0, err
	}
	v, err := evaluate(cert, base, delta, req.SigningTime)
	if err != nil {
		return Result{}, 0, err
	}
	src := baseSrc
	if delta != nil {
		src = combineSources(baseSrc, deltaSrc)
	}
	r := Result{
		Status: StatusOK, Method: MethodCRL, URL: u,
		Source: src, FromCache: src.cached(),
		ThisUpdate: base.this, NextUpdate: base.next,
	}
	if delta != nil {
		r.ThisUpdate = delta.this
		if delta.next.Before(r.NextUpdate) {
			r.NextUpdate = delta.next
		}
	}
	switch {
	case v.revoked:
		r.Status = StatusRevoked
		r.RevokedAt = time.Unix(v.entry.revokedAt, 0).UTC()
		if v.entry.flags&flagReason != 0 {
			r.Reason = reasonName(int(v.entry.reason))
		}
	case v.excused != nil:
		r.Detail = fmt.Sprintf("crl %s: revoked at %s, but the invalidity date %s is after the signing time %s",
			u, stamp(time.Unix(v.excused.revokedAt, 0)), stamp(time.Unix(v.excused.invalidAt, 0)), stamp(req.SigningTime))
	}
	return r, base.idp.coveredReasons(), nil
}

// base returns a fresh base CRL for the distribution point u, and where it
// came from: the cache when it has one, else the network (never when
// offline).
func (c *CRLCache) base(ctx context.Context, u string, cert, issuer *x509.Certificate, req Request) (*crlIndex, Source, error) {
	now := req.Now
	idx, src, err := c.cachedBase(u, cert, issuer, now)
	if err == nil {
		return idx, src, nil
	}
	if c.offline {
		var se *ExpiredError
		if errors.As(err, &se) {
			return nil, SourceNone, kindf(ErrNotCached, "offline mode: the cached CRL for %s expired at %s; %s", u, stamp(se.NextUpdate), c.offlineHint(req.Chain))
		}
		return nil, SourceNone, kindf(ErrNotCached, "offline mode: no cached CRL for %s; %s", u, c.offlineHint(req.Chain))
	}
	idx, err = c.fetch(ctx, issuer, now, accept{url: u, source: "network " + u, kind: wantBase, certURLs: distributionPointOf(cert, u)})
	if err != nil {
		return nil, SourceNone, err
	}
	return idx, SourceNetwork, nil
}

// delta returns the delta CRL that a base CRL announces (FreshestCRL), or
// nil when it announces none, and where it came from. The delta's URLs are
// tried in order.
func (c *CRLCache) delta(ctx context.Context, base *crlIndex, issuer *x509.Certificate, req Request) (*crlIndex, Source, error) {
	now := req.Now
	if len(base.deltaURLs) == 0 {
		return nil, SourceNone, nil
	}
	key := cacheKey(issuer, base.idpRaw, true)
	if idx, src, err := c.loadKey(key, issuer, now); err == nil && checkDelta(base, idx) == nil {
		return idx, src, nil
	}
	if c.offline {
		return nil, SourceNone, kindf(ErrNotCached, "offline mode: no fresh cached delta CRL for base CRL number %s (freshest CRL %s); %s",
			base.number, strings.Join(base.deltaURLs, ", "), c.offlineHint(req.Chain))
	}
	var problems []string
	for _, u := range base.deltaURLs {
		idx, err := c.fetch(ctx, issuer, now, accept{url: u, source: "network " + u, kind: wantDelta, relate: func(d *crlIndex) error { return checkDelta(base, d) }})
		if err == nil {
			err = checkDelta(base, idx)
		}
		if err == nil {
			return idx, SourceNetwork, nil
		}
		if ctx.Err() != nil {
			return nil, SourceNone, ctx.Err()
		}
		problems = append(problems, fmt.Sprintf("delta CRL %s: %v", u, err))
	}
	return nil, SourceNone, errors.New(strings.Join(problems, "; "))
}
