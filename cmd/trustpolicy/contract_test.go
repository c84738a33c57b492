package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/bulk"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/promote"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/rollout"
)

// TestCLIContract runs every command with -h, an unknown flag, a missing
// file, a garbage file and --output json, and checks each run against the
// contract of internal/cli: the documented exit code, one error line,
// exactly one JSON document with a schema under --output json, and no
// control characters.
func TestCLIContract(t *testing.T) {
	w := newLocalWorld(t, goodPolicy)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("\x1b[2Kgarbage\x00{"), 0o600); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	ref := "registry.example/app@" + w.digest
	cose := w.envelope["application/cose"]
	local := func(cmd, sig, desc string, extra ...string) []string {
		return append([]string{cmd, "--signature", sig, "--media-type", "application/cose", "--descriptor", desc, "--reference", ref}, extra...)
	}
	asJSON := func(args ...string) []string { return append(args, "--output", "json") }
	ok := clitest.Want{Code: exitVerified}
	okJSON := clitest.Want{Code: exitVerified, JSON: true}
	usage := clitest.Want{Code: exitUsage, ErrorLine: true}
	usageJSON := clitest.Want{Code: exitUsage, ErrorLine: true, JSON: true}
	failedJSON := clitest.Want{Code: exitFailed, JSON: true}

	type row struct {
		args []string
		want clitest.Want
		has  string // in stdout or stderr
	}
	commands := map[string][]row{
		"trustpolicy": {
			{[]string{"-h"}, ok, "Exit codes:"},
			{[]string{"--nope"}, usage, "unknown flag: --nope (run 'trustpolicy -h' for usage)"},
			{[]string{"frobnicate"}, usage, `unknown command "frobnicate"`},
			{[]string{"--version"}, ok, "verifies as notation-go v1.3.2"},
		},
		"verify": {
			{[]string{"verify", "-h"}, ok, "Exit codes:"},
			{[]string{"verify", "--nope", ref}, usage, "run 'trustpolicy verify -h' for usage"},
			{asJSON("verify", "--nope", ref), usageJSON, `"kind": "usage"`},
			{local("verify", missing, w.desc), usage, missing},
			{asJSON(local("verify", cose, missing)...), usageJSON, missing},
			{local("verify", cose, w.desc, "--policy", missing), usage, "does not exist"},
			{local("verify", cose, garbage), usage, "not an OCI descriptor"},
			{asJSON(local("verify", cose, w.desc, "--policy", garbage)...), usageJSON, "malformed trust policy"},
			// A garbage signature is a verification failure, not bad input.
			{asJSON(local("verify", garbage, w.desc)...), failedJSON, `"verdict": "failed"`},
			{asJSON(local("verify", cose, w.desc)...), okJSON, `"verdict": "verified"`},
			{local("verify", cose, w.desc), ok, "verified: " + ref},
		},
		"explain": {
			{[]string{"explain", "-h"}, ok, "--brief"},
			{[]string{"explain", "--nope", ref}, usage, "run 'trustpolicy explain -h' for usage"},
			{local("explain", missing, w.desc), usage, missing},
			{local("explain", cose, w.desc, "--truststore", missing, "--policy", garbage), usage, "malformed trust policy"},
			{asJSON(local("explain", garbage, w.desc)...), failedJSON, "integrity"},
			{asJSON(local("explain", cose, w.desc)...), okJSON, `"schema": "1"`},
			{local("explain", cose, w.desc), ok, "Verdict:    VERIFIED"},
			{local("explain", cose, w.desc, "--brief"), ok, "verified: " + ref},
		},
		"lint": {
			{[]string{"lint", "-h"}, ok, "--strict"},
			{[]string{"lint", "--nope"}, usage, "run 'trustpolicy lint -h' for usage"},
			{[]string{"lint", "--policy", missing}, usage, "does not exist"},
			{asJSON("lint", "--policy", garbage), usageJSON, "malformed trust policy"},
			{asJSON("lint"), okJSON, lintSchema},
			{[]string{"lint", "extra"}, usage, `unknown command "extra"`},
		},
		"crl": {
			{[]string{"crl", "-h"}, ok, "Examples:"},
			{[]string{"crl"}, usage, "needs a subcommand"},
			{[]string{"crl", "--nope"}, usage, "unknown flag"},
		},
		"crl fetch": {
			{[]string{"crl", "fetch", "-h"}, ok, "--crl-timeout"},
			{[]string{"crl", "fetch", "--nope", missing}, usage, "run 'trustpolicy crl fetch -h' for usage"},
			{[]string{"crl", "fetch", "--crl-cache", cache, missing}, usage, "no such file"},
			{asJSON("crl", "fetch", "--crl-cache", cache, garbage), usageJSON, "not a certificate file"},
		},
		"crl import": {
			{[]string{"crl", "import", "-h"}, ok, "--issuer"},
			{[]string{"crl", "import", "--nope", missing}, usage, "run 'trustpolicy crl import -h' for usage"},
			{[]string{"crl", "import", "--crl-cache", cache, missing}, usage, "no such file"},
			// A garbage CRL fails validation: exit 1, and the JSON report
			// says why.
			{asJSON("crl", "import", "--crl-cache", cache, garbage), failedJSON, `"problems"`},
			{[]string{"crl", "import", "--crl-cache", cache, garbage}, clitest.Want{Code: exitFailed, ErrorLine: true}, "trustpolicy crl import: error: " + garbage + ": "},
		},
		"crl list": {
			{[]string{"crl", "list", "-h"}, ok, "--crl-cache"},
			{[]string{"crl", "list", "--nope"}, usage, "run 'trustpolicy crl list -h' for usage"},
			{[]string{"crl", "list", "--crl-cache", garbage}, usage, garbage},
			{asJSON("crl", "list", "--crl-cache", cache), okJSON, crlSchema},
			{asJSON("crl", "list"), usageJSON, "pass --crl-cache DIR"},
		},
		"version": {
			{[]string{"version", "-h"}, ok, "Examples:"},
			{[]string{"version", "--nope"}, usage, "run 'trustpolicy version -h' for usage"},
			{asJSON("version"), okJSON, `"verifiesAs": "notation-go v1.3.2"`},
			{[]string{"version"}, ok, "trustpolicy 0.1.0"},
		},
		"completion": {
			{[]string{"completion", "-h"}, ok, "Examples:"},
			{[]string{"completion", "bash"}, ok, "bash completion"},
			{[]string{"completion", "zsh"}, ok, "zsh completion"},
			{[]string{"completion", "fish"}, ok, "fish completion"},
			{[]string{"completion", "bash", "-h"}, ok, "Examples:"},
			{[]string{"completion", "nope"}, usage, `unknown command "nope"`},
		},
	}
	for name, rows := range commands {
		for _, r := range rows {
			t.Run(name+" "+strings.Join(r.args, " "), func(t *testing.T) {
				code, stdout, stderr := runWithConfig(context.Background(), w.config, func() time.Time { return time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC) }, r.args...)
				run := clitest.Run{Args: r.args, Stdout: stdout, Stderr: stderr, Code: code}
				if err := clitest.Check(run, r.want); err != nil {
					t.Error(err)
				}
				if !strings.Contains(stdout+stderr, r.has) {
					t.Errorf("output lacks %q:\n%s%s", r.has, stdout, stderr)
				}
				if isHelp(r.args) && (!strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "Flags:") || stderr != "") {
					t.Errorf("help without flags or examples:\n%s%s", stdout, stderr)
				}
			})
		}
	}
}

func isHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" {
			return true
		}
	}
	return false
}

// TestHelpEverywhere: -h works on every command of the tree, lists flags
// and an example, and help documents the exit codes of the commands that
// verify, lint and cache.
func TestHelpEverywhere(t *testing.T) {
	root := newRoot(context.Background(), env{})
	var paths [][]string
	for _, c := range root.Commands() {
		paths = append(paths, []string{c.Name()})
		for _, s := range c.Commands() {
			paths = append(paths, []string{c.Name(), s.Name()})
		}
	}
	if len(paths) < 12 {
		t.Fatalf("only %d commands: %q", len(paths), paths)
	}
	for _, p := range paths {
		if p[0] == "help" {
			continue
		}
		args := append(append([]string{}, p...), "--help")
		code, stdout, stderr := runWithConfig(context.Background(), t.TempDir(), time.Now, args...)
		if code != 0 || !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "Flags:") || stderr != "" {
			t.Errorf("%q: exit %d\n%s%s", args, code, stdout, stderr)
		}
		if (p[0] == "verify" || p[0] == "explain" || p[0] == "lint" || p[0] == "crl") && !strings.Contains(stdout, "Exit codes:") {
			t.Errorf("%q: help does not document the exit codes", args)
		}
	}
}

// TestJSONHasNoControlCharacters: a certificate subject with escapes and
// bidirectional controls reaches the JSON report escaped (as JSON \u
// escapes, so the data is unchanged).
func TestJSONHasNoControlCharacters(t *testing.T) {
	chain, key := issueLeaf(t, testSubject("\x1b[2K\rVERIFIED\u202e\u2066"), nil, nil)
	w := newLocalWorldWith(t, strings.Replace(goodPolicy, "O=Notation PKCS11 Test", "O=Someone Else", 1), chain, key)
	for _, cmd := range []string{"verify", "explain"} {
		args := append([]string{cmd, "--output", "json"}, w.local("application/cose")[1:]...)
		code, stdout, stderr := w.run(t, args...)
		if err := clitest.Check(clitest.Run{Args: args, Stdout: stdout, Stderr: stderr, Code: code}, clitest.Want{Code: exitFailed, JSON: true}); err != nil {
			t.Error(err)
		}
		var rep trustpolicy.Report
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil || !strings.Contains(rep.Signatures[0].Chain[0].Subject, "CN=\x1b[2K\rVERIFIED\u202e\u2066") {
			t.Errorf("the JSON does not carry the subject unchanged: %v", err)
		}
	}
}

