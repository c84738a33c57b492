package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-core-go/signature/jws"
	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testtsa"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// revWorld is the shared set-up of the revocation end-to-end tests: two
// OpenSSL CAs (see internal/e2e/opensslca.go) with their CRL front and
// openssl ocsp responder on 127.0.0.1, a registry, the notation CLI whose
// signingkeys.json lists one file key per leaf, and a TSA that signs with
// the first CA's TSA certificate.
//
//   - ca: root -> intermediate -> leaves, OCSP and CRL pointers, delta
//     CRLs, a TSA chain (tsa-root -> TSA leaf). Trust stores ca:ossl and
//     tsa:ossl-tsa, and signingAuthority:ossl-sa for the signing-authority
//     cases.
//   - ca2: CRL only (no OCSP), every certificate with a dead first
//     distribution point (127.0.0.1:1) before the real one. Trust store
//     ca:ossl2.
type revWorld struct {
	*e2eWorld
	ca, ca2 *e2e.OpenSSLCA
	tsaURL  string
	keys    []map[string]string // signingkeys.json "keys"
	leaves  map[string]revLeaf
}

type revLeaf struct {
	name, cert, key, chain string
	ca                     *e2e.OpenSSLCA
}

const revSlowDelay = 2 * time.Second

func newRevWorld(t *testing.T) *revWorld {
	t.Helper()
	tools := e2e.ToolsT(t)
	w := &revWorld{
		e2eWorld: &e2eWorld{tools: tools, reg: e2e.StartRegistryT(t, tools), notation: e2e.NewNotationT(t, tools)},
		ca:       e2e.NewOpenSSLCAT(t, e2e.CAOptions{Delta: true, TSA: true, SlowDelay: revSlowDelay}),
		ca2:      e2e.NewOpenSSLCAT(t, e2e.CAOptions{NoOCSP: true, DeadFirstCDP: true, SlowDelay: revSlowDelay}),
		leaves:   map[string]revLeaf{},
	}
	// notation's trust store keys certificates by file name: both roots are
	// ca.crt, so copy them under distinct names.
	dir := t.TempDir()
	for _, s := range []struct{ typ, store, src string }{
		{"ca", "ossl", w.ca.RootPath()},
		{"ca", "ossl2", w.ca2.RootPath()},
		{"signingAuthority", "ossl-sa", w.ca.RootPath()},
		{"tsa", "ossl-tsa", w.ca.TSARootPath()},
	} {
		p := filepath.Join(dir, s.store+"-root.crt")
		copyFile(t, s.src, p)
		if err := w.notation.AddCert(s.typ, s.store, p); err != nil {
			t.Fatal(err)
		}
	}
	w.startTSA(t)
	return w
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// startTSA serves RFC 3161 tokens signed with the OpenSSL CA's TSA key and
// certificate (whose revocation the CA controls) on 127.0.0.1.
func (w *revWorld) startTSA(t *testing.T) {
	t.Helper()
	keyPEM, err := os.ReadFile(w.ca.TSAKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(keyPEM)
	if blk == nil {
		t.Fatalf("%s: no PEM key", w.ca.TSAKeyPath())
	}
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	chain := readChain(t, w.ca.TSAChainPath())
	tsa, err := testtsa.New(testtsa.Options{Signer: key.(crypto.Signer), Certificates: chain})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(tsa)
	t.Cleanup(srv.Close)
	w.tsaURL = srv.URL
}

func readChain(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	certs, err := testpki.LoadCertificates(path)
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

// leaf issues a leaf of ca named name and registers its key with notation
// (signingkeys.json, as "notation cert generate-test" does for its keys).
func (w *revWorld) leaf(t *testing.T, ca *e2e.OpenSSLCA, name string) revLeaf {
	t.Helper()
	cert, key, err := ca.IssueLeaf(name, "")
	if err != nil {
		t.Fatal(err)
	}
	l := revLeaf{name: name, cert: cert, key: key, chain: ca.ChainPath(name), ca: ca}
	w.leaves[name] = l
	w.keys = append(w.keys, map[string]string{"name": name, "keyPath": key, "certPath": l.chain})
	b, err := json.MarshalIndent(map[string]any{"default": w.keys[0]["name"], "keys": w.keys}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.notation.ConfigDir(), "signingkeys.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

// sign pushes an artifact to rev/REPO and signs it with notation sign --key
// leaf.
func (w *revWorld) sign(t *testing.T, l revLeaf, repoName string, extra ...string) string {
	t.Helper()
	repo := w.reg.Ref("rev/" + repoName)
	ref := repo + "@" + e2e.PushT(t, w.tools, repo+":v1", []byte("artifact "+repoName+" of "+l.name))
	w.mustNotation(t, append([]string{"sign", "--insecure-registry", "--key", l.name}, append(extra, ref)...)...)
	return ref
}

// localSA is a signature made with notation-core-go (notation's signing
// library) in the notary.x509.signingAuthority scheme, which the notation
// CLI cannot produce, at signing time st. It returns the verify arguments
// of local mode.
func (w *revWorld) localSA(t *testing.T, l revLeaf, st time.Time) []string {
	t.Helper()
	keyPEM, err := os.ReadFile(l.key)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signature.NewLocalSigner(readChain(t, l.chain), key)
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("signing-authority artifact " + l.name)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(content), Size: int64(len(content))}
	payload, err := json.Marshal(map[string]any{"targetArtifact": desc})
	if err != nil {
		t.Fatal(err)
	}
	env, err := signature.NewEnvelope(jws.MediaTypeEnvelope)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := env.Sign(&signature.SignRequest{
		Payload:       signature.Payload{ContentType: "application/vnd.cncf.notary.payload.v1+json", Content: payload},
		Signer:        signer,
		SigningTime:   st,
		SigningScheme: signature.SigningSchemeX509SigningAuthority,
		SigningAgent:  "notation-pkcs11 e2e",
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sigPath, descPath := filepath.Join(dir, "sig.jws"), filepath.Join(dir, "desc.json")
	db, _ := json.Marshal(desc)
	if err := os.WriteFile(sigPath, sig, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(descPath, db, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--signature", sigPath, "--media-type", jws.MediaTypeEnvelope, "--descriptor", descPath,
		"--reference", w.reg.Ref("rev/sa-"+strings.ToLower(l.name)) + "@" + desc.Digest.String()}
}

// revRun is one run of this command, in-process.
type revRun struct {
	code        int
	out, errOut string
	rep         *trustpolicy.Report
}

// ours runs this command with notation's configuration, verification time
// now, and no user cache folder (the env has only NOTATION_CONFIG), so
// nothing is cached across runs unless --crl-cache is given.
func (w *revWorld) run(t *testing.T, now time.Time, args ...string) revRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, stdout, stderr := runWithConfig(ctx, w.notation.ConfigDir(), func() time.Time { return now }, args...)
	r := revRun{code: code, out: stdout, errOut: stderr}
	if len(args) > 0 && (args[0] == "verify" || args[0] == "explain") && containsArg(args, "json") {
		r.rep = &trustpolicy.Report{}
		if err := json.Unmarshal([]byte(stdout), r.rep); err != nil {
			t.Fatalf("%s: json output: %v\n%s%s", strings.Join(args, " "), err, r.out, r.errOut)
		}
	}
	return r
}

func containsArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

// verify runs verify --output json with small timeouts.
func (w *revWorld) verify(t *testing.T, now time.Time, target []string, extra ...string) revRun {
	t.Helper()
	args := append([]string{"verify", "--plain-http", "--output", "json", "--ocsp-timeout", "2s", "--crl-timeout", "3s"}, extra...)
	return w.run(t, now, append(args, target...)...)
}

// notationVerifyClean runs notation verify with an empty notation cache,
// so that a CRL it cached in an earlier case does not decide this one.
func (w *revWorld) notationVerifyClean(t *testing.T, ref string) (bool, string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(filepath.Dir(w.notation.ConfigDir()), "cache")); err != nil {
		t.Fatal(err)
	}
	return w.notationVerify(t, ref)
}

// lastResult is the result of the one signature tried.
func lastResult(t *testing.T, r revRun) *trustpolicy.Result {
	t.Helper()
	if r.rep == nil || len(r.rep.Signatures) == 0 {
		t.Fatalf("no signature result (exit %d): %s%s", r.code, r.out, r.errOut)
	}
	return r.rep.Signatures[len(r.rep.Signatures)-1].Result
}

// revCheck is the revocation check of a run's result.
func revCheck(t *testing.T, r revRun) *trustpolicy.Check {
	t.Helper()
	c := lastResult(t, r).Check(trustpolicy.TypeRevocation)
	if c == nil {
		t.Fatalf("no revocation check in %+v", lastResult(t, r).Checks)
	}
	return c
}

// levels are the three enforcing levels, with what a revocation failure
// does under each: strict enforces it; permissive and audit log it.
var revLevels = []string{"strict", "permissive", "audit"}

func (w *revWorld) policy(t *testing.T, level string, stores ...string) {
	t.Helper()
	if err := w.notation.WriteTrustPolicy(policyDoc(stmt("rev", []string{"*"}, level, stores, []string{"*"}))); err != nil {
		t.Fatal(err)
	}
}

func fmtCerts(c *trustpolicy.Check) string {
	var b strings.Builder
	for _, r := range c.Revocation {
		fmt.Fprintf(&b, "\n  %s: %s %s %s cache=%v %s", r.Subject, r.Status, r.Method, r.URL, r.FromCache, r.Detail)
	}
	return b.String()
}
