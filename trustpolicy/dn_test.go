package trustpolicy_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/notation-go"
	nsigner "github.com/notaryproject/notation-go/signer"
	"github.com/notaryproject/notation-go/verifier"
	ntp "github.com/notaryproject/notation-go/verifier/trustpolicy"
	ntruststore "github.com/notaryproject/notation-go/verifier/truststore"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testkit"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// tpDNInputs are distinguished names for the table and oracle tests.
func tpDNInputs() []string {
	return []string{
		"C=US,ST=California,O=Notary Project",
		"C=US,S=California,O=Notary Project",
		"C=US,ST=California",
		"C=US,O=Notary Project",
		"invalid",
		"C=US,ST=California,O=Notary Project,S=California",
		"C=US,ST=California,O=Notary Project=#",
		"OU=Sales+CN=J.  Smith,DC=example,DC=net",
		",,,", "C=US,C=IN", "C=US,ST=WA", "C=US+ST=WA,O=x", "C=US,ST=WA,O=#4142", "C=US,ST=WA,O= #4142",
		"C=US,S=WA,O=x", "C=US,S=WA,ST=WA,O=x", "C=US,ST=WA,O=MyOrg,CustomRDN=x", `C=US,ST=WA,O=My\,Org`, `C=US,ST=WA,O=My\;Org`,
		`C=US,ST=WA,O=My\\Org`, `C=US,ST=WA,O=My\4fOrg`, `C=US,ST=WA,O=My\zzOrg`, `C=US,ST=WA,O=MyOrg\`, `C=US,ST=WA,O=\ lead\ `,
		"c=US,st=WA,o=x", "C=US;ST=WA;O=x", "  C = US ,  ST = WA , O = x  ", "C=US,ST=WA,O=x,", "C=US,ST=WA,O=x+", "=US,ST=WA,O=x",
		"C=,C=US,ST=WA,O=x", "C=US,C=,ST=WA,O=x", "C=US,ST=WA,O=x,OU=", "OU=,C=US,ST=WA,O=x,OU=y", "C=US,ST=WA,O=x,OU=a,OU=b",
		"C=US,ST=WA,O=é,CN=中文", "C=US,ST=WA,O=a=b", `C=US,ST=WA,O=a\=#b`, `C=US,ST=WA,O=\#x`, "C=US,ST=WA,O=\"q\"",
		`C=US,ST=WA,O=x,1.2.3=y`, "C=US,ST=WA,O=x,1.2.840.113549.1.9.1=#160161", "", " ", "C", "C=US,,ST=WA,O=x",
		"C=US,ST=WA,O=x;", `\C=US,ST=WA,O=x`, "C\\=X=US,ST=WA,O=x", "a=b=c,C=US,ST=WA,O=x", "C=US,ST=WA,O=x\x00y", "C=US,ST=WA,O=\xff",
		"C=US,ST=WA,O=x, CN = y ", "S=,ST=WA,C=US,O=x", "ST=WA,S=,C=US,O=x", `C=US,ST=WA,O=x\ `, `C=US,ST=WA,O=x\\ `,
	}
}

