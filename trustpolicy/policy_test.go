package trustpolicy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	ntp "github.com/notaryproject/notation-go/verifier/trustpolicy"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// The oracle for every acceptance test is notation-go v1.3.2 itself: the
// same JSON bytes are decoded the way notation reads trustpolicy.json
// (json.Decoder) and validated with its Document.Validate.

func tpOracleDecode(data []byte) (*ntp.Document, error) {
	var d ntp.Document
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&d); err != nil {
		return nil, err
	}
	return &d, nil
}

// tpStmt is a valid strict statement.
func tpStmt(name, scope string) trustpolicy.Statement {
	return trustpolicy.Statement{
		Name:                  name,
		RegistryScopes:        []string{scope},
		SignatureVerification: trustpolicy.SignatureVerification{Level: "strict"},
		TrustStores:           []string{"ca:valid-trust-store"},
		TrustedIdentities:     []string{"x509.subject:C=US,ST=WA,O=wabbit-network.io,OU=org1"},
	}
}

// tpDoc is a valid document with three statements: strict, skip and "*".
func tpDoc() *trustpolicy.Document {
	skip := tpStmt("skip-statement", "registry.example/skipped")
	skip.SignatureVerification = trustpolicy.SignatureVerification{Level: "skip"}
	skip.TrustStores, skip.TrustedIdentities = nil, nil
	wild := tpStmt("wildcard-statement", "*")
	wild.SignatureVerification = trustpolicy.SignatureVerification{Level: "audit"}
	wild.TrustedIdentities = []string{"*"}
	return &trustpolicy.Document{
		Version: "1.0",
		TrustPolicies: []trustpolicy.Statement{
			tpStmt("test-statement-name", "registry.acme-rockets.io/software/net-monitor"),
			skip,
			wild,
		},
	}
}

