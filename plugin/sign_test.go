package plugin

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corex509 "github.com/notaryproject/notation-core-go/x509"
	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// chainFile is the path of a testdata PEM file, for certificate_chain.
func chainFile(t testing.TB, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(pkiDir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkSignResponse checks a generate-signature response the way notation
// does: keyId, algorithm, chain order and content, and the signature over
// the payload with the leaf's key.
func checkSignResponse(t testing.TB, resp proto.GenerateSignatureResponse, keyID string, kt keyType, wantChain []*x509.Certificate) {
	t.Helper()
	if resp.KeyID != keyID {
		t.Errorf("keyId %q, want exactly %q", resp.KeyID, keyID)
	}
	if resp.SigningAlgorithm != kt.alg {
		t.Errorf("signingAlgorithm %q, want %q", resp.SigningAlgorithm, kt.alg)
	}
	chain := parseChain(t, resp.CertificateChain)
	if len(chain) != len(wantChain) {
		t.Fatalf("certificateChain has %d certificates, want %d", len(chain), len(wantChain))
	}
	for i := range chain {
		if !bytes.Equal(chain[i].Raw, wantChain[i].Raw) {
			t.Errorf("certificateChain[%d] is %q, want %q", i, chain[i].Subject, wantChain[i].Subject)
		}
	}
	now := testpki.Epoch()
	if err := corex509.ValidateCodeSigningCertChain(chain, &now); err != nil {
		t.Errorf("notation would reject the chain: %v", err)
	}
	verifyAsNotation(t, kt, chain[0].PublicKey, []byte(testPayload), resp.Signature)
}

func TestGenerateSignatureEachKeyType(t *testing.T) {
	for _, kt := range keyTypes() {
		for _, source := range []string{"token", "certificate_chain"} {
			t.Run(kt.kt+"/"+source, func(t *testing.T) {
				want := loadCerts(t, kt.kt+"/chain.pem")
				b := &fakeBackend{t: t, tok: goodToken(t, kt.kt, source == "token")}
				var cfg map[string]string
				if source == "certificate_chain" {
					cfg = map[string]string{ConfigCertificateChain: chainFile(t, kt.kt+"/chain.pem")}
				}
				p := newPlugin(b, stdEnv(fakeModule(t)), nil)
				resp := wantOK[proto.GenerateSignatureResponse](t, runPlugin(t, p, "generate-signature", signReq(keyURI, kt, cfg)))
				checkSignResponse(t, resp, keyURI, kt, want)

				opens, closes, _, logins, signs := b.counts()
				if opens != 1 || closes != 1 || logins != 1 || signs != 1 {
					t.Errorf("opens %d closes %d logins %d signs %d; want one of each", opens, closes, logins, signs)
				}
				// The HSM must be asked for what notation verifies.
				opts := b.signOpts[0]
				if opts.HashFunc() != kt.h {
					t.Errorf("signed with hash %v, want %v", opts.HashFunc(), kt.h)
				}
				pss, isPSS := opts.(*rsa.PSSOptions)
				if kt.ecBytes == 0 && (!isPSS || pss.SaltLength != rsa.PSSSaltLengthEqualsHash) {
					t.Errorf("RSA signed with %#v, want PSS with salt = hash length", opts)
				}
				if kt.ecBytes != 0 && isPSS {
					t.Errorf("EC signed with PSS options %#v", opts)
				}
			})
		}
	}
}

// Different payloads get different, independently verifiable signatures.
func TestGenerateSignaturePayloads(t *testing.T) {
	kt := keyTypeOf(t, "ec-256")
	for _, payload := range [][]byte{{0}, []byte("x"), bytes.Repeat([]byte("signing input "), 10000)} {
		t.Run(fmt.Sprint(len(payload)), func(t *testing.T) {
			b := &fakeBackend{t: t, tok: goodToken(t, kt.kt, true)}
			p := newPlugin(b, stdEnv(fakeModule(t)), nil)
			req := signReq(keyURI, kt, nil)
			req.Payload = payload
			resp := wantOK[proto.GenerateSignatureResponse](t, runPlugin(t, p, "generate-signature", req))
			verifyAsNotation(t, kt, parseChain(t, resp.CertificateChain)[0].PublicKey, payload, resp.Signature)
		})
	}
}

// The key URI may reach the token by any valid spelling; keyId is echoed.
func TestGenerateSignatureKeyIDEcho(t *testing.T) {
	kt := keyTypeOf(t, "rsa-2048")
	for _, id := range keyIDVariants() {
		t.Run(id, func(t *testing.T) {
			b := &fakeBackend{t: t, tok: goodToken(t, kt.kt, true)}
			p := newPlugin(b, stdEnv(fakeModule(t)), nil)
			resp := wantOK[proto.GenerateSignatureResponse](t, runPlugin(t, p, "generate-signature", signReq(id, kt, nil)))
			checkSignResponse(t, resp, id, kt, loadCerts(t, kt.kt+"/chain.pem"))
		})
	}
}

// certificate_chain files that are complete but need the plugin's help.
func TestGenerateSignatureBundleOrder(t *testing.T) {
	caChain := loadCerts(t, "ca/chain.pem") // intermediate, root
	okLeaf := loadCerts(t, "bad/ok-leaf.crt")[0]
	selfSigned := loadCerts(t, "bad/self-signed-leaf.crt")[0]
	tests := []struct {
		name  string
		file  string
		chain []*x509.Certificate
	}{
		{"wrong order", "bad/wrong-order-chain.pem", []*x509.Certificate{okLeaf, caChain[0], caChain[1]}},
		{"ok leaf", "bad/ok-leaf-chain.pem", []*x509.Certificate{okLeaf, caChain[0], caChain[1]}},
		// notation-core-go accepts a lone self-signed signing certificate
		// (testdata/pki/README.md); the plugin only warns about it.
		{"self-signed leaf alone", "bad/self-signed-leaf-chain.pem", []*x509.Certificate{selfSigned}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBackend{t: t, tok: badToken(t, "leaf")}
			p := newPlugin(b, stdEnv(fakeModule(t)), nil)
			cfg := map[string]string{ConfigCertificateChain: chainFile(t, tc.file)}
			resp := wantOK[proto.GenerateSignatureResponse](t, runPlugin(t, p, "generate-signature", signReq(keyURI, keyTypeOf(t, "ec-256"), cfg)))
			checkSignResponse(t, resp, keyURI, keyTypeOf(t, "ec-256"), tc.chain)
		})
	}
}

// Each bad certificate is refused before the HSM signs, with a message that
// names the certificate, the rule and the fix.
func TestGenerateSignatureBadCertificates(t *testing.T) {
	ca := loadCerts(t, "ca/chain.pem")
	tests := []struct {
		name string
		rule string
	}{
		{"serverauth-eku", "extended key usage includes serverAuth"},
		{"no-keyusage", "key usage extension is missing"},
		{"keyusage-noncritical", "key usage extension is not critical"},
		{"keyusage-keycertsign", "key usage has keyCertSign besides digitalSignature"},
		{"ca-leaf", "must not be a CA"},
		{"expired", "it expired on 2021-01-01"},
		{"not-yet-valid", "it is not valid before 2090-01-01"},
	}
	for _, tc := range tests {
		leaf := loadCerts(t, "bad/"+tc.name+".crt")[0]
		subject := leaf.Subject.String()
		for _, source := range []string{"certificate_chain", "token"} {
			t.Run(tc.name+"/"+source, func(t *testing.T) {
				tok := badToken(t, "leaf")
				var cfg map[string]string
				if source == "token" {
					tok.Certs = []fakeCert{{fakeKeyID(), leaf}, {[]byte("ca-1"), ca[0]}, {[]byte("ca-2"), ca[1]}}
				} else {
					cfg = map[string]string{ConfigCertificateChain: chainFile(t, "bad/"+tc.name+"-chain.pem")}
				}
				b := &fakeBackend{t: t, tok: tok}
				p := newPlugin(b, stdEnv(fakeModule(t)), nil)
				r := runPlugin(t, p, "generate-signature", signReq(keyURI, keyTypeOf(t, "ec-256"), cfg))
				wantError(t, r, proto.ErrorCodeValidation, subject, tc.rule, "fix:")
				if _, _, _, _, signs := b.counts(); signs != 0 {
					t.Errorf("the HSM signed %d times with a chain that breaks the rules", signs)
				}
				if n := b.unclosed(); n != 0 {
					t.Errorf("%d tokens left open", n)
				}
			})
		}
	}
}

func TestGenerateSignatureChainProblems(t *testing.T) {
	caInter := loadCerts(t, "ca/intermediate.crt")[0]
	caRoot := loadCerts(t, "ca/root.crt")[0]
	okLeaf := loadCerts(t, "bad/ok-leaf.crt")[0]
	otherLeaf := loadCerts(t, "bad/other-key.crt")[0]

	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyPEM, err := os.ReadFile(chainFile(t, "bad/leaf.key"))
	if err != nil {
		t.Fatal(err)
	}
	okPEM, err := os.ReadFile(chainFile(t, "bad/ok-leaf-chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	withKey := write("with-key.pem", append(append([]byte{}, okPEM...), keyPEM...), 0o644)
	empty := write("empty.pem", nil, 0o644)
	huge := write("huge.pem", bytes.Repeat(okPEM, (1<<20)/len(okPEM)+1), 0o644)
	notPEM := write("not.pem", []byte("hello"), 0o644)
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name   string
		key    string // bad/<key>.key on the token
		certs  []*x509.Certificate
		bundle string
		spec   proto.KeySpec
		want   []string
	}{
		{"other-key bundle", "leaf", nil, chainFile(t, "bad/other-key-chain.pem"), "", []string{"does not match", "other-key-chain.pem", otherLeaf.Subject.String()}},
		{"missing intermediate bundle", "leaf", nil, chainFile(t, "bad/missing-intermediate-chain.pem"), "", []string{"incomplete certificate chain", caInter.Subject.String(), okLeaf.Subject.String()}},
		{"no certificate on token", "leaf", nil, "", "", []string{"certificate not found", "certificate_chain", "(PEM, DER or PKCS#7 .p7b)", "CKA_ID 0102", `"fake-token"`}},
		{"wrong certificate on token", "leaf", []*x509.Certificate{otherLeaf, caInter, caRoot}, "", "", []string{"does not match", otherLeaf.Subject.String()}},
		{"intermediate missing on token", "leaf", []*x509.Certificate{okLeaf, caRoot}, "", "", []string{"incomplete certificate chain", caInter.Subject.String()}},
		{"rsa-1024 key and chain", "rsa-1024", nil, chainFile(t, "bad/rsa-1024-chain.pem"), proto.KeySpecRSA2048, []string{"unsupported key", "RSA 1024 bits"}},
		{"rsa-1024 key on token", "rsa-1024", []*x509.Certificate{loadCerts(t, "bad/rsa-1024.crt")[0], caInter, caRoot}, "", proto.KeySpecRSA2048, []string{"unsupported key", "RSA 1024 bits"}},
		{"bundle with a private key", "leaf", nil, withKey, "", []string{"certificate_chain", "is not a CERTIFICATE"}},
		{"empty bundle", "leaf", nil, empty, "", []string{"certificate_chain", "no certificate found"}},
		{"bundle larger than 1 MiB", "leaf", nil, huge, "", []string{"certificate_chain", "larger than"}},
		{"bundle not PEM", "leaf", nil, notPEM, "", []string{"certificate_chain", "PEM", notPEM}},
		{"bundle missing", "leaf", nil, missing, "", []string{"certificate_chain", "missing.pem"}},
		{"bundle is a directory", "leaf", nil, dir, "", []string{"certificate_chain", dir}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := badToken(t, tc.key)
			for i, c := range tc.certs {
				id := fakeKeyID()
				if i > 0 {
					id = []byte{byte(0xC0 + i)}
				}
				tok.Certs = append(tok.Certs, fakeCert{id, c})
			}
			var cfg map[string]string
			if tc.bundle != "" {
				cfg = map[string]string{ConfigCertificateChain: tc.bundle}
			}
			req := signReq(keyURI, keyTypeOf(t, "ec-256"), cfg)
			if tc.spec != "" {
				req.KeySpec, req.Hash = tc.spec, proto.HashAlgorithmSHA256
			}
			b := &fakeBackend{t: t, tok: tok}
			p := newPlugin(b, stdEnv(fakeModule(t)), nil)
			wantError(t, runPlugin(t, p, "generate-signature", req), proto.ErrorCodeValidation, tc.want...)
			if _, _, _, _, signs := b.counts(); signs != 0 {
				t.Errorf("the HSM signed %d times", signs)
			}
			if n := b.unclosed(); n != 0 {
				t.Errorf("%d tokens left open", n)
			}
		})
	}
}

func TestGenerateSignatureLoginAndPIN(t *testing.T) {
	dir := t.TempDir()
	pinFile := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := pinFile("good", testPIN+"\r\n", 0o600)
	wrong := pinFile("wrong", pinFilePIN+"\n", 0o400)
	loose := pinFile("loose", testPIN, 0o640)
	emptyFile := pinFile("empty", "\n", 0o600)

	tests := []struct {
		name  string
		keyID string
		env   string // NOTATION_PKCS11_PIN; "" unset
		code  proto.ErrorCode
		want  []string
	}{
		{"PIN from env", keyURI, testPIN, "", nil},
		{"PIN from pin-source (CRLF trimmed)", keyURI + "?pin-source=file:" + good, "", "", nil},
		{"pin-source wins over env", keyURI + "?pin-source=file://" + good, wrongPIN, "", nil},
		{"wrong PIN from env", keyURI, wrongPIN, proto.ErrorCodeAccessDenied, []string{"token login failed", `"fake-token"`, "NOTATION_PKCS11_PIN"}},
		{"wrong PIN from pin-source", keyURI + "?pin-source=file:" + wrong, testPIN, proto.ErrorCodeAccessDenied, []string{"token login failed"}},
		{"no PIN", keyURI, "", proto.ErrorCodeValidation, []string{"no PIN", "pin-source", "NOTATION_PKCS11_PIN"}},
		{"pin-source readable by others", keyURI + "?pin-source=file:" + loose, testPIN, proto.ErrorCodeValidation, []string{"unusable pin-source file", "chmod 600"}},
		{"pin-source empty", keyURI + "?pin-source=file:" + emptyFile, testPIN, proto.ErrorCodeValidation, []string{"unusable pin-source file", "empty"}},
		{"pin-source missing", keyURI + "?pin-source=file:" + filepath.Join(dir, "nope"), testPIN, proto.ErrorCodeValidation, []string{"unusable pin-source file", "nope"}},
		{"pin-source relative", keyURI + "?pin-source=file:pin.txt", testPIN, proto.ErrorCodeValidation, []string{"pin-source", "file:/absolute/path"}},
	}
	kt := keyTypeOf(t, "ec-384")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBackend{t: t, tok: goodToken(t, kt.kt, true)}
			e := stdEnv(fakeModule(t))
			delete(e, pkcs11.PINEnv)
			if tc.env != "" {
				e[pkcs11.PINEnv] = tc.env
			}
			p := newPlugin(b, e, nil)
			r := runPlugin(t, p, "generate-signature", signReq(tc.keyID, kt, nil))
			if tc.code == "" {
				checkSignResponse(t, wantOK[proto.GenerateSignatureResponse](t, r), tc.keyID, kt, loadCerts(t, kt.kt+"/chain.pem"))
				return
			}
			wantError(t, r, tc.code, tc.want...)
			if _, _, _, _, signs := b.counts(); signs != 0 {
				t.Errorf("signed %d times", signs)
			}
		})
	}
}

