package registry_test

import (
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
)

// TestReferrersCapabilityRemembered: the first signature listing on a
// registry host learns whether it has the referrers API; later listings on
// that host, in any repository and through clients derived from the same
// one, make no probe: a host without the API is asked for the referrers
// tag schema at once, one with it never falls back.
func TestReferrersCapabilityRemembered(t *testing.T) {
	for _, api := range []bool{false, true} {
		f := newFake(t)
		if api {
			f.UseReferrersAPI()
		}
		a, b := f.addArtifact("one", "v1"), f.addArtifact("two", "v1")
		f.addSignature("one", a, mtCOSE, []byte("a"))
		f.addSignature("two", b, mtCOSE, []byte("b"))
		c := newClient(t, registry.Options{})
		for i, derived := range []*registry.Client{c, c.WithCache(), mustWithMax(t, c, 5)} {
			repo := []string{"one", "two", "one"}[i]
			before := len(f.requestLog())
			sigs, err := collect(t, derived, resolve(t, derived, f.ref(repo+":v1")))
			if err != nil || len(sigs) != 1 || sigs[0].Err != nil {
				t.Fatalf("api %v, listing %d: %+v, %v", api, i, sigs, err)
			}
			probed, fellBack := false, false
			for _, q := range f.requestLog()[before:] {
				probed = probed || strings.Contains(q, "/referrers/")
				fellBack = fellBack || strings.Contains(q, "/manifests/sha256-")
			}
			if api && (!probed || fellBack) || !api && (probed != (i == 0) || !fellBack) {
				t.Errorf("api %v, listing %d: requests %q", api, i, f.requestLog()[before:])
			}
		}
	}
}

func mustWithMax(t *testing.T, c *registry.Client, n int) *registry.Client {
	t.Helper()
	d, err := c.WithMaxSignatures(n)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