func tpMarshal(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// tpStmtIndexRe and tpStmtMsgRe take our paths and notation's messages
// apart for tpOurCategory and tpTheirCategory.
var (
	tpStmtIndexRe = regexp.MustCompile(`^trustPolicies\[(\d+)\]`)
	tpStmtMsgRe   = regexp.MustCompile(`^(?:trust policy: )?trust policy statement "(?:[^"\\]|\\.)*" `)
)

// tpOurCategory classifies a problem so that our first error can be
// compared with notation's.
func tpOurCategory(pe *trustpolicy.PolicyError) (cat string, stmt int) {
	stmt = -1
	p := pe.Path
	if m := tpStmtIndexRe.FindStringSubmatch(p); m != nil {
		stmt, _ = strconv.Atoi(m[1])
	}
	switch {
	case p == "":
		return "nil", stmt
	case p == "version":
		return "version", stmt
	case p == "trustPolicies":
		return "statements", stmt
	case strings.HasSuffix(p, ".name"):
		return "name", stmt
	case strings.Contains(p, ".signatureVerification"):
		return "signatureVerification", stmt
	case strings.HasSuffix(p, ".trustStores"),
		strings.HasSuffix(p, ".trustedIdentities") && (strings.HasPrefix(pe.Msg, "missing or empty") || strings.HasPrefix(pe.Msg, "must be empty")):
		return "presence", stmt
	case strings.Contains(p, ".trustStores["):
		return "store", stmt
	case strings.Contains(p, ".trustedIdentities"):
		return "identity", stmt
	case strings.Contains(p, ".registryScopes"):
		return "scope", stmt
	}
	return "unknown:" + p, stmt
}

// tpTheirCategory classifies a notation-go v1.3.2 validation error by the
// structure of its message (names and values inside %q are skipped).
func tpTheirCategory(msg string) string {
	if m := tpStmtMsgRe.FindString(msg); m != "" {
		rest := msg[len(m):]
		has := func(prefixes ...string) bool {
			for _, p := range prefixes {
				if strings.HasPrefix(rest, p) {
					return true
				}
			}
			return false
		}
		switch {
		case has("has invalid signatureVerification"):
			return "signatureVerification"
		case has("is set to skip signature verification but", "is either missing trust stores"):
			return "presence"
		case has("has malformed trust store", "uses an unsupported trust store"):
			return "store"
		case has("uses a wildcard trusted identity", "has an empty trusted identity", "has trusted identity", "has overlapping"):
			return "identity"
		case has("has zero registry scopes", "uses wildcard registry scope"):
			return "scope"
		}
		return "unknown statement error: " + msg
	}
	switch {
	case strings.HasPrefix(msg, "trust policy document cannot be nil"):
		return "nil"
	case strings.HasPrefix(msg, "trust policy document has empty version"), strings.HasPrefix(msg, "trust policy document uses unsupported version"):
		return "version"
	case strings.HasPrefix(msg, "trust policy document can not have zero"):
		return "statements"
	case strings.HasPrefix(msg, "multiple trust policy statements use the same name"), strings.HasPrefix(msg, "trust policy: a trust policy statement is missing a name"):
		return "name"
	case strings.HasPrefix(msg, "registry scope "):
		return "scope"
	}
	return "unknown: " + msg
}

// tpDiff checks one document, given as JSON, against the oracle: parse
// agreement, accept/reject agreement, Lint/Compile consistency, and that
// our first error is notation's first error (same kind, same statement).
// It returns whether the document was accepted.
func tpDiff(t testing.TB, label string, data []byte) bool {
	t.Helper()
	doc, perr := trustpolicy.ParseDocument(data)
	od, oerr := tpOracleDecode(data)
	if (perr == nil) != (oerr == nil) {
		t.Fatalf("%s: ParseDocument error %v, notation decode error %v\n%s", label, perr, oerr, data)
	}
	if perr != nil {
		if !errors.Is(perr, trustpolicy.ErrMalformedPolicy) {
			t.Fatalf("%s: parse error %v does not wrap ErrMalformedPolicy", label, perr)
		}
		return false
	}
	pol, cerr := trustpolicy.Compile(doc)
	verr := od.Validate()
	if (cerr == nil) != (verr == nil) {
		t.Fatalf("%s: Compile error %v, notation Validate error %v\n%s", label, cerr, verr, data)
	}
	lint := trustpolicy.Lint(doc)
	if (len(lint) == 0) != (cerr == nil) {
		t.Fatalf("%s: Lint returned %d problems but Compile error is %v", label, len(lint), cerr)
	}
	if cerr == nil {
		if pol == nil || len(pol.Rules()) != len(doc.TrustPolicies) {
			t.Fatalf("%s: Compile returned %v rules", label, pol)
		}
		return true
	}
	var pe *trustpolicy.PolicyError
	if !errors.As(cerr, &pe) || !errors.Is(cerr, trustpolicy.ErrInvalidPolicy) {
		t.Fatalf("%s: Compile error %T %v is not a *PolicyError / ErrInvalidPolicy", label, cerr, cerr)
	}
	found := false
	for _, l := range lint {
		if l.Error() == cerr.Error() {
			found = true
		}
		if l.Msg == "" || strings.ToLower(l.Msg[:1]) != l.Msg[:1] || strings.HasSuffix(l.Msg, ".") {
			t.Errorf("%s: message %q must start lower case and not end with a period", label, l.Msg)
		}
	}
	if !found {
		t.Fatalf("%s: Compile error %q is not among Lint's %v", label, cerr, lint)
	}
	ours, stmt := tpOurCategory(pe)
	theirs := tpTheirCategory(verr.Error())
	if ours != theirs {
		t.Fatalf("%s: first problem differs: ours %q (%s), notation %q (%s)\n%s", label, cerr, ours, verr, theirs, data)
	}
	if stmt >= 0 && stmt < len(doc.TrustPolicies) && ours != "scope" && ours != "name" {
		if q := strconv.Quote(doc.TrustPolicies[stmt].Name); !strings.Contains(verr.Error(), q) {
			t.Fatalf("%s: our first problem %q is in another statement than notation's %q", label, cerr, verr)
		}
	}
	return false
}

// TestPolicyConformance covers the research document's conformance cases
// 1-17 with the exact expectation for each.
func TestPolicyConformance(t *testing.T) {
	type mut func(d *trustpolicy.Document)
	st := func(f func(s *trustpolicy.Statement)) mut {
		return func(d *trustpolicy.Document) { f(&d.TrustPolicies[0]) }
	}
	cases := []struct {
		name string
		mut  mut
		// ok is the expected verdict; path and msg are substrings of the
		// first problem.
		ok   bool
		path string
		msg  string
	}{
		// 1. document level.
		{"1 empty version", func(d *trustpolicy.Document) { d.Version = "" }, false, "version", "missing or empty"},
		{"1 invalid version", func(d *trustpolicy.Document) { d.Version = "invalid" }, false, "version", "unsupported version"},
		{"1 zero statements", func(d *trustpolicy.Document) { d.TrustPolicies = nil }, false, "trustPolicies", "no trust policy statements"},
		{"1 empty statement list", func(d *trustpolicy.Document) { d.TrustPolicies = []trustpolicy.Statement{} }, false, "trustPolicies", "at least one"},
		// 2. names.
		{"2 missing name", st(func(s *trustpolicy.Statement) { s.Name = "" }), false, "trustPolicies[0].name", "missing or empty"},
		{"2 duplicate name", func(d *trustpolicy.Document) { d.TrustPolicies[1].Name = d.TrustPolicies[0].Name }, false, "trustPolicies[1].name", "already used by trustPolicies[0]"},
		{"2 names differing in case", func(d *trustpolicy.Document) { d.TrustPolicies[1].Name = strings.ToUpper(d.TrustPolicies[0].Name) }, true, "", ""},
		{"2 whitespace name", st(func(s *trustpolicy.Statement) { s.Name = "   " }), true, "", ""},
		// 3. scope sets.
		{"3 empty scopes", st(func(s *trustpolicy.Statement) { s.RegistryScopes = nil }), false, "trustPolicies[0].registryScopes", "missing or empty"},
		{"3 scope in two statements", func(d *trustpolicy.Document) { d.TrustPolicies[1].RegistryScopes = d.TrustPolicies[0].RegistryScopes }, false, "trustPolicies[1].registryScopes[0]", "already used by trustPolicies[0].registryScopes[0]"},
		{"3 scope twice in one statement", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"a.io/b", "a.io/b"} }), false, "trustPolicies[0].registryScopes[1]", "already used by trustPolicies[0].registryScopes[0]"},
		{"3 wildcard plus scope", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"*", "a.io/b"} }), false, "trustPolicies[0].registryScopes", `"*" must be the only scope`},
		{"3 two wildcard statements", func(d *trustpolicy.Document) { d.TrustPolicies[0].RegistryScopes = []string{"*"} }, false, "trustPolicies[2].registryScopes[0]", "already used"},
		// 4. scope formats.
		{"4 valid example.com/rep", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"example.com/rep"} }), true, "", ""},
		{"4 valid port and path", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"example.com:8080/rep/rep2"} }), true, "", ""},
		{"4 valid ip", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"10.10.10.10:8080/rep/rep2"} }), true, "", ""},
		{"4 valid domain/rep", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"domain/rep"} }), true, "", ""},
		{"4 valid domain:1234/rep", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"domain:1234/rep"} }), true, "", ""},
		{"4 valid upper-case domain", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"Example.COM/rep"} }), true, "", ""},
		{"4 no repository", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"example.com"} }), false, "registryScopes[0]", "not a valid registry scope"},
		{"4 tag", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"example.com/rep:tag"} }), false, "registryScopes[0]", "remove the tag"},
		{"4 repository only", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"repository"} }), false, "registryScopes[0]", "not a valid registry scope"},
		{"4 1:1", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"1:1"} }), false, "registryScopes[0]", "not a valid registry scope"},
		{"4 a,b", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"a,b"} }), false, "registryScopes[0]", "not a valid registry scope"},
		{"4 upper-case repository", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"example.com/Rep"} }), false, "registryScopes[0]", "lower case"},
		{"4 scheme", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"https://example.com/rep"} }), false, "registryScopes[0]", "scheme"},
		{"4 wildcard suffix", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"example.com/*"} }), false, "registryScopes[0]", "wildcards are not supported"},
		{"4 wildcard */", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"*/"} }), false, "registryScopes[0]", "wildcards are not supported"},
		{"4 wildcard example*/", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"example*/"} }), false, "registryScopes[0]", "wildcards are not supported"},
		{"4 wildcard ex*test", st(func(s *trustpolicy.Statement) { s.RegistryScopes = []string{"ex*test"} }), false, "registryScopes[0]", "wildcards are not supported"},
		// 5. level and verifyTimestamp.
		{"5 invalid level", st(func(s *trustpolicy.Statement) { s.SignatureVerification.Level = "invalid" }), false, "signatureVerification.level", "unknown level"},
		{"5 STRICT", st(func(s *trustpolicy.Statement) { s.SignatureVerification.Level = "STRICT" }), false, "signatureVerification.level", "lower case"},
		{"5 empty level", st(func(s *trustpolicy.Statement) { s.SignatureVerification.Level = "" }), false, "signatureVerification.level", "missing or empty"},
		{"5 verifyTimestamp invalid", st(func(s *trustpolicy.Statement) { s.SignatureVerification.VerifyTimestamp = "invalid" }), false, "signatureVerification.verifyTimestamp", `"afterCertExpiry"`},
		{"5 verifyTimestamp empty", st(func(s *trustpolicy.Statement) { s.SignatureVerification.VerifyTimestamp = "" }), true, "", ""},
		{"5 verifyTimestamp always", st(func(s *trustpolicy.Statement) { s.SignatureVerification.VerifyTimestamp = "always" }), true, "", ""},
		{"5 verifyTimestamp afterCertExpiry", st(func(s *trustpolicy.Statement) { s.SignatureVerification.VerifyTimestamp = "afterCertExpiry" }), true, "", ""},
		// 6. strict needs stores and identities.
		{"6 strict without stores", st(func(s *trustpolicy.Statement) { s.TrustStores = nil }), false, "trustPolicies[0].trustStores", "at least one trust store"},
		{"6 strict without identities", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = nil }), false, "trustPolicies[0].trustedIdentities", "at least one trusted identity"},
		// 7. skip.
		{"7 skip with store", func(d *trustpolicy.Document) { d.TrustPolicies[1].TrustStores = []string{"ca:x"} }, false, "trustPolicies[1].trustStores", `level is "skip"`},
		{"7 skip with identity", func(d *trustpolicy.Document) { d.TrustPolicies[1].TrustedIdentities = []string{"*"} }, false, "trustPolicies[1].trustedIdentities", `level is "skip"`},
		{"7 skip with neither", func(d *trustpolicy.Document) {}, true, "", ""},
		{"7 skip with scope *", func(d *trustpolicy.Document) {
			d.TrustPolicies = d.TrustPolicies[:2]
			d.TrustPolicies[1].RegistryScopes = []string{"*"}
		}, true, "", ""},
		// 8. stores.
		{"8 store without separator", st(func(s *trustpolicy.Statement) { s.TrustStores = []string{"ca"} }), false, "trustStores[0]", `missing the ":" separator`},
		{"8 store bad type", st(func(s *trustpolicy.Statement) { s.TrustStores = []string{"invalid:x"} }), false, "trustStores[0]", "unknown trust store type"},
		{"8 store upper-case type", st(func(s *trustpolicy.Statement) { s.TrustStores = []string{"CA:x"} }), false, "trustStores[0]", "case-sensitive"},
		{"8 store empty name", st(func(s *trustpolicy.Statement) { s.TrustStores = []string{"ca:"} }), false, "trustStores[0]", "invalid trust store name"},
		{"8 store bad name", st(func(s *trustpolicy.Statement) { s.TrustStores = []string{"ca:#@$@$"} }), false, "trustStores[0]", "invalid trust store name"},
		{"8 store ca:a:b", st(func(s *trustpolicy.Statement) { s.TrustStores = []string{"ca:a:b"} }), false, "trustStores[0]", "invalid trust store name"},
		{"8 tsa-only stores", st(func(s *trustpolicy.Statement) { s.TrustStores = []string{"tsa:x"} }), true, "", ""},
		{"8 duplicate stores", st(func(s *trustpolicy.Statement) { s.TrustStores = []string{"ca:x", "ca:x"} }), true, "", ""},
		// 9. identities.
		{"9 wildcard plus dn", st(func(s *trustpolicy.Statement) {
			s.TrustedIdentities = []string{"*", "x509.subject:C=US,ST=WA,O=x"}
		}), false, "trustPolicies[0].trustedIdentities", `"*" must be the only trusted identity`},
		{"9 empty identity", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = []string{""} }), false, "trustedIdentities[0]", "empty trusted identity"},
		{"9 no prefix", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = []string{"C=US,ST=WA,O=x"} }), false, "trustedIdentities[0]", `missing the ":" separator`},
		{"9 x509.subject without separator", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = []string{"x509.subject"} }), false, "trustedIdentities[0]", `missing the ":" separator`},
		{"9 empty x509.subject", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = []string{"x509.subject:"} }), false, "trustedIdentities[0]", "has no value"},
		{"9 unknown prefix", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = []string{"unknown:x"} }), true, "", ""},
		{"9 upper-case prefix is unknown", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = []string{"X509.SUBJECT:C=US"} }), true, "", ""},
		// 10-12. DNs.
		{"10 dn ,,,", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = []string{"x509.subject:,,,"} }), false, "trustedIdentities[0]", "cannot be parsed"},
		{"10 dn duplicate C", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = []string{"x509.subject:C=US,C=IN"} }), false, "trustedIdentities[0]", "more than one C"},
		{"10 dn missing O", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = []string{"x509.subject:C=US,ST=WA"} }), false, "trustedIdentities[0]", "has no O value"},
		{"10 dn multi-valued", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = []string{"x509.subject:C=US+ST=WA,O=x"} }), false, "trustedIdentities[0]", "multi-valued"},
		{"11 dn =#", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = []string{"x509.subject:C=US,ST=WA,O=#4142"} }), false, "trustedIdentities[0]", `"=#"`},
		{"11 dn S alias", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = []string{"x509.subject:C=US,S=WA,O=x"} }), true, "", ""},
		{"11 dn S and ST", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = []string{"x509.subject:C=US,S=WA,ST=WA,O=x"} }), false, "trustedIdentities[0]", "more than one ST"},
		{"12 dn custom RDN", st(func(s *trustpolicy.Statement) {
			s.TrustedIdentities = []string{"x509.subject:C=US,ST=WA,O=MyOrg,CustomRDN=x"}
		}), true, "", ""},
		{"12 dn escapes", st(func(s *trustpolicy.Statement) {
			s.TrustedIdentities = []string{`x509.subject:C=US,ST=WA,O=My\,Org\;x\\y`}
		}), true, "", ""},
		{"12 overlapping dns", st(func(s *trustpolicy.Statement) {
			s.TrustedIdentities = []string{"x509.subject:C=US,ST=WA,O=MyOrg", "x509.subject:C=US,ST=WA,O=MyOrg,X=Y"}
		}), false, "trustedIdentities[1]", "overlaps with trustedIdentities[0]"},
		{"12 reordered dns overlap", st(func(s *trustpolicy.Statement) {
			s.TrustedIdentities = []string{"x509.subject:C=US,ST=WA,O=MyOrg", "x509.subject:O=MyOrg,ST=WA,C=US"}
		}), false, "trustedIdentities[1]", "overlaps"},
		{"12 distinct dns", st(func(s *trustpolicy.Statement) {
			s.TrustedIdentities = []string{"x509.subject:C=US,ST=WA,O=A", "x509.subject:C=US,ST=WA,O=B", "plugin:x"}
		}), true, "", ""},
		{"12 lower-case types", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = []string{"x509.subject:c=US,st=WA,o=x"} }), false, "trustedIdentities[0]", "has no C value"},
		{"12 semicolons and spaces", st(func(s *trustpolicy.Statement) { s.TrustedIdentities = []string{"x509.subject:  C = US ; ST=WA;O=x  "} }), true, "", ""},
		// 13-14. overrides.
		{"13 override integrity", st(func(s *trustpolicy.Statement) {
			s.SignatureVerification.Override = map[trustpolicy.ValidationType]trustpolicy.Action{"integrity": "log"}
		}), false, "override.integrity", "integrity cannot be overridden"},
		{"13 skip authenticity", st(func(s *trustpolicy.Statement) {
			s.SignatureVerification.Override = map[trustpolicy.ValidationType]trustpolicy.Action{"authenticity": "skip"}
		}), false, "override.authenticity", "only revocation"},
		{"13 skip authenticTimestamp", st(func(s *trustpolicy.Statement) {
			s.SignatureVerification.Override = map[trustpolicy.ValidationType]trustpolicy.Action{"authenticTimestamp": "skip"}
		}), false, "override.authenticTimestamp", "only revocation"},
		{"13 skip expiry", st(func(s *trustpolicy.Statement) {
			s.SignatureVerification.Override = map[trustpolicy.ValidationType]trustpolicy.Action{"expiry": "skip"}
		}), false, "override.expiry", "only revocation"},
		{"13 override on skip", func(d *trustpolicy.Document) {
			d.TrustPolicies[1].SignatureVerification.Override = map[trustpolicy.ValidationType]trustpolicy.Action{"revocation": "log"}
		}, false, "trustPolicies[1].signatureVerification.override", `"skip" cannot be customized`},
		{"13 empty override on skip", func(d *trustpolicy.Document) {
			d.TrustPolicies[1].SignatureVerification.Override = map[trustpolicy.ValidationType]trustpolicy.Action{}
		}, true, "", ""},
		{"13 unknown key", st(func(s *trustpolicy.Statement) {
			s.SignatureVerification.Override = map[trustpolicy.ValidationType]trustpolicy.Action{"signature": "log"}
		}), false, "override.signature", "unknown verification type"},
		{"13 unknown value", st(func(s *trustpolicy.Statement) {
			s.SignatureVerification.Override = map[trustpolicy.ValidationType]trustpolicy.Action{"expiry": "warn"}
		}), false, "override.expiry", "unknown action"},
		{"14 revocation skip strict", st(func(s *trustpolicy.Statement) {
			s.SignatureVerification.Override = map[trustpolicy.ValidationType]trustpolicy.Action{"revocation": "skip"}
		}), true, "", ""},
		{"14 revocation skip audit", func(d *trustpolicy.Document) {
			d.TrustPolicies[2].SignatureVerification.Override = map[trustpolicy.ValidationType]trustpolicy.Action{"revocation": "skip"}
		}, true, "", ""},
		{"14 authenticTimestamp log", st(func(s *trustpolicy.Statement) {
			s.SignatureVerification.Override = map[trustpolicy.ValidationType]trustpolicy.Action{"authenticTimestamp": "log"}
		}), true, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := tpDoc()
			tc.mut(doc)
			accepted := tpDiff(t, tc.name, tpMarshal(t, doc))
			_, err := trustpolicy.Compile(doc)
			if accepted != tc.ok || (err == nil) != tc.ok {
				t.Fatalf("accepted %v (Compile error %v), want %v", accepted, err, tc.ok)
			}
			if tc.ok {
				return
			}
			var pe *trustpolicy.PolicyError
			errors.As(err, &pe)
			if !strings.Contains(pe.Path, tc.path) || !strings.Contains(pe.Error(), tc.msg) {
				t.Fatalf("error %q (path %q), want path containing %q and message containing %q", err, pe.Path, tc.path, tc.msg)
			}
		})
	}
	t.Run("1 nil document", func(t *testing.T) {
		_, err := trustpolicy.Compile(nil)
		var pe *trustpolicy.PolicyError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "missing") {
			t.Fatalf("Compile(nil) = %v", err)
		}
		if (&ntp.Document{}).Validate() == nil || (*ntp.Document)(nil).Validate() == nil {
			t.Fatal("oracle accepts a nil/empty document")
		}
		if l := trustpolicy.Lint(nil); len(l) != 1 {
			t.Fatalf("Lint(nil) = %v", l)
		}
	})
}

