package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/containerdverifier"
	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

// e2eWorld is a node with the verifier, and everything around it: the
// loopback registry, an OpenSSL CA (CRL only, so the CRL decides
// revocation) with the leaves "good" and "revoked", the notation CLI whose
// signingkeys.json lists them and the test PKI's ec-384 leaf ("untrusted":
// its root is not in the node's trust store), and the node's
// configuration, trust policy and trust store in a folder of their own.
type e2eWorld struct {
	tools    e2e.Tools
	reg      *e2e.Registry
	ca       *e2e.OpenSSLCA
	notation *e2e.Notation
	node     string // the node's folder
	verifier string // the verifier binary
	keys     []map[string]string
}

// Node files.
func (w *e2eWorld) config() string     { return filepath.Join(w.node, "containerd-verifier.json") }
func (w *e2eWorld) policyFile() string { return filepath.Join(w.node, "trustpolicy.json") }
func (w *e2eWorld) store() string      { return filepath.Join(w.node, "truststore") }
func (w *e2eWorld) cache() string      { return filepath.Join(w.node, "crl") }
func (w *e2eWorld) binDir() string     { return filepath.Dir(w.verifier) }

// wrongIdentityRepo is the repository whose statement trusts another
// identity than the signer's.
const wrongIdentityRepo = "wrong-identity"

func newE2EWorld(t testing.TB) *e2eWorld {
	t.Helper()
	tools := e2e.ToolsT(t)
	w := &e2eWorld{
		tools:    tools,
		reg:      e2e.StartRegistryT(t, tools),
		ca:       e2e.NewOpenSSLCAT(t, e2e.CAOptions{NoOCSP: true}),
		notation: e2e.NewNotationT(t, tools),
		node:     t.TempDir(),
	}
	certs := map[string]string{}
	for _, name := range []string{"good", "revoked"} {
		cert, key, err := w.ca.IssueLeaf(name, "")
		if err != nil {
			t.Fatal(err)
		}
		certs[name] = cert
		w.keys = append(w.keys, map[string]string{"name": name, "keyPath": key, "certPath": w.ca.ChainPath(name)})
	}
	pki, err := filepath.Abs("../../testdata/pki/ec-384")
	if err != nil {
		t.Fatal(err)
	}
	w.keys = append(w.keys, map[string]string{"name": "untrusted", "keyPath": filepath.Join(pki, "leaf.key"), "certPath": filepath.Join(pki, "chain.pem")})
	b, err := json.MarshalIndent(map[string]any{"default": "good", "keys": w.keys}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.notation.WriteTrustPolicy(map[string]any{"version": "1.0", "trustPolicies": []any{}}); err != nil {
		t.Fatal(err) // creates the config folder
	}
	if err := os.WriteFile(filepath.Join(w.notation.ConfigDir(), "signingkeys.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.ca.Revoke(certs["revoked"], "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	if err := w.ca.PublishCRL(); err != nil {
		t.Fatal(err)
	}

	storeDir := filepath.Join(w.store(), "x509", "ca", "node")
	if err := os.MkdirAll(storeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := os.ReadFile(w.ca.RootPath())
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(storeDir, "root.crt"), root)
	w.writeNodePolicy(t)
	w.writeConfig(t, w.cache(), false)

	binDir := filepath.Join(w.node, "verifiers")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if w.verifier, err = e2e.BuildContainerdVerifier(ctx, binDir); err != nil {
		t.Fatal(err)
	}
	return w
}

// writeNodePolicy writes the node's trust policy: every repository at
// level strict under the CA's root with any identity, except the
// wrong-identity repository, which trusts only another subject.
func (w *e2eWorld) writeNodePolicy(t testing.TB) {
	t.Helper()
	statement := func(name string, scope, identity string) map[string]any {
		return map[string]any{
			"name": name, "registryScopes": []string{scope},
			"signatureVerification": map[string]any{"level": "strict"},
			"trustStores":           []string{"ca:node"}, "trustedIdentities": []string{identity},
		}
	}
	writeJSON(t, w.policyFile(), map[string]any{"version": "1.0", "trustPolicies": []any{
		statement("node", "*", "*"),
		statement("wrong-identity", w.reg.Ref(wrongIdentityRepo), "x509.subject: C=US, ST=WA, O=Someone Else, CN=release"),
	}})
}

// writeConfig writes the verifier's configuration with the cache folder
// cache, online or offline. The timeouts fit the 5 s per_verifier_timeout
// the test gives containerd.
func (w *e2eWorld) writeConfig(t testing.TB, cache string, offline bool) {
	t.Helper()
	writeJSON(t, w.config(), map[string]any{
		"trustPolicy": w.policyFile(),
		"trustStore":  w.store(),
		"timeout":     "4s",
		"revocation":  map[string]any{"cacheDir": cache, "offline": offline, "ocspTimeout": "1s", "crlTimeout": "2s"},
		"registry":    map[string]any{"plainHTTP": []string{w.reg.Addr()}},
	})
}

// image pushes a minimal image to REGISTRY/repo:v1, signs it with the
// notation key key ("" for none) and returns REGISTRY/repo:v1 and its
// digest.
func (w *e2eWorld) image(t testing.TB, repo, key string, extra ...string) (string, string) {
	t.Helper()
	name := w.reg.Ref(repo + ":v1")
	dgst := e2e.PushImageT(t, w.tools, name, []byte("image "+repo+"\n"))
	if key != "" {
		w.sign(t, append([]string{"--key", key}, append(extra, w.reg.Ref(repo+"@"+dgst))...)...)
	}
	return name, dgst
}

// sign runs notation sign --insecure-registry ARGS.
func (w *e2eWorld) sign(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, errOut, code, err := w.notation.Run(ctx, append([]string{"sign", "--insecure-registry"}, args...)...)
	if err != nil || code != 0 {
		t.Fatalf("notation sign %s: exit %d, %v: %s%s", strings.Join(args, " "), code, err, out, errOut)
	}
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, b)
}

// configEnv is containerd's environment entry naming the configuration.
func (w *e2eWorld) configEnv() string { return containerdverifier.ConfigEnv + "=" + w.config() }
