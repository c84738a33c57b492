package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/rollout"
)

func TestDiff(t *testing.T) {
	w := newBulkWorld(t)
	a := w.signed(t, "app", "v1", "one")
	b := w.signed(t, "app", "v2", "two")
	unsigned := w.reg.Ref("app@" + w.artifact("app", "v3", "three").Digest.String())
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	current := filepath.Join(w.config, "trustpolicy.json")
	strict := write("strict.json", strings.Replace(w.policy(`["ca:test"]`), `"trustedIdentities":["*"]`, `"trustedIdentities":["x509.subject: C=US, ST=WA, O=Someone Else"]`, 1))
	same := write("same.json", w.policy(`["ca:test"]`))
	garbage := write("garbage.json", "\x1b[2K{")
	list := write("release.txt", a+"\n"+b+"\n"+unsigned+"\n")

	args := []string{"diff", "--plain-http", "--candidate", strict, "--from", list}
	r := w.runBulk(t, args...)
	r.check(t, args, clitest.Want{Code: exitFailed})
	want := []string{
		"identity: 2 artifacts, 2 newly blocked",
		"  " + a + ": verified -> failed: ",
		"  " + b + ": verified -> failed: ",
		"3 artifacts compared: 2 change verdict, 2 newly blocked, 0 newly allowed",
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", r.stdout)
	}
	for i, l := range want {
		if !strings.HasPrefix(lines[i], l) {
			t.Errorf("line %d %q, want %q", i, lines[i], l)
		}
	}
	if !strings.Contains(lines[1], "Someone Else") && !strings.Contains(lines[1], "trusted identities") {
		t.Errorf("the reason does not say why: %q", lines[1])
	}

	args = append(args, "--output", "json")
	r = w.runBulk(t, args...)
	r.check(t, args, clitest.Want{Code: exitFailed, JSON: true})
	var rep rollout.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Schema != rollout.Schema || len(rep.Groups) != 1 || rep.Groups[0].Check != rollout.GroupIdentity || rep.NewlyBlocked != 2 {
		t.Errorf("JSON %v: %+v", err, rep)
	}

	// The other way round, the change only allows: exit 0.
	r = w.runBulk(t, "diff", "--plain-http", "--policy", strict, "--candidate", current, a)
	if r.code != exitVerified || !strings.Contains(r.stdout, "1 artifact compared: 1 change verdict, 0 newly blocked, 1 newly allowed") {
		t.Errorf("newly allowed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = w.runBulk(t, "diff", "--plain-http", "--candidate", same, a, unsigned)
	if r.code != exitVerified || r.stdout != "2 artifacts compared: no verdict changes\n" {
		t.Errorf("no change: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = w.runBulk(t, "diff", "--plain-http", "--candidate", same, w.reg.Ref("app:nope"))
	if r.code != exitVerified || !strings.Contains(r.stderr, "Warning: 1 of 1 artifacts could not be verified under either policy") {
		t.Errorf("undecided: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	usage := clitest.Want{Code: exitUsage, ErrorLine: true}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"diff", a}, "--candidate FILE is required"},
		{[]string{"diff", "--candidate", garbage, a}, "--candidate: "},
		{[]string{"diff", "--candidate", filepath.Join(dir, "missing"), a}, "--candidate: "},
		{[]string{"diff", "--candidate", same}, "no artifact to verify"},
		{[]string{"diff", "--candidate", same, "app:v1"}, `argument 1 "app:v1"`},
		{[]string{"diff", "--candidate", same, "--nope"}, "run 'trustpolicy diff -h' for usage"},
	} {
		r := w.runBulk(t, c.args...)
		r.check(t, c.args, usage)
		if !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: stderr lacks %q: %s", c.args, c.want, r.stderr)
		}
	}
}
