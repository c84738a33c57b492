package registry

import (
	"context"

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
		s = remoteSource{c.repository(r)}
	}
	if c.cache != nil {
		s = c.cache.wrap(r, s)
	}
	return s
}

// remoteSource is a repository of a remote registry, through oras-go.
type remoteSource struct{ repo *remote.Repository }

func (s remoteSource) resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	return s.repo.Resolve(ctx, reference)
}

func (s remoteSource) manifests() content.Fetcher { return s.repo.Manifests() }
func (s remoteSource) blobs() content.Fetcher     { return s.repo.Blobs() }

func (s remoteSource) referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error {
	return s.repo.Referrers(ctx, desc, artifactType, fn)
}
