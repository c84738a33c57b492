// Package servicetest holds test doubles for the gates built on package
// service: an in-process OCI registry on 127.0.0.1 with fault injection,
// and a signer over the deterministic test PKI. It is for tests only.
package servicetest

import (
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

// ArtifactTypeNotation is the artifactType of a Notary Project signature.
const ArtifactTypeNotation = "application/vnd.cncf.notary.signature"

// Registry is a minimal read-only OCI distribution server over plain HTTP
// on 127.0.0.1: manifests by tag and digest, blobs, and the referrers of a
// manifest through the referrers tag schema (an index at tag
// "sha256-<hex>") or, with ReferrersAPI, the referrers API. Tamper sees
// every request first. It is safe for concurrent use.
type Registry struct {
	srv *httptest.Server

	mu           sync.Mutex
	referrersAPI bool
	tamper       func(w http.ResponseWriter, r *http.Request) bool
	manifests    map[string]stored // "REPO@DIGEST" and "REPO:TAG"
	blobs        map[digest.Digest][]byte
	referrers    map[string][]ocispec.Descriptor // "REPO@SUBJECT-DIGEST"
	requests     []string                        // "METHOD PATH"
}

type stored struct {
	mediaType string
	data      []byte
}

// NewRegistry starts a Registry on 127.0.0.1 that stops at the end of the
// test.
func NewRegistry(t testing.TB) *Registry {
	t.Helper()
	r := &Registry{
		manifests: map[string]stored{},
		blobs:     map[digest.Digest][]byte{},
		referrers: map[string][]ocispec.Descriptor{},
	}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	return r
}

// Host is "127.0.0.1:PORT".
func (r *Registry) Host() string { return strings.TrimPrefix(r.srv.URL, "http://") }

// Ref is Host()+"/"+s.
func (r *Registry) Ref(s string) string { return r.Host() + "/" + s }

// Close stops the server: every later request fails to connect.
func (r *Registry) Close() { r.srv.Close() }

// UseReferrersAPI serves the referrers API instead of the tag schema.
func (r *Registry) UseReferrersAPI() {
	r.mu.Lock()
	r.referrersAPI = true
	r.mu.Unlock()
}

// Tamper installs f, which sees every request first and returns true when
// it wrote the response.
func (r *Registry) Tamper(f func(w http.ResponseWriter, req *http.Request) bool) {
	r.mu.Lock()
	r.tamper = f
	r.mu.Unlock()
}

// PutBlob stores data as a blob and returns its descriptor.
func (r *Registry) PutBlob(mediaType string, data []byte) ocispec.Descriptor {
	d := digest.FromBytes(data)
	r.mu.Lock()
	r.blobs[d] = data
	r.mu.Unlock()
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

// PutManifest stores data as a manifest of repo (and at tag, if not "").
func (r *Registry) PutManifest(repo, tag, mediaType string, data []byte) ocispec.Descriptor {
	d := digest.FromBytes(data)
	r.mu.Lock()
	r.manifests[repo+"@"+d.String()] = stored{mediaType, data}
	if tag != "" {
		r.manifests[repo+":"+tag] = stored{mediaType, data}
	}
	r.mu.Unlock()
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

// SignatureManifest is a Notary Project signature manifest whose only layer
// is envelope and whose subject is subject (none when nil).
func SignatureManifest(subject *ocispec.Descriptor, envelope ocispec.Descriptor) []byte {
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactTypeNotation,
		Config:       ocispec.DescriptorEmptyJSON,
		Layers:       []ocispec.Descriptor{envelope},
		Subject:      subject,
	}
	m.SchemaVersion = 2
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // a manifest of descriptors always encodes
	}
	return b
}

// AddSignature stores envelope (of mediaType) and a signature manifest of
// subject over it in repo, lists it as a referrer of subject, and returns
// the manifest's descriptor (with its artifactType).
func (r *Registry) AddSignature(repo string, subject ocispec.Descriptor, mediaType string, envelope []byte) ocispec.Descriptor {
	return r.AddSignatureOf(repo, subject, &subject, mediaType, envelope)
}

// AddSignatureOf is AddSignature with a manifest that names manifestSubject
// (nil: none) while it is listed as a referrer of listedUnder.
func (r *Registry) AddSignatureOf(repo string, listedUnder ocispec.Descriptor, manifestSubject *ocispec.Descriptor, mediaType string, envelope []byte) ocispec.Descriptor {
	layer := r.PutBlob(mediaType, envelope)
	d := r.PutManifest(repo, "", ocispec.MediaTypeImageManifest, SignatureManifest(manifestSubject, layer))
	d.ArtifactType = ArtifactTypeNotation
	r.ListReferrer(repo, listedUnder, d)
	return d
}

// ListReferrer adds d, as it is, to the referrers of subject in repo.
func (r *Registry) ListReferrer(repo string, subject, d ocispec.Descriptor) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := repo + "@" + subject.Digest.String()
	r.referrers[k] = append(r.referrers[k], d)
}

