package pki_test

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
)

func TestParseCertificatesFixtures(t *testing.T) {
	for _, p := range certFixtures(t) {
		t.Run(strings.TrimPrefix(p, fixtureDir+string(filepath.Separator)), func(t *testing.T) {
			got, err := pki.ParseCertificates(readFile(t, p))
			if err != nil {
				t.Fatalf("ParseCertificates: %v", err)
			}
			want, err := testpki.LoadCertificates(p)
			if err != nil {
				t.Fatal(err)
			}
			if !sameChain(got, want) {
				t.Errorf("ParseCertificates = %v, want %v", subjects(got), subjects(want))
			}
		})
	}
}

func TestParseCertificates(t *testing.T) {
	leaf := loadCert(t, "ec-256", "leaf.crt")
	chain := loadCerts(t, "ec-256", "chain.pem")
	leafPEM := pemOf(leaf)
	chainPEM := pemOf(chain...)
	keyPEM := readFile(t, fixture("ec-256", "leaf.key")) // banner line, then a PRIVATE KEY block
	block := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	var all []*x509.Certificate
	var allPEM []byte
	for _, kt := range keyTypes {
		c := loadCerts(t, kt, "chain.pem")
		all = append(all, c...)
		allPEM = append(allPEM, readFile(t, fixture(kt, "chain.pem"))...)
	}

	ok := []struct {
		name string
		in   []byte
		want []*x509.Certificate
	}{
		{"one certificate", leafPEM, []*x509.Certificate{leaf}},
		{"chain of three, order kept", chainPEM, chain},
		{"reversed chain, order kept", pemOf(chain[2], chain[1], chain[0]), []*x509.Certificate{chain[2], chain[1], chain[0]}},
		{"18 certificates of every key type", allPEM, all},
		{"same certificate twice", cat(leafPEM, leafPEM), []*x509.Certificate{leaf, leaf}},
		{"surrounding blank lines and spaces", cat([]byte("\n\n  \t\n"), chainPEM, []byte("\n\n \n")), chain},
		{"CRLF line endings", bytes.ReplaceAll(chainPEM, []byte("\n"), []byte("\r\n")), chain},
		{"no newline at the end", bytes.TrimRight(leafPEM, "\n"), []*x509.Certificate{leaf}},
		{"DER instead of PEM", leaf.Raw, []*x509.Certificate{leaf}},
		// pem.Decode skips text before a BEGIN line, so openssl-style
		// "subject=..." preambles and comments before and between blocks
		// are accepted.
		{"comment before the first block", cat([]byte("# signing chain\nsubject=CN = Test Signing EC-256\n"), chainPEM), chain},
		{"comment between blocks", cat(pemOf(chain[0]), []byte("# the intermediate:\n"), pemOf(chain[1], chain[2])), chain},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pki.ParseCertificates(tc.in)
			if err != nil {
				t.Fatalf("ParseCertificates: %v", err)
			}
			if !sameChain(got, tc.want) {
				t.Errorf("ParseCertificates = %v, want %v", subjects(got), subjects(tc.want))
			}
		})
	}

	bad := []struct {
		name  string
		in    []byte
		words []string
	}{
		{"nil", nil, []string{"no certificate found"}},
		{"empty", []byte{}, []string{"no certificate found"}},
		{"only whitespace", []byte(" \n\r\n\t "), []string{"no certificate found"}},
		{"garbage", []byte("hello, world"), []string{"certificate 1", "neither PEM", "-----BEGIN CERTIFICATE-----", "DER", ".p7b"}},
		{"DER with a byte more", append(append([]byte(nil), leaf.Raw...), 0x30), []string{"certificate 2", "DER"}},
		{"DER garbage", []byte{0x30, 0x03, 1, 2}, []string{"certificate 1", "DER"}},
		{"private key file", keyPEM, []string{"certificate 1", `"PRIVATE KEY"`, "is not a CERTIFICATE"}},
		{"private key pasted after the chain", cat(chainPEM, keyPEM), []string{"certificate 4", `"PRIVATE KEY"`, "is not a CERTIFICATE"}},
		{"private key between certificates", cat(leafPEM, keyPEM, leafPEM), []string{"certificate 2", `"PRIVATE KEY"`}},
		{"EC PRIVATE KEY", block("EC PRIVATE KEY", []byte{1, 2, 3}), []string{`"EC PRIVATE KEY"`, "is not a CERTIFICATE"}},
		{"RSA PRIVATE KEY", block("RSA PRIVATE KEY", []byte{1, 2, 3}), []string{`"RSA PRIVATE KEY"`, "is not a CERTIFICATE"}},
		{"ENCRYPTED PRIVATE KEY", block("ENCRYPTED PRIVATE KEY", []byte{1}), []string{`"ENCRYPTED PRIVATE KEY"`}},
		{"PUBLIC KEY", block("PUBLIC KEY", []byte{1}), []string{`"PUBLIC KEY"`, "is not a CERTIFICATE"}},
		{"X509 CRL", cat(leafPEM, block("X509 CRL", []byte{1})), []string{"certificate 2", `"X509 CRL"`}},
		{"TRUSTED CERTIFICATE (OpenSSL aux format)", block("TRUSTED CERTIFICATE", leaf.Raw), []string{`"TRUSTED CERTIFICATE"`}},
		{"lower-case type", block("certificate", leaf.Raw), []string{`"certificate"`, "is not a CERTIFICATE"}},
		{"CERTIFICATE block holding garbage", block("CERTIFICATE", []byte("not DER")), []string{"certificate 1", "x509"}},
		{"second CERTIFICATE block truncated DER", cat(leafPEM, block("CERTIFICATE", leaf.Raw[:len(leaf.Raw)-10])), []string{"certificate 2", "x509"}},
		{"missing END line", bytes.Split(leafPEM, []byte("-----END"))[0], []string{"certificate 1", "not PEM"}},
		{"bad base64", []byte("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"), []string{"certificate 1", "not PEM"}},
		// Text after the last block is refused although text before and
		// between blocks is skipped: pem.Decode finds no further block.
		{"comment after the last block", cat(chainPEM, []byte("# end of chain\n")), []string{"certificate 4", "not PEM"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pki.ParseCertificates(tc.in)
			if err == nil {
				t.Fatalf("ParseCertificates = %v, want an error", subjects(got))
			}
			if got != nil {
				t.Errorf("certificates %v returned with an error", subjects(got))
			}
			if !errors.Is(err, pki.ErrCertificateFormat) {
				t.Errorf("error %q does not match ErrCertificateFormat", err)
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func FuzzParseCertificates(f *testing.F) {
	for _, p := range certFixtures(f) {
		f.Add(readFile(f, p))
	}
	f.Add([]byte{})
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add(readFile(f, fixture("ec-256", "leaf.key")))
	// DER, PKCS#7 DER (openssl crl2pkcs7 -nocrl -outform DER) and PEM
	// PKCS7 seeds; testdata/fuzz/FuzzParseCertificates holds more.
	for _, name := range []string{"ec-256-chain.p7b", "rsa-2048-chain.p7b.pem", "ec-256-leaf.cer"} {
		f.Add(readFile(f, filepath.Join("testdata", name)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := pki.ParseCertificates(data)
		if err != nil {
			if certs != nil {
				t.Fatalf("certificates returned with error %v", err)
			}
			var pe *pki.CertificateParseError
			if !errors.As(err, &pe) || !errors.Is(err, pki.ErrCertificateFormat) {
				t.Fatalf("error %q (%T) is not a *CertificateParseError", err, err)
			}
			if msg := err.Error(); pe.Index > 0 && !strings.HasPrefix(msg, "certificate ") {
				t.Fatalf("error %q names no certificate position", msg)
			}
			return
		}
		if len(certs) == 0 {
			t.Fatal("no certificates and no error")
		}
		for i, c := range certs {
			if c == nil || len(c.Raw) == 0 {
				t.Fatalf("certificate %d is empty", i+1)
			}
		}
		// The parsed certificates survive a PEM round trip unchanged.
		again, err := pki.ParseCertificates(pemOf(certs...))
		if err != nil {
			t.Fatalf("re-encoded bundle does not parse: %v", err)
		}
		if !sameChain(again, certs) {
			t.Fatalf("re-encoded bundle parses to %v, want %v", subjects(again), subjects(certs))
		}
	})
}

// DER building blocks for hand-made PKCS#7 bundles.
func der(t testing.TB, class, tag int, compound bool, parts ...[]byte) []byte {
	t.Helper()
	b, err := asn1.Marshal(asn1.RawValue{Class: class, Tag: tag, IsCompound: compound, Bytes: bytes.Join(parts, nil)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func derOf(t testing.TB, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// p7Parts are the fields of a SignedData, each DER (nil: left out).
type p7Parts struct {
	contentType      asn1.ObjectIdentifier
	version          []byte
	digestAlgorithms []byte
	encap            []byte
	certs            []byte // the [0] field
	crls             []byte // the [1] field
	signers          []byte
	trailing         []byte
}

func p7Good(t testing.TB, certs ...*x509.Certificate) p7Parts {
	var raw [][]byte
	for _, c := range certs {
		raw = append(raw, c.Raw)
	}
	return p7Parts{
		contentType:      asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2},
		version:          derOf(t, 1),
		digestAlgorithms: der(t, 0, asn1.TagSet, true),
		encap:            der(t, 0, asn1.TagSequence, true, derOf(t, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1})),
		certs:            der(t, asn1.ClassContextSpecific, 0, true, raw...),
		signers:          der(t, 0, asn1.TagSet, true),
	}
}

func (p p7Parts) build(t testing.TB) []byte {
	sd := der(t, 0, asn1.TagSequence, true, p.version, p.digestAlgorithms, p.encap, p.certs, p.crls, p.signers)
	ci := der(t, 0, asn1.TagSequence, true, derOf(t, p.contentType), der(t, asn1.ClassContextSpecific, 0, true, sd))
	return append(ci, p.trailing...)
}

// TestParseCertificatesFormats reads one chain in every form a CA hands
// out: PEM, PEM PKCS7, DER, concatenated DER and DER PKCS#7 (made by
// openssl crl2pkcs7 -nocrl, as checked in, and by the installed openssl).
func TestParseCertificatesFormats(t *testing.T) {
	ec := loadCerts(t, "ec-256", "chain.pem")
	rsa := loadCerts(t, "rsa-2048", "chain.pem")
	read := func(name string) []byte { return readFile(t, filepath.Join("testdata", name)) }
	p7 := p7Good(t, ec...).build(t)
	cases := []struct {
		name string
		in   []byte
		want []*x509.Certificate
	}{
		{"DER .p7b from openssl crl2pkcs7 -nocrl -outform DER", read("ec-256-chain.p7b"), ec},
		{"PEM PKCS7 from openssl crl2pkcs7 -nocrl", read("rsa-2048-chain.p7b.pem"), rsa},
		{"one DER certificate (.cer)", read("ec-256-leaf.cer"), ec[:1]},
		{"concatenated DER certificates", append(append(append([]byte(nil), ec[0].Raw...), ec[1].Raw...), ec[2].Raw...), ec},
		{"hand-made certs-only SignedData", p7, ec},
		{"PEM CERTIFICATE then PEM PKCS7", append(pemOf(rsa[0]), pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: p7})...), append(rsa[:1:1], ec...)},
		{"PEM CMS label", pem.EncodeToMemory(&pem.Block{Type: "CMS", Bytes: p7}), ec},
		{"SignedData version 3", func() []byte { p := p7Good(t, ec...); p.version = derOf(t, 3); return p.build(t) }(), ec},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pki.ParseCertificates(tc.in)
			if err != nil {
				t.Fatalf("ParseCertificates: %v", err)
			}
			if !sameChain(got, tc.want) {
				t.Errorf("ParseCertificates = %v, want %v", subjects(got), subjects(tc.want))
			}
		})
	}
	t.Run("openssl crl2pkcs7 of every chain", func(t *testing.T) {
		openssl := e2e.LookPathT(t, "openssl", "openssl", "there is no independent PKCS#7 writer to cross-check with")
		for _, kt := range keyTypes {
			for _, form := range []string{"DER", "PEM"} {
				out, err := exec.Command(openssl, "crl2pkcs7", "-nocrl", "-certfile", fixture(kt, "chain.pem"), "-outform", form).Output()
				if err != nil {
					t.Fatalf("openssl crl2pkcs7 %s: %v", kt, err)
				}
				got, err := pki.ParseCertificates(out)
				if err != nil {
					t.Fatalf("%s %s: %v", kt, form, err)
				}
				if want := loadCerts(t, kt, "chain.pem"); !sameChain(got, want) {
					t.Errorf("%s %s: %v, want %v", kt, form, subjects(got), subjects(want))
				}
			}
		}
	})
}

// TestParseCertificatesPKCS7Refused: anything but a certs-only SignedData
// of X.509 certificates is refused, naming what is wrong.
func TestParseCertificatesPKCS7Refused(t *testing.T) {
	ec := loadCerts(t, "ec-256", "chain.pem")
	mut := func(f func(p *p7Parts)) []byte {
		p := p7Good(t, ec...)
		f(&p)
		return p.build(t)
	}
	oneSigner := der(t, 0, asn1.TagSet, true, der(t, 0, asn1.TagSequence, true, derOf(t, 1)))
	many := make([]*x509.Certificate, pki.MaxCertificates+1)
	for i := range many {
		many[i] = ec[0]
	}
	cases := []struct {
		name  string
		in    []byte
		words []string
	}{
		{"signed", mut(func(p *p7Parts) { p.signers = oneSigner }), []string{"certificate 1", "PKCS#7", "signed"}},
		{"with CRLs", mut(func(p *p7Parts) { p.crls = der(t, asn1.ClassContextSpecific, 1, true) }), []string{"CRLs", "-nocrl"}},
		{"with content", mut(func(p *p7Parts) {
			p.encap = der(t, 0, asn1.TagSequence, true, derOf(t, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}), der(t, asn1.ClassContextSpecific, 0, true, derOf(t, []byte("hi"))))
		}), []string{"encapContentInfo", "carries content"}},
		{"enveloped data", mut(func(p *p7Parts) { p.contentType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 3} }), []string{"1.2.840.113549.1.7.3", "not SignedData"}},
		{"encapsulated type not data", mut(func(p *p7Parts) {
			p.encap = der(t, 0, asn1.TagSequence, true, derOf(t, asn1.ObjectIdentifier{1, 2, 3}))
		}), []string{"1.2.3", "not data"}},
		{"bytes after the end", mut(func(p *p7Parts) { p.trailing = []byte{0, 0} }), []string{"2 byte(s) after the end"}},
		{"attribute certificate", mut(func(p *p7Parts) {
			p.certs = der(t, asn1.ClassContextSpecific, 0, true, ec[0].Raw, der(t, asn1.ClassContextSpecific, 2, true, derOf(t, 1)))
		}), []string{"certificate 2", "another kind"}},
		{"garbage certificate", mut(func(p *p7Parts) {
			p.certs = der(t, asn1.ClassContextSpecific, 0, true, ec[0].Raw, der(t, 0, asn1.TagSequence, true, derOf(t, 7)))
		}), []string{"certificate 2", "x509"}},
		{"no certificates field", mut(func(p *p7Parts) { p.certs = nil }), []string{"no certificate found"}},
		{"empty certificates field", mut(func(p *p7Parts) { p.certs = der(t, asn1.ClassContextSpecific, 0, true) }), []string{"no certificate found"}},
		{"version 0", mut(func(p *p7Parts) { p.version = derOf(t, 0) }), []string{"version"}},
		{"digestAlgorithms not a SET", mut(func(p *p7Parts) { p.digestAlgorithms = derOf(t, 1) }), []string{"digestAlgorithms"}},
		{"too many certificates", p7Good(t, many...).build(t), nil},
		{"truncated", p7Good(t, ec...).build(t)[:100], []string{"certificate 1", "DER", "truncated"}},
		{"PEM PKCS7 holding garbage", pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: []byte("nope")}), []string{"certificate 1", "PKCS#7"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pki.ParseCertificates(tc.in)
			if err == nil {
				t.Fatalf("ParseCertificates = %v, want an error", subjects(got))
			}
			var pe *pki.CertificateParseError
			if got != nil || !errors.Is(err, pki.ErrCertificateFormat) || !errors.As(err, &pe) {
				t.Fatalf("ParseCertificates = %v, %v (%T): want no certificates and a *CertificateParseError", subjects(got), err, err)
			}
			if tc.words == nil && !errors.Is(err, pki.ErrTooManyCertificates) {
				t.Errorf("error %v is not ErrTooManyCertificates", err)
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestParseCertificatesCaps: inputs past the caps are refused before
// anything is parsed.
func TestParseCertificatesCaps(t *testing.T) {
	leaf := loadCert(t, "ec-256", "leaf.crt")
	if _, err := pki.ParseCertificates(make([]byte, pki.MaxCertificateData+1)); !errors.Is(err, pki.ErrTooLarge) || !errors.Is(err, pki.ErrCertificateFormat) {
		t.Errorf("oversized input: %v, want ErrTooLarge", err)
	}
	manyPEM := bytes.Repeat(pemOf(leaf), pki.MaxCertificates+1)
	if _, err := pki.ParseCertificates(manyPEM); !errors.Is(err, pki.ErrTooManyCertificates) || !errors.Is(err, pki.ErrCertificateFormat) {
		t.Errorf("%d PEM certificates: %v, want ErrTooManyCertificates", pki.MaxCertificates+1, err)
	}
	manyDER := bytes.Repeat(leaf.Raw, pki.MaxCertificates+1)
	if _, err := pki.ParseCertificates(manyDER); !errors.Is(err, pki.ErrTooManyCertificates) {
		t.Errorf("%d DER certificates: %v, want ErrTooManyCertificates", pki.MaxCertificates+1, err)
	}
	if got, err := pki.ParseCertificates(bytes.Repeat(leaf.Raw, pki.MaxCertificates)); err != nil || len(got) != pki.MaxCertificates {
		t.Errorf("exactly %d DER certificates: %d, %v", pki.MaxCertificates, len(got), err)
	}
}
