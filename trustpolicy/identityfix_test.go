package trustpolicy_test

import (
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// jsonStr matches one JSON string literal.
const jsonStr = `"(?:[^"\\]|\\.)*"`

var (
	fixAdd     = regexp.MustCompile(`^add (` + jsonStr + `) to trustedIdentities of statement (` + jsonStr + `) \(trustPolicies\[(\d+)\]\)$`)
	fixReplace = regexp.MustCompile(`^replace (.+) in trustedIdentities of statement (` + jsonStr + `) \(trustPolicies\[(\d+)\]\) with (` + jsonStr + `) \(an identity must not overlap another\)$`)
	fixStar    = regexp.MustCompile(`^set trustedIdentities of statement (` + jsonStr + `) \(trustPolicies\[(\d+)\]\) to \["\*"\] `)
	jsonStrRE  = regexp.MustCompile(jsonStr)
)

// tpApplyIdentityFix applies an IdentityError fix, read as a person reads
// it, to the trusted identities ids of statement "identity-test".
func tpApplyIdentityFix(t testing.TB, ids []string, fix string) []string {
	t.Helper()
	unquote := func(lit string) string {
		var s string
		if err := json.Unmarshal([]byte(lit), &s); err != nil {
			t.Fatalf("fix %q: %s is not a JSON string: %v", fix, lit, err)
		}
		return s
	}
	checkStmt := func(name, idx string) {
		if unquote(name) != "identity-test" || idx != "0" {
			t.Fatalf("fix %q names statement %s (trustPolicies[%s])", fix, name, idx)
		}
	}
	switch {
	case fixAdd.MatchString(fix):
		m := fixAdd.FindStringSubmatch(fix)
		checkStmt(m[2], m[3])
		return append(slices.Clone(ids), unquote(m[1]))
	case fixReplace.MatchString(fix):
		m := fixReplace.FindStringSubmatch(fix)
		checkStmt(m[2], m[3])
		var out []string
		old := jsonStrRE.FindAllString(m[1], -1)
		for _, id := range ids {
			if !slices.ContainsFunc(old, func(lit string) bool { return unquote(lit) == id }) {
				out = append(out, id)
			}
		}
		if len(out) != len(ids)-len(old) {
			t.Fatalf("fix %q replaces identities that %q does not hold", fix, ids)
		}
		return append(out, unquote(m[4]))
	case fixStar.MatchString(fix):
		m := fixStar.FindStringSubmatch(fix)
		checkStmt(m[1], m[2])
		return []string{"*"}
	}
	t.Fatalf("fix %q is not an edit of trustedIdentities", fix)
	return nil
}

// TestIdentityFixWording pins the exact words of the fix.
func TestIdentityFixWording(t *testing.T) {
	pki := tpNewPKI(t)
	leaf, _ := pki.leaf(t, tpName("US", "WA", "Acme", "Release Signing"))
	cases := []struct {
		ids  []string
		want string
	}{
		{[]string{"x509.subject: C=US, ST=WA, O=Other"},
			`add "x509.subject: C=US, ST=WA, O=Acme, CN=Release Signing" to trustedIdentities of statement "identity-test" (trustPolicies[0])`},
		{[]string{"com.example.plugin:x"},
			`add "x509.subject: C=US, ST=WA, O=Acme, CN=Release Signing" to trustedIdentities of statement "identity-test" (trustPolicies[0])`},
		// The leaf's identity is a subset of a configured one: adding it
		// would make the policy invalid, so the fix replaces that one.
		{[]string{"x509.subject: C=US, ST=WA, O=Acme, CN=Release Signing, OU=Team", "x509.subject: C=US, ST=WA, O=Other"},
			`replace "x509.subject: C=US, ST=WA, O=Acme, CN=Release Signing, OU=Team" in trustedIdentities of statement "identity-test" (trustPolicies[0]) with "x509.subject: C=US, ST=WA, O=Acme, CN=Release Signing" (an identity must not overlap another)`},
	}
	for _, c := range cases {
		r, ok := tpIdentityRule(t, c.ids)
		if !ok {
			t.Fatalf("%q does not compile", c.ids)
		}
		var ie *trustpolicy.IdentityError
		if err := r.MatchIdentity(leaf); !errorsAs(err, &ie) {
			t.Fatalf("%q: MatchIdentity = %v", c.ids, err)
		}
		if ie.Fix() != c.want {
			t.Errorf("%q:\nfix  %s\nwant %s", c.ids, ie.Fix(), c.want)
		}
		fixed := tpApplyIdentityFix(t, c.ids, ie.Fix())
		if r, ok := tpIdentityRule(t, fixed); !ok || r.MatchIdentity(leaf) != nil {
			t.Errorf("%q: the fixed identities %q do not compile or match", c.ids, fixed)
		}
	}
	// A subject with control characters: the identity is printable, and
	// still matches exactly this subject.
	evil, _ := pki.leaf(t, tpName("US", "WA", "Acme", "\x1b[2K\rVERIFIED\u202e"))
	id, err := trustpolicy.IdentityFor(evil)
	if err != nil || strings.ContainsAny(id, "\x1b\r\u202e") || id != `x509.subject: C=US, ST=WA, O=Acme, CN=\1b[2K\0dVERIFIED\e2\80\ae` {
		t.Fatalf("IdentityFor(evil) = %q, %v", id, err)
	}
	if r, ok := tpIdentityRule(t, []string{id}); !ok || r.MatchIdentity(evil) != nil || r.MatchIdentity(leaf) == nil {
		t.Errorf("identity %q does not match exactly the evil subject", id)
	}
}

func tpName(c, st, o, cn string) pkix.Name {
	return pkix.Name{Country: []string{c}, Province: []string{st}, Organization: []string{o}, CommonName: cn}
}

func errorsAs(err error, target **trustpolicy.IdentityError) bool { return errors.As(err, target) }
