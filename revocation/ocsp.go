package revocation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"time"

	"golang.org/x/crypto/ocsp"
)

// checkOCSP asks the certificate's responders in order. The first good,
// revoked or unknown-status answer is final; an error moves on to the next
// responder (notation-core-go's rule). A cached response, fresh at
// req.Now, answers without the network.
func (c *Client) checkOCSP(ctx context.Context, cert, issuer *x509.Certificate, req Request) Result {
	key := ocspKey(cert, issuer)
	if single, server, src, ok := c.ocsp.get(key, cert, issuer, req.Now); ok {
		r := ocspResult(single, server, req)
		r.Source, r.FromCache = src, true
		return r
	}
	if c.opts.Offline {
		return Result{Status: StatusUnknown, Method: MethodOCSP, URL: cert.OCSPServer[0],
			Detail: fmt.Sprintf("ocsp %s: offline mode: no cached OCSP response for this certificate", cert.OCSPServer[0])}
	}
	var problems []string
	for _, server := range cert.OCSPServer {
		single, err := c.askOCSP(ctx, server, key, cert, issuer, req.Now)
		if err != nil {
			problems = append(problems, fmt.Sprintf("ocsp %s: %s", server, c.describeErr(ctx, err)))
			continue
		}
		r := ocspResult(single, server, req)
		r.Source = SourceNetwork
		r.Detail = joinDetail(joinDetail(problems...), r.Detail)
		return r
	}
	return Result{Status: StatusUnknown, Method: MethodOCSP, URL: cert.OCSPServer[len(cert.OCSPServer)-1], Detail: joinDetail(problems...)}
}

// askOCSP exchanges one request with server and verifies the answer.
func (c *Client) askOCSP(ctx context.Context, server, key string, cert, issuer *x509.Certificate, now time.Time) (*ocspSingle, error) {
	if err := checkHTTPURL(server, "OCSP responders"); err != nil {
		return nil, err
	}
	reqDER, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return nil, fmt.Errorf("failed to build the OCSP request: %w", err)
	}
	der, err := c.flights.do(ctx, server+" "+key, func(fctx context.Context) ([]byte, error) {
		return c.ocspExchange(fctx, server, reqDER)
	})
	if err != nil {
		return nil, err
	}
	resp, err := parseOCSPResponse(der)
	if err != nil {
		return nil, err
	}
	single, err := resp.verify(cert, issuer, now)
	if err != nil {
		return nil, err
	}
	if single.status != ocspUnknown {
		c.ocsp.put(key, server, der)
	}
	return single, nil
}

// ocspExchange sends the request by GET when its base64 form is shorter
// than 255 bytes, else by POST, as notation-core-go does.
func (c *Client) ocspExchange(ctx context.Context, server string, reqDER []byte) ([]byte, error) {
	lim, timeout := c.opts.MaxOCSPResponseSize, c.opts.OCSPTimeout
	if base64.StdEncoding.EncodedLen(len(reqDER)) < 255 {
		enc := url.QueryEscape(base64.StdEncoding.EncodeToString(reqDER))
		if len(enc) < 255 {
			u, err := url.JoinPath(server, enc)
			if err != nil {
				return nil, fmt.Errorf("failed to build the OCSP GET URL: %w", err)
			}
			return c.http.exchange(ctx, "GET", u, nil, "", timeout, lim)
		}
	}
	return c.http.exchange(ctx, "POST", server, reqDER, "application/ocsp-request", timeout, lim)
}

// ocspResult turns a verified single response into a Result. A revoked
// certificate counts as good when the signing time is before the
// response's invalidityDate (notation-core-go's rule).
func ocspResult(s *ocspSingle, server string, req Request) Result {
	r := Result{Method: MethodOCSP, URL: server, ThisUpdate: s.thisUpdate, NextUpdate: s.nextUpdate}
	switch s.status {
	case ocspGood:
		r.Status = StatusOK
	case ocspUnknown:
		r.Status = StatusUnknown
		r.Detail = fmt.Sprintf("ocsp %s: the responder does not know the certificate (status unknown)", server)
	default:
		if inv, ok := s.invalidityDate(); ok && !req.SigningTime.IsZero() && req.SigningTime.Before(inv) {
			r.Status = StatusOK
			r.Detail = fmt.Sprintf("ocsp %s: revoked at %s, but the invalidity date %s is after the signing time %s",
				server, stamp(s.revokedAt), stamp(inv), stamp(req.SigningTime))
			return r
		}
		r.Status, r.RevokedAt = StatusRevoked, s.revokedAt
		if s.reason >= 0 {
			r.Reason = reasonName(s.reason)
		}
	}
	return r
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ocspKey names a certificate (issuer and serial) in the OCSP cache.
func ocspKey(cert, issuer *x509.Certificate) string {
	h := sha256.New()
	h.Write([]byte(issuerID(issuer)))
	h.Write(cert.SerialNumber.Bytes())
	if cert.SerialNumber.Sign() < 0 {
		h.Write([]byte{'-'})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// ocspCache keeps good and revoked OCSP responses until their nextUpdate,
// in memory and on disk. A cached response is re-verified in full
// (signature, responder, freshness at the request's Now) on every use, so
// the disk copy needs no trust.
type ocspCache struct {
	dir     *diskDir // nil for memory only
	maxSize int64
	mem     *lru[ocspCached]
	onErr   func(error)
}

type ocspCached struct {
	der    []byte
	server string
}

const ocspFileMagic = "NPOCSP1\n"

// get returns a cached response for the certificate that is valid at now,
// its responder, and whether it came from memory or disk.
func (oc *ocspCache) get(key string, cert, issuer *x509.Certificate, now time.Time) (*ocspSingle, string, Source, bool) {
	src := SourceMemory
	e, ok := oc.mem.get(key)
	if !ok && oc.dir != nil {
		b, err := oc.dir.readFile(key+".ocsp", oc.maxSize+4096)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) && oc.onErr != nil {
				oc.onErr(fmt.Errorf("cached OCSP response: %w", err))
			}
			return nil, "", SourceNone, false
		}
		e, ok = decodeOCSPFile(b)
		src = SourceDisk
	}
	if !ok {
		return nil, "", SourceNone, false
	}
	resp, err := parseOCSPResponse(e.der)
	if err != nil {
		return nil, "", SourceNone, false
	}
	single, err := resp.verify(cert, issuer, now)
	if err != nil || single.status == ocspUnknown {
		return nil, "", SourceNone, false
	}
	oc.mem.put(key, e, 1)
	return single, e.server, src, true
}

func (oc *ocspCache) put(key, server string, der []byte) {
	e := ocspCached{der: der, server: server}
	oc.mem.put(key, e, 1)
	if oc.dir == nil {
		return
	}
	var b bytes.Buffer
	b.WriteString(ocspFileMagic)
	b.WriteString(server)
	b.WriteByte('\n')
	b.Write(der)
	if err := oc.dir.writeAtomic(key+".ocsp", b.Bytes()); err != nil && oc.onErr != nil {
		oc.onErr(fmt.Errorf("failed to cache the OCSP response from %s: %w", server, err))
	}
}

func decodeOCSPFile(b []byte) (ocspCached, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(ocspFileMagic))
	if !ok {
		return ocspCached{}, false
	}
	server, der, ok := bytes.Cut(rest, []byte{'\n'})
	if !ok {
		return ocspCached{}, false
	}
	return ocspCached{der: der, server: string(server)}, true
}
