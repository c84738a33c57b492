package e2e

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/notaryproject/tspclient-go"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testtsa"
)

const (
	tsaStopTimeout    = 5 * time.Second
	tsaOpenSSLTimeout = 30 * time.Second
	tsaMaxQueryBytes  = 64 << 10
	// tsaSeed derives the e2e TSA's keys (see testtsa.GeneratePKI); it
	// differs from testtsa's default so the two PKIs are unrelated.
	tsaSeed = "notation-pkcs11 e2e openssl TSA"
)

// TSAPolicy is the policy OID the OpenSSL TSA stamps with (under the
// joint-iso-itu-t example arc).
const TSAPolicy = "2.999.3161.2"

// TSAValidity returns the validity of the OpenSSL TSA's root and signing
// certificate: 2025-01-01 to 2035-01-01, fixed so tests do not depend on
// today's date beyond "now is within it".
func TSAValidity() (notBefore, notAfter time.Time) {
	return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)
}

// TSA is a real RFC 3161 time-stamping authority on a loopback port: every
// POST of an application/timestamp-query runs `openssl ts -reply` and returns
// its application/timestamp-reply. Its PKI is a root CA and a TSA
// certificate (EC P-256, deterministic, from testtsa.GeneratePKI) with
// critical keyUsage digitalSignature and critical extendedKeyUsage
// timeStamping; the configuration sets ess_cert_id_alg = sha256, so tokens
// carry the signing-certificate-v2 attribute that tspclient-go (and so
// notation) requires, and accuracy secs:1. A body that is not a
// TimeStampReq gets OpenSSL's own rejection (status 200, failInfo
// badDataFormat); other methods get 405, other content types 415, and a
// failed openssl run 500. Requests may come concurrently; openssl runs one at
// a time.
//
// Files in its folder: root.pem (the root, the one certificate in it),
// tsa.crt, tsa.key (a public test key), tsaserial (OpenSSL's serial
// counter), tsa.cnf, and per request query.tsq and reply.tsr.
type TSA struct {
	dir, openssl string
	url          string
	srv          *http.Server
	root         *x509.Certificate
	served       chan struct{} // closed when Serve has returned
	serveErr     error         // set before served is closed

	mu sync.Mutex // one openssl run at a time: the serial file and the query/reply files

	stopOnce sync.Once
	stopErr  error
}

// StartTSA writes an OpenSSL TSA configuration into dir (created if needed)
// and serves it on a free port of 127.0.0.1. It returns once a probe
// request, made and validated with tspclient-go, has succeeded. ctx bounds
// only the start; the TSA runs until [TSA.Stop]. It fails if openssl is not
// on PATH.
func StartTSA(ctx context.Context, dir string) (*TSA, error) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		return nil, fmt.Errorf("e2e: openssl not found (apt-get install openssl): %w", err)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	root, err := writeTSAFiles(dir)
	if err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("e2e: TSA listener: %w", err)
	}
	t := &TSA{
		dir:     dir,
		openssl: openssl,
		url:     "http://" + ln.Addr().String() + "/",
		root:    root,
		served:  make(chan struct{}),
	}
	t.srv = &http.Server{Handler: http.HandlerFunc(t.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		t.serveErr = t.srv.Serve(ln)
		close(t.served)
	}()

	if err := t.probe(ctx); err != nil {
		_ = t.Stop()
		return nil, fmt.Errorf("e2e: TSA at %s: probe request failed: %w", t.url, err)
	}
	return t, nil
}

// StartTSAT starts a TSA in a temporary folder and stops it in t.Cleanup
// (reporting a failed stop with t.Error). It ends the test when openssl is
// missing: t.Fatal when [Required], else t.Skip.
func StartTSAT(t testing.TB) *TSA {
	t.Helper()
	LookPathT(t, "openssl", "openssl", "there is no RFC 3161 TSA to run")
	dir := t.TempDir() // registered first, so removed after Stop
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tsa, err := StartTSA(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tsa.Stop(); err != nil {
			t.Error(err)
		}
	})
	return tsa
}

// URL returns the TSA's endpoint, "http://127.0.0.1:PORT/", for
// `notation sign --timestamp-url` or tspclient.NewHTTPTimestamper.
func (t *TSA) URL() string { return t.url }

// RootPEMPath returns the PEM file holding the TSA root certificate and
// nothing else: for `notation sign --timestamp-root-cert` and for
// `notation cert add --type tsa`.
func (t *TSA) RootPEMPath() string { return filepath.Join(t.dir, "root.pem") }

// Root returns the TSA root certificate.
func (t *TSA) Root() *x509.Certificate { return t.root }

