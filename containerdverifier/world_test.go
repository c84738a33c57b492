package containerdverifier

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

const pkiDir = "../testdata/pki"

// world is a node's set-up for the unit tests: a configuration, trust
// policy and trust store in a temporary folder, and an in-process registry
// on 127.0.0.1 with images signed by the test PKI's ec-256 leaf.
type world struct {
	dir    string
	reg    *servicetest.Registry
	signer *servicetest.Signer
	cfg    map[string]any // the configuration document
	policy map[string]any
	images int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{dir: t.TempDir(), reg: servicetest.NewRegistry(t), signer: servicetest.NewSigner(t, pkiDir, "ec-256")}
	w.policy = map[string]any{
		"version": "1.0",
		"trustPolicies": []any{map[string]any{
			"name":                  "node",
			"registryScopes":        []string{"*"},
			"signatureVerification": map[string]any{"level": "strict"},
			"trustStores":           []string{"ca:node"},
			"trustedIdentities":     []string{"x509.subject: C=US, ST=WA, L=Seattle, O=Notation PKCS11 Test, CN=Test Signing EC-256"},
		}},
	}
	w.trustRoot(t, "ec-256")
	w.cfg = map[string]any{
		"trustPolicy": w.path("trustpolicy.json"),
		"trustStore":  w.path("truststore"),
		"revocation":  map[string]any{"cacheDir": w.path("crl")},
		"registry":    map[string]any{"plainHTTP": []string{w.reg.Host()}},
	}
	w.write(t)
	return w
}

func (w *world) path(p string) string { return filepath.Join(w.dir, p) }

// configFile is the configuration's path.
func (w *world) configFile() string { return w.path("containerd-verifier.json") }

// trustRoot makes the trust store ca:node hold the root of keyType.
func (w *world) trustRoot(t *testing.T, keyType string) {
	t.Helper()
	store := w.path("truststore/x509/ca/node")
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := os.ReadFile(filepath.Join(pkiDir, keyType, "root.crt"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(store, "root.crt"), root)
}

// write writes the configuration and the policy.
func (w *world) write(t *testing.T) {
	t.Helper()
	writeJSON(t, w.configFile(), w.cfg)
	writeJSON(t, w.path("trustpolicy.json"), w.policy)
}

// image pushes an image manifest to repo and returns its descriptor and
// REGISTRY/REPO:TAG.
func (w *world) image(t *testing.T, repo string) (ocispec.Descriptor, string) {
	t.Helper()
	w.images++
	cfg := w.reg.PutBlob(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{},
		Annotations: map[string]string{"test.image": fmt.Sprintf("%s %d", repo, w.images)}} // a digest of its own
	m.SchemaVersion = 2
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return w.reg.PutManifest(repo, "v1", ocispec.MediaTypeImageManifest, b), w.reg.Ref(repo + ":v1")
}

// signed pushes an image signed with signer (w.signer when nil).
func (w *world) signed(t *testing.T, repo string, signer *servicetest.Signer) (ocispec.Descriptor, string) {
	t.Helper()
	if signer == nil {
		signer = w.signer
	}
	desc, name := w.image(t, repo)
	w.reg.AddSignature(repo, desc, "application/jose+json", signer.Sign(t, desc, "application/jose+json"))
	return desc, name
}

// args are containerd's arguments for the image name with manifest desc.
func args(name string, desc ocispec.Descriptor) []string {
	return []string{"-name", name, "-digest", desc.Digest.String(), "-stdin-media-type", DescriptorMediaType}
}

// env is the process environment pointing at the world's configuration,
// with desc on stdin.
func (w *world) env(desc ocispec.Descriptor) Env {
	b, _ := json.Marshal(desc)
	return Env{
		Getenv: func(k string) string {
			if k == ConfigEnv {
				return w.configFile()
			}
			return ""
		},
		Stdin: bytesReader(append(b, '\n')),
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
}
