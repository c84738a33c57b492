package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"io"
	"testing"
)

func TestCreateCSR(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	subject, err := ParseSubject("C=US,ST=WA,O=Acme,CN=Release Signing")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		key    crypto.Signer
		sigAlg x509.SignatureAlgorithm
	}{{"EC-384", ec, x509.ECDSAWithSHA384}, {"RSA-2048", rs, x509.SHA256WithRSA}} {
		t.Run(c.name, func(t *testing.T) {
			der, err := CreateCSR(c.key, subject)
			if err != nil {
				t.Fatal(err)
			}
			csr, err := x509.ParseCertificateRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := csr.CheckSignature(); err != nil {
				t.Fatal(err)
			}
			if csr.SignatureAlgorithm != c.sigAlg || csr.Subject.String() != subject.String() {
				t.Fatalf("got %s %q", csr.SignatureAlgorithm, csr.Subject)
			}
			want, _ := CSRExtensions()
			if len(csr.Extensions) != len(want) {
				t.Fatalf("extensions %+v, want %+v", csr.Extensions, want)
			}
			for i, e := range csr.Extensions {
				if !e.Id.Equal(want[i].Id) || e.Critical != want[i].Critical || string(e.Value) != string(want[i].Value) {
					t.Fatalf("extension %d = %+v, want %+v", i, e, want[i])
				}
			}
		})
	}
}

// lyingSigner signs with another key, as a broken HSM might.
type lyingSigner struct{ pub, priv crypto.Signer }

func (l lyingSigner) Public() crypto.PublicKey { return l.pub.Public() }
func (l lyingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return l.priv.Sign(r, d, o)
}

func TestCreateCSRRefuses(t *testing.T) {
	a, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	subject, _ := ParseSubject("C=US,ST=WA,O=Acme")
	if _, err := CreateCSR(lyingSigner{a, b}, subject); !errors.Is(err, ErrCSR) {
		t.Fatalf("a signature by another key: %v", err)
	}
	if _, err := CreateCSR(p224, subject); !errors.Is(err, ErrCSR) || !errors.Is(err, ErrUnsupportedKey) {
		t.Fatalf("P-224: %v", err)
	}
}
