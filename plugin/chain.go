package plugin

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"

	"golang.org/x/sys/unix"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// chain finds the leaf that holds the key and builds its chain to a root,
// from the bundle when one is configured, else from the token.
func (p *Plugin) chain(ctx context.Context, tok Token, key SigningKey, bundle []*x509.Certificate, r keyRequest) ([]*x509.Certificate, error) {
	if bundle != nil {
		leaf, err := pki.FindLeafAt(key.Public(), bundle, p.now())
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w; the file must hold the certificate issued for this key", r.cfg.CertificateChain, subjects(bundle), err)
		}
		return pki.BuildChain(leaf, pki.PoolFinder(bundle))
	}
	certs, err := tok.CertificatesByID(ctx, key.ID())
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no certificate with the key's CKA_ID %x on token %q; import the signing certificate onto the token with the same id, or put the chain in a file (PEM, DER or PKCS#7 .p7b) and name it with --plugin-config %s=/path/chain.pem",
			pkcs11.ErrCertificateNotFound, key.ID(), tok.Info().Label, ConfigCertificateChain)
	}
	leaf, err := pki.FindLeafAt(key.Public(), certs, p.now())
	if err != nil {
		return nil, fmt.Errorf("certificate %s stored with the key's CKA_ID %x on token %q: %w; replace it with the certificate issued for this key", subjects(certs), key.ID(), tok.Info().Label, err)
	}
	return pki.BuildChain(leaf, func(raw []byte) ([]*x509.Certificate, error) {
		return tok.CertificatesBySubject(ctx, raw)
	})
}

// readBundle reads the certificate_chain file: PEM, DER or a PKCS#7
// certs-only bundle (.p7b), as pki.ParseCertificates reads them. It opens
// the file with O_NONBLOCK, so that a FIFO (or a device that waits) there
// fails at once instead of hanging generate-signature and doctor, and
// checks the opened descriptor, not the name: a regular file of at most
// maxChainFile bytes.
//
// Symbolic links are followed, on purpose. The file holds public
// certificates and every one is checked before use (the leaf must hold the
// key, the chain must reach a root and meet the signing rules), so a link
// gains an attacker nothing that writing the file would not; and
// deployments name chains through links: Kubernetes secret and config-map
// mounts are links into a ..data folder, certbot's live/ folder links into
// archive/. (The PIN file and the audit log, which are trusted, refuse
// links.)
func readBundle(path string) ([]*x509.Certificate, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, chainFileError(path, pkcs11.FileOpen, pathCause(err), "")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, chainFileError(path, pkcs11.FileOpen, err, "")
	}
	if !st.Mode().IsRegular() {
		return nil, chainFileError(path, pkcs11.FileNotRegular, nil, "is not a regular file ("+pkcs11.FileKind(st.Mode())+"); name a certificate file")
	}
	tooLarge := fmt.Sprintf("is larger than %d bytes; a certificate chain is much smaller", maxChainFile)
	if st.Size() > maxChainFile {
		return nil, chainFileError(path, pkcs11.FileTooLarge, nil, tooLarge)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxChainFile+1))
	if err != nil {
		return nil, chainFileError(path, pkcs11.FileOpen, pathCause(err), "")
	}
	if len(b) > maxChainFile { // it grew after the Stat
		return nil, chainFileError(path, pkcs11.FileTooLarge, nil, tooLarge)
	}
	certs, err := pki.ParseCertificates(b)
	if err != nil {
		return nil, configError(ConfigCertificateChain, ConfigCertificates, err, "%s %s: %v", ConfigCertificateChain, path, err)
	}
	return certs, nil
}

// chainFileError is a *ConfigError for the certificate_chain file: the
// reason, or the cause's text.
func chainFileError(path string, p pkcs11.FileProblem, cause error, reason string) error {
	if reason == "" {
		reason = cause.Error()
	}
	e := configError(ConfigCertificateChain, ConfigFile, cause, "%s %s: %s", ConfigCertificateChain, path, reason)
	e.File = p
	return e
}

// pathCause is the system error inside a *fs.PathError (the path is named
// once, by the caller), or err.
func pathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func subjects(certs []*x509.Certificate) string {
	s := ""
	for i, c := range certs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q", c.Subject.String())
	}
	return s
}

// verify checks a raw Notation signature (PSS with salt = hash length, or
// ECDSA r||s) against the leaf's public key, as notation will. An RSA-PSS
// signature that is valid but has another salt length is refused with a
// *PSSSaltError.
func verify(pub crypto.PublicKey, alg pki.Algorithm, digest, sig []byte) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if rsa.VerifyPSS(k, alg.Hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil {
			return nil
		}
		if salt, ok := pssSaltLength(k, alg.Hash, digest, sig); ok {
			return &PSSSaltError{Salt: salt, Max: maxPSSSalt(k, alg.Hash), Hash: alg.Hash}
		}
	case *ecdsa.PublicKey:
		n := len(sig) / 2
		if len(sig)%2 == 0 && ecdsa.Verify(k, digest, new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])) {
			return nil
		}
	}
	return fmt.Errorf("%w: the HSM's %s signature does not verify with the signing certificate's key", ErrSelfCheck, alg.Signature)
}

// PSSSaltError: the HSM made a valid RSA-PSS signature whose salt length is
// not the hash length, which Notation requires (and go-cose and JWS
// verifiers check): notation verify would reject it, so the plugin refuses
// to hand it out. Hardware TPMs outside FIPS mode do this (they use the
// maximum salt length). It wraps ErrSelfCheck.
type PSSSaltError struct {
	Salt int         // the salt length of the signature, in bytes
	Max  int         // the maximum salt length for the key and hash
	Hash crypto.Hash // the hash; Notation needs a salt of Hash.Size() bytes
}

func (e *PSSSaltError) Error() string {
	which := fmt.Sprintf("%d bytes", e.Salt)
	if e.Salt == e.Max {
		which = fmt.Sprintf("the maximum length, %d bytes, as TPMs outside FIPS mode do", e.Salt)
	}
	return fmt.Sprintf("%s: the HSM made an RSA-PSS signature with a salt of %s, but Notation requires the salt to be as long as the hash (%d bytes for %v), so notation verify would reject it; "+
		"this token cannot make Notation RSA signatures: use an EC key on it (key generate --type ec-256), or an HSM that honours the PSS salt length",
		ErrSelfCheck, which, e.Hash.Size(), e.Hash)
}

func (e *PSSSaltError) Unwrap() error { return ErrSelfCheck }

// maxPSSSalt is the largest salt an RSA-PSS signature with key k and hash h
// can carry (RFC 8017 9.1.1: emLen - hLen - 2).
func maxPSSSalt(k *rsa.PublicKey, h crypto.Hash) int {
	emLen := (k.N.BitLen() - 1 + 7) / 8
	return emLen - h.Size() - 2
}

// pssSaltLength reports the salt length of a valid RSA-PSS signature, when
// it is valid with some salt length at all. It tries the maximum first (the
// length TPMs use), then every other length; it runs only on the error path.
func pssSaltLength(k *rsa.PublicKey, h crypto.Hash, digest, sig []byte) (int, bool) {
	if rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) != nil {
		return 0, false
	}
	maxSalt := maxPSSSalt(k, h)
	if rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: maxSalt}) == nil {
		return maxSalt, true
	}
	for n := 1; n < maxSalt; n++ { // SaltLength 0 means "auto" to crypto/rsa
		if n != h.Size() && rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: n}) == nil {
			return n, true
		}
	}
	return 0, true // valid with some salt, and with none of 1..max-1: no salt
}
