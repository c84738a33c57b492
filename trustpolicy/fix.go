package trustpolicy

import "errors"

// A fix travels with its error, the one way this package carries one: an
// error that knows the change that makes its check pass has a Fix() string
// method (the internal/cli.Fixer contract). *IdentityError has its own;
// every other check error gets one from withFix. Evaluate copies the fix of
// each failed check into Check.Fix, and of the deciding error into
// Result.Fix; Result.Err keeps it, so errors.As finds it there too.

// fixError is an error with the fix for it.
type fixError struct {
	err error
	fix string
}

func (e *fixError) Error() string { return e.err.Error() }
func (e *fixError) Unwrap() error { return e.err }
func (e *fixError) Fix() string   { return e.fix }

// withFix attaches fix to err; a nil err stays nil.
func withFix(err error, fix string) error {
	if err == nil {
		return nil
	}
	return &fixError{err: err, fix: fix}
}

// fixOf returns the fix err carries (the first in its chain), or "".
func fixOf(err error) string {
	var f interface{ Fix() string }
	if errors.As(err, &f) {
		return f.Fix()
	}
	return ""
}
