package pkcs11

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"
)

// modTokens is a module's token list: two tokens share the label "dup",
// and two uninitialised tokens (one reusing the label "release") must be
// ignored.
func modTokens() []TokenInfo {
	return []TokenInfo{
		{Slot: 0, Label: "release", Manufacturer: "SoftHSM project", Model: "SoftHSM v2", Serial: "aaaa", Initialized: true, LoginRequired: true},
		{Slot: 1, Label: "dev", Manufacturer: "SoftHSM project", Model: "SoftHSM v2", Serial: "bbbb", Initialized: true},
		{Slot: 2, Label: "dup", Manufacturer: "SoftHSM project", Model: "SoftHSM v2", Serial: "cccc", Initialized: true},
		{Slot: 3, Label: "dup", Manufacturer: "Yubico", Model: "YubiHSM", Serial: "dddd", Initialized: true},
		{Slot: 4, Label: "", Serial: "eeee", Initialized: false},
		{Slot: 5, Label: "release", Manufacturer: "SoftHSM project", Model: "SoftHSM v2", Serial: "ffff", Initialized: false},
	}
}

func modSlot(n uint) *uint { return &n }

func TestSelectToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		u    URI
		want uint
	}{
		{"token label", URI{Token: "release"}, 0},
		{"token label, uninitialised twin ignored", URI{Token: "release", Object: "k"}, 0},
		{"other label", URI{Token: "dev"}, 1},
		{"serial", URI{Serial: "bbbb"}, 1},
		{"slot-id", URI{SlotID: modSlot(3)}, 3},
		{"slot-id 0", URI{SlotID: modSlot(0)}, 0},
		{"duplicate label narrowed by manufacturer", URI{Token: "dup", Manufacturer: "Yubico"}, 3},
		{"duplicate label narrowed by model", URI{Token: "dup", Model: "SoftHSM v2"}, 2},
		{"manufacturer alone", URI{Manufacturer: "Yubico"}, 3},
		{"model alone", URI{Model: "YubiHSM"}, 3},
		{"every attribute", URI{Token: "dev", Manufacturer: "SoftHSM project", Model: "SoftHSM v2"}, 1},
		{"serial and manufacturer", URI{Serial: "dddd", Manufacturer: "Yubico"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.u
			got, err := selectToken(modTokens(), &u)
			if err != nil {
				t.Fatalf("selectToken: %v", err)
			}
			if got != modTokens()[tc.want] {
				t.Errorf("selectToken = %+v, want %+v", got, modTokens()[tc.want])
			}
		})
	}

	t.Run("single initialised token, no token attribute", func(t *testing.T) {
		tokens := []TokenInfo{modTokens()[4], modTokens()[1], modTokens()[5]}
		got, err := selectToken(tokens, &URI{Object: "k"})
		if err != nil || got != modTokens()[1] {
			t.Errorf("selectToken = %+v, %v; want slot 1", got, err)
		}
	})
}

