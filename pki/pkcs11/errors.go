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

// loginError turns a C_Login failure into an ErrLogin that says what to do.
// It never includes the PIN.
func loginError(token string, err error) error {
	var code p11.Error
	if !errors.As(err, &code) {
		return fmt.Errorf("%w on token %q: %w", ErrLogin, token, err)
	}
	switch uint(code) {
	case p11.CKR_PIN_INCORRECT, p11.CKR_PIN_INVALID, p11.CKR_PIN_LEN_RANGE:
		return fmt.Errorf("%w on token %q: the PIN is incorrect (%s); check the pin-source file or %s (repeated failures may lock the token)", ErrLogin, token, code, PINEnv)
	case p11.CKR_PIN_LOCKED:
		return fmt.Errorf("%w on token %q: the user PIN is locked (%s); the token's security officer must reset it", ErrLogin, token, code)
	case p11.CKR_PIN_EXPIRED:
		return fmt.Errorf("%w on token %q: the PIN has expired (%s); set a new user PIN", ErrLogin, token, code)
	case p11.CKR_USER_PIN_NOT_INITIALIZED:
		return fmt.Errorf("%w on token %q: the user PIN was never set (%s); initialise it with the token's SO PIN", ErrLogin, token, code)
	}
	return fmt.Errorf("%w on token %q: %s", ErrLogin, token, code)
}
