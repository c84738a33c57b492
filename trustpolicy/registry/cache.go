package registry

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"
)

// WithCache returns a Client that shares c's connections, credentials and
// limits and keeps in memory what it reads: resolved references,
// manifests, envelopes and referrers lists. A second verification of the
// same artifact through it (under another trust policy, as a rollout
// simulation does) makes no request. Content is read through oras-go's
// digest and size check on its first fetch and again on every read from
// the cache; errors are not cached. The cache lives as long as the
// returned Client and is never evicted: use one per artifact, or per
// small batch. It is safe for concurrent use.
func (c *Client) WithCache() *Client {
	cp := *c
	cp.cache = &cache{
		resolved: map[string]ocispec.Descriptor{},
		content:  map[digest.Digest][]byte{},
		lists:    map[string][]ocispec.Descriptor{},
	}
	return &cp
}

type cache struct {
	mu       sync.Mutex
	resolved map[string]ocispec.Descriptor   // "REGISTRY/REPO" + "|" + reference
	content  map[digest.Digest][]byte        // verified manifests and blobs
	lists    map[string][]ocispec.Descriptor // "REGISTRY/REPO|DIGEST|artifactType"
}

func (c *cache) wrap(r registry.Reference, s source) source {
	return &cachedSource{cache: c, repo: r.Registry + "/" + r.Repository, inner: s}
}

// cachedSource is a source whose answers come from cache when it has them.
type cachedSource struct {
	*cache
	repo  string
	inner source
}

func (s *cachedSource) resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	key := s.repo + "|" + reference
	s.mu.Lock()
	d, ok := s.resolved[key]
	s.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := s.inner.resolve(ctx, reference)
	if err != nil {
		return d, err
	}
	s.mu.Lock()
	s.resolved[key] = d
	s.mu.Unlock()
	return d, nil
}

func (s *cachedSource) manifests() content.Fetcher {
	return cachedFetcher{cache: s.cache, inner: s.inner.manifests()}
}

func (s *cachedSource) blobs() content.Fetcher {
	return cachedFetcher{cache: s.cache, inner: s.inner.blobs()}
}

func (s *cachedSource) referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error {
	key := s.repo + "|" + desc.Digest.String() + "|" + artifactType
	s.mu.Lock()
	list, ok := s.lists[key]
	s.mu.Unlock()
	if !ok {
		// The whole list is read once, even when the caller stops early:
		// the next caller may not.
		var all []ocispec.Descriptor
		if err := s.inner.referrers(ctx, desc, artifactType, func(page []ocispec.Descriptor) error {
			all = append(all, page...)
			return nil
		}); err != nil {
			return err
		}
		if all == nil {
			all = []ocispec.Descriptor{}
		}
		s.mu.Lock()
		s.lists[key] = all
		s.mu.Unlock()
		list = all
	}
	return fn(list)
}

// cachedFetcher fetches through the cache. The bytes it hands out are
// still read through content.FetchAll by the caller, which checks them
// against the descriptor again.
type cachedFetcher struct {
	*cache
	inner content.Fetcher
}

func (f cachedFetcher) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	f.mu.Lock()
	data, ok := f.content[d.Digest]
	f.mu.Unlock()
	if !ok {
		var err error
		data, err = content.FetchAll(ctx, f.inner, d)
		if err != nil {
			return nil, err
		}
		f.mu.Lock()
		f.content[d.Digest] = data
		f.mu.Unlock()
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}
