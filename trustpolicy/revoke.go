package trustpolicy

// This file is the revocation check of a certificate chain, the same for
// the signing chain (the revocation check) and the timestamping chain (part
// of the authentic-timestamp check); only notation's words differ.

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
)

// chainWords is how notation words the revocation outcomes of one kind of
// chain, with the fix for each.
type chainWords struct {
	purpose revocation.Purpose
	// evidence is the check whose Revocation lists the answers.
	evidence ValidationType
	// noChecker is the error when the Engine has no revocation checker.
	noChecker error
	// failed wraps an error of the checker (or a checker that answered
	// for the wrong number of certificates).
	failed func(error) error
	// wrongCountFix is the fix for a checker that answered for the wrong
	// number of certificates.
	wrongCountFix string
	// revoked and unknown are the messages for a revoked and an
	// undetermined certificate, formatted with its subject.
	revoked, revokedFix string
	unknown, unknownFix string
}

// signingChain is the wording of notation's code-signing revocation
// validator.
func signingChain() chainWords {
	return chainWords{
		purpose:  revocation.PurposeCodeSigning,
		evidence: TypeRevocation,
		noChecker: withFix(errors.New("unable to check revocation status, code signing revocation validator cannot be nil"),
			"configure revocation checking, or set the policy's revocation override to skip"),
		failed:        func(err error) error { return fmt.Errorf("unable to check revocation status, err: %s", err.Error()) },
		wrongCountFix: "report this as a bug in the revocation checker",
		revoked:       "signing certificate with subject %q is revoked",
		revokedFix:    "the certificate was revoked by its CA; do not deploy this artifact; re-sign it with a key whose certificate is valid",
		unknown:       "signing certificate with subject %q revocation status is unknown",
		unknownFix:    "make the certificate's OCSP responder or CRL distribution point reachable, or import its CRL for offline use",
	}
}

// timestampingChain is the wording of notation's timestamping chain check.
func timestampingChain() chainWords {
	return chainWords{
		purpose:  revocation.PurposeTimestamping,
		evidence: TypeAuthenticTimestamp,
		noChecker: withFix(errors.New("failed to check timestamping certificate chain revocation with error: no revocation checker is configured"),
			"configure revocation checking: notation always checks the timestamping chain"),
		failed: func(err error) error {
			return fmt.Errorf("failed to check timestamping certificate chain revocation with error: %w", err)
		},
		wrongCountFix: "check the revocation configuration",
		revoked:       "timestamping certificate with subject %q is revoked",
		revokedFix:    "the timestamp authority's certificate was revoked; re-sign with a timestamp from a valid authority",
		unknown:       "timestamping certificate with subject %q revocation status is unknown",
		unknownFix:    "make the timestamp authority's OCSP responder or CRL reachable, or import its CRL",
	}
}

// chainRevocation checks chain through the injected checker, records the
// answers as the evidence of check w.evidence, and returns notation's
// verdict as an error carrying its fix (nil when every certificate is
// good). signingTime is the authentic signing time, or zero.
func (r *run) chainRevocation(chain []*x509.Certificate, signingTime time.Time, w chainWords) error {
	if r.e.rev == nil {
		return w.noChecker
	}
	results, err := r.e.rev.Check(r.ctx, revocation.Request{Chain: chain, Purpose: w.purpose, SigningTime: signingTime, Now: r.in.Now})
	if err != nil {
		return withFix(w.failed(err), "check the revocation configuration")
	}
	if len(results) != len(chain) {
		// notation-core-go always answers one result per certificate; a
		// checker that does not is broken, and nothing it said is trusted.
		return withFix(w.failed(fmt.Errorf("the revocation checker returned %d results for a chain of %d certificates", len(results), len(chain))), w.wrongCountFix)
	}
	c := r.checks[w.evidence]
	for i, res := range results {
		c.Revocation = append(c.Revocation, CertRevocation{Subject: chain[i].Subject.String(), Result: res})
	}
	switch status, subject := summarize(results, chain); status {
	case revocation.StatusOK:
		return nil
	case revocation.StatusRevoked:
		return withFix(fmt.Errorf(w.revoked, subject), w.revokedFix)
	default:
		return withFix(fmt.Errorf(w.unknown, subject), w.unknownFix)
	}
}

// summarize is notation's final revocation result: every certificate good
// means OK; otherwise a revoked certificate (the one nearest the leaf) wins
// over an unknown one (likewise the nearest the leaf).
func summarize(results []revocation.Result, chain []*x509.Certificate) (revocation.Status, string) {
	final := revocation.StatusUnknown
	good := 0
	var subject, revokedSubject string
	revoked := false
	for i := len(results) - 1; i >= 0; i-- {
		if i >= len(chain) {
			continue
		}
		s := results[i].Status
		if s.Good() {
			good++
			continue
		}
		final = s
		subject = chain[i].Subject.String()
		if s == revocation.StatusRevoked {
			revoked = true
			revokedSubject = subject
		}
	}
	if revoked {
		return revocation.StatusRevoked, revokedSubject
	}
	if good == len(results) {
		return revocation.StatusOK, ""
	}
	if final == revocation.StatusOK || final == revocation.StatusNonRevokable {
		final = revocation.StatusUnknown
	}
	return final, subject
}
