package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
)

// tlsFiles serves the certificate and key of --tls-cert and --tls-key,
// and trusts the clients --client-ca issued; reload reads them again (a
// rotated Secret), keeping the previous ones when the new ones do not
// load. It is safe for concurrent use.
type tlsFiles struct {
	cert, key, clientCA string

	mu   sync.Mutex
	pair *tls.Certificate
	pool *x509.CertPool
}

// load reads the files; its errors are bad input naming the flag and the
// file.
func (t *tlsFiles) load() error {
	certPEM, err := readCapped(t.cert, "--tls-cert")
	if err != nil {
		return err
	}
	keyPEM, err := readCapped(t.key, "--tls-key")
	if err != nil {
		return err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return badInput("--tls-cert %s and --tls-key %s: %v", t.cert, t.key, err)
	}
	var pool *x509.CertPool
	if t.clientCA != "" {
		caPEM, err := readCapped(t.clientCA, "--client-ca")
		if err != nil {
			return err
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return badInput("--client-ca %s: no PEM certificate in it", t.clientCA)
		}
	}
	t.mu.Lock()
	t.pair, t.pool = &pair, pool
	t.mu.Unlock()
	return nil
}

// config is the server's TLS configuration: TLS 1.3 only, as Gatekeeper
// speaks it, and with --client-ca a client certificate that CA issued is
// required.
func (t *tlsFiles) config() *tls.Config {
	base := &tls.Config{MinVersion: tls.VersionTLS13}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		t.mu.Lock()
		pair, pool := t.pair, t.pool
		t.mu.Unlock()
		c := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{*pair}}
		if t.clientCA != "" {
			c.ClientAuth = tls.RequireAndVerifyClientCert
			c.ClientCAs = pool
		}
		return c, nil
	}
	return base
}

// stamp fingerprints the files (size and modification time through
// os.Stat, which follows a Secret volume's symlinks) so that a rotation is
// noticed.
func (t *tlsFiles) stamp() string {
	s := ""
	for _, p := range []string{t.cert, t.key, t.clientCA} {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			s += p + " " + err.Error() + "\n"
			continue
		}
		s += fmt.Sprintf("%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
	}
	return s
}
