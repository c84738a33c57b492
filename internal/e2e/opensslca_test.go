package e2e_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	corex509 "github.com/notaryproject/notation-core-go/x509"
	"golang.org/x/crypto/ocsp"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

// TestOpenSSLCA builds an EC PKI with delta CRLs and a TSA chain, and checks
// certificates, CRLs, OCSP, revocation and every fault mode.
func TestOpenSSLCA(t *testing.T) {
	start := time.Now()
	c := e2e.NewOpenSSLCAT(t, e2e.CAOptions{Delta: true, TSA: true, SlowDelay: 1500 * time.Millisecond})
	t.Logf("NewOpenSSLCA (EC, delta, TSA): %v; CRL %s, OCSP %s", time.Since(start), c.CRLURL(), c.OCSPURL())

	root := osslMustCert(t, c.RootPath())
	inter := osslMustCert(t, c.IntermediatePath())
	start = time.Now()
	leafPath, keyPath, err := c.IssueLeaf("signer", "C=US, ST=WA, O=Acme, CN=signer")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("IssueLeaf: %v", time.Since(start))
	leaf := osslMustCert(t, leafPath)
	start = time.Now()
	if err := c.PublishCRL(); err != nil {
		t.Fatal(err)
	}
	t.Logf("PublishCRL (3 CAs, with deltas): %v", time.Since(start))

	t.Run("certificates", func(t *testing.T) {
		if _, err := os.Stat(keyPath); err != nil {
			t.Fatal(err)
		}
		chain := osslMustChain(t, c.ChainPath("signer"))
		if len(chain) != 3 || !chain[0].Equal(leaf) || !chain[1].Equal(inter) || !chain[2].Equal(root) {
			t.Fatalf("ChainPath: got %d certificates, want leaf, intermediate, root", len(chain))
		}
		now := time.Now()
		if err := corex509.ValidateCodeSigningCertChain(chain, &now); err != nil {
			t.Fatalf("Notary Project code-signing rules: %v", err)
		}
		if got := leaf.Subject.String(); got != "CN=signer,O=Acme,ST=WA,C=US" {
			t.Errorf("leaf subject %q", got)
		}
		if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || leaf.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
			t.Errorf("leaf key %T, want EC P-256", leaf.PublicKey)
		}
		if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageCodeSigning {
			t.Errorf("leaf EKU %v", leaf.ExtKeyUsage)
		}
		if got := leaf.CRLDistributionPoints; len(got) != 1 || got[0] != c.CRLURL() {
			t.Errorf("leaf CDP %v, want [%s]", got, c.CRLURL())
		}
		if got := inter.CRLDistributionPoints; len(got) != 1 || got[0] != c.CRLURLOf(e2e.CANameRoot) {
			t.Errorf("intermediate CDP %v", got)
		}
		for _, x := range []*x509.Certificate{leaf, inter} {
			if len(x.OCSPServer) != 1 || x.OCSPServer[0] != c.OCSPURL() {
				t.Errorf("%s: OCSP %v, want [%s]", x.Subject, x.OCSPServer, c.OCSPURL())
			}
		}
		if len(root.CRLDistributionPoints) != 0 || len(root.OCSPServer) != 0 {
			t.Errorf("root carries CDP/OCSP pointers")
		}
		for _, ca := range []string{e2e.CANameRoot, e2e.CANameIntermediate, e2e.CANameTSARoot} {
			s := osslMustCert(t, c.OCSPSignerPath(ca))
			if len(s.ExtKeyUsage) != 1 || s.ExtKeyUsage[0] != x509.ExtKeyUsageOCSPSigning {
				t.Errorf("%s OCSP signer EKU %v", ca, s.ExtKeyUsage)
			}
		}
		// TSA chain: RFC 3161 rules as notation-core-go checks them.
		tsaChain := osslMustChain(t, c.TSAChainPath())
		if err := corex509.ValidateTimestampingCertChain(tsaChain); err != nil {
			t.Fatalf("timestamping rules: %v", err)
		}
		tsa := tsaChain[0]
		for _, ext := range tsa.Extensions {
			if ext.Id.Equal(osslOidExtKeyUsage) && !ext.Critical {
				t.Errorf("TSA EKU not critical")
			}
		}
		if len(tsa.CRLDistributionPoints) != 1 || tsa.CRLDistributionPoints[0] != c.CRLURLOf(e2e.CANameTSARoot) || len(tsa.OCSPServer) != 1 {
			t.Errorf("TSA pointers: CDP %v OCSP %v", tsa.CRLDistributionPoints, tsa.OCSPServer)
		}
		if _, err := os.Stat(c.TSAKeyPath()); err != nil {
			t.Error(err)
		}
		if _, _, err := c.IssueLeaf("signer", ""); err == nil {
			t.Error("IssueLeaf with a name in use: no error")
		}
		if _, _, err := c.IssueLeaf("../x", ""); err == nil {
			t.Error("IssueLeaf with a path name: no error")
		}
	})

	t.Run("good", func(t *testing.T) {
		crl := osslFetchCRL(t, c.CRLURL(), inter)
		if len(crl.RevokedCertificateEntries) != 0 {
			t.Fatalf("fresh CRL lists %d entries", len(crl.RevokedCertificateEntries))
		}
		rootCRL := osslFetchCRL(t, c.CRLURLOf(e2e.CANameRoot), root)
		if crl.Number.Cmp(big.NewInt(0)) <= 0 || rootCRL.Number == nil {
			t.Errorf("CRL numbers %v %v", crl.Number, rootCRL.Number)
		}
		for _, post := range []bool{false, true} {
			start := time.Now()
			r := osslOcspStatus(t, c.OCSPURL(), leaf, inter, post)
			t.Logf("OCSP post=%v: %v", post, time.Since(start))
			if r.Status != ocsp.Good {
				t.Fatalf("OCSP post=%v: status %d, want good", post, r.Status)
			}
			if r.Certificate == nil || r.Certificate.Subject.CommonName != "E2E OpenSSL Intermediate OCSP Responder" {
				t.Errorf("OCSP response not signed by the delegated responder: %v", r.Certificate)
			}
			if r.NextUpdate.Before(time.Now().Add(23 * time.Hour)) {
				t.Errorf("OCSP nextUpdate %v, want about a day ahead", r.NextUpdate)
			}
		}
		if r := osslOcspStatus(t, c.OCSPURL(), inter, root, false); r.Status != ocsp.Good {
			t.Errorf("intermediate: OCSP status %d", r.Status)
		}
		if c.OCSPRequests(e2e.CANameIntermediate) < 2 || c.OCSPRequests(e2e.CANameRoot) < 1 || c.CRLFetches(e2e.CANameIntermediate) < 1 {
			t.Errorf("counters: ocsp inter %d root %d, crl inter %d", c.OCSPRequests(e2e.CANameIntermediate),
				c.OCSPRequests(e2e.CANameRoot), c.CRLFetches(e2e.CANameIntermediate))
		}
		// Empty delta published with the base.
		base := osslFetchCRL(t, c.CRLURL(), inter)
		if !osslHasExt(base.Extensions, osslOidFreshestCRL) {
			t.Error("base CRL lacks freshestCRL")
		}
		d := osslFetchCRL(t, c.DeltaCRLURLOf(e2e.CANameIntermediate), inter)
		osslCheckDelta(t, d, base)
	})

	var invalidity time.Time
	t.Run("revoke", func(t *testing.T) {
		invalidity = time.Now().Add(-time.Hour).Truncate(time.Second)
		if err := c.RevokeWithInvalidity(leafPath, "keyCompromise", invalidity); err != nil {
			t.Fatal(err)
		}
		holdPath, _, err := c.IssueLeaf("held", "")
		if err != nil {
			t.Fatal(err)
		}
		held := osslMustCert(t, holdPath)
		if err := c.Revoke(holdPath, "certificateHold"); err != nil {
			t.Fatal(err)
		}
		if err := c.Revoke(leafPath, "superseded"); err == nil {
			t.Error("revoking twice: no error")
		}
		if err := c.Revoke(leafPath, "bogus"); err == nil {
			t.Error("unknown reason: no error")
		}
		// OCSP reads the index per request: no publish needed.
		for _, post := range []bool{false, true} {
			r := osslOcspStatus(t, c.OCSPURL(), leaf, inter, post)
			if r.Status != ocsp.Revoked || r.RevocationReason != osslReasonKeyCompromise {
				t.Fatalf("OCSP post=%v: status %d reason %d, want revoked keyCompromise", post, r.Status, r.RevocationReason)
			}
			if got, ok := osslInvalidityOf(r.Extensions); !ok || !got.Equal(invalidity) {
				t.Errorf("OCSP invalidityDate %v (present %v), want %v", got, ok, invalidity)
			}
		}
		if r := osslOcspStatus(t, c.OCSPURL(), held, inter, false); r.Status != ocsp.Revoked || r.RevocationReason != osslReasonCertificateHold {
			t.Errorf("held: OCSP status %d reason %d", r.Status, r.RevocationReason)
		}
		// The CRL changes only when published.
		if crl := osslFetchCRL(t, c.CRLURL(), inter); len(crl.RevokedCertificateEntries) != 0 {
			t.Fatalf("unpublished revocation already in the CRL")
		}
		start := time.Now()
		if err := c.PublishCRL(); err != nil {
			t.Fatal(err)
		}
		t.Logf("PublishCRL: %v", time.Since(start))
		crl := osslFetchCRL(t, c.CRLURL(), inter)
		e := osslCrlEntry(crl, leaf.SerialNumber)
		if e == nil || e.ReasonCode != osslReasonKeyCompromise {
			t.Fatalf("CRL entry for the leaf: %+v", e)
		}
		if got, ok := osslInvalidityOf(e.Extensions); !ok || !got.Equal(invalidity) {
			t.Errorf("CRL invalidityDate %v (present %v), want %v", got, ok, invalidity)
		}
		if e := osslCrlEntry(crl, held.SerialNumber); e == nil || e.ReasonCode != osslReasonCertificateHold {
			t.Errorf("CRL entry for the held leaf: %+v", e)
		}

		// Release the hold.
		if err := c.Revoke(holdPath, "removeFromCRL"); err != nil {
			t.Fatal(err)
		}
		if r := osslOcspStatus(t, c.OCSPURL(), held, inter, true); r.Status != ocsp.Good {
			t.Errorf("released: OCSP status %d, want good", r.Status)
		}
		if err := c.PublishCRL(); err != nil {
			t.Fatal(err)
		}
		if e := osslCrlEntry(osslFetchCRL(t, c.CRLURL(), inter), held.SerialNumber); e != nil {
			t.Errorf("released hold still in the CRL: %+v", e)
		}
	})

	t.Run("delta", func(t *testing.T) {
		dPath, _, err := c.IssueLeaf("delta", "")
		if err != nil {
			t.Fatal(err)
		}
		dCert := osslMustCert(t, dPath)
		if err := c.Revoke(dPath, "cessationOfOperation"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := c.PublishDeltaCRL(); err != nil {
			t.Fatal(err)
		}
		t.Logf("PublishDeltaCRL: %v", time.Since(start))
		base := osslFetchCRL(t, c.CRLURL(), inter)
		if osslCrlEntry(base, dCert.SerialNumber) != nil {
			t.Fatal("base CRL changed without PublishCRL")
		}
		d := osslFetchCRL(t, c.DeltaCRLURLOf(e2e.CANameIntermediate), inter)
		osslCheckDelta(t, d, base)
		if e := osslCrlEntry(d, dCert.SerialNumber); e == nil || e.ReasonCode != osslReasonCessationOfOpera {
			t.Errorf("delta entry %+v", e)
		}
		if osslCrlEntry(d, leaf.SerialNumber) != nil {
			t.Error("delta repeats an entry of the base")
		}
	})

	t.Run("intermediate and TSA", func(t *testing.T) {
		if err := c.RevokeIntermediate("superseded"); err != nil {
			t.Fatal(err)
		}
		tsa := osslMustCert(t, c.TSACertPath())
		tsaRoot := osslMustCert(t, c.TSARootPath())
		if r := osslOcspStatus(t, c.OCSPURL(), tsa, tsaRoot, false); r.Status != ocsp.Good {
			t.Errorf("TSA: OCSP status %d", r.Status)
		}
		if err := c.Revoke(c.TSACertPath(), "keyCompromise"); err != nil {
			t.Fatal(err)
		}
		if err := c.PublishCRL(); err != nil {
			t.Fatal(err)
		}
		if e := osslCrlEntry(osslFetchCRL(t, c.CRLURLOf(e2e.CANameRoot), root), inter.SerialNumber); e == nil || e.ReasonCode != osslReasonSuperseded {
			t.Errorf("root CRL entry for the intermediate: %+v", e)
		}
		if r := osslOcspStatus(t, c.OCSPURL(), inter, root, true); r.Status != ocsp.Revoked || r.RevocationReason != osslReasonSuperseded {
			t.Errorf("intermediate: OCSP status %d reason %d", r.Status, r.RevocationReason)
		}
		if e := osslCrlEntry(osslFetchCRL(t, c.CRLURLOf(e2e.CANameTSARoot), tsaRoot), tsa.SerialNumber); e == nil || e.ReasonCode != osslReasonKeyCompromise {
			t.Errorf("TSA root CRL entry: %+v", e)
		}
		if r := osslOcspStatus(t, c.OCSPURL(), tsa, tsaRoot, false); r.Status != ocsp.Revoked {
			t.Errorf("TSA: OCSP status %d, want revoked", r.Status)
		}
	})

	t.Run("CRL faults", func(t *testing.T) {
		u := c.CRLURL()
		set := func(m e2e.CRLMode) {
			t.Helper()
			if err := c.SetCRLMode(m); err != nil {
				t.Fatal(err)
			}
		}
		set(e2e.CRLMode500)
		if code, _, err := osslGet(u, 5*time.Second); err != nil || code != http.StatusInternalServerError {
			t.Errorf("500: %d %v", code, err)
		}
		set(e2e.CRLModeGarbage)
		if code, body, err := osslGet(u, 5*time.Second); err != nil || code != 200 {
			t.Errorf("garbage: %d %v", code, err)
		} else if _, err := x509.ParseRevocationList(body); err == nil {
			t.Error("garbage parses as a CRL")
		}
		set(e2e.CRLModeSlow)
		start := time.Now()
		if _, _, err := osslGet(u, 300*time.Millisecond); !osslTimedOut(err) {
			t.Errorf("slow, 300 ms client: err %v, want a timeout", err)
		}
		t.Logf("slow: client gave up after %v", time.Since(start))
		if code, body, err := osslGet(u, 5*time.Second); err != nil || code != 200 || len(body) == 0 {
			t.Errorf("slow, patient client: %d %v", code, err)
		}
		set(e2e.CRLModeWrongKey)
		start = time.Now()
		if code, body, err := osslGet(u, 5*time.Second); err != nil || code != 200 {
			t.Errorf("wrongkey: %d %v", code, err)
		} else if crl, err := x509.ParseRevocationList(body); err != nil {
			t.Errorf("wrongkey: %v", err)
		} else {
			t.Logf("wrongkey CRL generated in %v", time.Since(start))
			if !bytes.Equal(crl.RawIssuer, inter.RawSubject) {
				t.Error("wrongkey: issuer differs from the intermediate's name")
			}
			if err := crl.CheckSignatureFrom(inter); err == nil {
				t.Error("wrongkey: signature verifies with the intermediate")
			}
		}
		set(e2e.CRLModeExpired)
		if code, body, err := osslGet(u, 5*time.Second); err != nil || code != 200 {
			t.Errorf("expired: %d %v", code, err)
		} else if crl, err := x509.ParseRevocationList(body); err != nil {
			t.Errorf("expired: %v", err)
		} else {
			if err := crl.CheckSignatureFrom(inter); err != nil {
				t.Errorf("expired: %v", err)
			}
			if !crl.NextUpdate.Before(time.Now()) {
				t.Errorf("expired: nextUpdate %v is not past", crl.NextUpdate)
			}
			if osslCrlEntry(crl, leaf.SerialNumber) == nil {
				t.Error("expired: the CRL lacks the revoked leaf")
			}
		}
		set(e2e.CRLModeHuge)
		start = time.Now()
		if code, body, err := osslGet(u, 30*time.Second); err != nil || code != 200 || len(body) <= 32<<20 {
			t.Errorf("huge: %d, %d bytes, %v", code, len(body), err)
		}
		t.Logf("huge: %v", time.Since(start))
		if err := c.SetCRLMode("bogus"); err == nil {
			t.Error("unknown CRL mode: no error")
		}
		// Per CA.
		set(e2e.CRLModeOK)
		if err := c.SetCRLModeFor(e2e.CANameRoot, e2e.CRLMode500); err != nil {
			t.Fatal(err)
		}
		osslFetchCRL(t, u, inter)
		if code, _, _ := osslGet(c.CRLURLOf(e2e.CANameRoot), 5*time.Second); code != 500 {
			t.Errorf("root CRL in 500 mode: %d", code)
		}
		set(e2e.CRLModeOK)

		if err := c.SetCRLDown(true); err != nil {
			t.Fatal(err)
		}
		if _, _, err := osslGet(u, 5*time.Second); !osslRefused(err) {
			t.Errorf("down: err %v, want connection refused", err)
		}
		if err := c.SetCRLDown(false); err != nil {
			t.Fatal(err)
		}
		osslFetchCRL(t, u, inter)
		if code, _, _ := osslGet(strings.TrimSuffix(u, "intermediate.crl")+"nope.crl", 5*time.Second); code != 404 {
			t.Errorf("unknown path: %d", code)
		}
	})

	t.Run("OCSP faults", func(t *testing.T) {
		goodPath, _, err := c.IssueLeaf("ocsp-good", "")
		if err != nil {
			t.Fatal(err)
		}
		good := osslMustCert(t, goodPath)
		set := func(m e2e.OCSPMode) {
			t.Helper()
			if err := c.SetOCSPMode(m); err != nil {
				t.Fatal(err)
			}
		}
		set(e2e.OCSPModeUnknown)
		if r := osslOcspStatus(t, c.OCSPURL(), leaf, inter, false); r.Status != ocsp.Unknown {
			t.Errorf("unknown: status %d", r.Status)
		}
		set(e2e.OCSPModeNoNextUpdate)
		if r := osslOcspStatus(t, c.OCSPURL(), good, inter, false); r.Status != ocsp.Good || !r.NextUpdate.IsZero() {
			t.Errorf("nonextupdate: status %d nextUpdate %v", r.Status, r.NextUpdate)
		}
		for _, m := range []e2e.OCSPMode{e2e.OCSPModeBadSig, e2e.OCSPModeNoCerts} {
			set(m)
			resp, body, err := osslQueryOCSP(c.OCSPURL(), good, inter, false, 5*time.Second)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s: %v", m, err)
			}
			if _, err := ocsp.ParseResponseForCert(body, good, inter); err == nil {
				t.Errorf("%s: response verifies", m)
			} else {
				t.Logf("%s: %v", m, err)
			}
		}
		set(e2e.OCSPMode500)
		if resp, _, err := osslQueryOCSP(c.OCSPURL(), good, inter, true, 5*time.Second); err != nil || resp.StatusCode != 500 {
			t.Errorf("500: %v %v", resp, err)
		}
		set(e2e.OCSPModeGarbage)
		if resp, body, err := osslQueryOCSP(c.OCSPURL(), good, inter, false, 5*time.Second); err != nil || resp.StatusCode != 200 {
			t.Errorf("garbage: %v", err)
		} else if _, err := ocsp.ParseResponse(body, inter); err == nil {
			t.Error("garbage parses")
		}
		set(e2e.OCSPModeSlow)
		if _, _, err := osslQueryOCSP(c.OCSPURL(), good, inter, false, 300*time.Millisecond); !osslTimedOut(err) {
			t.Errorf("slow: err %v, want a timeout", err)
		}
		set(e2e.OCSPModeOK)
		if err := c.SetOCSPModeFor(e2e.CANameIntermediate, e2e.OCSPModeUnknown); err != nil {
			t.Fatal(err)
		}
		if r := osslOcspStatus(t, c.OCSPURL(), good, inter, false); r.Status != ocsp.Unknown {
			t.Errorf("per-CA unknown: status %d", r.Status)
		}
		if r := osslOcspStatus(t, c.OCSPURL(), inter, root, false); r.Status != ocsp.Revoked {
			t.Errorf("root answers while the intermediate is faulted: status %d", r.Status)
		}
		set(e2e.OCSPModeOK)
		// A request openssl cannot read gets malformedRequest, as from its server.
		resp, err := http.Post(c.OCSPURL(), "application/ocsp-request", strings.NewReader("junk"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var re ocsp.ResponseError
		if _, err := ocsp.ParseResponse(body, nil); !errors.As(err, &re) || re.Status != ocsp.Malformed {
			t.Errorf("junk request: %v", err)
		}

		if err := c.SetOCSPDown(true); err != nil {
			t.Fatal(err)
		}
		if _, _, err := osslQueryOCSP(c.OCSPURL(), good, inter, false, 5*time.Second); !osslRefused(err) {
			t.Errorf("down: err %v, want connection refused", err)
		}
		if err := c.SetOCSPDown(false); err != nil {
			t.Fatal(err)
		}
		if r := osslOcspStatus(t, c.OCSPURL(), good, inter, true); r.Status != ocsp.Good {
			t.Errorf("back up: status %d", r.Status)
		}
	})

	if err := c.ServeErr(); err != nil {
		t.Errorf("front errors: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil { // idempotent
		t.Fatal(err)
	}
	if _, _, err := osslGet(c.CRLURL(), time.Second); !osslRefused(err) {
		t.Errorf("CRL front after Stop: %v", err)
	}
	if _, _, err := osslQueryOCSP(c.OCSPURL(), leaf, inter, false, time.Second); !osslRefused(err) {
		t.Errorf("OCSP front after Stop: %v", err)
	}
	if err := c.SetCRLDown(false); err == nil {
		t.Error("SetCRLDown after Stop: no error")
	}
}