// Requests returns "METHOD PATH" of every request so far.
func (r *Registry) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.requests...)
}

// Requested reports whether a request whose "METHOD PATH" contains s was
// seen.
func (r *Registry) Requested(s string) bool {
	for _, q := range r.Requests() {
		if strings.Contains(q, s) {
			return true
		}
	}
	return false
}

// ServeHTTP serves the registry API.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests = append(r.requests, req.Method+" "+req.URL.Path)
	tamper, api := r.tamper, r.referrersAPI
	r.mu.Unlock()
	if tamper != nil && tamper(w, req) {
		return
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		WriteError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "read-only registry")
		return
	}
	if req.URL.Path == "/v2/" {
		w.WriteHeader(http.StatusOK)
		return
	}
	path := strings.TrimPrefix(req.URL.Path, "/v2/")
	switch {
	case strings.Contains(path, "/manifests/"):
		i := strings.LastIndex(path, "/manifests/")
		r.serveManifest(w, path[:i], path[i+len("/manifests/"):], api)
	case strings.Contains(path, "/blobs/"):
		i := strings.LastIndex(path, "/blobs/")
		r.mu.Lock()
		data, ok := r.blobs[digest.Digest(path[i+len("/blobs/"):])]
		r.mu.Unlock()
		if !ok {
			WriteError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry")
			return
		}
		WriteContent(w, "application/octet-stream", data)
	case api && strings.Contains(path, "/referrers/"):
		i := strings.LastIndex(path, "/referrers/")
		r.mu.Lock()
		list := r.referrers[path[:i]+"@"+path[i+len("/referrers/"):]]
		r.mu.Unlock()
		WriteContent(w, ocispec.MediaTypeImageIndex, indexJSON(list))
	default:
		http.NotFound(w, req) // distribution's answer without a referrers API
	}
}

func (r *Registry) serveManifest(w http.ResponseWriter, repo, ref string, api bool) {
	key := repo + ":" + ref
	if strings.Contains(ref, ":") {
		key = repo + "@" + ref
	}
	r.mu.Lock()
	s, ok := r.manifests[key]
	if !ok && !api && strings.HasPrefix(ref, "sha256-") {
		if list, found := r.referrers[repo+"@sha256:"+strings.TrimPrefix(ref, "sha256-")]; found {
			s, ok = stored{ocispec.MediaTypeImageIndex, indexJSON(list)}, true
		}
	}
	r.mu.Unlock()
	if !ok {
		WriteError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown to registry")
		return
	}
	WriteContent(w, s.mediaType, s.data)
}

func indexJSON(list []ocispec.Descriptor) []byte {
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: list}
	idx.SchemaVersion = 2
	if idx.Manifests == nil {
		idx.Manifests = []ocispec.Descriptor{}
	}
	b, err := json.Marshal(idx)
	if err != nil {
		panic(err) // an index of descriptors always encodes
	}
	return b
}

// WriteContent answers with data, its digest and length (the body is
// dropped for HEAD).
func WriteContent(w http.ResponseWriter, mediaType string, data []byte) {
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Docker-Content-Digest", digest.FromBytes(data).String())
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// WriteError answers with an OCI distribution error body.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	body, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
