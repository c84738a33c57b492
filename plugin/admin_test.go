package plugin

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
)

// errDeviceFull stands in for a token that refuses a write
// (CKR_DEVICE_MEMORY).
var errDeviceFull = errors.New("fake HSM: CKR_DEVICE_MEMORY")

// adminOp runs one admin operation on p against the fake token.
type adminOp struct {
	name      string
	exclusive bool // it takes the exclusive module lock (it logs in or writes)
	run       func(t *testing.T, p *Plugin, keyURI string) error
}

func adminOps() []adminOp {
	tokenOf := func(t *testing.T, u string) string { return tokenURI(mustURI(t, u)).String() }
	return []adminOp{
		{"ListTokens", false, func(_ *testing.T, p *Plugin, _ string) error {
			_, _, err := p.ListTokens(context.Background(), nil)
			return err
		}},
		{"ListKeys", false, func(t *testing.T, p *Plugin, u string) error {
			_, _, err := p.ListKeys(context.Background(), tokenOf(t, u), nil)
			return err
		}},
		{"GenerateKey", true, func(t *testing.T, p *Plugin, u string) error {
			_, _, err := p.GenerateKey(context.Background(), tokenOf(t, u), nil, pkcs11.EC256, "new-key", []byte{9, 9})
			return err
		}},
		{"CreateCSR", true, func(t *testing.T, p *Plugin, u string) error {
			_, _, err := p.CreateCSR(context.Background(), u, nil, pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"Acme"}})
			return err
		}},
		{"ImportCertificates", true, func(t *testing.T, p *Plugin, u string) error {
			_, err := p.ImportCertificates(context.Background(), u, nil, loadCerts(t, "ec-256/chain.pem"))
			return err
		}},
		{"Doctor", true, func(_ *testing.T, p *Plugin, u string) error {
			rep := p.Doctor(context.Background(), u, nil, DoctorOptions{Revocation: revocation.NonRevokableOnly()})
			if rep.OK {
				return nil
			}
			return lastCheck(rep).Err
		}},
	}
}