// TestPolicyActions checks case 14 and the level table, and compares every
// accepted level/override combination with notation's GetVerificationLevel.
func TestPolicyActions(t *testing.T) {
	doc := tpDoc()
	doc.TrustPolicies[0].SignatureVerification.Override = map[trustpolicy.ValidationType]trustpolicy.Action{"authenticTimestamp": "log"}
	pol, err := trustpolicy.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	r := pol.Rules()[0]
	want := map[trustpolicy.ValidationType]trustpolicy.Action{"integrity": "enforce", "authenticity": "enforce", "authenticTimestamp": "log", "expiry": "enforce", "revocation": "enforce"}
	for typ, a := range want {
		if got := r.Action(typ); got != a {
			t.Errorf("strict + authenticTimestamp:log: %s = %s, want %s", typ, got, a)
		}
	}
	if !r.Overridden || r.Level != "strict" {
		t.Errorf("Level %q Overridden %v", r.Level, r.Overridden)
	}
	if got := pol.Rules()[1].Action("integrity"); got != trustpolicy.ActionSkip {
		t.Errorf("skip level integrity = %s", got)
	}
	if got := r.Action("unknown"); got != trustpolicy.ActionEnforce {
		t.Errorf("unknown type = %s", got)
	}

	types := []trustpolicy.ValidationType{"integrity", "authenticity", "authenticTimestamp", "expiry", "revocation"}
	actions := []trustpolicy.Action{"", "enforce", "log", "skip"}
	n := 0
	for _, level := range []string{"strict", "permissive", "audit", "skip"} {
		// Every combination of at most two overrides.
		for i := range types {
			for j := i; j < len(types); j++ {
				for _, ai := range actions {
					for _, aj := range actions {
						ov := map[trustpolicy.ValidationType]trustpolicy.Action{}
						if ai != "" {
							ov[types[i]] = ai
						}
						if aj != "" {
							ov[types[j]] = aj
						}
						d := tpDoc()
						d.TrustPolicies = d.TrustPolicies[:1]
						d.TrustPolicies[0].SignatureVerification = trustpolicy.SignatureVerification{Level: level, Override: ov}
						if level == "skip" {
							d.TrustPolicies[0].TrustStores, d.TrustPolicies[0].TrustedIdentities = nil, nil
						}
						data := tpMarshal(t, d)
						if !tpDiff(t, fmt.Sprintf("%s %v", level, ov), data) {
							continue
						}
						n++
						od, _ := tpOracleDecode(data)
						vl, err := od.TrustPolicies[0].SignatureVerification.GetVerificationLevel()
						if err != nil {
							t.Fatal(err)
						}
						pol, _ := trustpolicy.Compile(d)
						rule := pol.Rules()[0]
						name := rule.Level
						if rule.Overridden {
							name = "custom"
						}
						if name != vl.Name {
							t.Errorf("%s %v: level %q, notation %q", level, ov, name, vl.Name)
						}
						for _, typ := range types {
							if got, want := rule.Action(typ), vl.Enforcement[ntp.ValidationType(typ)]; string(got) != string(want) {
								t.Errorf("%s %v: %s = %s, notation %s", level, ov, typ, got, want)
							}
						}
					}
				}
			}
		}
	}
	if n < 50 {
		t.Fatalf("only %d accepted combinations", n)
	}
}

