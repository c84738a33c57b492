package service

import (
	"context"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
)

// VerifySignature verifies one signature of subject that the caller knows
// by its manifest descriptor sig, as Ratify hands a verifier one referrer:
//
//  1. select the trust policy statement by subject's repository: none is
//     the report's error, and at level skip the report says skipped with
//     no network I/O at all (a subject by tag is resolved first, since
//     the report names a digest);
//  2. resolve subject and check the answer, as Verify does;
//  3. fetch the signature manifest sig and its envelope: the manifest, when
//     it names a subject, must name the resolved digest (else a
//     *registry.SignatureSubjectError); a signature that cannot be
//     retrieved is the report's error, a failed verdict;
//  4. evaluate it.
//
// Options.MaxSignatures does not apply. Errors are as Verify's.
func (s *Service) VerifySignature(ctx context.Context, subject string, sig ocispec.Descriptor, opts Options) (*trustpolicy.Report, error) {
	client, err := s.client(Options{})
	if err != nil {
		return nil, err
	}
	ref, err := registry.ParseReference(subject)
	if err != nil {
		return nil, inputError(FieldReference, err)
	}
	var report *trustpolicy.Report
	if ref.Digest != "" {
		// The policy is chosen, and a skip honoured, before the registry
		// is asked anything.
		report = newReport(ref.DigestReference(), "")
		if done, err := s.selectPolicy(ctx, report, ref.Repository); done || err != nil {
			return reportOrNil(report, err)
		}
	}
	target, err := resolve(ctx, client, subject)
	if err != nil {
		return nil, err
	}
	if report == nil {
		report = newReport(target.Reference, target.Tag)
		if done, err := s.selectPolicy(ctx, report, target.Repository); done || err != nil {
			return reportOrNil(report, err)
		}
	}
	fetched, err := client.FetchSignature(ctx, target, sig)
	if err != nil {
		report.Finish(retrieveError(fetched, target))
		return report, nil
	}
	report.Add(sig.Digest.String(), s.evaluate(ctx, target, fetched, opts))
	report.Finish(nil)
	return report, nil
}
