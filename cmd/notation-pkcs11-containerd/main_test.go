package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/containerdverifier"
	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

// node is a configuration, trust policy and trust store in a temporary
// folder, trusting the test PKI's ec-256 root.
type node struct {
	dir    string
	config string
}

func newNode(t *testing.T, plainHTTP ...string) *node {
	t.Helper()
	n := &node{dir: t.TempDir()}
	n.config = filepath.Join(n.dir, "containerd-verifier.json")
	store := filepath.Join(n.dir, "truststore", "x509", "ca", "node")
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := os.ReadFile("../../testdata/pki/ec-256/root.crt")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(store, "root.crt"), root)
	n.writePolicy(t, `{"version": "1.0", "trustPolicies": [{"name": "node", "registryScopes": ["*"],
		"signatureVerification": {"level": "strict"}, "trustStores": ["ca:node"], "trustedIdentities": ["*"]}]}`)
	cfg, err := json.Marshal(map[string]any{
		"trustPolicy": filepath.Join(n.dir, "trustpolicy.json"),
		"trustStore":  filepath.Join(n.dir, "truststore"),
		"revocation":  map[string]any{"cacheDir": filepath.Join(n.dir, "crl")},
		"registry":    map[string]any{"plainHTTP": append([]string{}, plainHTTP...)},
	})
	if err != nil {
		t.Fatal(err)
	}
	write(t, n.config, cfg)
	return n
}

func (n *node) writePolicy(t *testing.T, doc string) {
	t.Helper()
	write(t, filepath.Join(n.dir, "trustpolicy.json"), []byte(doc))
}

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (n *node) getenv(k string) string {
	if k == containerdverifier.ConfigEnv {
		return n.config
	}
	return ""
}

// runCmd runs the command in-process.
func runCmd(getenv func(string) string, stdin string, args ...string) clitest.Run {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, getenv, strings.NewReader(stdin), &out, &errOut)
	return clitest.Run{Args: args, Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

func TestContract(t *testing.T) {
	n := newNode(t)
	broken := newNode(t)
	broken.writePolicy(t, `{"version": "1.0", "trustPolicies": [{"name": "node", "registryScopes": ["*"],
		"signatureVerification": {"level": "strict"}, "trustStore": ["ca:node"], "trustedIdentities": ["*"]}]}`)
	none := func(string) string { return "" }
	cases := []struct {
		name   string
		getenv func(string) string
		args   []string
		want   clitest.Want
		stdout []string
	}{
		{"help lists the exit codes", none, []string{"-h"}, clitest.Want{Code: 0},
			[]string{"-name REF -digest DIGEST -stdin-media-type application/vnd.oci.descriptor.v1+json", "0  allowed", "1  refused", "2  refused: bad arguments", "3  refused: the configuration", "4  refused: no answer within the configured timeout"}},
		{"check help lists its exit codes", none, []string{"check", "-h"}, clitest.Want{Code: 0}, []string{"0  clean", "1  problems found", "2  usage mistake"}},
		{"version", none, []string{"version"}, clitest.Want{Code: 0}, []string{"notation-pkcs11-containerd 0.1.0"}},
		{"version json", none, []string{"version", "--output", "json"}, clitest.Want{Code: 0, JSON: true}, []string{`"schema": "notation-pkcs11/version/v1"`}},
		{"check clean", n.getenv, []string{"check"}, clitest.Want{Code: 0}, []string{"ok: " + n.config, "revocation cache " + filepath.Join(n.dir, "crl") + " (online)", "timeout 8s"}},
		{"check clean json", none, []string{"check", "--config", n.config, "-o", "json"}, clitest.Want{Code: 0, JSON: true}, []string{`"valid": true`, `"schema": "notation-pkcs11/containerd-check/v1"`}},
		{"check finds the policy problem", broken.getenv, []string{"check"}, clitest.Want{Code: 1},
			[]string{"2 problem(s); the verifier refuses every pull until they are fixed", `policy trustPolicies[0].trustStore: unknown key "trustStore"`, "fix: edit " + filepath.Join(broken.dir, "trustpolicy.json")}},
		{"check problem json", broken.getenv, []string{"check", "--output", "json"}, clitest.Want{Code: 1, JSON: true}, []string{`"valid": false`, `"path": "trustPolicies[0].trustStore"`}},
		{"check missing configuration", none, []string{"check", "--config", filepath.Join(n.dir, "absent.json")}, clitest.Want{Code: 2, ErrorLine: true}, nil},
		{"check missing configuration json", none, []string{"check", "--config", filepath.Join(n.dir, "absent.json"), "--output", "json"}, clitest.Want{Code: 2, ErrorLine: true, JSON: true}, []string{`"kind": "usage"`}},
		{"unknown command", none, []string{"verify"}, clitest.Want{Code: 2, ErrorLine: true}, nil},
		{"unknown flag", none, []string{"check", "--policy", "x"}, clitest.Want{Code: 2, ErrorLine: true}, nil},
		{"check takes no argument", none, []string{"check", "extra"}, clitest.Want{Code: 2, ErrorLine: true}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCmd(c.getenv, "", c.args...)
			if err := clitest.Check(r, c.want); err != nil {
				t.Errorf("%v\nstdout: %s\nstderr: %s", err, r.Stdout, r.Stderr)
			}
			for _, s := range c.stdout {
				if !strings.Contains(r.Stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.Stdout)
				}
			}
		})
	}
}

