package plugin

import (
	"errors"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

var (
	// ErrConfig: pluginConfig is invalid.
	ErrConfig = errors.New("invalid pluginConfig")
	// ErrRequest: the request is malformed or asks for something the key
	// cannot do (a keySpec or hash that does not match the key).
	ErrRequest = errors.New("invalid request")
	// ErrUnsupported: the command is not offered by this plugin.
	ErrUnsupported = errors.New("unsupported command")
	// ErrSelfCheck: the HSM returned a signature that does not verify with
	// the signing certificate.
	ErrSelfCheck = errors.New("signature self-check failed")
)

// isValidation reports whether err maps to VALIDATION_ERROR: the input
// names something that does not exist or does not fit.
func isValidation(err error) bool {
	var chainErr *pki.ChainError
	switch {
	case errors.As(err, &chainErr),
		errors.Is(err, ErrConfig), errors.Is(err, ErrRequest), errors.Is(err, ErrUnsupported),
		errors.Is(err, pkcs11.ErrInvalidURI), errors.Is(err, pkcs11.ErrNoPIN), errors.Is(err, pkcs11.ErrPINSource),
		errors.Is(err, pkcs11.ErrTokenNotFound), errors.Is(err, pkcs11.ErrKeyNotFound), errors.Is(err, pkcs11.ErrAmbiguous),
		errors.Is(err, pkcs11.ErrCertificateNotFound), errors.Is(err, pkcs11.ErrKeyExists), errors.Is(err, pkcs11.ErrMechanism),
		errors.Is(err, pki.ErrCertificateMismatch), errors.Is(err, pki.ErrIncompleteChain), errors.Is(err, pki.ErrUnsupportedKey):
		return true
	}
	return false
}

// ToProtocolError converts an error into the protocol's error object:
// ACCESS_DENIED for a refused login, TIMEOUT for a module that did not
// answer, VALIDATION_ERROR for bad input (including chains that break the
// signing rules), ERROR for the rest. The message is err's text, which
// never contains a PIN, followed by "; run: COMMAND" when err carries a fix
// (a Fix() string method, as *pkcs11.PINFileError and *AuditLogError have).
func ToProtocolError(err error) *proto.Error {
	var pe *proto.Error
	if errors.As(err, &pe) {
		return pe
	}
	code := proto.ErrorCodeGeneric
	switch {
	case errors.Is(err, pkcs11.ErrLogin):
		code = proto.ErrorCodeAccessDenied
	case errors.Is(err, pkcs11.ErrTimeout):
		code = proto.ErrorCodeTimeout
	case isValidation(err):
		code = proto.ErrorCodeValidation
	}
	msg := err.Error()
	var f interface{ Fix() string }
	if errors.As(err, &f) && f.Fix() != "" {
		msg += "; run: " + f.Fix()
	}
	return proto.NewError(code, msg)
}
