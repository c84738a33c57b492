package difftest

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testkit"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
)

// pkiDir is the repository's deterministic test PKI.
var pkiDir = filepath.Join("..", "..", "testdata", "pki")

// start is the instant every runtime fixture is computed from. notation-go
// reads time.Now() itself, so fixtures keep margins of hours around it.
var start = time.Now()

// material is the key material of one key type: the checked-in root,
// intermediate and leaf, and certificates made at test time relative to
// start (all for the same leaf key, so one key signs every variant).
type material struct {
	kt                         string
	root, inter, leaf          *x509.Certificate
	rootKey, interKey, leafKey crypto.Signer
	leafDirect                 *x509.Certificate // leaf issued by the root
	self                       *x509.Certificate // self-signed leaf
	expired, notYetValid       *x509.Certificate // issued by the intermediate
	shortLived                 *x509.Certificate // valid start-20d .. start+2d
	wrongEKU, caLeaf, anyEKU   *x509.Certificate
	multiOU                    *x509.Certificate // leaf whose subject renders OU=a+OU=b
	noState                    *x509.Certificate // leaf without ST
}

// devRoot is the dev CA root of the test PKI: a root no chain here uses, the
// "other" (untrusted) root.
var (
	devOnce sync.Once
	devRoot *x509.Certificate
	devErr  error

	matMu    sync.Mutex
	matCache = map[string]*material{}
)

func otherRoot(t testing.TB) *x509.Certificate {
	devOnce.Do(func() {
		var cs []*x509.Certificate
		cs, devErr = testpki.LoadCertificates(filepath.Join(pkiDir, "ca", "root.crt"))
		if devErr == nil {
			devRoot = cs[0]
		}
	})
	if devErr != nil {
		t.Fatal(devErr)
	}
	return devRoot
}

// keyMaterial loads (once per key type) the checked-in chain and makes the
// runtime variants.
func keyMaterial(t testing.TB, kt string) *material {
	matMu.Lock()
	defer matMu.Unlock()
	if m, ok := matCache[kt]; ok {
		return m
	}
	m, err := loadMaterial(kt)
	if err != nil {
		t.Fatalf("key material %s: %v", kt, err)
	}
	matCache[kt] = m
	return m
}

func loadMaterial(kt string) (*material, error) {
	dir := filepath.Join(pkiDir, kt)
	m := &material{kt: kt}
	one := func(name string) (*x509.Certificate, error) {
		cs, err := testpki.LoadCertificates(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		return cs[0], nil
	}
	var err error
	if m.root, err = one("root.crt"); err != nil {
		return nil, err
	}
	if m.inter, err = one("intermediate.crt"); err != nil {
		return nil, err
	}
	if m.leaf, err = one("leaf.crt"); err != nil {
		return nil, err
	}
	if m.rootKey, err = testpki.LoadSigner(filepath.Join(dir, "root.key")); err != nil {
		return nil, err
	}
	if m.interKey, err = testpki.LoadSigner(filepath.Join(dir, "intermediate.key")); err != nil {
		return nil, err
	}
	if m.leafKey, err = testpki.LoadSigner(filepath.Join(dir, "leaf.key")); err != nil {
		return nil, err
	}
	if !start.After(m.leaf.NotBefore.Add(24*time.Hour)) || !start.Before(m.leaf.NotAfter.Add(-24*time.Hour)) {
		return nil, fmt.Errorf("today (%s) is outside the test PKI's validity (%s to %s): regenerate testdata/pki", start, m.leaf.NotBefore, m.leaf.NotAfter)
	}
	pub := m.leafKey.Public()
	name := func(suffix string) pkix.Name {
		n := m.leaf.Subject
		n.Names, n.ExtraNames = nil, nil
		n.CommonName = m.leaf.Subject.CommonName + " " + suffix
		return n
	}
	leaf := func(suffix string, nb, na time.Time) *x509.Certificate {
		return &x509.Certificate{
			Subject:               name(suffix),
			NotBefore:             nb,
			NotAfter:              na,
			KeyUsage:              x509.KeyUsageDigitalSignature,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
			BasicConstraintsValid: true,
		}
	}
	day := 24 * time.Hour
	valid := func(s string) *x509.Certificate { return leaf(s, start.Add(-30*day), start.Add(365*day)) }

	if m.leafDirect, err = issue(valid("direct"), pub, m.root, m.rootKey); err != nil {
		return nil, err
	}
	if m.self, err = issue(valid("self-signed"), pub, nil, m.leafKey); err != nil {
		return nil, err
	}
	if m.expired, err = issue(leaf("expired", start.Add(-30*day), start.Add(-6*time.Hour)), pub, m.inter, m.interKey); err != nil {
		return nil, err
	}
	if m.notYetValid, err = issue(leaf("not-yet-valid", start.Add(6*time.Hour), start.Add(30*day)), pub, m.inter, m.interKey); err != nil {
		return nil, err
	}
	if m.shortLived, err = issue(leaf("short-lived", start.Add(-20*day), start.Add(2*day)), pub, m.inter, m.interKey); err != nil {
		return nil, err
	}
	w := valid("server-auth")
	w.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if m.wrongEKU, err = issue(w, pub, m.inter, m.interKey); err != nil {
		return nil, err
	}
	a := valid("any-eku")
	a.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	if m.anyEKU, err = issue(a, pub, m.inter, m.interKey); err != nil {
		return nil, err
	}
	c := valid("ca-leaf")
	c.IsCA = true
	c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign
	if m.caLeaf, err = issue(c, pub, m.inter, m.interKey); err != nil {
		return nil, err
	}
	o := valid("multi-ou")
	o.Subject.OrganizationalUnit = []string{"a", "b"}
	if m.multiOU, err = issue(o, pub, m.inter, m.interKey); err != nil {
		return nil, err
	}
	ns := valid("no-state")
	ns.Subject.Province = nil
	if m.noState, err = issue(ns, pub, m.inter, m.interKey); err != nil {
		return nil, err
	}
	return m, nil
}

// issue creates a certificate through internal/testkit, the repository's
// one certificate factory (serial number derived from the certificate); a
// nil issuer makes it self-signed with key.
func issue(tmpl *x509.Certificate, pub crypto.PublicKey, issuer *x509.Certificate, key crypto.Signer) (*x509.Certificate, error) {
	return testkit.Create(tmpl, pub, issuer, key)
}
