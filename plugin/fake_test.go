package plugin

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// pkiDir is the shared test PKI (see testdata/pki/README.md).
const pkiDir = "../testdata/pki"

// Fault points: where a fake token hangs when told to.
const (
	hangOpen   = "open"
	hangPublic = "public"
	hangLogin  = "login"
	hangCerts  = "certs"
	hangSign   = "sign"
)

// keyMode says how a fake key signs.
type keyMode int

const (
	keyHonest   keyMode = iota // signs with the key, as an HSM would (ECDSA as DER)
	keyGarbage                 // returns bytes that are no signature at all
	keyOtherKey                // signs correctly, but with another key of the same type
	keyRawECDSA                // returns ECDSA r||s instead of DER
	keyAutoSalt                // RSA-PSS with the maximum salt, ignoring the opts salt length
)

// fakeCert is a certificate object on a fake token.
type fakeCert struct {
	id   []byte // CKA_ID
	cert *x509.Certificate
}

// fakeToken is the content and the faults of one in-memory token. It stands
// in for an HSM: the private key is a stdlib crypto.Signer loaded from
// testdata.
type fakeToken struct {
	Label    string
	KeyLabel string // CKA_LABEL of the key
	KeyID    []byte // CKA_ID of the key
	Signer   crypto.Signer
	Other    crypto.Signer // a different key of the same type, for keyOtherKey
	Certs    []fakeCert
	PIN      string

	HidePublic bool    // PublicKey answers ErrKeyNotFound until logged in
	Hang       string  // a hang* fault point: that call never answers
	Mode       keyMode // how the key signs
	OpenErr    error   // Open (and ListTokens) fails with this

	// Admin operations: further key pairs (GenerateKeyPair adds to them),
	// and a write fault: after WriteOK writes succeed, GenerateKeyPair and
	// ImportCertificate fail with WriteErr, writing nothing.
	Extra    []fakeKeyObj
	WriteErr error
	WriteOK  int
	writes   int
}

// fakeKeyObj is a further key pair on a fake token.
type fakeKeyObj struct {
	Label  string
	ID     []byte
	Signer crypto.Signer
}

// fakeBackend opens a fakeToken and counts what the plugin does with it.
type fakeBackend struct {
	t      testing.TB
	tok    *fakeToken
	forbid bool // the test fails if the plugin opens the backend

	mu       sync.Mutex
	opens    int // Open calls
	sessions int // successful Opens
	closes   int
	publics  int
	logins   int
	signs    int
	// sharedLogins counts logins on a token opened with a module lock
	// file but without the exclusive lock (pkcs11.Options says logging in
	// and signing need it).
	sharedLogins int
	upgrades     int // shared module locks made exclusive
	lastURI      *pkcs11.URI
	lastOpts     pkcs11.Options
	signOpts     []crypto.SignerOpts
}

// noBackend fails the test if the plugin opens it.
func noBackend(t testing.TB) *fakeBackend { return &fakeBackend{t: t, forbid: true} }

func (b *fakeBackend) Open(ctx context.Context, u *pkcs11.URI, opts pkcs11.Options) (Token, error) {
	b.mu.Lock()
	b.opens++
	b.lastURI, b.lastOpts = u, opts
	b.mu.Unlock()
	if b.forbid || b.tok == nil {
		b.t.Errorf("the backend was opened (module %q, uri %s) but must not be", opts.ModulePath, u)
		return nil, errors.New("fake backend: opening is forbidden in this test")
	}
	s := &fakeSession{b: b, u: u, opts: opts}
	if err := s.hang(ctx, hangOpen, "loading the module"); err != nil {
		return nil, err
	}
	if b.tok.OpenErr != nil {
		return nil, b.tok.OpenErr
	}
	if u.Token != "" && u.Token != b.tok.Label {
		return nil, fmt.Errorf("%w: no token with label %q; tokens: %q", pkcs11.ErrTokenNotFound, u.Token, b.tok.Label)
	}
	b.mu.Lock()
	b.sessions++
	b.mu.Unlock()
	return s, nil
}

