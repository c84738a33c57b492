// Command issue is the development-only test CA as a command: it issues a
// Notation signing certificate for a PKCS#10 request (from
// `notation-pkcs11 csr`) with internal/testca and writes the chain, leaf first,
// then the test intermediate and root. Never trust the test root outside
// development: its private keys are public (testdata/pki/ca).
//
//	go run ./internal/testca/issue -csr req.pem -out chain.pem [-days 365] [-crl http://127.0.0.1:8080/ca.crl]
//
// Exit codes: 0 issued, 1 failed, 2 usage error.
package main

import (
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testca"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("issue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	csrPath := fs.String("csr", "", "PEM certificate request (required)")
	out := fs.String("out", "", "write the PEM chain here (required)")
	days := fs.Int("days", 365, "validity in days")
	crl := fs.String("crl", "", "CRL distribution point URL to put in the certificate")
	caDir := fs.String("ca", "", "CA folder (default: testdata/pki/ca of this module)")
	if err := fs.Parse(args); err != nil || *csrPath == "" || *out == "" || *days < 1 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: go run ./internal/testca/issue -csr req.pem -out chain.pem [-days 365] [-crl URL]")
		return 2
	}
	if err := issue(*csrPath, *out, *caDir, *crl, *days); err != nil {
		fmt.Fprintf(stderr, "issue: error: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s (signing certificate, test intermediate, test root); the test root is for development only\n", *out)
	return 0
}

func issue(csrPath, out, caDir, crl string, days int) error {
	if caDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if caDir, err = testca.FindDir(wd); err != nil {
			return err
		}
	}
	ca, err := testca.Load(caDir)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(csrPath)
	if err != nil {
		return err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return fmt.Errorf("%s: no CERTIFICATE REQUEST PEM block", csrPath)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return fmt.Errorf("%s: %w", csrPath, err)
	}
	var p testca.Profile
	if crl != "" {
		p.CRLDistributionPoints = []string{crl}
	}
	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	leaf, err := ca.IssueCSRWith(csr, now, now.Add(time.Duration(days)*24*time.Hour), p)
	if err != nil {
		return err
	}
	return os.WriteFile(out, testca.PEM(append([]*x509.Certificate{leaf}, ca.Chain()...)...), 0o644)
}
