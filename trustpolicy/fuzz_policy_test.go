package trustpolicy_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// FuzzCompile decodes arbitrary bytes as a policy and checks, against
// notation-go v1.3.2, that decoding and validation agree, that Lint and
// Compile agree, and that Select agrees with GetApplicableTrustPolicy on
// references built from the document's scopes.
//
//	go test -run '^$' -fuzz FuzzCompile ./trustpolicy/
func FuzzCompile(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "policy", "*.json"))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(tpMarshal(f, tpDoc()))
	// Structured seeds let the fuzzer mutate values inside valid JSON.
	r := rand.New(rand.NewPCG(5, 6))
	p := tpFieldPools()
	for range 64 {
		f.Add(tpMarshal(f, tpRandomDoc(r, p)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !tpDiff(t, "fuzz", data) {
			return
		}
		doc, _ := trustpolicy.ParseDocument(data)
		pol, err := trustpolicy.Compile(doc)
		if err != nil {
			t.Fatal(err)
		}
		od, _ := tpOracleDecode(data)
		refs := []string{"registry.example/app@sha256:1", "x@y", "a/b@", "@"}
		for _, st := range doc.TrustPolicies {
			for _, s := range st.RegistryScopes {
				refs = append(refs, s+"@sha256:1", s+"/x@d", s, strings.ToUpper(s)+"@d")
			}
		}
		for _, ref := range refs {
			got, err := pol.Select(ref)
			want, werr := od.GetApplicableTrustPolicy(ref)
			if (err == nil) != (werr == nil) {
				t.Fatalf("ref %q: Select %v, notation %v", ref, err, werr)
			}
			if err == nil && got.Name != want.Name {
				t.Fatalf("ref %q: Select %q, notation %q", ref, got.Name, want.Name)
			}
			if err != nil && !errors.Is(err, trustpolicy.ErrNoApplicablePolicy) && !errors.Is(err, trustpolicy.ErrInvalidReference) {
				t.Fatalf("ref %q: untyped error %v", ref, err)
			}
		}
		for _, r := range pol.Rules() {
			for _, typ := range []trustpolicy.ValidationType{"integrity", "authenticity", "authenticTimestamp", "expiry", "revocation"} {
				if r.Action(typ) == "" {
					t.Fatalf("rule %d: no action for %s", r.Index, typ)
				}
			}
		}
	})
}

// FuzzParseDN checks ParseDN against notation's DN rules (through
// Document.Validate), and that every DN it returns renders to a string that
// parses back to the same DN.
//
//	go test -run '^$' -fuzz FuzzParseDN ./trustpolicy/
func FuzzParseDN(f *testing.F) {
	for _, s := range tpDNInputs() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tpCheckDN(t, s)
	})
}
