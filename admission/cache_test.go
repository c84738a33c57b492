package admission

import (
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// TestCacheHitNoRegistry: a digest key whose verdict is cached needs no
// registry request at all; a tag key needs exactly its resolution.
func TestCacheHitNoRegistry(t *testing.T) {
	w := newWorld(t)
	good := w.signed(t, "app", "v1", "good")
	_, hs := w.server(t, nil)
	if _, resp := post(t, hs.URL, good); resp.Response.Items[0].Error != "" {
		t.Fatalf("first: %+v", resp)
	}
	before := len(w.reg.Requests())
	if before == 0 {
		t.Fatal("the first verification made no registry request")
	}
	if _, resp := post(t, hs.URL, good); resp.Response.Items[0].Error != "" {
		t.Fatalf("second: %+v", resp)
	}
	if after := w.reg.Requests(); len(after) != before {
		t.Errorf("a cached digest key made registry requests: %q", after[before:])
	}
	if _, resp := post(t, hs.URL, w.reg.Ref("app:v1")); resp.Response.Items[0].Error != "" {
		t.Fatalf("tag: %+v", resp)
	}
	if after := w.reg.Requests(); len(after) != before+1 || after[before] != "HEAD /v2/app/manifests/v1" {
		t.Errorf("a tag whose digest's verdict is cached: requests %q; want only its resolution", after[before:])
	}
	for sample, want := range map[string]string{
		`trustpolicy_serve_verdict_cache_total{result="hit"}`:   "2",
		`trustpolicy_serve_verdict_cache_total{result="miss"}`:  "1",
		`trustpolicy_serve_registry_cache_total{result="hit"}`:  "1",
		`trustpolicy_serve_registry_cache_total{result="miss"}`: "2",
		`trustpolicy_serve_keys_total{verdict="verified"}`:      "3",
		`trustpolicy_serve_requests_total{code="200"}`:          "3",
	} {
		if got := metricValue(t, hs.URL, sample); got != want {
			t.Errorf("%s = %s; want %s", sample, got, want)
		}
	}
}

// TestRevocationFlip: a revocation is seen once the CRL answer the verdict
// used reaches its nextUpdate, not before (the cache bound), with the
// clock injected.
func TestRevocationFlip(t *testing.T) {
	w := newWorld(t)
	good := w.signed(t, "app", "v1", "good")
	next := testNow.Add(10 * time.Minute)
	w.rev.set(revocation.StatusOK, next)
	_, hs := w.server(t, func(c *Config) { c.CacheTTL = time.Hour })
	if _, resp := post(t, hs.URL, good); resp.Response.Items[0].Error != "" {
		t.Fatalf("before the revocation: %+v", resp)
	}
	// The CA revokes the leaf; its next CRL says so.
	w.rev.set(revocation.StatusRevoked, next.Add(time.Hour))
	w.clock.Set(next.Add(-time.Second))
	if _, resp := post(t, hs.URL, good); resp.Response.Items[0].Error != "" || w.rev.checks() != 1 {
		t.Fatalf("within the CRL's validity the cached verdict stands: %+v, %d revocation checks", resp, w.rev.checks())
	}
	w.clock.Set(next)
	_, resp := post(t, hs.URL, good)
	it := resp.Response.Items[0]
	if v := value(t, it); v.Verdict != "failed" || !strings.Contains(it.Error, "revoked") || w.rev.checks() != 2 {
		t.Fatalf("at the CRL's nextUpdate: verdict %s error %q, %d revocation checks; want failed, revoked", v.Verdict, it.Error, w.rev.checks())
	}
	if got := metricValue(t, hs.URL, `trustpolicy_serve_revocation_cache_total{result="miss"}`); got != "4" {
		t.Errorf("revocation misses %s; want 4 (leaf and intermediate, twice)", got)
	}
}

// TestVerdictExpiresWithCertificate: a verdict is not reused past the
// signing certificate's expiry.
func TestVerdictExpiresWithCertificate(t *testing.T) {
	w := newWorld(t)
	good := w.signed(t, "app", "v1", "good")
	notAfter := w.signer.Chain[0].NotAfter
	w.clock.Set(notAfter.Add(-time.Minute))
	_, hs := w.server(t, nil)
	if _, resp := post(t, hs.URL, good); resp.Response.Items[0].Error != "" {
		t.Fatalf("a minute before expiry: %+v", resp)
	}
	w.clock.Set(notAfter.Add(time.Second))
	if _, resp := post(t, hs.URL, good); !strings.Contains(resp.Response.Items[0].Error, "expired") {
		t.Fatalf("after expiry: %+v", resp.Response.Items[0])
	}
}

// TestExpiry: the earliest bound wins.
func TestExpiry(t *testing.T) {
	const maxTTL, failTTL = 5 * time.Minute, 30 * time.Second
	at := func(d time.Duration) time.Time { return testNow.Add(d) }
	sig := func(v trustpolicy.Verdict, notAfter, sigExpiry, next time.Time, status revocation.Status) *trustpolicy.SignatureReport {
		return &trustpolicy.SignatureReport{Result: &trustpolicy.Result{
			Verdict:   v,
			Chain:     []trustpolicy.CertInfo{{NotAfter: notAfter}},
			Signature: &trustpolicy.SignatureInfo{Expiry: sigExpiry},
			Checks: []trustpolicy.Check{{Type: trustpolicy.TypeRevocation, Revocation: []trustpolicy.CertRevocation{
				{Result: revocation.Result{Status: status, NextUpdate: next}}}}},
		}}
	}
	far := at(24 * time.Hour)
	ok, unknown := revocation.StatusOK, revocation.StatusUnknown
	verified, failed := trustpolicy.VerdictVerified, trustpolicy.VerdictFailed
	cases := []struct {
		name    string
		verdict trustpolicy.Verdict
		sigs    []*trustpolicy.SignatureReport
		want    time.Time
	}{
		{"no evidence", verified, []*trustpolicy.SignatureReport{sig(verified, far, time.Time{}, time.Time{}, ok)}, at(maxTTL)},
		{"certificate expiry", verified, []*trustpolicy.SignatureReport{sig(verified, at(time.Minute), time.Time{}, far, ok)}, at(time.Minute)},
		{"signature expiry", verified, []*trustpolicy.SignatureReport{sig(verified, far, at(2*time.Minute), far, ok)}, at(2 * time.Minute)},
		{"CRL nextUpdate", verified, []*trustpolicy.SignatureReport{sig(verified, far, time.Time{}, at(3*time.Minute), ok)}, at(3 * time.Minute)},
		{"unknown revocation", verified, []*trustpolicy.SignatureReport{sig(verified, far, time.Time{}, time.Time{}, unknown)}, at(failTTL)},
		{"failed", failed, []*trustpolicy.SignatureReport{sig(failed, far, time.Time{}, far, ok)}, at(failTTL)},
		{"failed, expiring sooner", failed, []*trustpolicy.SignatureReport{sig(failed, at(10*time.Second), time.Time{}, far, ok)}, at(10 * time.Second)},
		{"no signature", failed, nil, at(failTTL)},
		{"only the verifying signature decides", verified, []*trustpolicy.SignatureReport{
			sig(failed, at(time.Second), time.Time{}, far, ok), sig(verified, far, time.Time{}, far, ok)}, at(maxTTL)},
	}
	for _, c := range cases {
		r := &trustpolicy.Report{Verdict: c.verdict, Signatures: c.sigs}
		if got := expiry(r, testNow, maxTTL, failTTL); !got.Equal(c.want) {
			t.Errorf("%s: expires %s; want %s", c.name, got, c.want)
		}
	}
}
