package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"oras.land/oras-go/v2/errdef"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Sentinel errors, wrapped by the errors of this package where they apply.
var (
	// ErrInvalidReference: the reference cannot be parsed, has no registry
	// host, or names neither a tag nor a digest. It is
	// trustpolicy.ErrInvalidReference: one error for one mistake.
	ErrInvalidReference = trustpolicy.ErrInvalidReference
	// ErrNotFound: the registry has no such repository, tag or manifest.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the registry refused access (401 or 403), or asked for
	// credentials that are not configured.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNoSignatures: no signature refers to the artifact.
	ErrNoSignatures = errors.New("no signatures found")
	// ErrTooManySignatures: more signatures refer to the artifact than
	// Options.MaxSignatures, and the caller did not stop before the limit.
	ErrTooManySignatures = errors.New("too many signatures")
)

// describe turns an error from oras-go or net/http into one that says what
// went wrong and what to do, for the operation op (for example
// "resolve REF") on r. notFound says what was missing.
func (c *Client) describe(err error, op string, r registry.Reference, notFound string) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return sanitize(fmt.Errorf("%s: %w", op, err))
	case isNotFound(err):
		return sanitize(&quietError{
			msg:  fmt.Sprintf("%s: %s: %s", op, ErrNotFound, notFound),
			errs: []error{ErrNotFound, err},
		})
	case isUnauthorized(err):
		why := "the registry refused access"
		if errors.Is(err, auth.ErrBasicCredentialNotFound) {
			why = "the registry requires credentials and none are configured for " + r.Registry
		}
		return sanitize(fmt.Errorf("%s: %w: %s; log in with `docker login %s` (or `notation login %s`), or check the credential helper configured for %s in the docker config: %w",
			op, ErrUnauthorized, why, r.Registry, r.Registry, r.Registry, err))
	case isTLSError(err):
		hint := "check the registry's TLS certificate and that its issuer is trusted by this system"
		if isLoopback(r.Registry) && !c.plainHTTP {
			hint = fmt.Sprintf("%s is a loopback address: if it is a local test registry that serves plain HTTP, %s", r.Registry, c.plainHTTPHint)
		}
		return sanitize(fmt.Errorf("%s: TLS connection to %s failed: %w; %s", op, r.Registry, err, hint))
	case errors.Is(err, errPlainHTTPRefused):
		return sanitize(fmt.Errorf("%s: the registry %s sent the client to a plain-HTTP address: %w", op, r.Registry, err))
	default:
		return sanitize(fmt.Errorf("%s: %w", op, err))
	}
}

func isNotFound(err error) bool {
	if errors.Is(err, errdef.ErrNotFound) {
		return true
	}
	var resp *errcode.ErrorResponse
	return errors.As(err, &resp) && resp.StatusCode == http.StatusNotFound
}

func isUnauthorized(err error) bool {
	if errors.Is(err, auth.ErrBasicCredentialNotFound) {
		return true
	}
	var resp *errcode.ErrorResponse
	return errors.As(err, &resp) && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden)
}

func isTLSError(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verification     *tls.CertificateVerificationError
		recordHeader     tls.RecordHeaderError
		alert            tls.AlertError
	)
	return errors.Is(err, http.ErrSchemeMismatch) ||
		errors.As(err, &unknownAuthority) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &verification) ||
		errors.As(err, &recordHeader) || errors.As(err, &alert)
}

// isLoopback reports whether the registry host[:port] is localhost or a
// loopback IP address (127.0.0.0/8, ::1).
func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// quietError has its own message and wraps errs without repeating their
// text.
type quietError struct {
	msg  string
	errs []error
}

func (e *quietError) Error() string   { return e.msg }
func (e *quietError) Unwrap() []error { return e.errs }

// sanitize returns err, or, when its message holds control or bidirectional
// formatting characters (which a registry can put in error bodies, headers
// and URLs), an error whose message has them escaped by the project's one
// rule (internal/textsafe) and that still wraps err.
func sanitize(err error) error { return textsafe.Error(err) }
