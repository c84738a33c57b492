package pki_test

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
)

// keySpecCases ties every supported key type fixture to the Notation wire
// names it must produce.
var keySpecCases = []struct {
	kt        string
	keySpec   plugin.KeySpec
	hash      crypto.Hash
	hashName  plugin.HashAlgorithm
	signature plugin.SignatureAlgorithm
	ecdsa     bool
}{
	{"rsa-2048", "RSA-2048", crypto.SHA256, "SHA-256", "RSASSA-PSS-SHA-256", false},
	{"rsa-3072", "RSA-3072", crypto.SHA384, "SHA-384", "RSASSA-PSS-SHA-384", false},
	{"rsa-4096", "RSA-4096", crypto.SHA512, "SHA-512", "RSASSA-PSS-SHA-512", false},
	{"ec-256", "EC-256", crypto.SHA256, "SHA-256", "ECDSA-SHA-256", true},
	{"ec-384", "EC-384", crypto.SHA384, "SHA-384", "ECDSA-SHA-384", true},
	{"ec-521", "EC-521", crypto.SHA512, "SHA-512", "ECDSA-SHA-512", true},
}

func TestKeySpecOfAndAlgorithmFor(t *testing.T) {
	for _, tc := range keySpecCases {
		t.Run(tc.kt, func(t *testing.T) {
			signer := loadSigner(t, tc.kt, "leaf.key")
			leaf := loadCert(t, tc.kt, "leaf.crt")

			// The key spec is the same from the private key's public half and
			// from the certificate.
			for name, pub := range map[string]crypto.PublicKey{"key": signer.Public(), "certificate": leaf.PublicKey} {
				ks, err := pki.KeySpecOf(pub)
				if err != nil {
					t.Fatalf("KeySpecOf(%s): %v", name, err)
				}
				if ks != tc.keySpec {
					t.Errorf("KeySpecOf(%s) = %q, want %q", name, ks, tc.keySpec)
				}
			}

			alg, err := pki.AlgorithmFor(tc.keySpec)
			if err != nil {
				t.Fatalf("AlgorithmFor(%q): %v", tc.keySpec, err)
			}
			want := pki.Algorithm{KeySpec: tc.keySpec, Hash: tc.hash, HashName: tc.hashName, Signature: tc.signature, ECDSA: tc.ecdsa}
			if alg != want {
				t.Errorf("AlgorithmFor(%q) = %+v, want %+v", tc.keySpec, alg, want)
			}

			opts := alg.SignerOpts()
			if opts.HashFunc() != tc.hash {
				t.Errorf("SignerOpts().HashFunc() = %v, want %v", opts.HashFunc(), tc.hash)
			}
			pss, isPSS := opts.(*rsa.PSSOptions)
			if tc.ecdsa {
				if isPSS {
					t.Errorf("SignerOpts() for %s is PSS options, want the bare hash", tc.keySpec)
				}
				if h, ok := opts.(crypto.Hash); !ok || h != tc.hash {
					t.Errorf("SignerOpts() = %#v, want crypto.Hash %v", opts, tc.hash)
				}
			} else {
				if !isPSS {
					t.Fatalf("SignerOpts() for %s = %#v, want *rsa.PSSOptions", tc.keySpec, opts)
				}
				if pss.SaltLength != rsa.PSSSaltLengthEqualsHash {
					t.Errorf("PSS salt length = %d, want rsa.PSSSaltLengthEqualsHash (%d)", pss.SaltLength, rsa.PSSSaltLengthEqualsHash)
				}
				if pss.Hash != tc.hash {
					t.Errorf("PSS hash = %v, want %v", pss.Hash, tc.hash)
				}
			}

			// Signing with the options must give a signature that the
			// verifier Notation uses accepts.
			h := tc.hash.New()
			h.Write([]byte("notation-pkcs11 " + tc.kt))
			digest := h.Sum(nil)
			sig, err := signer.Sign(rand.Reader, digest, opts)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			switch pub := signer.Public().(type) {
			case *rsa.PublicKey:
				// go-cose verifies PS256/384/512 with the salt as long as the hash.
				if err := rsa.VerifyPSS(pub, tc.hash, digest, sig, &rsa.PSSOptions{SaltLength: tc.hash.Size(), Hash: tc.hash}); err != nil {
					t.Errorf("VerifyPSS with salt length %d: %v", tc.hash.Size(), err)
				}
			case *ecdsa.PublicKey:
				raw, err := pki.ECDSARaw(pub, sig)
				if err != nil {
					t.Fatalf("ECDSARaw: %v", err)
				}
				size := (pub.Curve.Params().BitSize + 7) / 8
				if len(raw) != 2*size {
					t.Fatalf("raw signature is %d bytes, want %d", len(raw), 2*size)
				}
				if !ecdsa.Verify(pub, digest, bigFrom(raw[:size]), bigFrom(raw[size:])) {
					t.Error("raw r||s does not verify")
				}
			}
		})
	}
}

