// Package testpki builds the deterministic test PKI that the notation-pkcs11
// tests and end-to-end scripts use: for every supported key type a root, an
// intermediate and a code-signing leaf; a development issuing CA for keys that
// are generated inside an HSM at test time; and a set of leaves that each
// break one Notary Project signing-certificate rule.
//
// It is test-only. Every private key it writes is public and must never be
// used for anything but tests.
//
// The tree lives in testdata/pki and is regenerated with
//
//	go generate ./internal/testpki
//
// Output is byte-for-byte reproducible: EC keys are derived from their names,
// certificates have fixed serial numbers and validity periods and are signed
// deterministically (RFC 6979 for ECDSA, PKCS #1 v1.5 for RSA). RSA keys
// cannot be derived with the Go 1.26 standard library, so they are generated
// once, checked in under testdata/pki/keys and reused; delete one there to
// replace it.
package testpki

//go:generate go run ./gen -out ../../testdata/pki