func TestParseDN(t *testing.T) {
	type problem struct {
		kind trustpolicy.DNProblem
		attr string
	}
	var (
		unparsable  = &problem{trustpolicy.DNUnparsable, ""}
		hex         = &problem{trustpolicy.DNHexValue, ""}
		multiValued = &problem{trustpolicy.DNMultiValued, ""}
		missing     = func(a string) *problem { return &problem{trustpolicy.DNMissing, a} }
		duplicate   = func(a string) *problem { return &problem{trustpolicy.DNDuplicate, a} }
	)
	cases := []struct {
		in   string
		want string   // String() on success
		err  *problem // nil if valid
	}{
		// Case 10.
		{",,,", "", unparsable},
		{"C=US,C=IN", "", duplicate("C")},
		{"C=US,ST=WA", "", missing("O")},
		{"C=US+ST=WA,O=x", "", multiValued},
		// Case 11.
		{"C=US,ST=WA,O=x=#0101", "", hex},
		{"C=US,S=WA,O=x", "C=US, ST=WA, O=x", nil},
		{"C=US,S=WA,ST=WA,O=x", "", duplicate("ST")},
		// Case 12.
		{"C=US,ST=WA,O=MyOrg,CustomRDN=x", "C=US, ST=WA, O=MyOrg, CustomRDN=x", nil},
		{`C=US,ST=WA,O=My\,Org\;x\\y`, `C=US, ST=WA, O=My\,Org\;x\\y`, nil},
		// Notation's pkix tests.
		{"C=US,ST=California,O=Notary Project", "C=US, ST=California, O=Notary Project", nil},
		{"C=US,O=Notary Project", "", missing("ST")},
		{"invalid", "", unparsable},
		{"OU=Sales+CN=J.  Smith,DC=example,DC=net", "", multiValued},
		// Spaces, separators, case.
		{"  C = US ; ST = WA ; O = x  ", "C=US, ST=WA, O=x", nil},
		{"c=US,st=WA,o=x", "", missing("C")},
		{"C=,C=US,ST=WA,O=x", "C=US, ST=WA, O=x", nil},
		{"C=US,C=,ST=WA,O=x", "", duplicate("C")},
		{"C=,ST=WA,O=x", "", missing("C")},
		{"OU=,C=US,ST=WA,O=x,OU=y", "OU=y, C=US, ST=WA, O=x", nil},
		{"C=US,ST=WA,O=x,OU=", "C=US, ST=WA, O=x, OU=", nil},
		{`C=US,ST=WA,O=\ lead\ `, `C=US, ST=WA, O=\ lead\ `, nil},
		{`C=US,ST=WA,O=\#x`, `C=US, ST=WA, O=\#x`, nil},
		{"C=US,ST=WA,O=a=b", `C=US, ST=WA, O=a\=b`, nil},
		{`C=US,ST=WA,O=My\4fOrg`, "C=US, ST=WA, O=MyOOrg", nil},
		{"C=US,ST=WA,O=é,CN=中文", "C=US, ST=WA, O=é, CN=中文", nil},
		{"", "", missing("C")},
	}
	for _, tc := range cases {
		dn, err := trustpolicy.ParseDN(tc.in)
		if tc.err != nil {
			var de *trustpolicy.DNError
			if !errors.As(err, &de) || !errors.Is(err, trustpolicy.ErrInvalidDN) || de.Problem != tc.err.kind || de.Attribute != tc.err.attr || de.DN != tc.in {
				t.Errorf("ParseDN(%q) = %v, %#v; want a *DNError %s %q", tc.in, dn, err, tc.err.kind, tc.err.attr)
			}
			if !dn.IsZero() {
				t.Errorf("ParseDN(%q) returned %v with an error", tc.in, dn)
			}
			continue
		}
		if err != nil || dn.String() != tc.want {
			t.Errorf("ParseDN(%q) = %q, %v; want %q", tc.in, dn.String(), err, tc.want)
		}
	}
}

// tpIdentityOracle reports whether notation accepts s as the value of a
// document's only x509.subject identity: exactly when its
// pkix.ParseDistinguishedName accepts s.
func tpIdentityOracle(t testing.TB, s string) bool {
	t.Helper()
	d := &ntp.Document{Version: "1.0", TrustPolicies: []ntp.TrustPolicy{{
		Name:                  "p",
		RegistryScopes:        []string{"*"},
		SignatureVerification: ntp.SignatureVerification{VerificationLevel: "strict"},
		TrustStores:           []string{"ca:x"},
		TrustedIdentities:     []string{"x509.subject:" + s},
	}}}
	return d.Validate() == nil
}

