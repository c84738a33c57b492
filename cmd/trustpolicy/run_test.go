package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/notation-go"
	nsigner "github.com/notaryproject/notation-go/signer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

var pkiDir = filepath.Join("..", "..", "testdata", "pki")

// localWorld is a notation configuration folder (policy and trust store)
// and one COSE and one JWS envelope signed by the EC-256 test leaf.
type localWorld struct {
	config   string
	desc     string // descriptor file
	digest   string
	envelope map[string]string // media type -> file
}

const goodPolicy = `{"version":"1.0","trustPolicies":[{"name":"release","registryScopes":["registry.example/app"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:test"],
 "trustedIdentities":["x509.subject: C=US, ST=WA, O=Notation PKCS11 Test"]}]}`

func newLocalWorld(t *testing.T, policy string) *localWorld {
	t.Helper()
	dir := t.TempDir()
	w := &localWorld{config: filepath.Join(dir, "config"), envelope: map[string]string{}}
	store := filepath.Join(w.config, "truststore", "x509", "ca", "test")
	if err := os.MkdirAll(store, 0o700); err != nil {
		t.Fatal(err)
	}
	root, err := os.ReadFile(filepath.Join(pkiDir, "ec-256", "root.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store, "root.crt"), root, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.config, "trustpolicy.json"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	chain, err := testpki.LoadCertificates(filepath.Join(pkiDir, "ec-256", "chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := testpki.LoadSigner(filepath.Join(pkiDir, "ec-256", "leaf.key"))
	if err != nil {
		t.Fatal(err)
	}
	content := []byte(`{"schemaVersion":2}`)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(content), Size: int64(len(content))}
	w.digest = desc.Digest.String()
	raw, _ := json.Marshal(desc)
	w.desc = filepath.Join(dir, "desc.json")
	if err := os.WriteFile(w.desc, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := nsigner.NewGenericSigner(key, chain)
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range []string{"application/cose", "application/jose+json"} {
		env, _, err := s.Sign(context.Background(), desc, notation.SignerSignOptions{SignatureMediaType: mt})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, strings.ReplaceAll(mt, "/", "_"))
		if err := os.WriteFile(p, env, 0o600); err != nil {
			t.Fatal(err)
		}
		w.envelope[mt] = p
	}
	return w
}

func (w *localWorld) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runWithConfig(context.Background(), w.config, func() time.Time { return time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC) }, args...)
}

// runWithConfig runs this command in-process with NOTATION_CONFIG=cfg as its
// only environment variable (so no user cache folder: revocation caches stay
// in memory) and now as its clock, and returns the exit code, stdout and
// stderr.
func runWithConfig(ctx context.Context, cfg string, now func() time.Time, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(ctx, args, env{
		stdout: &out,
		stderr: &errOut,
		getenv: configOnly(cfg),
		now:    now,
	})
	return code, out.String(), errOut.String()
}

// configOnly is a getenv that knows only NOTATION_CONFIG=cfg.
func configOnly(cfg string) func(string) string {
	return func(k string) string {
		if k == "NOTATION_CONFIG" {
			return cfg
		}
		return ""
	}
}

func (w *localWorld) local(mt string, extra ...string) []string {
	return append([]string{"verify", "--signature", w.envelope[mt], "--media-type", mt, "--descriptor", w.desc,
		"--reference", "registry.example/app@" + w.digest}, extra...)
}

func TestLocalVerify(t *testing.T) {
	w := newLocalWorld(t, goodPolicy)
	for _, mt := range []string{"application/cose", "application/jose+json"} {
		code, out, errOut := w.run(t, w.local(mt)...)
		if code != exitVerified || !strings.Contains(out, "verified") {
			t.Fatalf("%s: exit %d\n%s%s", mt, code, out, errOut)
		}
		code, out, _ = w.run(t, w.local(mt, "--output", "json")...)
		var rep trustpolicy.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitVerified {
			t.Fatalf("json: exit %d, %v\n%s", code, err, out)
		}
		if rep.Schema != trustpolicy.SchemaVersion || rep.Verdict != trustpolicy.VerdictVerified || len(rep.Signatures) != 1 {
			t.Fatalf("report %+v", rep)
		}
		s := rep.Signatures[0]
		if len(s.Chain) != 3 || s.Chain[2].Trusted != "ca:test" || s.Chain[0].Role != "leaf" {
			t.Errorf("chain %+v", s.Chain)
		}
		if s.Policy == nil || s.Policy.Name != "release" || s.Policy.Scope != "registry.example/app" {
			t.Errorf("policy %+v", s.Policy)
		}
	}
}

