package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func TestToPKCS8PEM(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }

	for name, in := range map[string][]byte{
		"pkcs8":           enc("PRIVATE KEY", p8),
		"sec1":            enc("EC PRIVATE KEY", sec1),
		"sec1 with param": append(enc("EC PARAMETERS", []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}), enc("EC PRIVATE KEY", sec1)...),
		"pkcs1":           enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)),
	} {
		out, err := toPKCS8PEM(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		b, _ := pem.Decode(out)
		if b == nil || b.Type != "PRIVATE KEY" {
			t.Errorf("%s: output is not a PRIVATE KEY block: %q", name, out)
			continue
		}
		if _, err := x509.ParsePKCS8PrivateKey(b.Bytes); err != nil {
			t.Errorf("%s: output does not parse: %v", name, err)
		}
	}

	for name, in := range map[string][]byte{
		"empty":     nil,
		"cert only": enc("CERTIFICATE", []byte{1}),
		"encrypted": enc("ENCRYPTED PRIVATE KEY", []byte{1}),
		"garbage":   enc("EC PRIVATE KEY", []byte{1, 2, 3}),
	} {
		if _, err := toPKCS8PEM(in); err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: multi-line error %q", name, err)
		}
	}
}
