package trustpolicy

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
)

// SchemaVersion is the version of the JSON form of Result. It changes only
// when a field changes meaning or disappears; new fields may be added.
const SchemaVersion = "1"

// Verdict is the final answer of a verification.
type Verdict string

// Verdicts. They map to the trustpolicy command's exit codes 0, 1, 3 and 0.
const (
	// VerdictVerified: every enforced check passed.
	VerdictVerified Verdict = "verified"
	// VerdictFailed: an enforced check failed, or the signed descriptor or
	// user metadata did not match.
	VerdictFailed Verdict = "failed"
	// VerdictInconclusive: the verifier could not decide (notation's
	// VerificationInconclusiveError): no trusted certificate in the stores,
	// a required verification plugin, an unexpected envelope error.
	VerdictInconclusive Verdict = "inconclusive"
	// VerdictSkipped: the matching policy has level skip.
	VerdictSkipped Verdict = "skipped"
)

// Outcome is the result of one check.
type Outcome string

// Outcomes of a check.
const (
	OutcomePassed Outcome = "passed"
	OutcomeFailed Outcome = "failed"
	// OutcomeSkipped: the policy's action for the check is skip, or the
	// check does not apply (for example, no timestamp is required).
	OutcomeSkipped Outcome = "skipped"
	// OutcomeNotRun: an earlier enforced failure ended verification.
	OutcomeNotRun Outcome = "notRun"
)

// Result is everything one verification decided, as data. Its JSON form is
// the stable schema documented in the README ("JSON result").
type Result struct {
	Schema    string  `json:"schema"`
	Verdict   Verdict `json:"verdict"`
	Reference string  `json:"reference"`
	// Error is the reason for a failed or inconclusive verdict, worded as
	// notation words it where notation has a message.
	Error string `json:"error,omitempty"`
	// Fix says what to change to make the verification pass, when we know.
	Fix string `json:"fix,omitempty"`

	Policy    *PolicyMatch   `json:"policy,omitempty"`
	Signature *SignatureInfo `json:"signature,omitempty"`
	Checks    []Check        `json:"checks"`
	Chain     []CertInfo     `json:"chain,omitempty"`
	Timestamp *TimestampInfo `json:"timestamp,omitempty"`

	err error
}

// Err returns the verification error: nil when verified or skipped; a
// *CheckError (errors.Is ErrVerificationFailed) when an enforced check, the
// signed descriptor or the user metadata failed; an *InconclusiveError
// (errors.Is ErrInconclusive) when inconclusive; and Policy.Select's error
// (wrapping ErrInvalidReference or ErrNoApplicablePolicy) when no statement
// applies to the reference.
func (r *Result) Err() error { return r.err }

// PolicyMatch says which trust policy statement applied and why.
type PolicyMatch struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
	// Scope is the registry scope that matched: the repository or "*".
	Scope string `json:"scope"`
	// Why is a sentence: an exact scope match, or the wildcard statement
	// because no statement names the repository.
	Why   string `json:"why"`
	Level string `json:"level"`
	// Actions is the action of every check under this statement's level
	// and overrides.
	Actions         map[ValidationType]Action `json:"actions"`
	VerifyTimestamp string                    `json:"verifyTimestamp"`
}

// SignatureInfo describes the envelope.
type SignatureInfo struct {
	MediaType     string    `json:"mediaType"`
	Digest        string    `json:"digest,omitempty"`
	SigningScheme string    `json:"signingScheme,omitempty"`
	SigningTime   time.Time `json:"signingTime,omitzero"`
	Expiry        time.Time `json:"expiry,omitzero"`
	SigningAgent  string    `json:"signingAgent,omitempty"`
	// TargetArtifact is the descriptor the signature covers.
	TargetArtifact *Descriptor `json:"targetArtifact,omitempty"`
}

// Descriptor is the part of an OCI descriptor notation compares.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Check is one verification step.
type Check struct {
	Type    ValidationType `json:"type"`
	Action  Action         `json:"action"`
	Outcome Outcome        `json:"outcome"`
	// Error is why the check failed; with action log it did not change the
	// verdict.
	Error string `json:"error,omitempty"`
	// Fix is the concrete change that would make the check pass.
	Fix string `json:"fix,omitempty"`
	// Revocation lists, for the revocation check, one entry per
	// certificate of the signing chain.
	Revocation []CertRevocation `json:"revocation,omitempty"`
}

// CertRevocation is the revocation evidence for one certificate.
type CertRevocation struct {
	Subject string `json:"subject"`
	revocation.Result
}

// CertInfo describes one certificate of the signing chain.
type CertInfo struct {
	Role      string    `json:"role"` // leaf, intermediate, root
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	SHA256    string    `json:"sha256"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	// Trusted names the trust store that holds this exact certificate.
	Trusted string `json:"trusted,omitempty"`
}

// TimestampInfo describes a verified RFC 3161 countersignature.
type TimestampInfo struct {
	Time     time.Time     `json:"time"`
	Accuracy time.Duration `json:"accuracyNanoseconds"`
	TSA      []CertInfo    `json:"tsaChain,omitempty"`
}

// Check returns the check of the given type (every Result lists all five).
func (r *Result) Check(t ValidationType) *Check {
	for i := range r.Checks {
		if r.Checks[i].Type == t {
			return &r.Checks[i]
		}
	}
	return nil
}

func certInfos(chain []*x509.Certificate) []CertInfo {
	out := make([]CertInfo, len(chain))
	for i, c := range chain {
		role := "intermediate"
		switch {
		case i == 0:
			role = "leaf"
		case i == len(chain)-1:
			role = "root"
		}
		sum := sha256.Sum256(c.Raw)
		out[i] = CertInfo{
			Role:      role,
			Subject:   c.Subject.String(),
			Issuer:    c.Issuer.String(),
			Serial:    c.SerialNumber.Text(16),
			SHA256:    hex.EncodeToString(sum[:]),
			NotBefore: c.NotBefore.UTC(),
			NotAfter:  c.NotAfter.UTC(),
		}
	}
	return out
}
