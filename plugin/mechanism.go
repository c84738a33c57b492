package plugin

import (
	"crypto"
	"fmt"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// mechanismKey is a key that says how it signs; *pkcs11.Key is one.
type mechanismKey interface {
	SignMechanism(opts crypto.SignerOpts) (pkcs11.SignMechanism, error)
}

// SignMechanismFor returns the PKCS#11 mechanism that generate-signature
// uses with key for key spec ks, as the token reports its mechanisms (for
// doctor to show). An error wrapping pkcs11.ErrMechanism (a
// *pkcs11.MechanismError) says that the token cannot make the signature
// Notation needs, and names the mechanisms it lacks. A key that is not on
// a PKCS#11 token (a test fake) has no mechanism: ok is false.
func SignMechanismFor(key SigningKey, ks proto.KeySpec) (m pkcs11.SignMechanism, ok bool, err error) {
	alg, err := pki.AlgorithmFor(ks)
	if err != nil {
		return pkcs11.SignMechanism{}, false, fmt.Errorf("%w: %w", ErrRequest, err)
	}
	mk, isToken := key.(mechanismKey)
	if !isToken {
		return pkcs11.SignMechanism{}, false, nil
	}
	m, err = mk.SignMechanism(alg.SignerOpts())
	return m, err == nil, err
}
