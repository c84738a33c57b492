package registry

import (
	"context"
	"errors"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
)

// source is where a Client reads an artifact and its signatures from: a
// repository of a remote registry (the default), or an OCI image layout
// (NewLayout). Resolve, Signatures and FetchSignature are written once
// over it, so every source gets the same size caps, digest checks and
// signature rules.
type source interface {
	// resolve resolves a tag or digest to the manifest's descriptor.
	resolve(ctx context.Context, reference string) (ocispec.Descriptor, error)
	// manifests and blobs fetch content by descriptor; oras-go's
	// content.FetchAll checks size and digest.
	manifests() content.Fetcher
	blobs() content.Fetcher
	// referrers lists the manifests whose subject is desc, filtered by
	// artifactType, one page at a time.
	referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error
}

// source returns where c reads the repository of r from.
func (c *Client) source(r registry.Reference) source {
	var s source
	if c.layout != nil {
		s = c.layout
	} else {
		repo := c.repository(r)
		if c.referrersAPI != nil {
			if v, ok := c.referrersAPI.Load(r.Registry); ok {
				_ = repo.SetReferrersCapability(v.(bool)) // a fresh repository: never set before
			}
		}
		s = remoteSource{repo: repo, host: r.Registry, memo: c.referrersAPI}
	}
	if c.cache != nil {
		s = c.cache.wrap(r, s)
	}
	return s
}

// remoteSource is a repository of a remote registry, through oras-go.
type remoteSource struct {
	repo *remote.Repository
	host string
	// memo remembers per registry host whether it has the referrers API,
	// so that only the first signature listing on a host probes it (a
	// registry without it answers 404, and oras-go falls back to the
	// referrers tag schema).
	memo *sync.Map
}

func (s remoteSource) resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	return s.repo.Resolve(ctx, reference)
}

func (s remoteSource) manifests() content.Fetcher { return s.repo.Manifests() }
func (s remoteSource) blobs() content.Fetcher     { return s.repo.Blobs() }

func (s remoteSource) referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error {
	err := s.repo.Referrers(ctx, desc, artifactType, fn)
	if s.memo != nil && (err == nil || errors.Is(err, errStop)) {
		// The listing answered, so the capability is known: setting it to
		// true again succeeds only when it is true (or was left unknown
		// because the caller stopped on the API's first page).
		capable := !errors.Is(s.repo.SetReferrersCapability(true), remote.ErrReferrersCapabilityAlreadySet)
		s.memo.Store(s.host, capable)
	}
	return err
}
