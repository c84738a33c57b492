// Package testtsa is an in-process RFC 3161 time-stamping authority for
// tests. It answers [tspclient.Request]s directly ([TSA.Timestamp], so a
// *TSA is a tspclient.Timestamper that notation-go's signer accepts) and over
// HTTP ([TSA.ServeHTTP], application/timestamp-query in,
// application/timestamp-reply out, for httptest.NewServer).
//
// Tests control what matters for Notary Project timestamp verification: the
// genTime ([Options.Clock]), the accuracy ([Options.Accuracy]) and the policy
// ([Options.Policy]), so a timestamp can be placed before, inside or after a
// signing certificate's validity. Knobs in [Options] produce tokens that
// tspclient-go v1.0.0 (and so notation-go v1.3.2) must reject.
//
// # Tokens
//
// A granted response carries a CMS SignedData (version 3) whose encapsulated
// content is a DER TSTInfo (version 1; policy; the request's messageImprint
// echoed byte for byte; a serial number counting up from 1; genTime as a
// GeneralizedTime in UTC with its fractional second, trailing zeros dropped;
// accuracy when non-zero; the request's nonce). Ordering and the tsa name are
// absent. There is one SignerInfo (version 1, issuerAndSerialNumber) with
// these signed attributes:
//
//   - contentType: id-ct-TSTInfo
//   - messageDigest: hash of the DER TSTInfo
//   - signingTime: genTime to the second (omit with [Options.OmitSigningTime])
//   - signing-certificate-v2 (RFC 5035): one ESSCertIDv2 with the SHA-256
//     hash of the TSA leaf (hashAlgorithm left at its DEFAULT) and its
//     issuerSerial
//
// The certificates field holds the chain without its self-signed root, and
// only when the request asks for certificates (certReq), as RFC 3161
// requires. The signature is ECDSA (ecdsa-with-SHA*) or RSA PKCS #1 v1.5
// (rsaEncryption); the hash follows the key: P-256 and RSA up to 2048 bits
// use SHA-256, P-384 and RSA-3072 SHA-384, P-521 and RSA-4096 and more
// SHA-512.
//
// # PKI
//
// Without [Options.Signer] New uses [GeneratePKI]: a root CA and a TSA leaf
// with critical keyUsage digitalSignature and a critical extendedKeyUsage of
// timeStamping only, both EC P-256 with keys derived from a seed, fixed
// serial numbers and deterministic (RFC 6979) signatures, valid from
// 2000-01-01 to 2100-01-01 so a genTime almost anywhere is inside the TSA's
// own validity. The same seed always gives byte-identical certificates. The
// keys are public test keys: never use them for anything but tests.
package testtsa
