package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/plugin"
)

// TestCLIContract runs every human command of the built binary, against a
// SoftHSM token, with -h, an unknown flag, a missing file, a garbage file
// and --output json, and checks each run with clitest: the documented exit
// code, one error line (plus at most a fix line), exactly one JSON document
// with a schema under --output json, no control characters, and never the
// PIN (which is in the environment of every run).
func TestCLIContract(t *testing.T) {
	const token = "contract"
	w := newBinWorld(t, token)
	key := w.newKey(t, token, "contract-key")
	chain := w.certify(t, key, "Contract Signing", nil)
	w.mustJSON(t, nil, "cert", "import", "--key", key, chain)

	missing := filepath.Join(w.dir, "no-such-file.pem")
	missingDir := filepath.Join(w.dir, "no-such-dir", "out.pem")
	garbage := filepath.Join(w.dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("this is not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	garbagePIN := filepath.Join(w.dir, "pin-dir")
	if err := os.Mkdir(garbagePIN, 0o700); err != nil {
		t.Fatal(err)
	}
	tokenURI := "pkcs11:token=" + token
	noModule := "NOTATION_PKCS11_MODULE=" + missing
	garbageModule := "NOTATION_PKCS11_MODULE=" + garbage
	lint := filepath.Join(pki_, "bad", "serverauth-eku-chain.pem")

	type tc struct {
		name string
		env  []string
		args []string
		want clitest.Want
		has  string // in stdout or stderr
	}
	usage := func() clitest.Want { return clitest.Want{Code: cli.ExitUsage, ErrorLine: true} }
	failed := clitest.Want{Code: cli.ExitFailed, ErrorLine: true}
	jsonOK := clitest.Want{Code: 0, JSON: true}
	// Every command: its words, the arguments a working run needs (for -h
	// and the unknown flag), and its own cases.
	commands := []struct {
		words []string
		args  []string
		cases []tc
	}{
		{[]string{"token", "list"}, nil, []tc{
			{name: "missing module", env: []string{noModule}, want: failed, has: missing},
			{name: "garbage module", env: []string{garbageModule}, want: failed, has: garbage},
			{name: "json", args: []string{"--output", "json"}, want: jsonOK, has: `"schema": "notation-pkcs11/token-list/v1"`},
			{name: "json error", env: []string{noModule}, args: []string{"-o", "json"}, want: clitest.Want{Code: 1, ErrorLine: true, JSON: true}, has: `"schema": "notation-pkcs11/error/v1"`},
		}},
		{[]string{"key", "list"}, []string{"--token", tokenURI}, []tc{
			{name: "missing module", args: []string{"--token", tokenURI + "?module-path=" + missing}, want: failed, has: missing},
			{name: "garbage module", args: []string{"--token", tokenURI + "?module-path=" + garbage}, want: failed, has: garbage},
			{name: "json", args: []string{"--token", tokenURI, "--output", "json"}, want: jsonOK, has: `"schema": "notation-pkcs11/key-list/v1"`},
			{name: "no token", args: []string{"-o", "json"}, want: clitest.Want{Code: 2, ErrorLine: true, JSON: true}, has: "--token is required"},
		}},
		{[]string{"key", "generate"}, []string{"--token", tokenURI, "--type", "ec-256", "--label", "x"}, []tc{
			{name: "missing pin file", args: []string{"--token", tokenURI + "?pin-source=file:" + missing, "--type", "ec-256", "--label", "y"}, want: failed, has: missing},
			{name: "garbage pin file", args: []string{"--token", tokenURI + "?pin-source=file:" + garbagePIN, "--type", "ec-256", "--label", "y"}, want: failed, has: "not a regular file"},
			{name: "json", args: []string{"--token", tokenURI, "--type", "ec-384", "--label", "contract-json", "--output", "json"}, want: jsonOK, has: `"schema": "notation-pkcs11/key-generate/v1"`},
			{name: "collision", args: []string{"--token", tokenURI, "--type", "ec-256", "--label", "contract-key", "-o", "json"}, want: clitest.Want{Code: 1, ErrorLine: true, JSON: true}, has: "contract-key"},
			{name: "bad type", args: []string{"--token", tokenURI, "--type", "dsa", "--label", "z"}, want: usage(), has: "unknown key type"},
		}},
		{[]string{"csr"}, []string{"--key", key, "--subject", "C=US,ST=WA,O=Acme"}, []tc{
			{name: "missing out folder", args: []string{"--key", key, "--subject", "C=US,ST=WA,O=Acme", "--out", missingDir}, want: usage(), has: filepath.Dir(missingDir)},
			{name: "garbage subject", args: []string{"--key", key, "--subject", "garbage"}, want: usage(), has: "--subject"},
			{name: "json", args: []string{"--key", key, "--subject", "C=US,ST=WA,O=Acme,CN=Contract Signing", "-o", "json"}, want: jsonOK, has: `"schema": "notation-pkcs11/csr/v1"`},
		}},
		{[]string{"cert", "import"}, []string{"--key", key, chain}, []tc{
			{name: "missing file", args: []string{"--key", key, missing}, want: usage(), has: missing + ": no such file or directory"},
			{name: "garbage file", args: []string{"--key", key, garbage}, want: usage(), has: garbage + ": certificate 1: neither PEM"},
			{name: "json", args: []string{"--key", key, chain, "--output", "json"}, want: jsonOK, has: `"schema": "notation-pkcs11/cert-import/v1"`},
			{name: "json missing file", args: []string{"--key", key, missing, "--output", "json"}, want: clitest.Want{Code: 2, ErrorLine: true, JSON: true}, has: `"kind": "usage"`},
			{name: "chain of another key", args: []string{"--key", key, filepath.Join(pki_, "ec-256", "chain.pem")}, want: failed, has: "does not match the signing key"},
		}},
		{[]string{"cert", "lint"}, []string{chain}, []tc{
			{name: "missing file", args: []string{missing}, want: usage(), has: missing + ": no such file or directory"},
			{name: "garbage file", args: []string{garbage}, want: usage(), has: garbage},
			{name: "json", args: []string{chain, "--output", "json"}, want: jsonOK, has: `"schema": "notation-pkcs11/cert-lint/v1"`},
			{name: "json broken rule", args: []string{lint, "--output", "json"}, want: clitest.Want{Code: 1, JSON: true}, has: "serverAuth"},
			{name: "broken rule", args: []string{lint}, want: clitest.Want{Code: 1}, has: "rule(s) broken"},
		}},
		{[]string{"doctor"}, []string{"--key", key}, []tc{
			{name: "missing root-out folder", args: []string{"--key", key, "--root-out", missingDir}, want: usage(), has: filepath.Dir(missingDir)},
			{name: "missing chain file", args: []string{"--key", key, "--plugin-config", "certificate_chain=" + missing}, want: clitest.Want{Code: doctorExit(plugin.CheckConfig), ErrorLine: true}, has: "broken link: config"},
			{name: "garbage chain file", args: []string{"--key", key, "--plugin-config", "certificate_chain=" + garbage}, want: clitest.Want{Code: doctorExit(plugin.CheckConfig), ErrorLine: true}, has: "certificate 1: neither PEM"},
			{name: "json", args: []string{"--key", key, "--output", "json"}, want: jsonOK, has: `"schema": "notation-pkcs11/doctor/v1"`},
			{name: "json broken link", args: []string{"--key", tokenURI + ";object=nope", "--output", "json"}, want: clitest.Want{Code: doctorExit(plugin.CheckKey), JSON: true}, has: `"failed": "key"`},
			{name: "bad scope", args: []string{"--key", key, "--scope", "a b"}, want: usage(), has: `--scope "a b"`},
		}},
		{[]string{"version"}, nil, []tc{
			{name: "json", args: []string{"--output", "json"}, want: jsonOK, has: `"schema": "notation-pkcs11/version/v1"`},
			{name: "text", want: clitest.Want{Code: 0}, has: "notation-pkcs11 " + version},
			{name: "extra argument", args: []string{"x"}, want: usage(), has: "unknown command"},
		}},
		{[]string{"completion", "bash"}, nil, []tc{{name: "script", want: clitest.Want{Code: 0}, has: "bash completion"}}},
		{[]string{"completion", "zsh"}, nil, []tc{{name: "script", want: clitest.Want{Code: 0}, has: "compdef"}}},
		{[]string{"completion", "fish"}, nil, []tc{{name: "script", want: clitest.Want{Code: 0}, has: "complete -c notation-pkcs11"}}},
	}
	for _, c := range commands {
		path := "notation-pkcs11 " + strings.Join(c.words, " ")
		cases := append([]tc{
			{name: "-h", args: []string{"-h"}, want: clitest.Want{Code: 0}, has: "Usage:"},
			{name: "--help", args: []string{"--help"}, want: clitest.Want{Code: 0}, has: "Flags:"},
			{name: "unknown flag", args: append(append([]string(nil), c.args...), "--bogus"), want: usage(), has: "run '" + path + " -h' for usage"},
			{name: "unknown flag json", args: append(append([]string(nil), c.args...), "--bogus", "--output", "json"), want: clitest.Want{Code: 2, ErrorLine: true, JSON: true}, has: `"exitCode": 2`},
		}, c.cases...)
		for _, k := range cases {
			t.Run(strings.Join(c.words, " ")+"/"+k.name, func(t *testing.T) {
				k.want.Secrets = []string{contractPIN}
				r := w.run(t, k.env, append(append([]string(nil), c.words...), k.args...)...)
				if err := clitest.Check(r, k.want); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(r.Stdout+r.Stderr, k.has) {
					t.Fatalf("output lacks %q:\nstdout: %s\nstderr: %s", k.has, r.Stdout, r.Stderr)
				}
				if k.want.Code == 0 && r.Stderr != "" {
					t.Fatalf("a successful run wrote to stderr: %s", r.Stderr)
				}
				if k.name == "-h" && c.words[0] != "completion" {
					for _, want := range []string{"Flags:", "Examples:", "Exit codes"} {
						if !strings.Contains(r.Stdout, want) {
							t.Errorf("help lacks %q:\n%s", want, r.Stdout)
						}
					}
				}
			})
		}
	}
	t.Run("groups and root", func(t *testing.T) {
		for _, args := range [][]string{{"-h"}, {"token", "-h"}, {"key", "--help"}, {"cert", "-h"}, {"help", "doctor"}} {
			r := w.run(t, nil, args...)
			if err := clitest.Check(r, clitest.Want{Code: 0, Secrets: []string{contractPIN}}); err != nil || !strings.Contains(r.Stdout, "Usage:") {
				t.Fatalf("%v\n%s", err, r.Stdout)
			}
		}
		for _, args := range [][]string{{}, {"key"}, {"cert", "frob"}, {"frob"}, {"--bogus"}} {
			if err := clitest.Check(w.run(t, nil, args...), clitest.Want{Code: 2, ErrorLine: true, Secrets: []string{contractPIN}}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestCLIRefusesPINFlags: any flag named pin or so-pin is refused with one
// line that never repeats it, whatever the command, before anything runs.
func TestCLIRefusesPINFlags(t *testing.T) {
	const pin = "argv-PIN-31337"
	for _, args := range [][]string{
		{"doctor", "--key", "pkcs11:token=t;object=k", "--pin=" + pin},
		{"doctor", "--key", "pkcs11:token=t;object=k", "--pin", pin},
		{"key", "generate", "--so-pin", pin, "--token", "pkcs11:token=t"},
		{"key", "generate", "-pin=" + pin},
		{"token", "list", "--PIN" + pin},
		{"--pin=" + pin},
		{"cert", "import", "--pin-value=" + pin, "x.pem"},
		{"doctor", "-h", "--pin=" + pin},
		{"csr", "--pin=" + pin, "--output", "json"},
	} {
		stdout, stderr, code := runCLI(t, args...)
		r := clitest.Run{Args: args, Stdout: stdout, Stderr: stderr, Code: code}
		if err := clitest.Check(r, clitest.Want{Code: 2, ErrorLine: true, JSON: strings.Contains(strings.Join(args, " "), "--output json"), Secrets: []string{pin}}); err != nil {
			t.Error(err)
		}
		if !strings.Contains(stderr, "never taken on the command line") {
			t.Errorf("%q: %s", args, stderr)
		}
	}
}

// TestKeyGenerateCollisionNamesExistingKey: a label or id that a key on
// the token already has is refused with an error that names that key
// (label, id, URI) and a fix whose command checks it.
func TestKeyGenerateCollisionNamesExistingKey(t *testing.T) {
	const token = "collide"
	w := newBinWorld(t, token)
	tok := "pkcs11:token=" + token
	w.mustJSON(t, nil, "key", "generate", "--token", tok, "--type", "ec-256", "--label", "first", "--id", "0a0b")
	existing := tok + ";object=first;id=%0A%0B"
	for _, c := range []struct{ name, label, id, clash string }{
		{"same label", "first", "0c", "label"},
		{"same id", "second", "0a0b", "id"},
		{"both", "first", "0a0b", "label and id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := w.run(t, nil, "key", "generate", "--token", tok, "--type", "ec-256", "--label", c.label, "--id", c.id)
			if err := clitest.Check(r, clitest.Want{Code: 1, ErrorLine: true, Secrets: []string{contractPIN}}); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"same " + c.clash, `label "first"`, "id 0A0B", existing, "fix: run key generate with another --label and --id, or use the existing key: notation-pkcs11 doctor --key '" + existing + "'"} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
				}
			}
			j := w.run(t, nil, "key", "generate", "--token", tok, "--type", "ec-256", "--label", c.label, "--id", c.id, "--output", "json")
			if err := clitest.Check(j, clitest.Want{Code: 1, ErrorLine: true, JSON: true}); err != nil || !strings.Contains(j.Stdout, `"fix": "run key generate`) {
				t.Fatalf("%v\n%s", err, j.Stdout)
			}
		})
	}
	// The fix's command, run as printed, finds the key that is there (and
	// stops at its missing certificate).
	r := w.run(t, nil, "key", "generate", "--token", tok, "--type", "ec-256", "--label", "first")
	_, command, ok := strings.Cut(strings.TrimSpace(r.Stderr), "use the existing key: ")
	if !ok {
		t.Fatalf("no command in the fix: %s", r.Stderr)
	}
	sh := exec.Command("sh", "-c", command)
	sh.Env = w.env
	out, err := sh.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != doctorExit(plugin.CheckCertificate) || !strings.Contains(string(out), "[ok  ] key ") {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
}
