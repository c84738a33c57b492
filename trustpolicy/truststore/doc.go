// Package truststore loads Notation trust stores with exactly the acceptance
// rules of notation-go v1.3.2 (verifier/truststore) and
// notation-core-go v1.3.0 (x509.ReadCertificateFile).
//
// # Layout
//
// The root is the folder that holds x509/, notation's
// {NOTATION_CONFIG}/truststore. A store named NAME of type TYPE is the folder
//
//	ROOT/x509/TYPE/NAME/
//
// where TYPE is ca, signingAuthority or tsa (case-sensitive) and NAME matches
// [a-zA-Z0-9_.-]+. A trust policy names it "TYPE:NAME" (see ParseRef).
//
// # Rules
//
// A store loads only if all of these hold; otherwise the whole store fails:
//
//   - The store folder exists and is a real folder. It is checked with
//     Lstat, so a symlinked store folder is rejected; as in notation only
//     the final component is checked, so ROOT, x509/ and the type folder may
//     be symlinks. The name is joined and cleaned as notation does, so "."
//     and ".." (valid names for notation) resolve to the type folder and to
//     x509/ itself; Lint warns about them.
//   - Every entry of the folder, whatever its name or extension (.gitkeep
//     and README too), is a regular file. A sub-folder or a symlink is an
//     error (the specification says sub-folders are ignored; notation-go
//     rejects them, and so does this package).
//   - Every file holds one or more certificates: PEM (every block that
//     encoding/pem decodes must be a certificate, whatever its type; text
//     around the blocks is ignored) or, if the file holds no PEM block, one
//     or more concatenated DER certificates. An empty file or a file that is
//     not certificates is an error.
//   - In ca and signingAuthority stores every certificate is a CA
//     certificate (basicConstraints CA:true) or self-signed, meaning its
//     signature verifies with its own public key (subject and issuer are not
//     compared, SHA-1 is allowed). A CA-issued leaf is rejected; an
//     intermediate CA is accepted (it is then a trust anchor).
//   - In tsa stores every certificate also is a root CA: it verifies as its
//     own parent with x509.Certificate.CheckSignatureFrom (which requires a
//     CA, or a version 1 certificate, allowed to sign certificates, and
//     rejects SHA-1) and its raw subject equals its raw issuer.
//   - The store holds at least one certificate.
//
// Certificates are returned in notation's order: files sorted by name,
// certificates in file order.
//
// # Deliberate differences from notation-go
//
// Each makes this package reject a store notation-go would load (or hang
// on); none makes it accept a store notation-go rejects:
//
//   - Size caps: a file over MaxFileSize (4 MiB) and a store with more than
//     MaxCertificates (1000) certificates are errors (ErrTooLarge) naming
//     the cap. notation-go has no caps.
//   - An entry that is neither a folder, a symlink nor a regular file (a
//     named pipe, socket or device) is rejected without being opened.
//     notation-go opens and reads it, and blocks forever on a named pipe.
//   - Files are opened with O_NOFOLLOW and O_NONBLOCK (on Linux, macOS and
//     the BSDs) and checked to be regular after opening, so a file swapped
//     for a symlink or a pipe between listing and reading is rejected;
//     notation-go would follow it.
//   - Error messages differ: they name the store, the file and the
//     certificate and say how to fix the problem. Only what is accepted and
//     rejected matches notation-go.
//
// # Security
//
// Only the certificates in the named stores are trusted: no system roots are
// ever loaded. A store folder cannot be a symlink and no symlink inside a
// store is followed; a valid name cannot leave x509/ (the names "." and ".."
// resolve to x509/TYPE/ and x509/ themselves, as in notation). As in
// notation, ROOT, x509/ and the type folders may be symlinks, so whoever can
// write the trust store's parent folders decides what is trusted.
//
// # Errors
//
// Load never fails as a whole. Each store keeps its first problem, in the
// order notation meets them, and Set.Certificates returns it as a
// *StoreError, because notation reports a store's error only when a
// verification uses that store. Lint reports every problem under the root.
// Each *StoreError wraps a sentinel (ErrStoreNotFound, ErrNotRegular,
// ErrNoCertificates, ErrNotCA, ErrNotRoot, ErrMalformedCertificate, ...) for
// errors.Is.
//
// # CRL issuers
//
// CRLIssuers is the trust decision of the crl commands: a CRL may be
// validated against any certificate of any store under the root (Discover
// lists them) or a CA certificate that chains to one of those. An
// intermediate given for that purpose stays an intermediate: it is checked
// against the stores, never added to them.
//
// # Concurrency
//
// A Set is immutable once Load, LoadFS or NewSet returns it and is safe for
// concurrent use. Certificates returns a fresh slice; the certificates
// themselves are shared and must not be modified. The package has no
// mutable state and prints nothing.
package truststore
