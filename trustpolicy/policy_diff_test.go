package trustpolicy_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// The differential tests: random documents, raw JSON and references, each
// decided by this package and by notation-go v1.3.2, which must agree.

// tpPools are the values random documents are drawn from.
type tpPools struct {
	versions, names, levels, timestamps, scopes []string
	overrides                                   []map[trustpolicy.ValidationType]trustpolicy.Action
	stores, identities                          [][]string
}

func tpFieldPools() tpPools {
	return tpPools{
		versions:   []string{"1.0", "1.0", "1.0", "1.0", "", "1.1", "1.0 ", "invalid", "1"},
		names:      []string{"a", "b", "c", "A", "", " ", "\t", "policy-1", "ünïcode", "a"},
		levels:     []string{"strict", "permissive", "audit", "skip", "strict", "audit", "skip", "STRICT", "", "custom", "Strict", " strict"},
		timestamps: []string{"", "", "always", "afterCertExpiry", "Always", "never", "aftercertexpiry"},
		scopes:     tpScopes(),
		overrides: []map[trustpolicy.ValidationType]trustpolicy.Action{
			nil, nil, nil, {}, {"revocation": "skip"}, {"revocation": "log"}, {"integrity": "enforce"}, {"authenticity": "skip"},
			{"authenticity": "log"}, {"authenticTimestamp": "log"}, {"expiry": "skip"}, {"expiry": "Log"}, {"foo": "log"},
			{"revocation": ""}, {"Revocation": "skip"}, {"expiry": "enforce", "revocation": "skip"}, {"integrity": "skip", "foo": "bar"},
		},
		stores: [][]string{
			nil, {}, {"ca:x"}, {"ca:x"}, {"signingAuthority:y"}, {"ca"}, {"ca:"}, {"CA:x"}, {"invalid:x"}, {"ca:a:b"}, {"ca:#@$@$"},
			{"tsa:x"}, {"ca:x", "ca:x"}, {"ca:.."}, {"ca:a b"}, {""}, {":x"}, {"ca:x", "tsa:y"}, {"ca:x", "ca"},
		},
		identities: tpIdentityLists(),
	}
}

func tpScopes() []string {
	return []string{
		"*", "*", "example.com/rep", "example.com:8080/rep/rep2", "10.10.10.10:8080/rep/rep2", "domain/rep", "domain:1234/rep",
		"registry.example/app", "registry.example/team/app", "localhost/a", "Example.COM/rep", "xn--bcher-kva.example/app",
		"example.com/a__b", "example.com/a--b", "example.com/a.b_c", "a/b/c/d",
		"example.com", "example.com/rep:tag", "repository", "1:1", "a,b", "example.com/*", "ex*test", "*/", "example*/", "**",
		"example.com/Rep", "example.com/a___b", "example.com/a._b", "example.com/a/", "/a", "example.com//a", "-a.com/b",
		"a-.com/b", "a..com/b", ".a/b", "a.com:/b", "a.com:8x/b", "a.com:1:2/b", "https://a.com/b", "a.com/b@sha256:x", "", "a.com/b c",
		"a.com/b\n", "a_b.com/c", "例え.jp/a", "a.com/ä", "a.com/-b", "a.com/b-", "a.com/_b", "a.com/b.", " a.com/b",
	}
}

