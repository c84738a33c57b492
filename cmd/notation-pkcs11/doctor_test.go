package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/plugin"
)

// doctorJSON runs doctor --output json and decodes the report.
func (w *binWorld) doctorJSON(t *testing.T, env []string, args ...string) (*plugin.DoctorReport, clitest.Run) {
	t.Helper()
	r := w.run(t, env, append([]string{"doctor", "--output", "json"}, args...)...)
	var rep plugin.DoctorReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("doctor --output json: %v\n%s%s", err, r.Stdout, r.Stderr)
	}
	return &rep, r
}

// TestDoctorFixCommandsRepair: where one command repairs the broken link,
// doctor prints it (text and JSON alike); the test runs it exactly as
// printed, and doctor then passes that link.
func TestDoctorFixCommandsRepair(t *testing.T) {
	const token = "fixes"
	w := newBinWorld(t, token)
	pinFile := filepath.Join(w.dir, "user pin")
	if err := os.WriteFile(pinFile, []byte(contractPIN+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noEnvPIN := []string{"NOTATION_PKCS11_PIN="}
	cases := []struct {
		name   string
		env    []string
		key    string
		failed string
		prefix string // the command starts with it
	}{
		{"missing key", nil, "pkcs11:token=" + token + ";object=made-by-the-fix", plugin.CheckKey, "notation-pkcs11 key generate --token pkcs11:token=" + token},
		{"PIN file readable by others", noEnvPIN, "pkcs11:token=" + token + ";object=made-by-the-fix?pin-source=file:" + strings.ReplaceAll(pinFile, " ", "%20"), plugin.CheckPIN, "chmod 600 '" + pinFile + "'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, r := w.doctorJSON(t, c.env, "--key", c.key)
			last := rep.Checks[len(rep.Checks)-1]
			if rep.Failed != c.failed || r.Code != doctorExit(c.failed) || !strings.HasPrefix(last.Command, c.prefix) {
				t.Fatalf("want link %s broken with a command starting %q: %+v", c.failed, c.prefix, last)
			}
			text := w.run(t, c.env, "doctor", "--key", c.key)
			if err := clitest.Check(text, clitest.Want{Code: doctorExit(c.failed), ErrorLine: true, Secrets: []string{contractPIN}}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.Stdout, "fix: "+last.Command+"\n") && !strings.Contains(text.Stdout, "run: "+last.Command+"\n") {
				t.Fatalf("the text report does not print the command %q on its own line:\n%s", last.Command, text.Stdout)
			}
			if n := strings.Count(text.Stdout+text.Stderr, "broken link"); n != 1 {
				t.Fatalf("\"broken link\" printed %d times:\n%s%s", n, text.Stdout, text.Stderr)
			}
			sh := exec.Command("sh", "-c", last.Command)
			sh.Env = append(append([]string(nil), w.env...), c.env...)
			if out, err := sh.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", last.Command, err, out)
			}
			after, _ := w.doctorJSON(t, c.env, "--key", c.key)
			for _, ch := range after.Checks {
				if ch.Name == c.failed && ch.Status != plugin.StatusOK {
					t.Fatalf("after %s the %s link still fails: %+v", last.Command, c.failed, ch)
				}
			}
			if after.Failed == "" || after.Failed == c.failed {
				t.Fatalf("after the fix doctor stops at %q", after.Failed)
			}
		})
	}
}

// TestDoctorPolicyAndRoot: a healthy key's doctor prints a complete
// trustpolicy.json that `trustpolicy lint --strict` accepts with the root
// --root-out wrote in the store, and --root-out never clobbers another file
// without --force.
func TestDoctorPolicyAndRoot(t *testing.T) {
	const token = "policy"
	w := newBinWorld(t, token)
	key := w.newKey(t, token, "policy-key")
	w.mustJSON(t, nil, "cert", "import", "--key", key, w.certify(t, key, "Policy Signing", nil))
	store := filepath.Join(w.dir, "truststore")
	storeDir := filepath.Join(store, "x509", "ca", "acme")
	if err := os.MkdirAll(storeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(storeDir, "root.pem")
	args := []string{"doctor", "--key", key, "--name", "acme-release", "--trust-store", "acme", "--scope", "registry.example.com/app", "--root-out", root}
	r := w.run(t, nil, args...)
	if err := clitest.Check(r, clitest.Want{Code: 0, Secrets: []string{contractPIN}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(root)
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode(b); block == nil || block.Type != "CERTIFICATE" || !bytes.Equal(block.Bytes, w.ca.Root.Raw) {
		t.Fatalf("--root-out wrote %q, not the root", b)
	}
	if st, err := os.Stat(root); err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("root file mode: %v %v", st.Mode(), err)
	}
	if !strings.Contains(r.Stdout, "notation cert add --type ca --store acme "+root+"\n") {
		t.Fatalf("the trust store command does not name the root file:\n%s", r.Stdout)
	}
	// The document after the last header line is the whole trustpolicy.json.
	_, doc, ok := strings.Cut(r.Stdout, "and use this trustpolicy.json (or add its statement to yours):\n\n")
	if !ok {
		t.Fatalf("no trust policy printed:\n%s", r.Stdout)
	}
	policy := filepath.Join(w.dir, "trustpolicy.json")
	if err := os.WriteFile(policy, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	lint := runBinary(t, trustpolicyBinary(t), w.env, "", "lint", "--strict", "--policy", policy, "--truststore", store)
	if lint.Code != 0 {
		t.Fatalf("trustpolicy lint --strict refuses doctor's policy: %+v\n%s", lint, doc)
	}
	for _, want := range []string{`"version": "1.0"`, `"name": "acme-release"`, `"registry.example.com/app"`, `"level": "strict"`, `"ca:acme"`, `"x509.subject: C=US, ST=WA, O=Acme, CN=Policy Signing"`} {
		if !strings.Contains(doc, want) {
			t.Errorf("trust policy lacks %s:\n%s", want, doc)
		}
	}

	t.Run("root-out keeps other files", func(t *testing.T) {
		if r := w.run(t, nil, args...); r.Code != 0 { // the same root again: fine
			t.Fatalf("same root again: %+v", r)
		}
		other := filepath.Join(w.dir, "other.pem")
		if err := os.WriteFile(other, []byte("mine\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := w.run(t, nil, "doctor", "--key", key, "--root-out", other)
		if err := clitest.Check(r, clitest.Want{Code: 2, ErrorLine: true}); err != nil || !strings.Contains(r.Stderr, "--force") {
			t.Fatalf("%v: %s", err, r.Stderr)
		}
		if b, _ := os.ReadFile(other); string(b) != "mine\n" {
			t.Fatalf("the file was overwritten: %q", b)
		}
		if r := w.run(t, nil, "doctor", "--key", key, "--root-out", other, "--force"); r.Code != 0 {
			t.Fatalf("--force: %+v", r)
		}
		if b, _ := os.ReadFile(other); !bytes.Contains(b, []byte("BEGIN CERTIFICATE")) {
			t.Fatalf("--force did not write the root: %q", b)
		}
	})
}

// trustpolicyBinary builds cmd/trustpolicy, the verifier whose lint must
// accept doctor's policy.
func trustpolicyBinary(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "trustpolicy")
	if b, err := exec.Command("go", "build", "-o", out, "../trustpolicy").CombinedOutput(); err != nil {
		t.Fatalf("go build ../trustpolicy: %v\n%s", err, b)
	}
	return out
}