func TestKeySpecOfUnsupported(t *testing.T) {
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024 := loadSigner(t, "bad", "rsa-1024.key").Public()
	rsa2048 := loadSigner(t, "rsa-2048", "leaf.key").Public().(*rsa.PublicKey)
	// An RSA key one bit short of 2048: a modulus of 2047 bits.
	rsa2047 := &rsa.PublicKey{N: new(big.Int).Rsh(rsa2048.N, 1), E: rsa2048.E}

	for _, tc := range []struct {
		name string
		pub  crypto.PublicKey
		want string // key words of the "(got ...)" part
	}{
		{"RSA-1024", rsa1024, "got RSA 1024 bits"},
		{"RSA-2047", rsa2047, "got RSA 2047 bits"},
		{"P-224", &p224.PublicKey, "got EC P-224"},
		{"ed25519", edPub, "got ed25519.PublicKey"},
		{"ed25519 private key", ed25519.PrivateKey(make([]byte, ed25519.PrivateKeySize)), "got ed25519.PrivateKey"},
		{"X25519", x25519.PublicKey(), "got *ecdh.PublicKey"},
		{"ECDSA private key instead of public", p224, "got *ecdsa.PrivateKey"},
		{"nil", nil, "got <nil>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := pki.KeySpecOf(tc.pub)
			if err == nil {
				t.Fatalf("KeySpecOf = %q, want an error", ks)
			}
			if !errors.Is(err, pki.ErrUnsupportedKey) {
				t.Errorf("error %v does not wrap ErrUnsupportedKey", err)
			}
			if ks != "" {
				t.Errorf("key spec %q returned with an error", ks)
			}
			for _, word := range []string{tc.want, "RSA 2048/3072/4096", "P-256/P-384/P-521"} {
				if !strings.Contains(err.Error(), word) {
					t.Errorf("error %q does not contain %q", err, word)
				}
			}
		})
	}
}

func TestAlgorithmForUnknown(t *testing.T) {
	for _, ks := range []plugin.KeySpec{"", "RSA-1024", "EC-224", "rsa-2048", "RSA2048", "ED25519", "EC-256 "} {
		t.Run(string(ks), func(t *testing.T) {
			alg, err := pki.AlgorithmFor(ks)
			if err == nil {
				t.Fatalf("AlgorithmFor(%q) = %+v, want an error", ks, alg)
			}
			if alg != (pki.Algorithm{}) {
				t.Errorf("AlgorithmFor(%q) returned %+v with an error", ks, alg)
			}
			if !errors.Is(err, pki.ErrUnknownKeySpec) {
				t.Errorf("error %v does not wrap ErrUnknownKeySpec", err)
			}
			// It lists the six key specs to choose from.
			for _, word := range []string{"RSA-2048", "RSA-3072", "RSA-4096", "EC-256", "EC-384", "EC-521"} {
				if !strings.Contains(err.Error(), word) {
					t.Errorf("error %q does not contain %q", err, word)
				}
			}
		})
	}
}

// TestKeySpecHashFollowsKeySize: within each family the hash grows with the
// key size.
func TestKeySpecHashFollowsKeySize(t *testing.T) {
	prev := 0
	for _, ks := range []plugin.KeySpec{plugin.KeySpecRSA2048, plugin.KeySpecRSA3072, plugin.KeySpecRSA4096} {
		alg, err := pki.AlgorithmFor(ks)
		if err != nil {
			t.Fatal(err)
		}
		if alg.Hash.Size() <= prev {
			t.Errorf("%s: hash %v is not longer than the smaller key's", ks, alg.Hash)
		}
		prev = alg.Hash.Size()
	}
	prev = 0
	for _, ks := range []plugin.KeySpec{plugin.KeySpecEC256, plugin.KeySpecEC384, plugin.KeySpecEC521} {
		alg, err := pki.AlgorithmFor(ks)
		if err != nil {
			t.Fatal(err)
		}
		if alg.Hash.Size() <= prev {
			t.Errorf("%s: hash %v is not longer than the smaller key's", ks, alg.Hash)
		}
		prev = alg.Hash.Size()
	}
}
