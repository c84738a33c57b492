// Package service is the one verification flow under every gate: the
// trustpolicy command, the Ratify verifier, and the bulk, admission and
// containerd gates to come are thin adapters over a [Service].
//
// A Service is built from three parts, each from its own package:
//
//   - a *trustpolicy.Engine: the compiled trust policy, the trust stores and
//     the revocation checker; it decides one signature at a time and does
//     no registry I/O;
//   - a *registry.Client (package trustpolicy/registry): the one registry
//     client, which resolves references, lists signatures and fetches them
//     with size caps and digest checks;
//   - a clock (Config.Now), because the engine never reads one.
//
// It has three entry points, one per way a signature reaches a gate:
//
//   - [Service.Verify] verifies an artifact reference from its registry, as
//     notation verify does: resolve the reference (a tag to a digest, with
//     notation's warning), check that the answer is the artifact the
//     reference names, select the trust policy statement, honour level skip
//     before any signature is fetched, list the signatures (referrers API,
//     or the referrers tag schema), fetch and evaluate them in order, and
//     stop at the first that verifies (notation's rule).
//   - [Service.VerifySignature] verifies one signature the caller already
//     knows by its manifest descriptor, as Ratify hands a verifier one
//     referrer: select the statement by the subject's repository and honour
//     skip before any network I/O (for a subject by tag, after resolving
//     the tag), resolve the subject, fetch that signature (its manifest must
//     name the subject as its subject), evaluate.
//   - [Service.Resolve] and [Service.VerifyTarget] are Verify in two steps,
//     for a caller that needs the artifact's descriptor in between (bulk
//     verification tells an image index by its media type and then
//     verifies each platform manifest the index lists, without resolving
//     them again).
//   - [Service.VerifyEnvelope] verifies an envelope the caller already has
//     (bytes, media type, the artifact's descriptor and reference), with no
//     network.
//
// Each returns a *trustpolicy.Report, the result as data: the verdict, the
// statement that applied, every signature tried with the engine's full
// result, warnings (such as verifying by tag) and, when the artifact did
// not verify for want of a signature, the reason and fix. A registry error
// met while fetching signatures is the report's error (a failed verdict),
// as notation reports it. An error is returned only when nothing could be
// decided: bad input (wrapping [ErrInvalidInput], an *[InputError] naming
// the field), a reference that cannot be resolved, or a registry answer
// that is not the artifact asked for.
//
// # Timeouts and cancellation
//
// The caller's context bounds each call, registry and revocation included;
// there is no other deadline. Per-call limits go in [Options].
//
// # Concurrency
//
// A Service is immutable and safe for concurrent use; it shares the
// engine's memo and the registry client's connections and tokens between
// calls. The package has no mutable global state and never prints or logs.
package service
