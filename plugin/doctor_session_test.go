package plugin

import (
	"context"
	"crypto/x509"
	"errors"
	"path/filepath"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// TestOpenSession: the shared open → PIN → login → key spec → chain step
// stops at the step that fails, names it, wraps the cause, reports every
// step that passed in order, and leaves no token open on failure.
func TestOpenSession(t *testing.T) {
	good := func(t *testing.T) *fakeToken { return goodToken(t, "ec-256", true) }
	errNoPIN := errors.New("no PIN for this test")
	errRefused := errors.New("refused by the caller")
	cases := []struct {
		name    string
		tok     func(t *testing.T) *fakeToken
		keyID   string
		pin     string // "" with pinErr
		pinErr  error
		refuse  sessionStep // after refuses at this step (-1: never)
		step    sessionStep // the step that fails (-1: none)
		is      error
		shared  bool // the lock is exclusive (login needs it)
		reached []sessionStep
	}{
		{name: "ok", tok: good, pin: testPIN, refuse: -1, step: -1,
			reached: []sessionStep{stepOpen, stepPIN, stepLogin, stepKeySpec, stepChain}},
		{name: "module fails to load", tok: func(t *testing.T) *fakeToken { tk := good(t); tk.OpenErr = pkcs11.ErrModule; return tk },
			pin: testPIN, refuse: -1, step: stepOpen, is: pkcs11.ErrModule},
		{name: "token missing", tok: good, keyID: "pkcs11:token=other;object=signing-key", pin: testPIN, refuse: -1, step: stepOpen, is: pkcs11.ErrTokenNotFound},
		{name: "no PIN", tok: good, pinErr: errNoPIN, refuse: -1, step: stepPIN, is: errNoPIN, reached: []sessionStep{stepOpen}},
		{name: "login fails", tok: good, pin: wrongPIN, refuse: -1, step: stepLogin, is: pkcs11.ErrLogin, reached: []sessionStep{stepOpen, stepPIN}},
		{name: "key missing", tok: good, keyID: "pkcs11:token=fake-token;object=nope", pin: testPIN, refuse: -1, step: stepLogin, is: pkcs11.ErrKeyNotFound, reached: []sessionStep{stepOpen, stepPIN}},
		{name: "key type Notation cannot use", tok: func(t *testing.T) *fakeToken { return badToken(t, "rsa-1024") }, pin: testPIN, refuse: -1, step: stepKeySpec, is: pki.ErrUnsupportedKey,
			reached: []sessionStep{stepOpen, stepPIN, stepLogin}},
		{name: "no certificate", tok: func(t *testing.T) *fakeToken { return goodToken(t, "ec-256", false) }, pin: testPIN, refuse: -1, step: stepChain, is: pkcs11.ErrCertificateNotFound,
			reached: []sessionStep{stepOpen, stepPIN, stepLogin, stepKeySpec}},
		{name: "the caller refuses the key spec", tok: good, pin: testPIN, refuse: stepKeySpec, step: stepKeySpec, is: errRefused,
			reached: []sessionStep{stepOpen, stepPIN, stepLogin, stepKeySpec}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &fakeBackend{t: t, tok: c.tok(t)}
			p := newPlugin(b, stdEnv(fakeModule(t)), nil)
			id := c.keyID
			if id == "" {
				id = keyURI
			}
			r, err := p.adminRequest(id, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			var reached []sessionStep
			s, err := p.openSession(context.Background(), r, nil,
				func() (pkcs11.PIN, error) { return pkcs11.NewPIN(c.pin), c.pinErr },
				func(step sessionStep, s *keySession) error {
					reached = append(reached, step)
					if s.Token == nil {
						t.Errorf("step %s passed without a token", step)
					}
					if step == c.refuse {
						return errRefused
					}
					return nil
				})
			if c.step < 0 {
				if err != nil {
					t.Fatalf("openSession: %v", err)
				}
				if s.Spec != "EC-256" || len(s.Chain) != 3 || !s.Chain[0].Equal(b.tok.Certs[0].cert) || s.Key == nil {
					t.Fatalf("session %+v", s)
				}
				if b.unclosed() != 1 || !b.lastOpts.Exclusive {
					t.Fatalf("%d open token(s), exclusive lock %v: want the session's token open, exclusively", b.unclosed(), b.lastOpts.Exclusive)
				}
				_ = s.Token.Close()
			} else {
				var se *sessionError
				if !errors.As(err, &se) || se.Step != c.step || !errors.Is(err, c.is) || s != nil {
					t.Fatalf("openSession = %v, %v; want the %s step failing with %v", s, err, c.step, c.is)
				}
				if err.Error() != se.Err.Error() {
					t.Errorf("message %q is not the cause's %q", err, se.Err)
				}
			}
			if b.unclosed() != 0 {
				t.Fatalf("%d token(s) left open", b.unclosed())
			}
			if len(reached) != len(c.reached) {
				t.Fatalf("steps passed %v, want %v", reached, c.reached)
			}
			for i := range reached {
				if reached[i] != c.reached[i] {
					t.Fatalf("steps passed %v, want %v", reached, c.reached)
				}
			}
			checkNoPIN(t, c.name, errString(err))
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestSigningSession: the session as generate-signature takes it: a
// request whose key spec is not the key's is refused at the key spec step
// (before the chain is read) and drops the cached key spec; the right one
// gets the chain.
func TestSigningSession(t *testing.T) {
	mod := fakeModule(t)
	cache := &KeyCache{Dir: filepath.Join(t.TempDir(), "keys")}
	b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", true)}
	p := newPlugin(b, stdEnv(mod), cache)
	r, err := p.adminRequest(keyURI, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	pub := b.tok.Signer.Public()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	cache.Put(r.module, r.uri, "EC-384", der) // a stale answer
	s, err := p.signingSession(context.Background(), r, nil, pkcs11.NewPIN(testPIN), "EC-384")
	var se *sessionError
	if !errors.As(err, &se) || se.Step != stepKeySpec || !errors.Is(err, ErrRequest) || s != nil {
		t.Fatalf("signingSession(EC-384) = %v, %v; want ErrRequest at the key spec step", s, err)
	}
	if _, ok := cache.Get(r.module, r.uri); ok {
		t.Error("the stale cache entry was kept")
	}
	s, err = p.signingSession(context.Background(), r, nil, pkcs11.NewPIN(testPIN), "EC-256")
	if err != nil || len(s.Chain) != 3 {
		t.Fatalf("signingSession(EC-256) = %v, %v", s, err)
	}
	_ = s.Token.Close()
	if b.unclosed() != 0 {
		t.Fatalf("%d token(s) left open", b.unclosed())
	}
}
