package pkcs11_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

func TestParseTokenURI(t *testing.T) {
	cases := []struct {
		in, want string
		problem  pkcs11.URIProblem // "" when the URI parses
		attr     string            // URIError.Attribute
	}{
		{in: "pkcs11:token=release", want: "pkcs11:token=release"},
		{in: "pkcs11:serial=abc?pin-source=file:/p&module-path=/m.so", want: "pkcs11:serial=abc?module-path=/m.so&pin-source=file:/p"},
		{in: "pkcs11:", want: "pkcs11:"},
		{in: "pkcs11:token=release;object=key", problem: pkcs11.URIKeyInTokenURI},
		{in: "pkcs11:token=release;id=%01", problem: pkcs11.URIKeyInTokenURI},
		{in: "pkcs11:token=a;serial=b", problem: pkcs11.URIConflict, attr: "token and serial"},
		{in: "pkcs11:token=a?pin-value=1234", problem: pkcs11.URISecret, attr: "pin-value"},
		{in: "token=a", problem: pkcs11.URIScheme},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			u, err := pkcs11.ParseTokenURI(c.in)
			if c.problem != "" {
				var ue *pkcs11.URIError
				if !errors.Is(err, pkcs11.ErrInvalidURI) || !errors.As(err, &ue) || ue.Problem != c.problem || ue.Attribute != c.attr || strings.Contains(err.Error(), "1234") {
					t.Fatalf("got %v, want a *URIError %s %q (ErrInvalidURI) without the PIN", err, c.problem, c.attr)
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

// TestSoftHSMGeneratedKeyIsSensitive reads the new private key's attributes
// straight from the module: sensitive, never extractable, sign only.
func TestSoftHSMGeneratedKeyIsSensitive(t *testing.T) {
	h := softHSM(t, "attrs")
	for _, kt := range []pkcs11.KeyType{pkcs11.EC256, pkcs11.RSA2048} {
		tok := open(t, h, "pkcs11:token=attrs;object="+string(kt)+";id=%0"+map[pkcs11.KeyType]string{pkcs11.EC256: "1", pkcs11.RSA2048: "2"}[kt])
		if _, err := tok.GenerateKey(context.Background(), pkcs11.NewPIN(userPIN), kt); err != nil {
			t.Fatal(err)
		}
		if err := tok.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ctx := p11.New(h.Module())
	if ctx == nil {
		t.Fatal("module does not load")
	}
	defer ctx.Destroy()
	if err := ctx.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ctx.Finalize() }()
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	var slot uint
	found := false
	for _, s := range slots {
		if ti, err := ctx.GetTokenInfo(s); err == nil && strings.TrimRight(ti.Label, " ") == "attrs" {
			slot, found = s, true
		}
	}
	if !found {
		t.Fatal("token attrs not found")
	}
	sh, err := ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ctx.CloseSession(sh) }()
	if err := ctx.Login(sh, p11.CKU_USER, userPIN); err != nil {
		t.Fatal(err)
	}
	if err := ctx.FindObjectsInit(sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY)}); err != nil {
		t.Fatal(err)
	}
	hs, _, err := ctx.FindObjects(sh, 10)
	_ = ctx.FindObjectsFinal(sh)
	if err != nil || len(hs) != 2 {
		t.Fatalf("%d private keys, %v", len(hs), err)
	}
	want := map[uint]bool{
		p11.CKA_TOKEN: true, p11.CKA_PRIVATE: true, p11.CKA_SENSITIVE: true, p11.CKA_ALWAYS_SENSITIVE: true,
		p11.CKA_EXTRACTABLE: false, p11.CKA_NEVER_EXTRACTABLE: true, p11.CKA_SIGN: true, p11.CKA_DECRYPT: false, p11.CKA_UNWRAP: false, p11.CKA_DERIVE: false,
	}
	for _, hnd := range hs {
		var tmpl []*p11.Attribute
		for a := range want {
			tmpl = append(tmpl, p11.NewAttribute(a, nil))
		}
		got, err := ctx.GetAttributeValue(sh, hnd, tmpl)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range got {
			if v := len(a.Value) == 1 && a.Value[0] == 1; v != want[a.Type] {
				t.Errorf("private key attribute 0x%x = %v, want %v", a.Type, v, want[a.Type])
			}
		}
	}
}
