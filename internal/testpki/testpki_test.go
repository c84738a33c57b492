package testpki

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "regenerate testdata/pki instead of comparing with it")

const golden = "../../testdata/pki"

// copyRSAKeys copies the RSA keys of src/keys, the only inputs of Generate,
// into dst/keys.
func copyRSAKeys(t *testing.T, src, dst string) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(src, "keys", "*.key"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no keys in %s/keys (err %v); run go generate ./internal/testpki", src, err)
	}
	if err := os.MkdirAll(filepath.Join(dst, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		key, err := LoadSigner(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := key.(*rsa.PrivateKey); !ok {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, "keys", filepath.Base(p)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree returns every regular file under dir by slash-separated path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func compareTrees(t *testing.T, want, got map[string][]byte) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(want)) {
		data, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: missing from generated tree", name)
		case !bytes.Equal(data, want[name]):
			t.Errorf("%s: differs from the generated file", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: generated but not checked in", name)
		}
	}
}

func TestGoldenTree(t *testing.T) {
	if *update {
		if err := Generate(golden); err != nil {
			t.Fatal(err)
		}
		return
	}
	dir := t.TempDir()
	copyRSAKeys(t, golden, dir)
	if err := Generate(dir); err != nil {
		t.Fatal(err)
	}
	compareTrees(t, readTree(t, golden), readTree(t, dir))
	if t.Failed() {
		t.Log("run go generate ./internal/testpki (or go test -update) to refresh testdata/pki")
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	copyRSAKeys(t, golden, first)
	copyRSAKeys(t, golden, second)
	for _, dir := range []string{first, second} {
		if err := Generate(dir); err != nil {
			t.Fatal(err)
		}
	}
	compareTrees(t, readTree(t, first), readTree(t, second))
}

func TestChains(t *testing.T) {
	for _, kt := range KeyTypes() {
		t.Run(kt, func(t *testing.T) {
			dir := filepath.Join(golden, kt)
			root, inter, leaf := load1(t, dir, "root.crt"), load1(t, dir, "intermediate.crt"), load1(t, dir, "leaf.crt")
			verify(t, leaf, inter, root)
			assertChain(t, filepath.Join(dir, "chain.pem"), leaf, inter, root)
			for name, cert := range map[string]*x509.Certificate{"root": root, "intermediate": inter, "leaf": leaf} {
				assertKeyMatches(t, cert, filepath.Join(dir, name+".key"))
				assertSubject(t, cert)
			}
			if len(leaf.AuthorityKeyId) == 0 || leaf.KeyUsage != x509.KeyUsageDigitalSignature || leaf.IsCA {
				t.Errorf("leaf profile: AKI %x, key usage %v, CA %v", leaf.AuthorityKeyId, leaf.KeyUsage, leaf.IsCA)
			}
		})
	}
}

func TestDevCA(t *testing.T) {
	dir := filepath.Join(golden, "ca")
	root, inter := load1(t, dir, "root.crt"), load1(t, dir, "intermediate.crt")
	assertKeyMatches(t, root, filepath.Join(dir, "root.key"))
	assertKeyMatches(t, inter, filepath.Join(dir, "intermediate.key"))
	assertChain(t, filepath.Join(dir, "chain.pem"), inter, root)
	for _, name := range []string{"ok-leaf", "other-key"} {
		leaf := load1(t, filepath.Join(golden, "bad"), name+".crt")
		verify(t, leaf, inter, root)
		assertSubject(t, leaf)
	}
}

func TestBadCertificates(t *testing.T) {
	dir := filepath.Join(golden, "bad")
	caRoot, caInter := load1(t, golden, "ca/root.crt"), load1(t, golden, "ca/intermediate.crt")
	tests := []struct {
		name   string
		defect func(*x509.Certificate) bool
	}{
		{"serverauth-eku", func(c *x509.Certificate) bool {
			return slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth) &&
				!slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageCodeSigning)
		}},
		{"no-keyusage", func(c *x509.Certificate) bool { return keyUsageExt(c) == nil }},
		{"keyusage-noncritical", func(c *x509.Certificate) bool {
			ext := keyUsageExt(c)
			return ext != nil && !ext.Critical && c.KeyUsage == x509.KeyUsageDigitalSignature
		}},
		{"keyusage-keycertsign", func(c *x509.Certificate) bool {
			return c.KeyUsage == x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign
		}},
		{"ca-leaf", func(c *x509.Certificate) bool { return c.BasicConstraintsValid && c.IsCA }},
		{"expired", func(c *x509.Certificate) bool { return c.NotAfter.Before(Epoch()) }},
		{"not-yet-valid", func(c *x509.Certificate) bool { return c.NotBefore.After(Epoch().AddDate(50, 0, 0)) }},
		{"rsa-1024", func(c *x509.Certificate) bool {
			pub, ok := c.PublicKey.(*rsa.PublicKey)
			return ok && pub.N.BitLen() == 1024 && keyMatches(t, c, filepath.Join(dir, "rsa-1024.key"))
		}},
		{"self-signed-leaf", func(c *x509.Certificate) bool {
			// CheckSignatureFrom(c) refuses a non-CA parent, so check the
			// signature directly, as notation-core-go does for one certificate.
			err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
			return err == nil && bytes.Equal(c.RawIssuer, c.RawSubject) && !c.IsCA
		}},
		{"other-key", func(c *x509.Certificate) bool {
			return !keyMatches(t, c, filepath.Join(dir, "leaf.key")) && keyMatches(t, c, filepath.Join(dir, "other.key"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf := load1(t, dir, tt.name+".crt")
			if !tt.defect(leaf) {
				t.Errorf("%s.crt does not have its defect", tt.name)
			}
			assertSubject(t, leaf)
			if tt.name != "rsa-1024" && tt.name != "other-key" {
				assertKeyMatches(t, leaf, filepath.Join(dir, "leaf.key"))
			}
			want := []*x509.Certificate{leaf, caInter, caRoot}
			if tt.name == "self-signed-leaf" {
				want = want[:1]
			} else if err := leaf.CheckSignatureFrom(caInter); err != nil {
				t.Errorf("not issued by the ca intermediate: %v", err)
			}
			assertChain(t, filepath.Join(dir, tt.name+"-chain.pem"), want...)
		})
	}
}

func TestOKLeafChains(t *testing.T) {
	dir := filepath.Join(golden, "bad")
	root, inter := load1(t, golden, "ca/root.crt"), load1(t, golden, "ca/intermediate.crt")
	leaf := load1(t, dir, "ok-leaf.crt")
	assertKeyMatches(t, leaf, filepath.Join(dir, "leaf.key"))
	assertChain(t, filepath.Join(dir, "ok-leaf-chain.pem"), leaf, inter, root)
	assertChain(t, filepath.Join(dir, "missing-intermediate-chain.pem"), leaf, root)
	assertChain(t, filepath.Join(dir, "wrong-order-chain.pem"), root, leaf, inter)
}

func TestLoadErrors(t *testing.T) {
	if _, err := LoadCertificates(filepath.Join(golden, "bad", "leaf.key")); err == nil {
		t.Error("LoadCertificates accepted a key file")
	}
	if _, err := LoadSigner(filepath.Join(golden, "bad", "ok-leaf.crt")); err == nil {
		t.Error("LoadSigner accepted a certificate file")
	}
	if _, err := LoadSigner(filepath.Join(golden, "missing.key")); err == nil {
		t.Error("LoadSigner accepted a missing file")
	}
}

func load(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	certs, err := LoadCertificates(path)
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

// load1 loads a file that must hold exactly one certificate.
func load1(t *testing.T, dir, name string) *x509.Certificate {
	t.Helper()
	certs := load(t, filepath.Join(dir, name))
	if len(certs) != 1 {
		t.Fatalf("%s: %d certificates, want 1", name, len(certs))
	}
	return certs[0]
}

func verify(t *testing.T, leaf, inter, root *x509.Certificate) {
	t.Helper()
	opts := x509.VerifyOptions{
		Roots:         x509.NewCertPool(),
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		CurrentTime:   Epoch(),
	}
	opts.Roots.AddCert(root)
	opts.Intermediates.AddCert(inter)
	if _, err := leaf.Verify(opts); err != nil {
		t.Errorf("verify %q: %v", leaf.Subject.CommonName, err)
	}
}

func keyMatches(t *testing.T, cert *x509.Certificate, keyPath string) bool {
	t.Helper()
	key, err := LoadSigner(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	return key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey)
}

func assertKeyMatches(t *testing.T, cert *x509.Certificate, keyPath string) {
	t.Helper()
	if !keyMatches(t, cert, keyPath) {
		t.Errorf("%q: public key does not match %s", cert.Subject.CommonName, keyPath)
	}
}

// assertSubject checks the attributes Notation trust identities need.
func assertSubject(t *testing.T, cert *x509.Certificate) {
	t.Helper()
	s := cert.Subject
	if len(s.Country) != 1 || len(s.Province) != 1 || len(s.Organization) != 1 || s.CommonName == "" {
		t.Errorf("%q: subject %q lacks C, ST, O or CN", s.CommonName, s)
	}
}

func assertChain(t *testing.T, path string, want ...*x509.Certificate) {
	t.Helper()
	got := load(t, path)
	if !slices.EqualFunc(got, want, (*x509.Certificate).Equal) {
		t.Errorf("%s: wrong certificates or order", path)
	}
}

func keyUsageExt(c *x509.Certificate) *pkix.Extension {
	for i, ext := range c.Extensions {
		if ext.Id.Equal(oidKeyUsage()) {
			return &c.Extensions[i]
		}
	}
	return nil
}
