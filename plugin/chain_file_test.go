package plugin

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"
	"golang.org/x/sys/unix"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
)

// p7bChain is the ec-256 chain of the test PKI as a DER PKCS#7 bundle
// (openssl crl2pkcs7 -nocrl -outform DER), pki's fixture.
const p7bChain = "../pki/testdata/ec-256-chain.p7b"

// chainFiles makes the certificate_chain files of the tests in dir.
type chainFiles struct {
	pem, der, link, fifo, fifoLink, huge, garbage, empty, missing, dir string
}

func makeChainFiles(t *testing.T) chainFiles {
	t.Helper()
	dir := t.TempDir()
	c := chainFiles{dir: dir, missing: filepath.Join(dir, "missing.pem")}
	c.pem = chainFile(t, "ec-256/chain.pem")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var der []byte
	for _, cert := range loadCerts(t, "ec-256/chain.pem") {
		der = append(der, cert.Raw...)
	}
	c.der = write("chain.der", der)
	pemData, err := os.ReadFile(c.pem)
	if err != nil {
		t.Fatal(err)
	}
	c.huge = write("huge.pem", bytes.Repeat(pemData, maxChainFile/len(pemData)+1))
	c.garbage = write("garbage.pem", []byte("hello"))
	c.empty = write("empty.pem", nil)
	c.link = filepath.Join(dir, "link.pem")
	if err := os.Symlink(c.pem, c.link); err != nil {
		t.Fatal(err)
	}
	c.fifo = filepath.Join(dir, "fifo.pem")
	if err := unix.Mkfifo(c.fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	c.fifoLink = filepath.Join(dir, "fifo-link.pem")
	if err := os.Symlink(c.fifo, c.fifoLink); err != nil {
		t.Fatal(err)
	}
	return c
}

// readBundleOrHang runs readBundle and fails the test if it does not
// return (a FIFO with no writer would hold a blocking open forever); the
// FIFO is then opened for writing to let it go.
func readBundleOrHang(t *testing.T, path string, fifos ...string) ([]*x509.Certificate, error) {
	t.Helper()
	type result struct {
		certs []*x509.Certificate
		err   error
	}
	done := make(chan result, 1)
	go func() {
		certs, err := readBundle(path)
		done <- result{certs, err}
	}()
	select {
	case r := <-done:
		return r.certs, r.err
	case <-testBudget(t):
		for _, f := range fifos {
			unblock(f)
		}
		<-done
		t.Fatalf("readBundle(%s) did not return", path)
		return nil, nil
	}
}

// TestReadBundle (issue 13): certificate_chain was opened with a blocking
// open, so a FIFO there hung generate-signature and doctor. It is opened
// without blocking and must be a regular file of at most maxChainFile
// bytes; a symbolic link to one is followed (see readBundle); PEM, DER and
// PKCS#7 are read.
func TestReadBundle(t *testing.T) {
	c := makeChainFiles(t)
	for _, tc := range []struct {
		name    string
		path    string
		certs   int                // certificates read; 0 for an error
		problem ConfigProblem      // ConfigFile or ConfigCertificates
		file    pkcs11.FileProblem // for ConfigFile
		is      error              // also wrapped, or nil
	}{
		{name: "PEM", path: c.pem, certs: 3},
		{name: "DER", path: c.der, certs: 3},
		{name: "PKCS#7 .p7b", path: p7bChain, certs: 3},
		{name: "symbolic link to a PEM file", path: c.link, certs: 3},
		{name: "FIFO", path: c.fifo, problem: ConfigFile, file: pkcs11.FileNotRegular},
		{name: "symbolic link to a FIFO", path: c.fifoLink, problem: ConfigFile, file: pkcs11.FileNotRegular},
		{name: "device", path: os.DevNull, problem: ConfigFile, file: pkcs11.FileNotRegular},
		{name: "directory", path: c.dir, problem: ConfigFile, file: pkcs11.FileNotRegular},
		{name: "missing", path: c.missing, problem: ConfigFile, file: pkcs11.FileOpen, is: fs.ErrNotExist},
		{name: "larger than the cap", path: c.huge, problem: ConfigFile, file: pkcs11.FileTooLarge},
		{name: "not certificates", path: c.garbage, problem: ConfigCertificates, is: pki.ErrCertificateFormat},
		{name: "empty", path: c.empty, problem: ConfigCertificates, is: pki.ErrCertificateFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certs, err := readBundleOrHang(t, tc.path, c.fifo)
			if tc.certs > 0 {
				if err != nil || len(certs) != tc.certs {
					t.Fatalf("readBundle = %d certificates, %v; want %d", len(certs), err, tc.certs)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) || ce.Key != ConfigCertificateChain || ce.Problem != tc.problem || ce.File != tc.file || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("readBundle = %v, want a *ConfigError %s/%s (%v) for certificate_chain", err, tc.problem, tc.file, tc.is)
			}
			if certs != nil {
				t.Errorf("certificates returned with an error")
			}
		})
	}
}

