// Package pki holds the certificate and key logic that a Notation signer needs
// and that does not touch an HSM: mapping a public key to its Notation key
// spec, hash and signing algorithm; converting ECDSA signatures to the raw
// r||s form that COSE and JWS require; ordering a certificate chain from leaf
// to root; and checking the chain against the Notary Project signing
// certificate rules, with findings that name the certificate, the rule and the
// fix ([LintChain], and [LintCertificates] for certificates in any order);
// reading certificates in every form a CA hands out: PEM, DER and certs-only
// PKCS#7 .p7b bundles ([ParseCertificates], with a small strict DER parser);
// parsing a certificate subject the way a trust policy x509.subject identity
// needs it ([ParseSubject]); and making a PKCS#10 request with the signing
// extensions through any crypto.Signer, such as an HSM key ([CreateCSR]).
//
// # Security
//
// [CheckSigningChain] first runs this package's own rules, which explain
// themselves, and then notation-core-go's ValidateCodeSigningCertChain, which
// is what notation itself enforces; a chain passes only if both accept it.
// No function here reads files, the network or the clock: the time a chain
// must be valid at is always an argument.
//
// # Concurrency
//
// Every function is safe for concurrent use; none keeps state.
package pki