func TestGenerateSignatureTimeouts(t *testing.T) {
	kt := keyTypeOf(t, "ec-256")
	for _, point := range []string{hangOpen, hangLogin, hangCerts, hangSign} {
		for _, via := range []string{"pluginConfig timeout", "context deadline"} {
			t.Run(point+"/"+via, func(t *testing.T) {
				tok := goodToken(t, kt.kt, true)
				tok.Hang = point
				b := &fakeBackend{t: t, tok: tok}
				p := newPlugin(b, stdEnv(fakeModule(t)), nil)
				ctx := context.Background()
				var cfg map[string]string
				if via == "context deadline" {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
					defer cancel()
					if point == hangSign {
						// Signing has no context (crypto.Signer); only the
						// token's own bound stops it.
						cfg = map[string]string{ConfigTimeout: "60ms"}
					}
				} else {
					cfg = map[string]string{ConfigTimeout: "50ms"}
				}
				start := time.Now()
				r := runPluginCtx(t, ctx, p, "generate-signature", signReq(keyURI, kt, cfg))
				wantError(t, r, proto.ErrorCodeTimeout, "did not answer in time")
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("took %s", d)
				}
			})
		}
	}
}

// A signature that does not verify with the leaf is never returned.
func TestGenerateSignatureSelfCheck(t *testing.T) {
	tests := []struct {
		kt   string
		mode keyMode
		want string
	}{
		{"ec-256", keyGarbage, "unusable signature"},
		{"ec-521", keyGarbage, "unusable signature"},
		{"rsa-2048", keyGarbage, "signature self-check failed"},
		{"ec-256", keyOtherKey, "signature self-check failed"},
		{"ec-384", keyOtherKey, "signature self-check failed"},
		{"rsa-3072", keyOtherKey, "signature self-check failed"},
		{"ec-256", keyRawECDSA, "unusable signature"},
		{"rsa-2048", keyAutoSalt, "signature self-check failed"},
		{"rsa-4096", keyAutoSalt, "signature self-check failed"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/mode%d", tc.kt, tc.mode), func(t *testing.T) {
			kt := keyTypeOf(t, tc.kt)
			tok := goodToken(t, tc.kt, true)
			tok.Mode = tc.mode
			b := &fakeBackend{t: t, tok: tok}
			mod := fakeModule(t)
			cache := &KeyCache{Dir: t.TempDir()}
			p := newPlugin(b, stdEnv(mod), cache)
			r := runPlugin(t, p, "generate-signature", signReq(keyURI, kt, nil))
			msg := wantError(t, r, proto.ErrorCodeGeneric, tc.want)
			if strings.Contains(r.stderr, "signature\":") || strings.Contains(msg, "certificateChain") {
				t.Errorf("the error carries a signature: %s", r.stderr)
			}
			if _, _, _, _, signs := b.counts(); signs != 1 {
				t.Errorf("signed %d times, want 1", signs)
			}
			if ks, ok := cache.Get(mod, mustURI(t, keyURI)); ok {
				t.Errorf("a failed signature was remembered in the cache as %s", ks)
			}
		})
	}
}