// tpCheckDN checks ParseDN(s) against the oracle and, when it parses, the
// String round trip and the DN accessors.
func tpCheckDN(t testing.TB, s string) {
	t.Helper()
	dn, err := trustpolicy.ParseDN(s)
	if s != "" {
		if want := tpIdentityOracle(t, s); (err == nil) != want {
			t.Fatalf("ParseDN(%q) error %v, notation accepts it: %v", s, err, want)
		}
	}
	if err != nil {
		if !dn.IsZero() {
			t.Fatalf("ParseDN(%q) returned a DN with an error", s)
		}
		return
	}
	str := dn.String()
	if strings.Contains(str, "=#") {
		t.Fatalf("ParseDN(%q).String() = %q contains =#", s, str)
	}
	back, err := trustpolicy.ParseDN(str)
	if err != nil || back != dn {
		t.Fatalf("ParseDN(%q).String() = %q does not parse back: %v %v", s, str, back.Attributes(), err)
	}
	if !tpIdentityOracle(t, str) {
		t.Fatalf("notation rejects the rendering %q of %q", str, s)
	}
	attrs := dn.Attributes()
	if len(attrs) != dn.Len() || len(attrs) < 3 {
		t.Fatalf("ParseDN(%q): %d attributes, Len %d", s, len(attrs), dn.Len())
	}
	seen := map[string]bool{}
	for _, a := range attrs {
		if seen[a.Type] || a.Type == "S" {
			t.Fatalf("ParseDN(%q): attributes %v", s, attrs)
		}
		seen[a.Type] = true
		if v, ok := dn.Get(a.Type); !ok || v != a.Value {
			t.Fatalf("Get(%q) = %q, %v", a.Type, v, ok)
		}
	}
	for _, m := range []string{"C", "ST", "O"} {
		if v, ok := dn.Get(m); !ok || v == "" {
			t.Fatalf("ParseDN(%q) has no %s", s, m)
		}
	}
	if !dn.SubsetOf(dn) || !dn.SubsetOf(back) {
		t.Fatalf("ParseDN(%q) is not a subset of itself", s)
	}
}

func TestParseDNOracle(t *testing.T) {
	for _, s := range tpDNInputs() {
		tpCheckDN(t, s)
	}
}

func TestDNSubsetOf(t *testing.T) {
	p := func(s string) trustpolicy.DN {
		d, err := trustpolicy.ParseDN(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	cases := []struct {
		a, b string
		want bool
	}{
		{"C=US,ST=California,O=Notary Project", "C=US,ST=California,O=Notary Project,L=Los Angeles", true},
		{"C=US,ST=California,O=Notary Project", "C=US,ST=California,O=Notary Project 2,L=Los Angeles,CN=Notary", false},
		{"C=US,ST=California,O=Notary Project,CN=Notary", "C=US,ST=California,O=Notary Project,L=Los Angeles", false},
		{"O=x,ST=WA,C=US", "C=US,ST=WA,O=x", true},
		{"C=US,ST=WA,O=x", "C=US,ST=WA,O=X", false},
		{"C=US,ST=WA,O=x,CN=*.example", "C=US,ST=WA,O=x,CN=a.example", false},
		// An empty attribute matches an absent one, as in notation.
		{"C=US,ST=WA,O=x,OU=", "C=US,ST=WA,O=x", true},
		{"C=US,ST=WA,O=x,OU=", "C=US,ST=WA,O=x,OU=a", false},
	}
	for _, tc := range cases {
		if got := p(tc.a).SubsetOf(p(tc.b)); got != tc.want {
			t.Errorf("%q SubsetOf %q = %v", tc.a, tc.b, got)
		}
	}
	// DNs are comparable values.
	m := map[trustpolicy.DN]int{p("C=US,ST=WA,O=x"): 1}
	if m[p(" C=US ; S=WA;O=x")] != 1 || p("C=US,ST=WA,O=x") == p("O=x,ST=WA,C=US") {
		t.Error("DN equality")
	}
	var zero trustpolicy.DN
	if !zero.IsZero() || zero.String() != "" || zero.Len() != 0 || !zero.SubsetOf(p("C=US,ST=WA,O=x")) {
		t.Error("zero DN")
	}
}

// tpPKI issues test certificates through internal/testkit, valid around
// the wall clock: notation-go's verifier, the oracle here, reads it.
type tpPKI struct {
	root *testkit.CA
}

func tpNewPKI(t testing.TB) *tpPKI {
	t.Helper()
	subject := pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"Test Root"}, CommonName: "root"}
	return &tpPKI{root: testkit.NewRoot(t, testkit.CATemplate(subject, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)), testkit.NewECKey(t))}
}

