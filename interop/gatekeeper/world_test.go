package gatekeeper

import (
	"bufio"
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
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/open-policy-agent/frameworks/constraint/pkg/apis/externaldata/unversioned"
	"github.com/open-policy-agent/frameworks/constraint/pkg/apis/externaldata/v1beta1"
)

// repoRoot is the main module, two levels up.
const repoRoot = "../.."

// required reports whether missing peer tools fail the tests (make test)
// instead of skipping them, as internal/e2e decides.
func required() bool { return os.Getenv("NOTATION_PKCS11_E2E") == "required" }

// world is what internal/e2e/admissionworld prints (e2e.AdmissionWorld).
type world struct {
	Registry   string            `json:"registry"`
	Policy     string            `json:"policy"`
	TrustStore string            `json:"truststore"`
	Images     map[string]string `json:"images"`
	Digests    map[string]string `json:"digests"`
}

// fixture is shared by the tests of the package: built binaries, the
// running admission world, the TLS pair and Provider deploy/tls.sh makes,
// and Gatekeeper's client certificate.
type fixture struct {
	dir   string
	bin   string // trustpolicy
	world world
	stop  func() // ends the admission world
	// tls holds ca.crt, tls.crt, tls.key and provider.yaml from deploy/tls.sh.
	tls string
	// provider is tls/provider.yaml, as Gatekeeper holds it.
	provider unversioned.Provider
	// gkCA is Gatekeeper's CA (the --client-ca), gkCert and gkKey its
	// client certificate and key files; otherPair a client certificate of
	// another CA.
	gkCA, gkCert, gkKey string
	gkPair, otherPair   tls.Certificate
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fix != nil {
		fix.stop()
		os.RemoveAll(fix.dir)
	}
	os.Exit(code)
}

// getFixture sets the fixture up once. Missing peer tools skip the test,
// or fail it under NOTATION_PKCS11_E2E=required.
func getFixture(t *testing.T) *fixture {
	t.Helper()
	fixOnce.Do(func() { fix, fixErr = setUp() })
	if fixErr != nil {
		if !required() && strings.Contains(fixErr.Error(), "peer tools missing") {
			t.Skip(fixErr)
		}
		t.Fatal(fixErr)
	}
	return fix
}

func setUp() (*fixture, error) {
	dir, err := os.MkdirTemp("", "gatekeeper-interop-")
	if err != nil {
		return nil, err
	}
	f := &fixture{dir: dir, stop: func() {}, tls: filepath.Join(dir, "tls")}
	f.bin = filepath.Join(dir, "bin", "trustpolicy")
	worldBin := filepath.Join(dir, "bin", "admissionworld")
	for out, pkg := range map[string]string{f.bin: "./cmd/trustpolicy", worldBin: "./internal/e2e/admissionworld"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = repoRoot
		if b, err := cmd.CombinedOutput(); err != nil {
			return f, fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	if err := f.startWorld(worldBin); err != nil {
		return f, err
	}
	if b, err := exec.Command(filepath.Join(repoRoot, "deploy", "tls.sh"), f.tls, "IP:127.0.0.1").CombinedOutput(); err != nil {
		return f, fmt.Errorf("deploy/tls.sh: %v\n%s", err, b)
	}
	var p v1beta1.Provider
	if err := decodeStrict(filepath.Join(f.tls, "provider.yaml"), &p); err != nil {
		return f, err
	}
	if err := v1beta1.Convert_v1beta1_Provider_To_unversioned_Provider(&p, &f.provider, nil); err != nil {
		return f, err
	}
	if f.gkCA, f.gkCert, f.gkKey, f.gkPair, err = clientPKI(filepath.Join(dir, "gatekeeper"), "gatekeeper-webhook-service.gatekeeper-system.svc"); err != nil {
		return f, err
	}
	if _, _, _, f.otherPair, err = clientPKI(filepath.Join(dir, "other"), "intruder"); err != nil {
		return f, err
	}
	return f, nil
}

// startWorld runs the admission world program and reads its description.
func (f *fixture) startWorld(bin string) error {
	cmd := exec.Command(bin, "-dir", filepath.Join(f.dir, "world"))
	cmd.Env = os.Environ()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		_ = cmd.Wait()
		return fmt.Errorf("admissionworld: %v: %s", err, stderr.String())
	}
	f.stop = func() {
		stdin.Close()
		_ = cmd.Wait()
	}
	return json.Unmarshal(line, &f.world)
}

// clientPKI writes a CA and a client certificate it issued (clientAuth and
// serverAuth, as Gatekeeper's webhook certificate) under dir.
func clientPKI(dir, cn string) (caPath, certPath, keyPath string, pair tls.Certificate, err error) {
	if err = os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn + " CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, DNSNames: []string{cn}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caTmpl, &key.PublicKey, caKey)
	if err != nil {
		return
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return
	}
	caPath, certPath, keyPath = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	for p, b := range map[string]*pem.Block{caPath: {Type: "CERTIFICATE", Bytes: caDER}, certPath: {Type: "CERTIFICATE", Bytes: der}, keyPath: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err = os.WriteFile(p, pem.EncodeToMemory(b), 0o600); err != nil {
			return
		}
	}
	pair = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return
}

// serve runs "trustpolicy serve" on 127.0.0.1 with the deploy/tls.sh pair,
// Gatekeeper's CA as --client-ca and the admission world's policy, until
// the test ends (SIGTERM, which must exit 0). It returns the base URL.
func (f *fixture) serve(t *testing.T, extra ...string) string {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0",
		"--tls-cert", filepath.Join(f.tls, "tls.crt"), "--tls-key", filepath.Join(f.tls, "tls.key"), "--client-ca", f.gkCA,
		"--policy", f.world.Policy, "--truststore", f.world.TrustStore, "--plain-http",
		"--crl-cache", filepath.Join(t.TempDir(), "crl"), "--output", "json"}, extra...)
	cmd := exec.Command(f.bin, args...)
	home := t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker")}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	var addr string
	var log strings.Builder
	for addr == "" && lines.Scan() {
		log.WriteString(lines.Text() + "\n")
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(lines.Bytes(), &rec) == nil && rec.Msg == "listening" {
			addr = rec.Addr
		}
	}
	if addr == "" {
		_ = cmd.Wait()
		t.Fatalf("trustpolicy serve did not start:\n%s", log.String())
	}
	rest := make(chan string, 1)
	go func() { b, _ := io.ReadAll(stderr); rest <- string(b) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		tail := <-rest
		if err := cmd.Wait(); err != nil {
			t.Errorf("trustpolicy serve after SIGTERM: %v\n%s%s", err, log.String(), tail)
		}
	})
	return "https://" + addr
}

// providerAt is the Provider of deploy/tls.sh pointed at base, under name.
func (f *fixture) providerAt(name, base string) *unversioned.Provider {
	p := f.provider.DeepCopy()
	p.Name = name
	p.Spec.URL = base + "/v1/verify"
	return p
}

// withDeadline is a context for one call.
func withDeadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
