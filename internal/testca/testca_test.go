package testca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"
)

func TestProfilesAndCRL(t *testing.T) {
	dir, err := FindDir(".")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	subject := pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"Acme"}}
	now := time.Now().Truncate(time.Second)
	plain, err := ca.Issue(key.Public(), subject, now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p := Profile{CRLDistributionPoints: []string{"http://127.0.0.1:1/ca.crl"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	prof, err := ca.IssueWith(key.Public(), subject, now, now.Add(time.Hour), p)
	if err != nil {
		t.Fatal(err)
	}
	if plain.SerialNumber.Cmp(prof.SerialNumber) == 0 {
		t.Fatal("two profiles for one key share a serial")
	}
	if len(prof.CRLDistributionPoints) != 1 || prof.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || plain.ExtKeyUsage[0] != x509.ExtKeyUsageCodeSigning {
		t.Fatalf("profile not applied: %v %v", prof.CRLDistributionPoints, prof.ExtKeyUsage)
	}
	der, err := ca.CRL(7, []*x509.Certificate{prof}, now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(ca.Intermediate); err != nil {
		t.Fatal(err)
	}
	if crl.Number.Int64() != 7 || len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(prof.SerialNumber) != 0 {
		t.Fatalf("CRL %+v", crl)
	}
}