// TestCLIContractBulk runs the flags that verify many artifacts (bulk
// verify, --from, --all-tags, --report, --platforms, layouts) against the
// contract: JSON Lines under --output json, one error line and exit 2 for
// bad input, the documented exit codes.
func TestCLIContractBulk(t *testing.T) {
	w := newBulkWorld(t)
	good := w.signed(t, "app", "v1", "one")
	unsigned := w.reg.Ref("app@" + w.artifact("app", "v2", "two").Digest.String())
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("\x1b[2Kgarbage\x00{"), 0o600); err != nil {
		t.Fatal(err)
	}
	junit := filepath.Join(dir, "report.xml")
	current := filepath.Join(w.config, "trustpolicy.json")
	v := func(args ...string) []string { return append([]string{"verify", "--plain-http"}, args...) }
	asJSON := func(args ...string) []string { return append(args, "--output", "json") }
	usage := clitest.Want{Code: exitUsage, ErrorLine: true}
	usageJSON := clitest.Want{Code: exitUsage, ErrorLine: true, JSON: true}
	rows := []struct {
		args []string
		want clitest.Want
		has  string
	}{
		{v(good, good), clitest.Want{Code: exitVerified}, "2 artifacts: 2 verified"},
		{asJSON(v(good, unsigned)...), clitest.Want{Code: exitFailed, JSONLines: true}, `"verdict":"failed"`},
		{asJSON(v("--report", "junit="+junit, good)...), clitest.Want{Code: exitVerified, JSONLines: true}, bulk.SummarySchema},
		{asJSON(v("--all-tags", w.reg.Ref("app"))...), clitest.Want{Code: exitFailed, JSONLines: true}, `"source":"tag v2 of `},
		{asJSON(v("--platforms", "all", good)...), clitest.Want{Code: exitVerified, JSONLines: true}, `"exitCode":0`},
		{v("--from", missing), usage, missing},
		{v("--from", garbage), usage, garbage + ":1: "},
		{asJSON(v("--from", garbage)...), usageJSON, `"kind": "usage"`},
		{v(good, "--nope"), usage, "run 'trustpolicy verify -h' for usage"},
		{v(good, "garbage\x1b[2K"), usage, `argument 2 "garbage\x1b[2K"`},
		{v("--report", "junit="+missing+"/x.xml", good), usage, "--report junit="},
		{v("--platforms", "linux", good), usage, "--platforms"},
		{v("--scope", w.reg.Ref("app"), "oci-layout:"+garbage+":v1"), usage, "invalid OCI image layout"},
		{asJSON(v("oci-layout:"+dir+":v1", good)...), usageJSON, "--scope"},
		{[]string{"diff", "-h"}, clitest.Want{Code: exitVerified}, "Exit codes:"},
		{[]string{"diff", "--nope"}, usage, "run 'trustpolicy diff -h' for usage"},
		{asJSON("diff", "--plain-http", "--candidate", current, good, unsigned), clitest.Want{Code: exitVerified, JSON: true}, rollout.Schema},
		{[]string{"diff", "--candidate", missing, good}, usage, missing},
		{asJSON("diff", "--candidate", garbage, good), usageJSON, "--candidate"},
		{[]string{"promote", "-h"}, clitest.Want{Code: exitVerified}, "Exit codes:"},
		{[]string{"promote", "--nope"}, usage, "run 'trustpolicy promote -h' for usage"},
		{asJSON("promote", "--plain-http", unsigned, w.reg.Ref("prod/app")), clitest.Want{Code: exitFailed, JSON: true}, promote.Schema},
		{asJSON("promote", good), usageJSON, "accepts 2 arg(s)"},
		{[]string{"promote", "--plain-http", good, "garbage\x1b[2K"}, usage, "DST: "},
	}
	for _, r := range rows {
		t.Run(strings.Join(r.args, " "), func(t *testing.T) {
			res := w.runBulk(t, r.args...)
			res.check(t, r.args, r.want)
			if !strings.Contains(res.stdout+res.stderr, r.has) {
				t.Errorf("output lacks %q:\n%s%s", r.has, res.stdout, res.stderr)
			}
		})
	}
}
