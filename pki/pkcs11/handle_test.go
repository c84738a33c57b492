//go:build unix

package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// tokenWithChains makes a SoftHSM token labelled label holding the leaf key
// of each key type, labelled by its type with CKA_ID {0x40, i}, and its
// chain: the leaf under the key's id, the issuers under ids of their own.
func tokenWithChains(t *testing.T, label string, kts ...string) *e2e.SoftHSM {
	t.Helper()
	h := softHSM(t, label)
	for i, kt := range kts {
		id := []byte{0x40, byte(i)}
		if err := h.ImportKey(label, userPIN, filepath.Join("..", "..", "testdata", "pki", kt, "leaf.key"), kt, id); err != nil {
			t.Fatal(err)
		}
		chain, err := testpki.LoadCertificates(filepath.Join("..", "..", "testdata", "pki", kt, "chain.pem"))
		if err != nil {
			t.Fatal(err)
		}
		tok := open(t, h, "pkcs11:token="+label+";object="+kt)
		for j, c := range chain {
			cid, clabel := id, kt
			if j > 0 {
				cid, clabel = []byte{0x50, byte(i), byte(j)}, kt+"-issuer"
			}
			if err := tok.ImportCertificate(context.Background(), pkcs11.NewPIN(userPIN), cid, clabel, c); err != nil {
				t.Fatal(err)
			}
		}
		if err := tok.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// signLikeThePlugin does what generate-signature does with a token: public
// key without login, the exclusive lock, login, the chain from the token,
// a signature over a message, and a check of that signature with the leaf.
// It returns the mechanism the key used.
func signLikeThePlugin(t *testing.T, tok *pkcs11.Token) pkcs11.SignMechanism {
	t.Helper()
	ctx := context.Background()
	pub, _, err := tok.PublicKey(ctx)
	if err != nil {
		t.Fatalf("PublicKey: %v", err)
	}
	if err := tok.LockExclusive(ctx); err != nil {
		t.Fatal(err)
	}
	key, err := tok.Login(ctx, pkcs11.NewPIN(userPIN))
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if !pki.PublicKeyEqual(pub, key.Public()) {
		t.Fatal("Login found another key than PublicKey")
	}
	certs, err := tok.CertificatesByID(ctx, key.ID())
	if err != nil || len(certs) != 1 {
		t.Fatalf("CertificatesByID after login: %d certificates, %v", len(certs), err)
	}
	chain, err := pki.BuildChain(certs[0], func(raw []byte) ([]*x509.Certificate, error) { return tok.CertificatesBySubject(ctx, raw) })
	if err != nil || len(chain) != 3 {
		t.Fatalf("chain from the token: %d certificates, %v", len(chain), err)
	}
	ks, err := pki.KeySpecOf(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	alg, _ := pki.AlgorithmFor(ks)
	mech, err := key.SignMechanism(alg.SignerOpts())
	if err != nil {
		t.Fatalf("SignMechanism: %v", err)
	}
	msg := []byte("payload signed through " + tok.Info().Label)
	sig, err := crypto.SignMessage(key, nil, msg, alg.SignerOpts())
	if err != nil {
		t.Fatalf("SignMessage with %s: %v", mech, err)
	}
	verifyMessage(t, chain[0].PublicKey, alg.Hash, msg, sig)
	return mech
}

// verifyMessage checks a crypto.Signer signature (ECDSA DER, or RSA-PSS
// with salt = hash length) over msg.
func verifyMessage(t *testing.T, pub crypto.PublicKey, h crypto.Hash, msg, sig []byte) {
	t.Helper()
	d := h.New()
	d.Write(msg)
	digest := d.Sum(nil)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			t.Fatal("the ECDSA signature does not verify")
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			t.Fatalf("the RSA-PSS signature (salt = hash length) does not verify: %v", err)
		}
	default:
		t.Fatalf("unexpected key %T", pub)
	}
}

// TestOneModuleHandle (issue 16): everything a signature needs, from the
// public key to the signature, uses one module handle: one C_Initialize,
// one C_Finalize at Close, none in between. (The library used to be
// finalised and initialised again when logging in.)
func TestOneModuleHandle(t *testing.T) {
	h := tokenWithChains(t, "handle", "ec-256", "rsa-3072")
	lib := e2e.BuildShimT(t)
	for _, kt := range []string{"ec-256", "rsa-3072"} {
		t.Run(kt, func(t *testing.T) {
			shim := e2e.Shim{Module: h.Module(), Log: filepath.Join(t.TempDir(), "shim.log")}
			for _, kv := range shim.Env() {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			u := mustURI(t, "pkcs11:token=handle;object="+kt)
			tok, err := pkcs11.Open(context.Background(), u, pkcs11.Options{ModulePath: lib, Timeout: time.Minute, LockFile: filepath.Join(t.TempDir(), "module.lock")})
			if err != nil {
				t.Fatal(err)
			}
			signLikeThePlugin(t, tok)
			if err := tok.Close(); err != nil {
				t.Fatal(err)
			}
			log, err := e2e.ReadShimLog(shim.Log)
			if err != nil {
				t.Fatal(err)
			}
			if n, m := count(log, "C_Initialize"), count(log, "C_Finalize"); n != 1 || m != 1 {
				t.Errorf("C_Initialize %d times and C_Finalize %d times, want once each (log %q)", n, m, log)
			}
			if log[len(log)-1] != "C_Finalize" {
				t.Errorf("the module was used after C_Finalize (log %q)", log)
			}
			if !slices.Contains(log, "C_Sign done 0x0") {
				t.Errorf("no signature went through the shim (log %q)", log)
			}
		})
	}
}

// TestKeyConcurrentAndAfterClose: one Key signs from many goroutines (one
// at a time on the token's session; run with -race), and after Close every
// call fails with ErrModule instead of reaching the unloaded module.
func TestKeyConcurrentAndAfterClose(t *testing.T) {
	h := tokenWithChains(t, "conc", "ec-256")
	u := mustURI(t, "pkcs11:token=conc;object=ec-256")
	tok, err := pkcs11.Open(context.Background(), u, pkcs11.Options{ModulePath: h.Module(), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	key, err := tok.Login(context.Background(), pkcs11.NewPIN(userPIN))
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	errs := make(chan error, n)
	for i := range n {
		go func() {
			msg := []byte{byte(i)}
			sig, err := key.SignMessage(nil, msg, crypto.SHA256)
			if err == nil {
				d := sha256.Sum256(msg)
				if !ecdsa.VerifyASN1(key.Public().(*ecdsa.PublicKey), d[:], sig) {
					err = errors.New("a signature does not verify")
				}
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tok.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx := context.Background()
	_, sigErr := key.SignMessage(nil, []byte("late"), crypto.SHA256)
	_, _, pubErr := tok.PublicKey(ctx)
	_, loginErr := tok.Login(ctx, pkcs11.NewPIN(userPIN))
	_, certErr := tok.CertificatesByID(ctx, key.ID())
	_, mechErr := key.SignMechanism(crypto.SHA256)
	for i, err := range []error{sigErr, pubErr, loginErr, certErr, mechErr} {
		if !errors.Is(err, pkcs11.ErrModule) || !errors.Is(err, pkcs11.ErrClosed) {
			t.Errorf("call %d after Close: %v, want ErrModule saying the token is closed", i, err)
		}
	}
}
