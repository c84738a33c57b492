package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
)

// Verify verifies the artifact ref (REGISTRY/REPOSITORY@DIGEST, or
// REGISTRY/REPOSITORY:TAG, resolved to a digest first) from its registry,
// as notation verify does:
//
//  1. resolve ref to its manifest descriptor, and check with
//     trustpolicy.CheckSubject that the answer is the artifact ref names;
//  2. select the trust policy statement for the repository: none is the
//     report's error, and at level skip the report says skipped and no
//     signature is fetched;
//  3. list the signatures (referrers API, or the referrers tag schema), at
//     most Options.MaxSignatures, and fetch and evaluate them in the order
//     the registry lists them, stopping at the first that verifies;
//  4. a signature that cannot be retrieved ends the search, and the
//     artifact fails unless an earlier signature verified (notation's
//     rule); so does the signature limit.
//
// The report names the digest verified; a tag adds notation's warning.
// The error is non-nil only when nothing was decided: bad input (an
// *InputError), a reference that cannot be resolved (the registry
// client's error, wrapping registry.ErrNotFound, registry.ErrUnauthorized
// and the like), or an answer that is not the artifact asked for.
func (s *Service) Verify(ctx context.Context, ref string, opts Options) (*trustpolicy.Report, error) {
	client, err := s.client(opts)
	if err != nil {
		return nil, err
	}
	target, err := resolve(ctx, client, ref)
	if err != nil {
		return nil, err
	}
	return s.verifyTarget(ctx, client, target, opts)
}

// verifyTarget is Verify after the reference was resolved.
func (s *Service) verifyTarget(ctx context.Context, client *registry.Client, target registry.Target, opts Options) (*trustpolicy.Report, error) {
	report := newReport(target.Reference, target.Tag)
	// As notation: the statement is chosen, and a skip honoured, before
	// any signature is fetched.
	if done, err := s.selectPolicy(ctx, report, target.Repository); done || err != nil {
		return reportOrNil(report, err)
	}
	var abort error
	err := client.Signatures(ctx, target, func(sig registry.Signature) bool {
		if sig.Err != nil {
			abort = retrieveError(sig, target)
			return true
		}
		return report.Add(sig.Descriptor.Digest.String(), s.evaluate(ctx, target, sig, opts))
	})
	if err != nil && !errors.Is(err, registry.ErrNoSignatures) {
		abort = err
	}
	report.Finish(abort)
	return report, nil
}

// reportOrNil returns report, or nil with err.
func reportOrNil(report *trustpolicy.Report, err error) (*trustpolicy.Report, error) {
	if err != nil {
		return nil, err
	}
	return report, nil
}

// client is the registry client with the call's signature limit.
func (s *Service) client(opts Options) (*registry.Client, error) {
	if s.registry == nil {
		return nil, ErrNoRegistry
	}
	if opts.MaxSignatures < 0 {
		return nil, inputError(FieldOptions, fmt.Errorf("max signatures must be positive, not %d", opts.MaxSignatures))
	}
	if opts.MaxSignatures == 0 {
		return s.registry, nil
	}
	return s.registry.WithMaxSignatures(opts.MaxSignatures)
}

// resolve resolves ref with client and checks the answer.
func resolve(ctx context.Context, client *registry.Client, ref string) (registry.Target, error) {
	target, err := client.Resolve(ctx, ref)
	if err != nil {
		if errors.Is(err, registry.ErrInvalidReference) {
			return registry.Target{}, inputError(FieldReference, err)
		}
		return registry.Target{}, err
	}
	// The registry's answer must be the artifact the reference names (the
	// registry client checks this too; the service does not rely on it).
	for _, r := range []string{ref, target.Reference} {
		if err := trustpolicy.CheckSubject(r, target.Descriptor); err != nil {
			return registry.Target{}, fmt.Errorf("the registry's answer for %s: %w", ref, err)
		}
	}
	return target, nil
}

// selectPolicy selects the trust policy statement for report.Reference and
// records it. It finishes report and returns done when nothing is to be
// fetched: no statement applies (the report's error, as in notation), or
// the statement's level is skip.
func (s *Service) selectPolicy(ctx context.Context, report *trustpolicy.Report, repository string) (done bool, err error) {
	rule, match, err := s.engine.Select(report.Reference)
	switch {
	case errors.Is(err, trustpolicy.ErrNoApplicablePolicy):
		report.Error = err.Error()
		report.Fix = fmt.Sprintf("add a trust policy statement whose registryScopes lists %q, or one with registryScopes [\"*\"]", repository)
		report.Finish(nil)
		return true, nil
	case err != nil:
		return false, inputError(FieldReference, err)
	}
	report.Policy = match
	if rule.Level != trustpolicy.LevelSkip {
		return false, nil
	}
	report.Add("", s.engine.Evaluate(ctx, trustpolicy.Input{Reference: report.Reference, Now: s.now()}))
	report.Finish(nil)
	return true, nil
}

// evaluate runs the engine on one fetched signature of target.
func (s *Service) evaluate(ctx context.Context, target registry.Target, sig registry.Signature, opts Options) *trustpolicy.Result {
	return s.engine.Evaluate(ctx, trustpolicy.Input{
		Reference:    target.Reference,
		Descriptor:   target.Descriptor,
		Envelope:     sig.Envelope,
		MediaType:    sig.MediaType,
		UserMetadata: opts.UserMetadata,
		Now:          s.now(),
	})
}

// retrieveError is notation's error for a signature that cannot be
// retrieved. For a signature manifest that names another subject it says
// why: the signature of another artifact, or, for a tag, a tag that may
// have moved.
func retrieveError(sig registry.Signature, target registry.Target) error {
	err := sig.Err
	var se *registry.SignatureSubjectError
	if errors.As(err, &se) {
		hint := "it is the signature of another artifact"
		if target.Tag != "" {
			hint = fmt.Sprintf("the tag %s may have moved since the signature was listed; verify by digest", target.Tag)
		}
		err = fmt.Errorf("%w; %s", err, hint)
	}
	return fmt.Errorf("unable to retrieve digital signature with digest %q associated with %q from the registry: %w",
		sig.Descriptor.Digest, target.Reference, err)
}