func TestSelectTokenNotFound(t *testing.T) {
	present := []string{
		`slot-id=0 token="release" serial="aaaa"`,
		`slot-id=1 token="dev" serial="bbbb"`,
		`slot-id=2 token="dup" serial="cccc"`,
		`slot-id=3 token="dup" serial="dddd"`,
	}
	for _, tc := range []struct {
		name   string
		tokens []TokenInfo
		u      URI
		words  []string
	}{
		{"unknown label", modTokens(), URI{Token: "missing"}, append([]string{`no initialised token matches token="missing"`, "tokens present:"}, present...)},
		{"label is case-sensitive", modTokens(), URI{Token: "Release"}, []string{`token="Release"`}},
		{"label with padding is not trimmed", modTokens(), URI{Token: "release "}, []string{`token="release "`}},
		{"unknown serial", modTokens(), URI{Serial: "zzzz"}, append([]string{`serial="zzzz"`}, present...)},
		{"serial of an uninitialised token", modTokens(), URI{Serial: "ffff"}, []string{`serial="ffff"`}},
		{"slot-id of an uninitialised token", modTokens(), URI{SlotID: modSlot(4)}, []string{"slot-id=4", "tokens present:"}},
		{"unknown slot-id", modTokens(), URI{SlotID: modSlot(99)}, []string{"slot-id=99"}},
		{"manufacturer mismatch", modTokens(), URI{Token: "dup", Manufacturer: "Nope"}, []string{`token="dup" manufacturer="Nope"`}},
		{"model mismatch", modTokens(), URI{Token: "release", Model: "Nope"}, []string{`token="release" model="Nope"`}},
		{"no tokens", nil, URI{Token: "release"}, []string{"tokens present: none", "softhsm2-util --init-token"}},
		{"only uninitialised tokens", []TokenInfo{modTokens()[4], modTokens()[5]}, URI{Token: "release"}, []string{"tokens present: none", "initialise one"}},
		{"only uninitialised tokens, no token attribute", []TokenInfo{modTokens()[4], modTokens()[5]}, URI{Object: "k"}, []string{"the URI (no token attribute given)", "tokens present: none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.u
			got, err := selectToken(tc.tokens, &u)
			if !errors.Is(err, ErrTokenNotFound) {
				t.Fatalf("selectToken = %+v, %v; want ErrTokenNotFound", got, err)
			}
			if errors.Is(err, ErrAmbiguous) {
				t.Errorf("error %v wraps ErrAmbiguous as well", err)
			}
			if got != (TokenInfo{}) {
				t.Errorf("token %+v returned with an error", got)
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			// Uninitialised tokens are never listed.
			for _, serial := range []string{"eeee", "ffff"} {
				if strings.Contains(err.Error(), serial) && serial != u.Serial {
					t.Errorf("error %q lists uninitialised token %s", err, serial)
				}
			}
		})
	}
}

func TestSelectTokenAmbiguous(t *testing.T) {
	for _, tc := range []struct {
		name  string
		u     URI
		words []string
		not   []string
	}{
		{"same label", URI{Token: "dup"}, []string{`2 tokens match token="dup"`, `slot-id=2 token="dup" serial="cccc"`, `slot-id=3 token="dup" serial="dddd"`}, []string{"aaaa", "bbbb", "eeee", "ffff"}},
		{"same model", URI{Model: "SoftHSM v2"}, []string{`3 tokens match model="SoftHSM v2"`, "aaaa", "bbbb", "cccc"}, []string{"dddd", "ffff"}},
		{"no token attribute", URI{Object: "k"}, []string{"4 tokens match the URI (no token attribute given)", "aaaa", "bbbb", "cccc", "dddd"}, []string{"eeee", "ffff"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.u
			got, err := selectToken(modTokens(), &u)
			if !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("selectToken = %+v, %v; want ErrAmbiguous", got, err)
			}
			if errors.Is(err, ErrTokenNotFound) {
				t.Errorf("error %v wraps ErrTokenNotFound as well", err)
			}
			if got != (TokenInfo{}) {
				t.Errorf("token %+v returned with an error", got)
			}
			for _, w := range append(tc.words, "add serial= or slot-id= to the URI") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q lists %q, which does not match", err, w)
				}
			}
		})
	}
}

func TestTrimPadded(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"release":          "release",
		"release         ": "release",
		"release\x00\x00":  "release",
		"rel ease  \x00 ":  "rel ease",
		"  leading":        "  leading",
		"                ": "",
	} {
		if got := trimPadded(in); got != want {
			t.Errorf("trimPadded(%q) = %q, want %q", in, got, want)
		}
	}
}

type modCurve struct {
	curve elliptic.Curve
	oid   asn1.ObjectIdentifier
}

func modCurves() []modCurve {
	return []modCurve{
		{elliptic.P256(), asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}},
		{elliptic.P384(), asn1.ObjectIdentifier{1, 3, 132, 0, 34}},
		{elliptic.P521(), asn1.ObjectIdentifier{1, 3, 132, 0, 35}},
	}
}

func modMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func modPoint(t *testing.T, k *ecdsa.PublicKey) []byte {
	t.Helper()
	b, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseECPublic(t *testing.T) {
	for _, c := range modCurves() {
		name := c.curve.Params().Name
		key, err := ecdsa.GenerateKey(c.curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		params := modMarshal(t, c.oid)
		bare := modPoint(t, &key.PublicKey)
		wrapped := modMarshal(t, bare) // DER OCTET STRING
		for form, point := range map[string][]byte{"wrapped": wrapped, "bare": bare} {
			t.Run(name+" "+form, func(t *testing.T) {
				pub, err := parseECPublic(params, point)
				if err != nil {
					t.Fatalf("parseECPublic: %v", err)
				}
				if !pub.Equal(&key.PublicKey) {
					t.Errorf("parseECPublic returned another key")
				}
				if pub.Curve != c.curve {
					t.Errorf("curve = %s, want %s", pub.Curve.Params().Name, name)
				}
			})
		}
	}
}

// TestParseECPublicBareLooksWrapped (regression): a bare point starts with
// 0x04, the DER tag of an OCTET STRING. When the next byte (the first byte
// of X) equals the number of bytes that follow it, the bare point is also a
// well-formed OCTET STRING; unwrapping it first broke one P-256 key in 256
// (X[0] == 0x3f) and one P-384 key in 256 (X[0] == 0x5f) on modules that
// store bare points. parseECPublic must decide by length.
func TestParseECPublicBareLooksWrapped(t *testing.T) {
	for _, c := range modCurves()[:2] {
		name := c.curve.Params().Name
		t.Run(name, func(t *testing.T) {
			size := (c.curve.Params().BitSize + 7) / 8
			want := byte(2*size - 1) // bytes after the tag and the "length"
			var key *ecdsa.PrivateKey
			for i := 0; i < 50000 && key == nil; i++ {
				k, err := ecdsa.GenerateKey(c.curve, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				if modPoint(t, &k.PublicKey)[1] == want {
					key = k
				}
			}
			if key == nil {
				t.Fatalf("no %s key with X[0] = 0x%02x in 50000 tries", name, want)
			}
			bare := modPoint(t, &key.PublicKey)
			pub, err := parseECPublic(modMarshal(t, c.oid), bare)
			if err != nil {
				t.Fatalf("bare point %x...: parseECPublic: %v", bare[:4], err)
			}
			if !pub.Equal(&key.PublicKey) {
				t.Error("parseECPublic returned another key")
			}
		})
	}
}

func TestParseECPublicErrors(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256Params := modMarshal(t, modCurves()[0].oid)
	bare := modPoint(t, &p256.PublicKey)
	offCurve := append([]byte{}, bare...)
	offCurve[len(offCurve)-1] ^= 1
	compressed := append([]byte{0x02 | bare[len(bare)-1]&1}, bare[1:33]...)

	for _, tc := range []struct {
		name          string
		params, point []byte
		is            error // ErrMalformedObject or ErrUnsupportedCurve
	}{
		{"nil params", nil, bare, ErrMalformedObject},
		{"garbage params", []byte("garbage"), bare, ErrMalformedObject},
		{"truncated OID", p256Params[:len(p256Params)-1], bare, ErrMalformedObject},
		{"OID with trailing bytes", append(append([]byte{}, p256Params...), 0), bare, ErrMalformedObject},
		{"explicit parameters (SEQUENCE)", modMarshal(t, struct{ A, B int }{1, 2}), bare, ErrMalformedObject},
		{"implicitlyCA (NULL)", []byte{0x05, 0x00}, bare, ErrMalformedObject},
		{"P-224", modMarshal(t, asn1.ObjectIdentifier{1, 3, 132, 0, 33}), bare, ErrUnsupportedCurve},
		{"secp256k1", modMarshal(t, asn1.ObjectIdentifier{1, 3, 132, 0, 10}), bare, ErrUnsupportedCurve},
		{"Ed25519 OID", modMarshal(t, asn1.ObjectIdentifier{1, 3, 101, 112}), bare, ErrUnsupportedCurve},
		{"nil point", p256Params, nil, ErrMalformedObject},
		{"empty OCTET STRING", p256Params, []byte{0x04, 0x00}, ErrMalformedObject},
		{"garbage point", p256Params, []byte("garbage"), ErrMalformedObject},
		{"point at infinity", p256Params, []byte{0x00}, ErrMalformedObject},
		{"compressed point", p256Params, compressed, ErrMalformedObject},
		{"wrapped compressed point", p256Params, modMarshal(t, compressed), ErrMalformedObject},
		{"point not on the curve", p256Params, offCurve, ErrMalformedObject},
		{"wrapped point not on the curve", p256Params, modMarshal(t, offCurve), ErrMalformedObject},
		{"P-384 point with the P-256 OID", p256Params, modPoint(t, &p384.PublicKey), ErrMalformedObject},
		{"P-256 point with the P-384 OID", modMarshal(t, modCurves()[1].oid), modMarshal(t, bare), ErrMalformedObject},
		{"truncated bare point", p256Params, bare[:len(bare)-1], ErrMalformedObject},
		{"wrapped point with trailing bytes", p256Params, append(modMarshal(t, bare), 0), ErrMalformedObject},
		{"point wrapped twice", p256Params, modMarshal(t, modMarshal(t, bare)), ErrMalformedObject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, err := parseECPublic(tc.params, tc.point)
			if err == nil {
				t.Fatalf("parseECPublic = %v, want an error", pub)
			}
			if pub != nil {
				t.Errorf("key returned with an error")
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v, want %v", err, tc.is)
			}
		})
	}
}

func TestUlong(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want uint
	}{
		{[]byte{0, 0, 0, 0, 0, 0, 0, 0}, 0},
		{[]byte{1, 0, 0, 0, 0, 0, 0, 0}, 1},
		{[]byte{3, 0, 0, 0, 0, 0, 0, 0}, p11.CKK_EC},
		{[]byte{0, 1, 0, 0, 0, 0, 0, 0}, 256},
		{[]byte{0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0}, 0x12345678},
		{[]byte{0, 0, 0, 0, 0, 0, 0, 0x80}, 1 << 63},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ^uint(0)},
		{[]byte{0, 0, 0, 0}, 0},
		{[]byte{3, 0, 0, 0}, 3},
		{[]byte{0x78, 0x56, 0x34, 0x12}, 0x12345678},
		{[]byte{0xff, 0xff, 0xff, 0xff}, 0xffffffff},
	} {
		got, err := ulong(tc.in)
		if err != nil {
			t.Errorf("ulong(%x): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ulong(%x) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
	for _, n := range []int{0, 1, 2, 3, 5, 6, 7, 9, 16} {
		in := make([]byte, n)
		got, err := ulong(in)
		if !errors.Is(err, ErrMalformedObject) {
			t.Errorf("ulong(%d bytes) = %d, %v; want a malformed CK_ULONG error", n, got, err)
		}
	}
	if _, err := ulong(nil); err == nil {
		t.Error("ulong(nil) succeeded")
	}
}

func TestLoginError(t *testing.T) {
	for _, tc := range []struct {
		code  uint
		words []string
	}{
		{p11.CKR_PIN_INCORRECT, []string{"PIN is incorrect", "CKR_PIN_INCORRECT", "pin-source", "NOTATION_PKCS11_PIN", "lock"}},
		{p11.CKR_PIN_INVALID, []string{"PIN is incorrect", "CKR_PIN_INVALID"}},
		{p11.CKR_PIN_LEN_RANGE, []string{"PIN is incorrect", "CKR_PIN_LEN_RANGE"}},
		{p11.CKR_PIN_LOCKED, []string{"locked", "CKR_PIN_LOCKED", "security officer"}},
		{p11.CKR_PIN_EXPIRED, []string{"expired", "CKR_PIN_EXPIRED", "set a new user PIN"}},
		{p11.CKR_USER_PIN_NOT_INITIALIZED, []string{"never set", "CKR_USER_PIN_NOT_INITIALIZED", "SO PIN"}},
		{p11.CKR_DEVICE_ERROR, []string{"CKR_DEVICE_ERROR"}},
	} {
		for _, wrap := range []bool{false, true} {
			var cause error = p11.Error(tc.code)
			if wrap {
				cause = fmt.Errorf("C_Login: %w", cause)
			}
			name := fmt.Sprintf("%s wrapped=%v", p11.Error(tc.code), wrap)
			err := loginError("release", cause)
			if !errors.Is(err, ErrLogin) || !isCode(err, tc.code) || err.Token != "release" || err.ContextSpecific {
				t.Errorf("%s: %v (%+v) does not wrap ErrLogin and %s for token release", name, err, err, p11.Error(tc.code))
			}
			for _, w := range append(tc.words, `token "release"`, "token login failed") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not contain %q", name, err, w)
				}
			}
			wantLogin := tc.code != p11.CKR_DEVICE_ERROR
			if got := isLoginCode(cause); got != wantLogin {
				t.Errorf("%s: isLoginCode = %v, want %v", name, got, wantLogin)
			}
			if !isCode(cause, tc.code) || isCode(cause, tc.code+1) {
				t.Errorf("%s: isCode is wrong", name)
			}
		}
	}
	other := errors.New("socket closed")
	err := loginError("release", other)
	if !errors.Is(err, ErrLogin) || !errors.Is(err, other) || err.Token != "release" {
		t.Errorf("loginError(non-PKCS#11 error) = %v", err)
	}
	if isLoginCode(other) || isLoginCode(nil) || isCode(nil, p11.CKR_PIN_INCORRECT) {
		t.Error("isLoginCode/isCode true for a non-PKCS#11 error")
	}
}
