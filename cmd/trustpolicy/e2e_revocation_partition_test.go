package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/notation-go"
	nsigner "github.com/notaryproject/notation-go/signer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// This file runs the built trustpolicy binary against an OpenSSL CA that
// publishes partitioned CRLs (internal/e2e, CAOptions.Partitions), with
// local-mode signatures made by notation-go's signer, so it needs openssl
// and the Go toolchain but no registry or notation CLI.

// binWorld is a trust policy (strict, the OpenSSL root in ca:ossl) and the
// built binary, run with a private HOME.
type binWorld struct {
	bin, home, policy, store string
	ca                       *e2e.OpenSSLCA
}

func newBinWorld(t *testing.T, opts e2e.CAOptions) *binWorld {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the trustpolicy binary and an OpenSSL CA; skipped with -short")
	}
	ca := e2e.NewOpenSSLCAT(t, opts)
	dir := t.TempDir()
	w := &binWorld{bin: buildTrustpolicy(t), home: filepath.Join(dir, "home"), ca: ca,
		policy: filepath.Join(dir, "trustpolicy.json"), store: filepath.Join(dir, "truststore")}
	storeDir := filepath.Join(w.store, "x509", "ca", "ossl")
	for _, d := range []string{w.home, storeDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, ca.RootPath(), filepath.Join(storeDir, "root.crt"))
	policy := `{"version":"1.0","trustPolicies":[{"name":"partition","registryScopes":["*"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:ossl"],"trustedIdentities":["*"]}]}`
	if err := os.WriteFile(w.policy, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// buildTrustpolicy builds this command into a temporary folder.
func buildTrustpolicy(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "trustpolicy")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if b, err := exec.CommandContext(ctx, "go", "build", "-o", out, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// binRun is one run of the built binary.
type binRun struct {
	code        int
	out, errOut string
}

// run runs the binary in dir (the current folder when "") with only HOME
// and PATH set.
func (w *binWorld) run(t *testing.T, dir string, args ...string) binRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + w.home, "PATH=" + os.Getenv("PATH")}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	r := binRun{out: out.String(), errOut: errOut.String()}
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %s: %v", w.bin, strings.Join(args, " "), err)
	}
	return r
}

