package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"
)

// ErrUnsupportedKey is returned for a key that Notation cannot sign with:
// only RSA 2048, 3072 and 4096 bits and EC P-256, P-384 and P-521 are allowed.
var ErrUnsupportedKey = errors.New("unsupported key: Notation signs with RSA 2048/3072/4096 or EC P-256/P-384/P-521 only")

// ErrUnknownKeySpec is returned by AlgorithmFor for a key spec that is not
// one of Notation's six.
var ErrUnknownKeySpec = errors.New("unknown key spec")

// KeySpecOf returns the Notation key spec of a public key.
func KeySpecOf(pub crypto.PublicKey) (plugin.KeySpec, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return plugin.KeySpecRSA2048, nil
		case 3072:
			return plugin.KeySpecRSA3072, nil
		case 4096:
			return plugin.KeySpecRSA4096, nil
		}
		return "", fmt.Errorf("%w (got RSA %d bits)", ErrUnsupportedKey, k.N.BitLen())
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return plugin.KeySpecEC256, nil
		case elliptic.P384():
			return plugin.KeySpecEC384, nil
		case elliptic.P521():
			return plugin.KeySpecEC521, nil
		}
		return "", fmt.Errorf("%w (got EC %s)", ErrUnsupportedKey, k.Curve.Params().Name)
	}
	return "", fmt.Errorf("%w (got %T)", ErrUnsupportedKey, pub)
}

// Algorithm is everything a signer needs to know about one key spec.
type Algorithm struct {
	KeySpec   plugin.KeySpec
	Hash      crypto.Hash
	HashName  plugin.HashAlgorithm
	Signature plugin.SignatureAlgorithm
	// ECDSA is true for EC keys (raw r||s signatures), false for RSASSA-PSS.
	ECDSA bool
}

// AlgorithmFor returns the hash and signing algorithm Notation pairs with a
// key spec: the hash follows the key size.
func AlgorithmFor(ks plugin.KeySpec) (Algorithm, error) {
	switch ks {
	case plugin.KeySpecRSA2048:
		return Algorithm{ks, crypto.SHA256, plugin.HashAlgorithmSHA256, plugin.SignatureAlgorithmRSASSA_PSS_SHA256, false}, nil
	case plugin.KeySpecRSA3072:
		return Algorithm{ks, crypto.SHA384, plugin.HashAlgorithmSHA384, plugin.SignatureAlgorithmRSASSA_PSS_SHA384, false}, nil
	case plugin.KeySpecRSA4096:
		return Algorithm{ks, crypto.SHA512, plugin.HashAlgorithmSHA512, plugin.SignatureAlgorithmRSASSA_PSS_SHA512, false}, nil
	case plugin.KeySpecEC256:
		return Algorithm{ks, crypto.SHA256, plugin.HashAlgorithmSHA256, plugin.SignatureAlgorithmECDSA_SHA256, true}, nil
	case plugin.KeySpecEC384:
		return Algorithm{ks, crypto.SHA384, plugin.HashAlgorithmSHA384, plugin.SignatureAlgorithmECDSA_SHA384, true}, nil
	case plugin.KeySpecEC521:
		return Algorithm{ks, crypto.SHA512, plugin.HashAlgorithmSHA512, plugin.SignatureAlgorithmECDSA_SHA512, true}, nil
	}
	return Algorithm{}, fmt.Errorf("%w %q: want one of RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521", ErrUnknownKeySpec, ks)
}

// SignerOpts returns the options to pass to a crypto.Signer for this
// algorithm: RSASSA-PSS with the salt as long as the hash (what go-cose and
// RFC 7518 verify), or the bare hash for ECDSA.
func (a Algorithm) SignerOpts() crypto.SignerOpts {
	if a.ECDSA {
		return a.Hash
	}
	return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: a.Hash}
}
