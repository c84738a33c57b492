package pkcs11

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"

	p11 "github.com/miekg/pkcs11"
)

// ListTokens loads the module at modulePath and describes every slot that
// has a token, initialised or not (an uninitialised token is a free slot).
// It never logs in. The module lock and time bound of opts apply.
func ListTokens(ctx context.Context, modulePath string, opts Options) ([]TokenInfo, error) {
	if modulePath == "" {
		return nil, fmt.Errorf("%w: no module path given", ErrModule)
	}
	t := &Token{timeout: opts.Timeout}
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
		defer lock.release()
	}
	return call(ctx, t, "listing the tokens of "+modulePath, func() ([]TokenInfo, error) {
		m, err := loadModule(modulePath)
		if err != nil {
			return nil, err
		}
		defer m.close()
		return m.tokens()
	})
}

// KeyInfo describes one key pair on a token, as its public objects show it.
type KeyInfo struct {
	Label string
	ID    []byte
	// Public is nil for a key that is neither RSA nor EC P-256/384/521.
	Public crypto.PublicKey
	// Certificates are the certificates stored with the key's CKA_ID.
	Certificates []*x509.Certificate
}

// Keys lists the key pairs on the token through their public-key objects,
// without logging in, with the certificates that share each key's CKA_ID.
// Tokens that keep public keys private show none.
func (t *Token) Keys(ctx context.Context) ([]KeyInfo, error) {
	return withSession(ctx, t, "listing keys", func(s *session) ([]KeyInfo, error) {
		hs, err := s.find([]*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY)})
		if err != nil {
			return nil, err
		}
		var keys []KeyInfo
		for _, h := range hs {
			v, err := s.attrs(h, p11.CKA_LABEL, p11.CKA_ID, p11.CKA_KEY_TYPE)
			if err != nil {
				return nil, err
			}
			k := KeyInfo{Label: string(v[0]), ID: v[1]}
			// A key type Notation cannot use (DSA, a curve it does not
			// know) is listed with a nil Public rather than failing the list.
			k.Public, _ = s.exportPublic(h, v[2])
			if len(k.ID) > 0 {
				if k.Certificates, err = s.certificates(p11.NewAttribute(p11.CKA_ID, k.ID)); err != nil {
					return nil, err
				}
			}
			keys = append(keys, k)
		}
		return keys, nil
	})
}
