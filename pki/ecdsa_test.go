package pki_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
)

func bigFrom(b []byte) *big.Int { return new(big.Int).SetBytes(b) }

// derSig encodes r and s as a DER ECDSA-Sig-Value.
func derSig(r, s *big.Int) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	return b.BytesOrPanic()
}

func curveBytes(c elliptic.Curve) int { return (c.Params().BitSize + 7) / 8 }

var ecCurves = []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()}

func TestECDSARawRoundTrip(t *testing.T) {
	for _, curve := range ecCurves {
		t.Run(curve.Params().Name, func(t *testing.T) {
			key, err := ecdsa.GenerateKey(curve, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			size := curveBytes(curve)
			var shortR, shortS bool
			// Sign until both a short r and a short s (leading zero bytes
			// in their fixed-width form) have been seen; for P-256 and
			// P-384 each happens about once in 128 signatures, for P-521
			// about every other one. Always run at least 50 rounds.
			const maxRounds = 20000
			rounds := 0
			for ; rounds < maxRounds && (rounds < 50 || !shortR || !shortS); rounds++ {
				digest := sha256.Sum256([]byte(fmt.Sprintf("message %d", rounds)))
				der, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
				if err != nil {
					t.Fatal(err)
				}
				raw, err := pki.ECDSARaw(&key.PublicKey, der)
				if err != nil {
					t.Fatalf("round %d: ECDSARaw: %v", rounds, err)
				}
				if len(raw) != 2*size {
					t.Fatalf("round %d: raw signature is %d bytes, want %d", rounds, len(raw), 2*size)
				}
				r, s := bigFrom(raw[:size]), bigFrom(raw[size:])
				if !ecdsa.Verify(&key.PublicKey, digest[:], r, s) {
					t.Fatalf("round %d: r||s does not verify", rounds)
				}
				// r||s holds exactly the DER integers.
				if !bytes.Equal(derSig(r, s), der) {
					t.Fatalf("round %d: r||s re-encoded differs from the DER input", rounds)
				}
				if raw[0] == 0 {
					shortR = true
				}
				if raw[size] == 0 {
					shortS = true
				}
			}
			if !shortR || !shortS {
				t.Fatalf("no signature with a short r (%v) and a short s (%v) in %d rounds", shortR, shortS, rounds)
			}
		})
	}
}

// TestECDSARawPadding checks the left padding with hand-made small values.
func TestECDSARawPadding(t *testing.T) {
	for _, curve := range ecCurves {
		size := curveBytes(curve)
		pub := &ecdsa.PublicKey{Curve: curve}
		for _, tc := range []struct {
			name string
			r, s *big.Int
		}{
			{"r=1 s=1", big.NewInt(1), big.NewInt(1)},
			{"r=0x80 s=0xff00", big.NewInt(0x80), big.NewInt(0xff00)},
			{"r and s of full width, top bit set", new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(8*size)), big.NewInt(1)), new(big.Int).Lsh(big.NewInt(1), uint(8*size-1))},
		} {
			t.Run(curve.Params().Name+" "+tc.name, func(t *testing.T) {
				raw, err := pki.ECDSARaw(pub, derSig(tc.r, tc.s))
				if err != nil {
					t.Fatalf("ECDSARaw: %v", err)
				}
				want := make([]byte, 2*size)
				tc.r.FillBytes(want[:size])
				tc.s.FillBytes(want[size:])
				if !bytes.Equal(raw, want) {
					t.Errorf("ECDSARaw = %x, want %x", raw, want)
				}
			})
		}
	}
}