func tpIdentityLists() [][]string {
	id := func(s ...string) []string { return s }
	return [][]string{
		nil, {}, id("*"), id("*"), id("x509.subject:C=US,ST=WA,O=A"), id("x509.subject:C=US,ST=WA,O=A"),
		id("*", "x509.subject:C=US,ST=WA,O=A"), id("*", "*"), id(""), id("x509.subject"), id("x509.subject:"),
		id("C=US,ST=WA,O=A"), id("unknown:x"), id("X509.SUBJECT:C=US"), id("x509.subject:,,,"), id("x509.subject:C=US,C=IN"),
		id("x509.subject:C=US,ST=WA"), id("x509.subject:C=US+ST=WA,O=x"), id("x509.subject:C=US,ST=WA,O=x=#0101"),
		id("x509.subject:C=US,S=WA,O=x"), id("x509.subject:C=US,S=WA,ST=WA,O=x"), id("x509.subject:C=US,ST=WA,O=MyOrg,CustomRDN=x"),
		id(`x509.subject:C=US,ST=WA,O=My\,Org\;\\x`), id("x509.subject:C=US,ST=WA,O=MyOrg", "x509.subject:C=US,ST=WA,O=MyOrg,X=Y"),
		id("x509.subject:C=US,ST=WA,O=A", "x509.subject:O=A,ST=WA,C=US"), id("x509.subject:c=US,st=WA,o=x"),
		id("x509.subject:C=US;ST=WA;O=x"), id(" x509.subject:C=US,ST=WA,O=x"), id("x509.subject:C=US,ST=WA,O=A", "x509.subject:C=US,ST=WA,O=B"),
		id("x509.subject:OU=,C=US,ST=WA,O=x,OU=y"), id("x509.subject:C=,C=US,ST=WA,O=x"), id("x509.subject:C=US,ST=WA,O=x,OU="),
		id("x509.subject:C=US,ST=WA,O=x", "x509.subject:C=US,ST=WA,O=x,OU="),
		id("x509.subject:C=US,ST=WA,O=x,OU=", "x509.subject:C=US,ST=WA,O=x,L=y"),
		id("x509.subject:C=US,ST=WA,O=x,OU=a", "x509.subject:C=US,ST=WA,O=x,OU=b", "x509.subject:C=US,ST=WA,O=x,OU=a"),
		id("x509.subject:C=US,ST=WA,O=x", "x509.subject:C=US,ST=WA,O=x"), id("plugin:a", "plugin:a"),
		id("x509.subject:C=US,ST=WA,O=x\\"), id("x509.subject:C=US,ST=WA,O=\\zz"), id("x509.subject:=US,ST=WA,O=x"),
		id("x509.subject:C=US,ST=WA,O= #x"), id("x509.subject:C=US,ST=WA,O=x,"), id("x509.subject:C=US,ST=WA,O=x+"),
		id("x509.subject:C=US,ST=WA,O=x", "unknown:y", "x509.subject:C=DE,ST=BE,O=y"), id("x509.subject::C=US,ST=WA,O=x"),
		id("x509.subject:C=US,ST=WA,O=x", "*"), id("x509.subject: "), id("x509.subject:C=US,ST=WA,O=\u00e9,CN=\u4e2d"),
	}
}

func tpPick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// tpValidPools are the pools' valid values only.
func tpValidPools() tpPools {
	return tpPools{
		versions:   []string{"1.0"},
		names:      []string{"a", "b", "c", "A", " ", "policy-1", "ünïcode"},
		levels:     []string{"strict", "permissive", "audit", "skip"},
		timestamps: []string{"", "always", "afterCertExpiry"},
		scopes: []string{"*", "example.com/rep", "example.com:8080/rep/rep2", "10.10.10.10:8080/rep/rep2", "domain/rep", "domain:1234/rep",
			"registry.example/app", "registry.example/team/app", "localhost/a", "Example.COM/rep", "example.com/a__b", "a/b/c/d"},
		overrides: []map[trustpolicy.ValidationType]trustpolicy.Action{
			nil, {}, {"revocation": "skip"}, {"revocation": "log"}, {"authenticity": "log"}, {"authenticTimestamp": "log"},
			{"expiry": "enforce", "revocation": "skip"},
		},
		stores: [][]string{{"ca:x"}, {"signingAuthority:y"}, {"tsa:x"}, {"ca:x", "ca:x"}, {"ca:x", "tsa:y"}, {"ca:.."}},
		identities: [][]string{{"*"}, {"x509.subject:C=US,ST=WA,O=A"}, {"unknown:x"}, {"X509.SUBJECT:C=US"},
			{"x509.subject:C=US,ST=WA,O=A", "x509.subject:C=US,ST=WA,O=B"}, {"x509.subject:C=US,ST=WA,O=x,OU="}},
	}
}

