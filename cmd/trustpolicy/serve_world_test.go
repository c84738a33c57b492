package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
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
	"github.com/notation-pkcs11/notation-pkcs11/internal/testkit"
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
	caPool, otherPool             *x509.CertPool
}

func newServePKI(t *testing.T) *servePKI {
	t.Helper()
	dir := t.TempDir()
	p := &servePKI{}
	now := time.Now()
	nb, na := now.Add(-time.Hour), now.Add(24*time.Hour)
	tlsLeaf := func(cn string, eku x509.ExtKeyUsage) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: nb, NotAfter: na, KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{eku}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	}
	ca := testkit.NewRoot(t, testkit.CATemplate(pkix.Name{CommonName: "serve test CA"}, nb, na), testkit.ECKey(t, "serve-ca"))
	other := testkit.NewRoot(t, testkit.CATemplate(pkix.Name{CommonName: "other CA"}, nb, na), testkit.ECKey(t, "serve-other-ca"))
	srvKey, cliKey, ocliKey := testkit.ECKey(t, "serve-server"), testkit.ECKey(t, "serve-client"), testkit.ECKey(t, "serve-intruder")
	srv := ca.Issue(t, tlsLeaf("trustpolicy-serve", x509.ExtKeyUsageServerAuth), srvKey.Public())
	cli := ca.Issue(t, tlsLeaf("gatekeeper", x509.ExtKeyUsageClientAuth), cliKey.Public())
	ocli := other.Issue(t, tlsLeaf("intruder", x509.ExtKeyUsageClientAuth), ocliKey.Public())
	p.caCert = serveWriteFile(t, filepath.Join(dir, "ca.crt"), testkit.PEM(ca.Cert))
	p.serverCert = serveWriteFile(t, filepath.Join(dir, "tls.crt"), testkit.PEM(srv))
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	p.serverKey = serveWriteFile(t, filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	p.clientPair = tls.Certificate{Certificate: [][]byte{cli.Raw}, PrivateKey: cliKey}
	p.otherClientPair = tls.Certificate{Certificate: [][]byte{ocli.Raw}, PrivateKey: ocliKey}
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(ca.Cert)
	p.otherPool = x509.NewCertPool()
	p.otherPool.AddCert(other.Cert)
	return p
}

func serveWriteFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
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
