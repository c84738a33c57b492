package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
	"github.com/notation-pkcs11/notation-pkcs11/pki/testca"
)

const userPIN = "4711-test"

// softHSM makes a SoftHSM token store in a temp dir, points this process's
// SOFTHSM2_CONF at it (the module reads it at C_Initialize), and initialises
// the named tokens.
func softHSM(t *testing.T, tokens ...string) *e2e.SoftHSM {
	t.Helper()
	h := e2e.NewSoftHSMT(t)
	t.Setenv("SOFTHSM2_CONF", h.ConfPath())
	for _, label := range tokens {
		if err := h.InitToken(label, "so-"+userPIN, userPIN); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func mustURI(t *testing.T, s string) *pkcs11.URI {
	t.Helper()
	u, err := pkcs11.ParseURI(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func open(t *testing.T, h *e2e.SoftHSM, uri string) *pkcs11.Token {
	t.Helper()
	tok, err := pkcs11.Open(context.Background(), mustURI(t, uri), pkcs11.Options{ModulePath: h.Module(), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tok.Close() })
	return tok
}

// checkSigns signs a digest with the HSM key exactly as the plugin does and
// verifies it with the stdlib.
func checkSigns(t *testing.T, k crypto.Signer) {
	t.Helper()
	ks, err := pki.KeySpecOf(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	alg, _ := pki.AlgorithmFor(ks)
	h := alg.Hash.New()
	h.Write([]byte("payload for " + string(ks)))
	digest := h.Sum(nil)
	sig, err := k.Sign(nil, digest, alg.SignerOpts())
	if err != nil {
		t.Fatalf("%s: sign: %v", ks, err)
	}
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPSS(pub, alg.Hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			t.Fatalf("%s: PSS signature does not verify: %v", ks, err)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			t.Fatalf("%s: ECDSA signature does not verify", ks)
		}
		raw, err := pki.ECDSARaw(pub, sig)
		if err != nil || len(raw) != 2*((pub.Curve.Params().BitSize+7)/8) {
			t.Fatalf("%s: raw conversion: len %d, %v", ks, len(raw), err)
		}
	}
}

// TestImportedKeysSign imports the checked-in leaf key of every key type and
// signs with it through Open, PublicKey (no login) and Login.
func TestImportedKeysSign(t *testing.T) {
	h := softHSM(t, "imported")
	for i, kt := range testpki.KeyTypes() {
		id := []byte{0x10, byte(i)}
		if err := h.ImportKey("imported", userPIN, filepath.Join("..", "..", "testdata", "pki", kt, "leaf.key"), kt, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, kt := range testpki.KeyTypes() {
		t.Run(kt, func(t *testing.T) {
			want, err := testpki.LoadSigner(filepath.Join("..", "..", "testdata", "pki", kt, "leaf.key"))
			if err != nil {
				t.Fatal(err)
			}
			tok := open(t, h, "pkcs11:token=imported;object="+kt)
			pub, _, err := tok.PublicKey(context.Background())
			if err != nil {
				t.Fatalf("PublicKey without login: %v", err)
			}
			if !pki.PublicKeyEqual(pub, want.Public()) {
				t.Fatal("PublicKey returned a different key")
			}
			k, err := tok.Login(context.Background(), pkcs11.NewPIN(userPIN))
			if err != nil {
				t.Fatal(err)
			}
			if !pki.PublicKeyEqual(k.Public(), want.Public()) {
				t.Fatal("Login found a different key")
			}
			checkSigns(t, k)
		})
	}
}

// TestGenerateImportCertificate generates keys in the HSM, issues their
// certificates from the dev CA, imports them, and finds them again by id
// and subject.
func TestGenerateImportCertificate(t *testing.T) {
	h := softHSM(t, "gen")
	ca, err := testca.Load(filepath.Join("..", "..", "testdata", "pki", "ca"))
	if err != nil {
		t.Fatal(err)
	}
	for i, kt := range []pkcs11.KeyType{pkcs11.EC256, pkcs11.EC384, pkcs11.EC521, pkcs11.RSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			uri := fmt.Sprintf("pkcs11:token=gen;object=key-%s;id=%%20%%%02X", kt, i)
			tok := open(t, h, uri)
			k, err := tok.GenerateKey(context.Background(), pkcs11.NewPIN(userPIN), kt)
			if err != nil {
				t.Fatal(err)
			}
			checkSigns(t, k)
			if _, err := tok.GenerateKey(context.Background(), pkcs11.NewPIN(userPIN), kt); !errors.Is(err, pkcs11.ErrAmbiguous) {
				t.Fatalf("second key with the same id: got %v, want ErrAmbiguous", err)
			}
			cert, err := ca.Issue(k.Public(), pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"Test"}, CommonName: string(kt)}, testpki.Epoch(), testpki.Epoch().AddDate(5, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			if err := tok.ImportCertificate(context.Background(), pkcs11.NewPIN(userPIN), k.ID(), string(kt), cert); err != nil {
				t.Fatal(err)
			}
			if err := tok.ImportCertificate(context.Background(), pkcs11.NewPIN(userPIN), nil, "issuer-"+string(kt), ca.Intermediate); err != nil {
				t.Fatal(err)
			}
			byID, err := tok.CertificatesByID(context.Background(), k.ID())
			if err != nil || len(byID) != 1 || !byID[0].Equal(cert) {
				t.Fatalf("CertificatesByID = %d certs, %v", len(byID), err)
			}
			issuers, err := tok.CertificatesBySubject(context.Background(), cert.RawIssuer)
			if err != nil || len(issuers) == 0 || !issuers[0].Equal(ca.Intermediate) {
				t.Fatalf("CertificatesBySubject = %d certs, %v", len(issuers), err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	h := softHSM(t, "one", "twin", "twin")
	if err := h.ImportKey("one", userPIN, filepath.Join("..", "..", "testdata", "pki", "ec-256", "leaf.key"), "k", []byte{1}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct {
		name, uri, module string
		want              error
	}{
		{"no such token", "pkcs11:token=nope;object=k", h.Module(), pkcs11.ErrTokenNotFound},
		{"two tokens match", "pkcs11:token=twin;object=k", h.Module(), pkcs11.ErrAmbiguous},
		{"module missing", "pkcs11:token=one;object=k", "/nonexistent/libnothing.so", pkcs11.ErrModule},
		{"module not a library", "pkcs11:token=one;object=k", "/etc/hostname", pkcs11.ErrModule},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := pkcs11.Open(ctx, mustURI(t, c.uri), pkcs11.Options{ModulePath: c.module})
			if err == nil {
				tok.Close()
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	t.Run("wrong PIN", func(t *testing.T) {
		tok := open(t, h, "pkcs11:token=one;object=k")
		_, err := tok.Login(ctx, pkcs11.NewPIN("wrong-pin-1"))
		if !errors.Is(err, pkcs11.ErrLogin) {
			t.Fatalf("got %v, want ErrLogin", err)
		}
		if strings.Contains(err.Error(), "wrong-pin-1") {
			t.Fatal("the error repeats the PIN")
		}
		// The token stays usable for public reads after a failed login.
		if _, _, err := tok.PublicKey(ctx); err != nil {
			t.Fatalf("PublicKey after failed login: %v", err)
		}
	})
	t.Run("no such key", func(t *testing.T) {
		tok := open(t, h, "pkcs11:token=one;object=other")
		if _, _, err := tok.PublicKey(ctx); !errors.Is(err, pkcs11.ErrKeyNotFound) {
			t.Fatalf("PublicKey: got %v, want ErrKeyNotFound", err)
		}
		if _, err := tok.Login(ctx, pkcs11.NewPIN(userPIN)); !errors.Is(err, pkcs11.ErrKeyNotFound) {
			t.Fatalf("Login: got %v, want ErrKeyNotFound", err)
		}
	})
}
