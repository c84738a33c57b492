package registry_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

// fakeRegistry is servicetest's in-process registry on 127.0.0.1 (plain
// HTTP) with what these tests add: basic auth, a tamper hook set as a
// field, and the helpers below. The client side under test is real
// oras-go.
type fakeRegistry struct {
	*servicetest.Registry
	t *testing.T

	// user and pass, when user is set, are required as basic auth.
	user, pass string
	// tamper, when set, sees every request first; it returns true when it
	// wrote the response.
	tamper func(w http.ResponseWriter, r *http.Request) bool
}

// newFake starts a fake registry that stops at the end of the test. Set
// its fields before the first request.
func newFake(t *testing.T) *fakeRegistry {
	t.Helper()
	f := &fakeRegistry{Registry: servicetest.NewRegistry(t), t: t}
	f.Tamper(func(w http.ResponseWriter, r *http.Request) bool {
		if f.tamper != nil && f.tamper(w, r) {
			return true
		}
		if f.user != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != f.user || p != f.pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
				writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
				return true
			}
		}
		return false
	})
	return f
}

// host is "127.0.0.1:PORT"; ref is host()+"/"+s.
func (f *fakeRegistry) host() string        { return f.Host() }
func (f *fakeRegistry) ref(s string) string { return f.Ref(s) }

func (f *fakeRegistry) putBlob(mediaType string, data []byte) ocispec.Descriptor {
	return f.PutBlob(mediaType, data)
}

// putManifest stores data as a manifest of repo, under tag too if not "".
func (f *fakeRegistry) putManifest(repo, tag, mediaType string, data []byte) ocispec.Descriptor {
	return f.PutManifest(repo, tag, mediaType, data)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// addArtifact pushes a small image-manifest artifact to repo:tag.
func (f *fakeRegistry) addArtifact(repo, tag string) ocispec.Descriptor {
	layer := f.putBlob("application/vnd.test.file", []byte("hello "+tag+"\n"))
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.test.artifact",
		Config:       f.putBlob(ocispec.DescriptorEmptyJSON.MediaType, ocispec.DescriptorEmptyJSON.Data),
		Layers:       []ocispec.Descriptor{layer},
	}
	m.SchemaVersion = 2
	return f.putManifest(repo, tag, ocispec.MediaTypeImageManifest, mustJSON(f.t, m))
}

// signatureManifest builds a notation signature manifest with the given
// layers.
func (f *fakeRegistry) signatureManifest(subject ocispec.Descriptor, layers ...ocispec.Descriptor) []byte {
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: servicetest.ArtifactTypeNotation,
		Config:       f.putBlob(ocispec.DescriptorEmptyJSON.MediaType, ocispec.DescriptorEmptyJSON.Data),
		Layers:       layers,
		Subject:      &subject,
		Annotations:  map[string]string{"io.cncf.notary.x509chain.thumbprint#S256": `["00"]`},
	}
	m.SchemaVersion = 2
	return mustJSON(f.t, m)
}

// addSignature pushes a well-formed signature of subject whose envelope is
// envelope with media type envType, and lists it as a referrer.
func (f *fakeRegistry) addSignature(repo string, subject ocispec.Descriptor, envType string, envelope []byte) ocispec.Descriptor {
	layer := f.putBlob(envType, envelope)
	return f.addReferrer(repo, subject, ocispec.MediaTypeImageManifest, f.signatureManifest(subject, layer))
}

// addReferrer stores manifest data (of mediaType) and lists it as a
// notation signature referrer of subject.
func (f *fakeRegistry) addReferrer(repo string, subject ocispec.Descriptor, mediaType string, data []byte) ocispec.Descriptor {
	d := f.putManifest(repo, "", mediaType, data)
	d.ArtifactType = servicetest.ArtifactTypeNotation
	f.listReferrer(repo, subject, d)
	return d
}

// listReferrer adds d, as is, to the referrers of subject.
func (f *fakeRegistry) listReferrer(repo string, subject, d ocispec.Descriptor) {
	f.ListReferrer(repo, subject, d)
}

// requestLog returns the requests seen so far; requested reports whether
// a request for a path containing s was seen.
func (f *fakeRegistry) requestLog() []string    { return f.Requests() }
func (f *fakeRegistry) requested(s string) bool { return f.Requested(s) }

// writeContent answers with data under the digest d, which a test may make
// lie.
func writeContent(w http.ResponseWriter, mediaType string, d digest.Digest, data []byte) {
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data) // discarded for HEAD
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	servicetest.WriteError(w, status, code, msg)
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}
