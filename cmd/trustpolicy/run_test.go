package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
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
	chain, err := testpki.LoadCertificates(filepath.Join(pkiDir, "ec-256", "chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := testpki.LoadSigner(filepath.Join(pkiDir, "ec-256", "leaf.key"))
	if err != nil {
		t.Fatal(err)
	}
	return newLocalWorldWith(t, policy, chain, key)
}

// newLocalWorldWith is newLocalWorld with envelopes signed by key with
// chain (whose root must be the ec-256 test root).
func newLocalWorldWith(t *testing.T, policy string, chain []*x509.Certificate, key crypto.Signer) *localWorld {
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
	w.writePolicy(t, policy)
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

func (w *localWorld) writePolicy(t *testing.T, policy string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(w.config, "trustpolicy.json"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
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
		if rep.Schema != trustpolicy.SchemaVersion || rep.Verdict != trustpolicy.VerdictVerified || len(rep.Signatures) != 1 ||
			rep.Reference != "registry.example/app@"+w.digest || rep.Tag != "" || rep.Warnings == nil || len(rep.Warnings) != 0 {
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
