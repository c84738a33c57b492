// Package trustpolicy verifies Notation signatures against a Notation trust
// policy and trust stores exactly as notation-go v1.3.2 does, and explains
// every verdict.
//
// # Layers
//
//   - ParseDocument (parse.go) decodes trustpolicy.json into a Document;
//     Lint (validate.go) reports every problem with notation's acceptance
//     rules, each naming its JSON path; Compile (compile.go) turns a valid
//     Document into a Policy, whose Select picks the statement for a
//     reference. None of them does I/O. LintKeys (and LintFile) also
//     report the keys notation ignores: unknown and misplaced keys with a
//     "did you mean", and duplicate keys; they never change a verdict.
//   - CheckSubject checks that a reference and the descriptor that came
//     with it name the same artifact (and that the descriptor is valid);
//     every caller that gets both from outside calls it before Evaluate,
//     as notation does when it resolves a reference.
//   - Engine.Evaluate verifies one signature envelope. It is a pure
//     function of its Input (reference, descriptor, envelope, time) and the
//     Engine's Config (compiled policy, loaded trust stores, revocation
//     checker): it opens no file, reads no clock and touches no network
//     itself. The revocation checker is the only injected dependency that
//     may do I/O.
//   - load.go is the only file that does I/O: ReadPolicyFile,
//     LoadDocument and LintFile read the policy file with notation's file
//     rules, and Load reads the policy and stores from notation's folders
//     and builds an Engine.
//   - The verification flow every gate shares (select, skip, fetch,
//     evaluate, stop at the first verified signature) is the sub-package
//     service; the registry client is the sub-package registry; the
//     command is cmd/trustpolicy.
//
// # Security
//
// The text renderers (Result.Summary and Explain, Report.Brief, Summary and
// Explain) escape every value from outside with internal/textsafe; the
// JSON forms carry the values unchanged. IdentityFor is the one rule for
// the x509.subject identity of a certificate, and IdentityError.Fix the
// edit of trustpolicy.json that makes a certificate match.
//
// Nothing is trusted that the policy does not name: no system roots, no
// certificate outside the named stores. Checks fail closed: a check that
// cannot reach an answer fails, and the policy's action for it (enforce,
// log, skip) decides the verdict exactly as notation's levels and overrides
// do. The signed descriptor and user metadata are enforced at every level
// except skip, as in notation.
//
// # Speed and concurrency
//
// An Engine is immutable and safe for concurrent use. It memoizes the facts
// about a certificate chain that do not depend on time (the Notary Project
// chain rules, which trusted certificate the chain contains, whether its
// leaf matches the trusted identities), keyed by the SHA-256 of the exact
// chain bytes, per policy statement. Certificate validity, signature expiry,
// timestamps and revocation are decided on every call against Input.Now.
package trustpolicy
