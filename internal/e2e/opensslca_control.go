package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"
)

// Accessors.

// Dir returns the folder the PKI lives in.
func (c *OpenSSLCA) Dir() string { return c.dir }

// RootPath returns the root certificate (PEM): the trust anchor.
func (c *OpenSSLCA) RootPath() string { return c.root.certPath() }

// IntermediatePath returns the intermediate certificate (PEM).
func (c *OpenSSLCA) IntermediatePath() string { return c.inter.certPath() }

// OCSPSignerPath returns the delegated OCSP responder certificate (PEM) of
// the CA named ca, or "" for an unknown name.
func (c *OpenSSLCA) OCSPSignerPath(ca string) string {
	if x := c.caByName(ca); x != nil {
		return x.path("ocsp.crt")
	}
	return ""
}

// ChainPath returns leaves/<name>-chain.pem (leaf, intermediate, root) for a
// leaf made by IssueLeaf, or "".
func (c *OpenSSLCA) ChainPath(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaves[name].chain
}

// TSACertPath returns the TSA leaf certificate (PEM), or "" without CAOptions.TSA.
func (c *OpenSSLCA) TSACertPath() string { return c.tsaCert }

// TSAKeyPath returns the TSA leaf's private key (PKCS#8 PEM), or "".
func (c *OpenSSLCA) TSAKeyPath() string { return c.tsaKey }

// TSARootPath returns the TSA root certificate (PEM), or "".
func (c *OpenSSLCA) TSARootPath() string {
	if c.tsaRoot == nil {
		return ""
	}
	return c.tsaRoot.certPath()
}

// TSAChainPath returns tsa/tsa-chain.pem (TSA leaf, TSA root), or "".
func (c *OpenSSLCA) TSAChainPath() string {
	if c.tsaRoot == nil {
		return ""
	}
	return filepath.Join(c.dir, "tsa", "tsa-chain.pem")
}

// CRLURL returns the CRL URL in the leaves' crlDistributionPoints (the
// intermediate's CRL).
func (c *OpenSSLCA) CRLURL() string { return c.CRLURLOf(CANameIntermediate) }

// CRLURLOf returns http://127.0.0.1:PORT/<ca>.crl, the CRL of the CA named ca.
func (c *OpenSSLCA) CRLURLOf(ca string) string {
	return "http://" + c.crlFront.addr + "/" + ca + ".crl"
}

// DeltaCRLURLOf returns http://127.0.0.1:PORT/<ca>-delta.crl.
func (c *OpenSSLCA) DeltaCRLURLOf(ca string) string {
	return "http://" + c.crlFront.addr + "/" + ca + "-delta.crl"
}

// OCSPURL returns http://127.0.0.1:PORT, the OCSP responder of every CA
// (the front picks the CA by the request's issuer hashes).
func (c *OpenSSLCA) OCSPURL() string { return "http://" + c.ocspFront.addr }

func (c *OpenSSLCA) caByName(name string) *osslCA {
	for _, ca := range c.cas {
		if ca.name == name {
			return ca
		}
	}
	return nil
}

// Fault injection.

// SetCRLMode sets the mode of every CA's CRL (and delta CRL) URL.
func (c *OpenSSLCA) SetCRLMode(mode CRLMode) error {
	if !osslCRLModeOK(mode) {
		return fmt.Errorf("e2e: unknown CRL mode %q", mode)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ca := range c.cas {
		c.crlModes[ca.name] = mode
	}
	return nil
}

// SetCRLModeFor sets the mode of one CA's CRL URLs.
func (c *OpenSSLCA) SetCRLModeFor(ca string, mode CRLMode) error {
	if !osslCRLModeOK(mode) {
		return fmt.Errorf("e2e: unknown CRL mode %q", mode)
	}
	if c.caByName(ca) == nil {
		return fmt.Errorf("e2e: unknown CA %q", ca)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.crlModes[ca] = mode
	return nil
}

// SetOCSPMode sets the OCSP mode for every CA.
func (c *OpenSSLCA) SetOCSPMode(mode OCSPMode) error {
	if !osslOCSPModeOK(mode) {
		return fmt.Errorf("e2e: unknown OCSP mode %q", mode)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ca := range c.cas {
		c.ocspModes[ca.name] = mode
	}
	return nil
}

// SetOCSPModeFor sets the OCSP mode for requests about certificates that
// the CA named ca issued.
func (c *OpenSSLCA) SetOCSPModeFor(ca string, mode OCSPMode) error {
	if !osslOCSPModeOK(mode) {
		return fmt.Errorf("e2e: unknown OCSP mode %q", mode)
	}
	if c.caByName(ca) == nil {
		return fmt.Errorf("e2e: unknown CA %q", ca)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ocspModes[ca] = mode
	return nil
}

// SetCRLDown closes (true) or reopens (false) the CRL front's listener: while
// down, connections are refused. Reopening binds the same port again and
// fails if another process took it meanwhile.
func (c *OpenSSLCA) SetCRLDown(down bool) error { return c.crlFront.setDown(down) }

// SetOCSPDown is [OpenSSLCA.SetCRLDown] for the OCSP front.
func (c *OpenSSLCA) SetOCSPDown(down bool) error { return c.ocspFront.setDown(down) }

func osslCRLModeOK(m CRLMode) bool {
	switch m {
	case CRLModeOK, CRLMode500, CRLModeGarbage, CRLModeSlow, CRLModeWrongKey, CRLModeExpired, CRLModeHuge, CRLModeOtherPartition:
		return true
	}
	return false
}

func osslOCSPModeOK(m OCSPMode) bool {
	switch m {
	case OCSPModeOK, OCSPModeUnknown, OCSPModeNoNextUpdate, OCSPModeBadSig, OCSPModeNoCerts,
		OCSPMode500, OCSPModeGarbage, OCSPModeSlow:
		return true
	}
	return false
}

// CRLFetches returns how many requests the CRL front received for the CA
// named ca (base and delta).
func (c *OpenSSLCA) CRLFetches(ca string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.crlHits[ca]
}

// OCSPRequests returns how many OCSP requests were routed to the CA named ca
// ("" counts requests no CA matched).
func (c *OpenSSLCA) OCSPRequests(ca string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ocspHits[ca]
}

// ServeErr returns the failures of the fronts themselves (an openssl run
// that failed while serving, say), joined; nil if none. Injected faults and
// clients that hang up are not failures.
func (c *OpenSSLCA) ServeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(c.serveErrs...)
}

func (c *OpenSSLCA) recordErr(r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client left or the front stopped
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.serveErrs) < osslMaxServeErrs {
		c.serveErrs = append(c.serveErrs, fmt.Errorf("e2e: %s %s: %w", r.Method, r.URL.Path, err))
	}
}

// Stop closes both fronts and waits for the requests in flight. It is safe
// to call more than once and concurrently; the files stay in place.
func (c *OpenSSLCA) Stop() error {
	c.stopOnce.Do(func() {
		close(c.stopped)
		var errs []error
		for _, f := range []*osslFront{c.crlFront, c.ocspFront} {
			if f != nil {
				errs = append(errs, f.stop())
			}
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// stall waits SlowDelay; false if the request or the CA ended first.
func (c *OpenSSLCA) stall(ctx context.Context) bool {
	t := time.NewTimer(c.opts.SlowDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-c.stopped:
	}
	return false
}