// tpPools are field values, valid and invalid, for generated documents.
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

func TestSelectErrors(t *testing.T) {
	doc := &trustpolicy.Document{Version: "1.0"}
	for i := range 25 {
		doc.TrustPolicies = append(doc.TrustPolicies, tpStmt(fmt.Sprintf("p%d", i), fmt.Sprintf("registry.example/app%d", i)))
	}
	pol, err := trustpolicy.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pol.Select("registry.example/other@sha256:abc")
	if !errors.Is(err, trustpolicy.ErrNoApplicablePolicy) {
		t.Fatal(err)
	}
	for _, want := range []string{`"registry.example/other@sha256:abc"`, `"registry.example/app0"`, `"registry.example/app9"`, "and 15 more"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "app10") {
		t.Errorf("%q lists too many scopes", err)
	}
	for _, ref := range []string{"registry.example/app0:v1", "registry.example/app0:v1@sha256:abc", "Registry.example/App0@sha256:abc"} {
		_, err := pol.Select(ref)
		if !errors.Is(err, trustpolicy.ErrInvalidReference) || !strings.Contains(err.Error(), "REGISTRY/REPOSITORY@DIGEST") || !strings.Contains(err.Error(), "resolve tags") || !strings.Contains(err.Error(), strconv.Quote(ref)) {
			t.Errorf("Select(%q) = %v", ref, err)
		}
	}
	if r, err := pol.Select("registry.example/app7@sha256:abc"); err != nil || r.Name != "p7" || r.Index != 7 || r.Wildcard {
		t.Errorf("Select app7 = %+v, %v", r, err)
	}
}