func (p *tpPKI) leaf(t testing.TB, subject pkix.Name) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := testkit.NewECKey(t)
	return p.root.Issue(t, testkit.LeafTemplate(subject, time.Now().Add(-time.Hour), time.Now().Add(12*time.Hour)), key.Public()), key
}

// tpLeafSubjects are signing certificate subjects, including ones notation
// cannot parse.
func tpLeafSubjects() []pkix.Name {
	base := func(o string) pkix.Name {
		return pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{o}}
	}
	withCN := func(n pkix.Name, cn string) pkix.Name { n.CommonName = cn; return n }
	email := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	uid := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	n1 := base("SomeOrg") // case 28: C=US,O=SomeOrg,ST=WA
	full := pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Locality: []string{"Seattle"}, Organization: []string{"acme-rockets.io"},
		OrganizationalUnit: []string{"Finance"}, CommonName: "SecureBuilder", SerialNumber: "1234", StreetAddress: []string{"1 Main St"}, PostalCode: []string{"98101"}}
	twoOU := base("Acme")
	twoOU.OrganizationalUnit = []string{"a", "b"}
	withEmail := base("Acme")
	withEmail.ExtraNames = []pkix.AttributeTypeAndValue{{Type: email, Value: "a@example.com"}}
	withUID := base("Acme")
	withUID.ExtraNames = []pkix.AttributeTypeAndValue{{Type: uid, Value: "u1"}}
	return []pkix.Name{
		n1,
		full,
		withCN(base("Acme"), "signer"),
		{Country: []string{"US"}, Organization: []string{"Acme"}, CommonName: "no state"},
		{Province: []string{"WA"}, Organization: []string{"Acme"}},
		{Country: []string{"US"}, Province: []string{"WA"}, CommonName: "no org"},
		twoOU,
		withEmail,
		withUID,
		withCN(base("Acme, Inc."), "a+b"),
		withCN(base(`"quoted" <x> ;semi`), `back\slash`),
		withCN(base("#hash"), " lead and trail "),
		withCN(base("eq=al"), "a=#b"),
		withCN(base("Müller GmbH"), "中文"),
		withCN(base("someorg"), "lower"),
		withCN(base("SomeOrg"), "*.example.com"),
		withCN(base("tab\there"), "x"),
		withCN(base("Evil"), "\x1b[2K\rVERIFIED"),
		withCN(base("bidi\u202eorg"), "\u2028x\u200b"),
		{Country: []string{"DE"}, Province: []string{"BE"}, Organization: []string{"SomeOrg"}},
	}
}

