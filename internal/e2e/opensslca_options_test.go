package e2e_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/purpose"
	"github.com/notaryproject/notation-core-go/revocation/result"
	corex509 "github.com/notaryproject/notation-core-go/x509"
	"golang.org/x/crypto/ocsp"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

// TestOpenSSLCAOptions checks RSA-3072 keys, NoOCSP, DeadFirstCDP and NoCRL.
func TestOpenSSLCAOptions(t *testing.T) {
	t.Run("RSA NoOCSP DeadFirstCDP", func(t *testing.T) {
		start := time.Now()
		c := e2e.NewOpenSSLCAT(t, e2e.CAOptions{RSA: true, NoOCSP: true, DeadFirstCDP: true})
		t.Logf("NewOpenSSLCA (RSA-3072): %v", time.Since(start))
		start = time.Now()
		leafPath, _, err := c.IssueLeaf("rsa", "/C=US/ST=WA/O=Acme/CN=rsa signer")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("IssueLeaf (RSA-3072): %v", time.Since(start))
		leaf := osslMustCert(t, leafPath)
		inter := osslMustCert(t, c.IntermediatePath())
		if k, ok := leaf.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 3072 {
			t.Errorf("leaf key %T, want RSA-3072", leaf.PublicKey)
		}
		now := time.Now()
		if err := corex509.ValidateCodeSigningCertChain(osslMustChain(t, c.ChainPath("rsa")), &now); err != nil {
			t.Fatal(err)
		}
		if len(leaf.OCSPServer) != 0 || len(inter.OCSPServer) != 0 {
			t.Errorf("NoOCSP: OCSP servers %v %v", leaf.OCSPServer, inter.OCSPServer)
		}
		want := []string{"http://127.0.0.1:1/intermediate.crl", c.CRLURL()}
		if got := leaf.CRLDistributionPoints; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("CDP %v, want %v", got, want)
		}
		if n := osslCountDistributionPoints(t, leaf); n != 2 {
			t.Errorf("%d DistributionPoints, want 2", n)
		}
		if _, _, err := osslGet(want[0], time.Second); !osslRefused(err) {
			t.Errorf("dead CDP: %v", err)
		}
		if err := c.Revoke(leafPath, "unspecified"); err != nil {
			t.Fatal(err)
		}
		if err := c.PublishCRL(); err != nil {
			t.Fatal(err)
		}
		crl := osslFetchCRL(t, c.CRLURL(), inter)
		if osslCrlEntry(crl, leaf.SerialNumber) == nil {
			t.Error("revoked RSA leaf not in the CRL")
		}
		if err := c.PublishDeltaCRL(); err == nil {
			t.Error("PublishDeltaCRL without Delta: no error")
		}
		c.SetCRLMode(e2e.CRLModeWrongKey)
		_, body, err := osslGet(c.CRLURL(), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if crl, err := x509.ParseRevocationList(body); err != nil || crl.CheckSignatureFrom(inter) == nil {
			t.Errorf("RSA wrongkey: %v", err)
		}
	})
	t.Run("NoCRL", func(t *testing.T) {
		c := e2e.NewOpenSSLCAT(t, e2e.CAOptions{NoCRL: true})
		leafPath, _, err := c.IssueLeaf("nocrl", "")
		if err != nil {
			t.Fatal(err)
		}
		leaf := osslMustCert(t, leafPath)
		if len(leaf.CRLDistributionPoints) != 0 || len(leaf.OCSPServer) != 1 {
			t.Errorf("NoCRL: CDP %v OCSP %v", leaf.CRLDistributionPoints, leaf.OCSPServer)
		}
		if r := osslOcspStatus(t, c.OCSPURL(), leaf, osslMustCert(t, c.IntermediatePath()), false); r.Status != ocsp.Good {
			t.Errorf("status %d", r.Status)
		}
	})
}

// TestOpenSSLCACoreGo runs notation-core-go's revocation validator (the
// library notation v1.3.2 uses) against the peers: OCSP decides when up,
// CRL when OCSP is down, unknown when both are down.
func TestOpenSSLCACoreGo(t *testing.T) {
	c := e2e.NewOpenSSLCAT(t, e2e.CAOptions{})
	_, _, err := c.IssueLeaf("good", "")
	if err != nil {
		t.Fatal(err)
	}
	badPath, _, err := c.IssueLeaf("bad", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(badPath, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishCRL(); err != nil {
		t.Fatal(err)
	}
	v, err := revocation.NewWithOptions(revocation.Options{CertChainPurpose: purpose.CodeSigning})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, want result.Result, wantMethod result.RevocationMethod) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		start := time.Now()
		res, err := v.ValidateContext(ctx, revocation.ValidateContextOptions{CertChain: osslMustChain(t, c.ChainPath(name))})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Result != want || res[0].RevocationMethod != wantMethod {
			var errs []string
			for _, s := range res[0].ServerResults {
				errs = append(errs, s.Server+": "+osslErrString(s.Error))
			}
			t.Errorf("%s: result %v method %v, want %v %v; %s", name, res[0].Result, res[0].RevocationMethod, want, wantMethod, strings.Join(errs, "; "))
		}
		if res[2].Result != result.ResultNonRevokable {
			t.Errorf("%s: root result %v", name, res[2].Result)
		}
		t.Logf("%s: %v via %v in %v", name, res[0].Result, res[0].RevocationMethod, time.Since(start))
	}
	check("good", result.ResultOK, result.RevocationMethodOCSP)
	check("bad", result.ResultRevoked, result.RevocationMethodOCSP)
	if err := c.SetOCSPDown(true); err != nil {
		t.Fatal(err)
	}
	check("good", result.ResultOK, result.RevocationMethodOCSPFallbackCRL)
	check("bad", result.ResultRevoked, result.RevocationMethodOCSPFallbackCRL)
	if err := c.SetOCSPDown(false); err != nil {
		t.Fatal(err)
	}
	if err := c.SetOCSPMode(e2e.OCSPModeNoNextUpdate); err != nil {
		t.Fatal(err)
	}
	check("good", result.ResultOK, result.RevocationMethodOCSPFallbackCRL) // "expired OCSP response" -> CRL
	if err := c.SetCRLMode(e2e.CRLModeExpired); err != nil {
		t.Fatal(err)
	}
	check("good", result.ResultUnknown, result.RevocationMethodOCSPFallbackCRL)
	if err := c.SetCRLMode(e2e.CRLModeWrongKey); err != nil {
		t.Fatal(err)
	}
	check("good", result.ResultUnknown, result.RevocationMethodOCSPFallbackCRL)
	if err := c.ServeErr(); err != nil {
		t.Errorf("front errors: %v", err)
	}
}

