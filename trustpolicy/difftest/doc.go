// Package difftest is a test-only package: it holds no production code, only
// the differential test suite that proves package trustpolicy gives exactly
// the verdicts of notation-go v1.3.2's verifier.
//
// # What the suite proves
//
// Every case (several hundred, generated combinatorially from envelope
// format, signing scheme, key type, chain shape and defects, signature
// expiry, certificate validity, RFC 3161 timestamps, trust policy level,
// overrides, verifyTimestamp, trust stores, trusted identities, revocation
// answers, descriptor and user metadata, and policy selection) is verified
// twice, with the same envelope bytes, the same trust policy (converted by a
// JSON round trip), the same certificates in the same named trust stores and
// the same revocation answers:
//
//   - by notation-go v1.3.2's verifier (verifier.NewWithOptions +
//     Verify), the oracle, with an in-memory trust store and fake
//     notation-core-go revocation validators; and
//   - by trustpolicy.Engine.Evaluate, with truststore.NewSet and a fake
//     revocation.Checker driven by the same per-case table.
//
// For every case the two must agree on:
//
//   - the verdict (notation: nil error is verified, or skipped for level
//     skip; VerificationInconclusiveError is inconclusive; any other error
//     is failed);
//   - for every check notation reports, its action and whether it passed,
//     and the exact text of its error;
//   - every check notation does not report being skipped or not run in ours;
//   - the top-level reason of a failure (notation's error text against the
//     error our failing check or final comparison carries);
//   - the revocation requests both verifiers make (purpose, chain, signing
//     time).
//
// Deliberate differences are not skipped: each one is asserted explicitly,
// as a named expectation, and listed in the test log.
//
// A second, randomized (fixed seed) test mutates envelope bytes (bit flips,
// truncation, splices) and requires the same parity, and that our engine
// never panics.
//
// Every time-dependent fixture is built relative to time.Now() with margins
// of hours, because notation-go reads the clock itself.
package difftest
