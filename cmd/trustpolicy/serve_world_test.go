package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/admission"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

// serveNow is within every test certificate's validity.
var serveNow = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)

// servePKI is a TLS CA with a server certificate for 127.0.0.1 and a
// client certificate, and another CA with its own client certificate, as
// PEM files.
type servePKI struct {
	caCert, serverCert, serverKey string
	clientPair, otherClientPair   tls.Certificate
	caPool                        *x509.CertPool
	otherCACert, otherCAPool      string
	otherPool                     *x509.CertPool
}

func newServePKI(t *testing.T) *servePKI {
	t.Helper()
	dir := t.TempDir()
	p := &servePKI{}
	caKey, ca := serveIssue(t, nil, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "serve test CA"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign})
	srvKey, srv := serveIssue(t, ca, caKey, &x509.Certificate{Subject: pkix.Name{CommonName: "trustpolicy-serve"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames: []string{"localhost"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature})
	cliKey, cli := serveIssue(t, ca, caKey, &x509.Certificate{Subject: pkix.Name{CommonName: "gatekeeper"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature})
	otherKey, other := serveIssue(t, nil, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "other CA"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign})
	ocliKey, ocli := serveIssue(t, other, otherKey, &x509.Certificate{Subject: pkix.Name{CommonName: "intruder"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature})
	p.caCert = serveWritePEM(t, filepath.Join(dir, "ca.crt"), "CERTIFICATE", ca.Raw)
	p.serverCert = serveWritePEM(t, filepath.Join(dir, "tls.crt"), "CERTIFICATE", srv.Raw)
	p.serverKey = serveWritePEM(t, filepath.Join(dir, "tls.key"), "PRIVATE KEY", serveKeyDER(t, srvKey))
	p.otherCACert = serveWritePEM(t, filepath.Join(dir, "other-ca.crt"), "CERTIFICATE", other.Raw)
	p.clientPair = tls.Certificate{Certificate: [][]byte{cli.Raw}, PrivateKey: cliKey}
	p.otherClientPair = tls.Certificate{Certificate: [][]byte{ocli.Raw}, PrivateKey: ocliKey}
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(ca)
	p.otherPool = x509.NewCertPool()
	p.otherPool.AddCert(other)
	return p
}

func serveIssue(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func serveKeyDER(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func serveWritePEM(t *testing.T, path, typ string, der []byte) string {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serveWorld is a policy trusting the ec-256 test root for every
// repository, in a config folder, and an in-process registry holding a
// signed artifact app:v1 and an unsigned one app:unsigned.
type serveWorld struct {
	config   string
	reg      *servicetest.Registry
	signed   string // REGISTRY/app@DIGEST
	unsigned string
	pki      *servePKI
}

const servePolicy = `{"version":"1.0","trustPolicies":[{"name":"all","registryScopes":["*"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:test"],"trustedIdentities":["*"]}]}`

func newServeWorld(t *testing.T) *serveWorld {
	t.Helper()
	w := &serveWorld{config: filepath.Join(t.TempDir(), "config"), reg: servicetest.NewRegistry(t), pki: newServePKI(t)}
	signer := servicetest.NewSigner(t, pkiDir, "ec-256")
	store := filepath.Join(w.config, "truststore", "x509", "ca", "test")
	if err := os.MkdirAll(store, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.config, "trustpolicy.json"), []byte(servePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store, "root.crt"), []byte(signer.RootPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	d := w.reg.PutManifest("app", "v1", ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"a":"signed"}`))
	w.reg.AddSignature("app", d, "application/cose", signer.Sign(t, d, "application/cose"))
	w.signed = w.reg.Ref("app@" + d.Digest.String())
	u := w.reg.PutManifest("app", "unsigned", ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"a":"unsigned"}`))
	w.unsigned = w.reg.Ref("app@" + u.Digest.String())
	return w
}

// tlsArgs are the TLS flags, with mutual TLS.
func (w *serveWorld) tlsArgs() []string {
	return []string{"--tls-cert", w.pki.serverCert, "--tls-key", w.pki.serverKey, "--client-ca", w.pki.caCert}
}

// logWriter collects the server's log and signals the address it listens
// on.
type logWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	addr  chan string
	found bool
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.found {
		for _, line := range strings.Split(l.buf.String(), "\n") {
			if strings.Contains(line, "msg=listening") {
				for _, f := range strings.Fields(line) {
					if a, ok := strings.CutPrefix(f, "addr="); ok {
						l.found = true
						l.addr <- a
					}
				}
			}
		}
	}
	return len(p), nil
}

func (l *logWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// served is a running "trustpolicy serve".
type served struct {
	url    string
	log    *logWriter
	stop   context.CancelFunc
	code   chan int
	stdout *bytes.Buffer

	once sync.Once
	exit int
}

// wait waits for the command to end and returns its exit code.
func (s *served) wait() int {
	s.once.Do(func() { s.exit = <-s.code })
	return s.exit
}

// startServe runs "trustpolicy serve --listen 127.0.0.1:0 args..." in
// process until the test ends (or stop), and waits until it listens.
func (w *serveWorld) startServe(t *testing.T, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{log: &logWriter{addr: make(chan string, 1)}, stop: cancel, code: make(chan int, 1), stdout: &bytes.Buffer{}}
	full := append([]string{"serve", "--listen", "127.0.0.1:0", "--plain-http"}, args...)
	go func() {
		s.code <- run(ctx, full, env{stdout: s.stdout, stderr: s.log, getenv: configOnly(w.config), now: func() time.Time { return serveNow }})
	}()
	select {
	case addr := <-s.log.addr:
		s.url = "https://" + addr
	case code := <-s.code:
		s.once.Do(func() { s.exit = code })
		t.Fatalf("serve exited %d:\n%s", code, s.log)
	}
	t.Cleanup(func() {
		cancel()
		if code := s.wait(); code != 0 {
			t.Errorf("serve exited %d:\n%s", code, s.log)
		}
	})
	return s
}

// serveClient is an HTTPS client trusting roots and presenting cert, if
// any, whatever CAs the server asks for (as Gatekeeper's client does).
func serveClient(roots *x509.CertPool, cert ...tls.Certificate) *http.Client {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots}
	if len(cert) > 0 {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert[0], nil }
	}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// ask POSTs a ProviderRequest for keys.
func ask(c *http.Client, url string, keys ...string) (*admission.ProviderResponse, error) {
	body, _ := json.Marshal(admission.ProviderRequest{APIVersion: admission.APIVersionV1beta1, Kind: admission.KindProviderRequest, Request: admission.Request{Keys: keys}})
	resp, err := c.Post(url+admission.PathVerify, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var pr admission.ProviderResponse
	if err := json.Unmarshal(raw, &pr); err != nil {
		return nil, err
	}
	return &pr, nil
}
