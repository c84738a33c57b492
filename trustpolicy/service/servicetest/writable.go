package servicetest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// WritableRegistry is a Registry that also accepts pushes, as a promotion
// target needs: monolithic blob uploads (POST then PUT ?digest=), manifest
// PUTs by tag or digest (a manifest with a subject is listed as its
// referrer, and the answer carries OCI-Subject), and the tag list
// (GET /v2/NAME/tags/list). It serves the referrers API. Its Tamper sees
// every request before the writes are served.
type WritableRegistry struct {
	*Registry

	mu      sync.Mutex
	tamper  func(w http.ResponseWriter, r *http.Request) bool
	uploads int
}

// NewWritableRegistry starts a WritableRegistry on 127.0.0.1 that stops at
// the end of the test.
func NewWritableRegistry(t testing.TB) *WritableRegistry {
	t.Helper()
	w := &WritableRegistry{Registry: NewRegistry(t)}
	w.UseReferrersAPI()
	w.Registry.Tamper(w.serve)
	return w
}

// Tamper installs f, which sees every request first and returns true when
// it wrote the response.
func (w *WritableRegistry) Tamper(f func(w http.ResponseWriter, req *http.Request) bool) {
	w.mu.Lock()
	w.tamper = f
	w.mu.Unlock()
}

// Has reports whether repo holds the manifest d (by digest).
func (w *WritableRegistry) Has(repo string, d digest.Digest) bool {
	w.Registry.mu.Lock()
	defer w.Registry.mu.Unlock()
	_, ok := w.manifests[repo+"@"+d.String()]
	return ok
}

// Tagged returns the digest repo:tag names, or "".
func (w *WritableRegistry) Tagged(repo, tag string) digest.Digest {
	w.Registry.mu.Lock()
	defer w.Registry.mu.Unlock()
	s, ok := w.manifests[repo+":"+tag]
	if !ok {
		return ""
	}
	return digest.FromBytes(s.data)
}

// HasBlob reports whether the registry holds the blob d.
func (w *WritableRegistry) HasBlob(d digest.Digest) bool {
	w.Registry.mu.Lock()
	defer w.Registry.mu.Unlock()
	_, ok := w.blobs[d]
	return ok
}

// maxPush caps one pushed blob or manifest.
const maxPush = 16 << 20

func (w *WritableRegistry) serve(rw http.ResponseWriter, req *http.Request) bool {
	w.mu.Lock()
	tamper := w.tamper
	w.mu.Unlock()
	if tamper != nil && tamper(rw, req) {
		return true
	}
	path := strings.TrimPrefix(req.URL.Path, "/v2/")
	switch {
	case req.Method == http.MethodPost && strings.HasSuffix(path, "/blobs/uploads/"):
		w.mu.Lock()
		w.uploads++
		id := strconv.Itoa(w.uploads)
		w.mu.Unlock()
		rw.Header().Set("Location", "/v2/"+path+id)
		rw.WriteHeader(http.StatusAccepted)
		return true
	case req.Method == http.MethodPut && strings.Contains(path, "/blobs/uploads/"):
		data, ok := readBody(rw, req)
		if !ok {
			return true
		}
		want := digest.Digest(req.URL.Query().Get("digest"))
		if want.Validate() != nil || digest.FromBytes(data) != want {
			WriteError(rw, http.StatusBadRequest, "DIGEST_INVALID", "provided digest did not match uploaded content")
			return true
		}
		w.PutBlob("application/octet-stream", data)
		rw.Header().Set("Docker-Content-Digest", want.String())
		rw.WriteHeader(http.StatusCreated)
		return true
	case req.Method == http.MethodPut && strings.Contains(path, "/manifests/"):
		w.putManifest(rw, req, path)
		return true
	case req.Method == http.MethodGet && strings.HasSuffix(path, "/tags/list"):
		w.serveTags(rw, strings.TrimSuffix(path, "/tags/list"))
		return true
	}
	return false
}

func readBody(rw http.ResponseWriter, req *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(io.LimitReader(req.Body, maxPush+1))
	if err != nil || len(data) > maxPush {
		WriteError(rw, http.StatusBadRequest, "SIZE_INVALID", "unreadable or too large")
		return nil, false
	}
	return data, true
}

func (w *WritableRegistry) putManifest(rw http.ResponseWriter, req *http.Request, path string) {
	i := strings.LastIndex(path, "/manifests/")
	repo, ref := path[:i], path[i+len("/manifests/"):]
	data, ok := readBody(rw, req)
	if !ok {
		return
	}
	d := digest.FromBytes(data)
	if strings.Contains(ref, ":") && digest.Digest(ref) != d {
		WriteError(rw, http.StatusBadRequest, "DIGEST_INVALID", "manifest digest did not match")
		return
	}
	var m struct {
		ArtifactType string              `json:"artifactType"`
		Config       ocispec.Descriptor  `json:"config"`
		Subject      *ocispec.Descriptor `json:"subject"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		WriteError(rw, http.StatusBadRequest, "MANIFEST_INVALID", "not JSON")
		return
	}
	mt := req.Header.Get("Content-Type")
	tag := ""
	if !strings.Contains(ref, ":") {
		tag = ref
	}
	desc := w.PutManifest(repo, tag, mt, data)
	if m.Subject != nil {
		desc.ArtifactType = m.ArtifactType
		if desc.ArtifactType == "" {
			desc.ArtifactType = m.Config.MediaType
		}
		w.Registry.mu.Lock()
		k := repo + "@" + m.Subject.Digest.String()
		dup := slices.ContainsFunc(w.referrers[k], func(x ocispec.Descriptor) bool { return x.Digest == d })
		w.Registry.mu.Unlock()
		if !dup {
			w.ListReferrer(repo, *m.Subject, desc)
		}
		rw.Header().Set("OCI-Subject", m.Subject.Digest.String())
	}
	rw.Header().Set("Docker-Content-Digest", d.String())
	rw.WriteHeader(http.StatusCreated)
}

func (w *WritableRegistry) serveTags(rw http.ResponseWriter, repo string) {
	w.Registry.mu.Lock()
	var tags []string
	for k := range w.manifests {
		if r, tag, ok := strings.Cut(k, ":"); ok && r == repo && !strings.Contains(k, "@") {
			tags = append(tags, tag)
		}
	}
	w.Registry.mu.Unlock()
	slices.Sort(tags)
	if tags == nil {
		tags = []string{}
	}
	body, _ := json.Marshal(map[string]any{"name": repo, "tags": tags})
	WriteContent(rw, "application/json", body)
}
