package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// SignatureSubjectError is a signature manifest whose "subject" names
// another artifact than the one it was fetched for: the registry listed, or
// the caller was handed, the signature of something else. It wraps
// trustpolicy.ErrSubjectMismatch.
type SignatureSubjectError struct {
	// Manifest is the signature manifest's digest.
	Manifest digest.Digest
	// Subject is the digest the manifest's subject names.
	Subject digest.Digest
	// Artifact is the digest of the artifact being verified.
	Artifact digest.Digest
}

func (e *SignatureSubjectError) Error() string {
	return fmt.Sprintf("subject digest mismatch: signature manifest %s names subject %s, but the artifact verified is %s",
		e.Manifest, e.Subject, e.Artifact)
}

// Is makes errors.Is(err, trustpolicy.ErrSubjectMismatch) true.
func (e *SignatureSubjectError) Is(target error) bool {
	return target == trustpolicy.ErrSubjectMismatch
}

// FetchSignature fetches one signature of t that the caller already knows
// by its manifest descriptor d (as Ratify hands a verifier the descriptor of
// one referrer): the manifest and its envelope, under the same rules as
// [Client.Signatures] (size caps before any byte is read, content checked
// against digest and size, exactly one JWS or COSE envelope layer), and the
// manifest's subject, when it names one, must be t's digest (else the error
// is a *SignatureSubjectError). The error is also in the returned
// Signature's Err.
func (c *Client) FetchSignature(ctx context.Context, t Target, d ocispec.Descriptor) (Signature, error) {
	r, err := targetReference(t)
	if err != nil {
		sig := Signature{Descriptor: d, Err: sanitize(fmt.Errorf("fetch signature %s of %s: %w", d.Digest, t.Reference, err))}
		return sig, sig.Err
	}
	sig := c.fetchOne(ctx, c.source(r), t, d)
	return sig, sig.Err
}

// fetchOne fetches the signature manifest d of t and its envelope.
func (c *Client) fetchOne(ctx context.Context, repo source, t Target, d ocispec.Descriptor) Signature {
	sig := Signature{Descriptor: d}
	fail := func(err error) Signature {
		var se *SignatureSubjectError
		if errors.As(err, &se) {
			sig.Err = sanitize(err) // names the manifest already
		} else {
			sig.Err = sanitize(fmt.Errorf("signature manifest %s: %w", d.Digest, err))
		}
		return sig
	}
	m, err := c.readSignatureManifest(ctx, repo, d)
	if err != nil {
		return fail(err)
	}
	env := m.envelope
	sig.MediaType = env.MediaType
	sig.EnvelopeDescriptor = env
	if m.subject != nil && m.subject.Digest != t.Descriptor.Digest {
		return fail(&SignatureSubjectError{Manifest: d.Digest, Subject: m.subject.Digest, Artifact: t.Descriptor.Digest})
	}
	blob, err := content.FetchAll(ctx, repo.blobs(), env)
	if err != nil {
		return fail(fmt.Errorf("fetching %s envelope %s (%d bytes): %w", env.MediaType, env.Digest, env.Size, err))
	}
	sig.Envelope = blob
	return sig
}

// manifestJSON holds the fields of an OCI image manifest and of an OCI
// artifact manifest that locate the envelope and name the subject.
type manifestJSON struct {
	MediaType string               `json:"mediaType"`
	Layers    []ocispec.Descriptor `json:"layers"` // image manifest
	Blobs     []ocispec.Descriptor `json:"blobs"`  // artifact manifest
	Subject   *ocispec.Descriptor  `json:"subject"`
}

// sigManifest is what a signature manifest yields.
type sigManifest struct {
	// envelope is the only layer: media type, digest and size.
	envelope ocispec.Descriptor
	// subject is the manifest's subject; nil when it names none.
	subject *ocispec.Descriptor
}

// readSignatureManifest fetches the signature manifest d and checks its
// shape: exactly one layer, a JWS or COSE envelope within the size cap.
func (c *Client) readSignatureManifest(ctx context.Context, repo source, d ocispec.Descriptor) (sigManifest, error) {
	if err := d.Digest.Validate(); err != nil {
		return sigManifest{}, fmt.Errorf("invalid digest: %w", err)
	}
	if d.MediaType != ocispec.MediaTypeImageManifest && d.MediaType != MediaTypeArtifactManifest {
		return sigManifest{}, fmt.Errorf("unsupported manifest media type %q, want %q", d.MediaType, ocispec.MediaTypeImageManifest)
	}
	if err := checkSize(d, c.maxManifestBytes); err != nil {
		return sigManifest{}, fmt.Errorf("manifest: %w", err)
	}
	data, err := content.FetchAll(ctx, repo.manifests(), d)
	if err != nil {
		return sigManifest{}, fmt.Errorf("fetching the manifest: %w", err)
	}
	var m manifestJSON
	if err := json.Unmarshal(data, &m); err != nil {
		return sigManifest{}, fmt.Errorf("decoding the manifest: %w", err)
	}
	if m.MediaType != "" && m.MediaType != d.MediaType {
		return sigManifest{}, fmt.Errorf("the manifest says its media type is %q, the referrers list says %q", m.MediaType, d.MediaType)
	}
	layers, kind := m.Layers, "layers"
	if d.MediaType == MediaTypeArtifactManifest {
		layers, kind = m.Blobs, "blobs"
	}
	if len(layers) != 1 {
		return sigManifest{}, fmt.Errorf("the manifest has %d %s, want exactly 1 signature envelope", len(layers), kind)
	}
	env := layers[0]
	if env.MediaType != MediaTypeJWSEnvelope && env.MediaType != MediaTypeCOSEEnvelope {
		return sigManifest{}, fmt.Errorf("unsupported signature envelope media type %q, want %q or %q", env.MediaType, MediaTypeJWSEnvelope, MediaTypeCOSEEnvelope)
	}
	if err := env.Digest.Validate(); err != nil {
		return sigManifest{}, fmt.Errorf("envelope: invalid digest: %w", err)
	}
	if err := checkSize(env, c.maxEnvelopeBytes); err != nil {
		return sigManifest{}, fmt.Errorf("envelope %s: %w", env.Digest, err)
	}
	out := sigManifest{
		// Only what identifies the blob; the layer's annotations are not
		// ours.
		envelope: ocispec.Descriptor{MediaType: env.MediaType, Digest: env.Digest, Size: env.Size},
	}
	if s := m.Subject; s != nil {
		if err := s.Digest.Validate(); err != nil {
			return sigManifest{}, fmt.Errorf("subject: invalid digest %q: %w", s.Digest, err)
		}
		out.subject = &ocispec.Descriptor{MediaType: s.MediaType, Digest: s.Digest, Size: s.Size}
	}
	return out, nil
}