// The fix that check and the verifier print works as printed: after the
// edit, the command in it passes.
func TestFixCommandRuns(t *testing.T) {
	n := newNode(t)
	n.writePolicy(t, `{"version": "1.0", "trustPolicies": [{"name": "node", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:node"], "trustedIdentities": ["*"], "extra": 1}]}`)
	r := runCmd(n.getenv, "", "check")
	_, fix, ok := strings.Cut(r.Stdout, "fix: ")
	if r.Code != 1 || !ok {
		t.Fatalf("check: exit %d, no fix: %s", r.Code, r.Stdout)
	}
	_, command, ok := strings.Cut(strings.TrimSpace(fix), "then run: ")
	if !ok || !strings.HasPrefix(command, name+" check --config ") {
		t.Fatalf("fix %q names no check command", fix)
	}
	n.writePolicy(t, `{"version": "1.0", "trustPolicies": [{"name": "node", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:node"], "trustedIdentities": ["*"]}]}`)
	args := strings.Fields(strings.TrimPrefix(command, name+" "))
	if r := runCmd(func(string) string { return "" }, "", args...); r.Code != 0 {
		t.Errorf("%s after the edit: exit %d: %s%s", command, r.Code, r.Stdout, r.Stderr)
	}
}

// As containerd runs it: the reason is one write on stdout ending in a
// newline, debug lines on stderr, the exit code says allow or refuse.
func TestProtocol(t *testing.T) {
	reg := servicetest.NewRegistry(t)
	n := newNode(t, reg.Host())
	signer := servicetest.NewSigner(t, "../../testdata/pki", "ec-256")
	cfg := reg.PutBlob(ocispec.MediaTypeImageConfig, []byte(`{"os":"linux"}`))
	m, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{}})
	signed := reg.PutManifest("app", "v1", ocispec.MediaTypeImageManifest, m)
	reg.AddSignature("app", signed, "application/cose", signer.Sign(t, signed, "application/cose"))
	m2, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{}, Annotations: map[string]string{"a": "b"}})
	unsigned := reg.PutManifest("app", "v2", ocispec.MediaTypeImageManifest, m2)

	invoke := func(tag string, d ocispec.Descriptor) clitest.Run {
		b, _ := json.Marshal(d)
		return runCmd(n.getenv, string(b)+"\n", "-name", reg.Ref("app:"+tag), "-digest", d.Digest.String(), "-stdin-media-type", containerdverifier.DescriptorMediaType)
	}
	for _, c := range []struct {
		name  string
		run   clitest.Run
		code  int
		first string
	}{
		{"signed", invoke("v1", signed), containerdverifier.ExitAllowed, "verified: " + reg.Ref("app@") + signed.Digest.String()},
		{"unsigned", invoke("v2", unsigned), containerdverifier.ExitRefused, "failed: " + reg.Ref("app@") + unsigned.Digest.String()},
		{"bad invocation", runCmd(n.getenv, "", "-name", reg.Ref("app:v1")), containerdverifier.ExitInvocation, "refused: bad invocation: -digest is missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.run
			if err := clitest.Check(r, clitest.Want{Code: c.code}); err != nil {
				t.Errorf("%v\nstdout: %s\nstderr: %s", err, r.Stdout, r.Stderr)
			}
			if !strings.HasPrefix(r.Stdout, c.first) || !strings.HasSuffix(r.Stdout, "\n") {
				t.Errorf("stdout %q: want it to start with %q and end with a newline", r.Stdout, c.first)
			}
			for _, l := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
				if l != "" && !strings.HasPrefix(l, name+": ") {
					t.Errorf("stderr line %q is not a debug line of %s", l, name)
				}
			}
		})
	}
}
