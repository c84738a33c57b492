package revocation

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. The errors that Import, Fetch, FetchFrom, Download,
// NewCRLCache and New return wrap one of them (some wrap two, such as a
// *RejectedError around an *IDPMismatchError), so callers test the outcome
// with errors.Is instead of reading the text.
var (
	// ErrNoIssuer: none of the certificates given is the CRL's issuer (no
	// subject equals the CRL's issuer name).
	ErrNoIssuer = errors.New("no certificate given is the CRL's issuer")
	// ErrCRLSignature: the CRL is not signed by its issuing CA: the
	// signature does not verify, the key differs (authority key identifier)
	// or the issuer name is not the CA's subject.
	ErrCRLSignature = errors.New("the CRL is not signed by its issuing CA")
	// ErrCRLExpired: the CRL is past its nextUpdate at the verification
	// time, or has none (*ExpiredError for the former).
	ErrCRLExpired = errors.New("the CRL is expired")
	// ErrIDPMismatch: the CRL's issuing distribution point names other
	// distribution points than the URL it came from and the certificate's
	// (*IDPMismatchError): it covers another partition.
	ErrIDPMismatch = errors.New("issuing distribution point mismatch")
	// ErrTooLarge: a CRL, OCSP response or cache file is over its size cap.
	ErrTooLarge = errors.New("over the size limit")
	// ErrMalformedCRL: the bytes are not a DER CRL this package accepts.
	ErrMalformedCRL = errors.New("malformed CRL")
	// ErrUnsupportedCRL: a well-formed CRL this package does not use: an
	// unsupported critical extension, an indirect or attribute CRL, a scope
	// that excludes the certificate, a delta CRL announced only by the
	// certificate.
	ErrUnsupportedCRL = errors.New("unsupported CRL")
	// ErrCRLKind: a delta CRL where a complete CRL is expected, or the other
	// way round, or a delta CRL that does not fit its base CRL.
	ErrCRLKind = errors.New("wrong kind of CRL")
	// ErrNewerCached: the cache already holds a fresh CRL with a higher CRL
	// number for the same issuer and scope; the older one is not stored.
	ErrNewerCached = errors.New("a newer CRL is already cached")
	// ErrOffline: offline mode; the network is not used.
	ErrOffline = errors.New("offline mode: the network is not used")
	// ErrNotCached: no usable CRL in the cache (offline mode).
	ErrNotCached = errors.New("no cached CRL")
	// ErrNoDiskCache: the operation needs the disk cache, which is off.
	ErrNoDiskCache = errors.New("the disk cache is disabled")
	// ErrCacheNotTrusted: the cache folder, or a file in it, is not owned by
	// the effective user, or others can write it (*CacheTrustError).
	ErrCacheNotTrusted = errors.New("the CRL cache is not trusted")
	// ErrNotHTTP: a URL that is not http (https, ldap, ...).
	ErrNotHTTP = errors.New("only http URLs are supported")
	// ErrHTTPStatus: the server answered something else than 200 OK.
	ErrHTTPStatus = errors.New("the server did not answer 200 OK")
	// ErrNoTime: Check was given a Request without Now (a caller bug: the
	// checker never reads the clock).
	ErrNoTime = errors.New("revocation: the request has no verification time; set Request.Now")

	// ErrOCSPNotForCert: no single response has the certificate's CertID.
	ErrOCSPNotForCert = errors.New("the OCSP response is not about this certificate")
	// ErrOCSPSignature: the response is signed neither by the issuing CA
	// nor by a responder certificate the CA issued.
	ErrOCSPSignature = errors.New("bad OCSP response signature")
	// ErrOCSPResponderUnauthorized: a delegated responder certificate
	// without the OCSPSigning extended key usage.
	ErrOCSPResponderUnauthorized = errors.New("the delegated OCSP responder is not authorized")
	// ErrOCSPResponderValidity: a delegated responder certificate that is
	// not valid at the verification time.
	ErrOCSPResponderValidity = errors.New("the delegated OCSP responder certificate is not valid at the verification time")
	// ErrOCSPExpired: the response has no nextUpdate or is past it.
	ErrOCSPExpired = errors.New("expired OCSP response")
	// ErrMalformedOCSP: not a DER basic OCSP response, or an error status.
	ErrMalformedOCSP = errors.New("malformed OCSP response")
)

