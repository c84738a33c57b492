package pkcs11

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"
)

// DefaultTimeout bounds every call into the module when Options.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// Options says how to open a token.
type Options struct {
	// ModulePath is the PKCS#11 library to load. The URI's module-path
	// overrides it; one of the two is required.
	ModulePath string
	// Timeout bounds each call into the module (loading it included);
	// DefaultTimeout when zero.
	Timeout time.Duration
	// LockFile, when set, is a file that processes using the module lock
	// (flock) for as long as the Token is open: shared, or exclusive when
	// Exclusive is set (logging in and signing). Leave it empty for modules
	// that are safe for concurrent use by several processes.
	LockFile  string
	Exclusive bool
}

// Token is one token, selected by a key URI, in a loaded module. It reads
// public objects without logging in; Login gives the private key as a
// crypto.Signer.
//
// A Token is not safe for concurrent use, but the Key that Login returns is.
// Close it when done: it logs out and unloads the module.
type Token struct {
	m       *module
	info    TokenInfo
	uri     *URI
	timeout time.Duration
	c11     *crypto11.Context
	stuck   atomic.Bool // a call timed out and may still be running in the module
	lock    *fileLock
}

// Open loads the module and selects the one token the URI names, without
// logging in. Errors wrap ErrModule, ErrTokenNotFound, ErrAmbiguous or
// ErrTimeout.
func Open(ctx context.Context, u *URI, opts Options) (*Token, error) {
	path := u.ModulePath
	if path == "" {
		path = opts.ModulePath
	}
	if path == "" {
		return nil, fmt.Errorf("%w: no module path given", ErrModule)
	}
	t := &Token{uri: u, timeout: opts.Timeout}
	if t.timeout <= 0 {
		t.timeout = DefaultTimeout
	}
	if opts.LockFile != "" {
		lctx, cancel := context.WithTimeout(ctx, t.timeout)
		lock, err := acquireLock(lctx, opts.LockFile, opts.Exclusive)
		cancel()
		if err != nil {
			return nil, err
		}
		t.lock = lock
	}
	err := t.do(ctx, "loading "+path, func() error {
		m, err := loadModule(path)
		if err != nil {
			return err
		}
		tokens, err := m.tokens()
		if err == nil {
			t.info, err = selectToken(tokens, u)
		}
		if err != nil {
			m.close(true)
			return err
		}
		t.m = m
		return nil
	})
	if err != nil {
		t.lock.release()
		return nil, err
	}
	return t, nil
}

// Info describes the selected token.
func (t *Token) Info() TokenInfo { return t.info }

// URI returns the key URI the token was opened with.
func (t *Token) URI() *URI { return t.uri }