func TestCompileRules(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "policy", "valid.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := trustpolicy.ParseDocument(data)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := trustpolicy.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	rules := pol.Rules()
	if len(rules) != 4 {
		t.Fatalf("%d rules", len(rules))
	}
	r0 := rules[0]
	wantStores := []truststore.Ref{{Type: truststore.TypeCA, Name: "acme-rockets"}, {Type: truststore.TypeTSA, Name: "acme-tsa"}}
	if !reflect.DeepEqual(r0.Stores, wantStores) {
		t.Errorf("Stores = %v", r0.Stores)
	}
	if r0.Index != 0 || r0.Name != "wabbit-networks-images" || r0.Wildcard || r0.Level != "strict" || !r0.Overridden || r0.VerifyTimestamp != "always" || r0.AnyIdentity {
		t.Errorf("rule 0 = %+v", r0)
	}
	if len(r0.X509Identities) != 2 || r0.X509Identities[1].String() != "C=US, ST=CA, O=wabbit-networks.io" || len(r0.OtherIdentities) != 0 {
		t.Errorf("identities = %v %v", r0.X509Identities, r0.OtherIdentities)
	}
	if r0.Action(trustpolicy.TypeRevocation) != trustpolicy.ActionSkip || r0.Action(trustpolicy.TypeExpiry) != trustpolicy.ActionEnforce {
		t.Error("rule 0 actions")
	}
	r1 := rules[1]
	if !r1.Wildcard || !r1.AnyIdentity || r1.VerifyTimestamp != "afterCertExpiry" || r1.Level != "audit" || r1.Overridden {
		t.Errorf("rule 1 = %+v", r1)
	}
	r2 := rules[2]
	if r2.Level != "skip" || len(r2.Stores) != 0 || r2.Action(trustpolicy.TypeIntegrity) != trustpolicy.ActionSkip {
		t.Errorf("rule 2 = %+v", r2)
	}
	r3 := rules[3]
	if !reflect.DeepEqual(r3.OtherIdentities, []string{"com.example.plugin:team=a"}) || len(r3.X509Identities) != 1 ||
		r3.Action(trustpolicy.TypeAuthenticity) != trustpolicy.ActionLog || r3.Action(trustpolicy.TypeExpiry) != trustpolicy.ActionEnforce ||
		r3.Action(trustpolicy.TypeRevocation) != trustpolicy.ActionLog {
		t.Errorf("rule 3 = %+v", r3)
	}

	// The policy does not change when the document does.
	doc.TrustPolicies[0].Name = "changed"
	doc.TrustPolicies[0].RegistryScopes[0] = "changed.example/x"
	doc.TrustPolicies[0].SignatureVerification.Override["revocation"] = "enforce"
	if r, err := pol.Select("registry.acme-rockets.io/software/net-monitor@sha256:1"); err != nil || r.Name != "wabbit-networks-images" ||
		r.Statement.RegistryScopes[0] != "registry.acme-rockets.io/software/net-monitor" || r.Statement.SignatureVerification.Override["revocation"] != "skip" {
		t.Errorf("policy changed with its document: %+v %v", r, err)
	}
	// Rules returns a copy.
	rules[0] = nil
	if pol.Rules()[0] == nil {
		t.Error("Rules exposes the policy's slice")
	}
}