// kindError is an error with its own message (which includes the cause's)
// that reports one sentinel to errors.Is and wraps a cause.
type kindError struct {
	kind  error
	msg   string
	cause error
}

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Is(target error) bool { return target == e.kind }
func (e *kindError) Unwrap() error        { return e.cause }

// kindf returns an error that errors.Is reports as kind, with a formatted
// message. A %w verb in format wraps its argument as the cause.
func kindf(kind error, format string, a ...any) error {
	err := fmt.Errorf(format, a...)
	return &kindError{kind: kind, msg: err.Error(), cause: errors.Unwrap(err)}
}

// withKind marks err as kind without changing its text.
func withKind(kind, err error) error {
	if err == nil || errors.Is(err, kind) {
		return err
	}
	return &markError{kind: kind, err: err}
}

type markError struct{ kind, err error }

func (e *markError) Error() string        { return e.err.Error() }
func (e *markError) Is(target error) bool { return target == e.kind }
func (e *markError) Unwrap() error        { return e.err }

// IDPMismatchError is a CRL whose issuing distribution point names neither
// the URL it was downloaded from nor any distribution point of the
// certificate (RFC 5280 section 6.3.3 (b)(2)(i)): a CRL of another
// partition, which must not answer for the certificate. It is never cached
// and never mapped to the URL. errors.Is(err, ErrIDPMismatch) holds.
type IDPMismatchError struct {
	// URL is where the CRL was downloaded from (or looked up for).
	URL string
	// IDPURLs are the distribution point URIs the CRL names (none when its
	// distribution point is a directory name).
	IDPURLs []string
	// CertURLs are the certificate's CRL distribution points, when a
	// certificate was being checked.
	CertURLs []string
}

func (e *IDPMismatchError) Error() string {
	names := "no URI"
	if len(e.IDPURLs) > 0 {
		names = strings.Join(e.IDPURLs, ", ")
	}
	var want []string
	if e.URL != "" {
		want = append(want, e.URL)
	}
	for _, u := range e.CertURLs {
		if u != e.URL {
			want = append(want, u)
		}
	}
	return fmt.Sprintf("issuing distribution point mismatch: the CRL from %s covers the partition %s, not %s (a CRL of another partition of the CA; RFC 5280 section 6.3.3)",
		e.URL, names, strings.Join(want, " or "))
}

func (e *IDPMismatchError) Is(target error) bool { return target == ErrIDPMismatch }

// ExpiredError is a CRL past its nextUpdate at the verification time.
// errors.Is(err, ErrCRLExpired) holds.
type ExpiredError struct{ NextUpdate, Now time.Time }

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("the CRL expired at %s (nextUpdate; verification time %s)",
		e.NextUpdate.UTC().Format(time.RFC3339), e.Now.UTC().Format(time.RFC3339))
}

func (e *ExpiredError) Is(target error) bool { return target == ErrCRLExpired }

// IssuerError is a CRL whose issuer is not among the certificates given:
// no certificate has its issuer name (errors.Is(err, ErrNoIssuer)), or the
// ones that have it have another key than the CRL's authority key
// identifier (errors.Is(err, ErrCRLSignature)).
type IssuerError struct {
	// Issuer is the CRL's issuer name.
	Issuer string
	// AuthorityKeyID is the CRL's authority key identifier, if any.
	AuthorityKeyID []byte
	// Given is how many certificates were candidates; NameMatches how many
	// of them have the issuer's name.
	Given, NameMatches int
}

func (e *IssuerError) Error() string {
	if e.NameMatches > 0 {
		return fmt.Sprintf("its authority key identifier %X matches none of the %d certificates named %q: it is not signed by that CA's key",
			e.AuthorityKeyID, e.NameMatches, e.Issuer)
	}
	return fmt.Sprintf("its issuer %q is none of the %d certificates given", e.Issuer, e.Given)
}

func (e *IssuerError) Is(target error) bool {
	if e.NameMatches > 0 {
		return target == ErrCRLSignature
	}
	return target == ErrNoIssuer
}

// RejectedError is a CRL that was downloaded from URL but not accepted;
// Err says why (an *IssuerError, *IDPMismatchError, *ExpiredError, ...).
// Nothing was cached.
type RejectedError struct {
	URL string
	Err error
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("the CRL downloaded from %s was not accepted: %v", e.URL, e.Err)
}

func (e *RejectedError) Unwrap() error { return e.Err }