// tpIdentitySets are the trusted identity lists tried against every leaf;
// suggest is the leaf's IdentityFor result ("" if none).
func tpIdentitySets(suggest string) [][]string {
	sets := [][]string{
		{"*"},
		{"x509.subject:C=US,ST=WA,O=SomeOrg"},
		{"x509.subject:C=US,S=WA,O=SomeOrg"},
		{"x509.subject:O=SomeOrg,C=US,ST=WA"},
		{"com.example.plugin:x"},
		{"com.example.plugin:x", "x509.subject:C=US,ST=WA,O=SomeOrg"},
		{"x509.subject:C=US,ST=WA,O=Other"},
		{"x509.subject:C=US,ST=WA,O=Other", "x509.subject:C=US,ST=WA,O=SomeOrg"},
		{"x509.subject:C=US,ST=WA,O=someorg"},
		{"x509.subject:C=US,ST=WA,O=SomeOrg,CN=other"},
		{"x509.subject:C=US,ST=WA,O=SomeOrg,OU="},
		{"x509.subject:C=US,ST=WA,O=Acme"},
		{"x509.subject:C=US,ST=WA,O=Acme,OU=a"},
		{"x509.subject:C=US,ST=WA,O=SomeOrg,CN=*.example.com"},
		{"x509.subject:C=US,ST=WA,O=acme-rockets.io,OU=Finance,CN=SecureBuilder"},
		{"X509.SUBJECT:C=US,ST=WA,O=SomeOrg"},
	}
	if suggest != "" {
		sets = append(sets, []string{suggest}, []string{"x509.subject:C=US,ST=WA,O=Nope", suggest})
	}
	return sets
}

func tpIdentityRule(t testing.TB, ids []string) (*trustpolicy.Rule, bool) {
	t.Helper()
	doc := &trustpolicy.Document{Version: "1.0", TrustPolicies: []trustpolicy.Statement{{
		Name:                  "identity-test",
		RegistryScopes:        []string{"*"},
		SignatureVerification: trustpolicy.SignatureVerification{Level: "strict"},
		TrustStores:           []string{"ca:root"},
		TrustedIdentities:     ids,
	}}}
	pol, err := trustpolicy.Compile(doc)
	if err != nil {
		return nil, false
	}
	return pol.Rules()[0], true
}