// localSignature signs a descriptor with leaf's key and chain (JWS) and
// returns verify's local-mode arguments.
func (w *binWorld) localSignature(t *testing.T, leaf string) []string {
	t.Helper()
	chain, err := testpki.LoadCertificates(w.ca.ChainPath(leaf))
	if err != nil {
		t.Fatal(err)
	}
	key, err := testpki.LoadSigner(filepath.Join(filepath.Dir(w.ca.ChainPath(leaf)), leaf+".key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := nsigner.NewGenericSigner(key, chain)
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("artifact signed by " + leaf)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(content), Size: int64(len(content))}
	const mt = "application/jose+json"
	env, _, err := s.Sign(context.Background(), desc, notation.SignerSignOptions{SignatureMediaType: mt})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sigPath, descPath := filepath.Join(dir, "sig.jws"), filepath.Join(dir, "desc.json")
	raw, _ := json.Marshal(desc)
	if err := os.WriteFile(sigPath, env, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(descPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--signature", sigPath, "--media-type", mt, "--descriptor", descPath, "--reference", "registry.example/partition@" + desc.Digest.String()}
}

// verify runs verify --output json on a local signature with cache.
func (w *binWorld) verify(t *testing.T, cache string, sig []string, extra ...string) (binRun, *trustpolicy.Report) {
	t.Helper()
	args := append([]string{"verify", "--policy", w.policy, "--truststore", w.store, "--crl-cache", cache,
		"--ocsp-timeout", "2s", "--crl-timeout", "3s", "--output", "json"}, extra...)
	r := w.run(t, "", append(args, sig...)...)
	var rep trustpolicy.Report
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatalf("verify: exit %d, json output: %v\n%s%s", r.code, err, r.out, r.errOut)
	}
	return r, &rep
}

// leafRevocation is the revocation evidence of the leaf of the last
// signature tried.
func leafRevocation(t *testing.T, rep *trustpolicy.Report) trustpolicy.CertRevocation {
	t.Helper()
	if len(rep.Signatures) == 0 {
		t.Fatalf("no signature result: %+v", rep)
	}
	c := rep.Signatures[len(rep.Signatures)-1].Result.Check(trustpolicy.TypeRevocation)
	if c == nil || len(c.Revocation) == 0 {
		t.Fatalf("no revocation evidence: %+v", rep.Signatures[len(rep.Signatures)-1].Result)
	}
	return c.Revocation[0]
}

// cachedIssuers lists the issuers of the CRLs in cache, with crl list.
func (w *binWorld) cachedIssuers(t *testing.T, cache string) []string {
	t.Helper()
	r := w.run(t, "", "crl", "list", "--crl-cache", cache, "--output", "json")
	var rep crlReport
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil || r.code != exitVerified {
		t.Fatalf("crl list: exit %d, %v\n%s%s", r.code, err, r.out, r.errOut)
	}
	var out []string
	for _, c := range rep.CRLs {
		out = append(out, c.Issuer)
	}
	return out
}

// filesHolding lists the files under dir whose content contains any of
// needles.
func filesHolding(t *testing.T, dir string, needles ...[]byte) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				out = append(out, p)
				break
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}

// TestE2ERevocationPartition: the intermediate publishes two partitioned
// CRLs; the leaf is in partition 1 and revoked; OCSP is down. Partition 2's
// valid, current CRL served at partition 1's URL must not let the leaf
// pass, and must leave nothing in the CRL cache that a later (offline) run
// could use. The honest CRL at the right URL revokes.
func TestE2ERevocationPartition(t *testing.T) {
	w := newBinWorld(t, e2e.CAOptions{Partitions: 2})
	ca := w.ca
	leafPath, _, err := ca.IssueLeafIn("p1-leaf", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	must(t, ca.Revoke(leafPath, "keyCompromise"))
	must(t, ca.PublishCRL())
	must(t, ca.SetOCSPDown(true))
	sig := w.localSignature(t, "p1-leaf")
	p1, p2 := ca.PartitionCRLURL(1), ca.PartitionCRLURL(2)
	p2DER := httpGet(t, p2)
	interCA := "CN=E2E OpenSSL Intermediate CA,O=Notation PKCS11 E2E,ST=WA,C=US"

	t.Run("other partition's CRL at the leaf's URL", func(t *testing.T) {
		must(t, ca.SetCRLModeFor(e2e.CANameIntermediate, e2e.CRLModeOtherPartition))
		cache := filepath.Join(t.TempDir(), "crl")
		r, rep := w.verify(t, cache, sig)
		leaf := leafRevocation(t, rep)
		if r.code != exitFailed || rep.Verdict == trustpolicy.VerdictVerified || leaf.Status != revocation.StatusUnknown {
			t.Fatalf("exit %d verdict %s leaf %s: the revoked leaf passed with another partition's CRL\n%s", r.code, rep.Verdict, leaf.Status, r.out)
		}
		for _, s := range []string{"issuing distribution point mismatch", p2, "not " + p1} {
			if !strings.Contains(leaf.Detail, s) {
				t.Errorf("leaf detail %q lacks %q", leaf.Detail, s)
			}
		}
		if got := filesHolding(t, cache, p2DER, []byte(p1), []byte(p2)); len(got) != 0 {
			t.Errorf("the cache holds the other partition's CRL or a mapping of the partition URLs: %v", got)
		}
		for _, iss := range w.cachedIssuers(t, cache) {
			if iss == interCA {
				t.Errorf("crl list shows a CRL of the intermediate: %v", w.cachedIssuers(t, cache))
			}
		}
		// A later offline run finds nothing to vouch for the leaf.
		r, rep = w.verify(t, cache, sig, "--offline")
		if leaf := leafRevocation(t, rep); r.code != exitFailed || leaf.Status != revocation.StatusUnknown || !strings.Contains(leaf.Detail, "no cached CRL for "+p1) {
			t.Errorf("offline after the substitution: exit %d leaf %s %q", r.code, leaf.Status, leaf.Detail)
		}
	})

	t.Run("right CRL at the right URL", func(t *testing.T) {
		must(t, ca.SetCRLModeFor(e2e.CANameIntermediate, e2e.CRLModeOK))
		cache := filepath.Join(t.TempDir(), "crl")
		r, rep := w.verify(t, cache, sig)
		leaf := leafRevocation(t, rep)
		if r.code != exitFailed || leaf.Status != revocation.StatusRevoked || leaf.Reason != "keyCompromise" ||
			leaf.Method != revocation.MethodOCSPFallbackCRL || leaf.URL != p1 {
			t.Fatalf("exit %d leaf %+v\n%s", r.code, leaf, r.errOut)
		}
		found := false
		for _, iss := range w.cachedIssuers(t, cache) {
			found = found || iss == interCA
		}
		if !found {
			t.Error("the partition's CRL was not cached")
		}
		r, rep = w.verify(t, cache, sig, "--offline")
		if leaf := leafRevocation(t, rep); r.code != exitFailed || leaf.Status != revocation.StatusRevoked || !leaf.FromCache {
			t.Errorf("offline: exit %d leaf %+v", r.code, leaf)
		}
	})
}

// httpGet returns the body at u (a loopback test server).
func httpGet(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return b.Bytes()
}
