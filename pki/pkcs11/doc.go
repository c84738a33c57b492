// Package pkcs11 reaches private keys held in a hardware security module
// through PKCS#11, and exposes each one as a crypto.Signer.
//
// Keys are named with RFC 7512 URIs ([ParseURI]), for example
//
//	pkcs11:token=release;object=signing-key?module-path=/usr/lib/softhsm/libsofthsm2.so
//
// [Open] loads the module and selects one token without logging in; the
// [Token] then reads public objects (public keys, certificates) and
// [Token.Login] returns the private key as a [Key]. Signing is done by
// crypto11 (github.com/ThalesGroup/crypto11); token listing and public-object
// reads use miekg/pkcs11, the binding crypto11 itself is built on.
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