// tpRandomDoc builds a document from the pools. Half the documents use
// only valid values (but may still repeat a scope or name), and of those
// half get one field from the full pools.
func tpRandomDoc(r *rand.Rand, all tpPools) *trustpolicy.Document {
	p, valid := all, r.IntN(2) == 0
	if valid {
		p = tpValidPools()
	}
	d := &trustpolicy.Document{Version: tpPick(r, p.versions)}
	n := []int{0, 1, 1, 2, 2, 3, 4}[r.IntN(7)]
	if valid {
		n = 1 + r.IntN(4)
	}
	for i := 0; i < n; i++ {
		s := trustpolicy.Statement{
			Name:                  tpPick(r, p.names),
			SignatureVerification: trustpolicy.SignatureVerification{Level: tpPick(r, p.levels), Override: tpPick(r, p.overrides), VerifyTimestamp: tpPick(r, p.timestamps)},
			TrustStores:           tpPick(r, p.stores),
			TrustedIdentities:     tpPick(r, p.identities),
		}
		if r.IntN(3) > 0 {
			s.Name = fmt.Sprintf("s%d", i)
		}
		for k := r.IntN(2); k >= 0; k-- {
			s.RegistryScopes = append(s.RegistryScopes, tpPick(r, p.scopes))
		}
		if !valid && r.IntN(8) == 0 {
			s.RegistryScopes = nil
		}
		if s.SignatureVerification.Level == "skip" && (valid || r.IntN(2) == 0) {
			s.TrustStores, s.TrustedIdentities = nil, nil
			if valid {
				s.SignatureVerification.Override = nil
			}
		}
		d.TrustPolicies = append(d.TrustPolicies, s)
	}
	if valid && r.IntN(2) == 0 {
		s := &d.TrustPolicies[r.IntN(n)]
		switch r.IntN(7) {
		case 0:
			d.Version = tpPick(r, all.versions)
		case 1:
			s.Name = tpPick(r, all.names)
		case 2:
			s.SignatureVerification.Level = tpPick(r, all.levels)
		case 3:
			s.SignatureVerification.Override = tpPick(r, all.overrides)
		case 4:
			s.TrustStores = tpPick(r, all.stores)
		case 5:
			s.TrustedIdentities = tpPick(r, all.identities)
		case 6:
			s.RegistryScopes = []string{tpPick(r, all.scopes)}
		}
	}
	return d
}