func TestLint(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "policy", "invalid-many.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := trustpolicy.ParseDocument(data)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range trustpolicy.Lint(doc) {
		got = append(got, p.Path)
	}
	want := []string{
		"trustPolicies[0].registryScopes[0]",
		"trustPolicies[0].registryScopes[1]",
		"trustPolicies[0].signatureVerification.level",
		"trustPolicies[0].signatureVerification.override.integrity",
		"trustPolicies[0].signatureVerification.override.expiry",
		"trustPolicies[0].trustStores[0]",
		"trustPolicies[0].trustStores[1]",
		"trustPolicies[0].trustStores[2]",
		"trustPolicies[0].trustedIdentities[0]",
		"trustPolicies[0].trustedIdentities[3]",
		"trustPolicies[1].name",
		"trustPolicies[1].registryScopes[0]",
		"trustPolicies[1].trustStores",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Lint paths:\n got %q\nwant %q", got, want)
	}
	// Compile reports notation's first problem: the level, not the scope.
	_, err = trustpolicy.Compile(doc)
	var pe *trustpolicy.PolicyError
	if !errors.As(err, &pe) || pe.Path != "trustPolicies[0].signatureVerification.level" {
		t.Fatalf("Compile error %v", err)
	}
	for _, p := range trustpolicy.Lint(doc) {
		t.Log(p)
	}
}