// TestAdminFaults runs every admin operation against the fake backend
// with each fault injected, and checks the error each one gets (nil where
// the fault does not touch the operation), that no token is left open,
// that the operations that log in or write take the exclusive module lock,
// and that no error holds the PIN.
func TestAdminFaults(t *testing.T) {
	mod := fakeModule(t)
	type fault struct {
		name  string
		tok   func(t *testing.T) *fakeToken // a token with its certificates (ImportCertificates then has nothing to write)
		env   env
		key   string                       // the key URI
		want  map[string]error             // by operation; absent: no error
		check func(*testing.T, *fakeToken) // the token afterwards
	}
	good := func(t *testing.T) *fakeToken { return goodToken(t, "ec-256", true) }
	all := func(err error) map[string]error {
		m := map[string]error{}
		for _, op := range adminOps() {
			m[op.name] = err
		}
		return m
	}
	loggingIn := func(err error) map[string]error {
		return map[string]error{"GenerateKey": err, "CreateCSR": err, "ImportCertificates": err, "Doctor": err}
	}
	faults := []fault{
		{name: "none", tok: good, want: map[string]error{}},
		{name: "module fails to load", tok: func(t *testing.T) *fakeToken { tk := good(t); tk.OpenErr = pkcs11.ErrModule; return tk }, want: all(pkcs11.ErrModule)},
		{name: "no module named", tok: good, env: env{pkcs11.PINEnv: testPIN}, want: all(ErrConfig)},
		{name: "token missing", tok: good, key: "pkcs11:token=other;object=signing-key",
			want: map[string]error{"ListKeys": pkcs11.ErrTokenNotFound, "GenerateKey": pkcs11.ErrTokenNotFound, "CreateCSR": pkcs11.ErrTokenNotFound, "ImportCertificates": pkcs11.ErrTokenNotFound, "Doctor": pkcs11.ErrTokenNotFound}},
		{name: "no PIN", tok: good, env: env{ModuleEnv: mod}, want: loggingIn(pkcs11.ErrNoPIN)},
		{name: "login fails", tok: good, env: env{ModuleEnv: mod, pkcs11.PINEnv: wrongPIN}, want: loggingIn(pkcs11.ErrLogin)},
		{name: "key missing", tok: good, key: "pkcs11:token=fake-token;object=nope",
			want: map[string]error{"CreateCSR": pkcs11.ErrKeyNotFound, "ImportCertificates": pkcs11.ErrKeyNotFound, "Doctor": pkcs11.ErrKeyNotFound}},
		{name: "write fails", tok: func(t *testing.T) *fakeToken {
			tk := goodToken(t, "ec-256", false)
			tk.WriteErr = errDeviceFull
			return tk
		}, want: map[string]error{"GenerateKey": errDeviceFull, "ImportCertificates": errDeviceFull, "Doctor": pkcs11.ErrCertificateNotFound},
			check: func(t *testing.T, tk *fakeToken) {
				if len(tk.Extra) != 0 || len(tk.Certs) != 0 {
					t.Errorf("a failed write left %d key(s) and %d certificate(s)", len(tk.Extra), len(tk.Certs))
				}
			}},
	}
	for _, f := range faults {
		for _, op := range adminOps() {
			t.Run(f.name+"/"+op.name, func(t *testing.T) {
				e := f.env
				if e == nil {
					e = stdEnv(mod)
				}
				key := f.key
				if key == "" {
					key = keyURI
				}
				tok := f.tok(t)
				b := &fakeBackend{t: t, tok: tok}
				p := newPlugin(b, e, nil)
				err := op.run(t, p, key)
				want := f.want[op.name]
				switch {
				case want == nil && err != nil:
					t.Fatalf("%s: %v", op.name, err)
				case want != nil && !errors.Is(err, want):
					t.Fatalf("%s = %v, want %v", op.name, err, want)
				}
				if b.unclosed() != 0 {
					t.Fatalf("%d token(s) left open", b.unclosed())
				}
				if b.opened() > 0 && b.lastOpts.ModulePath != mod {
					t.Errorf("module %q opened, want %q", b.lastOpts.ModulePath, mod)
				}
				if err == nil && b.lastOpts.Exclusive != op.exclusive {
					t.Errorf("exclusive lock %v, want %v", b.lastOpts.Exclusive, op.exclusive)
				}
				if errors.Is(want, pkcs11.ErrNoPIN) && op.name != "Doctor" && b.opened() != 0 {
					t.Errorf("the module was loaded %d time(s) although no PIN is at hand", b.opened())
				}
				checkNoPIN(t, f.name+"/"+op.name, errString(err))
				if f.check != nil {
					f.check(t, tok)
				}
			})
		}
	}
}

// TestAdminNeedsAdminBackend: a backend or token without the admin
// methods gets ErrNeedsHSM and no open token.
func TestAdminNeedsAdminBackend(t *testing.T) {
	mod := fakeModule(t)
	b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", true)}
	p := newPlugin(plainBackend{b}, stdEnv(mod), nil)
	for _, op := range adminOps() {
		if op.name == "CreateCSR" || op.name == "Doctor" {
			continue // they need only what signing needs
		}
		if err := op.run(t, p, keyURI); !errors.Is(err, ErrNeedsHSM) {
			t.Errorf("%s = %v, want ErrNeedsHSM", op.name, err)
		}
	}
	if b.unclosed() != 0 {
		t.Fatalf("%d token(s) left open", b.unclosed())
	}
}

// plainBackend hides the admin methods of its backend and tokens.
type plainBackend struct{ b *fakeBackend }

func (p plainBackend) Open(ctx context.Context, u *pkcs11.URI, opts pkcs11.Options) (Token, error) {
	tok, err := p.b.Open(ctx, u, opts)
	if err != nil {
		return nil, err
	}
	return struct{ Token }{tok}, nil
}

