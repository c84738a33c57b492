package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/ratifyverifier"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
)

// mainEnv makes the test binary run main() (see TestMain), so that tests
// can run the real process: os.Args routing, stdout, stderr, exit status.
const mainEnv = "NOTATION_PKCS11_RATIFY_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

const zeroDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// subjectDigest is the digest of the artifact in the requests.
var subjectDigest = digest.FromString("notation-pkcs11-ratify test artifact").String()

// verifyEnv is the environment Ratify gives a VERIFY request.
var verifyEnv = map[string]string{
	ratifyverifier.EnvCommand: "VERIFY", ratifyverifier.EnvVersion: "1.0.0",
	ratifyverifier.EnvSubject: "127.0.0.1:1/app@" + subjectDigest,
}

// skipRequest is a request under a skip-level policy for every
// repository: the verdict is decided before any network I/O, so the
// registry at 127.0.0.1:1 (nothing listens there) is never asked.
const skipRequest = `{"config":{"name":"np","type":"notation-pkcs11-ratify",` +
	`"trustPolicyDoc":{"version":"1.0","trustPolicies":[{"name":"all","registryScopes":["*"],"signatureVerification":{"level":"skip"}}]},` +
	`"trustStores":{},"revocation":{"noDiskCache":true}},` +
	`"storeConfig":{"store":{"name":"oras","useHttp":true}},` +
	`"referenceDesc":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + zeroDigest + `","size":1,"artifactType":"application/vnd.cncf.notary.signature"}}`

// TestProtocolPath: without arguments the command serves one Ratify
// request: exactly one line of JSON on stdout, nothing on stderr, exit 0
// with a verifier result and 1 with Ratify's plugin error object.
func TestProtocolPath(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		stdin   string
		exit    int
		code    uint   // plugin error code, for exit 1
		want    string // in msg or message
		success bool
	}{
		{name: "run by hand", env: map[string]string{}, exit: 1, code: ratifyverifier.CodeMissingEnvironment, want: "this program is a Ratify verifier plugin"},
		{name: "empty args", args: []string{}, env: map[string]string{}, exit: 1, code: ratifyverifier.CodeMissingEnvironment, want: "run it with -h for help"},
		{name: "malformed stdin", env: verifyEnv, stdin: "{", exit: 1, code: ratifyverifier.CodeConfigParsing, want: "decoding the request on stdin"},
		{name: "trailing data", env: verifyEnv, stdin: skipRequest + "]\x1b[2J", exit: 1, code: ratifyverifier.CodeConfigParsing, want: fmt.Sprintf(`unexpected data after the JSON object at byte %d: "]\x1b[2J"`, len(skipRequest))},
		{name: "bad config", env: verifyEnv, stdin: `{"config":{"name":"np"},"storeConfig":{"store":{"name":"oras"}},"referenceDesc":{"mediaType":"m","digest":"` + zeroDigest + `","size":1}}`,
			exit: 1, code: ratifyverifier.CodeInvalidConfig, want: "no trust policy"},
		{name: "verdict", env: verifyEnv, stdin: skipRequest, exit: 0, want: `skipped: policy "all" has level skip for 127.0.0.1:1/app@` + subjectDigest, success: true},
	}
	deps := ratifyverifier.Deps{
		NewRevocation: func(ratifyverifier.RevocationConfig) (revocation.Checker, error) {
			return revocation.NonRevokableOnly(), nil
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			exit := run(context.Background(), c.args, func(k string) string { return c.env[k] }, strings.NewReader(c.stdin), &out, &errOut, deps)
			if exit != c.exit || errOut.Len() != 0 {
				t.Fatalf("exit %d, stderr %q; want exit %d and nothing on stderr", exit, errOut.String(), c.exit)
			}
			line := out.String()
			if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") || textsafe.Has(strings.TrimSuffix(line, "\n")) {
				t.Fatalf("stdout %q: want one line of JSON without control characters", line)
			}
			if c.exit == 1 {
				var e ratifyverifier.ProtocolError
				if json.Unmarshal(out.Bytes(), &e) != nil || e.Code != c.code || !strings.Contains(e.Msg, c.want) {
					t.Fatalf("got %s, want code %d with %q", line, c.code, c.want)
				}
				return
			}
			var r ratifyverifier.Response
			if json.Unmarshal(out.Bytes(), &r) != nil || r.IsSuccess != c.success || !strings.Contains(r.Message, c.want) || r.Name != "np" {
				t.Fatalf("got %s, want isSuccess %v with %q", line, c.success, c.want)
			}
		})
	}
}

