package testtsa

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// DefaultSeed is the seed [GeneratePKI] derives keys from when
// [PKIOptions.Seed] is empty.
const DefaultSeed = "notation-pkcs11 testtsa"

// PKIOptions configures [GeneratePKI]. The zero value is the default PKI.
type PKIOptions struct {
	// Seed derives the two EC P-256 keys and names the certificates' O.
	// Distinct seeds give unrelated PKIs; empty means DefaultSeed.
	Seed string

	// NotBefore and NotAfter bound both certificates. Zero means
	// 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z.
	NotBefore, NotAfter time.Time

	// NonCriticalEKU marks the leaf's extendedKeyUsage extension
	// non-critical, which RFC 3161 2.3 and Notary Project forbid.
	NonCriticalEKU bool
}

// GeneratePKI returns a deterministic TSA PKI: the leaf's private key and the
// chain leaf, root. The root is a self-signed CA (basicConstraints CA:true,
// critical keyUsage keyCertSign and cRLSign) with CN "testtsa Root"; the leaf
// (CN "testtsa TSA") has critical keyUsage digitalSignature and an
// extendedKeyUsage of timeStamping only, critical unless
// opts.NonCriticalEKU. Serial numbers are 1 (root) and 2 (leaf).
func GeneratePKI(opts PKIOptions) (crypto.Signer, []*x509.Certificate, error) {
	seed := opts.Seed
	if seed == "" {
		seed = DefaultSeed
	}
	notBefore, notAfter := opts.NotBefore, opts.NotAfter
	if notBefore.IsZero() {
		notBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if notAfter.IsZero() {
		notAfter = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if !notAfter.After(notBefore) {
		return nil, nil, fmt.Errorf("testtsa: NotAfter %v is not after NotBefore %v", notAfter, notBefore)
	}
	rootKey, err := deriveKey(seed + " root")
	if err != nil {
		return nil, nil, err
	}
	leafKey, err := deriveKey(seed + " leaf")
	if err != nil {
		return nil, nil, err
	}
	name := func(cn string) pkix.Name {
		return pkix.Name{Country: []string{"US"}, Organization: []string{seed}, CommonName: cn}
	}

	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               name("testtsa Root"),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	rootDER, err := x509.CreateCertificate(nil, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, nil, fmt.Errorf("testtsa: creating root certificate: %w", err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, nil, fmt.Errorf("testtsa: parsing root certificate: %w", err)
	}

	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping()})
	if err != nil {
		return nil, nil, fmt.Errorf("testtsa: encoding extendedKeyUsage: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               name("testtsa TSA"),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature, // Go marks it critical
		BasicConstraintsValid: true,
		// Go would mark an ExtKeyUsage field non-critical; the extension is
		// written by hand so its criticality is ours to choose.
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage(), Critical: !opts.NonCriticalEKU, Value: eku}},
	}
	leafDER, err := x509.CreateCertificate(nil, leafTmpl, root, leafKey.Public(), rootKey)
	if err != nil {
		return nil, nil, fmt.Errorf("testtsa: creating TSA certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, nil, fmt.Errorf("testtsa: parsing TSA certificate: %w", err)
	}
	return leafKey, []*x509.Certificate{leaf, root}, nil
}

// deriveKey returns the P-256 key whose scalar is SHA-512(name) mod (N-1) + 1.
func deriveKey(name string) (*ecdsa.PrivateKey, error) {
	curve := elliptic.P256()
	sum := sha512.Sum512([]byte(name))
	one := big.NewInt(1)
	d := new(big.Int).SetBytes(sum[:])
	d.Mod(d, new(big.Int).Sub(curve.Params().N, one)).Add(d, one)
	key, err := ecdsa.ParseRawPrivateKey(curve, d.FillBytes(make([]byte, 32)))
	if err != nil {
		return nil, fmt.Errorf("testtsa: deriving key %q: %w", name, err)
	}
	return key, nil
}

// checkChain checks that chain is non-empty and that key is the private key
// of chain[0]. It does not check issuance, so tests can pass broken chains.
func checkChain(key crypto.Signer, chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("testtsa: Options.Signer is set but Options.Certificates is empty")
	}
	for i, c := range chain {
		if c == nil {
			return fmt.Errorf("testtsa: Options.Certificates[%d] is nil", i)
		}
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(chain[0].PublicKey) {
		return errors.New("testtsa: Options.Signer does not match the public key of Options.Certificates[0]")
	}
	return nil
}
