package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInvalidPolicy(t *testing.T) {
	w := newLocalWorld(t, `{"version":"1.0","trustPolicies":[{"name":"x","registryScopes":["example.com/*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:test"],"trustedIdentities":["*"]}]}`)
	// verify cannot use an invalid policy: bad input.
	code, out, errOut := w.run(t, w.local("application/cose")...)
	if code != exitUsage || !strings.Contains(errOut, "trustPolicies[0].registryScopes[0]") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// lint found a problem: exit 1, distinct from a missing file (2).
	code, out, _ = w.run(t, "lint", "--output", "json")
	var rep lintReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitFailed || rep.Valid || len(rep.Problems) == 0 || rep.Schema != lintSchema {
		t.Fatalf("lint exit %d, %v: %s", code, err, out)
	}
	if p := rep.Problems[0]; p.Severity != severityError || p.Path != "trustPolicies[0].registryScopes[0]" {
		t.Errorf("problem %+v", p)
	}
}

func TestLintClean(t *testing.T) {
	w := newLocalWorld(t, goodPolicy)
	code, out, errOut := w.run(t, "lint")
	if code != exitVerified || !strings.Contains(out, "no problems") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// A junk file breaks the store: lint names the store and the file.
	junk := filepath.Join(w.config, "truststore", "x509", "ca", "test", "notes.txt")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = w.run(t, "lint")
	if code != exitFailed || !strings.Contains(out, "notes.txt") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	code, out, _ = w.run(t, w.local("application/cose")...)
	if code != exitFailed || !strings.Contains(out, "authenticity") {
		t.Fatalf("verify with a broken store: exit %d\n%s", code, out)
	}
}

func TestLintMissingPolicy(t *testing.T) {
	w := newLocalWorld(t, goodPolicy)
	for _, args := range [][]string{
		{"lint", "--policy", filepath.Join(t.TempDir(), "nope.json")},
		{"lint", "--policy", filepath.Join(t.TempDir(), "nope.json"), "--output", "json"},
	} {
		code, out, errOut := w.run(t, args...)
		if code != exitUsage || !strings.Contains(errOut, "nope.json") || !strings.Contains(errOut, "does not exist") {
			t.Errorf("%q: exit %d\n%s%s", args, code, out, errOut)
		}
	}
}

// TestLintKeyWarnings: keys notation ignores are warnings with a JSON path
// and a "did you mean", errors under --strict, and never change a verdict.
func TestLintKeyWarnings(t *testing.T) {
	policy := `{"version":"1.0","trustPolicies":[{"name":"release","registryScopes":["registry.example/app"],
 "signatureVerification":{"level":"strict"},"verifyTimestamp":"afterCertExpiry","trustStores":["ca:test"],"trustStore":["ca:other"],
 "trustedIdentities":["x509.subject: C=US, ST=WA, O=Notation PKCS11 Test"],"name":"release"}]}`
	w := newLocalWorld(t, policy)
	code, out, errOut := w.run(t, "lint")
	if code != exitVerified {
		t.Fatalf("lint: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"3 warning(s)",
		`warning: policy: trustPolicies[0].verifyTimestamp: key "verifyTimestamp" does not belong in a trust policy statement, so notation ignores it here; move it to trustPolicies[0].signatureVerification.verifyTimestamp`,
		`warning: policy: trustPolicies[0].trustStore: unknown key "trustStore" in a trust policy statement, ignored by notation; did you mean "trustStores"?`,
		`warning: policy: trustPolicies[0].name: key "name" appears more than once`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lint output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = w.run(t, "lint", "--strict", "--output", "json")
	var rep lintReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitFailed || rep.Valid || !rep.Strict || len(rep.Problems) != 3 {
		t.Fatalf("lint --strict: exit %d, %v\n%s", code, err, out)
	}
	if p := rep.Problems[1]; p.Kind != "unknownKey" || p.Suggestion != "trustStores" || p.Severity != severityError {
		t.Errorf("problem %+v", p)
	}
	// notation ignores these keys, and so does verification.
	if code, out, errOut := w.run(t, w.local("application/cose")...); code != exitVerified {
		t.Errorf("verify: exit %d\n%s%s", code, out, errOut)
	}
}

// TestLintEscapes: a key or value with terminal escapes is printed escaped.
func TestLintEscapes(t *testing.T) {
	w := newLocalWorld(t, `{"version":"1.0","trustPolicies":[{"name":"x\u001b[2K","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:test"],"trustedIdentities":["*"],"evil\u001b[31m":1,"trustStores":["ca:t\u001bx"]}]}`)
	code, out, errOut := w.run(t, "lint")
	if code != exitFailed || hasRawControl(out+errOut) || !strings.Contains(out, `\x1b[31m`) || !strings.Contains(out, `ca:t\x1bx`) {
		t.Errorf("exit %d:\n%q", code, out+errOut)
	}
}