// TestMatchIdentity covers conformance cases 28 and 29.
func TestMatchIdentity(t *testing.T) {
	pki := tpNewPKI(t)
	leaf, _ := pki.leaf(t, pkix.Name{Country: []string{"US"}, Organization: []string{"SomeOrg"}, Province: []string{"WA"}})
	match := "x509.subject:C=US,O=SomeOrg,ST=WA"
	cases := []struct {
		name string
		ids  []string
		ok   bool
		msg  string
	}{
		{"28 matching dn", []string{match}, true, ""},
		{"28 matching dn and plugin identity", []string{"plugin:x", match}, true, ""},
		{"28 non-matching and matching dn", []string{"x509.subject:C=US,O=Other,ST=WA", match}, true, ""},
		{"28 wildcard", []string{"*"}, true, ""},
		{"29 only plugin identities", []string{"plugin:x"}, false, "no x509 trusted identities are configured"},
		{"29 no matching dn", []string{"x509.subject:C=US,O=Other,ST=WA"}, false, `requires O="Other" but the certificate has O="SomeOrg"`},
		{"29 extra attribute", []string{"x509.subject:C=US,O=SomeOrg,ST=WA,CN=x"}, false, "the certificate has no CN"},
	}
	for _, tc := range cases {
		r, ok := tpIdentityRule(t, tc.ids)
		if !ok {
			t.Fatalf("%s: does not compile", tc.name)
		}
		err := r.MatchIdentity(leaf)
		if (err == nil) != tc.ok {
			t.Errorf("%s: MatchIdentity = %v", tc.name, err)
			continue
		}
		if err == nil {
			continue
		}
		var ie *trustpolicy.IdentityError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "does not match") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want *IdentityError with %q", tc.name, err, tc.msg)
			continue
		}
		if ie.Policy != "identity-test" || ie.Leaf != "O=SomeOrg,ST=WA,C=US" || !strings.Contains(ie.Fix(), `"x509.subject: C=US, ST=WA, O=SomeOrg"`) {
			t.Errorf("%s: %+v", tc.name, ie)
		}
	}
	// Case 29: a "=#" identity cannot be configured at all.
	if _, ok := tpIdentityRule(t, []string{"x509.subject:C=US,O=SomeOrg,ST=#5741"}); ok {
		t.Error("=# identity compiles")
	}
	// Case 29: a leaf whose subject has "=#" (e.g. an email attribute) only
	// matches "*".
	withEmail, _ := pki.leaf(t, pkix.Name{Country: []string{"US"}, Organization: []string{"SomeOrg"}, Province: []string{"WA"},
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "a@example.com"}}})
	r, _ := tpIdentityRule(t, []string{match})
	err := r.MatchIdentity(withEmail)
	var ie *trustpolicy.IdentityError
	var de *trustpolicy.DNError
	if !errors.As(err, &ie) || !errors.As(err, &de) || de.Problem != trustpolicy.DNHexValue || !strings.Contains(ie.Fix(), `only the trusted identity "*"`) {
		t.Errorf("email leaf: %v", err)
	}
	if _, err := trustpolicy.IdentityFor(withEmail); !errors.As(err, &de) || de.Problem != trustpolicy.DNHexValue {
		t.Errorf("IdentityFor accepts a =# subject: %v", err)
	}
	// A leaf without ST.
	noST, _ := pki.leaf(t, pkix.Name{Country: []string{"US"}, Organization: []string{"SomeOrg"}, CommonName: "x"})
	if _, err := trustpolicy.IdentityFor(noST); !errors.As(err, &de) || de.Problem != trustpolicy.DNMissing || de.Attribute != "ST" || !strings.Contains(err.Error(), `"*"`) {
		t.Errorf("IdentityFor(no ST) = %v", err)
	}
	// Suggestions put C, ST and O first.
	full, _ := pki.leaf(t, pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Locality: []string{"Seattle"}, Organization: []string{"Acme, Inc."}, CommonName: "signer"})
	if s, err := trustpolicy.IdentityFor(full); err != nil || s != `x509.subject: C=US, ST=WA, O=Acme\, Inc., CN=signer, L=Seattle` {
		t.Errorf("IdentityFor = %q, %v", s, err)
	}
	// Nil inputs do not panic.
	if err := r.MatchIdentity(nil); err == nil {
		t.Error("nil leaf matches")
	}
	if err := (*trustpolicy.Rule)(nil).MatchIdentity(leaf); err == nil {
		t.Error("nil rule matches")
	}
	if _, err := trustpolicy.IdentityFor(nil); err == nil {
		t.Error("nil leaf suggestion")
	}
}

type tpMemStore map[string][]*x509.Certificate

func (m tpMemStore) GetCertificates(_ context.Context, t ntruststore.Type, name string) ([]*x509.Certificate, error) {
	return m[string(t)+":"+name], nil
}

