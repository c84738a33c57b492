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
	"github.com/notation-pkcs11/notation-pkcs11/internal/testkit"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
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
	caDir := filepath.Join("..", "..", "testdata", "pki", "ca")
	inters, err := testpki.LoadCertificates(filepath.Join(caDir, "intermediate.crt"))
	if err != nil {
		t.Fatal(err)
	}
	ca := &testkit.CA{Cert: inters[0]}
	if ca.Key, err = testpki.LoadSigner(filepath.Join(caDir, "intermediate.key")); err != nil {
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
			if _, err := tok.GenerateKey(context.Background(), pkcs11.NewPIN(userPIN), kt); !errors.Is(err, pkcs11.ErrKeyExists) {
				t.Fatalf("second key with the same id: got %v, want ErrKeyExists", err)
			}
			subject := pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"Test"}, CommonName: string(kt)}
			cert := ca.Issue(t, testkit.LeafTemplate(subject, testpki.Epoch(), testpki.Epoch().AddDate(5, 0, 0)), k.Public())
			if err := tok.ImportCertificate(context.Background(), pkcs11.NewPIN(userPIN), k.ID(), string(kt), cert); err != nil {
				t.Fatal(err)
			}
			if err := tok.ImportCertificate(context.Background(), pkcs11.NewPIN(userPIN), nil, "issuer-"+string(kt), ca.Cert); err != nil {
				t.Fatal(err)
			}
			byID, err := tok.CertificatesByID(context.Background(), k.ID())
			if err != nil || len(byID) != 1 || !byID[0].Equal(cert) {
				t.Fatalf("CertificatesByID = %d certs, %v", len(byID), err)
			}
			issuers, err := tok.CertificatesBySubject(context.Background(), cert.RawIssuer)
			if err != nil || len(issuers) == 0 || !issuers[0].Equal(ca.Cert) {
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

// TestGenerateKeyCollision (issue 12): a new key whose label or id an
// existing key has is refused with a *KeyExistsError that names the
// existing key by label, id and a URI that opens it. (One Token at a time:
// PKCS#11 initialisation is per process.)
func TestGenerateKeyCollision(t *testing.T) {
	h := softHSM(t, "clash")
	ctx := context.Background()
	openNow := func(uri string) *pkcs11.Token {
		t.Helper()
		tok, err := pkcs11.Open(ctx, mustURI(t, uri), pkcs11.Options{ModulePath: h.Module(), Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tok := openNow("pkcs11:token=clash;object=release-2026;id=%0A%0B?pin-source=file:/etc/notation/pin")
	serial := tok.Info().Serial
	_, err := tok.GenerateKey(ctx, pkcs11.NewPIN(userPIN), pkcs11.EC256)
	tok.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, uri, clash string
	}{
		{"same label", "pkcs11:token=clash;object=release-2026;id=%0C", "label"},
		{"same id", "pkcs11:token=clash;object=other;id=%0A%0B", "id"},
		{"same label and id", "pkcs11:token=clash;object=release-2026;id=%0A%0B", "label and id"},
		{"same id, token chosen by serial", "pkcs11:serial=" + serial + ";object=other;id=%0A%0B?pin-source=file:/p", "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := openNow(tc.uri)
			_, err := tok.GenerateKey(ctx, pkcs11.NewPIN(userPIN), pkcs11.EC384)
			tok.Close()
			var ke *pkcs11.KeyExistsError
			if !errors.As(err, &ke) || !errors.Is(err, pkcs11.ErrKeyExists) {
				t.Fatalf("GenerateKey = %v, want a *KeyExistsError", err)
			}
			if ke.Token != "clash" || ke.Label != "release-2026" || string(ke.ID) != "\x0a\x0b" || ke.Clash != tc.clash {
				t.Errorf("KeyExistsError %+v does not name the existing key (clash %q)", ke, tc.clash)
			}
			for _, w := range []string{`token "clash"`, `label "release-2026"`, "id 0A0B", "same " + tc.clash, ke.URI.String()} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), userPIN) {
				t.Errorf("error %q contains the PIN", err)
			}
			// The URI in the error opens the existing key, on the token
			// the request selected, with the request's query attributes.
			u := mustURI(t, ke.URI.String())
			req := mustURI(t, tc.uri)
			if u.Object != "release-2026" || string(u.ID) != "\x0a\x0b" || u.Serial != req.Serial || u.PINSource != req.PINSource {
				t.Errorf("URI %s does not name the existing key as the request named its token", u)
			}
			tok = openNow(u.String())
			defer tok.Close()
			k, err := tok.Login(ctx, pkcs11.NewPIN(userPIN))
			if err != nil {
				t.Fatalf("the error's URI %s does not open the key: %v", u, err)
			}
			if pub, ok := k.Public().(*ecdsa.PublicKey); !ok || pub.Curve.Params().BitSize != 256 {
				t.Errorf("the error's URI opens a %T, not the EC-256 key", k.Public())
			}
		})
	}
	// The refused attempts created nothing.
	tok = openNow("pkcs11:token=clash;object=x")
	defer tok.Close()
	keys, err := tok.Keys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("Keys = %d keys, %v; want only the first key", len(keys), err)
	}
}
