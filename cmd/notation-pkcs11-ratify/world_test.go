package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

// The end-to-end tests drive the real Ratify CLI v1.4.6 (`ratify verify`)
// against a real registry on 127.0.0.1, with artifacts signed by the real
// notation CLI v1.3.2 through this project's plugin (keys in SoftHSM), and
// compare Ratify's built-in notation verifier with this verifier installed
// as a Ratify external verifier plugin.

var testPKI = filepath.Join("..", "..", "testdata", "pki")

const (
	sigArtifactType = "application/vnd.cncf.notary.signature"
	testPIN         = "ratify-e2e-Pin-5521"
)

// world is one registry, one SoftHSM token behind notation with the plugin
// installed, and one Ratify home with this verifier installed.
type world struct {
	tools  e2e.Tools
	reg    *e2e.Registry
	signer *e2e.PluginSigner
	ratify *e2e.Ratify
	dir    string
	nextID byte
}

func newWorld(t testing.TB) *world {
	t.Helper()
	tools := e2e.ToolsT(t)
	r := e2e.NewRatifyT(t)
	w := &world{tools: tools, ratify: r, dir: t.TempDir(), nextID: 0x40}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := e2e.BuildRatifyVerifier(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.InstallVerifier(bin, e2e.RatifyVerifierType); err != nil {
		t.Fatal(err)
	}
	w.reg = e2e.StartRegistryT(t, tools)
	w.signer = e2e.NewPluginSignerT(t, tools, testPIN)
	return w
}

// importKey puts a PEM key on the token under a fresh label and id.
func (w *world) importKey(t testing.TB, keyPath, label string) string {
	t.Helper()
	w.nextID++
	return w.signer.ImportKey(t, keyPath, label, []byte{0x52, w.nextID})
}

// pushSigned pushes a fresh artifact to repo and signs it through the plugin
// with the key uri and the chain at chainPath; format "" leaves it unsigned.
func (w *world) pushSigned(t testing.TB, repo, uri, chainPath, format string) string {
	t.Helper()
	r := w.reg.Ref(repo)
	ref := r + "@" + e2e.PushT(t, w.tools, r+":v1", []byte("ratify e2e "+repo+" "+time.Now().String()))
	if format != "" {
		w.signer.Sign(t, uri, chainPath, format, ref)
	}
	return ref
}

// verifiers are the two verifier entries under test, given the same trust
// policy and trust anchors.
type verifiers struct {
	builtin  map[string]any
	external map[string]any
}

// newVerifiers configures Ratify's built-in notation verifier with the root
// files in roots (verificationCerts) and this verifier with the same roots
// inline as the store "ca:test", both with the trust policy doc.
func (w *world) newVerifiers(t testing.TB, doc map[string]any, roots ...string) verifiers {
	t.Helper()
	dir, err := os.MkdirTemp(w.dir, "certs")
	if err != nil {
		t.Fatal(err)
	}
	var pems []string
	for i, r := range roots {
		b, err := os.ReadFile(r)
		if err != nil {
			t.Fatal(err)
		}
		pems = append(pems, string(b))
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(filepath.Dir(r))+"-"+string(rune('a'+i))+".crt"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return verifiers{
		builtin: map[string]any{
			"name":              "notation",
			"artifactTypes":     sigArtifactType,
			"verificationCerts": []string{dir},
			"trustPolicyDoc":    doc,
		},
		external: map[string]any{
			"name":           "np",
			"type":           e2e.RatifyVerifierType,
			"artifactTypes":  sigArtifactType,
			"trustPolicyDoc": doc,
			"trustStores":    map[string]string{"ca:test": strings.Join(pems, "")},
			"revocation":     map[string]any{"cacheDir": filepath.Join(w.dir, "crl-cache")},
		},
	}
}

// verify runs `ratify verify` on ref with one verifier entry.
func (w *world) verify(t testing.TB, ref string, verifier map[string]any) *e2e.RatifyResult {
	t.Helper()
	cfg, err := w.ratify.WriteConfig("config.json", e2e.RatifyConfig(w.ratify.PluginDir(), verifier))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := w.ratify.Verify(ctx, ref, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// policy is a one-statement trust policy for every repository.
func policy(level string, stores []string, identities []string, override map[string]string) map[string]any {
	sv := map[string]any{"level": level}
	if override != nil {
		sv["override"] = override
	}
	return map[string]any{
		"version": "1.0",
		"trustPolicies": []any{map[string]any{
			"name":                  "ratify-e2e",
			"registryScopes":        []string{"*"},
			"signatureVerification": sv,
			"trustStores":           stores,
			"trustedIdentities":     identities,
		}},
	}
}

func root(kt string) string  { return filepath.Join(testPKI, kt, "root.crt") }
func chain(kt string) string { return filepath.Join(testPKI, kt, "chain.pem") }

// report returns the one verifier report of res, failing the test when
// Ratify did not run exactly one verifier on exactly one signature.
func report(t testing.TB, what string, res *e2e.RatifyResult) e2e.RatifyReport {
	t.Helper()
	r, err := res.Only()
	if err != nil {
		t.Fatalf("%s: %v\nstderr: %s", what, err, res.Stderr)
	}
	if r.IsSuccess != res.IsSuccess {
		t.Fatalf("%s: report isSuccess %v but overall %v: %s", what, r.IsSuccess, res.IsSuccess, res.Stdout)
	}
	return r
}

func ratifyConfig(w *world, verifier map[string]any) map[string]any {
	return e2e.RatifyConfig(w.ratify.PluginDir(), verifier)
}

// mustVerify runs `ratify verify` with the config file at path and fails
// unless the artifact verified.
func (w *world) mustVerify(t testing.TB, ref, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := w.ratify.Verify(ctx, ref, path)
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsSuccess {
		t.Fatalf("%s: not verified: %s", filepath.Base(path), res.Stdout)
	}
}
