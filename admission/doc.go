// Package admission is a Gatekeeper external data provider that verifies
// the Notation signatures of the images a Pod runs, with the full trust
// policy and revocation of package trustpolicy. The command
// "trustpolicy serve" runs it over HTTPS; docs/admission.md shows how to
// deploy it and roll it out.
//
// It is a thin adapter over package trustpolicy/service: every
// verification is a service.Verify, so what is admitted is exactly what
// "trustpolicy verify" (and notation verify) accepts.
//
// # Protocol
//
// Gatekeeper POSTs a ProviderRequest (externaldata.gatekeeper.sh/v1beta1;
// v1alpha1 is accepted too) to /v1/verify. Its keys are image references as
// Pods carry them; ParseKey normalises them as containerd does (nginx is
// docker.io/library/nginx:latest) and strips a "[NAMESPACE]" prefix. The
// ProviderResponse has one Item per key, in request order:
//
//   - Value is an ItemValue: the verdict, the digest, the one-line summary
//     (trustpolicy.Report.Brief, with its fix) and the full JSON report;
//   - Error is set, to the summary, for every key that does not verify
//     (failed, inconclusive, or nothing could be decided), so the Rego
//     policy denies on external_data(...).errors;
//   - SystemError is set only for faults of the server (overloaded, not
//     ready, a malformed request), and Idempotent is always true.
//
// The request is decoded strictly (DecodeRequest): a size cap, no unknown
// fields, nothing after the document.
//
// # Deadlines and load
//
// Every request has a deadline (Config.Timeout, 2.5 s by default, below
// Gatekeeper's 3 s), queueing included: a key not decided by then gets an
// error. Its verification runs apart from the request, bounded by
// Config.VerifyTimeout (30 s), and fills the cache for the next request.
// At most Config.MaxInFlight requests are served at once and
// Config.MaxQueue wait; any more get a systemError at once. At most
// Config.MaxVerifying verifications run at once.
//
// # Verdict cache
//
// Verdicts are cached per REGISTRY/REPOSITORY@DIGEST and generation of the
// policy and trust stores (a reload starts a new generation), and
// concurrent requests for one artifact share one verification. An entry
// expires at the earliest of Config.CacheTTL (5 min), the expiry of the
// certificates and signature that decided, the nextUpdate of every CRL or
// OCSP answer used, and Config.FailureTTL (30 s) for a verdict that does
// not admit or an unknown revocation status. A key by tag is resolved to
// its digest on every request; a key by digest whose verdict is cached
// needs no registry request at all.
//
// # Reload
//
// Server.Reload loads, lints (as "trustpolicy lint", key warnings allowed
// unless Config.Strict) and compiles the policy and trust stores; Watch
// calls it when the files change, and the command on SIGHUP. A load that
// fails keeps the previous generation serving and makes /readyz answer
// 503 with the reason until a load succeeds. Kubernetes volume updates
// (the ..data symlink swap) are followed explicitly; see Server.Reload.
//
// # Metrics
//
// Handler serves /metrics from a Prometheus registry of the Server's own:
// requests by code, keys by verdict, a latency histogram, verdict,
// registry and revocation cache hits and misses, in-flight and queued
// requests, readiness, generation and reloads, and the Go and process
// collectors.
//
// # Security
//
// The package never prints; Config.Logger receives reloads and faults,
// escaped with internal/textsafe. Response strings are escaped for
// terminals (textsafe.EscapeJSON). Nothing is trusted that the policy does
// not name, and every failure to decide denies (fail closed). TLS is the
// caller's: the command serves HTTPS only, TLS 1.3 and, with a client CA,
// mutual TLS.
//
// # Concurrency
//
// A Server is safe for concurrent use. The package has no mutable global
// state.
package admission
