package trustpolicy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
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
