package service

import (
	"context"
	"errors"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// Envelope is a signature the caller already has, and the artifact it
// must cover.
type Envelope struct {
	// Data is the signature envelope, MediaType its media type
	// (application/jose+json or application/cose).
	Data      []byte
	MediaType string
	// Descriptor is the artifact's manifest descriptor (media type, digest,
	// size) the signature must cover.
	Descriptor ocispec.Descriptor
	// Reference names the artifact and selects the trust policy statement:
	// REGISTRY/REPOSITORY@DIGEST, whose digest must be the descriptor's, or
	// REGISTRY/REPOSITORY:TAG, taken to name the descriptor (as notation
	// resolves a tag), whose digest is then what is verified.
	Reference string
}

// VerifyEnvelope verifies env with no network I/O: the reference and the
// descriptor must name one artifact (trustpolicy.SubjectReference), the
// statement for the reference's repository decides the checks (at level
// skip the report says skipped), and the envelope is evaluated. A tag
// reference adds notation's warning. The error is non-nil only for bad
// input: an *InputError whose Field is FieldDescriptor (an invalid
// descriptor), FieldSubject (reference and descriptor disagree, or the
// reference does not parse) or FieldReference (the reference cannot select
// a statement).
func (s *Service) VerifyEnvelope(ctx context.Context, env Envelope, opts Options) (*trustpolicy.Report, error) {
	ref, tag, err := trustpolicy.SubjectReference(env.Reference, env.Descriptor)
	switch {
	case errors.Is(err, trustpolicy.ErrInvalidDescriptor):
		return nil, inputError(FieldDescriptor, err)
	case err != nil:
		return nil, inputError(FieldSubject, err)
	}
	report := newReport(ref, tag)
	if _, _, err := s.engine.Select(ref); err != nil && !errors.Is(err, trustpolicy.ErrNoApplicablePolicy) {
		return nil, inputError(FieldReference, err)
	}
	report.Add("", s.engine.Evaluate(ctx, trustpolicy.Input{
		Reference:    ref,
		Descriptor:   env.Descriptor,
		Envelope:     env.Data,
		MediaType:    env.MediaType,
		UserMetadata: opts.UserMetadata,
		Now:          s.now(),
	}))
	report.Finish(nil)
	return report, nil
}
