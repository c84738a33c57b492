package plugin

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"os"

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
		return nil, fmt.Errorf("%w: no certificate with the key's CKA_ID %x on token %q; import the signing certificate onto the token with the same id, or name a PEM bundle with --plugin-config %s=/path/chain.pem",
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

func readBundle(path string) ([]*x509.Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate_chain: %w", ErrConfig, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxChainFile+1))
	if err != nil {
		return nil, fmt.Errorf("%w: certificate_chain %s: %w", ErrConfig, path, err)
	}
	if len(b) > maxChainFile {
		return nil, fmt.Errorf("%w: certificate_chain %s is larger than %d bytes", ErrConfig, path, maxChainFile)
	}
	certs, err := pki.ParseCertificates(b)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate_chain %s: %w", ErrConfig, path, err)
	}
	return certs, nil
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
// ECDSA r||s) against the leaf's public key, as notation will.
func verify(pub crypto.PublicKey, alg pki.Algorithm, digest, sig []byte) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if rsa.VerifyPSS(k, alg.Hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil {
			return nil
		}
	case *ecdsa.PublicKey:
		n := len(sig) / 2
		if len(sig)%2 == 0 && ecdsa.Verify(k, digest, new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])) {
			return nil
		}
	}
	return fmt.Errorf("%w: the HSM's %s signature does not verify with the signing certificate's key", ErrSelfCheck, alg.Signature)
}
