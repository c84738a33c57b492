package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"strconv"
	"strings"
)

// seedPrefix is hashed together with a key's name to derive an EC scalar.
const seedPrefix = "notation-pkcs11 testpki "

// keyBanner precedes every PEM private key written by Generate. PEM readers,
// including Go's and OpenSSL's, skip text before the BEGIN line.
const keyBanner = "PUBLIC TEST KEY from notation-pkcs11 internal/testpki: never use it for anything but tests.\n"

// KeyTypes returns the key types that get a full root, intermediate and leaf
// chain, in the order they are generated.
func KeyTypes() []string {
	return []string{"rsa-2048", "rsa-3072", "rsa-4096", "ec-256", "ec-384", "ec-521"}
}

// LoadSigner reads a PKCS #8 PEM private key.
func LoadSigner(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	return parseSigner(path, data)
}

func parseSigner(path string, data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: no PRIVATE KEY PEM block", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: parse PKCS #8 key: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: key of type %T is not a crypto.Signer", path, key)
	}
	return signer, nil
}

// encodeKey returns key as PKCS #8 PEM preceded by keyBanner.
func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal PKCS #8 key: %w", err)
	}
	return append([]byte(keyBanner), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...), nil
}

// key returns the key called name of type kt ("rsa-N" or "ec-N") and its PEM
// encoding, and makes sure keys/<name>.key holds it. EC keys are derived from
// name every time; an RSA key is read from keys/<name>.key if that exists and
// generated once otherwise.
func (g *generator) key(kt, name string) (crypto.Signer, []byte, error) {
	kind, size, ok := strings.Cut(kt, "-")
	bits, err := strconv.Atoi(size)
	if !ok || err != nil {
		return nil, nil, fmt.Errorf("key %s: invalid key type %q", name, kt)
	}
	rel := "keys/" + name + ".key"
	switch kind {
	case "ec":
		key, err := ecKey(bits, name)
		if err != nil {
			return nil, nil, err
		}
		data, err := encodeKey(key)
		if err != nil {
			return nil, nil, fmt.Errorf("key %s: %w", name, err)
		}
		return key, data, g.write(rel, data)
	case "rsa":
		return g.rsaKey(rel, bits)
	default:
		return nil, nil, fmt.Errorf("key %s: invalid key type %q", name, kt)
	}
}

// ecKey derives a P-bits private key from name: the scalar is
// SHA-512(seedPrefix+name) mod (N-1) + 1, so it is never zero.
func ecKey(bits int, name string) (*ecdsa.PrivateKey, error) {
	curves := map[int]elliptic.Curve{256: elliptic.P256(), 384: elliptic.P384(), 521: elliptic.P521()}
	curve, ok := curves[bits]
	if !ok {
		return nil, fmt.Errorf("key %s: unsupported curve size %d", name, bits)
	}
	sum := sha512.Sum512([]byte(seedPrefix + name))
	one := big.NewInt(1)
	d := new(big.Int).SetBytes(sum[:])
	d.Mod(d, new(big.Int).Sub(curve.Params().N, one)).Add(d, one)
	scalar := d.FillBytes(make([]byte, (curve.Params().BitSize+7)/8))
	key, err := ecdsa.ParseRawPrivateKey(curve, scalar)
	if err != nil {
		return nil, fmt.Errorf("key %s: derive scalar: %w", name, err)
	}
	return key, nil
}

// rsaKey reads the RSA key at rel, or generates and writes it if rel does not
// exist. An existing file is never rewritten.
func (g *generator) rsaKey(rel string, bits int) (crypto.Signer, []byte, error) {
	path := g.path(rel)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: generate RSA-%d key: %w", path, bits, err)
		}
		if data, err = encodeKey(key); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return key, data, g.write(rel, data)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read key: %w", err)
	}
	key, err := parseSigner(path, data)
	if err != nil {
		return nil, nil, err
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok || rsaKey.N.BitLen() != bits {
		return nil, nil, fmt.Errorf("%s: want an RSA-%d key; delete the file to generate one", path, bits)
	}
	return rsaKey, data, nil
}