func TestLocalVerifyFailures(t *testing.T) {
	w := newLocalWorld(t, goodPolicy)
	tampered := filepath.Join(t.TempDir(), "tampered")
	raw, _ := os.ReadFile(w.envelope["application/jose+json"])
	raw = bytes.Replace(raw, []byte(`"signature":"`), []byte(`"signature":"AA`), 1)
	if err := os.WriteFile(tampered, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	otherDesc := filepath.Join(t.TempDir(), "other.json")
	if err := os.WriteFile(otherDesc, []byte(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:`+strings.Repeat("1", 64)+`","size":3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"tampered envelope", []string{"verify", "--signature", tampered, "--media-type", "application/jose+json", "--descriptor", w.desc, "--reference", "registry.example/app@" + w.digest}, exitFailed, "integrity"},
		{"wrong media type", []string{"verify", "--signature", w.envelope["application/cose"], "--media-type", "application/jose+json", "--descriptor", w.desc, "--reference", "registry.example/app@" + w.digest}, exitFailed, "integrity"},
		{"other artifact", []string{"verify", "--signature", w.envelope["application/cose"], "--media-type", "application/cose", "--descriptor", otherDesc, "--reference", "registry.example/app@" + w.digest}, exitFailed, "content descriptor mismatch"},
		{"no policy for repo", []string{"verify", "--signature", w.envelope["application/cose"], "--media-type", "application/cose", "--descriptor", w.desc, "--reference", "registry.example/other@" + w.digest}, exitFailed, "registryScopes"},
		{"metadata required", w.local("application/cose", "--user-metadata", "team=release"), exitFailed, "team=release"},
		{"missing flag", []string{"verify", "--signature", w.envelope["application/cose"]}, exitUsage, "needs all of"},
		{"no reference", []string{"verify"}, exitUsage, "needs one artifact reference"},
		{"both modes", append(w.local("application/cose"), "registry.example/app:v1"), exitUsage, "not both"},
		{"tag reference local", []string{"verify", "--signature", w.envelope["application/cose"], "--media-type", "application/cose", "--descriptor", w.desc, "--reference", "registry.example/app:v1"}, exitUsage, "registry.example/app:v1"},
		{"unreadable signature", []string{"verify", "--signature", "/nonexistent/sig", "--media-type", "application/cose", "--descriptor", w.desc, "--reference", "registry.example/app@" + w.digest}, exitUsage, "/nonexistent/sig"},
		{"bad output", w.local("application/cose", "--output", "yaml"), exitUsage, "text or json"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
		{"bad max signatures", []string{"verify", "--max-signatures", "0", "registry.example/app:v1"}, exitUsage, "--max-signatures"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := w.run(t, c.args...)
			if code != c.code || !strings.Contains(out+errOut, c.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s%s", code, c.code, c.want, out, errOut)
			}
		})
	}
}

func TestExplainShowsFix(t *testing.T) {
	w := newLocalWorld(t, strings.Replace(goodPolicy, "O=Notation PKCS11 Test", "O=Someone Else", 1))
	code, out, _ := w.run(t, append([]string{"explain"}, w.local("application/cose")[1:]...)...)
	if code != exitFailed {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{"FAILED", `"release"`, "authenticity", "enforce", "How to fix", "x509.subject: ", "CN=Test Signing EC-256", "sha256"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
}

func TestInvalidPolicyExit2(t *testing.T) {
	w := newLocalWorld(t, `{"version":"1.0","trustPolicies":[{"name":"x","registryScopes":["example.com/*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:test"],"trustedIdentities":["*"]}]}`)
	code, out, errOut := w.run(t, w.local("application/cose")...)
	if code != exitUsage || !strings.Contains(errOut, "trustPolicies[0].registryScopes[0]") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = w.run(t, "lint", "--output", "json")
	var rep lintReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitUsage || rep.Valid || len(rep.Problems) == 0 {
		t.Fatalf("lint exit %d, %v: %s", code, err, out)
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
	if code != exitUsage || !strings.Contains(out, "notes.txt") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	code, out, _ = w.run(t, w.local("application/cose")...)
	if code != exitFailed || !strings.Contains(out, "authenticity") {
		t.Fatalf("verify with a broken store: exit %d\n%s", code, out)
	}
}
