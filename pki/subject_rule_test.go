package pki_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testkit"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// verifierSuggestion is what the verifier says to a leaf that a statement
// trusting another subject refuses: IdentityError.Suggestion, the
// identity to add, or why only "*" can match.
func verifierSuggestion(t *testing.T, leaf *x509.Certificate) string {
	t.Helper()
	doc := &trustpolicy.Document{Version: "1.0", TrustPolicies: []trustpolicy.Statement{{
		Name: "other", RegistryScopes: []string{"*"},
		SignatureVerification: trustpolicy.SignatureVerification{Level: trustpolicy.LevelStrict},
		TrustStores:           []string{"ca:x"},
		TrustedIdentities:     []string{"x509.subject: C=ZZ, ST=Nowhere, O=Nobody"},
	}}}
	pol, err := trustpolicy.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	rule, err := pol.Select("registry.example.com/app@sha256:" + strings.Repeat("a", 64))
	if err != nil {
		t.Fatal(err)
	}
	var ie *trustpolicy.IdentityError
	if err := rule.MatchIdentity(leaf); !errors.As(err, &ie) {
		t.Fatalf("MatchIdentity(%q) = %v, want an *IdentityError", leaf.Subject, err)
	}
	return ie.Suggestion
}

// leafWithSubject issues a valid signing certificate whose subject is
// exactly raw (DER of an RDNSequence).
func leafWithSubject(t *testing.T, ca *testCA, raw []byte) *x509.Certificate {
	t.Helper()
	tmpl := leafTmpl("unused")
	tmpl.RawSubject = raw
	return testkit.Issue(t, tmpl, &newP256(t).PublicKey, ca.cert, ca.key)
}

func atv(oid asn1.ObjectIdentifier, v string) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: oid, Value: v}
}

var (
	oidC     = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidST    = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidO     = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU    = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidCN    = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

// TestSubjectRuleCertificates: for certificate subjects of every shape,
// cert lint, SubjectIdentity (what csr and doctor print) and the verifier
// give the same answer: the same identity, or the same reason why none.
func TestSubjectRuleCertificates(t *testing.T) {
	root := newRoot(t, "Subject Rule Root")
	inter := newSub(t, "Subject Rule Intermediate", root, nil)
	c, st, o := atv(oidC, "US"), atv(oidST, "WA"), atv(oidO, "Acme")
	rdns := func(sets ...[]pkix.AttributeTypeAndValue) pkix.RDNSequence {
		var seq pkix.RDNSequence
		for _, s := range sets {
			seq = append(seq, pkix.RelativeDistinguishedNameSET(s))
		}
		return seq
	}
	one := func(a pkix.AttributeTypeAndValue) []pkix.AttributeTypeAndValue {
		return []pkix.AttributeTypeAndValue{a}
	}
	for _, tc := range []struct {
		name string
		seq  pkix.RDNSequence
		ok   bool // an x509.subject identity can name it
	}{
		{"C ST O CN", rdns(one(c), one(st), one(o), one(atv(oidCN, "Release Signing"))), true},
		{"CN first", rdns(one(atv(oidCN, "x")), one(o), one(st), one(c)), true},
		{"with OU and a comma", rdns(one(c), one(st), one(atv(oidO, "Acme, Inc.")), one(atv(oidOU, "Build"))), true},
		{"no ST", rdns(one(c), one(o)), false},
		{"no C", rdns(one(st), one(o)), false},
		{"CN only", rdns(one(atv(oidCN, "Bare"))), false},
		{"O twice", rdns(one(c), one(st), one(o), one(atv(oidO, "Other"))), false},
		// Go's Subject.String() writes each attribute of a multi-valued RDN
		// on its own, and notation parses that string: it can be named.
		{"multi-valued RDN", rdns(one(c), one(st), []pkix.AttributeTypeAndValue{o, atv(oidOU, "Build")}), true},
		{"e-mail attribute (Go writes =#)", rdns(one(c), one(st), one(o), one(atv(oidEmail, "a@b.c"))), false},
		{"empty O", rdns(one(c), one(st), one(atv(oidO, ""))), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := asn1.Marshal(tc.seq)
			if err != nil {
				t.Fatal(err)
			}
			leaf := leafWithSubject(t, inter, raw)
			verifierID, verr := trustpolicy.IdentityFor(leaf)
			if (verr == nil) != tc.ok {
				t.Fatalf("the verifier: %q, %v; want ok=%v", verifierID, verr, tc.ok)
			}
			suggestion := verifierSuggestion(t, leaf)

			// SubjectIdentity is the verifier's rule, word for word.
			id, err := pki.SubjectIdentity(leaf.Subject)
			switch {
			case tc.ok && (err != nil || id != verifierID || id != suggestion):
				t.Errorf("SubjectIdentity = %q, %v; the verifier says %q and suggests %q", id, err, verifierID, suggestion)
			case !tc.ok && !errors.Is(err, pki.ErrSubjectIdentity):
				t.Errorf("SubjectIdentity = %q, %v; want ErrSubjectIdentity (the verifier: %v)", id, err, verr)
			}

			// cert lint warns exactly when no identity can name it, in the
			// verifier's words.
			var warned []pki.Finding
			for _, f := range pki.LintChain([]*x509.Certificate{leaf, inter.cert, root.cert}, epoch) {
				if f.ID == pki.RuleSubjectIdentity {
					warned = append(warned, f)
				} else {
					t.Errorf("unexpected finding %s", f)
				}
			}
			switch {
			case tc.ok && len(warned) != 0:
				t.Errorf("lint warns about a subject the verifier can name:%s", showFindings(warned))
			case !tc.ok && (len(warned) != 1 || warned[0].Rule != suggestion || warned[0].Severity != pki.SeverityWarning || warned[0].Index != 0):
				t.Errorf("lint: want one subject-identity warning saying %q, got:%s", suggestion, showFindings(warned))
			}

			// csr: the same subject typed as the certificate shows it gets the
			// same answer, and the same identity.
			name, perr := pki.ParseSubject(leaf.Subject.String())
			switch {
			case tc.ok && perr != nil:
				t.Errorf("csr refuses %q, which the verifier can name: %v", leaf.Subject, perr)
			case tc.ok:
				if id, err := pki.SubjectIdentity(name); err != nil || id != verifierID {
					t.Errorf("csr's identity for %q is %q, %v; the verifier's %q", leaf.Subject, id, err, verifierID)
				}
			case !errors.Is(perr, pki.ErrSubjectIdentity):
				t.Errorf("csr on %q: %v; want ErrSubjectIdentity as the verifier refuses it", leaf.Subject, perr)
			}
		})
	}
}

