package trustpolicy

import (
	"errors"
	"fmt"
)

// Verification errors. A failed Result's Err is a *CheckError (or wraps
// ErrVerificationFailed); an inconclusive one wraps ErrInconclusive.
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
