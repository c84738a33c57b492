package testtsa_test

import (
	"crypto"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/notaryproject/tspclient-go"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testtsa"
)

// TestOpenSSLVerifiesToken cross-checks the encoding with an independent
// implementation: `openssl ts -verify` accepts the response, with the data
// (imprint) and with the query (imprint, nonce, policy).
func TestTSAOpenSSLVerifiesToken(t *testing.T) {
	openssl := e2e.LookPathT(t, "openssl", "openssl", "there is no independent verifier to cross-check with")
	dir := t.TempDir()
	tsa := newTSA(t, testtsa.Options{Accuracy: 1500 * time.Millisecond, Clock: func() time.Time {
		return time.Date(2030, 5, 6, 7, 8, 9, 120_000_000, time.UTC)
	}})
	content := []byte("signature bytes for openssl")
	req, err := tspclient.NewRequest(tspclient.RequestOptions{Content: content, HashAlgorithm: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tsa.Timestamp(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	respDER, err := resp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	reqDER, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	respPath, reqPath, dataPath := write("resp.tsr", respDER), write("req.tsq", reqDER), write("data", content)
	rootPath := write("root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tsa.Root().Raw}))
	for _, args := range [][]string{
		{"ts", "-verify", "-in", respPath, "-data", dataPath, "-CAfile", rootPath},
		{"ts", "-verify", "-in", respPath, "-queryfile", reqPath, "-CAfile", rootPath},
	} {
		cmd := exec.CommandContext(t.Context(), openssl, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("openssl %v: %v\n%s", args[:4], err, out)
		}
	}
}
