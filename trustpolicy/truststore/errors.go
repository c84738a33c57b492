package truststore

import (
	"errors"
	"path/filepath"
	"strconv"
)

// Sentinel errors. Every *StoreError wraps one of them (through Err), so
// callers can test the kind of problem with errors.Is.
var (
	// ErrStoreNotFound: the store folder (or, for Lint, x509/ itself) does
	// not exist, or a Set was asked for a store it does not hold.
	ErrStoreNotFound = errors.New("trust store not found")
	// ErrNotRegular: the store is a symlink or not a folder, or an entry in
	// the store is a sub-folder, a symlink or another non-regular file.
	ErrNotRegular = errors.New("not a regular folder or file")
	// ErrNoCertificates: a store, or a file in it, holds no certificate.
	ErrNoCertificates = errors.New("no certificates")
	// ErrNotCA: a certificate in a ca or signingAuthority store (or a tsa
	// store) is neither a CA certificate nor self-signed.
	ErrNotCA = errors.New("not a CA certificate and not self-signed")
	// ErrNotRoot: a certificate in a tsa store is not a self-signed,
	// self-issued root CA certificate.
	ErrNotRoot = errors.New("not a root CA certificate")
	// ErrMalformedCertificate: a file cannot be parsed as PEM or DER
	// certificates, or an in-memory certificate has no DER encoding.
	ErrMalformedCertificate = errors.New("malformed certificate")
	// ErrInvalidRef: a store reference has an unknown type or an invalid
	// name.
	ErrInvalidRef = errors.New("invalid trust store reference")
	// ErrTooLarge: a file or a store is over one of this package's size
	// caps (MaxFileSize, MaxCertificates). notation-go has no such caps.
	ErrTooLarge = errors.New("trust store too large")
	// ErrIgnored (Lint only): something under x509/ that notation never
	// reads, such as a file outside any store, an unknown type folder or a
	// store folder whose name no policy can reference.
	ErrIgnored = errors.New("ignored by notation")
	// ErrAccess: a folder or file could not be read (permissions, I/O).
	// The underlying error is wrapped too.
	ErrAccess = errors.New("cannot access trust store")
)

// StoreError is one problem with one trust store, a file in it or a
// certificate in that file.
type StoreError struct {
	// Ref is the store. It is the zero Ref for problems that belong to no
	// store (Lint reporting on x509/ itself).
	Ref Ref
	// Path is the file or folder the problem is in.
	Path string
	// Subject is the certificate's subject when the problem is a
	// certificate, otherwise empty.
	Subject string
	// Msg says what is wrong and how to fix it.
	Msg string
	// Err wraps one of the sentinel errors of this package and, where there
	// is one, the underlying error.
	Err error

	// file reports that Path is a file in the store (Error names it).
	file bool
}

// Error names the store, the file and the certificate subject, then says
// what is wrong and how to fix it.
func (e *StoreError) Error() string {
	var b []byte
	b = append(b, "trust store"...)
	if e.Ref != (Ref{}) {
		b = append(b, ' ')
		b = append(b, e.Ref.String()...)
	}
	if e.file && e.Path != "" {
		b = append(b, ": file "...)
		b = append(b, filepath.Base(e.Path)...)
	}
	if e.Subject != "" {
		b = append(b, ": certificate "...)
		b = strconv.AppendQuote(b, e.Subject)
	}
	msg := e.Msg
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if msg != "" {
		b = append(b, ": "...)
		b = append(b, msg...)
	}
	return string(b)
}

// Unwrap returns Err, so errors.Is(err, ErrNotCA) and the like work.
func (e *StoreError) Unwrap() error { return e.Err }
