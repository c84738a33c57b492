package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// CRL front.

func (c *OpenSSLCA) serveCRL(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	base, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".crl")
	name, delta := strings.CutSuffix(base, "-delta")
	name, part, partitioned := c.partitionOf(name)
	if partitioned && (delta || name != CANameIntermediate) {
		ok = false
	}
	ca := c.caByName(name)
	if !ok || ca == nil {
		http.NotFound(w, r)
		return
	}
	c.mu.Lock()
	c.crlHits[ca.name]++
	mode := c.crlModes[ca.name]
	c.mu.Unlock()

	const ctype = "application/pkix-crl"
	var der []byte
	var err error
	switch mode {
	case CRLMode500:
		http.Error(w, "injected failure", http.StatusInternalServerError)
		return
	case CRLModeGarbage:
		w.Header().Set("Content-Type", ctype)
		_, _ = io.WriteString(w, "this is not a CRL\n")
		return
	case CRLModeHuge:
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Length", strconv.Itoa(osslHugeSize))
		if r.Method == http.MethodHead {
			return
		}
		chunk := make([]byte, 64<<10)
		for n := 0; n < osslHugeSize && r.Context().Err() == nil; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		return
	case CRLModeSlow:
		if !c.stall(r.Context()) {
			return
		}
	case CRLModeWrongKey, CRLModeExpired:
		if !delta {
			der, err = c.variantCRL(r.Context(), ca, mode)
			if err != nil {
				c.recordErr(r, err)
				http.Error(w, "openssl failed", http.StatusInternalServerError)
				return
			}
		}
	}
	if der == nil {
		path := ca.publishedPath()
		switch {
		case delta:
			path = ca.deltaPath()
		case partitioned && mode == CRLModeOtherPartition:
			path = ca.partitionPath(part%c.opts.Partitions + 1)
		case partitioned:
			path = ca.partitionPath(part)
		}
		if der, err = os.ReadFile(path); errors.Is(err, os.ErrNotExist) {
			http.NotFound(w, r)
			return
		} else if err != nil {
			c.recordErr(r, err)
			http.Error(w, "read failed", http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(der)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(der)
	}
}

// variantCRL generates, from the current database, a CRL signed by the
// impostor key (same issuer name) or one whose nextUpdate is a day past.
func (c *OpenSSLCA) variantCRL(ctx context.Context, ca *osslCA, mode CRLMode) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, osslHandlerTimeout)
	defer cancel()
	ca.mu.Lock()
	defer ca.mu.Unlock()
	var data []byte
	var err error
	if mode == CRLModeWrongKey {
		data, err = c.genCRL(ctx, ca, "ca_impostor")
	} else {
		now := time.Now().UTC()
		data, err = c.genCRL(ctx, ca, "ca_aux",
			"-crl_lastupdate", now.Add(-48*time.Hour).Format("20060102150405Z"),
			"-crl_nextupdate", now.Add(-24*time.Hour).Format("20060102150405Z"))
	}
	if err != nil {
		return nil, err
	}
	return osslPEMToDER(data), nil
}

// OCSP front.

