package pkcs11

import (
	"errors"
	"fmt"

	p11 "github.com/miekg/pkcs11"
)

// Sentinels for the ways opening a key can fail. Errors wrap exactly one of
// them (or ErrInvalidURI, ErrNoPIN, ErrPINSource) so callers can map them to
// protocol codes with errors.Is.
var (
	// ErrModule: the PKCS#11 module cannot be found, loaded or initialised.
	ErrModule = errors.New("PKCS#11 module unusable")
	// ErrTokenNotFound: no token matches the URI.
	ErrTokenNotFound = errors.New("token not found")
	// ErrKeyNotFound: no private key (or public object) matches the URI.
	ErrKeyNotFound = errors.New("key not found")
	// ErrAmbiguous: the URI matches more than one token or key.
	ErrAmbiguous = errors.New("ambiguous PKCS#11 URI")
	// ErrLogin: the token refused the PIN, or is locked.
	ErrLogin = errors.New("token login failed")
	// ErrTimeout: the module did not answer within the configured bound.
	ErrTimeout = errors.New("PKCS#11 module did not answer in time")
	// ErrCertificateNotFound: no certificate for the key is on the token.
	ErrCertificateNotFound = errors.New("certificate not found on the token")
	// ErrKeyExists: a new key would share its label or id with a key on
	// the token (see KeyExistsError).
	ErrKeyExists = errors.New("key already exists")
)

// ErrClosed: the Token was closed. A call after Close fails with an error
// that wraps ErrClosed and ErrModule.
var ErrClosed = errors.New("token is closed")

// closedError is the error of a call on a closed token.
func closedError(token string) error {
	return &taggedError{is: ErrClosed, err: fmt.Errorf("%w: token %q is closed", ErrModule, token)}
}

// ErrLockFile: the module lock file cannot be opened, or is not a regular
// file.
var ErrLockFile = errors.New("unusable module lock file")

// ErrMalformedObject: an object on the token has an attribute this package
// cannot read: EC parameters that are no named curve, a malformed EC point
// or RSA key, a CK_ULONG of the wrong size.
var ErrMalformedObject = errors.New("malformed PKCS#11 object")

// ErrUnsupportedCurve: an EC key on a curve other than P-256, P-384 and
// P-521.
var ErrUnsupportedCurve = errors.New("unsupported EC curve")

// taggedError is an error whose text is err's and that errors.Is also
// matches to the sentinel is, without repeating the sentinel's text.
type taggedError struct {
	is  error
	err error
}

func (e *taggedError) Error() string        { return e.err.Error() }
func (e *taggedError) Unwrap() error        { return e.err }
func (e *taggedError) Is(target error) bool { return target == e.is }

// tagged returns an error with the text of format and args that errors.Is
// matches to sentinel (and to whatever args wrap with %w).
func tagged(sentinel error, format string, args ...any) error {
	return &taggedError{is: sentinel, err: fmt.Errorf(format, args...)}
}

// LoginError is a login the token refused: C_Login as the user (Token.Login)
// or, for a key with CKA_ALWAYS_AUTHENTICATE, the context-specific login
// before a signature. It wraps ErrLogin and the module's error, a
// miekg/pkcs11 Error (CKR_PIN_INCORRECT, CKR_PIN_LOCKED, ...) when the
// module returned one. Its text never holds the PIN.
type LoginError struct {
	Token string // the token's label
	// ContextSpecific is set for the context-specific login
	// (CKU_CONTEXT_SPECIFIC) a CKA_ALWAYS_AUTHENTICATE key needs.
	ContextSpecific bool
	Err             error // the module's error

	msg string
}

func (e *LoginError) Error() string { return e.msg }

func (e *LoginError) Unwrap() []error { return []error{ErrLogin, e.Err} }

// loginError turns a C_Login failure into a *LoginError that says what to
// do. It never includes the PIN.
func loginError(token string, err error) *LoginError {
	e := &LoginError{Token: token, Err: err}
	var code p11.Error
	if !errors.As(err, &code) {
		e.msg = fmt.Sprintf("%s on token %q: %s", ErrLogin, token, err)
		return e
	}
	switch uint(code) {
	case p11.CKR_PIN_INCORRECT, p11.CKR_PIN_INVALID, p11.CKR_PIN_LEN_RANGE:
		e.msg = fmt.Sprintf("%s on token %q: the PIN is incorrect (%s); check the pin-source file or %s (repeated failures may lock the token)", ErrLogin, token, code, PINEnv)
	case p11.CKR_PIN_LOCKED:
		e.msg = fmt.Sprintf("%s on token %q: the user PIN is locked (%s); the token's security officer must reset it", ErrLogin, token, code)
	case p11.CKR_PIN_EXPIRED:
		e.msg = fmt.Sprintf("%s on token %q: the PIN has expired (%s); set a new user PIN", ErrLogin, token, code)
	case p11.CKR_USER_PIN_NOT_INITIALIZED:
		e.msg = fmt.Sprintf("%s on token %q: the user PIN was never set (%s); initialise it with the token's SO PIN", ErrLogin, token, code)
	default:
		e.msg = fmt.Sprintf("%s on token %q: %s", ErrLogin, token, code)
	}
	return e
}

// contextLoginError is the failed context-specific login of a
// CKA_ALWAYS_AUTHENTICATE key.
func contextLoginError(token string, err error) *LoginError {
	if isLoginCode(err) {
		e := loginError(token, err)
		e.ContextSpecific = true
		e.msg = "the key has CKA_ALWAYS_AUTHENTICATE and the context-specific login failed: " + e.msg
		return e
	}
	return &LoginError{Token: token, ContextSpecific: true, Err: err,
		msg: fmt.Sprintf("%s: the key has CKA_ALWAYS_AUTHENTICATE and the context-specific login on token %q failed: %s", ErrLogin, token, err)}
}
