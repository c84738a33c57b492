package main

import (
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
)

// TestRegistryScopesFlag: a policy whose statement names the registry
// host is refused as notation refuses it (exit 2, saying how to turn the
// extension on); both ways the message names work: --registry-scopes, and
// the policy's "extensions" key. The registry statement applies; a
// repository statement still wins over it.
func TestRegistryScopesFlag(t *testing.T) {
	w := newBulkWorld(t)
	good := w.signed(t, "app", "v1", "one")
	other := w.signed(t, "team/other", "v1", "two")
	policy := `{"version":"1.0","trustPolicies":[
 {"name":"registry","registryScopes":["` + w.reg.Host() + `"],"signatureVerification":{"level":"strict"},"trustStores":["ca:test"],"trustedIdentities":["*"]},
 {"name":"app","registryScopes":["` + w.reg.Ref("app") + `"],"signatureVerification":{"level":"skip"}}]%s}`
	w.writePolicy(t, strings.Replace(policy, "%s", "", 1))
	args := []string{"verify", "--plain-http", other}
	r := w.runBulk(t, args...)
	r.check(t, args, clitest.Want{Code: exitUsage, ErrorLine: true})
	if !strings.Contains(r.stderr, "--registry-scopes") || !strings.Contains(r.stderr, `"extensions": {"registryScopes": true}`) {
		t.Errorf("the refusal does not say how to turn it on: %s", r.stderr)
	}
	check := func(how string, args ...string) {
		t.Helper()
		r := w.runBulk(t, append(args, "--plain-http", "--output", "json", other, good)...)
		recs, _ := jsonLines(t, r.stdout)
		if r.code != exitVerified || recs[0].Result.Policy.Name != "registry" || recs[0].Result.Policy.Scope != w.reg.Host() || recs[1].Verdict != "skipped" {
			t.Errorf("%s: exit %d\n%s%s", how, r.code, r.stdout, r.stderr)
		}
	}
	if r := w.runBulk(t, "lint"); r.code != exitFailed || !strings.Contains(r.stdout+r.stderr, "registry-level scope") {
		t.Errorf("lint does not say the policy needs registry-level scopes: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	check("--registry-scopes", "verify", "--registry-scopes")
	w.writePolicy(t, strings.Replace(policy, "%s", `,"extensions":{"registryScopes":true}`, 1))
	check("the policy's key", "verify")
	if r := w.runBulk(t, "lint"); r.code != exitVerified {
		t.Errorf("lint of a policy that turns the extension on: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
