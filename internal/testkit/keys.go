package testkit

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"math/big"
	"testing"
)

// ECKey is the P-256 key derived from name: its scalar is
// SHA-512(name) mod (N-1) + 1. The same name gives the same key.
func ECKey(t testing.TB, name string) *ecdsa.PrivateKey {
	t.Helper()
	curve := elliptic.P256()
	sum := sha512.Sum512([]byte("notation-pkcs11 testkit " + name))
	one := big.NewInt(1)
	d := new(big.Int).SetBytes(sum[:])
	d.Mod(d, new(big.Int).Sub(curve.Params().N, one)).Add(d, one)
	key, err := ecdsa.ParseRawPrivateKey(curve, d.FillBytes(make([]byte, 32)))
	if err != nil {
		t.Fatalf("testkit: derived P-256 key %q: %v", name, err)
	}
	return key
}

// Ed25519Key is the Ed25519 key derived from name. The same name gives the
// same key, and Ed25519 signatures are deterministic, so certificates
// made with it are too.
func Ed25519Key(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("notation-pkcs11 testkit " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// NewECKey is a new random P-256 key.
func NewECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
