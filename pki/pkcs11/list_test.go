package pkcs11_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

func TestParseTokenURI(t *testing.T) {
	cases := []struct {
		in, want, wantErr string
	}{
		{in: "pkcs11:token=release", want: "pkcs11:token=release"},
		{in: "pkcs11:serial=abc?pin-source=file:/p&module-path=/m.so", want: "pkcs11:serial=abc?module-path=/m.so&pin-source=file:/p"},
		{in: "pkcs11:", want: "pkcs11:"},
		{in: "pkcs11:token=release;object=key", wantErr: "names no key"},
		{in: "pkcs11:token=release;id=%01", wantErr: "names no key"},
		{in: "pkcs11:token=a;serial=b", wantErr: "token and serial"},
		{in: "pkcs11:token=a?pin-value=1234", wantErr: "pin-value is refused"},
		{in: "token=a", wantErr: "does not start with"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			u, err := pkcs11.ParseTokenURI(c.in)
			if c.wantErr != "" {
				if err == nil || !errors.Is(err, pkcs11.ErrInvalidURI) || !strings.Contains(err.Error(), c.wantErr) || strings.Contains(err.Error(), "1234") {
					t.Fatalf("got %v, want an ErrInvalidURI saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil || u.String() != c.want {
				t.Fatalf("got %v, %v; want %s", u, err, c.want)
			}
		})
	}
}

func TestSoftHSMListTokensAndKeys(t *testing.T) {
	h := softHSM(t, "list-a", "list-b")
	tokens, err := pkcs11.ListTokens(context.Background(), h.Module(), pkcs11.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]bool{}
	free := 0
	for _, tk := range tokens {
		if tk.Initialized {
			labels[tk.Label] = true
		} else {
			free++
		}
	}
	if !labels["list-a"] || !labels["list-b"] || free != 1 {
		t.Fatalf("tokens %+v: want list-a, list-b and one free slot", tokens)
	}
	if _, err := pkcs11.ListTokens(context.Background(), "/nonexistent.so", pkcs11.Options{}); !errors.Is(err, pkcs11.ErrModule) {
		t.Fatalf("missing module: %v", err)
	}

	tok := open(t, h, "pkcs11:token=list-a;object=k1;id=%01")
	keys, err := tok.Keys(context.Background())
	if err != nil || len(keys) != 0 {
		t.Fatalf("empty token: %v %v", keys, err)
	}
	if _, err := tok.GenerateKey(context.Background(), pkcs11.NewPIN(userPIN), pkcs11.EC384); err != nil {
		t.Fatal(err)
	}
	keys, err = tok.Keys(context.Background())
	if err != nil || len(keys) != 1 {
		t.Fatalf("after generate: %v %v", keys, err)
	}
	ks, err := pki.KeySpecOf(keys[0].Public)
	if err != nil || ks != "EC-384" || keys[0].Label != "k1" || string(keys[0].ID) != "\x01" || len(keys[0].Certificates) != 0 {
		t.Fatalf("key %+v (%s, %v)", keys[0], ks, err)
	}
	// The other token stays empty.
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	other := open(t, h, "pkcs11:token=list-b;object=x")
	if keys, err := other.Keys(context.Background()); err != nil || len(keys) != 0 {
		t.Fatalf("list-b: %v %v", keys, err)
	}
}
