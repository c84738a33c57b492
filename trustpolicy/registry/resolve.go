package registry

import (
	"context"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// Target is an artifact resolved to its manifest.
type Target struct {
	// Reference is the canonical digest reference REGISTRY/REPOSITORY@DIGEST.
	Reference string
	// Descriptor is the manifest's media type, digest and size as the
	// registry reported them: what notation compares with the signed
	// payload's targetArtifact.
	Descriptor ocispec.Descriptor
	// Repository is REGISTRY/REPOSITORY, what trust policy registryScopes
	// name.
	Repository string
	// Tag is the tag the reference was resolved from, or "" when it named a
	// digest. Tags are mutable: the digest is what was verified.
	Tag string
}

// Resolve parses ref, REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@DIGEST
// (REGISTRY/REPOSITORY:TAG@DIGEST resolves the digest and ignores the tag, as
// notation does), and resolves it to its manifest descriptor with a HEAD
// request. REGISTRY is required: a host name with a dot or a port, or
// "localhost" (docker.io is reached at registry-1.docker.io). For a digest
// reference the registry must report the same digest.
func (c *Client) Resolve(ctx context.Context, ref string) (Target, error) {
	r, err := parseReference(ref)
	if err != nil {
		return Target{}, sanitize(err)
	}
	desc, err := c.source(r).resolve(ctx, r.Reference)
	if err != nil {
		return Target{}, c.describe(err, "resolve "+ref, r, notFoundManifest(r))
	}
	if err := desc.Digest.Validate(); err != nil {
		return Target{}, sanitize(fmt.Errorf("resolve %s: the registry reported an invalid digest %q: %w", ref, desc.Digest, err))
	}
	if desc.Size < 0 {
		return Target{}, sanitize(fmt.Errorf("resolve %s: the registry reported a negative size %d", ref, desc.Size))
	}
	t := Target{
		Reference:  r.Registry + "/" + r.Repository + "@" + desc.Digest.String(),
		Descriptor: ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size},
		Repository: r.Registry + "/" + r.Repository,
	}
	if err := checkResolved(ref, r, t.Descriptor); err != nil {
		return Target{}, err
	}
	if _, err := r.Digest(); err != nil {
		t.Tag = r.Reference
	}
	return t, nil
}

// checkResolved is the defensive check that the registry answered a digest
// reference with that digest (oras-go checks it too): a reference and a
// descriptor that arrive together must name the same artifact. The error
// wraps a *trustpolicy.SubjectMismatchError naming both digests.
func checkResolved(ref string, r registry.Reference, desc ocispec.Descriptor) error {
	want, err := r.Digest()
	if err != nil {
		return nil // a tag: whatever it resolves to is the artifact
	}
	if want != desc.Digest {
		return sanitize(fmt.Errorf("resolve %s: the registry answered with another manifest: %w", ref,
			&trustpolicy.SubjectMismatchError{Reference: ref, ReferenceDigest: want, DescriptorDigest: desc.Digest}))
	}
	return nil
}

// parseReference parses a full reference that names a tag or a digest.
func parseReference(ref string) (registry.Reference, error) {
	const want = "want REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@DIGEST"
	r, err := registry.ParseReference(ref)
	if err != nil {
		// oras' message starts with its own "invalid reference: ".
		why := strings.TrimPrefix(err.Error(), errdef.ErrInvalidReference.Error()+": ")
		return registry.Reference{}, &quietError{
			msg:  fmt.Sprintf("%s %q: %s; %s", ErrInvalidReference, ref, why, want),
			errs: []error{ErrInvalidReference, err},
		}
	}
	if !isRegistryHost(r.Registry) {
		return registry.Reference{}, fmt.Errorf("%w %q: %q is not a registry host (it has no dot or port and is not localhost); %s, for example docker.io/library/alpine:3",
			ErrInvalidReference, ref, r.Registry, want)
	}
	if r.Reference == "" {
		return registry.Reference{}, fmt.Errorf("%w %q: no tag or digest; %s", ErrInvalidReference, ref, want)
	}
	return r, nil
}

// isRegistryHost applies docker's rule for telling a registry host from the
// first path component of a repository name.
func isRegistryHost(s string) bool {
	return s == "localhost" || strings.ContainsAny(s, ".:")
}

func notFoundManifest(r registry.Reference) string {
	if _, err := r.Digest(); err == nil {
		return fmt.Sprintf("repository %s/%s has no manifest %s", r.Registry, r.Repository, r.Reference)
	}
	return fmt.Sprintf("repository %s/%s has no tag %q (or the repository does not exist)", r.Registry, r.Repository, r.Reference)
}

// targetReference rebuilds the oras reference of t, validating what a caller
// may have filled in by hand.
func targetReference(t Target) (registry.Reference, error) {
	if err := t.Descriptor.Digest.Validate(); err != nil {
		return registry.Reference{}, fmt.Errorf("target %q has an invalid digest %q (use Resolve to make a Target): %w", t.Reference, t.Descriptor.Digest, err)
	}
	r, err := registry.ParseReference(t.Repository + "@" + t.Descriptor.Digest.String())
	if err != nil {
		return registry.Reference{}, fmt.Errorf("%w: target repository %q: %w", ErrInvalidReference, t.Repository, err)
	}
	return r, nil
}
