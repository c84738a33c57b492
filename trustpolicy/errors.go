package trustpolicy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Verification errors. A failed Result's Err is a *CheckError, which is
// ErrVerificationFailed (or, when no statement applies, Policy.Select's
// error); an inconclusive one is an *InconclusiveError, which is
// ErrInconclusive. See Result.Err.
var (
	ErrVerificationFailed = errors.New("trustpolicy: signature verification failed")
	ErrInconclusive       = errors.New("trustpolicy: signature verification inconclusive")
)

// CheckError is an enforced check that failed. Type is empty for the final
// checks notation always enforces (signed descriptor, user metadata) and for
// envelope attribute errors.
type CheckError struct {
	Type ValidationType
	Err  error
}

func (e *CheckError) Error() string {
	if e.Type == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%s check failed: %v", e.Type, e.Err)
}

// Unwrap returns the check's own error.
func (e *CheckError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrVerificationFailed) true.
func (e *CheckError) Is(target error) bool { return target == ErrVerificationFailed }

// InconclusiveError is notation's VerificationInconclusiveError: the
// verifier could not reach a decision.
type InconclusiveError struct {
	Msg string
}

func (e *InconclusiveError) Error() string { return "verification inconclusive: " + e.Msg }

// Is makes errors.Is(err, ErrInconclusive) true.
func (e *InconclusiveError) Is(target error) bool { return target == ErrInconclusive }

// Errors of the policy layer. File errors from LoadDocument wrap one of the
// first four; a *PolicyError is ErrInvalidPolicy; Select's errors wrap
// ErrInvalidReference or ErrNoApplicablePolicy.
var (
	ErrPolicyNotFound     = errors.New("trust policy not found")
	ErrPolicyNotRegular   = errors.New("trust policy is not a regular file")
	ErrPolicyUnreadable   = errors.New("trust policy cannot be read")
	ErrMalformedPolicy    = errors.New("malformed trust policy")
	ErrInvalidPolicy      = errors.New("invalid trust policy")
	ErrNoApplicablePolicy = errors.New("no applicable trust policy")
	ErrInvalidReference   = errors.New("invalid artifact reference")
)

// PolicyError is one problem in a trust policy document.
type PolicyError struct {
	// Path is the JSON path of the offending field, e.g.
	// "trustPolicies[2].registryScopes[0]"; empty for the document itself.
	Path string
	// Value is the offending value, when there is one.
	Value string
	// Msg says what is wrong and what would be valid.
	Msg string
}

// Error returns `PATH "VALUE": MSG`, leaving out what is empty.
func (e *PolicyError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Value != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Quote(e.Value))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidPolicy) true.
func (e *PolicyError) Is(target error) bool { return target == ErrInvalidPolicy }
