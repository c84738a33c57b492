//go:build unix

package main

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// BenchmarkTokenSign measures sign latency on every token the tests run,
// in one run (issue 16): SoftHSM directly, SoftHSM behind p11-kit
// remoting, the TPM (tpm2-pkcs11 on swtpm behind tpm2-abrmd) and the
// opencryptoki soft token. For each token and key type:
//
//   - generate-signature: one plugin process as notation runs it (module
//     load and C_Initialize, login, key and chain from the token, the
//     signature, the self-check), key cache off;
//   - open-login: pkcs11.Open, Login (which finds the key) and Close in
//     this process: the part of generate-signature that is the module's
//     set-up;
//   - sign: one signature on a logged-in key (pkcs11.Key.SignMessage).
//
// Run: go test -run '^$' -bench TokenSign -benchtime 20x ./cmd/notation-pkcs11/
// (root, for opencryptoki; the TPM and opencryptoki need their packages,
// see docs/tokens.md).
func BenchmarkTokenSign(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := e2e.BuildPlugin(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	type key struct {
		kt, spec, hash, uri string
	}
	type token struct {
		name, module, pin string
		env               []string // the plugin's whole environment
		keys              []key
	}
	var tokens []token

	// SoftHSM, and the same token through p11-kit remoting.
	rk := newRK(b, bin, "")
	direct := append(rk.hsm.Env(), "PATH="+os.Getenv("PATH"), "HOME="+b.TempDir(),
		"NOTATION_PKCS11_PIN="+rkPIN, "NOTATION_PKCS11_MODULE="+rk.hsm.Module(), "NOTATION_PKCS11_CACHE="+b.TempDir())
	ca := loadTestCA(b)
	rkKeys := []key{
		{"ec-256", "EC-256", "SHA-256", rk.newKey(b, ca, "ec-256", "bench-ec-256")},
		{"rsa-3072", "RSA-3072", "SHA-384", rk.newKey(b, ca, "rsa-3072", "bench-rsa-3072")},
	}
	tokens = append(tokens,
		token{"softhsm", rk.hsm.Module(), rkPIN, direct, rkKeys},
		token{"p11kit", rk.client, rkPIN, rk.env, rkKeys})

	// The TPM: keys made by tpm2_ptool.
	tpm := newTPMWorld(b, bin, "")
	var tpmKeys []key
	for _, k := range []struct{ alg, kt, spec, hash string }{{e2e.TPMECC256, "ec-256", "EC-256", "SHA-256"}, {e2e.TPMRSA3072, "rsa-3072", "RSA-3072", "SHA-384"}} {
		uri := tpm.addKey(b, k.alg, "bench-"+k.kt, false)
		tpm.certify(b, uri, "bench-"+k.kt)
		tpmKeys = append(tpmKeys, key{k.kt, k.spec, k.hash, uri})
	}
	tokens = append(tokens, token{"tpm", tpm.tpm.Module(), tpmPIN, tpm.env, tpmKeys})

	// opencryptoki: RSA only.
	ock := e2e.StartOpencryptokiT(b, ockPIN)
	ow := newTokWorld(b, bin, ock.Module(), e2e.OpencryptokiTestLabel, ockPIN)
	var ockKeys []key
	for _, k := range []key{{"rsa-2048", "RSA-2048", "SHA-256", ""}, {"rsa-3072", "RSA-3072", "SHA-384", ""}} {
		r := ow.human(b, 0, "key", "generate", "--token", "pkcs11:token="+e2e.OpencryptokiTestLabel, "--type", k.kt, "--label", "bench-"+k.kt, "--output", "json")
		var gen struct{ URI string }
		if err := json.Unmarshal([]byte(r.Stdout), &gen); err != nil {
			b.Fatal(err)
		}
		k.uri = gen.URI
		ow.certify(b, k.uri, "bench-"+k.kt)
		ockKeys = append(ockKeys, k)
	}
	tokens = append(tokens, token{"opencryptoki", ock.Module(), ockPIN, ow.env, ockKeys})

	// The in-process benchmarks load each module here: every token's
	// variables, none of which collide, go into this process.
	for _, tk := range tokens {
		for _, kv := range tk.env {
			if k, v, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "NOTATION_PKCS11_") && k != "PATH" && k != "HOME" {
				b.Setenv(k, v)
			}
		}
	}
	for _, tk := range tokens {
		for _, k := range tk.keys {
			req := signRequestSpec(k.uri, k.spec, k.hash, map[string]string{"key_cache": "off"})
			b.Run(tk.name+"/"+k.kt+"/generate-signature", func(b *testing.B) {
				for b.Loop() {
					r, err := runProc(bin, tk.env, req, "generate-signature")
					if err != nil || r.Code != 0 || !strings.Contains(r.Stdout, `"signature"`) {
						b.Fatalf("generate-signature on %s: %v %+v", tk.name, err, r)
					}
				}
			})
			u, err := pkcs11.ParseURI(k.uri)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(tk.name+"/"+k.kt+"/open-login", func(b *testing.B) {
				for b.Loop() {
					tok, err := pkcs11.Open(context.Background(), u, pkcs11.Options{ModulePath: tk.module})
					if err != nil {
						b.Fatal(err)
					}
					if _, err := tok.Login(context.Background(), pkcs11.NewPIN(tk.pin)); err != nil {
						b.Fatal(err)
					}
					if err := tok.Close(); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(tk.name+"/"+k.kt+"/sign", func(b *testing.B) {
				tok, err := pkcs11.Open(context.Background(), u, pkcs11.Options{ModulePath: tk.module})
				if err != nil {
					b.Fatal(err)
				}
				defer tok.Close()
				key, err := tok.Login(context.Background(), pkcs11.NewPIN(tk.pin))
				if err != nil {
					b.Fatal(err)
				}
				var opts crypto.SignerOpts = crypto.SHA256
				switch k.spec {
				case "RSA-2048":
					opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
				case "RSA-3072":
					opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA384}
				}
				for b.Loop() {
					if _, err := key.SignMessage(nil, []byte("payload"), opts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