// TestCompileDifferential compares Compile with notation's Validate on
// single-field mutations of a valid document, on pairs of mutations and on
// thousands of generated documents.
func TestCompileDifferential(t *testing.T) {
	p := tpFieldPools()
	type mutation struct {
		name string
		f    func(d *trustpolicy.Document)
	}
	var muts []mutation
	for _, v := range p.versions {
		muts = append(muts, mutation{"version " + strconv.Quote(v), func(d *trustpolicy.Document) { d.Version = v }})
	}
	for k := 0; k < 3; k++ {
		for _, v := range p.names {
			muts = append(muts, mutation{fmt.Sprintf("name[%d] %q", k, v), func(d *trustpolicy.Document) { d.TrustPolicies[k].Name = v }})
		}
		for _, v := range p.levels {
			muts = append(muts, mutation{fmt.Sprintf("level[%d] %q", k, v), func(d *trustpolicy.Document) { d.TrustPolicies[k].SignatureVerification.Level = v }})
		}
		for _, v := range p.overrides {
			muts = append(muts, mutation{fmt.Sprintf("override[%d] %v", k, v), func(d *trustpolicy.Document) { d.TrustPolicies[k].SignatureVerification.Override = v }})
		}
		for _, v := range p.stores {
			muts = append(muts, mutation{fmt.Sprintf("stores[%d] %q", k, v), func(d *trustpolicy.Document) { d.TrustPolicies[k].TrustStores = v }})
		}
		for _, v := range p.identities {
			muts = append(muts, mutation{fmt.Sprintf("identities[%d] %q", k, v), func(d *trustpolicy.Document) { d.TrustPolicies[k].TrustedIdentities = v }})
		}
	}
	for _, v := range p.timestamps {
		muts = append(muts, mutation{fmt.Sprintf("verifyTimestamp %q", v), func(d *trustpolicy.Document) { d.TrustPolicies[0].SignatureVerification.VerifyTimestamp = v }})
	}
	for _, v := range p.scopes {
		muts = append(muts, mutation{fmt.Sprintf("scope %q", v), func(d *trustpolicy.Document) { d.TrustPolicies[0].RegistryScopes = []string{v} }})
		muts = append(muts, mutation{fmt.Sprintf("scope+ %q", v), func(d *trustpolicy.Document) {
			d.TrustPolicies[1].RegistryScopes = append(d.TrustPolicies[1].RegistryScopes, v)
		}})
	}
	muts = append(muts,
		mutation{"no statements", func(d *trustpolicy.Document) { d.TrustPolicies = nil }},
		mutation{"drop skip", func(d *trustpolicy.Document) { d.TrustPolicies = slices.Delete(d.TrustPolicies, 1, 2) }},
		mutation{"repeat statement", func(d *trustpolicy.Document) { d.TrustPolicies = append(d.TrustPolicies, d.TrustPolicies[0]) }},
	)
	accepted, rejected := 0, 0
	count := func(ok bool) {
		if ok {
			accepted++
		} else {
			rejected++
		}
	}
	for _, m := range muts {
		d := tpDoc()
		m.f(d)
		count(tpDiff(t, m.name, tpMarshal(t, d)))
	}
	single := len(muts)
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		a, b := tpPick(r, muts), tpPick(r, muts)
		d := tpDoc()
		a.f(d)
		if len(d.TrustPolicies) == 3 {
			b.f(d)
		}
		count(tpDiff(t, a.name+" + "+b.name, tpMarshal(t, d)))
	}
	for i := range 5000 {
		d := tpRandomDoc(r, p)
		count(tpDiff(t, fmt.Sprintf("random %d", i), tpMarshal(t, d)))
	}
	t.Logf("%d single mutations; %d documents accepted, %d rejected, all as notation", single, accepted, rejected)
	if single < 150 || accepted < 500 || rejected < 500 {
		t.Fatalf("too few variants: %d mutations, %d accepted, %d rejected", single, accepted, rejected)
	}
}

// TestParseDocumentDifferential feeds raw JSON to ParseDocument and to
// notation's decoding.
func TestParseDocumentDifferential(t *testing.T) {
	valid := `{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:x"],"trustedIdentities":["*"]}]}`
	inputs := []string{
		valid,
		valid + " trailing garbage",
		valid + valid,
		valid + "]",
		"",
		"   ",
		"null",
		"{}",
		"[]",
		`"string"`,
		"\ufeff" + valid,
		`{"version":"1.0","trustPolicies":{"name":"p"}}`,
		`{"version":1.0}`,
		`{"version":"1.0","trustPolicies":[null]}`,
		`{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"skip","override":null}}]}`,
		`{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"skip","override":{}}}]}`,
		`{"VERSION":"1.0","TRUSTPOLICIES":[{"NAME":"p","RegistryScopes":["*"],"SignatureVerification":{"Level":"skip"}}]}`,
		`{"version":"1.0","version":"2.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"skip"}}]}`,
		`{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"strict","override":{"Revocation":"skip"}},"trustStores":["ca:x"],"trustedIdentities":["*"]}]}`,
		`{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"strict","override":{"revocation":"skip","revocation":"log"}},"trustStores":["ca:x"],"trustedIdentities":["*"]}]}`,
		`{"version":"1.0","trustPolicies":[{"name":"p\u0000","registryScopes":["*"],"signatureVerification":{"level":"skip"}}]}`,
		"{\"version\":\"1.0\",\"trustPolicies\":[{\"name\":\"\xff\",\"registryScopes\":[\"*\"],\"signatureVerification\":{\"level\":\"skip\"}}]}",
		`{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"skip"},"unknown":{"deep":[1,{"x":null}]}}]}`,
		`{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":"*","signatureVerification":{"level":"skip"}}]}`,
		`{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"skip"}}`,
		`{"version":"1.0",}`,
		strings.Repeat("[", 20000),
	}
	for _, in := range inputs {
		tpDiff(t, strconv.Quote(in[:min(len(in), 60)]), []byte(in))
	}
	for _, f := range []string{"valid.json", "case-insensitive-keys.json", "trailing-data.json", "malformed.json", "wrong-type.json", "invalid-many.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", "policy", f))
		if err != nil {
			t.Fatal(err)
		}
		tpDiff(t, f, data)
	}
	_, err := trustpolicy.ParseDocument([]byte("{\n  \"version\": \"1.0\",\n  oops\n}"))
	if !errors.Is(err, trustpolicy.ErrMalformedPolicy) || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("syntax error should name line 3: %v", err)
	}
}