// TestCLIContract: with arguments the command is a cobra command line that
// keeps the internal/cli contract, and never reads stdin.
func TestCLIContract(t *testing.T) {
	cases := []struct {
		args []string
		want clitest.Want
		has  []string // in stdout+stderr
	}{
		{[]string{"-h"}, clitest.Want{Code: 0}, []string{"Usage:", "RATIFY_VERIFIER_SUBJECT", "Exit status without arguments", "2  usage mistake", "version --output json"}},
		{[]string{"--help"}, clitest.Want{Code: 0}, []string{"Exit status with arguments"}},
		{[]string{"help"}, clitest.Want{Code: 0}, []string{"Exit status with arguments"}},
		{[]string{"version"}, clitest.Want{Code: 0}, []string{"notation-pkcs11-ratify 0.1.0 (Ratify v1 external verifier, protocol 1.0.0 and 0.1.0"}},
		{[]string{"version", "--output", "json"}, clitest.Want{Code: 0, JSON: true}, []string{`"schema": "notation-pkcs11/version/v1"`, `"ratifyProtocols": [`}},
		{[]string{"version", "-o", "json"}, clitest.Want{Code: 0, JSON: true}, []string{`"version": "0.1.0"`}},
		{[]string{"version", "-h"}, clitest.Want{Code: 0}, []string{"Exit status: 0; 2 on a usage mistake", "--output"}},
		{[]string{"--bogus"}, clitest.Want{Code: 2, ErrorLine: true}, []string{"unknown flag: --bogus (run 'notation-pkcs11-ratify -h' for usage)"}},
		{[]string{"version", "--bogus"}, clitest.Want{Code: 2, ErrorLine: true}, []string{"(run 'notation-pkcs11-ratify version -h' for usage)"}},
		{[]string{"version", "--bogus", "-o", "json"}, clitest.Want{Code: 2, ErrorLine: true, JSON: true}, []string{`"kind": "usage"`, `"exitCode": 2`}},
		{[]string{"version", "-o", "yaml"}, clitest.Want{Code: 2, ErrorLine: true}, []string{`must be text or json, not "yaml"`}},
		{[]string{"version", "extra"}, clitest.Want{Code: 2, ErrorLine: true}, []string{`unknown command "extra"`}},
		{[]string{"verify"}, clitest.Want{Code: 2, ErrorLine: true}, []string{`unknown command "verify" for "notation-pkcs11-ratify"`}},
		{[]string{"\x1b[2J\u202e"}, clitest.Want{Code: 2, ErrorLine: true}, []string{`\x1b[2J\u202e`}},
		{[]string{"completion", "bash"}, clitest.Want{Code: 0}, []string{"bash completion"}},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		// The RATIFY_ environment does not matter once there are arguments.
		exit := run(context.Background(), c.args, func(k string) string { return verifyEnv[k] }, failReader{t}, &out, &errOut, ratifyverifier.Deps{})
		r := clitest.Run{Args: c.args, Stdout: out.String(), Stderr: errOut.String(), Code: exit}
		if err := clitest.Check(r, c.want); err != nil {
			t.Error(err)
		}
		for _, h := range c.has {
			if !strings.Contains(r.Stdout+r.Stderr, h) {
				t.Errorf("%q: output lacks %q:\n%s%s", c.args, h, r.Stdout, r.Stderr)
			}
		}
	}
}

type failReader struct{ t *testing.T }

func (f failReader) Read([]byte) (int, error) {
	f.t.Error("the command line read stdin")
	return 0, io.EOF
}

// TestProcess runs the real process (this test binary as main): without
// arguments it speaks the protocol with nothing on stderr; with -h or an
// unknown flag it is the command line.
func TestProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args       []string
		env        []string
		stdin      string
		exit       int
		stdout     string
		stderr     string
		emptyError bool
	}{
		{env: []string{"RATIFY_VERIFIER_COMMAND=VERIFY", "RATIFY_VERIFIER_VERSION=1.0.0", "RATIFY_VERIFIER_SUBJECT=127.0.0.1:1/app@" + subjectDigest}, stdin: "{",
			exit: 1, stdout: `{"code":1,"msg":"decoding the request on stdin: unexpected EOF`, emptyError: true},
		{exit: 1, stdout: `{"code":4,"msg":"missing environment variables`, emptyError: true},
		{args: []string{"-h"}, exit: 0, stdout: "Exit status without arguments", emptyError: true},
		{args: []string{"--bogus"}, exit: 2, stderr: "notation-pkcs11-ratify: unknown flag: --bogus (run 'notation-pkcs11-ratify -h' for usage)\n"},
	}
	for _, c := range cases {
		cmd := exec.Command(exe, c.args...)
		cmd.Env = append(append(cleanEnv(), mainEnv+"=1"), c.env...)
		cmd.Stdin = strings.NewReader(c.stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		exit := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			exit = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if exit != c.exit || !strings.Contains(out.String(), c.stdout) || (c.emptyError && errOut.Len() != 0) || (!c.emptyError && errOut.String() != c.stderr) {
			t.Errorf("%q: exit %d\nstdout %q\nstderr %q\nwant exit %d, stdout with %q, stderr %q", c.args, exit, out.String(), errOut.String(), c.exit, c.stdout, c.stderr)
		}
		if len(c.args) == 0 && strings.Count(out.String(), "\n") != 1 {
			t.Errorf("protocol path: want one line, got %q", out.String())
		}
	}
}

// cleanEnv is the test's environment without RATIFY_ variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RATIFY_") {
			env = append(env, kv)
		}
	}
	return env
}
