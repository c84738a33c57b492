package registry_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeRegistry is a minimal OCI distribution server for fault injection:
// manifests by tag and digest, blobs, and referrers either through the
// referrers API or through the referrers tag schema (an index synthesized on
// request at tag "sha256-<hex>"). The client side under test is real oras-go.
type fakeRegistry struct {
	t   *testing.T
	srv *httptest.Server

	// referrersAPI serves GET /v2/REPO/referrers/DIGEST; otherwise that
	// endpoint is 404 and the tag schema index is served.
	referrersAPI bool
	// user and pass, when user is set, are required as basic auth.
	user, pass string
	// tamper, when set, sees every request first; it returns true when it
	// wrote the response.
	tamper func(w http.ResponseWriter, r *http.Request) bool

	mu        sync.Mutex
	manifests map[string]stored // "REPO@DIGEST" and "REPO:TAG"
	blobs     map[digest.Digest][]byte
	referrers map[string][]ocispec.Descriptor // "REPO@SUBJECT-DIGEST"
	requests  []string                        // "METHOD PATH"
}

type stored struct {
	mediaType string
	data      []byte
}

// newFake starts a fake registry on 127.0.0.1 (plain HTTP) and stops it at
// the end of the test.
func newFake(t *testing.T) *fakeRegistry {
	t.Helper()
	f := &fakeRegistry{
		t:         t,
		manifests: map[string]stored{},
		blobs:     map[digest.Digest][]byte{},
		referrers: map[string][]ocispec.Descriptor{},
	}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// host is "127.0.0.1:PORT".
func (f *fakeRegistry) host() string { return strings.TrimPrefix(f.srv.URL, "http://") }

// ref is host()+"/"+s.
func (f *fakeRegistry) ref(s string) string { return f.host() + "/" + s }

func (f *fakeRegistry) putBlob(mediaType string, data []byte) ocispec.Descriptor {
	d := digest.FromBytes(data)
	f.mu.Lock()
	f.blobs[d] = data
	f.mu.Unlock()
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

// putManifest stores data as a manifest of repo, under tag too if not "".
func (f *fakeRegistry) putManifest(repo, tag, mediaType string, data []byte) ocispec.Descriptor {
	d := digest.FromBytes(data)
	f.mu.Lock()
	f.manifests[repo+"@"+d.String()] = stored{mediaType, data}
	if tag != "" {
		f.manifests[repo+":"+tag] = stored{mediaType, data}
	}
	f.mu.Unlock()
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
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
		ArtifactType: "application/vnd.cncf.notary.signature",
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
	d.ArtifactType = "application/vnd.cncf.notary.signature"
	f.listReferrer(repo, subject, d)
	return d
}

// listReferrer adds d, as is, to the referrers of subject.
func (f *fakeRegistry) listReferrer(repo string, subject, d ocispec.Descriptor) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := repo + "@" + subject.Digest.String()
	f.referrers[k] = append(f.referrers[k], d)
}

// requestLog returns the requests seen so far.
func (f *fakeRegistry) requestLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// requested reports whether a request for a path containing s was seen.
func (f *fakeRegistry) requested(s string) bool {
	for _, r := range f.requestLog() {
		if strings.Contains(r, s) {
			return true
		}
	}
	return false
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	if f.tamper != nil && f.tamper(w, r) {
		return
	}
	if f.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != f.user || p != f.pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
			return
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "read-only fake")
		return
	}
	if r.URL.Path == "/v2/" {
		w.WriteHeader(http.StatusOK)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v2/")
	if i := strings.LastIndex(path, "/manifests/"); i > 0 {
		f.serveManifest(w, path[:i], path[i+len("/manifests/"):])
		return
	}
	if i := strings.LastIndex(path, "/blobs/"); i > 0 {
		f.mu.Lock()
		data, ok := f.blobs[digest.Digest(path[i+len("/blobs/"):])]
		f.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown")
			return
		}
		writeContent(w, "application/octet-stream", digest.FromBytes(data), data)
		return
	}
	if i := strings.LastIndex(path, "/referrers/"); i > 0 && f.referrersAPI {
		f.mu.Lock()
		list := f.referrers[path[:i]+"@"+path[i+len("/referrers/"):]]
		f.mu.Unlock()
		data := indexJSON(f.t, list)
		writeContent(w, ocispec.MediaTypeImageIndex, digest.FromBytes(data), data)
		return
	}
	http.NotFound(w, r) // like distribution for the referrers API
}

func (f *fakeRegistry) serveManifest(w http.ResponseWriter, repo, ref string) {
	key := repo + ":" + ref
	if strings.Contains(ref, ":") {
		key = repo + "@" + ref
	}
	f.mu.Lock()
	s, ok := f.manifests[key]
	if !ok && !f.referrersAPI && strings.HasPrefix(ref, "sha256-") {
		// Referrers tag schema: synthesize the index.
		if list, found := f.referrers[repo+"@sha256:"+strings.TrimPrefix(ref, "sha256-")]; found {
			s, ok = stored{ocispec.MediaTypeImageIndex, indexJSON(f.t, list)}, true
		}
	}
	f.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
		return
	}
	writeContent(w, s.mediaType, digest.FromBytes(s.data), s.data)
}

func indexJSON(t *testing.T, list []ocispec.Descriptor) []byte {
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: list}
	idx.SchemaVersion = 2
	if idx.Manifests == nil {
		idx.Manifests = []ocispec.Descriptor{}
	}
	return mustJSON(t, idx)
}

func writeContent(w http.ResponseWriter, mediaType string, d digest.Digest, data []byte) {
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data) // discarded for HEAD
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	body, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}
