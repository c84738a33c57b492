package plugin

import (
	"context"
	"crypto/x509"
	"fmt"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// keySession is an opened token logged in to, with the private key a key
// request names, its Notation key spec and its certificate chain (leaf
// first): what generate-signature needs to sign and doctor to advise.
type keySession struct {
	Token Token
	Key   SigningKey
	Spec  proto.KeySpec
	Chain []*x509.Certificate
}

// sessionStep is one step of openSession, in order.
type sessionStep int

const (
	stepOpen    sessionStep = iota // the module loads and one token matches (exclusive module lock)
	stepPIN                        // a PIN is at hand
	stepLogin                      // the token accepts the PIN and one private key matches
	stepKeySpec                    // the key is one Notation signs with
	stepChain                      // a certificate holds the key and its chain reaches a root
)

func (s sessionStep) String() string {
	switch s {
	case stepOpen:
		return "open"
	case stepPIN:
		return "pin"
	case stepLogin:
		return "login"
	case stepKeySpec:
		return "key spec"
	case stepChain:
		return "chain"
	}
	return fmt.Sprintf("step %d", int(s))
}

// sessionError is the failure of one step of openSession. Its text is the
// cause's, which it wraps.
type sessionError struct {
	Step sessionStep
	Err  error
}

func (e *sessionError) Error() string { return e.Err.Error() }
func (e *sessionError) Unwrap() error { return e.Err }

// openSession is the one open → PIN → login → key spec → chain sequence of
// generate-signature and doctor: it opens the token r names under the
// exclusive module lock, takes the PIN from pin (generate-signature reads
// it before anything loads and hands it over; doctor reads it here, after
// the module and token are known good), logs in, finds the key's spec and
// builds its chain from bundle (pluginConfig certificate_chain) or the
// token. after, when not nil, runs after each step that succeeds, with the
// session as far as it got; an error from it ends the sequence at that
// step (generate-signature refuses a request whose key spec is not the
// key's there). On error the token is closed and the error is a
// *sessionError naming the step; on success the caller closes s.Token.
func (p *Plugin) openSession(ctx context.Context, r keyRequest, bundle []*x509.Certificate, pin func() (pkcs11.PIN, error), after func(sessionStep, *keySession) error) (s *keySession, err error) {
	s = &keySession{}
	step := stepOpen
	done := func(st sessionStep) error {
		if after != nil {
			return after(st, s)
		}
		return nil
	}
	defer func() {
		if err != nil {
			if s.Token != nil {
				_ = s.Token.Close()
			}
			s, err = nil, &sessionError{Step: step, Err: err}
		}
	}()
	if s.Token, err = p.open(ctx, r, true); err != nil {
		return s, err
	}
	if err := done(stepOpen); err != nil {
		return s, err
	}
	step = stepPIN
	secret, err := pin()
	if err != nil {
		return s, err
	}
	if err := done(stepPIN); err != nil {
		return s, err
	}
	step = stepLogin
	if s.Key, err = s.Token.Login(ctx, secret); err != nil {
		return s, err
	}
	if err := done(stepLogin); err != nil {
		return s, err
	}
	step = stepKeySpec
	if s.Spec, err = pki.KeySpecOf(s.Key.Public()); err != nil {
		return s, fmt.Errorf("key %s on token %q: %w", r.uri.KeyDescription(), s.Token.Info().Label, err)
	}
	if err := done(stepKeySpec); err != nil {
		return s, err
	}
	step = stepChain
	if s.Chain, err = p.chain(ctx, s.Token, s.Key, bundle, r); err != nil {
		return s, err
	}
	if err := done(stepChain); err != nil {
		return s, err
	}
	return s, nil
}

// signingSession is openSession as generate-signature runs it: the PIN read
// beforehand (nothing loads without one), and a request whose key spec is
// not the key's refused at the key spec step, with the key cache entry
// that may have misled notation dropped.
func (p *Plugin) signingSession(ctx context.Context, r keyRequest, bundle []*x509.Certificate, pin pkcs11.PIN, want proto.KeySpec) (*keySession, error) {
	return p.openSession(ctx, r, bundle, func() (pkcs11.PIN, error) { return pin, nil }, func(step sessionStep, s *keySession) error {
		if step != stepKeySpec || s.Spec == want {
			return nil
		}
		if c := p.cacheFor(r); c != nil {
			c.Drop(r.module, r.uri)
		}
		return fmt.Errorf("%w: the key on token %q is %s but the request asks for %s (after a key change, a cached describe-key answer is dropped here: run the command again)", ErrRequest, s.Token.Info().Label, s.Spec, want)
	})
}
