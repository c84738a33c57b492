package plugin

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// scanned counts the Run outputs checked for PINs across the package.
var scanned struct {
	sync.Mutex
	outputs int
	leaks   []string
}

// TestMain fails the package if any Run output anywhere leaked a test PIN,
// or if no output was scanned at all (the helper was bypassed).
func TestMain(m *testing.M) {
	code := m.Run()
	scanned.Lock()
	if len(scanned.leaks) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d Run outputs contained a test PIN:\n%s\n", len(scanned.leaks), strings.Join(scanned.leaks, "\n"))
		code = 1
	}
	if code == 0 && scanned.outputs == 0 && !testing.Short() && runAll() {
		fmt.Fprintln(os.Stderr, "FAIL: no Run output was scanned for PINs")
		code = 1
	}
	scanned.Unlock()
	os.Exit(code)
}

// runAll reports whether the whole package ran (no -run filter), so that the
// "something was scanned" check does not trip on a filtered run.
func runAll() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.run") {
			return false
		}
	}
	return true
}

// checkNoPIN fails t if any output contains one of the test PINs.
func checkNoPIN(t testing.TB, name string, outputs ...string) {
	t.Helper()
	scanned.Lock()
	defer scanned.Unlock()
	for i, out := range outputs {
		scanned.outputs++
		for _, pin := range secretPINs() {
			if strings.Contains(out, pin) {
				t.Errorf("%s: output %d contains the PIN %q: %s", name, i, pin, out)
				scanned.leaks = append(scanned.leaks, fmt.Sprintf("%s: %s", t.Name(), name))
			}
		}
	}
}

// result is what one Run produced.
type result struct {
	code   int
	stdout string
	stderr string
}

// runPlugin is the only place that calls Plugin.Run in this package (see
// TestRunIsAlwaysScanned): every output is scanned for PINs. stdin is nil
// (empty), a string or []byte (raw), or a value that is marshalled as JSON.
func runPlugin(t testing.TB, p *Plugin, command string, stdin any) result {
	t.Helper()
	return runPluginCtx(t, context.Background(), p, command, stdin)
}

func runPluginCtx(t testing.TB, ctx context.Context, p *Plugin, command string, stdin any) result {
	t.Helper()
	return runPluginW(t, ctx, p, command, stdin, nil)
}

// runPluginW is runPluginCtx with a wrapper around stdout (to inject write
// failures); everything Run writes is still scanned.
func runPluginW(t testing.TB, ctx context.Context, p *Plugin, command string, stdin any, wrapStdout func(io.Writer) io.Writer) result {
	t.Helper()
	var in io.Reader
	switch v := stdin.(type) {
	case nil:
		in = strings.NewReader("")
	case string:
		in = strings.NewReader(v)
	case []byte:
		in = bytes.NewReader(v)
	case io.Reader:
		in = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		in = bytes.NewReader(b)
	}
	var stdout, stderr bytes.Buffer
	var out io.Writer = &stdout
	if wrapStdout != nil {
		out = wrapStdout(&stdout)
	}
	code := p.Run(ctx, command, in, out, &stderr)
	r := result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	checkNoPIN(t, command, r.stdout, r.stderr)
	return r
}

// wantError checks a failed Run: exit 1, nothing on stdout, and stderr
// exactly one JSON error object with the code; the message must contain
// every substring. It returns the message.
func wantError(t testing.TB, r result, code proto.ErrorCode, substrings ...string) string {
	t.Helper()
	if r.code != 1 {
		t.Errorf("exit code %d, want 1 (stdout %q, stderr %q)", r.code, r.stdout, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout must be empty on failure, got %q", r.stdout)
	}
	var e struct {
		ErrorCode     proto.ErrorCode   `json:"errorCode"`
		ErrorMessage  string            `json:"errorMessage"`
		ErrorMetadata map[string]string `json:"errorMetadata"`
	}
	dec := json.NewDecoder(strings.NewReader(r.stderr))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("stderr is not a JSON error object: %v: %q", err, r.stderr)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Errorf("stderr holds more than one JSON object: %q", r.stderr)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stderr), &raw); err != nil || raw["errorCode"] == nil || raw["errorMessage"] == nil {
		t.Errorf("stderr lacks errorCode or errorMessage: %q", r.stderr)
	}
	if e.ErrorCode != code {
		t.Errorf("errorCode %q, want %q (message %q)", e.ErrorCode, code, e.ErrorMessage)
	}
	if e.ErrorMessage == "" {
		t.Errorf("empty errorMessage")
	}
	for _, s := range substrings {
		if !strings.Contains(e.ErrorMessage, s) {
			t.Errorf("errorMessage lacks %q:\n%s", s, e.ErrorMessage)
		}
	}
	return e.ErrorMessage
}

// wantOK checks a successful Run (exit 0, empty stderr) and decodes stdout.
func wantOK[T any](t testing.TB, r result) T {
	t.Helper()
	var v T
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0; stderr %s", r.code, r.stderr)
	}
	if r.stderr != "" {
		t.Errorf("stderr must be empty on success, got %q", r.stderr)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout is not the response: %v: %q", err, r.stdout)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Errorf("stdout holds more than one JSON value: %q", r.stdout)
	}
	return v
}

