package plugin

import (
	"errors"
	"fmt"

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

// ConfigProblem says what is wrong with pluginConfig.
type ConfigProblem string

// The problems of a *ConfigError.
const (
	// ConfigSecret: a key that looks like a PIN or password (its value is
	// never repeated).
	ConfigSecret ConfigProblem = "secret"
	// ConfigUnknownKey: a key this plugin does not know.
	ConfigUnknownKey ConfigProblem = "unknownKey"
	// ConfigInvalidValue: a value the key does not take (a timeout that
	// is no positive duration, on/off keys, a relative audit_log).
	ConfigInvalidValue ConfigProblem = "invalidValue"
	// ConfigNoModule: no PKCS#11 module is named, in the key URI,
	// pluginConfig module_path or NOTATION_PKCS11_MODULE.
	ConfigNoModule ConfigProblem = "noModule"
	// ConfigFile: the certificate_chain file cannot be used as a file;
	// ConfigError.File says why.
	ConfigFile ConfigProblem = "file"
	// ConfigCertificates: the certificate_chain file holds no
	// certificates that parse; Err is pki's error (ErrCertificateFormat).
	ConfigCertificates ConfigProblem = "certificates"
)

// ConfigError is pluginConfig that the plugin refuses: the key at fault,
// what is wrong with it and, for a file, the file's problem and cause.
// errors.Is(err, ErrConfig) holds, and it unwraps to the cause.
type ConfigError struct {
	Key     string        // the pluginConfig key, e.g. "timeout"
	Problem ConfigProblem // what is wrong
	// File is the certificate_chain file's problem (ConfigFile).
	File pkcs11.FileProblem
	Err  error // the cause, or nil

	msg string
}

func (e *ConfigError) Error() string { return ErrConfig.Error() + ": " + e.msg }

// Is makes errors.Is(err, ErrConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrConfig }

func (e *ConfigError) Unwrap() error { return e.Err }

func configError(key string, p ConfigProblem, err error, format string, args ...any) *ConfigError {
	return &ConfigError{Key: key, Problem: p, Err: err, msg: fmt.Sprintf(format, args...)}
}

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