// TestSubjectRuleStrings feeds the same subject strings to csr's
// ParseSubject and to the verifier's DN parser: the verifier refuses
// exactly what csr refuses by the identity rule; what csr accepts names
// the same attributes the verifier reads, and a certificate issued with it
// gets the identity csr promised.
func TestSubjectRuleStrings(t *testing.T) {
	root := newRoot(t, "Subject Strings Root")
	for _, s := range []string{
		"C=US,ST=WA,O=Acme", "C=US,S=WA,O=Acme", "C=US;ST=WA;O=Acme,CN=x", "  C = US ,  ST = WA , O = x  ",
		`C=US,ST=WA,O=My\,Org`, `C=US,ST=WA,O=\ lead\ `, `C=US,ST=WA,O=\#x`, "C=US,ST=WA,O=a=b",
		"C=US,ST=WA,O=é,CN=中文", "C=,C=US,ST=WA,O=x", `C=US,ST=WA,O=My\4fOrg`,
		"C=US,ST=WA", "C=US,O=x", "invalid", ",,,", "", " ", "C=US,C=IN,ST=WA,O=x", "C=US,C=,ST=WA,O=x",
		"C=US+ST=WA,O=x", "C=US,ST=WA,O=#4142", "C=US,ST=WA,O=x=#01", "C=US,S=WA,ST=WA,O=x",
		"c=US,st=WA,o=x", "C=US,ST=WA,O=x,", "C=US,ST=WA,O=x+", "=US,ST=WA,O=x", "C=US,ST=WA,O=x;",
		"C=US,ST=WA,O=x,OU=a,OU=b", "C=US,ST=WA,O=MyOrg,CustomRDN=x", "C=US,ST=WA,O=x,OU=",
	} {
		dn, derr := trustpolicy.ParseDN(s)
		name, perr := pki.ParseSubject(s)
		identityRefused := errors.Is(perr, pki.ErrSubjectIdentity)
		switch {
		case derr != nil && !identityRefused:
			t.Errorf("%q: the verifier refuses it (%v) but csr says %v", s, derr, perr)
		case derr == nil && identityRefused:
			t.Errorf("%q: the verifier accepts it but csr refuses it by the identity rule: %v", s, perr)
		case perr == nil:
			id, err := pki.SubjectIdentity(name)
			if err != nil {
				t.Errorf("%q: accepted without an identity: %v", s, err)
				continue
			}
			got, err := trustpolicy.ParseDN(strings.TrimPrefix(id, "x509.subject: "))
			if err != nil || !got.SubsetOf(dn) || !dn.SubsetOf(got) {
				t.Errorf("%q: csr's identity %q (%v) names other attributes than the verifier reads: %v", s, id, err, dn)
			}
			leaf, _ := newLeaf(t, "unused", root, func(c *x509.Certificate) { c.Subject = name })
			if v, err := trustpolicy.IdentityFor(leaf); err != nil || v != id {
				t.Errorf("%q: the issued certificate's identity is %q, %v; csr promised %q", s, v, err, id)
			}
		}
	}
}