// TestAdminListKeys: the keys with their URIs (the token URI's selector
// and query), key specs ("" for a key Notation cannot sign with) and
// certificates; a token that hides public keys shows none.
func TestAdminListKeys(t *testing.T) {
	mod := fakeModule(t)
	chain := loadCerts(t, "ec-256/chain.pem")
	tok := goodToken(t, "ec-256", true)
	tok.Extra = []fakeKeyObj{{"weak", []byte{7}, loadSigner(t, "bad/rsa-1024.key")}}
	p := newPlugin(&fakeBackend{t: t, tok: tok}, stdEnv(mod), nil)
	keys, info, err := p.ListKeys(context.Background(), "pkcs11:token=fake-token?module-path="+mod, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Label != tokenLabel || len(keys) != 2 {
		t.Fatalf("token %q, keys %+v", info.Label, keys)
	}
	want := []struct {
		uri, spec string
		certs     int
	}{
		{"pkcs11:token=fake-token;object=signing-key;id=%01%02?module-path=" + mod, "EC-256", 1},
		{"pkcs11:token=fake-token;object=weak;id=%07?module-path=" + mod, "", 0},
	}
	for i, w := range want {
		k := keys[i]
		if k.URI.String() != w.uri || k.KeySpec != w.spec || len(k.Certificates) != w.certs {
			t.Errorf("key %d: %s %q with %d certificate(s), want %s %q with %d", i, k.URI, k.KeySpec, len(k.Certificates), w.uri, w.spec, w.certs)
		}
	}
	if !keys[0].Certificates[0].Equal(chain[0]) {
		t.Errorf("the key's certificate is %q", keys[0].Certificates[0].Subject)
	}

	// A token selected by serial is selected by serial in the key URIs.
	bySerial, _, err := p.ListKeys(context.Background(), "pkcs11:serial=0001", nil)
	if err != nil || bySerial[0].URI.String() != "pkcs11:serial=0001;object=signing-key;id=%01%02" {
		t.Errorf("by serial: %v, %v", uriOf(bySerial), err)
	}

	hidden := goodToken(t, "ec-256", true)
	hidden.HidePublic = true
	keys, _, err = newPlugin(&fakeBackend{t: t, tok: hidden}, stdEnv(mod), nil).ListKeys(context.Background(), "pkcs11:token=fake-token", nil)
	if err != nil || len(keys) != 0 {
		t.Errorf("a token that hides public keys: %v, %v", uriOf(keys), err)
	}
}

func uriOf(keys []KeyListing) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.URI.String()
	}
	return out
}

// TestAdminGenerateKey: a new key gets the URI, key spec, label and id
// asked for (8 random bytes without one), appears in the key list, and
// cannot be made twice; a key without a label is refused before anything
// opens.
func TestAdminGenerateKey(t *testing.T) {
	mod := fakeModule(t)
	tok := goodToken(t, "ec-256", true)
	b := &fakeBackend{t: t, tok: tok}
	p := newPlugin(b, stdEnv(mod), nil)
	ctx := context.Background()
	for _, tc := range []struct {
		kt   pkcs11.KeyType
		spec string
	}{{pkcs11.EC256, "EC-256"}, {pkcs11.EC384, "EC-384"}, {pkcs11.RSA2048, "RSA-2048"}} {
		label := "release-" + string(tc.kt)
		u, spec, err := p.GenerateKey(ctx, "pkcs11:token=fake-token", nil, tc.kt, label, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.kt, err)
		}
		if spec != tc.spec || u.Token != tokenLabel || u.Object != label || len(u.ID) != 8 {
			t.Fatalf("%s: %s %s", tc.kt, u, spec)
		}
	}
	keys, _, err := p.ListKeys(ctx, "pkcs11:token=fake-token", nil)
	if err != nil || len(keys) != 4 {
		t.Fatalf("after generating three keys: %v, %v", uriOf(keys), err)
	}

	// The same label again: the existing key is named.
	_, _, err = p.GenerateKey(ctx, "pkcs11:token=fake-token", nil, pkcs11.EC256, "release-ec-256", []byte{1})
	var ke *pkcs11.KeyExistsError
	if !errors.As(err, &ke) || ke.Label != "release-ec-256" || len(tok.Extra) != 3 {
		t.Fatalf("a second key with the same label: %v", err)
	}
	// The same id as the signing key.
	if _, _, err = p.GenerateKey(ctx, "pkcs11:token=fake-token", nil, pkcs11.EC256, "other", fakeKeyID()); !errors.As(err, &ke) || ke.Label != keyLabel {
		t.Fatalf("a second key with the signing key's id: %v", err)
	}
	opens := b.opened()
	if _, _, err = p.GenerateKey(ctx, "pkcs11:token=fake-token", nil, pkcs11.EC256, "", nil); !errors.Is(err, ErrRequest) || b.opened() != opens {
		t.Fatalf("no label: %v (%d open(s))", err, b.opened()-opens)
	}
	if _, _, err = p.GenerateKey(ctx, "pkcs11:token=fake-token", nil, "ed25519", "x", nil); err == nil {
		t.Fatal("an unknown key type was generated")
	}
	if b.unclosed() != 0 {
		t.Fatalf("%d token(s) left open", b.unclosed())
	}
}

