//go:build unix

package main

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// BenchmarkP11KitGenerateSignature measures, in one run, one
// generate-signature through the plugin binary (a process: module load,
// login, chain from the token, signature, self-check) against SoftHSM
// directly and through p11-kit remoting; and one signature alone
// (pkcs11.Key.SignMessage, logged in) both ways. Run with
// go test -run '^$' -bench P11Kit ./cmd/notation-pkcs11/.
func BenchmarkP11KitGenerateSignature(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := e2e.BuildPlugin(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	w := newRK(b, bin, "")
	ca := loadTestCA(b)
	// The same token and keys, straight through SoftHSM.
	direct := append(w.hsm.Env(), "PATH="+os.Getenv("PATH"), "HOME="+b.TempDir(),
		"NOTATION_PKCS11_PIN="+rkPIN, "NOTATION_PKCS11_MODULE="+w.hsm.Module(), "NOTATION_PKCS11_CACHE="+b.TempDir())
	for _, kt := range []struct{ name, spec, hash string }{{"ec-256", "EC-256", "SHA-256"}, {"rsa-3072", "RSA-3072", "SHA-384"}} {
		uri := w.newKey(b, ca, kt.name, "bench-"+kt.name)
		req, err := json.Marshal(map[string]any{
			"contractVersion": "1.0", "keyId": uri, "keySpec": kt.spec, "hashAlgorithm": kt.hash,
			"payload": base64.StdEncoding.EncodeToString([]byte(`{"targetArtifact":{}}`)), "pluginConfig": map[string]string{"key_cache": "off"},
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, via := range []string{"softhsm", "p11kit"} {
			env := direct
			if via == "p11kit" {
				env = w.env
			}
			b.Run("generate-signature/"+kt.name+"/"+via, func(b *testing.B) {
				for b.Loop() {
					cmd := exec.Command(w.bin, "generate-signature")
					cmd.Env = env
					cmd.Stdin = strings.NewReader(string(req))
					if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `"signature"`) {
						b.Fatalf("generate-signature via %s: %v\n%s", via, err, out)
					}
				}
			})
		}
		for _, via := range []string{"softhsm", "p11kit"} {
			module := w.hsm.Module()
			if via == "p11kit" {
				module = w.client
			}
			b.Run("sign-only/"+kt.name+"/"+via, func(b *testing.B) {
				b.Setenv("SOFTHSM2_CONF", w.hsm.ConfPath())
				b.Setenv("P11_KIT_SERVER_ADDRESS", w.srv.Address())
				u, err := pkcs11.ParseURI(uri)
				if err != nil {
					b.Fatal(err)
				}
				tok, err := pkcs11.Open(context.Background(), u, pkcs11.Options{ModulePath: module})
				if err != nil {
					b.Fatal(err)
				}
				defer tok.Close()
				key, err := tok.Login(context.Background(), pkcs11.NewPIN(rkPIN))
				if err != nil {
					b.Fatal(err)
				}
				opts := crypto.SignerOpts(crypto.SHA256)
				if kt.name == "rsa-3072" {
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