// call runs fn with the token's time bound and returns what fn returns.
// The module cannot be interrupted, so on time-out fn is left running and
// the Token is marked stuck: whatever fn returns later (a signature, say)
// is dropped, every later call fails at once with ErrTimeout, and Close
// leaves the module alone. The caller is expected to give up (the plugin
// process exits).
func call[T any](ctx context.Context, t *Token, what string, fn func() (T, error)) (T, error) {
	var zero T
	if t.stuck.Load() {
		return zero, fmt.Errorf("%w: an earlier call is still running in the module", ErrTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // buffered: a late answer never blocks
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		t.stuck.Store(true)
		return zero, fmt.Errorf("%w: %s took longer than %s (is the HSM reachable? raise pluginConfig timeout to wait longer)", ErrTimeout, what, t.timeout)
	}
}

// do is call for fn without a result.
func (t *Token) do(ctx context.Context, what string, fn func() error) error {
	_, err := call(ctx, t, what, func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// withSession runs fn on a new read-only session, within the time bound.
func withSession[T any](ctx context.Context, t *Token, what string, fn func(*session) (T, error)) (T, error) {
	return call(ctx, t, what, func() (T, error) {
		s, err := t.m.openSession(t.info.Slot)
		if err != nil {
			var zero T
			return zero, err
		}
		defer s.close()
		return fn(s)
	})
}

// PublicKey returns the public key the URI names and its CKA_ID, read
// without logging in (from a public-key object, else from a certificate with
// the key's id). Tokens that keep public keys private answer ErrKeyNotFound.
func (t *Token) PublicKey(ctx context.Context) (crypto.PublicKey, []byte, error) {
	type found struct {
		pub crypto.PublicKey
		id  []byte
	}
	f, err := withSession(ctx, t, "reading the public key", func(s *session) (found, error) {
		pub, id, err := s.publicKey(t.uri)
		return found{pub, id}, err
	})
	return f.pub, f.id, err
}

// CertificatesByID returns the certificates stored with the given CKA_ID.
func (t *Token) CertificatesByID(ctx context.Context, id []byte) ([]*x509.Certificate, error) {
	return withSession(ctx, t, "reading certificates", func(s *session) ([]*x509.Certificate, error) {
		return s.certificates(p11.NewAttribute(p11.CKA_ID, id))
	})
}

// CertificatesBySubject returns the certificates whose subject is the given
// DER name; it serves as a pki.IssuerFinder over the token.
func (t *Token) CertificatesBySubject(ctx context.Context, rawSubject []byte) ([]*x509.Certificate, error) {
	return withSession(ctx, t, "reading certificates", func(s *session) ([]*x509.Certificate, error) {
		return s.certificates(p11.NewAttribute(p11.CKA_SUBJECT, rawSubject))
	})
}

// Key is a private key on a token, as a crypto.Signer. Sign hashes nothing:
// it takes a digest, and ignores rand (the HSM brings its own randomness).
// ECDSA signatures are ASN.1 DER; RSA takes *rsa.PSSOptions with
// rsa.PSSSaltLengthEqualsHash (PSSSaltLengthAuto is refused by crypto11) or
// a plain crypto.Hash for PKCS #1 v1.5. Safe for concurrent use.
type Key struct {
	signer crypto11.Signer
	id     []byte
	t      *Token
}

var _ crypto.Signer = (*Key)(nil)

// Public returns the key's public half, read when the key was found.
func (k *Key) Public() crypto.PublicKey { return k.signer.Public() }

// ID returns the key's CKA_ID.
func (k *Key) ID() []byte { return k.id }

// Sign signs digest in the HSM within the token's time bound.
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return call(context.Background(), k.t, "signing", func() ([]byte, error) {
		return k.signer.Sign(nil, digest, opts)
	})
}

// Login logs in with pin and finds the one private key the URI names. The
// module keeps the login for the life of the Token. Errors wrap ErrLogin,
// ErrKeyNotFound, ErrAmbiguous or ErrTimeout, and never contain the PIN.
func (t *Token) Login(ctx context.Context, pin PIN) (*Key, error) {
	if err := t.login(ctx, pin); err != nil {
		return nil, err
	}
	var key *Key
	err := t.do(ctx, "finding the private key", func() error {
		signers, err := t.c11.FindKeyPairs(t.uri.ID, labelBytes(t.uri.Object))
		if err != nil {
			return fmt.Errorf("failed to search private keys on token %q: %w", t.info.Label, err)
		}
		switch {
		case len(signers) == 0:
			return fmt.Errorf("%w: no private key with %s on token %q (a key needs a CKA_ID and a public key or certificate with the same id)", ErrKeyNotFound, t.uri.KeyDescription(), t.info.Label)
		case len(signers) > 1:
			return fmt.Errorf("%w: %d private keys match %s on token %q; add id= to the URI", ErrAmbiguous, len(signers), t.uri.KeyDescription(), t.info.Label)
		}
		attr, err := t.c11.GetAttribute(signers[0], crypto11.CkaId)
		if err != nil {
			return fmt.Errorf("failed to read the key's CKA_ID: %w", err)
		}
		key = &Key{signer: signers[0], id: attr.Value, t: t}
		return nil
	})
	return key, err
}

func labelBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// login hands the module to crypto11, which logs in once per Token.
func (t *Token) login(ctx context.Context, pin PIN) error {
	if t.c11 != nil {
		return nil
	}
	return t.do(ctx, "logging in", func() error {
		slot := int(t.info.Slot)
		t.m.handOver()
		c, err := crypto11.Configure(&crypto11.Config{
			Path:            t.m.path,
			SlotNumber:      &slot,
			Pin:             pin.value(),
			MaxSessions:     2,
			PoolWaitTimeout: t.timeout,
		})
		if err != nil {
			// Give the module back to the public-object reader.
			_ = t.m.ctx.Initialize()
			if isLoginCode(err) {
				return loginError(t.info.Label, err)
			}
			return fmt.Errorf("%w: failed to open token %q: %w", ErrModule, t.info.Label, err)
		}
		t.c11 = c
		return nil
	})
}

func isLoginCode(err error) bool {
	for _, c := range []uint{p11.CKR_PIN_INCORRECT, p11.CKR_PIN_INVALID, p11.CKR_PIN_LEN_RANGE, p11.CKR_PIN_LOCKED, p11.CKR_PIN_EXPIRED, p11.CKR_USER_PIN_NOT_INITIALIZED} {
		if isCode(err, c) {
			return true
		}
	}
	return false
}

// Close logs out and unloads the module. After a time-out it leaves the
// module alone, since a call may still be running inside it.
func (t *Token) Close() error {
	if t.m == nil || t.stuck.Load() {
		return nil // a stuck call may still use the module: keep the lock until exit
	}
	defer t.lock.release()
	var err error
	if t.c11 != nil {
		err = t.c11.Close()
		t.m.close(false)
	} else {
		t.m.close(true)
	}
	t.m = nil
	if err != nil {
		return fmt.Errorf("failed to close token %q: %w", t.info.Label, err)
	}
	return nil
}
