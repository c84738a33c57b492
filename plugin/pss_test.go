package plugin

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"testing"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
)

// TestVerifyPSSSaltLength (issue 16): a valid RSA-PSS signature whose salt
// is not as long as the hash (TPMs outside FIPS mode use the maximum) is
// refused with a *PSSSaltError that names the salt, the cause and an EC key;
// the salt length Notation needs passes.
func TestVerifyPSSSaltLength(t *testing.T) {
	for _, kt := range []string{"rsa-2048", "rsa-3072", "rsa-4096"} {
		key := loadSigner(t, kt+"/leaf.key").(*rsa.PrivateKey)
		ks, err := pki.KeySpecOf(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		alg, _ := pki.AlgorithmFor(ks)
		h := alg.Hash.New()
		h.Write([]byte(testPayload))
		digest := h.Sum(nil)
		maxSalt := (key.N.BitLen()+6)/8 - alg.Hash.Size() - 2
		for _, tc := range []struct {
			name string
			salt int // as given to rsa.SignPSS
			want int // the salt the error names; -1: no error
		}{
			{"salt = hash length", rsa.PSSSaltLengthEqualsHash, -1},
			{"maximum salt (auto)", rsa.PSSSaltLengthAuto, maxSalt},
			{"maximum salt (explicit)", maxSalt, maxSalt},
			{"20-byte salt", 20, 20},
			{"1-byte salt", 1, 1},
			{"hash length + 1", alg.Hash.Size() + 1, alg.Hash.Size() + 1},
		} {
			t.Run(fmt.Sprintf("%s/%s", kt, tc.name), func(t *testing.T) {
				sig, err := rsa.SignPSS(rand.Reader, key, alg.Hash, digest, &rsa.PSSOptions{SaltLength: tc.salt})
				if err != nil {
					t.Fatal(err)
				}
				err = verify(key.Public(), alg, digest, sig)
				if tc.want < 0 {
					if err != nil {
						t.Fatalf("verify: %v", err)
					}
					return
				}
				var se *PSSSaltError
				if !errors.As(err, &se) || !errors.Is(err, ErrSelfCheck) {
					t.Fatalf("verify = %v, want a *PSSSaltError wrapping ErrSelfCheck", err)
				}
				if se.Salt != tc.want || se.Max != maxSalt || se.Hash != alg.Hash {
					t.Errorf("PSSSaltError %+v, want salt %d of at most %d", se, tc.want, maxSalt)
				}
				for _, w := range []string{fmt.Sprintf("salt of %s%d bytes", map[bool]string{true: "the maximum length, ", false: ""}[tc.want == maxSalt], tc.want),
					fmt.Sprintf("as long as the hash (%d bytes for %v)", alg.Hash.Size(), alg.Hash), "notation verify would reject it", "use an EC key"} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
			})
		}
	}
	t.Run("not a PSS signature at all", func(t *testing.T) {
		key := loadSigner(t, "rsa-2048/leaf.key").(*rsa.PrivateKey)
		alg, _ := pki.AlgorithmFor(proto.KeySpecRSA2048)
		digest := make([]byte, 32)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest)
		if err != nil {
			t.Fatal(err)
		}
		err = verify(key.Public(), alg, digest, sig)
		var se *PSSSaltError
		if !errors.Is(err, ErrSelfCheck) || errors.As(err, &se) {
			t.Fatalf("verify = %v, want ErrSelfCheck without a salt diagnosis", err)
		}
	})
}

// TestGenerateSignatureMaxSaltRefused (issue 16): a token that signs RSA-PSS
// with the maximum salt (a fake signer here, as a TPM outside FIPS mode
// does) gets no signature out of generate-signature, and the error names
// the cause and recommends an EC key.
func TestGenerateSignatureMaxSaltRefused(t *testing.T) {
	for _, kt := range []string{"rsa-2048", "rsa-3072", "rsa-4096"} {
		t.Run(kt, func(t *testing.T) {
			tok := goodToken(t, kt, true)
			tok.Mode = keyAutoSalt
			b := &fakeBackend{t: t, tok: tok}
			p := newPlugin(b, stdEnv(fakeModule(t)), nil)
			r := runPlugin(t, p, "generate-signature", signReq(keyURI, keyTypeOf(t, kt), nil))
			msg := wantError(t, r, proto.ErrorCodeGeneric, "signature self-check failed", "RSA-PSS signature with a salt of the maximum length", "TPMs outside FIPS mode", "use an EC key")
			if strings.Contains(r.stderr, `"signature"`) {
				t.Errorf("the error carries a signature: %s", msg)
			}
		})
	}
}
