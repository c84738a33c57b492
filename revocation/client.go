package revocation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"

	corex509 "github.com/notaryproject/notation-core-go/x509"
)

// Client is the network and cache backed Checker: OCSP first, CRL when OCSP
// is unknown, with caches for both. Build it with New. It is safe for
// concurrent use; keep one per process so that verifications share its
// caches and downloads.
type Client struct {
	opts    Options
	http    *httpGetter
	crls    *CRLCache
	ocsp    *ocspCache
	flights flightGroup[[]byte] // OCSP exchanges
}

var _ Checker = (*Client)(nil)

// New returns a Client configured by opts.
func New(opts Options) (*Client, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	crls, err := newCRLCache(o)
	if err != nil {
		return nil, err
	}
	c := &Client{opts: o, http: &httpGetter{client: o.HTTPClient}, crls: crls}
	c.ocsp = &ocspCache{mem: newLRU[ocspCached](int64(o.OCSPMemoryEntries)), maxSize: o.MaxOCSPResponseSize, onErr: o.OnCacheError}
	if !o.NoDiskCache {
		c.ocsp.dir = crls.disk.sub("ocsp")
	}
	return c, nil
}

// drain waits for background downloads to finish.
func (c *Client) drain() {
	c.flights.wait()
	c.crls.fetches.wait()
	c.crls.loads.wait()
}

// CRLCache returns the client's CRL cache, for import, listing and fetching.
func (c *Client) CRLCache() *CRLCache { return c.crls }

// InvalidChainError is returned by Check when the chain does not meet the
// rules of its purpose; nothing was checked.
type InvalidChainError struct{ Err error }

func (e *InvalidChainError) Error() string {
	return "invalid chain: expected chain to be correct and complete: " + e.Err.Error()
}

func (e *InvalidChainError) Unwrap() error { return e.Err }

// validateChain re-validates the chain for its purpose, as notation-core-go
// does before any revocation check (with no signing time).
func validateChain(chain []*x509.Certificate, p Purpose) error {
	var err error
	switch p {
	case PurposeCodeSigning:
		err = corex509.ValidateCodeSigningCertChain(chain, nil)
	case PurposeTimestamping:
		err = corex509.ValidateTimestampingCertChain(chain)
	default:
		err = fmt.Errorf("unsupported certificate chain purpose %d", int(p))
	}
	if err != nil {
		return &InvalidChainError{Err: err}
	}
	return nil
}

// Check returns one Result per certificate of req.Chain, in order. The
// root (the last, self-signed certificate) is NonRevokable; the others are
// checked in parallel within Options.ChainTimeout. It returns an error only
// when the chain is invalid for its purpose, req.Now is unset, or ctx ends.
func (c *Client) Check(ctx context.Context, req Request) ([]Result, error) {
	if len(req.Chain) == 0 {
		return nil, &InvalidChainError{Err: errors.New("chain does not contain any certificates")}
	}
	if req.Now.IsZero() {
		return nil, ErrNoTime
	}
	if err := validateChain(req.Chain, req.Purpose); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, c.opts.ChainTimeout)
	defer cancel()
	n := len(req.Chain)
	out := make([]Result, n)
	out[n-1] = Result{Status: StatusNonRevokable}
	var wg sync.WaitGroup
	for i := 0; i < n-1; i++ {
		wg.Go(func() { out[i] = c.checkCert(cctx, req.Chain[i], req.Chain[i+1], req) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("revocation check interrupted: %w", err)
	}
	return out, nil
}

// checkCert applies notation's order: OCSP when the certificate names a
// responder; CRL when OCSP is unknown (ocspFallbackCRL) or absent; neither
// endpoint means NonRevokable.
func (c *Client) checkCert(ctx context.Context, cert, issuer *x509.Certificate, req Request) Result {
	hasOCSP, hasCRL := len(cert.OCSPServer) > 0, len(cert.CRLDistributionPoints) > 0
	switch {
	case hasOCSP:
		r := c.checkOCSP(ctx, cert, issuer, req)
		if r.Status != StatusUnknown || !hasCRL {
			return r
		}
		cr := c.checkCRL(ctx, cert, issuer, req)
		cr.Method = MethodOCSPFallbackCRL
		cr.Detail = joinDetail(r.Detail, cr.Detail)
		return cr
	case hasCRL:
		return c.checkCRL(ctx, cert, issuer, req)
	}
	return Result{Status: StatusNonRevokable}
}

// describeErr words an error for a Detail, naming a chain deadline.
func (c *Client) describeErr(ctx context.Context, err error) string {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Sprintf("the revocation check ran out of time (chain timeout %s)", c.opts.ChainTimeout)
		}
		return "the revocation check was cancelled"
	}
	return err.Error()
}

func joinDetail(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, "; ")
}