// TestMatchIdentityOracle signs with leaves of many subjects and compares
// MatchIdentity with a full notation-go verification (strict, revocation
// skipped, root trusted, so only the identity check can fail).
func TestMatchIdentityOracle(t *testing.T) {
	pki := tpNewPKI(t)
	ctx := context.Background()
	desc := ocispec.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: digest.FromString("identity"), Size: 8}
	ref := "registry.example/app@" + desc.Digest.String()
	const mediaType = "application/jose+json"
	compared, matched := 0, 0
	for _, subject := range tpLeafSubjects() {
		leaf, key := pki.leaf(t, subject)
		s, err := nsigner.NewGenericSigner(key, []*x509.Certificate{leaf, pki.root.Cert})
		if err != nil {
			t.Fatal(err)
		}
		sig, _, err := s.Sign(ctx, desc, notation.SignerSignOptions{SignatureMediaType: mediaType})
		if err != nil {
			t.Fatalf("%s: sign: %v", leaf.Subject, err)
		}
		suggest, serr := trustpolicy.IdentityFor(leaf)
		if serr == nil {
			if r, ok := tpIdentityRule(t, []string{suggest}); !ok || r.MatchIdentity(leaf) != nil {
				t.Errorf("%s: the suggestion %q does not match", leaf.Subject, suggest)
			}
		}
		for _, ids := range tpIdentitySets(suggest) {
			rule, ok := tpIdentityRule(t, ids)
			if !ok {
				continue
			}
			doc := &ntp.Document{Version: "1.0", TrustPolicies: []ntp.TrustPolicy{{
				Name:                  "identity-test",
				RegistryScopes:        []string{"*"},
				SignatureVerification: ntp.SignatureVerification{VerificationLevel: "strict", Override: map[ntp.ValidationType]ntp.ValidationAction{ntp.TypeRevocation: ntp.ActionSkip}},
				TrustStores:           []string{"ca:root"},
				TrustedIdentities:     ids,
			}}}
			v, err := verifier.New(doc, tpMemStore{"ca:root": {pki.root.Cert}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, verr := v.Verify(ctx, desc, sig, notation.VerifierVerifyOptions{ArtifactReference: ref, SignatureMediaType: mediaType})
			err = rule.MatchIdentity(leaf)
			compared++
			if (err == nil) != (verr == nil) {
				t.Errorf("leaf %q identities %q: MatchIdentity %v, notation %v", leaf.Subject.String(), ids, err, verr)
				continue
			}
			if err == nil {
				matched++
				continue
			}
			if m := verr.Error(); !strings.Contains(m, "trusted identities") && !strings.Contains(m, "certificate subject") {
				t.Errorf("leaf %q identities %q: notation failed for another reason: %v", leaf.Subject.String(), ids, verr)
			}
			var ie *trustpolicy.IdentityError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), "does not match") || ie.Fix() == "" || ie.Leaf != leaf.Subject.String() {
				t.Errorf("leaf %q: error %#v", leaf.Subject.String(), err)
			}
			if serr == nil && !strings.Contains(ie.Fix(), tpJSONString(suggest)) {
				t.Errorf("leaf %q: fix %q does not add IdentityFor's %q", leaf.Subject.String(), ie.Fix(), suggest)
			}
			// The printed fix, applied to the policy, makes notation verify.
			fixed := tpApplyIdentityFix(t, ids, ie.Fix())
			if r, ok := tpIdentityRule(t, fixed); !ok || r.MatchIdentity(leaf) != nil {
				t.Errorf("leaf %q identities %q: the fix %q gives %q, which does not compile or match", leaf.Subject.String(), ids, ie.Fix(), fixed)
			}
			doc.TrustPolicies[0].TrustedIdentities = fixed
			v, err = verifier.New(doc, tpMemStore{"ca:root": {pki.root.Cert}}, nil)
			if err != nil {
				t.Errorf("leaf %q: notation rejects the fixed policy %q: %v", leaf.Subject.String(), fixed, err)
				continue
			}
			if _, verr := v.Verify(ctx, desc, sig, notation.VerifierVerifyOptions{ArtifactReference: ref, SignatureMediaType: mediaType}); verr != nil {
				t.Errorf("leaf %q: after the fix %q notation still fails: %v", leaf.Subject.String(), ie.Fix(), verr)
			}
		}
	}
	t.Logf("%d leaf/identity combinations agree with notation (%d match)", compared, matched)
	if compared < 150 || matched < 30 {
		t.Fatalf("too few combinations: %d compared, %d matched", compared, matched)
	}
}

func TestDNAttributesCopy(t *testing.T) {
	d, err := trustpolicy.ParseDN("C=US,ST=WA,O=x")
	if err != nil {
		t.Fatal(err)
	}
	a := d.Attributes()
	a[0].Value = "changed"
	want := []trustpolicy.DNAttribute{{Type: "C", Value: "US"}, {Type: "ST", Value: "WA"}, {Type: "O", Value: "x"}}
	if !reflect.DeepEqual(d.Attributes(), want) {
		t.Errorf("Attributes = %v", d.Attributes())
	}
}

// tpJSONString is s as a JSON string literal, as trustpolicy.json holds it
// (without HTML escaping).
func tpJSONString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
