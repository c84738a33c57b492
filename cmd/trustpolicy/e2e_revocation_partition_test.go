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
	"regexp"
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

// binWorld is a notation configuration under a private HOME (the default
// ~/.config/notation: strict policy, the OpenSSL root in ca:ossl) and the
// built binary.
type binWorld struct {
	bin, home, policy, store string
	ca                       *e2e.OpenSSLCA
}

func newBinWorld(t *testing.T, opts e2e.CAOptions) *binWorld {
	t.Helper()
	if testing.Short() && !e2e.Required() {
		t.Skip("builds the trustpolicy binary and an OpenSSL CA; skipped with -short")
	}
	ca := e2e.NewOpenSSLCAT(t, opts)
	w := &binWorld{bin: buildTrustpolicy(t), ca: ca}
	w.home = w.newHome(t)
	cfg := filepath.Join(w.home, ".config", "notation")
	w.policy, w.store = filepath.Join(cfg, "trustpolicy.json"), filepath.Join(cfg, "truststore")
	return w
}

// newHome makes a HOME whose notation configuration trusts the CA's root
// (another machine with the same trust stores).
func (w *binWorld) newHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	cfg := filepath.Join(home, ".config", "notation")
	storeDir := filepath.Join(cfg, "truststore", "x509", "ca", "ossl")
	if err := os.MkdirAll(storeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, w.ca.RootPath(), filepath.Join(storeDir, "root.crt"))
	policy := `{"version":"1.0","trustPolicies":[{"name":"e2e","registryScopes":["*"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:ossl"],"trustedIdentities":["*"]}]}`
	if err := os.WriteFile(filepath.Join(cfg, "trustpolicy.json"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
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
	return w.runAs(t, w.home, dir, args...)
}

// runAs is run with another HOME (another machine).
func (w *binWorld) runAs(t *testing.T, home, dir string, args ...string) binRun {
	t.Helper()
	return w.exec(t, home, dir, w.bin, args...)
}

// exec runs name with args in dir, with only HOME and PATH (the built
// binary's folder first) set.
func (w *binWorld) exec(t *testing.T, home, dir, name string, args ...string) binRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + home, "PATH=" + filepath.Dir(w.bin) + string(os.PathListSeparator) + os.Getenv("PATH")}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	r := binRun{out: out.String(), errOut: errOut.String()}
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
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

// TestE2ERevocationOfflineHint: an offline verify without CRLs prints how
// to bring them in; the printed commands, run as printed (crl fetch on
// another machine with the same trust stores, crl import here), make the
// offline verify pass. The leaf's CRL is issued by the intermediate CA,
// which is not a trust anchor: both commands need the chain, which the
// hint saved.
func TestE2ERevocationOfflineHint(t *testing.T) {
	w := newBinWorld(t, e2e.CAOptions{})
	if _, _, err := w.ca.IssueLeaf("hint", ""); err != nil {
		t.Fatal(err)
	}
	sig := w.localSignature(t, "hint")
	cache := filepath.Join(t.TempDir(), "crl")
	r, rep := w.verify(t, cache, sig, "--offline")
	leaf := leafRevocation(t, rep)
	if r.code != exitFailed || leaf.Status != revocation.StatusUnknown {
		t.Fatalf("offline with an empty cache: exit %d leaf %+v", r.code, leaf)
	}
	cmds := regexp.MustCompile(`"(trustpolicy crl [^"]+)"`).FindAllStringSubmatch(leaf.Detail, -1)
	saved := regexp.MustCompile(`the signing chain is saved as (\S+);`).FindStringSubmatch(leaf.Detail)
	if len(cmds) != 2 || saved == nil || !strings.HasPrefix(cmds[0][1], "trustpolicy crl fetch ") || !strings.HasPrefix(cmds[1][1], "trustpolicy crl import ") {
		t.Fatalf("the hint does not name the chain file and the fetch and import commands: %q", leaf.Detail)
	}
	t.Logf("hint: %s", leaf.Detail)

	// The connected machine: its own HOME with the same trust store, and a
	// folder holding a copy of the saved chain.
	connected := t.TempDir()
	copyFile(t, saved[1], filepath.Join(connected, filepath.Base(saved[1])))
	if r := w.shell(t, w.newHome(t), connected, cmds[0][1]); r.code != exitVerified {
		t.Fatalf("%s: exit %d\n%s%s", cmds[0][1], r.code, r.out, r.errOut)
	}
	// Back here: a folder holding the crls folder.
	here := t.TempDir()
	if err := os.CopyFS(filepath.Join(here, "crls"), os.DirFS(filepath.Join(connected, "crls"))); err != nil {
		t.Fatal(err)
	}
	if r := w.shell(t, w.home, here, cmds[1][1]); r.code != exitVerified {
		t.Fatalf("%s: exit %d\n%s%s", cmds[1][1], r.code, r.out, r.errOut)
	}
	r, rep = w.verify(t, cache, sig, "--offline")
	if r.code != exitVerified || rep.Verdict != trustpolicy.VerdictVerified {
		t.Fatalf("offline after the printed commands: exit %d verdict %s leaf %+v\n%s", r.code, rep.Verdict, leafRevocation(t, rep), r.errOut)
	}
	if leaf := leafRevocation(t, rep); leaf.Status != revocation.StatusOK || !leaf.FromCache {
		t.Errorf("leaf %+v", leaf)
	}
}

