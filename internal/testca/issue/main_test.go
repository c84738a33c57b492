package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
)

func TestIssue(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	subject, err := pki.ParseSubject("C=US,ST=WA,O=Acme,CN=Release Signing")
	if err != nil {
		t.Fatal(err)
	}
	der, err := pki.CreateCSR(key, subject)
	if err != nil {
		t.Fatal(err)
	}
	csrPath, out := filepath.Join(dir, "req.pem"), filepath.Join(dir, "chain.pem")
	if err := os.WriteFile(csrPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	var so, se bytes.Buffer
	if code := run([]string{"-csr", csrPath, "-out", out, "-days", "30", "-crl", "http://127.0.0.1:9/ca.crl"}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCertificates(b)
	if err != nil || len(certs) != 3 {
		t.Fatalf("%d certificates, %v", len(certs), err)
	}
	if !pki.PublicKeyEqual(certs[0].PublicKey, key.Public()) || certs[0].CRLDistributionPoints[0] != "http://127.0.0.1:9/ca.crl" {
		t.Fatalf("leaf %+v", certs[0].Subject)
	}
	if err := pki.CheckSigningChain(certs, time.Now()); err != nil {
		t.Fatal(err)
	}
	if certs[0].NotAfter.Sub(certs[0].NotBefore) > 31*24*time.Hour {
		t.Fatalf("validity %s", certs[0].NotAfter.Sub(certs[0].NotBefore))
	}
	for _, args := range [][]string{{}, {"-csr", csrPath}, {"-csr", out, "-out", filepath.Join(dir, "x.pem")}} {
		se.Reset()
		if code := run(args, &so, &se); code == 0 || (len(args) == 4 && !strings.Contains(se.String(), "CERTIFICATE REQUEST")) {
			t.Fatalf("%v: exit %d %s", args, code, se.String())
		}
	}
}
