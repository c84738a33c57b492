package trustpolicy_test

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

const regScopeDigest = "@sha256:0000000000000000000000000000000000000000000000000000000000000000"

func regScopePolicy(extensions string, scopes ...string) []byte {
	var stmts []string
	for i, s := range scopes {
		stmts = append(stmts, `{"name":"s`+string(rune('0'+i))+`","registryScopes":["`+s+`"],"signatureVerification":{"level":"skip"}}`)
	}
	return []byte(`{"version":"1.0","trustPolicies":[` + strings.Join(stmts, ",") + `]` + extensions + `}`)
}

func parseRegScope(t *testing.T, data []byte) *trustpolicy.Document {
	t.Helper()
	doc, err := trustpolicy.ParseDocument(data)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestRegistryScopesOffByDefault: as in notation, a registry host is not a
// scope; the error (and so lint) says how to turn the extension on, and
// the policy's own key or the option turns it on.
func TestRegistryScopesOffByDefault(t *testing.T) {
	doc := parseRegScope(t, regScopePolicy("", "registry.example", "*"))
	_, err := trustpolicy.Compile(doc)
	var pe *trustpolicy.PolicyError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), `"extensions": {"registryScopes": true}`) || !strings.Contains(err.Error(), "--registry-scopes") {
		t.Fatalf("Compile: %v", err)
	}
	if probs := trustpolicy.Lint(doc); len(probs) != 1 || !strings.Contains(probs[0].Error(), "registry-level scope") {
		t.Errorf("Lint: %v", probs)
	}
	if p, err := trustpolicy.CompileWithOptions(doc, trustpolicy.CompileOptions{RegistryScopes: true}); err != nil || !p.RegistryScopes() {
		t.Errorf("with the option: %v", err)
	}
	withKey := regScopePolicy(`,"extensions":{"registryScopes":true}`, "registry.example", "*")
	if p, err := trustpolicy.Compile(parseRegScope(t, withKey)); err != nil || !p.RegistryScopes() {
		t.Errorf("with the policy's key: %v", err)
	}
	if probs, err := trustpolicy.LintKeys(withKey); err != nil || len(probs) != 0 {
		t.Errorf("LintKeys of the extension key: %v %v", probs, err)
	}
	probs, err := trustpolicy.LintKeys(regScopePolicy(`,"extensions":{"registryScope":true}`, "*"))
	if err != nil || len(probs) != 1 || probs[0].Suggestion != "registryScopes" {
		t.Errorf("LintKeys of a misspelt extension: %+v %v", probs, err)
	}
	// A bare word is the first component of a repository name, not a
	// host: still the old message.
	_, err = trustpolicy.CompileWithOptions(parseRegScope(t, regScopePolicy("", "repository")), trustpolicy.CompileOptions{RegistryScopes: true})
	if err == nil || !strings.Contains(err.Error(), "add the repository after the registry") {
		t.Errorf("bare word: %v", err)
	}
}

// TestRegistryScopesSelect: the most specific scope wins (repository >
// registry > global), exactly and case-sensitively.
func TestRegistryScopesSelect(t *testing.T) {
	doc := parseRegScope(t, regScopePolicy("", "r.example/team/app", "r.example", "*", "localhost:5000"))
	p, err := trustpolicy.CompileWithOptions(doc, trustpolicy.CompileOptions{RegistryScopes: true})
	if err != nil {
		t.Fatal(err)
	}
	e, err := trustpolicy.New(trustpolicy.Config{Policy: p, Stores: truststore.NewSet(map[truststore.Ref][]*x509.Certificate{})})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		repo, rule, scope string
	}{
		{"r.example/team/app", "s0", "r.example/team/app"},
		{"r.example/team/other", "s1", "r.example"},
		{"r.example/app", "s1", "r.example"},
		{"R.example/app", "s2", "*"},      // case-sensitive
		{"r.example.evil/app", "s2", "*"}, // no prefix matching
		{"r.example:443/app", "s2", "*"},  // no default port
		{"docker.io/library/alpine", "s2", "*"},
		{"localhost:5000/app", "s3", "localhost:5000"},
		{"localhost/app", "s2", "*"},
	}
	for _, c := range cases {
		rule, m, err := e.Select(c.repo + regScopeDigest)
		if err != nil || rule.Name != c.rule || m.Scope != c.scope {
			t.Errorf("%s: %v, %+v, want %s by %s", c.repo, err, m, c.rule, c.scope)
			continue
		}
		if c.rule == "s1" && !strings.Contains(m.Why, "registry-level scope") {
			t.Errorf("%s: why %q", c.repo, m.Why)
		}
	}
	for _, bad := range [][]string{{"r.example", "r.example"}, {"r.example:", "*"}, {"-r.example", "*"}, {"r.exa mple", "*"}} {
		if _, err := trustpolicy.CompileWithOptions(parseRegScope(t, regScopePolicy("", bad...)), trustpolicy.CompileOptions{RegistryScopes: true}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestRegistryScopesChangeNothingElse: on a policy without registry
// scopes, the option selects exactly what notation's rules select.
func TestRegistryScopesChangeNothingElse(t *testing.T) {
	doc := parseRegScope(t, regScopePolicy("", "r.example/team/app", "r.example/other", "*"))
	off, err := trustpolicy.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	on, err := trustpolicy.CompileWithOptions(doc, trustpolicy.CompileOptions{RegistryScopes: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"r.example/team/app", "r.example/other", "r.example/x", "q.example/y", "R.example/team/app", "localhost/a", "bad ref"} {
		a, errA := off.Select(ref + regScopeDigest)
		b, errB := on.Select(ref + regScopeDigest)
		if (errA == nil) != (errB == nil) || (errA == nil && a.Name != b.Name) {
			t.Errorf("%s: off %v %v, on %v %v", ref, a, errA, b, errB)
		}
	}
}