func (c *OpenSSLCA) serveOCSP(w http.ResponseWriter, r *http.Request) {
	var der []byte
	switch r.Method {
	case http.MethodGet:
		var err error
		if der, err = osslDecodeOCSPGet(r.URL.EscapedPath()); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, osslMaxOCSPRequest+1))
		if err != nil {
			return
		}
		if len(body) > osslMaxOCSPRequest {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		der = body
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ca := c.caForOCSP(der)
	key := ""
	if ca != nil {
		key = ca.name
	}
	c.mu.Lock()
	c.ocspHits[key]++
	mode := c.ocspModes[key]
	c.mu.Unlock()
	if ca == nil {
		ca = c.inter // openssl then answers "unknown" for a foreign issuer
	}

	const ctype = "application/ocsp-response"
	switch mode {
	case OCSPMode500:
		http.Error(w, "injected failure", http.StatusInternalServerError)
		return
	case OCSPModeGarbage:
		w.Header().Set("Content-Type", ctype)
		_, _ = io.WriteString(w, "this is not an OCSP response\n")
		return
	case OCSPModeSlow:
		if !c.stall(r.Context()) {
			return
		}
	}
	resp, err := c.ocspAnswer(r.Context(), ca, der, mode)
	if err != nil {
		c.recordErr(r, err)
		http.Error(w, "openssl failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	_, _ = w.Write(resp)
}

// osslDecodeOCSPGet decodes the RFC 6960 A.1 GET form: the path is the
// URL-encoded base64 of the DER request. notation-core-go sends
// url.QueryEscape(base64) joined to the responder URL.
func osslDecodeOCSPGet(escapedPath string) ([]byte, error) {
	p := strings.TrimPrefix(escapedPath, "/")
	if p == "" {
		return nil, errors.New("empty OCSP GET request")
	}
	s, err := url.PathUnescape(p) // keeps '+', unlike QueryUnescape
	if err != nil {
		return nil, fmt.Errorf("bad OCSP GET request: %w", err)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if der, err := enc.DecodeString(s); err == nil {
			return der, nil
		}
	}
	return nil, errors.New("bad OCSP GET request: not base64")
}

// caForOCSP returns the CA whose name and key hashes the request's CertID
// carries, or nil.
func (c *OpenSSLCA) caForOCSP(der []byte) *osslCA {
	req, err := ocsp.ParseRequest(der)
	if err != nil || !req.HashAlgorithm.Available() {
		return nil
	}
	for _, ca := range c.cas {
		var spki struct {
			Algorithm pkix.AlgorithmIdentifier
			PublicKey asn1.BitString
		}
		if _, err := asn1.Unmarshal(ca.cert.RawSubjectPublicKeyInfo, &spki); err != nil {
			continue
		}
		if bytes.Equal(osslHash(req.HashAlgorithm, spki.PublicKey.RightAlign()), req.IssuerKeyHash) &&
			bytes.Equal(osslHash(req.HashAlgorithm, ca.cert.RawSubject), req.IssuerNameHash) {
			return ca
		}
	}
	return nil
}

func osslHash(h crypto.Hash, data []byte) []byte {
	x := h.New()
	x.Write(data)
	return x.Sum(nil)
}

// ocspAnswer runs openssl ocsp once as the responder of ca for the DER
// request: -index index.txt -CA ca.crt -rsigner ocsp.crt -rkey ocsp.key
// -reqin -respout [-nmin N]. A request openssl cannot read gets the
// malformedRequest response its server mode would send.
func (c *OpenSSLCA) ocspAnswer(ctx context.Context, ca *osslCA, req []byte, mode OCSPMode) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, osslHandlerTimeout)
	defer cancel()
	tmp, err := os.MkdirTemp(filepath.Join(c.dir, "tmp"), "ocsp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	reqPath, respPath := filepath.Join(tmp, "req.der"), filepath.Join(tmp, "resp.der")
	if err := os.WriteFile(reqPath, req, 0o600); err != nil {
		return nil, err
	}
	index := ca.path("index.txt")
	if mode == OCSPModeUnknown {
		index = ca.path("index-empty.txt")
	}
	args := []string{"ocsp", "-index", index, "-CA", ca.certPath(), "-rsigner", ca.path("ocsp.crt"),
		"-rkey", ca.path("ocsp.key"), "-reqin", reqPath, "-respout", respPath}
	if mode != OCSPModeNoNextUpdate {
		mins := max(int64(c.opts.OCSPValidity/time.Minute), 1)
		args = append(args, "-nmin", strconv.FormatInt(mins, 10))
	}
	switch mode {
	case OCSPModeBadSig:
		args = append(args, "-badsig")
	case OCSPModeNoCerts:
		args = append(args, "-resp_no_certs")
	}
	ca.mu.Lock()
	_, runErr := c.openssl(ctx, args...)
	ca.mu.Unlock()
	resp, err := os.ReadFile(respPath)
	if runErr != nil || err != nil || len(resp) == 0 {
		if _, perr := ocsp.ParseRequest(req); perr != nil {
			return ocsp.MalformedRequestErrorResponse, nil
		}
		if runErr != nil {
			return nil, runErr
		}
		return nil, fmt.Errorf("openssl ocsp wrote no response: %v", err)
	}
	return resp, nil
}

// osslFront is a loopback HTTP server that can be taken down (listener
// closed: connections refused) and brought back on the same port.
type osslFront struct {
	addr     string
	handler  http.Handler
	mu       sync.Mutex
	srv      *http.Server // nil while down
	served   chan struct{}
	pending  net.Listener // opened, not served yet
	closed   bool
	inflight sync.WaitGroup
}

func newOsslFront(h http.Handler) (*osslFront, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("e2e: listening on 127.0.0.1: %w", err)
	}
	return &osslFront{addr: l.Addr().String(), handler: h, pending: l}, nil
}

// start serves the listener newOsslFront opened. Until then connections
// wait in the listen backlog, so nothing is answered before the PKI exists.
func (f *osslFront) start() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending != nil && !f.closed {
		f.serve(f.pending)
		f.pending = nil
	}
}

// serve starts a server on l. The caller holds f.mu (or owns f).
func (f *osslFront) serve(l net.Listener) {
	srv := &http.Server{
		Handler:           http.HandlerFunc(f.track),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // the harness never prints
	}
	done := make(chan struct{})
	go func() {
		_ = srv.Serve(l)
		close(done)
	}()
	f.srv, f.served = srv, done
}

func (f *osslFront) track(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		http.Error(w, "stopped", http.StatusServiceUnavailable)
		return
	}
	f.inflight.Add(1)
	f.mu.Unlock()
	defer f.inflight.Done()
	f.handler.ServeHTTP(w, r)
}

func (f *osslFront) setDown(down bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("e2e: the OpenSSLCA was stopped")
	}
	if f.pending != nil {
		return errors.New("e2e: the OpenSSLCA is not started yet")
	}
	switch {
	case down && f.srv != nil:
		err := f.srv.Close() // closes the listener and the open connections
		<-f.served
		f.srv = nil
		if err != nil {
			return fmt.Errorf("e2e: closing %s: %w", f.addr, err)
		}
	case !down && f.srv == nil:
		l, err := net.Listen("tcp", f.addr)
		if err != nil {
			return fmt.Errorf("e2e: reopening %s: %w", f.addr, err)
		}
		f.serve(l)
	}
	return nil
}

func (f *osslFront) stop() error {
	f.mu.Lock()
	f.closed = true
	srv, served := f.srv, f.served
	f.srv = nil
	if f.pending != nil {
		_ = f.pending.Close()
		f.pending = nil
	}
	f.mu.Unlock()
	var err error
	if srv != nil {
		if err = srv.Close(); err != nil {
			err = fmt.Errorf("e2e: closing %s: %w", f.addr, err)
		}
		<-served
	}
	f.inflight.Wait()
	return err
}