func TestPolicyErrorFormat(t *testing.T) {
	e := &trustpolicy.PolicyError{Path: "trustPolicies[2].registryScopes[0]", Value: "example.com/*", Msg: `wildcards are not supported in registry scopes; use "*" alone or an exact REGISTRY/REPOSITORY scope`}
	want := `trustPolicies[2].registryScopes[0] "example.com/*": wildcards are not supported in registry scopes; use "*" alone or an exact REGISTRY/REPOSITORY scope`
	if e.Error() != want {
		t.Errorf("Error() = %s", e.Error())
	}
	if got := (&trustpolicy.PolicyError{Path: "version", Msg: "m"}).Error(); got != "version: m" {
		t.Errorf("Error() = %s", got)
	}
	if got := (&trustpolicy.PolicyError{Msg: "m"}).Error(); got != "m" {
		t.Errorf("Error() = %s", got)
	}
	var err error = fmt.Errorf("wrapped: %w", e)
	if !errors.Is(err, trustpolicy.ErrInvalidPolicy) {
		t.Error("not ErrInvalidPolicy")
	}
	doc := tpDoc()
	doc.TrustPolicies[2].RegistryScopes = []string{"example.com/*"}
	_, err = trustpolicy.Compile(doc)
	if err == nil || err.Error() != want {
		t.Errorf("Compile error %v", err)
	}
}

