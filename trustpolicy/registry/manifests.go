package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
)

// MediaTypeDockerManifestList is the Docker manifest list, the Docker
// form of an OCI image index.
const MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"

// IsIndex reports whether mediaType is an OCI image index or a Docker
// manifest list.
func IsIndex(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageIndex || mediaType == MediaTypeDockerManifestList
}

// ErrNoLayout is returned by the methods that need a registry when the
// Client reads an OCI image layout.
var ErrNoLayout = errors.New("not available for an OCI image layout")

// IndexManifests fetches the image index (or Docker manifest list) t and
// returns the manifests it lists, with their platforms, in its order. The
// index is read under the manifest size cap and checked against t's
// digest and size. t must be an index (IsIndex(t.Descriptor.MediaType)).
// Each returned descriptor's digest is validated.
func (c *Client) IndexManifests(ctx context.Context, t Target) ([]ocispec.Descriptor, error) {
	op := "read the index " + t.Reference
	if !IsIndex(t.Descriptor.MediaType) {
		return nil, sanitize(fmt.Errorf("%s: media type %q is not an image index or manifest list", op, t.Descriptor.MediaType))
	}
	r, err := targetReference(t)
	if err != nil {
		return nil, sanitize(fmt.Errorf("%s: %w", op, err))
	}
	if err := checkSize(t.Descriptor, c.maxManifestBytes); err != nil {
		return nil, sanitize(fmt.Errorf("%s: %w", op, err))
	}
	data, err := content.FetchAll(ctx, c.source(r).manifests(), t.Descriptor)
	if err != nil {
		return nil, c.describe(err, op, r, notFoundManifest(r))
	}
	var idx struct {
		Manifests []ocispec.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, sanitize(fmt.Errorf("%s: decoding: %w", op, err))
	}
	out := make([]ocispec.Descriptor, 0, len(idx.Manifests))
	for i, d := range idx.Manifests {
		if err := d.Digest.Validate(); err != nil {
			return nil, sanitize(fmt.Errorf("%s: manifests[%d]: invalid digest %q: %w", op, i, d.Digest, err))
		}
		out = append(out, ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, Platform: d.Platform, ArtifactType: d.ArtifactType})
	}
	return out, nil
}

// Tags lists every tag of repository (REGISTRY/REPOSITORY), paging
// through the registry's tag list; for a Client over an OCI image layout,
// repository is ignored and the layout's tags are listed. Tags are
// returned in the order the registry gives them (a layout's sorted).
func (c *Client) Tags(ctx context.Context, repository string) ([]string, error) {
	op := "list the tags of " + repository
	if c.layout != nil {
		tags, err := c.layout.tags(ctx)
		if err != nil {
			return nil, sanitize(fmt.Errorf("%s: %w", op, err))
		}
		return tags, nil
	}
	r, err := parseRepository(repository)
	if err != nil {
		return nil, sanitize(err)
	}
	var tags []string
	err = c.repository(r).Tags(ctx, "", func(page []string) error {
		tags = append(tags, page...)
		return nil
	})
	if err != nil {
		return nil, c.describe(err, op, r, "the repository does not exist")
	}
	return tags, nil
}

// Repository returns an oras-go repository for the repository of ref
// (REGISTRY/REPOSITORY, with or without a tag or digest) that shares c's
// connections, credentials (per registry host) and tokens, for copying
// content with oras.Copy. It fails with ErrNoLayout for a layout Client.
func (c *Client) Repository(ref string) (*remote.Repository, error) {
	if c.layout != nil {
		return nil, fmt.Errorf("repository %s: %w", ref, ErrNoLayout)
	}
	r, err := parseRepository(ref)
	if err != nil {
		return nil, sanitize(err)
	}
	return c.repository(r), nil
}

// Describe words err, an error of an oras-go call on ref's repository
// made through Repository, as this package words its own: not found,
// unauthorized (with the login command), TLS (with the plain-HTTP hint).
func (c *Client) Describe(err error, op, ref string) error {
	r, perr := parseRepository(ref)
	if perr != nil {
		return sanitize(fmt.Errorf("%s: %w", op, err))
	}
	return c.describe(err, op, r, "not found in "+r.Registry+"/"+r.Repository)
}

// parseRepository parses REGISTRY/REPOSITORY[:TAG|@DIGEST], requiring a
// registry host but no tag or digest.
func parseRepository(ref string) (registry.Reference, error) {
	const want = "want REGISTRY/REPOSITORY"
	r, err := registry.ParseReference(ref)
	if err != nil {
		return registry.Reference{}, fmt.Errorf("%w %q: %w; %s", ErrInvalidReference, ref, err, want)
	}
	if !isRegistryHost(r.Registry) {
		return registry.Reference{}, fmt.Errorf("%w %q: %q is not a registry host (it has no dot or port and is not localhost); %s", ErrInvalidReference, ref, r.Registry, want)
	}
	return r, nil
}
