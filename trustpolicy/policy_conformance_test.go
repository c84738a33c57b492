package trustpolicy_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	ntp "github.com/notaryproject/notation-go/verifier/trustpolicy"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

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
