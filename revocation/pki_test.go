package revocation

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testkit"
)

// testNow is the verification time of the tests; certificates are valid
// from 2024 to 2030.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// The test PKI is made by internal/testkit, the repository's one
// certificate factory, with a new random P-256 key per certificate (so
// every world is a PKI of its own) and serial numbers derived by testkit.

// testCA is a certificate with its key.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// kit is ca as a testkit.CA.
func (ca *testCA) kit() *testkit.CA { return &testkit.CA{Cert: ca.cert, Key: ca.key} }

func newKey(t testing.TB) *ecdsa.PrivateKey { return testkit.NewECKey(t) }

func newRoot(t testing.TB, cn string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: cn, Organization: []string{"Test"}},
		NotBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return &testCA{cert: testkit.Issue(t, tmpl, &key.PublicKey, nil, key), key: key}
}

// endpoints are the revocation URLs written into a certificate.
type endpoints struct {
	ocsp, crl []string
	exts      []pkix.Extension
}

func (ca *testCA) issueCA(t testing.TB, cn string, ep endpoints) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: cn, Organization: []string{"Test"}},
		NotBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		OCSPServer: ep.ocsp, CRLDistributionPoints: ep.crl, ExtraExtensions: ep.exts,
	}
	return &testCA{cert: testkit.Issue(t, tmpl, &key.PublicKey, ca.cert, ca.key), key: key}
}

func (ca *testCA) issueLeaf(t testing.TB, cn string, ep endpoints) *x509.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: cn, Organization: []string{"Test"}, Country: []string{"US"}, Province: []string{"WA"}},
		NotBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		OCSPServer: ep.ocsp, CRLDistributionPoints: ep.crl, ExtraExtensions: ep.exts,
	}
	return testkit.Issue(t, tmpl, &key.PublicKey, ca.cert, ca.key)
}

// issueResponder issues a delegated OCSP responder certificate.
func (ca *testCA) issueResponder(t testing.TB, withEKU bool, notAfter time.Time) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: "OCSP Responder"},
		NotBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if withEKU {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	}
	return &testCA{cert: testkit.Issue(t, tmpl, &key.PublicKey, ca.cert, ca.key), key: key}
}

// crlSpec describes a CRL to sign.
type crlSpec struct {
	number     int64
	this, next time.Time
	entries    []x509.RevocationListEntry
	exts       []pkix.Extension
}

func (ca *testCA) signCRL(t testing.TB, s crlSpec) []byte {
	t.Helper()
	if s.this.IsZero() {
		s.this = testNow.Add(-time.Hour)
	}
	if s.next.IsZero() {
		s.next = testNow.Add(24 * time.Hour)
	}
	if s.number == 0 {
		s.number = 1
	}
	return ca.kit().CRL(t, &x509.RevocationList{
		Number: big.NewInt(s.number), ThisUpdate: s.this, NextUpdate: s.next,
		RevokedCertificateEntries: s.entries, ExtraExtensions: s.exts,
	})
}

// revoked is a CRL entry for cert.
func revoked(cert *x509.Certificate, reason int, at time.Time, exts ...pkix.Extension) x509.RevocationListEntry {
	return x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: at, ReasonCode: reason, ExtraExtensions: exts}
}

func invalidityExt(t testing.TB, when time.Time) pkix.Extension {
	t.Helper()
	v, err := asn1.MarshalWithParams(when.UTC(), "generalized")
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidInvalidityDate(), Value: v}
}

// dpExt encodes a CRLDistributionPoints-syntax extension (used for
// FreshestCRL) with one URI per distribution point.
func dpExt(t testing.TB, id asn1.ObjectIdentifier, critical bool, urls ...string) pkix.Extension {
	t.Helper()
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, u := range urls {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.Tag(6).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(u)) })
					})
				})
			})
		}
	})
	return pkix.Extension{Id: id, Critical: critical, Value: b.BytesOrPanic()}
}

func deltaIndicatorExt(base int64) pkix.Extension {
	v, _ := asn1.Marshal(big.NewInt(base))
	return pkix.Extension{Id: oidDeltaCRLIndicator(), Critical: true, Value: v}
}

// idpExt encodes an issuing distribution point.
func idpExt(uris []string, onlyUser, onlyCA bool, reasons []byte) pkix.Extension {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if len(uris) > 0 {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					for _, u := range uris {
						b.AddASN1(cbasn1.Tag(6).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(u)) })
					}
				})
			})
		}
		if onlyUser {
			b.AddASN1(cbasn1.Tag(1).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddUint8(0xff) })
		}
		if onlyCA {
			b.AddASN1(cbasn1.Tag(2).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddUint8(0xff) })
		}
		if reasons != nil {
			b.AddASN1(cbasn1.Tag(3).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(reasons) })
		}
	})
	return pkix.Extension{Id: oidIssuingDistributionPoint(), Critical: true, Value: b.BytesOrPanic()}
}

// ocspSpec describes an OCSP response to sign.
type ocspSpec struct {
	status     int // ocsp.Good, ocsp.Revoked, ocsp.Unknown
	this, next time.Time
	noNext     bool
	revokedAt  time.Time
	reason     int
	exts       []pkix.Extension
	responder  *testCA // delegated responder; nil: the issuer signs
}

func (ca *testCA) signOCSP(t testing.TB, cert *x509.Certificate, s ocspSpec) []byte {
	t.Helper()
	if s.this.IsZero() {
		s.this = testNow.Add(-time.Hour)
	}
	if s.next.IsZero() && !s.noNext {
		s.next = testNow.Add(time.Hour)
	}
	var responder *testkit.CA
	if s.responder != nil {
		responder = s.responder.kit()
	}
	return ca.kit().OCSP(t, cert, ocsp.Response{
		Status: s.status, SerialNumber: cert.SerialNumber, ThisUpdate: s.this, NextUpdate: s.next,
		RevokedAt: s.revokedAt, RevocationReason: s.reason, ExtraExtensions: s.exts,
	}, responder)
}

type pkixExt = pkix.Extension

// signCRLNoNext signs a CRL without nextUpdate, which
// x509.CreateRevocationList cannot produce.
func (ca *testCA) signCRLNoNext(t testing.TB) []byte {
	t.Helper()
	ai := []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02} // ecdsa-with-SHA256
	var tbs cryptobyte.Builder
	tbs.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddBytes(ai)
		b.AddBytes(ca.cert.RawSubject)
		b.AddASN1UTCTime(testNow.Add(-time.Hour))
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{2, 5, 29, 20})
					b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) { b.AddASN1Int64(1) })
				})
			})
		})
	})
	tbsDER := tbs.BytesOrPanic()
	sum := sha256.Sum256(tbsDER)
	sig, err := ecdsa.SignASN1(rand.Reader, ca.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbsDER)
		b.AddBytes(ai)
		b.AddASN1BitString(sig)
	})
	return b.BytesOrPanic()
}
