package ratifyverifier

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

var testPKI = filepath.Join("..", "testdata", "pki")

const sigManifestType = "application/vnd.oci.image.manifest.v1+json"

// fixture is an artifact app:v1 signed with the ec-256 test chain in an
// in-process registry on 127.0.0.1, and the request Ratify would send for
// that signature.
type fixture struct {
	reg       *servicetest.Registry
	signer    *servicetest.Signer
	subject   ocispec.Descriptor
	envelope  []byte
	sigDesc   ocispec.Descriptor // the signature manifest in reg
	rootPEM   string
	mediaType string
}

func newFixture(t testing.TB, mediaType string) *fixture {
	t.Helper()
	reg := servicetest.NewRegistry(t)
	s := servicetest.NewSigner(t, testPKI, "ec-256")
	desc := reg.PutManifest("app", "v1", ocispec.MediaTypeImageManifest, []byte("ratifyverifier unit test artifact"))
	env := s.Sign(t, desc, mediaType)
	return &fixture{
		reg:       reg,
		signer:    s,
		subject:   desc,
		envelope:  env,
		sigDesc:   reg.AddSignature("app", desc, mediaType, env),
		rootPEM:   s.RootPEM(),
		mediaType: mediaType,
	}
}

// other stores another artifact app:v2 and returns its descriptor and a
// valid envelope over it from the same signer.
func (f *fixture) other(t testing.TB) (ocispec.Descriptor, []byte) {
	t.Helper()
	desc := f.reg.PutManifest("app", "v2", ocispec.MediaTypeImageManifest, []byte("another artifact"))
	return desc, f.signer.Sign(t, desc, f.mediaType)
}

// ref is REGISTRY/app@DIGEST of the artifact; tag is REGISTRY/app:v1.
func (f *fixture) ref() string { return f.reg.Ref("app@" + f.subject.Digest.String()) }
func (f *fixture) tag() string { return f.reg.Ref("app:v1") }

// env returns a getenv for a VERIFY request on the fixture's subject.
func (f *fixture) env() func(string) string { return envFor(f.ref()) }

// envFor returns a getenv for a VERIFY request on subject.
func envFor(subject string) func(string) string {
	m := map[string]string{EnvCommand: CommandVerify, EnvSubject: subject, EnvVersion: Version100}
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

// skipConfig is a verifier entry whose only statement has level skip.
func (f *fixture) skipConfig() map[string]any {
	return f.config("skip", func(c map[string]any) {
		c["trustPolicyDoc"] = map[string]any{"version": "1.0", "trustPolicies": []any{map[string]any{
			"name": "unit", "registryScopes": []string{"*"}, "signatureVerification": map[string]any{"level": "skip"}}}}
	})
}

// stdin is the request Ratify writes for the fixture's signature.
func (f *fixture) stdin(t testing.TB, config map[string]any) []byte {
	t.Helper()
	return f.stdinFor(t, config, f.sigDesc, true)
}

// stdinFor is the request for the signature manifest sig, with the store's
// useHttp.
func (f *fixture) stdinFor(t testing.TB, config map[string]any, sig ocispec.Descriptor, useHTTP bool) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"config":        config,
		"storeConfig":   map[string]any{"version": "1.0.0", "pluginBinDirs": []string{"/plugins"}, "store": map[string]any{"name": "oras", "useHttp": useHTTP}},
		"referenceDesc": map[string]any{"mediaType": sig.MediaType, "digest": sig.Digest, "size": sig.Size, "artifactType": "application/vnd.cncf.notary.signature"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// failBlobs makes every envelope download fail with a registry error whose
// message is msg (400: not retried).
func (f *fixture) failBlobs(msg string) {
	f.reg.Tamper(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/blobs/") {
			servicetest.WriteError(w, http.StatusBadRequest, "BLOB_UNKNOWN", msg)
			return true
		}
		return false
	})
}

// answerHead makes a HEAD on the manifest ref (a tag or digest) answer
// with digest and size instead of the stored manifest's.
func (f *fixture) answerHead(ref, digest string, size int64) {
	f.reg.Tamper(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/manifests/"+ref) {
			w.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
			w.Header().Set("Docker-Content-Digest", digest)
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			w.WriteHeader(http.StatusOK)
			return true
		}
		return false
	})
}
