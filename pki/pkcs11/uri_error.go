package pkcs11

import "fmt"

// URIProblem says what is wrong with a PKCS#11 URI.
type URIProblem string

// The problems ParseURI and ParseTokenURI report.
const (
	// URIScheme: the text does not start with "pkcs11:".
	URIScheme URIProblem = "scheme"
	// URINotNameValue: an attribute is not name=value (Attribute is ""
	// when it has no name, as its text may be a PIN).
	URINotNameValue URIProblem = "notNameValue"
	// URISecret: a PIN in the URI: pin-value, or an attribute whose name
	// says pin or pass.
	URISecret URIProblem = "secret"
	// URIUnknownAttribute: an attribute RFC 7512 does not define here.
	URIUnknownAttribute URIProblem = "unknownAttribute"
	// URIDuplicate: an attribute given twice.
	URIDuplicate URIProblem = "duplicate"
	// URIEncoding: bad percent-encoding in a value.
	URIEncoding URIProblem = "encoding"
	// URIInvalidValue: a value this package cannot use (slot-id not a
	// number, empty id, type other than private, relative module-path,
	// pin-source not a file path).
	URIInvalidValue URIProblem = "invalidValue"
	// URIUnsupported: module-name, which names no file.
	URIUnsupported URIProblem = "unsupported"
	// URIConflict: more than one of token, serial and slot-id (Attribute
	// lists them, joined with " and ").
	URIConflict URIProblem = "conflict"
	// URINoKey: a key URI with neither object= nor id= (a new key,
	// Token.GenerateKey, needs both).
	URINoKey URIProblem = "noKey"
	// URIKeyInTokenURI: a token URI (ParseTokenURI) with object=, id= or
	// type=.
	URIKeyInTokenURI URIProblem = "keyInTokenURI"
)

// URIError is a PKCS#11 URI that ParseURI or ParseTokenURI refuses;
// errors.Is(err, ErrInvalidURI) holds. Its message names the attribute
// and never repeats a value that may be a PIN.
type URIError struct {
	Problem URIProblem
	// Attribute is the attribute at fault, in lower case; "" when no one
	// attribute is (URIScheme, URINoKey, URIKeyInTokenURI, a nameless
	// attribute).
	Attribute string

	msg string
}

func (e *URIError) Error() string { return ErrInvalidURI.Error() + ": " + e.msg }

// Is makes errors.Is(err, ErrInvalidURI) true.
func (e *URIError) Is(target error) bool { return target == ErrInvalidURI }

func uriError(p URIProblem, attr, format string, args ...any) *URIError {
	return &URIError{Problem: p, Attribute: attr, msg: fmt.Sprintf(format, args...)}
}
