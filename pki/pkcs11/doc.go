// Package pkcs11 reaches private keys held in a hardware security module
// through PKCS#11, and exposes each one as a crypto.Signer.
//
// Keys are named with RFC 7512 URIs ([ParseURI]), for example
//
//	pkcs11:token=release;object=signing-key?module-path=/usr/lib/softhsm/libsofthsm2.so
//
// [Open] loads the module and selects one token without logging in; the
// [Token] then reads public objects (public keys, certificates) and
// [Token.Login] returns the private key as a [Key], a crypto.Signer and
// crypto.MessageSigner. Everything goes through github.com/miekg/pkcs11 on
// one module handle per Token, initialised once by Open and finalised once
// by Close: modules that keep per-process state behind their function list
// (p11-kit-client.so, network HSM clients) do not survive a second handle.
//
// # Mechanisms
//
// A Key signs with what its token offers: it reads C_GetMechanismList and
// C_GetMechanismInfo (CKF_SIGN) and takes, for ECDSA, CKM_ECDSA_SHA256/384/512
// or else the raw CKM_ECDSA over a digest made here; for RSASSA-PSS,
// CKM_SHA256/384/512_RSA_PKCS_PSS or else the raw CKM_RSA_PKCS_PSS (salt =
// hash length, MGF1 with the same hash); for PKCS #1 v1.5 (certificate
// requests), CKM_SHA256/384/512_RSA_PKCS or else CKM_RSA_PKCS. When none is
// offered it refuses with a [*MechanismError] that names the missing ones.
// [Key.SignMechanism] says which it uses. Keys with CKA_ALWAYS_AUTHENTICATE
// get a context-specific login before each signature.
//
// # Security
//
// The private key never leaves the token. A [PIN] comes from a pin-source
// file or from the NOTATION_PKCS11_PIN environment variable ([ReadPIN]).
// The file is opened first (no symbolic link, non-blocking so a FIFO cannot
// hang the caller) and the opened file is checked: a regular file owned by
// the effective user with no permission for group or others, else a
// [*PINFileError] whose Fix is the command that repairs it. The variable is
// removed from the environment once read ([TakePINEnv]), so the module and
// the processes it starts do not inherit it. pin-value, and any URI
// attribute whose name contains "pin" besides pin-source, is refused; no
// error repeats a value that may be a PIN, and a PIN is never formatted into
// an error or a string. Every call into the module is bounded by
// [Options.Timeout]; a module that does not answer yields [ErrTimeout]
// instead of a hang.
//
// # Concurrency
//
// A Token is meant for one goroutine; the Key it returns may sign from many.
// PKCS#11 initialisation is per process: open one Token per module at a time.
package pkcs11