func (b *fakeBackend) counts() (opens, closes, publics, logins, signs int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.opens, b.closes, b.publics, b.logins, b.signs
}

// unclosed is the number of opened tokens the plugin did not close.
func (b *fakeBackend) unclosed() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sessions - b.closes
}

func (b *fakeBackend) opened() int {
	o, _, _, _, _ := b.counts()
	return o
}

// fakeSession is one opened fake token.
type fakeSession struct {
	b      *fakeBackend
	u      *pkcs11.URI
	opts   pkcs11.Options
	closed bool
	stuck  bool // a call hung; like pkcs11.Token, every later call fails at once
}

// hang, at the configured fault point, behaves like a module that never
// answers: it returns ErrTimeout when the token's time bound or ctx runs out.
// As with pkcs11.Token, the session is stuck afterwards.
func (s *fakeSession) hang(ctx context.Context, point, what string) error {
	s.b.mu.Lock()
	stuck := s.stuck
	s.b.mu.Unlock()
	if stuck {
		return fmt.Errorf("%w: an earlier call is still running", pkcs11.ErrTimeout)
	}
	if s.b.tok.Hang != point {
		return nil
	}
	s.b.mu.Lock()
	s.stuck = true
	s.b.mu.Unlock()
	d := s.opts.Timeout
	if d <= 0 {
		d = pkcs11.DefaultTimeout
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	return fmt.Errorf("%w: %s took longer than %s", pkcs11.ErrTimeout, what, d)
}

// LockExclusive upgrades the session's lock, as pkcs11.Token does: logins
// after it are not counted as shared.
func (s *fakeSession) LockExclusive(context.Context) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.opts.LockFile != "" && !s.opts.Exclusive {
		s.b.upgrades++
	}
	s.opts.Exclusive = true
	return nil
}

func (s *fakeSession) Info() pkcs11.TokenInfo {
	return pkcs11.TokenInfo{Label: s.b.tok.Label, Manufacturer: "fake", Model: "in-memory", Serial: "0001", LoginRequired: true, Initialized: true}
}

func (s *fakeSession) selects() bool {
	t := s.b.tok
	return (s.u.Object == "" || s.u.Object == t.KeyLabel) && (len(s.u.ID) == 0 || bytes.Equal(s.u.ID, t.KeyID))
}

func (s *fakeSession) PublicKey(ctx context.Context) (crypto.PublicKey, []byte, error) {
	s.b.mu.Lock()
	s.b.publics++
	s.b.mu.Unlock()
	if err := s.hang(ctx, hangPublic, "reading the public key"); err != nil {
		return nil, nil, err
	}
	if s.b.tok.HidePublic || !s.selects() {
		return nil, nil, fmt.Errorf("%w: no public key or certificate with %s on token %q", pkcs11.ErrKeyNotFound, s.u.KeyDescription(), s.b.tok.Label)
	}
	return s.b.tok.Signer.Public(), s.b.tok.KeyID, nil
}

func (s *fakeSession) Login(ctx context.Context, pin pkcs11.PIN) (SigningKey, error) {
	s.b.mu.Lock()
	s.b.logins++
	if s.opts.LockFile != "" && !s.opts.Exclusive {
		s.b.sharedLogins++
	}
	s.b.mu.Unlock()
	if err := s.hang(ctx, hangLogin, "logging in"); err != nil {
		return nil, err
	}
	if pin.Empty() || !pin.Equal(pkcs11.NewPIN(s.b.tok.PIN)) {
		// Like the real token: say what is wrong, never what the PIN was.
		return nil, fmt.Errorf("%w on token %q: the PIN is incorrect (CKR_PIN_INCORRECT); check the pin-source file or %s", pkcs11.ErrLogin, s.b.tok.Label, pkcs11.PINEnv)
	}
	if !s.selects() {
		return nil, fmt.Errorf("%w: no private key with %s on token %q", pkcs11.ErrKeyNotFound, s.u.KeyDescription(), s.b.tok.Label)
	}
	return &fakeKey{s: s}, nil
}