func TestECDSARawMalformed(t *testing.T) {
	p256 := &ecdsa.PublicKey{Curve: elliptic.P256()}
	one := big.NewInt(1)
	valid := derSig(one, one)
	tooBig := new(big.Int).Lsh(one, 256) // 33 bytes
	for _, tc := range []struct {
		name  string
		der   []byte
		words []string // key words of the message besides the sentinel's
	}{
		{"nil", nil, nil},
		{"empty", []byte{}, nil},
		{"one byte", []byte{0x30}, nil},
		{"empty SEQUENCE", []byte{0x30, 0x00}, nil},
		{"SET instead of SEQUENCE", []byte{0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, nil},
		{"only r", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, nil},
		{"three INTEGERs", []byte{0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, nil},
		{"trailing byte after the SEQUENCE", append(append([]byte{}, valid...), 0x00), nil},
		{"trailing SEQUENCE", append(append([]byte{}, valid...), valid...), nil},
		{"length longer than input", []byte{0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, nil},
		{"length shorter than content", []byte{0x30, 0x05, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, nil},
		{"non-minimal length encoding", []byte{0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, nil},
		{"OCTET STRING instead of INTEGER", []byte{0x30, 0x06, 0x04, 0x01, 0x01, 0x02, 0x01, 0x01}, nil},
		{"empty INTEGER", []byte{0x30, 0x05, 0x02, 0x00, 0x02, 0x01, 0x01}, nil},
		{"non-minimal INTEGER", []byte{0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01}, nil},
		{"zero r", derSig(big.NewInt(0), one), []string{"out of range", "P-256"}},
		{"zero s", derSig(one, big.NewInt(0)), []string{"out of range", "P-256"}},
		{"negative r", derSig(big.NewInt(-1), one), []string{"out of range", "P-256"}},
		{"negative s", derSig(one, big.NewInt(-5)), []string{"out of range", "P-256"}},
		{"r too large (33 bytes)", derSig(tooBig, one), []string{"out of range", "P-256"}},
		{"s too large (33 bytes)", derSig(one, tooBig), []string{"out of range", "P-256"}},
		{"P-384-sized r on P-256", derSig(new(big.Int).Lsh(one, 383), one), []string{"out of range", "P-256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := pki.ECDSARaw(p256, tc.der)
			if err == nil {
				t.Fatalf("ECDSARaw = %x, want an error", raw)
			}
			if !errors.Is(err, pki.ErrMalformedSignature) {
				t.Errorf("error %v does not wrap ErrMalformedSignature", err)
			}
			if raw != nil {
				t.Errorf("ECDSARaw returned %x with an error", raw)
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestECDSARawCurveSizes: a 66-byte r is fine on P-521 but not on P-384.
func TestECDSARawCurveSizes(t *testing.T) {
	r := new(big.Int).Lsh(big.NewInt(1), 520) // 66 bytes
	sig := derSig(r, big.NewInt(1))
	if _, err := pki.ECDSARaw(&ecdsa.PublicKey{Curve: elliptic.P521()}, sig); err != nil {
		t.Errorf("P-521 with a 66-byte r: %v", err)
	}
	_, err := pki.ECDSARaw(&ecdsa.PublicKey{Curve: elliptic.P384()}, sig)
	if !errors.Is(err, pki.ErrMalformedSignature) || !strings.Contains(err.Error(), "P-384") {
		t.Errorf("P-384 with a 66-byte r: error %v, want ErrMalformedSignature naming P-384", err)
	}
}

func FuzzECDSARaw(f *testing.F) {
	for i, curve := range ecCurves {
		key, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		digest := sha256.Sum256([]byte("seed"))
		der, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), der)
		f.Add(uint8(i), derSig(big.NewInt(-1), big.NewInt(1)))
		f.Add(uint8(i), append(der, 0))
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(0), []byte{0x30, 0x00})
	f.Add(uint8(2), []byte{0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, which uint8, der []byte) {
		curve := ecCurves[int(which)%len(ecCurves)]
		size := curveBytes(curve)
		raw, err := pki.ECDSARaw(&ecdsa.PublicKey{Curve: curve}, der)
		if err != nil {
			if !errors.Is(err, pki.ErrMalformedSignature) {
				t.Fatalf("error %v does not wrap ErrMalformedSignature", err)
			}
			if raw != nil {
				t.Fatalf("raw %x returned with an error", raw)
			}
			return
		}
		if len(raw) != 2*size {
			t.Fatalf("raw signature is %d bytes, want %d", len(raw), 2*size)
		}
		r, s := bigFrom(raw[:size]), bigFrom(raw[size:])
		if r.Sign() <= 0 || s.Sign() <= 0 {
			t.Fatalf("accepted a zero r or s: %x", raw)
		}
		// Only canonical DER is accepted, so r||s encodes back to the input.
		if !bytes.Equal(derSig(r, s), der) {
			t.Fatalf("accepted %x, which is not the DER of its own r||s %x", der, raw)
		}
	})
}
