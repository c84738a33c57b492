package pkcs11

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

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
	// Exclusive is set (logging in and signing; see Token.LockExclusive).
	// Leave it empty for modules that are safe for concurrent use by
	// several processes.
	LockFile  string
	Exclusive bool
}

// Token is one token, selected by a key URI, in a loaded module. It reads
// public objects without logging in; Login gives the private key as a
// crypto.Signer.
//
// A Token holds the process's one handle on the module: loaded and
// initialised by Open, finalised and unloaded by Close, and shared by every
// call in between (public reads, login, signing, key generation).
//
// A Token is not safe for concurrent use, but the Key that Login returns is.
// Close it when done: it logs out and unloads the module.
type Token struct {
	m       *module
	info    TokenInfo
	uri     *URI
	timeout time.Duration
	stuck   atomic.Bool // a call timed out and may still be running in the module
	closed  atomic.Bool // Close has unloaded the module
	lock    *fileLock

	// mu guards the logged-in state, which Keys share.
	mu sync.Mutex
	// sess is the logged-in session: it keeps the login for the life of
	// the Token, and serves reads, key searches and signatures. nil until
	// Login.
	sess *session
	// pin is kept for context-specific logins (CKA_ALWAYS_AUTHENTICATE).
	pin PIN
	// mechs maps each mechanism the token lists to whether it signs
	// (CKF_SIGN); nil until read.
	mechs map[uint]bool
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
	type opened struct {
		m    *module
		info TokenInfo
	}
	o, err := call(ctx, t, "loading "+path, func() (opened, error) {
		m, err := loadModule(path)
		if err != nil {
			return opened{}, err
		}
		tokens, err := m.tokens()
		var info TokenInfo
		if err == nil {
			info, err = selectToken(tokens, u)
		}
		if err != nil {
			m.close()
			return opened{}, err
		}
		return opened{m, info}, nil
	})
	if err != nil {
		t.lock.release()
		return nil, err
	}
	t.m, t.info = o.m, o.info
	return t, nil
}

// Info describes the selected token.
func (t *Token) Info() TokenInfo { return t.info }

// URI returns the key URI the token was opened with.
func (t *Token) URI() *URI { return t.uri }

// LockExclusive turns a shared module lock into an exclusive one, waiting
// at most the time-out; without a lock file, or when the lock is exclusive
// already, it does nothing. Log in only under the exclusive lock.
func (t *Token) LockExclusive(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	return t.lock.upgrade(lctx)
}

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
	if t.closed.Load() {
		return zero, closedError(t.info.Label)
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

// withSession runs fn within the time bound on the logged-in session, or,
// before Login, on a read-only session of its own.
func withSession[T any](ctx context.Context, t *Token, what string, fn func(*session) (T, error)) (T, error) {
	return call(ctx, t, what, func() (T, error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.sess != nil {
			return fn(t.sess)
		}
		s, err := t.m.openSession(t.info.Slot, false)
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

// Login logs in with pin and finds the one private key the URI names. The
// login lasts for the life of the Token. Errors wrap ErrLogin,
// ErrKeyNotFound, ErrAmbiguous, ErrModule or ErrTimeout, and never contain
// the PIN.
func (t *Token) Login(ctx context.Context, pin PIN) (*Key, error) {
	if err := t.login(ctx, pin); err != nil {
		return nil, err
	}
	return call(ctx, t, "finding the private key", func() (*Key, error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.findKey()
	})
}

// login opens the session that holds the login, once per Token.
func (t *Token) login(ctx context.Context, pin PIN) error {
	return t.do(ctx, "logging in", func() error {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.sess != nil {
			return nil
		}
		s, err := t.m.openSession(t.info.Slot, false)
		if err != nil {
			return fmt.Errorf("%w: token %q: %w", ErrModule, t.info.Label, err)
		}
		err = t.m.ctx.Login(s.h, p11.CKU_USER, pin.value())
		if err != nil && !isCode(err, p11.CKR_USER_ALREADY_LOGGED_IN) {
			s.close()
			if isLoginCode(err) {
				return loginError(t.info.Label, err)
			}
			return fmt.Errorf("%w: logging in to token %q failed: %w", ErrModule, t.info.Label, err)
		}
		t.sess, t.pin = s, pin
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

// Close logs out, finalises the module and unloads it. After a time-out it
// leaves the module alone, since a call may still be running inside it, and
// keeps the module lock until the process exits.
func (t *Token) Close() error {
	if t.m == nil || t.stuck.Load() || t.closed.Load() {
		return nil
	}
	err := t.do(context.Background(), "closing the token", func() error {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.sess != nil {
			_ = t.m.ctx.Logout(t.sess.h)
			t.sess.close()
			t.sess = nil
		}
		t.m.close()
		return nil
	})
	if err != nil {
		return err // stuck: keep the lock
	}
	t.closed.Store(true)
	t.lock.release()
	return nil
}
