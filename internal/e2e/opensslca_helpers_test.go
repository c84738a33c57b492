package e2e_test

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	corex509 "github.com/notaryproject/notation-core-go/x509"
	"golang.org/x/crypto/ocsp"
)

var (
	osslOidInvalidityDate      = asn1.ObjectIdentifier{2, 5, 29, 24}
	osslOidDeltaCRLIndicator   = asn1.ObjectIdentifier{2, 5, 29, 27}
	osslOidFreshestCRL         = asn1.ObjectIdentifier{2, 5, 29, 46}
	osslOidExtKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 37}
	osslOidCRLDistributionPts  = asn1.ObjectIdentifier{2, 5, 29, 31}
	osslReasonKeyCompromise    = 1
	osslReasonSuperseded       = 4
	osslReasonCertificateHold  = 6
	osslReasonCessationOfOpera = 5
)

func osslMustCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func osslMustChain(t testing.TB, path string) []*x509.Certificate {
	t.Helper()
	certs, err := corex509.ReadCertificateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

// osslGet fetches u; err is the transport error (refused, timeout).
func osslGet(u string, timeout time.Duration) (int, []byte, error) {
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get(u)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 34<<20))
	return resp.StatusCode, body, err
}

func osslFetchCRL(t testing.TB, u string, issuer *x509.Certificate) *x509.RevocationList {
	t.Helper()
	code, body, err := osslGet(u, 5*time.Second)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", u, code, err)
	}
	crl, err := x509.ParseRevocationList(body)
	if err != nil {
		t.Fatalf("parsing CRL from %s: %v", u, err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("CRL from %s: %v", u, err)
	}
	if !crl.NextUpdate.After(time.Now()) {
		t.Fatalf("CRL from %s: nextUpdate %v is not in the future", u, crl.NextUpdate)
	}
	return crl
}

func osslCrlEntry(crl *x509.RevocationList, serial *big.Int) *x509.RevocationListEntry {
	for i := range crl.RevokedCertificateEntries {
		if crl.RevokedCertificateEntries[i].SerialNumber.Cmp(serial) == 0 {
			return &crl.RevokedCertificateEntries[i]
		}
	}
	return nil
}

// osslQueryOCSP sends an OCSP request for cert the way notation-core-go does
// (SHA-1 CertID, no nonce; GET as url.JoinPath(server, QueryEscape(base64))).
func osslQueryOCSP(server string, cert, issuer *x509.Certificate, post bool, timeout time.Duration) (*http.Response, []byte, error) {
	req, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		return nil, nil, err
	}
	client := &http.Client{Timeout: timeout}
	var resp *http.Response
	if post {
		resp, err = client.Post(server, "application/ocsp-request", bytes.NewReader(req))
	} else {
		var u string
		u, err = url.JoinPath(server, url.QueryEscape(base64.StdEncoding.EncodeToString(req)))
		if err != nil {
			return nil, nil, err
		}
		resp, err = client.Get(u)
	}
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, body, err
}

func osslOcspStatus(t testing.TB, server string, cert, issuer *x509.Certificate, post bool) *ocsp.Response {
	t.Helper()
	resp, body, err := osslQueryOCSP(server, cert, issuer, post, 5*time.Second)
	if err != nil {
		t.Fatalf("OCSP (post=%v): %v", post, err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/ocsp-response" {
		t.Fatalf("OCSP (post=%v): HTTP %d %q: %s", post, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	r, err := ocsp.ParseResponseForCert(body, cert, issuer)
	if err != nil {
		t.Fatalf("OCSP (post=%v): %v", post, err)
	}
	return r
}

func osslRefused(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection refused")
}

func osslTimedOut(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

func osslHasExt(exts []pkix.Extension, id asn1.ObjectIdentifier) bool {
	for _, e := range exts {
		if e.Id.Equal(id) {
			return true
		}
	}
	return false
}

func osslInvalidityOf(exts []pkix.Extension) (time.Time, bool) {
	for _, e := range exts {
		if e.Id.Equal(osslOidInvalidityDate) {
			var t time.Time
			if _, err := asn1.UnmarshalWithParams(e.Value, &t, "generalized"); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

func osslCheckDelta(t testing.TB, d, base *x509.RevocationList) {
	t.Helper()
	var indicator *big.Int
	for _, e := range d.Extensions {
		if e.Id.Equal(osslOidDeltaCRLIndicator) {
			if !e.Critical {
				t.Error("delta CRL indicator not critical")
			}
			if _, err := asn1.Unmarshal(e.Value, &indicator); err != nil {
				t.Fatal(err)
			}
		}
	}
	if indicator == nil || indicator.Cmp(base.Number) != 0 {
		t.Errorf("delta CRL indicator %v, want the base number %v", indicator, base.Number)
	}
	if d.Number.Cmp(base.Number) <= 0 {
		t.Errorf("delta number %v not above the base's %v", d.Number, base.Number)
	}
}

func osslCountDistributionPoints(t testing.TB, cert *x509.Certificate) int {
	t.Helper()
	for _, e := range cert.Extensions {
		if e.Id.Equal(osslOidCRLDistributionPts) {
			var dps []asn1.RawValue
			if _, err := asn1.Unmarshal(e.Value, &dps); err != nil {
				t.Fatal(err)
			}
			return len(dps)
		}
	}
	return 0
}

func osslErrString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