// TestOpenSSLCAPartitions checks CAOptions.Partitions: each partition's CRL
// carries a critical issuingDistributionPoint naming its own URL and lists
// only its own revoked leaves, and CRLModeOtherPartition serves the next
// partition's CRL at a partition's URL.
func TestOpenSSLCAPartitions(t *testing.T) {
	if _, err := e2e.NewOpenSSLCA(context.Background(), t.TempDir(), e2e.CAOptions{Partitions: 1}); err == nil || !strings.Contains(err.Error(), "Partitions is 1") {
		t.Errorf("Partitions 1: %v", err)
	}
	c := e2e.NewOpenSSLCAT(t, e2e.CAOptions{Partitions: 2})
	inter := osslMustCert(t, c.IntermediatePath())
	p1Path, _, err := c.IssueLeafIn("in-p1", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	p2Path, _, err := c.IssueLeafIn("in-p2", "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.IssueLeafIn("in-p3", "", 3); err == nil {
		t.Error("IssueLeafIn partition 3 of 2: no error")
	}
	p1, p2 := osslMustCert(t, p1Path), osslMustCert(t, p2Path)
	if got := p1.CRLDistributionPoints; len(got) != 1 || got[0] != c.PartitionCRLURL(1) {
		t.Errorf("partition 1 leaf CDP %v, want %s", got, c.PartitionCRLURL(1))
	}
	if len(p1.OCSPServer) != 1 {
		t.Errorf("partition leaf OCSP %v", p1.OCSPServer)
	}
	now := time.Now()
	if err := corex509.ValidateCodeSigningCertChain(osslMustChain(t, c.ChainPath("in-p1")), &now); err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(p1Path, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishCRL(); err != nil {
		t.Fatal(err)
	}
	for p, revoked := range map[int]bool{1: true, 2: false} {
		crl := osslFetchCRL(t, c.PartitionCRLURL(p), inter)
		if got := osslIDPURIs(t, crl); len(got) != 1 || got[0] != c.PartitionCRLURL(p) {
			t.Errorf("partition %d IDP %v, want [%s]", p, got, c.PartitionCRLURL(p))
		}
		if (osslCrlEntry(crl, p1.SerialNumber) != nil) != revoked || osslCrlEntry(crl, p2.SerialNumber) != nil {
			t.Errorf("partition %d: entries %v", p, crl.RevokedCertificateEntries)
		}
	}
	full := osslFetchCRL(t, c.CRLURL(), inter)
	if osslCrlEntry(full, p1.SerialNumber) == nil || osslIDPURIs(t, full) != nil {
		t.Error("the complete CRL lacks the revoked leaf or has an IDP")
	}
	if err := c.SetCRLModeFor(e2e.CANameIntermediate, e2e.CRLModeOtherPartition); err != nil {
		t.Fatal(err)
	}
	swapped := osslFetchCRL(t, c.PartitionCRLURL(1), inter)
	if got := osslIDPURIs(t, swapped); len(got) != 1 || got[0] != c.PartitionCRLURL(2) || osslCrlEntry(swapped, p1.SerialNumber) != nil {
		t.Errorf("otherpartition at p1: IDP %v, entries %v", got, swapped.RevokedCertificateEntries)
	}
	if code, _, err := osslGet(c.PartitionCRLURL(3), time.Second); err != nil || code != 404 {
		t.Errorf("partition 3 URL: %d %v", code, err)
	}
}

// osslIDPURIs returns the fullName URIs of a CRL's critical issuing
// distribution point, nil without one.
func osslIDPURIs(t testing.TB, crl *x509.RevocationList) []string {
	t.Helper()
	for _, e := range crl.Extensions {
		if !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 28}) {
			continue
		}
		if !e.Critical {
			t.Error("issuingDistributionPoint is not critical")
		}
		var idp struct {
			DP asn1.RawValue `asn1:"optional,tag:0"` // distributionPoint [0]
		}
		if _, err := asn1.Unmarshal(e.Value, &idp); err != nil {
			t.Fatal(err)
		}
		// It holds the DistributionPointName CHOICE: fullName [0] GeneralNames.
		var name asn1.RawValue
		if _, err := asn1.Unmarshal(idp.DP.Bytes, &name); err != nil || name.Class != asn1.ClassContextSpecific || name.Tag != 0 {
			t.Fatalf("IDP distribution point is not a fullName: %x (%v)", idp.DP.FullBytes, err)
		}
		var uris []string
		for rest := name.Bytes; len(rest) > 0; {
			var n asn1.RawValue
			var err error
			if rest, err = asn1.Unmarshal(rest, &n); err != nil {
				t.Fatalf("IDP general name: %v", err)
			}
			if n.Class == asn1.ClassContextSpecific && n.Tag == 6 {
				uris = append(uris, string(n.Bytes))
			}
		}
		return uris
	}
	return nil
}
