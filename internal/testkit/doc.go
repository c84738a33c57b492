// Package testkit is the repository's one X.509 test factory, as age's
// internal/testkit is age's: certificates (Create, Issue, CA), their keys
// (ECKey, Ed25519Key derived from a name; NewECKey at random), CRLs and
// OCSP responses signed by a CA, certificates that x509.CreateCertificate
// refuses to make (Resign), and PEM and DER encodings.
//
// Create signs without randomness: ECDSA and Ed25519 signatures are
// deterministic (RFC 6979 with a nil random source) and RSA uses PKCS #1
// v1.5, so the same template, key and issuer give the same certificate.
// internal/testpki, which writes the checked-in test PKI (testdata/pki),
// issues every certificate through Create; tests that need certificates
// made at run time (other validity periods, broken profiles, revocation
// endpoints) use Issue and CA.
//
// Every key this package makes or derives is a public test key: never use
// one outside tests.
package testkit