func TestGenerateSignatureKeySpecMismatch(t *testing.T) {
	tests := []struct {
		name  string
		kt    string // key on the token
		spec  proto.KeySpec
		hash  proto.HashAlgorithm
		opens int // whether the token is opened at all
		want  []string
	}{
		{"RSA asked of EC key", "ec-256", proto.KeySpecRSA2048, proto.HashAlgorithmSHA256, 1, []string{"EC-256", "RSA-2048"}},
		{"EC-384 asked of EC-256 key", "ec-256", proto.KeySpecEC384, proto.HashAlgorithmSHA384, 1, []string{"EC-256", "EC-384"}},
		{"RSA-4096 asked of RSA-2048 key", "rsa-2048", proto.KeySpecRSA4096, proto.HashAlgorithmSHA512, 1, []string{"RSA-2048", "RSA-4096"}},
		{"EC asked of RSA key", "rsa-3072", proto.KeySpecEC521, proto.HashAlgorithmSHA512, 1, []string{"RSA-3072", "EC-521"}},
		{"hash does not fit keySpec", "ec-256", proto.KeySpecEC256, proto.HashAlgorithmSHA384, 0, []string{"SHA-384", "EC-256", "SHA-256"}},
		{"hash does not fit RSA keySpec", "rsa-2048", proto.KeySpecRSA2048, proto.HashAlgorithmSHA512, 0, []string{"SHA-512", "RSA-2048"}},
		{"unknown hash", "ec-256", proto.KeySpecEC256, "MD5", 0, []string{"MD5", "EC-256"}},
		{"unknown keySpec", "ec-256", "RSA-1024", proto.HashAlgorithmSHA256, 0, []string{"RSA-1024", "keySpec"}},
		{"lower-case keySpec", "ec-256", "ec-256", proto.HashAlgorithmSHA256, 0, []string{`"ec-256"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBackend{t: t, tok: goodToken(t, tc.kt, true)}
			p := newPlugin(b, stdEnv(fakeModule(t)), nil)
			req := signReq(keyURI, keyTypeOf(t, tc.kt), nil)
			req.KeySpec, req.Hash = tc.spec, tc.hash
			wantError(t, runPlugin(t, p, "generate-signature", req), proto.ErrorCodeValidation, tc.want...)
			opens, _, _, _, signs := b.counts()
			if opens != tc.opens || signs != 0 {
				t.Errorf("opens %d signs %d; want %d 0", opens, signs, tc.opens)
			}
		})
	}
}

// A stale describe-key answer in the cache is dropped when generate-signature
// finds the real key differs, so the next describe-key reads the key again.
func TestGenerateSignatureDropsStaleCacheEntry(t *testing.T) {
	mod := fakeModule(t)
	cache := &KeyCache{Dir: t.TempDir()}
	u := mustURI(t, keyURI)
	cache.Put(mod, u, proto.KeySpecRSA3072, []byte("the key that used to be there"))

	b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", true)}
	p := newPlugin(b, stdEnv(mod), cache)

	resp := wantOK[proto.DescribeKeyResponse](t, runPlugin(t, p, "describe-key", describeReq(keyURI, nil)))
	if resp.KeySpec != proto.KeySpecRSA3072 || b.opened() != 0 {
		t.Fatalf("describe-key %+v after %d opens; want the cached RSA-3072 without opening", resp, b.opened())
	}
	r := runPlugin(t, p, "generate-signature", signReq(keyURI, keyTypeOf(t, "rsa-3072"), nil))
	wantError(t, r, proto.ErrorCodeValidation, "EC-256", "RSA-3072", `"fake-token"`)
	if _, ok := cache.Get(mod, u); ok {
		t.Fatal("the stale entry is still cached")
	}
	resp = wantOK[proto.DescribeKeyResponse](t, runPlugin(t, p, "describe-key", describeReq(keyURI, nil)))
	if resp.KeySpec != proto.KeySpecEC256 {
		t.Errorf("describe-key after the mismatch: %q, want EC-256", resp.KeySpec)
	}
	if b.opened() != 2 {
		t.Errorf("opened %d times, want 2 (generate-signature, then describe-key re-reading the key)", b.opened())
	}
	// And now signing with the right spec works and confirms the entry.
	wantOK[proto.GenerateSignatureResponse](t, runPlugin(t, p, "generate-signature", signReq(keyURI, keyTypeOf(t, "ec-256"), nil)))
	if ks, ok := cache.Get(mod, u); !ok || ks != proto.KeySpecEC256 {
		t.Errorf("cache %q %v after a good signature, want EC-256", ks, ok)
	}
}

// The bundle is parsed from PEM exactly as written: a certificate in it must
// be the DER in the response.
func TestGenerateSignatureChainIsDER(t *testing.T) {
	b := &fakeBackend{t: t, tok: goodToken(t, "ec-384", false)}
	p := newPlugin(b, stdEnv(fakeModule(t)), nil)
	path := chainFile(t, "ec-384/chain.pem")
	resp := wantOK[proto.GenerateSignatureResponse](t, runPlugin(t, p, "generate-signature", signReq(keyURI, keyTypeOf(t, "ec-384"), map[string]string{ConfigCertificateChain: path})))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ders [][]byte
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		ders = append(ders, block.Bytes)
	}
	if len(ders) != 3 || len(resp.CertificateChain) != 3 {
		t.Fatalf("%d PEM blocks, %d chain entries", len(ders), len(resp.CertificateChain))
	}
	for i := range ders {
		if !bytes.Equal(ders[i], resp.CertificateChain[i]) {
			t.Errorf("certificateChain[%d] differs from PEM block %d", i, i)
		}
	}
}

// A token often keeps the expired certificate next to its renewal under the
// same CKA_ID (and a bundle may hold both). The object order is the token's;
// the plugin must sign with the certificate that is valid now, whichever
// comes first.
func TestGenerateSignatureRenewedCertificate(t *testing.T) {
	ca := loadCerts(t, "ca/chain.pem")
	expired := loadCerts(t, "bad/expired.crt")[0]
	okLeaf := loadCerts(t, "bad/ok-leaf.crt")[0]
	want := []*x509.Certificate{okLeaf, ca[0], ca[1]}
	dir := t.TempDir()
	for _, order := range []struct {
		name  string
		leafs []*x509.Certificate
	}{
		{"renewed first", []*x509.Certificate{okLeaf, expired}},
		{"expired first", []*x509.Certificate{expired, okLeaf}},
	} {
		for _, source := range []string{"token", "certificate_chain"} {
			t.Run(order.name+"/"+source, func(t *testing.T) {
				tok := badToken(t, "leaf")
				var cfg map[string]string
				if source == "token" {
					for _, l := range order.leafs {
						tok.Certs = append(tok.Certs, fakeCert{fakeKeyID(), l})
					}
					tok.Certs = append(tok.Certs, fakeCert{[]byte("ca-1"), ca[0]}, fakeCert{[]byte("ca-2"), ca[1]})
				} else {
					var pemData []byte
					for _, c := range append(append([]*x509.Certificate{}, order.leafs...), ca...) {
						pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
					}
					path := filepath.Join(dir, strings.ReplaceAll(order.name, " ", "-")+".pem")
					if err := os.WriteFile(path, pemData, 0o644); err != nil {
						t.Fatal(err)
					}
					cfg = map[string]string{ConfigCertificateChain: path}
				}
				b := &fakeBackend{t: t, tok: tok}
				p := newPlugin(b, stdEnv(fakeModule(t)), nil)
				r := runPlugin(t, p, "generate-signature", signReq(keyURI, keyTypeOf(t, "ec-256"), cfg))
				checkSignResponse(t, wantOK[proto.GenerateSignatureResponse](t, r), keyURI, keyTypeOf(t, "ec-256"), want)
			})
		}
	}
}