// TestSelectDifferential compares Select with GetApplicableTrustPolicy.
func TestSelectDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	p := tpFieldPools()
	digest := "@sha256:" + strings.Repeat("0", 64)
	extra := []string{
		"", "invaliduri", "domain.com/repository", "repository@sha256:digest", "a.com/b@", "@", "a.com/b@@x", "a.com/B@x", "*@x",
		"a.com/b:tag@sha256:x", "localhost:5000/a@x", "https://a.com/b@x", "registry.example/app/sub" + digest, "registry.example" + digest,
		"REGISTRY.EXAMPLE/app" + digest, "registry.example/app" + digest + "@extra",
	}
	docs := []*trustpolicy.Document{tpDoc()}
	noWild := tpDoc()
	noWild.TrustPolicies = noWild.TrustPolicies[:2]
	docs = append(docs, noWild)
	for len(docs) < 400 {
		d := tpRandomDoc(r, p)
		if _, err := trustpolicy.Compile(d); err == nil {
			docs = append(docs, d)
		}
	}
	checked := 0
	for di, d := range docs {
		data := tpMarshal(t, d)
		od, err := tpOracleDecode(data)
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := trustpolicy.ParseDocument(data)
		pol, err := trustpolicy.Compile(doc)
		if err != nil {
			t.Fatal(err)
		}
		refs := slices.Clone(extra)
		for _, s := range p.scopes {
			refs = append(refs, s+digest, s+"@x")
		}
		for _, st := range d.TrustPolicies {
			for _, s := range st.RegistryScopes {
				refs = append(refs, s+digest, strings.ToUpper(s)+digest, s+"/sub"+digest)
			}
		}
		for _, ref := range refs {
			checked++
			got, err := pol.Select(ref)
			want, werr := od.GetApplicableTrustPolicy(ref)
			if (err == nil) != (werr == nil) {
				t.Fatalf("doc %d ref %q: Select error %v, notation %v", di, ref, err, werr)
			}
			if err != nil {
				noPolicy := strings.Contains(werr.Error(), "has no applicable trust policy")
				if errors.Is(err, trustpolicy.ErrNoApplicablePolicy) != noPolicy || errors.Is(err, trustpolicy.ErrInvalidReference) == noPolicy {
					t.Fatalf("doc %d ref %q: Select error %v, notation %v", di, ref, err, werr)
				}
				if !strings.Contains(err.Error(), strconv.Quote(ref)) {
					t.Fatalf("error %q does not name the reference", err)
				}
				continue
			}
			if got.Name != want.Name || got.Statement.Name != want.Name {
				t.Fatalf("doc %d ref %q: Select %q, notation %q", di, ref, got.Name, want.Name)
			}
			if got.Wildcard != slices.Contains(want.RegistryScopes, "*") {
				t.Fatalf("doc %d ref %q: Wildcard %v", di, ref, got.Wildcard)
			}
		}
	}
	t.Logf("%d references in %d documents agree with notation", checked, len(docs))
}
