package ratifyverifier

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/notaryproject/notation-go"
	nsigner "github.com/notaryproject/notation-go/signer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
)

var testPKI = filepath.Join("..", "testdata", "pki")

const (
	testRepo        = "registry.example/app"
	sigManifestType = "application/vnd.oci.image.manifest.v1+json"
)

// fixture is an artifact signed with the ec-256 test chain, and the request
// Ratify would send for it.
type fixture struct {
	subject   ocispec.Descriptor
	envelope  []byte
	sigDesc   ocispec.Descriptor
	rootPEM   string
	signer    notation.Signer
	mediaType string
}

func newFixture(t testing.TB, mediaType string) *fixture {
	t.Helper()
	dir := filepath.Join(testPKI, "ec-256")
	chain, err := testpki.LoadCertificates(filepath.Join(dir, "chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := testpki.LoadSigner(filepath.Join(dir, "leaf.key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := nsigner.NewGenericSigner(key, chain)
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("ratifyverifier unit test artifact")
	desc := ocispec.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: digest.FromBytes(content), Size: int64(len(content))}
	env, _, err := s.Sign(context.Background(), desc, notation.SignerSignOptions{SignatureMediaType: mediaType})
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.ReadFile(filepath.Join(dir, "root.crt"))
	if err != nil {
		t.Fatal(err)
	}
	sig := []byte(`{"signature manifest":"` + desc.Digest.String() + `"}`)
	return &fixture{
		subject:   desc,
		envelope:  env,
		sigDesc:   ocispec.Descriptor{MediaType: sigManifestType, Digest: digest.FromBytes(sig), Size: int64(len(sig))},
		rootPEM:   string(root),
		signer:    s,
		mediaType: mediaType,
	}
}

// signed returns another artifact's descriptor and a valid envelope over it
// from the same signer.
func (f *fixture) signed(t testing.TB, content string) (ocispec.Descriptor, []byte) {
	t.Helper()
	desc := ocispec.Descriptor{MediaType: f.subject.MediaType, Digest: digest.FromString(content), Size: int64(len(content))}
	env, _, err := f.signer.Sign(context.Background(), desc, notation.SignerSignOptions{SignatureMediaType: f.mediaType})
	if err != nil {
		t.Fatal(err)
	}
	return desc, env
}

func (f *fixture) ref() string { return testRepo + "@" + f.subject.Digest.String() }

// env returns a getenv for a VERIFY request on the fixture's subject.
func (f *fixture) env() func(string) string {
	m := map[string]string{EnvCommand: CommandVerify, EnvSubject: f.ref(), EnvVersion: Version100}
	return func(k string) string { return m[k] }
}

// config is a verifier entry trusting the fixture's root in ca:test.
func (f *fixture) config(level string, mutate func(map[string]any)) map[string]any {
	c := map[string]any{
		"name":          "np",
		"type":          "notation-pkcs11-ratify",
		"artifactTypes": "application/vnd.cncf.notary.signature",
		"trustPolicyDoc": map[string]any{"version": "1.0", "trustPolicies": []any{map[string]any{
			"name": "unit", "registryScopes": []string{"*"},
			"signatureVerification": map[string]any{"level": level},
			"trustStores":           []string{"ca:test"}, "trustedIdentities": []string{"*"},
		}}},
		"trustStores": map[string]string{"ca:test": f.rootPEM},
		"revocation":  map[string]any{"noDiskCache": true},
	}
	if mutate != nil {
		mutate(c)
	}
	return c
}

// stdin is the request Ratify writes.
func (f *fixture) stdin(t testing.TB, config map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"config":        config,
		"storeConfig":   map[string]any{"version": "1.0.0", "pluginBinDirs": []string{"/plugins"}, "store": map[string]any{"name": "oras", "useHttp": true}},
		"referenceDesc": map[string]any{"mediaType": f.sigDesc.MediaType, "digest": f.sigDesc.Digest, "size": f.sigDesc.Size, "artifactType": "application/vnd.cncf.notary.signature"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeFetcher answers from memory and can fail either step.
type fakeFetcher struct {
	f          *fixture
	resolveErr error
	fetchErr   error
	subject    *ocispec.Descriptor // overrides f.subject
	envelope   []byte              // overrides f.envelope
	mediaType  string
	// ref is a subject reference Resolve answers besides f.ref() (a tag).
	ref string
	// sigSubject is the signature manifest's subject; nil: none.
	sigSubject *ocispec.Descriptor
}

func (x *fakeFetcher) Resolve(_ context.Context, subject string) (ocispec.Descriptor, error) {
	if x.resolveErr != nil {
		return ocispec.Descriptor{}, x.resolveErr
	}
	if subject != x.f.ref() && (x.ref == "" || subject != x.ref) {
		return ocispec.Descriptor{}, errors.New("fake: unknown subject " + subject)
	}
	if x.subject != nil {
		return *x.subject, nil
	}
	return x.f.subject, nil
}

func (x *fakeFetcher) Envelope(_ context.Context, _ string, sig ocispec.Descriptor) (Signature, error) {
	if x.fetchErr != nil {
		return Signature{}, x.fetchErr
	}
	if sig.Digest != x.f.sigDesc.Digest {
		return Signature{}, errors.New("fake: unknown signature " + sig.Digest.String())
	}
	env, mt := x.f.envelope, "application/cose"
	if x.envelope != nil {
		env = x.envelope
	}
	if x.mediaType != "" {
		mt = x.mediaType
	}
	return Signature{Envelope: env, MediaType: mt, Subject: x.sigSubject}, nil
}