// env is an injected environment.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// fakeModule creates a file standing in for the PKCS#11 module (the cache
// keys on its size and mtime).
func fakeModule(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "libfake-pkcs11.so")
	if err := os.WriteFile(p, []byte("not really a shared library"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// stdEnv names a module and gives the token's PIN.
func stdEnv(module string) env {
	return env{ModuleEnv: module, pkcs11.PINEnv: testPIN}
}

func newPlugin(b Backend, e env, cache *KeyCache) *Plugin {
	return New(Options{Version: "1.2.3", Backend: b, Getenv: e.get, Now: testpki.Epoch, Cache: cache})
}

// keyType is one of the six key types with what notation pairs with it.
type keyType struct {
	kt      string
	spec    proto.KeySpec
	hash    proto.HashAlgorithm
	alg     proto.SignatureAlgorithm
	h       crypto.Hash
	ecBytes int // r and s width; 0 for RSA
}

// keyTypes are the six key types, in a new slice each call.
func keyTypes() []keyType {
	return []keyType{
		{"rsa-2048", proto.KeySpecRSA2048, proto.HashAlgorithmSHA256, proto.SignatureAlgorithmRSASSA_PSS_SHA256, crypto.SHA256, 0},
		{"rsa-3072", proto.KeySpecRSA3072, proto.HashAlgorithmSHA384, proto.SignatureAlgorithmRSASSA_PSS_SHA384, crypto.SHA384, 0},
		{"rsa-4096", proto.KeySpecRSA4096, proto.HashAlgorithmSHA512, proto.SignatureAlgorithmRSASSA_PSS_SHA512, crypto.SHA512, 0},
		{"ec-256", proto.KeySpecEC256, proto.HashAlgorithmSHA256, proto.SignatureAlgorithmECDSA_SHA256, crypto.SHA256, 32},
		{"ec-384", proto.KeySpecEC384, proto.HashAlgorithmSHA384, proto.SignatureAlgorithmECDSA_SHA384, crypto.SHA384, 48},
		{"ec-521", proto.KeySpecEC521, proto.HashAlgorithmSHA512, proto.SignatureAlgorithmECDSA_SHA512, crypto.SHA512, 66},
	}
}

func keyTypeOf(t testing.TB, kt string) keyType {
	t.Helper()
	for _, k := range keyTypes() {
		if k.kt == kt {
			return k
		}
	}
	t.Fatalf("no key type %q", kt)
	return keyType{}
}

func describeReq(keyID string, cfg map[string]string) proto.DescribeKeyRequest {
	return proto.DescribeKeyRequest{ContractVersion: proto.ContractVersion, KeyID: keyID, PluginConfig: cfg}
}

// testPayload stands in for a JWS signing input.
const testPayload = "eyJhbGciOiJQUzI1NiJ9.eyJ0YXJnZXRBcnRpZmFjdCI6e319"

func signReq(keyID string, kt keyType, cfg map[string]string) proto.GenerateSignatureRequest {
	return proto.GenerateSignatureRequest{
		ContractVersion: proto.ContractVersion,
		KeyID:           keyID,
		KeySpec:         kt.spec,
		Hash:            kt.hash,
		Payload:         []byte(testPayload),
		PluginConfig:    cfg,
	}
}

// verifyAsNotation checks sig over payload with pub the way notation's
// verifiers do: RSASSA-PSS with salt = hash length, or ECDSA r||s of exactly
// twice the curve size.
func verifyAsNotation(t testing.TB, kt keyType, pub crypto.PublicKey, payload, sig []byte) {
	t.Helper()
	h := kt.h.New()
	h.Write(payload)
	digest := h.Sum(nil)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if kt.ecBytes != 0 {
			t.Fatalf("%s: leaf has an RSA key", kt.kt)
		}
		if len(sig) != k.Size() {
			t.Errorf("%s: RSA signature is %d bytes, want %d", kt.kt, len(sig), k.Size())
		}
		if err := rsa.VerifyPSS(k, kt.h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			t.Errorf("%s: RSA-PSS (salt = hash length) verification failed: %v", kt.kt, err)
		}
	case *ecdsa.PublicKey:
		if len(sig) != 2*kt.ecBytes {
			t.Fatalf("%s: ECDSA signature is %d bytes, want r||s of %d", kt.kt, len(sig), 2*kt.ecBytes)
		}
		r := new(big.Int).SetBytes(sig[:kt.ecBytes])
		s := new(big.Int).SetBytes(sig[kt.ecBytes:])
		if !ecdsa.Verify(k, digest, r, s) {
			t.Errorf("%s: ECDSA r||s verification failed", kt.kt)
		}
	default:
		t.Fatalf("%s: unexpected leaf key %T", kt.kt, pub)
	}
}

// ecdsaRawForTest converts a DER ECDSA signature to r||s, independently of
// pki.ECDSARaw.
func ecdsaRawForTest(pub *ecdsa.PublicKey, der []byte) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) > 0 {
		return nil, errors.New("not a DER ECDSA signature")
	}
	n := (pub.Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*n)
	sig.R.FillBytes(out[:n])
	sig.S.FillBytes(out[n:])
	return out, nil
}

// parseChain parses a response's certificate chain.
func parseChain(t testing.TB, raw [][]byte) []*x509.Certificate {
	t.Helper()
	out := make([]*x509.Certificate, len(raw))
	for i, der := range raw {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("certificateChain[%d] is not DER X.509: %v", i, err)
		}
		out[i] = c
	}
	return out
}

// TestRunIsAlwaysScanned makes sure no test calls Plugin.Run (five
// arguments, unlike t.Run) except through runPluginW, so the PIN scan
// covers every output of the package's tests.
func TestRunIsAlwaysScanned(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	fset := token.NewFileSet()
	calls := 0
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			ast.Inspect(fn, func(n ast.Node) bool {
				c, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				if sel, ok := c.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Run" && len(c.Args) == 5 {
					calls++
					if fn.Name.Name != "runPluginW" {
						t.Errorf("%s: %s calls Plugin.Run directly; use runPlugin so the output is scanned for PINs", fset.Position(c.Pos()), fn.Name.Name)
					}
				}
				return true
			})
		}
	}
	if calls != 1 {
		t.Errorf("found %d Plugin.Run calls, want exactly the one in runPluginW", calls)
	}
}