func (s *fakeSession) CertificatesByID(ctx context.Context, id []byte) ([]*x509.Certificate, error) {
	return s.certs(ctx, func(c fakeCert) bool { return bytes.Equal(c.id, id) })
}

func (s *fakeSession) CertificatesBySubject(ctx context.Context, rawSubject []byte) ([]*x509.Certificate, error) {
	return s.certs(ctx, func(c fakeCert) bool { return bytes.Equal(c.cert.RawSubject, rawSubject) })
}

func (s *fakeSession) certs(ctx context.Context, match func(fakeCert) bool) ([]*x509.Certificate, error) {
	if err := s.hang(ctx, hangCerts, "reading certificates"); err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, c := range s.b.tok.Certs {
		if match(c) {
			out = append(out, c.cert)
		}
	}
	return out, nil
}

func (s *fakeSession) Close() error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.closed {
		s.b.t.Errorf("token closed twice")
	}
	s.closed = true
	s.b.closes++
	return nil
}

// fakeKey is the private key on a fake token. Like pkcs11.Key it takes a
// digest, returns ECDSA signatures as DER, signs RSA PKCS #1 v1.5 for a
// bare hash and PSS only with a named salt length (pkcs11.Key refuses
// PSSSaltLengthAuto).
type fakeKey struct{ s *fakeSession }

func (k *fakeKey) Public() crypto.PublicKey { return k.s.b.tok.Signer.Public() }
func (k *fakeKey) ID() []byte               { return k.s.b.tok.KeyID }

func (k *fakeKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	b, tok := k.s.b, k.s.b.tok
	b.mu.Lock()
	b.signs++
	b.signOpts = append(b.signOpts, opts)
	b.mu.Unlock()
	if err := k.s.hang(context.Background(), hangSign, "signing"); err != nil {
		return nil, err
	}
	if opts == nil || opts.HashFunc() == 0 || len(digest) != opts.HashFunc().Size() {
		return nil, fmt.Errorf("fake HSM: digest of %d bytes does not fit opts %#v", len(digest), opts)
	}
	if _, isRSA := tok.Signer.(*rsa.PrivateKey); isRSA {
		// A bare hash is PKCS #1 v1.5 (what a certificate request is
		// signed with); PSS needs a named salt length.
		if pss, ok := opts.(*rsa.PSSOptions); ok && pss.SaltLength != rsa.PSSSaltLengthEqualsHash && pss.SaltLength <= 0 {
			return nil, fmt.Errorf("fake HSM: RSA-PSS needs a named salt length (PSSSaltLengthEqualsHash), got %#v", opts)
		}
	}
	switch tok.Mode {
	case keyGarbage:
		g := bytes.Repeat([]byte{0x30, 0x06, 0x02, 0x01, 0x00}, 1)
		if pub, ok := tok.Signer.Public().(*rsa.PublicKey); ok {
			g = bytes.Repeat([]byte{0xA5}, pub.Size())
		}
		return g, nil
	case keyOtherKey:
		return tok.Other.Sign(rand.Reader, digest, opts)
	case keyRawECDSA:
		ek, ok := tok.Signer.(*ecdsa.PrivateKey)
		if !ok {
			return nil, errors.New("fake HSM: keyRawECDSA needs an EC key")
		}
		der, err := ek.Sign(rand.Reader, digest, opts)
		if err != nil {
			return nil, err
		}
		// r||s is exactly what pki.ECDSARaw makes of the DER.
		return ecdsaRawForTest(&ek.PublicKey, der)
	case keyAutoSalt:
		return tok.Signer.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: opts.HashFunc()})
	}
	return tok.Signer.Sign(rand.Reader, digest, opts)
}

