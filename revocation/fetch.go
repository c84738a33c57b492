package revocation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// httpGetter performs the bounded HTTP exchanges of OCSP and CRL checks.
type httpGetter struct {
	client *http.Client
}

// checkHTTPURL accepts only http URLs, as notation-core-go does: CRLs and
// OCSP responses are signed, and https would need revocation checking of
// its own.
func checkHTTPURL(raw, what string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("the %s URL is not valid: %w", what, err)
	}
	if !strings.EqualFold(u.Scheme, "http") {
		scheme := u.Scheme
		if scheme == "" {
			scheme = "scheme-less"
		}
		return kindf(ErrNotHTTP, "%s URLs are not supported for %s: only http is (the response is signed; notation-core-go fetches http only)", scheme, what)
	}
	return nil
}

// exchange sends one request and returns the body of a 200 response of at
// most limit bytes. timeout bounds the whole exchange, body included.
func (g *httpGetter) exchange(ctx context.Context, method, rawURL string, body []byte, contentType string, timeout time.Duration, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return nil, fmt.Errorf("failed to build the request: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, describeNetError(ctx, err, timeout)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, kindf(ErrHTTPStatus, "the server answered HTTP %s; want 200 OK", resp.Status)
	}
	if resp.ContentLength > limit {
		return nil, kindf(ErrTooLarge, "the response is %d bytes, larger than the %s limit", resp.ContentLength, byteSize(limit))
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1)); err != nil {
		return nil, describeNetError(ctx, fmt.Errorf("failed to read the response: %w", err), timeout)
	}
	if int64(buf.Len()) > limit {
		return nil, kindf(ErrTooLarge, "the response is larger than the %s limit", byteSize(limit))
	}
	return buf.Bytes(), nil
}

// describeNetError names timeouts in words and drops the request URL that
// url.Error repeats (the caller names the URL once).
func describeNetError(ctx context.Context, err error, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return &timeoutError{timeout: timeout, err: err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// timeoutError is an exchange that did not complete within its timeout.
type timeoutError struct {
	timeout time.Duration
	err     error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("no complete answer within the %s timeout", e.timeout)
}

func (e *timeoutError) Unwrap() error { return e.err }
