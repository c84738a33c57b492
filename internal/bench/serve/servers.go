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
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

// pki is the TLS material both servers use: a CA, a server pair for
// 127.0.0.1 (dir/tls.crt, dir/tls.key, as Ratify's --cert-dir wants them),
// and a client certificate of the same CA that the load generator presents
// (mutual TLS for both, as Gatekeeper does).
type pki struct {
	dir, caPath string
	pool        *x509.CertPool
	client      tls.Certificate
}

func newPKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	issue := func(serial int64, eku x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey, error) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		t := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "bench"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, t, caT, &k.PublicKey, caKey)
		return der, k, err
	}
	srvDER, srvKey, err := issue(2, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	cliDER, cliKey, err := issue(3, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		return nil, err
	}
	p := &pki{dir: dir, caPath: filepath.Join(dir, "ca.crt"), pool: x509.NewCertPool()}
	for name, b := range map[string]*pem.Block{"ca.crt": {Type: "CERTIFICATE", Bytes: caDER}, "tls.crt": {Type: "CERTIFICATE", Bytes: srvDER}, "tls.key": {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(b), 0o600); err != nil {
			return nil, err
		}
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	p.pool.AddCert(ca)
	p.client = tls.Certificate{Certificate: [][]byte{cliDER}, PrivateKey: cliKey}
	return p, nil
}

// httpClient is the load generator's client: TLS 1.3, the client
// certificate, enough idle connections for every client.
func (p *pki) httpClient(clients int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: p.pool, Certificates: []tls.Certificate{p.client}},
		MaxIdleConns:        clients,
		MaxIdleConnsPerHost: clients,
		IdleConnTimeout:     time.Minute,
	}}
}

// server is one running provider.
type server struct {
	name string
	url  string // the verify endpoint
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan error
}

// peakRSS is the process's peak resident set (VmHWM), in bytes.
func (s *server) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", s.cmd.Process.Pid)
}

// cpu is the CPU time the process has used (user and system), from
// /proc/PID/stat, in clock ticks of 1/100 s (USER_HZ on Linux).
func (s *server) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", s.cmd.Process.Pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %v %v", s.cmd.Process.Pid, err1, err2)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// stop sends SIGTERM and waits (SIGKILL after 10 s).
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func start(name string, cmd *exec.Cmd) (*server, error) {
	s := &server{name: name, cmd: cmd, log: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- cmd.Wait() }()
	return s, nil
}

// ready waits until the server answers an empty ProviderRequest.
func (s *server) ready(client *http.Client) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			return fmt.Errorf("%s exited: %v\n%s", s.name, err, s.log)
		default:
		}
		if _, err := post(client, s.url, nil, true); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within a minute:\n%s", s.name, s.log)
}

// startTrustpolicy runs "trustpolicy serve" on a free loopback port with a
// fresh CRL cache.
func startTrustpolicy(bin string, w *e2e.AdmissionWorld, p *pki, dir string) (*server, error) {
	port, err := e2e.FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--tls-cert", filepath.Join(p.dir, "tls.crt"), "--tls-key", filepath.Join(p.dir, "tls.key"), "--client-ca", p.caPath,
		"--policy", w.Policy, "--truststore", w.TrustStore, "--plain-http", "--crl-cache", filepath.Join(dir, "crl"),
		"--max-in-flight", "64", "--max-queue", "256")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DOCKER_CONFIG=" + filepath.Join(dir, "docker")}, goRuntimeEnv()...)
	s, err := start("trustpolicy serve", cmd)
	if err != nil {
		return nil, err
	}
	s.url = fmt.Sprintf("https://127.0.0.1:%d/v1/verify", port)
	return s, nil
}

// startRatify runs "ratify serve" (v1.4.6) with its built-in notation
// verifier on the same policy and root, its cache on (--cache-enabled,
// ristretto, the same 5 minutes as trustpolicy serve's), TLS with the same
// pair and client CA, on free loopback ports, with a fresh home.
func startRatify(bin string, w *e2e.AdmissionWorld, p *pki, dir string) (*server, error) {
	r, err := e2e.NewRatify(bin, dir, nil)
	if err != nil {
		return nil, err
	}
	var policy map[string]any
	if err := json.Unmarshal(w.PolicyDoc, &policy); err != nil {
		return nil, err
	}
	cfg := e2e.RatifyConfig("", map[string]any{
		"name":              "notation",
		"artifactTypes":     "application/vnd.cncf.notary.signature",
		"verificationCerts": []string{w.RootDir},
		"trustPolicyDoc":    policy,
	})
	path, err := r.WriteConfig("config.json", cfg)
	if err != nil {
		return nil, err
	}
	port, err := e2e.FreePort()
	if err != nil {
		return nil, err
	}
	health, err := e2e.FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "-c", path, "--http", fmt.Sprintf("127.0.0.1:%d", port), "--health-port", fmt.Sprintf("127.0.0.1:%d", health),
		"--cert-dir", p.dir, "--ca-cert-file", p.caPath, "--cache-enabled", "--cache-type", "ristretto", "--cache-ttl", "5m")
	cmd.Env = append(r.Env(), goRuntimeEnv()...)
	cmd.Dir = dir
	s, err := start("ratify serve", cmd)
	if err != nil {
		return nil, err
	}
	s.url = fmt.Sprintf("https://127.0.0.1:%d/ratify/gatekeeper/v1/verify", port)
	return s, nil
}

// goRuntimeEnv passes GOGC, GOMEMLIMIT and GOMAXPROCS, when set, to both
// servers alike (both are Go programs).
func goRuntimeEnv() []string {
	var env []string
	for _, k := range []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// buildTrustpolicy builds cmd/trustpolicy into dir.
func buildTrustpolicy(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "trustpolicy")
	b, err := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/trustpolicy").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/trustpolicy: %v\n%s", err, b)
	}
	return out, nil
}
