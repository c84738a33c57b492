package service

import (
	"context"
	"fmt"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
)

// Resolve is the first step of Verify alone: it resolves ref with the
// registry client and checks that the answer is the artifact ref names.
// A caller that needs the artifact's descriptor (its media type, to tell
// an image index) before it verifies calls Resolve and then VerifyTarget,
// which together make the requests Verify makes, no more. Errors are as
// Verify's.
func (s *Service) Resolve(ctx context.Context, ref string) (registry.Target, error) {
	client, err := s.client(Options{})
	if err != nil {
		return registry.Target{}, err
	}
	return resolve(ctx, client, ref)
}

// VerifyTarget is Verify for a target the caller already has: from
// Resolve, or a platform manifest listed by a verified image index (whose
// descriptor the index gives). Steps 2 to 4 of Verify run; nothing is
// resolved again. The target's reference must be its repository and its
// descriptor's digest, REGISTRY/REPOSITORY@DIGEST (else an *InputError
// for FieldSubject).
func (s *Service) VerifyTarget(ctx context.Context, target registry.Target, opts Options) (*trustpolicy.Report, error) {
	client, err := s.client(opts)
	if err != nil {
		return nil, err
	}
	if err := trustpolicy.CheckSubject(target.Reference, target.Descriptor); err != nil {
		return nil, inputError(FieldSubject, fmt.Errorf("target %s: %w", target.Reference, err))
	}
	if want := target.Repository + "@" + target.Descriptor.Digest.String(); target.Reference != want {
		return nil, inputError(FieldSubject, fmt.Errorf("target reference %q is not its repository and digest %q", target.Reference, want))
	}
	return s.verifyTarget(ctx, client, target, opts)
}