// TestAdminCreateCSR: the request is signed by the key (it verifies with
// the key's public key) and carries the subject and the signing
// extensions; a key Notation cannot sign with is refused.
func TestAdminCreateCSR(t *testing.T) {
	mod := fakeModule(t)
	subject := pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"Acme"}, CommonName: "Release"}
	for _, kt := range []string{"ec-256", "rsa-3072"} {
		tok := goodToken(t, kt, false)
		der, spec, err := newPlugin(&fakeBackend{t: t, tok: tok}, stdEnv(mod), nil).CreateCSR(context.Background(), keyURI, nil, subject)
		if err != nil {
			t.Fatalf("%s: %v", kt, err)
		}
		csr, err := x509.ParseCertificateRequest(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := csr.CheckSignature(); err != nil || !pki.PublicKeyEqual(tok.Signer.Public(), csr.PublicKey) {
			t.Fatalf("%s: the request is not signed by the token's key: %v", kt, err)
		}
		if spec != string(keyTypeOf(t, kt).spec) || csr.Subject.String() != subject.String() || len(csr.Extensions) != 2 {
			t.Fatalf("%s: %s, %q, %d extension(s)", kt, spec, csr.Subject, len(csr.Extensions))
		}
	}
	b := &fakeBackend{t: t, tok: badToken(t, "rsa-1024")}
	if _, _, err := newPlugin(b, stdEnv(mod), nil).CreateCSR(context.Background(), keyURI, nil, subject); !errors.Is(err, pki.ErrUnsupportedKey) {
		t.Fatalf("an RSA-1024 key: %v", err)
	}
	if b.unclosed() != 0 {
		t.Fatalf("%d token(s) left open", b.unclosed())
	}
}

