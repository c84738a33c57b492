package plugin

import (
	"context"
	"crypto"
	"crypto/x509"

	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// Backend opens tokens. The real one is [HSM]; tests substitute fakes to
// inject faults (a wrong PIN, a slow module, a lying key).
type Backend interface {
	Open(ctx context.Context, u *pkcs11.URI, opts pkcs11.Options) (Token, error)
}

// Token is what the plugin needs of an opened token; *pkcs11.Token has it.
type Token interface {
	Info() pkcs11.TokenInfo
	PublicKey(ctx context.Context) (crypto.PublicKey, []byte, error)
	// LockExclusive turns the shared module lock the token was opened
	// with into the exclusive one that logging in needs, without
	// loading the module again (see pkcs11.Token.LockExclusive).
	LockExclusive(ctx context.Context) error
	Login(ctx context.Context, pin pkcs11.PIN) (SigningKey, error)
	CertificatesByID(ctx context.Context, id []byte) ([]*x509.Certificate, error)
	CertificatesBySubject(ctx context.Context, rawSubject []byte) ([]*x509.Certificate, error)
	Close() error
}

// SigningKey is a private key on a token.
type SigningKey interface {
	crypto.Signer
	ID() []byte
}

// HSM is the Backend that talks to a real PKCS#11 module.
type HSM struct{}

// Open loads the module and selects the token the URI names.
func (HSM) Open(ctx context.Context, u *pkcs11.URI, opts pkcs11.Options) (Token, error) {
	t, err := pkcs11.Open(ctx, u, opts)
	if err != nil {
		return nil, err
	}
	return hsmToken{t}, nil
}

type hsmToken struct{ *pkcs11.Token }

func (t hsmToken) Login(ctx context.Context, pin pkcs11.PIN) (SigningKey, error) {
	k, err := t.Token.Login(ctx, pin)
	if err != nil {
		return nil, err
	}
	return k, nil
}
