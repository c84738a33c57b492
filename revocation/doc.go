// Package revocation checks whether the certificates of a Notation signing or
// timestamping chain have been revoked.
//
// # Contract
//
// checker.go defines the contract between the trust-policy engine and a
// revocation checker: the engine hands a chain to a Checker and receives one
// Result per certificate. Results are data; the engine, not the checker,
// decides what an unknown or revoked status does to the verdict (through the
// trust policy's revocation action). NonRevokableOnly (static.go) is a
// checker without network or cache; New returns the real one, a *Client.
//
// # Behaviour shared with notation-core-go v1.3.0
//
//   - The chain is first re-validated for its purpose
//     (ValidateCodeSigningCertChain with no signing time, or
//     ValidateTimestampingCertChain); failure is an *InvalidChainError,
//     "invalid chain: expected chain to be correct and complete: …".
//   - The last (self-signed root) certificate, and a single self-signed
//     certificate, are NonRevokable; so is a certificate that names neither
//     an OCSP responder nor a CRL distribution point. The other certificates
//     are checked in parallel.
//   - OCSP first. Responders are tried in order; the first good, revoked or
//     "unknown" answer is final; an error moves on to the next responder.
//     When OCSP ends Unknown and the certificate has CRL distribution
//     points, the CRL decides (Method ocspFallbackCRL). Revoked never falls
//     back.
//   - OCSP requests use a SHA-1 CertID and no nonce, by GET when the base64
//     request is shorter than 255 bytes, else by POST. Only http URLs are
//     used (https, ldap… are Unknown with a detail that says so); HTTP 200 is
//     required; responses are capped at 20 KB and CRLs at 32 MiB (both
//     configurable). Timeouts: 2 s per OCSP exchange, 5 s per CRL download.
//   - An OCSP response without nextUpdate, or past it, is "expired OCSP
//     response" (Unknown). A thisUpdate in the future is accepted, for OCSP
//     and CRLs alike.
//   - A CRL must be signed by the issuing CA (no indirect CRLs), have a
//     nextUpdate not before Request.Now, and carry no critical extension
//     other than the issuing distribution point and the delta CRL indicator.
//   - Delta CRLs come from the base CRL's freshest-CRL extension and must
//     have the same issuer, a CRL number greater than the base's and a delta
//     indicator not greater than the base's number. A freshest-CRL extension
//     only in the certificate makes the status Unknown.
//   - Entries: with a signing time (Request.SigningTime, only for
//     notary.x509.signingAuthority) before an entry's invalidityDate, the
//     entry does not revoke (CRL entries and OCSP responses alike).
//     certificateHold revokes unless the latest (by revocation date)
//     certificateHold/removeFromCRL entry, base and delta together, is
//     removeFromCRL; removeFromCRL alone is good; every other reason revokes,
//     whatever the revocation date. A malformed invalidityDate on the
//     certificate's entry makes it Unknown.
//
// # Differences from notation-core-go v1.3.0
//
// Where notation-core-go is weaker than the specification or RFC 5280,
// this package is stricter or more robust:
//
//  1. Every CRL distribution point is tried until one answers validly;
//     notation-core-go stops at the first failing one. The first valid
//     answer decides (notation-core-go consults every distribution point),
//     except that a CRL limited to some reasons (onlySomeReasons) answers
//     "good" only once the CRLs consulted cover every reason.
//  2. A CRL is validated (signature, issuer, freshness, extensions, entries)
//     before it enters any cache; notation-core-go caches first, so a forged
//     CRL with a far-future nextUpdate could pin a status.
//  3. A delegated OCSP responder must carry the OCSPSigning extended key
//     usage and be valid at Request.Now; notation-core-go accepts any
//     certificate the issuer signed. Every embedded certificate is
//     considered, not only the first, and a response signed by the issuer
//     that also embeds the issuer's certificate is accepted.
//  4. Concurrent checks share one download per URL (single flight), and a
//     caller that gives up does not cancel the download for the others.
//  5. The OCSP CertID must match the issuer's name and key hashes, not only
//     the serial number. Unknown critical extensions of the response are
//     rejected; invalidityDate and reasonCode may be critical.
//  6. The CRL issuer name must equal the issuing CA's subject (byte for
//     byte), besides the signature.
//  7. An unsupported critical entry extension anywhere in a CRL rejects the
//     CRL (RFC 5280 section 5.3); notation-core-go errs only when the
//     certificate's own entry has one.
//  8. An entry excused by its invalidityDate does not end the search: a
//     later unexcused entry for the same serial (for example keyCompromise
//     in the delta CRL) still revokes. notation-core-go returns good at the
//     first excused entry.
//  9. The issuing distribution point is honoured: indirect and
//     attribute-certificate CRLs are refused, a CA-only CRL does not answer
//     for an end-entity certificate nor a user-only CRL for a CA. A
//     distribution point that serves a delta CRL is not used as a base, and
//     a delta CRL must have the base CRL's scope. A base CRL whose IDP names
//     distribution points must name the URL it came from or another name of
//     the certificate's distribution point that lists that URL (RFC 5280
//     section 6.3.3 (b)(2)(i)); otherwise it is a CRL of another partition
//     (served at the wrong URL by someone on the plain-http path, say) and
//     is rejected with an *IDPMismatchError, never cached and never mapped
//     to the URL. The rule is applied on download, on import (an imported
//     CRL is found under its IDP names, or by issuer when it has none) and
//     on every cache lookup. notation-core-go does not compare them.
//  10. Options.ChainTimeout (default 7 s, the OCSP plus the CRL timeout)
//     bounds the whole check; timeouts cover reading the body. A size cap
//     of N bytes accepts exactly N bytes (notation-core-go rejects N).
//  11. Caches: OCSP responses are cached too (memory and disk, until
//     nextUpdate, re-verified on every use); CRLs can be imported for
//     offline use (Options.Offline); a fresh cached CRL is never replaced
//     by one with a lower CRL number.
//  12. CRL parsing is stricter about DER (no trailing data, no repeated
//     extension) and keeps entry times to the second.
//
// # CRL cache
//
// CRLCache (Options.CacheDir, default the crl folder of notation-pkcs11's
// cache folder: $NOTATION_PKCS11_CACHE/crl, else
// $XDG_CACHE_HOME/notation-pkcs11/crl or ~/.cache/notation-pkcs11/crl;
// mode 0700) holds only validated CRLs, each as one file KEY.crlx: a
// compact index (a JSON header, then fixed-width records sorted by serial
// number) followed by the CRL's DER as fetched or imported, under one
// checksum (see crlfile.go; CRLCache.CRL returns the DER). KEY names the
// issuing CA (subject and public key), the CRL's scope (issuing
// distribution point) and base or delta, so that an imported CRL, whose URL
// is unknown, is found by issuer; url-HASH.ref files map the URLs a CRL is
// found under (where it was downloaded from, and its IDP names) to its key.
// A file is replaced by writing a temporary file and renaming it over the
// old one, so the index and its CRL change in one atomic step: a reader in
// another process sees the old pair or the new one, never a mix, and never
// waits or retries. Freshness (nextUpdate against Request.Now) is checked
// on every use. A bounded in-memory layer (Options.MemoryCacheBytes) serves
// long-running verifiers. OCSP responses go to ocsp/, and the chains that
// offline hints name to chains/ (see offline.go).
//
// Every Result says where its evidence came from (Result.Source): the
// network, the memory layer, the disk cache, or an imported CRL (for a
// base CRL and its delta, the first of network, imported, disk, memory
// that either came from). FromCache is true for the three caches.
//
// # Cache trust
//
// The cache directory is trusted like the user's own files. New opens it
// and checks the opened folder with fstat: it must be owned by the
// effective user and not writable by group or others, or New fails with a
// *CacheTrustError (errors.Is ErrCacheNotTrusted) whose Fix is the chown or
// chmod command to run. A folder created later is checked the same way
// when it is first written. Every file is then opened relative to the
// folder's descriptor (openat) with O_NOFOLLOW and O_NONBLOCK and checked on
// its own descriptor (a regular file, same owner, not group or other
// writable), so there is no window between check and use; a refused file
// is reported through Options.OnCacheError and treated as absent. (Where
// there is no openat, on Windows, only file types are checked and access
// is left to the folder's ACL.) Even so, loading a cached CRL re-checks
// everything that is cheap: the index's CRC-32C, the SHA-256 of the DER
// recorded in the index against the DER beside it, the CRL's signature
// against the issuing CA of the chain being checked (one hash of the signed
// part), and its header and freshness. It does not re-derive the entries
// from the DER; that is the expensive step the index exists to avoid. So an
// attacker who can write the cache directory could remove entries from an
// index, but such an attacker can equally replace the trust store or the
// binary. Cached OCSP responses need no trust: they are fully re-verified.
//
// # Scale
//
// A CRL is parsed without building an x509.RevocationList entry per
// revoked certificate: the header is parsed by the standard library from
// a copy without the entry list; the entries are read with cryptobyte
// straight into 48-byte records and radix-sorted; the signature is checked
// over the complete signed TBSCertList. A lookup bisects a small sample of
// keys, then one block of 64 records. With 1,000,000 entries (a 41 MB CRL,
// random 128-bit serials) BenchmarkCRL1M_Ratios measured in one run, on a
// 2-CPU Intel Xeon (shared): x509.ParseRevocationList 0.78 s; load, verify
// and index 0.22 s (0.28x, the bound is 1.5x); reload from the disk index
// 0.12 s (0.15x, the bound is 0.25x); BenchmarkCRL1M_Lookup 0.34 µs per
// lookup (the bound is 1 µs). The index holds 48 MB of memory (42 MB on
// disk) against 311 MB for an x509.RevocationList.
//
// # Errors
//
// The errors of Import, Fetch, FetchFrom, Download, CRL, New and
// NewCRLCache wrap the package's sentinels (errors.go), so callers test the
// outcome with errors.Is: ErrNoIssuer, ErrCRLSignature, ErrCRLExpired,
// ErrIDPMismatch, ErrTooLarge, ErrMalformedCRL, ErrUnsupportedCRL,
// ErrCRLKind, ErrNewerCached, ErrOffline, ErrNoDiskCache,
// ErrCacheNotTrusted, ErrNotHTTP, ErrHTTPStatus, ErrNoTime (Check without
// Request.Now), and for OCSP answers
// ErrOCSPNotForCert, ErrOCSPSignature, ErrOCSPResponderUnauthorized,
// ErrOCSPResponderValidity, ErrOCSPExpired, ErrMalformedOCSP. The types
// *RejectedError (downloaded but not accepted), *IssuerError,
// *IDPMismatchError, *ExpiredError and *CacheTrustError (with Fix, the
// command that repairs the cache) carry the details. A check's Result
// words the same errors in Detail.
//
// # Conventions
//
// The package never reads the clock for verification (Request.Now is the
// time), never prints, and keeps no mutable package state.
package revocation