// TestAdminImportCertificates: what is written, what is left, and what
// is refused before anything is written.
func TestAdminImportCertificates(t *testing.T) {
	mod := fakeModule(t)
	chain := loadCerts(t, "ec-256/chain.pem")
	cases := []struct {
		name     string
		tok      func(t *testing.T) *fakeToken
		files    []*x509.Certificate
		imported int   // certificates written
		is       error // the error; nil for none
		rule     pki.RuleID
	}{
		{name: "the whole chain", tok: func(t *testing.T) *fakeToken { return goodToken(t, "ec-256", false) }, files: chain, imported: 3},
		{name: "again: nothing to write", tok: func(t *testing.T) *fakeToken { return goodToken(t, "ec-256", true) }, files: chain, imported: 0},
		{name: "the root is on the token", tok: func(t *testing.T) *fakeToken {
			tk := goodToken(t, "ec-256", false)
			tk.Certs = []fakeCert{{[]byte("root"), chain[2]}}
			return tk
		}, files: chain[:2], imported: 2},
		{name: "files in any order", tok: func(t *testing.T) *fakeToken { return goodToken(t, "ec-256", false) }, files: []*x509.Certificate{chain[2], chain[0], chain[1]}, imported: 3},
		{name: "another key's certificate", tok: func(t *testing.T) *fakeToken { return goodToken(t, "ec-256", false) }, files: loadCerts(t, "ec-384/chain.pem"), is: pki.ErrCertificateMismatch},
		{name: "the issuers are missing", tok: func(t *testing.T) *fakeToken { return goodToken(t, "ec-256", false) }, files: chain[:1], is: pki.ErrIncompleteChain},
		{name: "the chain breaks a rule", tok: func(t *testing.T) *fakeToken { return badToken(t, "leaf") }, files: loadCerts(t, "bad/serverauth-eku-chain.pem"), rule: pki.RuleLeafExtKeyUsage},
		{name: "the second write fails", tok: func(t *testing.T) *fakeToken {
			tk := goodToken(t, "ec-256", false)
			tk.WriteErr, tk.WriteOK = errDeviceFull, 1
			return tk
		}, files: chain, imported: 1, is: errDeviceFull},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := c.tok(t)
			before := len(tok.Certs)
			b := &fakeBackend{t: t, tok: tok}
			res, err := newPlugin(b, stdEnv(mod), nil).ImportCertificates(context.Background(), keyURI, nil, c.files)
			switch {
			case c.rule != "":
				var ce *pki.ChainError
				if !errors.As(err, &ce) || !hasRule(ce.Findings, c.rule) {
					t.Fatalf("ImportCertificates = %v, want a *ChainError with %s", err, c.rule)
				}
			case c.is != nil && !errors.Is(err, c.is):
				t.Fatalf("ImportCertificates = %v, want %v", err, c.is)
			case c.is == nil && err != nil:
				t.Fatal(err)
			}
			if got := len(tok.Certs) - before; got != c.imported {
				t.Fatalf("%d certificate(s) written, want %d", got, c.imported)
			}
			if res != nil && len(res.Imported) != c.imported {
				t.Fatalf("the result says %d imported, want %d", len(res.Imported), c.imported)
			}
			if b.unclosed() != 0 {
				t.Fatalf("%d token(s) left open", b.unclosed())
			}
			if err != nil {
				return
			}
			// The leaf is stored under the key's CKA_ID, a CA under its
			// subject key identifier; signing finds the chain on the token.
			for _, fc := range tok.Certs[before:] {
				wantID := fc.cert.SubjectKeyId
				if fc.cert.Equal(chain[0]) {
					wantID = fakeKeyID()
				}
				if string(fc.id) != string(wantID) {
					t.Errorf("certificate %q stored under id %x, want %x", fc.cert.Subject, fc.id, wantID)
				}
			}
			rep := doctorOn(t, tok, stdEnv(mod), keyURI, DoctorOptions{})
			if !rep.OK {
				t.Fatalf("after the import doctor fails at %s: %+v", rep.Failed, lastCheck(rep))
			}
		})
	}
}

// TestAdminJSONOfFindings: a refused import's findings marshal with their
// rule IDs, as cert import --output json prints them.
func TestAdminJSONOfFindings(t *testing.T) {
	b := &fakeBackend{t: t, tok: badToken(t, "leaf")}
	_, err := newPlugin(b, stdEnv(fakeModule(t)), nil).ImportCertificates(context.Background(), keyURI, nil, loadCerts(t, "bad/serverauth-eku-chain.pem"))
	var ce *pki.ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("%v", err)
	}
	js, err := json.Marshal(ce.Findings)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"id":%q`, pki.RuleLeafExtKeyUsage); !strings.Contains(string(js), want) {
		t.Fatalf("%s lacks %s", js, want)
	}
}
