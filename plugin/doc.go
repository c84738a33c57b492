// Package plugin implements the Notation plugin protocol (contract version
// 1.0, capability SIGNATURE_GENERATOR.RAW) over keys held in a PKCS#11 HSM.
//
// [Plugin.Run] is the whole protocol: it reads one request from stdin,
// answers on stdout, and on failure writes only the JSON error object to
// stderr and returns exit code 1. get-plugin-metadata needs no configuration
// and touches no HSM; describe-key answers from a key-spec cache when it can
// and otherwise reads the public key without logging in; generate-signature
// logs in once, builds and checks the certificate chain, signs, and verifies
// its own signature before answering.
//
// Beside the protocol, the package serves the human subcommands of the
// notation-pkcs11 binary with the same URI, PIN, module-lock and chain code:
// [Plugin.ListTokens], [Plugin.ListKeys], [Plugin.GenerateKey],
// [Plugin.CreateCSR], [Plugin.ImportCertificates] (which refuses a
// certificate for another key or a chain that breaks the signing rules) and
// [Plugin.Doctor] (every link from module to a chain notation accepts,
// expiry and revocation). With pluginConfig audit_log set, every
// generate-signature appends one [AuditRecord] JSON line, success or
// failure.
//
// # Security
//
// The PIN comes from the key URI's pin-source file or NOTATION_PKCS11_PIN;
// a PIN in pluginConfig or a pin-value in the URI is refused, because
// notation stores both in plaintext and prints them with -d. [New] takes
// NOTATION_PKCS11_PIN out of the process environment before any module
// loads, so the module and its helper processes do not inherit it. No
// error or response carries the PIN; an error that has a fix (a PIN file
// or audit log with the wrong owner or mode) carries the command, as
// "; run: COMMAND". A request is one JSON object: anything but white space
// after it is refused. The key-spec cache holds no secret, and every
// generate-signature checks the cached answer against the real key.
//
// pluginConfig certificate_chain (PEM, DER or a PKCS#7 .p7b bundle) is
// opened without blocking and must be a regular file of at most 1 MiB, so a
// FIFO there fails at once instead of hanging signing or doctor. A
// symbolic link to it is followed: the certificates are public and all
// checked before use, and Kubernetes mounts and certbot name files through
// links.
//
// The audit log is created 0600; an existing one must be a regular file
// (no symbolic link) owned by the effective user with no permission for
// group or others, since anyone who can open it can hold its lock. The wait
// for its lock is bounded by pluginConfig timeout (TIMEOUT) and ends when
// the request is cancelled (SIGTERM). A signature whose audit line cannot
// be written is withheld (fail closed), and a failed or short write is
// truncated away, so no partial line is left. Audit records hold the
// canonical key URI (never a pin-value, which is refused first),
// fingerprints and hashes, and who signed: user, uid, host and the parent
// process ([AuditSigner]).
//
// # Concurrency
//
// Each protocol command is a separate process; a Plugin handles one request
// at a time. Concurrent processes may share one token and one cache (cache
// writes are atomic renames). Audit lines are appended with one write on a
// file opened O_APPEND under an exclusive flock, so concurrent signers
// never interleave. Doctor releases the module lock before it checks
// revocation over the network.
package plugin