// Test PINs. No output of Run may ever contain any of them.
const (
	testPIN    = "T0ken-PIN-4711"  // the fake token's PIN
	wrongPIN   = "Wr0ng-PIN-8812"  // a PIN the token refuses
	configPIN  = "S3cr3t-9931"     // a PIN pasted into pluginConfig
	uriPIN     = "Ur1-S3cr3t-5150" // a pin-value in a key URI
	pinFilePIN = "F1le-PIN-2207"   // a PIN in a pin-source file
)

// secretPINs are the PINs no output may contain.
func secretPINs() []string { return []string{testPIN, wrongPIN, configPIN, uriPIN, pinFilePIN} }

// The key URI the fake tokens answer to.
const (
	tokenLabel = "fake-token"
	keyLabel   = "signing-key"
	keyURI     = "pkcs11:token=fake-token;object=signing-key;id=%01%02"
)

// fakeKeyID is the fake key's CKA_ID (id=%01%02 in keyURI), a new slice
// each call.
func fakeKeyID() []byte { return []byte{1, 2} }

func loadSigner(t testing.TB, rel string) crypto.Signer {
	t.Helper()
	s, err := testpki.LoadSigner(filepath.Join(pkiDir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func loadCerts(t testing.TB, rel string) []*x509.Certificate {
	t.Helper()
	c, err := testpki.LoadCertificates(filepath.Join(pkiDir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// goodToken is a token holding the leaf key of key type kt; with certs, the
// leaf under the key's CKA_ID and the intermediate and root under other ids.
func goodToken(t testing.TB, kt string, certs bool) *fakeToken {
	t.Helper()
	tok := &fakeToken{
		Label:    tokenLabel,
		KeyLabel: keyLabel,
		KeyID:    fakeKeyID(),
		Signer:   loadSigner(t, kt+"/leaf.key"),
		Other:    loadSigner(t, kt+"/intermediate.key"),
		PIN:      testPIN,
	}
	if certs {
		chain := loadCerts(t, kt+"/chain.pem")
		tok.Certs = []fakeCert{{fakeKeyID(), chain[0]}, {[]byte("ca-1"), chain[1]}, {[]byte("ca-2"), chain[2]}}
	}
	return tok
}

// badToken holds bad/<key>.key and no certificate.
func badToken(t testing.TB, key string) *fakeToken {
	t.Helper()
	return &fakeToken{
		Label:    tokenLabel,
		KeyLabel: keyLabel,
		KeyID:    fakeKeyID(),
		Signer:   loadSigner(t, "bad/"+key+".key"),
		Other:    loadSigner(t, "bad/other.key"),
		PIN:      testPIN,
	}
}

// ListTokens lists the fake token, as pkcs11.ListTokens lists a module's
// slots; OpenErr is a module that does not load.
func (b *fakeBackend) ListTokens(_ context.Context, modulePath string, opts pkcs11.Options) ([]pkcs11.TokenInfo, error) {
	b.mu.Lock()
	b.opens++
	b.lastOpts = opts
	b.mu.Unlock()
	if b.forbid || b.tok == nil {
		b.t.Errorf("the module %q was listed but must not be", modulePath)
		return nil, errors.New("fake backend: listing is forbidden in this test")
	}
	if b.tok.OpenErr != nil {
		return nil, b.tok.OpenErr
	}
	s := &fakeSession{b: b}
	return []pkcs11.TokenInfo{s.Info()}, nil
}

// Keys lists the key pairs by their public keys, as pkcs11.Token.Keys:
// a token that hides public keys shows none of its own.
func (s *fakeSession) Keys(ctx context.Context) ([]pkcs11.KeyInfo, error) {
	if err := s.hang(ctx, hangPublic, "listing keys"); err != nil {
		return nil, err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	t := s.b.tok
	var out []pkcs11.KeyInfo
	add := func(label string, id []byte, pub crypto.PublicKey) {
		k := pkcs11.KeyInfo{Label: label, ID: id, Public: pub}
		for _, c := range t.Certs {
			if bytes.Equal(c.id, id) {
				k.Certificates = append(k.Certificates, c.cert)
			}
		}
		out = append(out, k)
	}
	if !t.HidePublic && t.Signer != nil {
		add(t.KeyLabel, t.KeyID, t.Signer.Public())
	}
	for _, k := range t.Extra {
		add(k.Label, k.ID, k.Signer.Public())
	}
	return out, nil
}

// write counts one write and returns the write fault when it applies.
// Call with b.mu held.
func (s *fakeSession) write() error {
	t := s.b.tok
	if t.WriteErr != nil && t.writes >= t.WriteOK {
		return t.WriteErr
	}
	t.writes++
	return nil
}

// login checks a PIN as Login does.
func (s *fakeSession) login(pin pkcs11.PIN) error {
	if pin.Empty() || !pin.Equal(pkcs11.NewPIN(s.b.tok.PIN)) {
		return fmt.Errorf("%w on token %q: the PIN is incorrect (CKR_PIN_INCORRECT); check the pin-source file or %s", pkcs11.ErrLogin, s.b.tok.Label, pkcs11.PINEnv)
	}
	return nil
}

// GenerateKeyPair makes an in-memory key pair labelled and identified as
// the URI says, refusing a label or id a key already has, as
// pkcs11.Token.GenerateKey does.
func (s *fakeSession) GenerateKeyPair(_ context.Context, pin pkcs11.PIN, kt pkcs11.KeyType) (crypto.PublicKey, error) {
	if s.u.Object == "" || len(s.u.ID) == 0 {
		return nil, fmt.Errorf("%w: a new key needs both object=<label> and id=<CKA_ID> in the URI", pkcs11.ErrInvalidURI)
	}
	if err := s.login(pin); err != nil {
		return nil, err
	}
	if _, err := pkcs11.ParseKeyType(string(kt)); err != nil {
		return nil, err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	t := s.b.tok
	keys := append([]fakeKeyObj{{t.KeyLabel, t.KeyID, t.Signer}}, t.Extra...)
	for _, k := range keys {
		if k.Label == s.u.Object || bytes.Equal(k.ID, s.u.ID) {
			u := *s.u
			u.Object, u.ID = k.Label, k.ID
			return nil, &pkcs11.KeyExistsError{Token: t.Label, Label: k.Label, ID: k.ID, Clash: "label or id", URI: &u}
		}
	}
	if err := s.write(); err != nil {
		return nil, fmt.Errorf("failed to generate a %s key on token %q: %w", kt, t.Label, err)
	}
	var signer crypto.Signer
	var err error
	switch kt {
	case pkcs11.EC256:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case pkcs11.EC384:
		signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case pkcs11.EC521:
		signer, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case pkcs11.RSA2048:
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("fake HSM: key type %s is not made by the fake (use ec-256/384/521 or rsa-2048)", kt)
	}
	if err != nil {
		return nil, err
	}
	t.Extra = append(t.Extra, fakeKeyObj{Label: s.u.Object, ID: append([]byte(nil), s.u.ID...), Signer: signer})
	return signer.Public(), nil
}

// ImportCertificate stores a certificate object under id.
func (s *fakeSession) ImportCertificate(_ context.Context, pin pkcs11.PIN, id []byte, label string, cert *x509.Certificate) error {
	if err := s.login(pin); err != nil {
		return err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if err := s.write(); err != nil {
		return fmt.Errorf("failed to import certificate %q (%s) on token %q: %w", cert.Subject, label, s.b.tok.Label, err)
	}
	s.b.tok.Certs = append(s.b.tok.Certs, fakeCert{id: append([]byte(nil), id...), cert: cert})
	return nil
}
