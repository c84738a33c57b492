package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// offline covers the air-gapped workflow on the shared world: crl fetch on
// a connected machine, verify --offline with every server down, crl import
// of CRL files carried in by hand, and what a missing or stale cache says.
func (w *revWorld) offline(t *testing.T, good revLeaf, goodRef, revokedRef string) {
	ca := w.ca
	w.policy(t, "strict", "ca:ossl", "ca:ossl2")
	fetched := t.TempDir()
	carried := t.TempDir()
	now := time.Now()

	// The CRL fetches seen by the front, to prove the network stays unused.
	fetches := func() int { return ca.CRLFetches(e2e.CANameIntermediate) + ca.CRLFetches(e2e.CANameRoot) }

	t.Run("crl fetch", func(t *testing.T) {
		r := w.run(t, now, "crl", "fetch", "--crl-cache", fetched, "--out", carried, "--output", "json", good.chain)
		if r.code != exitVerified {
			t.Fatalf("crl fetch: exit %d: %s%s", r.code, r.out, r.errOut)
		}
		var rep crlReport
		if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
			t.Fatal(err)
		}
		// The leaf's CRL (intermediate), its delta, the intermediate's CRL
		// (root) and its delta.
		urls := map[string]bool{}
		for _, c := range rep.CRLs {
			urls[c.URL] = true
			if c.Expired || c.Entries < 0 || c.Source != "network "+c.URL {
				t.Errorf("fetched %+v", c)
			}
		}
		for _, u := range []string{ca.CRLURLOf(e2e.CANameIntermediate), ca.DeltaCRLURLOf(e2e.CANameIntermediate), ca.CRLURLOf(e2e.CANameRoot), ca.DeltaCRLURLOf(e2e.CANameRoot)} {
			if !urls[u] {
				t.Errorf("crl fetch did not fetch %s: %v", u, urls)
			}
		}
		if len(rep.Saved) != len(rep.CRLs) {
			t.Errorf("--out saved %v for %d CRLs", rep.Saved, len(rep.CRLs))
		}
		r = w.run(t, now, "crl", "list", "--crl-cache", fetched)
		if r.code != exitVerified || !strings.Contains(r.out, "CN=E2E OpenSSL Intermediate CA") || !strings.Contains(r.out, "network "+ca.CRLURL()) || !strings.Contains(r.out, "delta of") {
			t.Errorf("crl list: exit %d:\n%s%s", r.code, r.out, r.errOut)
		}
		r = w.run(t, now, "crl", "list", "--crl-cache", fetched, "--output", "json")
		var list crlReport
		if err := json.Unmarshal([]byte(r.out), &list); err != nil || len(list.CRLs) != len(rep.CRLs) {
			t.Errorf("crl list json: %v: %s", err, r.out)
		}
		for _, c := range list.CRLs {
			if c.Issuer == "" || c.Number == nil || c.ThisUpdate.IsZero() || c.NextUpdate.IsZero() || c.Source == "" {
				t.Errorf("crl list entry lacks a field: %+v", c)
			}
		}
	})

	t.Run("verify --offline with the network down", func(t *testing.T) {
		must(t, ca.SetOCSPDown(true))
		must(t, ca.SetCRLDown(true))
		before := fetches()
		r := w.verify(t, now, []string{goodRef}, "--offline", "--crl-cache", fetched)
		if r.code != exitVerified {
			t.Fatalf("offline good: exit %d: %s%s", r.code, r.rep.Error, fmtCerts(revCheckOrNil(r)))
		}
		leaf := revCheck(t, r).Revocation[0]
		if leaf.Status != revocation.StatusOK || !leaf.FromCache || leaf.Method != revocation.MethodOCSPFallbackCRL || !strings.Contains(leaf.Detail, "offline") {
			t.Errorf("offline leaf evidence %+v", leaf)
		}
		r = w.verify(t, now, []string{revokedRef}, "--offline", "--crl-cache", fetched)
		if r.code != exitFailed || revCheck(t, r).Revocation[0].Status != revocation.StatusRevoked {
			t.Errorf("offline revoked: exit %d%s", r.code, fmtCerts(revCheckOrNil(r)))
		}
		// explain shows the evidence: method, source cache, URL, times.
		e := w.run(t, now, "explain", "--plain-http", "--offline", "--crl-cache", fetched, revokedRef)
		for _, s := range []string{"Revocation (signing chain):", "revoked", "keyCompromise", "ocspFallbackCRL", "cache " + ca.CRLURL(), now.UTC().Format("2006-01-02")} {
			if !strings.Contains(e.out, s) {
				t.Errorf("explain output lacks %q:\n%s", s, e.out)
			}
		}
		if got := fetches(); got != before {
			t.Errorf("the CRL front saw %d requests during offline verification", got-before)
		}
	})

	t.Run("crl import of hand-carried CRLs", func(t *testing.T) {
		airgap := t.TempDir()
		files, err := filepath.Glob(filepath.Join(carried, "*.crl"))
		if err != nil || len(files) != 4 {
			t.Fatalf("carried files %v (%v), want 4", files, err)
		}
		// Without the intermediate's certificate, its CRLs have no anchored
		// issuer: refused, nothing cached.
		r := w.run(t, now, append([]string{"crl", "import", "--crl-cache", airgap}, files...)...)
		if r.code != exitFailed || !strings.Contains(r.errOut, "issuer") {
			t.Errorf("import without --issuer: exit %d: %s%s", r.code, r.out, r.errOut)
		}
		r = w.run(t, now, append([]string{"crl", "import", "--crl-cache", airgap, "--issuer", ca.IntermediatePath(), "--output", "json"}, files...)...)
		if r.code != exitVerified {
			t.Fatalf("import: exit %d: %s%s", r.code, r.out, r.errOut)
		}
		var rep crlReport
		if err := json.Unmarshal([]byte(r.out), &rep); err != nil || len(rep.CRLs) != 4 {
			t.Fatalf("import report %v: %s", err, r.out)
		}
		for _, c := range rep.CRLs {
			if !strings.HasPrefix(c.Source, "import ") {
				t.Errorf("source %q", c.Source)
			}
		}
		r = w.verify(t, now, []string{goodRef}, "--offline", "--crl-cache", airgap)
		if r.code != exitVerified {
			t.Errorf("offline with imported CRLs: exit %d: %s%s", r.code, r.rep.Error, fmtCerts(revCheckOrNil(r)))
		}
		r = w.verify(t, now, []string{revokedRef}, "--offline", "--crl-cache", airgap)
		if r.code != exitFailed || revCheck(t, r).Revocation[0].Status != revocation.StatusRevoked {
			t.Errorf("offline revoked with imported CRLs: exit %d%s", r.code, fmtCerts(revCheckOrNil(r)))
		}

		// A CRL signed by another key never enters the cache.
		must(t, ca.SetCRLDown(false))
		must(t, ca.SetCRLMode(e2e.CRLModeWrongKey))
		forged := filepath.Join(t.TempDir(), "forged.crl")
		download(t, ca.CRLURL(), forged)
		r = w.run(t, now, "crl", "import", "--crl-cache", airgap, "--issuer", ca.IntermediatePath(), forged)
		if r.code != exitFailed || !strings.Contains(r.errOut, "not signed by that CA's key") {
			t.Errorf("import of a forged CRL: exit %d: %s%s", r.code, r.out, r.errOut)
		}
		r = w.run(t, now, "crl", "list", "--crl-cache", airgap, "--output", "json")
		var list crlReport
		if err := json.Unmarshal([]byte(r.out), &list); err != nil || len(list.CRLs) != 4 {
			t.Errorf("after the forged import the cache lists %d CRLs (%v), want 4", len(list.CRLs), err)
		}
		// Unreadable input is bad input.
		if r := w.run(t, now, "crl", "import", "--crl-cache", airgap, filepath.Join(airgap, "missing.crl")); r.code != exitUsage {
			t.Errorf("import of a missing file: exit %d", r.code)
		}
	})

	t.Run("missing or stale cache names the CRL to import", func(t *testing.T) {
		must(t, ca.SetOCSPDown(true))
		must(t, ca.SetCRLDown(true))
		empty := t.TempDir()
		r := w.verify(t, now, []string{goodRef}, "--offline", "--crl-cache", empty)
		w.wantImportHint(t, r, "no cached CRL for "+ca.CRLURL())
		// A day and an hour later the fetched CRLs (24 h) are stale.
		later := now.Add(25 * time.Hour)
		r = w.verify(t, later, []string{goodRef}, "--offline", "--crl-cache", fetched)
		w.wantImportHint(t, r, "expired at")
		r = w.run(t, later, "crl", "list", "--crl-cache", fetched)
		if !strings.Contains(r.out, "EXPIRED") {
			t.Errorf("crl list does not mark stale CRLs:\n%s", r.out)
		}
	})
}

func (w *revWorld) wantImportHint(t *testing.T, r revRun, want string) {
	t.Helper()
	if r.code != exitFailed {
		t.Fatalf("exit %d, want 1 (revocation unknown under strict)", r.code)
	}
	leaf := revCheck(t, r).Revocation[0]
	if leaf.Status != revocation.StatusUnknown || !strings.Contains(leaf.Detail, want) ||
		!strings.Contains(leaf.Detail, "trustpolicy crl fetch --out ") || !strings.Contains(leaf.Detail, "trustpolicy crl import") {
		t.Errorf("leaf %s: detail %q, want %q and the crl fetch/import commands", leaf.Status, leaf.Detail, want)
	}
	if fix := lastResult(t, r).Check(trustpolicy.TypeRevocation).Fix; !strings.Contains(fix, "import") {
		t.Errorf("fix %q does not mention importing", fix)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// download saves the body at url (a loopback test server).
func download(t *testing.T, url, path string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