// A FIFO named as certificate_chain fails generate-signature and doctor at
// once, as bad configuration, without signing; a link to a chain signs.
func TestChainFileFIFOThroughPlugin(t *testing.T) {
	c := makeChainFiles(t)
	kt := keyTypeOf(t, "ec-256")
	for _, path := range []string{c.fifo, c.fifoLink} {
		t.Run("generate-signature "+filepath.Base(path), func(t *testing.T) {
			b := &fakeBackend{t: t, tok: goodToken(t, kt.kt, false)}
			p := newPlugin(b, stdEnv(fakeModule(t)), nil)
			done := make(chan result, 1)
			go func() {
				done <- runPlugin(t, p, "generate-signature", signReq(keyURI, kt, map[string]string{ConfigCertificateChain: path}))
			}()
			select {
			case r := <-done:
				wantError(t, r, proto.ErrorCodeValidation, "certificate_chain "+path, "not a regular file (a FIFO)")
			case <-testBudget(t):
				unblock(c.fifo)
				<-done
				t.Fatal("generate-signature hung on a FIFO certificate_chain")
			}
			if _, _, _, _, signs := b.counts(); signs != 0 {
				t.Errorf("the HSM signed %d times", signs)
			}
		})
		t.Run("doctor "+filepath.Base(path), func(t *testing.T) {
			b := &fakeBackend{t: t, tok: goodToken(t, kt.kt, false)}
			p := New(Options{Backend: b, Getenv: stdEnv(fakeModule(t)).get})
			done := make(chan *DoctorReport, 1)
			go func() {
				done <- p.Doctor(context.Background(), keyURI, map[string]string{ConfigCertificateChain: path}, DoctorOptions{Revocation: revocation.NonRevokableOnly()})
			}()
			select {
			case rep := <-done:
				var ce *ConfigError
				last := rep.Checks[len(rep.Checks)-1]
				if rep.Failed != CheckConfig || !errors.As(last.Err, &ce) || ce.File != pkcs11.FileNotRegular {
					t.Fatalf("doctor failed at %q with %v, want config with a *ConfigError (not a regular file)", rep.Failed, last.Err)
				}
			case <-testBudget(t):
				unblock(c.fifo)
				<-done
				t.Fatal("doctor hung on a FIFO certificate_chain")
			}
			if n := b.opened(); n != 0 {
				t.Errorf("the token was opened %d times", n)
			}
		})
	}
	t.Run("generate-signature through a link", func(t *testing.T) {
		b := &fakeBackend{t: t, tok: goodToken(t, kt.kt, false)}
		p := newPlugin(b, stdEnv(fakeModule(t)), nil)
		resp := wantOK[proto.GenerateSignatureResponse](t, runPlugin(t, p, "generate-signature", signReq(keyURI, kt, map[string]string{ConfigCertificateChain: c.link})))
		checkSignResponse(t, resp, keyURI, kt, loadCerts(t, "ec-256/chain.pem"))
	})
}

// unblock lets a reader blocked on the FIFO go, if one is.
func unblock(fifo string) {
	if fd, err := unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
		_ = unix.Close(fd)
	}
}