// Stop shuts the HTTP server down (waiting up to 5 s for requests in
// flight, then closing) and waits for it. It is safe to call more than once
// and concurrently; later calls return the first call's result.
func (t *TSA) Stop() error {
	t.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), tsaStopTimeout)
		defer cancel()
		if err := t.srv.Shutdown(ctx); err != nil {
			_ = t.srv.Close()
			t.stopErr = fmt.Errorf("e2e: stopping TSA: %w", err)
		}
		<-t.served
		if t.stopErr == nil && !errors.Is(t.serveErr, http.ErrServerClosed) {
			t.stopErr = fmt.Errorf("e2e: TSA server: %w", t.serveErr)
		}
	})
	return t.stopErr
}

// probe asks for one timestamp and validates it as notation would at signing.
func (t *TSA) probe(ctx context.Context) error {
	req, err := tspclient.NewRequest(tspclient.RequestOptions{Content: []byte("e2e TSA probe"), HashAlgorithm: crypto.SHA256})
	if err != nil {
		return err
	}
	ts, err := tspclient.NewHTTPTimestamper(&http.Client{Timeout: tsaOpenSSLTimeout}, t.url)
	if err != nil {
		return err
	}
	resp, err := ts.Timestamp(ctx, req) // runs Response.Validate
	if err != nil {
		return err
	}
	token, err := resp.SignedToken()
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(t.root)
	_, err = token.Verify(ctx, x509.VerifyOptions{Roots: roots})
	return err
}

func (t *TSA) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method must be POST", http.StatusMethodNotAllowed)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != tspclient.MediaTypeTimestampQuery {
		http.Error(w, "Content-Type must be "+tspclient.MediaTypeTimestampQuery, http.StatusUnsupportedMediaType)
		return
	}
	query, err := io.ReadAll(http.MaxBytesReader(w, r.Body, tsaMaxQueryBytes))
	if err != nil {
		http.Error(w, "reading request: "+err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), tsaOpenSSLTimeout)
	defer cancel()
	reply, err := t.reply(ctx, query)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", tspclient.MediaTypeTimestampReply)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(reply) // the client has gone if this fails; nothing to report to
}

// reply runs openssl ts -reply on query and returns its TimeStampResp.
func (t *TSA) reply(ctx context.Context, query []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	queryPath, replyPath := filepath.Join(t.dir, "query.tsq"), filepath.Join(t.dir, "reply.tsr")
	defer os.Remove(queryPath)
	defer os.Remove(replyPath)
	if err := os.WriteFile(queryPath, query, 0o600); err != nil {
		return nil, fmt.Errorf("e2e: TSA: %w", err)
	}
	if _, err := runOK(ctx, baseEnv(), t.dir, t.openssl, "ts", "-reply",
		"-config", "tsa.cnf", "-section", "tsa_config1",
		"-queryfile", "query.tsq", "-out", "reply.tsr"); err != nil {
		return nil, err
	}
	reply, err := os.ReadFile(replyPath)
	if err != nil {
		return nil, fmt.Errorf("e2e: TSA: %w", err)
	}
	return reply, nil
}

// writeTSAFiles writes the PKI, the serial file and tsa.cnf into dir and
// returns the root.
func writeTSAFiles(dir string) (*x509.Certificate, error) {
	notBefore, notAfter := TSAValidity()
	key, chain, err := testtsa.GeneratePKI(testtsa.PKIOptions{Seed: tsaSeed, NotBefore: notBefore, NotAfter: notAfter})
	if err != nil {
		return nil, fmt.Errorf("e2e: TSA PKI: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("e2e: TSA key: %w", err)
	}
	certPEM := func(c *x509.Certificate) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	leaf, root := chain[0], chain[1]
	files := []struct {
		name string
		data []byte
	}{
		{"tsa.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})},
		{"tsa.crt", certPEM(leaf)},
		{"root.pem", certPEM(root)},
		{"tsaserial", []byte("01\n")},
		{"tsa.cnf", []byte(tsaConfig)},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return nil, fmt.Errorf("e2e: TSA: %w", err)
		}
	}
	return root, nil
}

// tsaConfig is the OpenSSL TSA configuration; paths are relative to the
// TSA's folder, openssl's working directory.
const tsaConfig = `# OpenSSL TSA for notation-pkcs11 end-to-end tests. Test keys only.
[ tsa_config1 ]
serial            = ./tsaserial
crypto_device     = builtin
signer_cert       = ./tsa.crt
signer_key        = ./tsa.key
signer_digest     = sha256
default_policy    = ` + TSAPolicy + `
digests           = sha256, sha384, sha512
accuracy          = secs:1
ordering          = no
tsa_name          = no
# sha256 makes OpenSSL write signing-certificate-v2 (ESSCertIDv2); the
# default, sha1, writes the v1 attribute, which tspclient-go v1.0.0 rejects.
ess_cert_id_chain = no
ess_cert_id_alg   = sha256
`
