package servicetest

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"testing"

	"github.com/notaryproject/notation-go"
	nsigner "github.com/notaryproject/notation-go/signer"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
)

// Signer signs descriptors with one key type's leaf of the deterministic
// test PKI (testdata/pki/KEYTYPE), as notation sign does.
type Signer struct {
	signer notation.Signer
	// Chain is leaf, intermediate, root.
	Chain []*x509.Certificate
}

// NewSigner loads the leaf key and chain of pkiDir/keyType, for example
// NewSigner(t, "../../testdata/pki", "ec-256").
func NewSigner(t testing.TB, pkiDir, keyType string) *Signer {
	t.Helper()
	dir := filepath.Join(pkiDir, keyType)
	chain, err := testpki.LoadCertificates(filepath.Join(dir, "chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := testpki.LoadSigner(filepath.Join(dir, "leaf.key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := nsigner.NewGenericSigner(key, chain)
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{signer: s, Chain: chain}
}

// Root is the chain's root certificate.
func (s *Signer) Root() *x509.Certificate { return s.Chain[len(s.Chain)-1] }

// RootPEM is Root in PEM.
func (s *Signer) RootPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Root().Raw}))
}

// Sign returns an envelope of mediaType (application/jose+json or
// application/cose) over desc.
func (s *Signer) Sign(t testing.TB, desc ocispec.Descriptor, mediaType string) []byte {
	t.Helper()
	env, _, err := s.signer.Sign(context.Background(), desc, notation.SignerSignOptions{SignatureMediaType: mediaType})
	if err != nil {
		t.Fatal(err)
	}
	return env
}
