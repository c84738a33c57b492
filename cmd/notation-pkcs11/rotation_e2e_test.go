package main

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testca"
	"github.com/notation-pkcs11/notation-pkcs11/plugin"
)

// crlServer serves the test CA's current CRL on 127.0.0.1.
type crlServer struct {
	mu  sync.Mutex
	der []byte
	srv *httptest.Server
}

func startCRLServer(t *testing.T) *crlServer {
	t.Helper()
	s := &crlServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		der := s.der
		s.mu.Unlock()
		if r.URL.Path != "/ca.crl" || der == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		_, _ = w.Write(der)
	}))
	t.Cleanup(s.srv.Close)
	if !strings.HasPrefix(s.srv.URL, "http://127.0.0.1:") {
		t.Fatalf("CRL server is not on loopback: %s", s.srv.URL)
	}
	return s
}

func (s *crlServer) publish(t *testing.T, ca *testca.CA, number int64, revoked ...*x509.Certificate) {
	t.Helper()
	now := time.Now().Add(-time.Minute)
	der, err := ca.CRL(number, revoked, now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.der = der
	s.mu.Unlock()
}

// TestE2EKeyRotation is the rotation runbook: a second key and certificate
// on the same token, both verifying under one trust policy during the
// overlap; then the old certificate is revoked on the CRL its certificate
// names, and its signatures fail notation verify (strict) while the new
// key's pass.
func TestE2EKeyRotation(t *testing.T) {
	w := newWF(t)
	crl := startCRLServer(t)
	crl.publish(t, w.ca, 1)
	profile := testca.Profile{CRLDistributionPoints: []string{crl.srv.URL + "/ca.crl"}}

	oldURI := w.generate(t, "ec-256", "release-2026")
	oldChain, oldLeaf := w.issue(t, w.request(t, oldURI, wfSubject), "old", profile)
	w.mustNP(t, "cert", "import", "--key", oldURI, oldChain)
	rep, r := w.doctor(t, oldURI)
	if !rep.OK {
		t.Fatalf("doctor, old key: %s", r)
	}
	// One policy for the whole rotation: the subject stays the same.
	if err := w.notation.WriteTrustPolicy(rep.TrustPolicy); err != nil {
		t.Fatal(err)
	}
	oldRef, _ := w.push(t, "before")
	w.must(t, w.notation, "sign", "--insecure-registry", "--plugin", "pkcs11", "--id", oldURI, oldRef)
	w.must(t, w.notation, "verify", "--insecure-registry", oldRef)

	// Overlap: the new key beside the old one, both verify.
	newURI := w.generate(t, "ec-256", "release-2027")
	newChain, _ := w.issue(t, w.request(t, newURI, wfSubject), "new", profile)
	if r := w.mustNP(t, "cert", "import", "--key", newURI, newChain); strings.Count(r.stdout, "already on the token") != 2 || strings.Count(r.stdout, ": imported") != 1 {
		t.Fatalf("the CA certificates should be on the token already, only the new leaf imported:\n%s", r)
	}
	if rep2, r := w.doctor(t, newURI); !rep2.OK || rep2.Identity != rep.Identity {
		t.Fatalf("doctor, new key (identity must stay %q): %s", rep.Identity, r)
	}
	newRef, _ := w.push(t, "after")
	w.must(t, w.notation, "sign", "--insecure-registry", "--plugin", "pkcs11", "--id", newURI, newRef)
	w.must(t, w.notation, "verify", "--insecure-registry", newRef)
	w.must(t, w.notation, "verify", "--insecure-registry", oldRef)

	// Revoke the old certificate. notation caches CRLs until nextUpdate:
	// drop its cache as a verifier picking up the new CRL would.
	crl.publish(t, w.ca, 2, oldLeaf)
	if err := os.RemoveAll(filepath.Join(filepath.Dir(w.notation.ConfigDir()), "cache", "crl")); err != nil {
		t.Fatal(err)
	}
	if v := w.notationRun(t, "verify", "-v", "--insecure-registry", oldRef); v.code == 0 || !strings.Contains(v.stdout+v.stderr, "revoked") {
		t.Fatalf("old-key signature still verifies after revocation: %s", v)
	}
	w.must(t, w.notation, "verify", "--insecure-registry", newRef)
	// A signature made with the old key after revocation fails as well.
	lateRef, _ := w.push(t, "late")
	w.must(t, w.notation, "sign", "--insecure-registry", "--plugin", "pkcs11", "--id", oldURI, lateRef)
	if v := w.notationRun(t, "verify", "--insecure-registry", lateRef); v.code == 0 {
		t.Fatalf("late old-key signature verifies: %s", v)
	}
	// doctor names the revocation.
	repOld, r := w.doctor(t, oldURI)
	if repOld.OK || repOld.Failed != plugin.CheckRevocation || r.code != doctorExit(plugin.CheckRevocation) ||
		!strings.Contains(repOld.Checks[len(repOld.Checks)-1].Detail, "revoked") {
		t.Fatalf("doctor on the revoked key: %s", r)
	}
	if repNew, r := w.doctor(t, newURI); !repNew.OK || !strings.Contains(checkDetail(repNew, plugin.CheckRevocation), "good by crl") {
		t.Fatalf("doctor on the new key: %s", r)
	}
	// An unreachable distribution point is a broken link too.
	crl.srv.Close()
	if rep, r := w.doctor(t, newURI); rep.OK || rep.Failed != plugin.CheckRevocation {
		t.Fatalf("doctor with the CRL server down: %s", r)
	}
}

func checkDetail(rep *plugin.DoctorReport, name string) string {
	for _, c := range rep.Checks {
		if c.Name == name {
			return c.Detail
		}
	}
	return ""
}