func TestLoadDocument(t *testing.T) {
	dir := t.TempDir()
	valid := filepath.Join("testdata", "policy", "valid.json")
	abs, err := filepath.Abs(valid)
	if err != nil {
		t.Fatal(err)
	}
	if doc, err := trustpolicy.LoadDocument(valid); err != nil || len(doc.TrustPolicies) != 4 {
		t.Fatalf("LoadDocument(valid) = %v", err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(abs, link); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "dir.json")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, bytes.Repeat([]byte(" "), trustpolicy.MaxPolicyFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Logf("no fifo: %v", err)
		fifo = ""
	}
	cases := []struct {
		path string
		want error
		msg  string
	}{
		{filepath.Join(dir, "missing.json"), trustpolicy.ErrPolicyNotFound, "does not exist"},
		{filepath.Join(dir, "missing", "trustpolicy.json"), trustpolicy.ErrPolicyNotFound, "does not exist"},
		{link, trustpolicy.ErrPolicyNotRegular, "symlink"},
		{sub, trustpolicy.ErrPolicyNotRegular, "directory"},
		{big, trustpolicy.ErrPolicyUnreadable, "16 MiB"},
		{filepath.Join("testdata", "policy", "malformed.json"), trustpolicy.ErrMalformedPolicy, "line 4"},
		{filepath.Join("testdata", "policy", "wrong-type.json"), trustpolicy.ErrMalformedPolicy, "trustPolicies"},
	}
	if fifo != "" {
		cases = append(cases, struct {
			path string
			want error
			msg  string
		}{fifo, trustpolicy.ErrPolicyNotRegular, "named pipe"})
	}
	if os.Geteuid() != 0 {
		noread := filepath.Join(dir, "noread.json")
		if err := os.WriteFile(noread, []byte("{}"), 0o000); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct {
			path string
			want error
			msg  string
		}{noread, trustpolicy.ErrPolicyUnreadable, "permission denied"})
	} else {
		t.Log("running as root: the permission case is not testable")
	}
	sentinels := []error{trustpolicy.ErrPolicyNotFound, trustpolicy.ErrPolicyNotRegular, trustpolicy.ErrPolicyUnreadable, trustpolicy.ErrMalformedPolicy}
	for _, tc := range cases {
		_, err := trustpolicy.LoadDocument(tc.path)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("LoadDocument(%s) = %v, want %v mentioning %q", tc.path, err, tc.want, tc.msg)
			continue
		}
		for _, s := range sentinels {
			if s != tc.want && errors.Is(err, s) {
				t.Errorf("LoadDocument(%s) = %v is also %v", tc.path, err, s)
			}
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			t.Errorf("LoadDocument(%s) exposes %v", tc.path, pe)
		}
	}
}

// TestSelectConcurrent runs Select from many goroutines (go test -race).
func TestSelectConcurrent(t *testing.T) {
	pol, err := trustpolicy.Compile(tpDoc())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				ref := fmt.Sprintf("registry.acme-rockets.io/software/net-monitor@sha256:%d", i)
				if g%2 == 0 {
					ref = fmt.Sprintf("other.example/x%d@sha256:1", i)
				}
				r, err := pol.Select(ref)
				if err != nil || r == nil {
					t.Error(err)
					return
				}
				_ = r.Action(trustpolicy.TypeExpiry)
			}
		})
	}
	wg.Wait()
}

func BenchmarkCompile10k(b *testing.B) {
	doc := &trustpolicy.Document{Version: "1.0"}
	for i := range 10000 {
		doc.TrustPolicies = append(doc.TrustPolicies, tpStmt(fmt.Sprintf("p%d", i), fmt.Sprintf("registry.example/team%d/app", i)))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := trustpolicy.Compile(doc); err != nil {
			b.Fatal(err)
		}
	}
}
