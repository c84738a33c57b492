package revocation

import (
	"context"
	"crypto/x509"
	"time"
)

// Purpose says which certificate rules the chain was issued under.
type Purpose int

// The two chains Notation checks.
const (
	PurposeCodeSigning Purpose = iota
	PurposeTimestamping
)

// String returns "codeSigning" or "timestamping".
func (p Purpose) String() string {
	if p == PurposeTimestamping {
		return "timestamping"
	}
	return "codeSigning"
}

// Status is the revocation status of one certificate.
type Status string

// OK and NonRevokable count as good; Revoked and Unknown do not. Revoked
// always wins over Unknown when a chain is summarised.
const (
	StatusOK           Status = "ok"
	StatusRevoked      Status = "revoked"
	StatusUnknown      Status = "unknown"
	StatusNonRevokable Status = "nonRevokable"
)

// Good reports whether the status lets verification go on.
func (s Status) Good() bool { return s == StatusOK || s == StatusNonRevokable }

// Method is how a status was established.
type Method string

// Methods, as notation-core-go names them.
const (
	MethodNone            Method = ""
	MethodOCSP            Method = "ocsp"
	MethodCRL             Method = "crl"
	MethodOCSPFallbackCRL Method = "ocspFallbackCRL"
)

// Source is where the evidence that decided a status came from.
type Source string

// Sources. A status nothing answered (Unknown) or nothing was asked about
// (NonRevokable without endpoints) has SourceNone.
const (
	SourceNone Source = ""
	// SourceNetwork: downloaded during this check (or by a concurrent
	// check of the same responder or distribution point).
	SourceNetwork Source = "network"
	// SourceMemory: the in-memory cache, filled by an earlier check of
	// this process.
	SourceMemory Source = "memory"
	// SourceDisk: the disk cache, filled by an earlier download (this
	// process or another, such as crl fetch).
	SourceDisk Source = "disk"
	// SourceImported: a CRL imported into the cache (CRLCache.Import,
	// trustpolicy crl import), from memory or disk.
	SourceImported Source = "imported"
)

// combineSources is the Source of evidence drawn from several answers (a
// base CRL and its delta): the first of network, imported, disk and memory
// that any of them has.
func combineSources(srcs ...Source) Source {
	for _, want := range []Source{SourceNetwork, SourceImported, SourceDisk, SourceMemory} {
		for _, s := range srcs {
			if s == want {
				return want
			}
		}
	}
	return SourceNone
}

// cached reports whether the evidence came from a cache.
func (s Source) cached() bool {
	return s == SourceMemory || s == SourceDisk || s == SourceImported
}

// Request is one chain to check.
type Request struct {
	// Chain is ordered leaf first, root last.
	Chain []*x509.Certificate
	// Purpose selects the chain rules.
	Purpose Purpose
	// SigningTime is the authentic signing time, or zero when there is
	// none (notary.x509). An entry whose invalidityDate is after it does not
	// revoke the signature.
	SigningTime time.Time
	// Now is the verification time: the checker compares thisUpdate and
	// nextUpdate against it and never reads the clock itself.
	Now time.Time
}

// Result is the status of one certificate of the chain, with the evidence
// that decided it.
type Result struct {
	Status Status `json:"status"`
	Method Method `json:"method,omitempty"`
	// URL is the responder or distribution point that answered.
	URL string `json:"url,omitempty"`
	// Source is where the deciding evidence came from (network, memory,
	// disk, imported), empty when nothing answered.
	Source Source `json:"source,omitempty"`
	// FromCache is true when the evidence came from a cache, not the
	// network: Source is memory, disk or imported.
	FromCache  bool      `json:"fromCache,omitempty"`
	ThisUpdate time.Time `json:"thisUpdate,omitzero"`
	NextUpdate time.Time `json:"nextUpdate,omitzero"`
	// RevokedAt and Reason are set for revoked certificates.
	RevokedAt time.Time `json:"revokedAt,omitzero"`
	Reason    string    `json:"reason,omitempty"`
	// Detail explains an unknown status (every server's error) in words.
	Detail string `json:"detail,omitempty"`
}

// Checker checks a chain. Implementations must return exactly one Result per
// certificate, in chain order, or an error when the chain cannot be checked
// at all. They must be safe for concurrent use and honour ctx.
type Checker interface {
	Check(ctx context.Context, req Request) ([]Result, error)
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func(ctx context.Context, req Request) ([]Result, error)

// Check calls f.
func (f CheckerFunc) Check(ctx context.Context, req Request) ([]Result, error) { return f(ctx, req) }