// TestE2ECRLIssuerAdvice: crl fetch of an intermediate-issued CRL by URL,
// and crl import of it, without the intermediate: the error says the CRL
// was downloaded (or read) but not accepted, why, and that --issuer with
// the intermediate is the fix, never a trust store; the fix works.
func TestE2ECRLIssuerAdvice(t *testing.T) {
	w := newBinWorld(t, e2e.CAOptions{})
	u := w.ca.CRLURL()
	issuer := `"CN=E2E OpenSSL Intermediate CA,O=Notation PKCS11 E2E,ST=WA,C=US"`
	crlFile := filepath.Join(t.TempDir(), "intermediate.crl")
	if err := os.WriteFile(crlFile, httpGet(t, u), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		facts []string
	}{
		{"fetch URL", []string{"crl", "fetch", u}, []string{"the CRL downloaded from " + u + " was not accepted", "its issuer " + issuer + " is none of the 1 certificates given",
			"pass --issuer FILE with the certificate of " + issuer + ", the intermediate CA that issued it (it must chain to a trust store)", "or give the signing chain file"}},
		{"import", []string{"crl", "import", crlFile}, []string{"the CRL was not imported", "its issuer " + issuer + " is none of the 1 certificates given",
			"pass --issuer FILE with the certificate of " + issuer}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "crl")
			r := w.run(t, "", append([]string{tc.args[0], tc.args[1], "--crl-cache", cache}, tc.args[2:]...)...)
			if r.code != exitFailed {
				t.Fatalf("exit %d, want 1\n%s%s", r.code, r.out, r.errOut)
			}
			for _, f := range tc.facts {
				if !strings.Contains(r.errOut, f) {
					t.Errorf("stderr lacks %q:\n%s", f, r.errOut)
				}
			}
			if strings.Contains(r.errOut, "failed to fetch") {
				t.Errorf("stderr says the download failed:\n%s", r.errOut)
			}
			if m := adviceToTrust.FindString(r.errOut); m != "" {
				t.Errorf("stderr advises adding a certificate to a trust store (%q):\n%s", m, r.errOut)
			}
			// The fix: the intermediate with --issuer.
			r = w.run(t, "", append([]string{tc.args[0], tc.args[1], "--crl-cache", cache, "--issuer", w.ca.IntermediatePath()}, tc.args[2:]...)...)
			if r.code != exitVerified || !strings.Contains(r.out, "CN=E2E OpenSSL Intermediate CA") {
				t.Errorf("with --issuer: exit %d\n%s%s", r.code, r.out, r.errOut)
			}
		})
	}
}

// adviceToTrust matches advice to put a certificate into a trust store
// (as revocation's TestNoAdviceToTrustIntermediates): never given, since
// an intermediate in a trust store becomes a trust anchor.
var adviceToTrust = regexp.MustCompile(`(?i)\b(add|put|copy|move|place|install|import)\b[^.;:]*\b(to|into|in)\s+(a|the|your|its)\s+trust\s*stores?\b`)

// shell runs a printed command line with sh in dir, with HOME home and the
// built binary first on PATH as "trustpolicy".
func (w *binWorld) shell(t *testing.T, home, dir, line string) binRun {
	t.Helper()
	return w.exec(t, home, dir, "sh", "-c", line)
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
