package registry

import (
	"context"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

// Media and artifact types of Notary Project signatures.
const (
	// ArtifactTypeNotation is the artifactType of a signature manifest.
	ArtifactTypeNotation = "application/vnd.cncf.notary.signature"
	// MediaTypeJWSEnvelope is the media type of a JWS signature envelope.
	MediaTypeJWSEnvelope = "application/jose+json"
	// MediaTypeCOSEEnvelope is the media type of a COSE signature envelope.
	MediaTypeCOSEEnvelope = "application/cose"
	// MediaTypeArtifactManifest is the deprecated OCI artifact manifest, in
	// which early notation releases stored signatures; notation v1.3 still
	// reads it.
	MediaTypeArtifactManifest = "application/vnd.oci.artifact.manifest.v1+json"
)

// Signature is one signature of a [Target].
type Signature struct {
	// Descriptor describes the signature manifest, as the referrers list
	// gave it. It is always set.
	Descriptor ocispec.Descriptor
	// MediaType is the envelope's media type, from the manifest's layer:
	// MediaTypeJWSEnvelope or MediaTypeCOSEEnvelope. Set when the manifest
	// could be read and has the right shape.
	MediaType string
	// EnvelopeDescriptor describes the envelope blob (the manifest's only
	// layer). Set when MediaType is.
	EnvelopeDescriptor ocispec.Descriptor
	// Envelope is the signature envelope, verified against
	// EnvelopeDescriptor's digest and size. Set when Err is nil.
	Envelope []byte
	// Err says why this signature could not be fetched: a download error, a
	// manifest or envelope over its size cap, content that does not match
	// its digest, a manifest that is not JSON or does not have exactly one
	// layer, or an unknown envelope media type. Other signatures may still
	// be fine.
	Err error
}

// errStop ends the oras referrers listing early.
var errStop = errors.New("stop listing referrers")

// Signatures lists the signature manifests that refer to t (artifactType
// application/vnd.cncf.notary.signature) through the referrers API, or
// through the referrers tag schema when the registry has no referrers API,
// and calls visit with each, in the order the registry lists them, after
// fetching its manifest and envelope. Problems with a single signature are
// reported in [Signature.Err], not as an error of Signatures.
//
// visit returns true to stop: nothing more is fetched and Signatures returns
// nil. At most Options.MaxSignatures signatures are visited, each counting
// whether or not it could be fetched; when more are listed, Signatures
// returns an error wrapping [ErrTooManySignatures] after visiting that many.
// (notation reports its limit as exceeded as soon as it has processed that
// many, even when no further signature exists; this reports it only when one
// does.) It returns an error wrapping [ErrNoSignatures] when no
// signature refers to t, and other errors when the list cannot be fetched
// (possibly after some signatures were visited) or ctx ends.
func (c *Client) Signatures(ctx context.Context, t Target, visit func(Signature) (stop bool)) error {
	if visit == nil {
		return errors.New("registry: Signatures needs a visit function")
	}
	op := "list signatures of " + t.Reference
	r, err := targetReference(t)
	if err != nil {
		return sanitize(fmt.Errorf("%s: %w", op, err))
	}
	repo := c.source(r)
	visited, more := 0, false
	err = repo.referrers(ctx, t.Descriptor, ArtifactTypeNotation, func(page []ocispec.Descriptor) error {
		for _, d := range page {
			if d.ArtifactType != ArtifactTypeNotation {
				continue // the registry claimed to filter, but did not
			}
			if visited >= c.maxSignatures {
				more = true
				return errStop
			}
			visited++
			sig := c.fetchOne(ctx, repo, t, d)
			if err := ctx.Err(); err != nil {
				return err
			}
			if visit(sig) {
				return errStop
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errStop) && more:
		return sanitize(fmt.Errorf("%s: %w: more than %d signatures refer to it; only the first %d were examined",
			op, ErrTooManySignatures, c.maxSignatures, c.maxSignatures))
	case errors.Is(err, errStop):
		return nil
	case err != nil:
		return c.describe(err, op, r, "the repository does not exist")
	case visited == 0:
		return sanitize(fmt.Errorf("%w for %s: sign it with `notation sign %s`, and make sure the signature was pushed to the repository %s",
			ErrNoSignatures, t.Reference, t.Reference, t.Repository))
	}
	return nil
}

func checkSize(d ocispec.Descriptor, limit int64) error {
	switch {
	case d.Size < 0:
		return fmt.Errorf("invalid size %d: %w", d.Size, content.ErrInvalidDescriptorSize)
	case d.Size > limit:
		return fmt.Errorf("size %d bytes exceeds the limit of %d bytes: %w", d.Size, limit, errdef.ErrSizeExceedsLimit)
	}
	return nil
}
