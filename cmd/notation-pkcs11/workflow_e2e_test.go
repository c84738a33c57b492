package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testca"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
	"github.com/notation-pkcs11/notation-pkcs11/plugin"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// These tests drive the workflow commands (token list, key generate, csr,
// cert import, doctor) as a user would: the built binary against a fresh
// SoftHSM token, the test CA issuing from the CSR, and the real notation
// CLI signing through the installed plugin and verifying.

const (
	wfPIN     = "wf-Pin-4412" // distinctive, so a leak is easy to spot
	wfToken   = "workflow"
	wfSubject = "C=US,ST=WA,L=Seattle,O=Acme Release,CN=Release Signing"
)

type wfWorld struct {
	tools    e2e.Tools
	hsm      *e2e.SoftHSM
	reg      *e2e.Registry
	notation *e2e.Notation
	bin      string
	env      []string // for the binary run by hand
	ca       *testca.CA
	dir      string
}

func newWF(t *testing.T) *wfWorld {
	t.Helper()
	tools := e2e.ToolsT(t)
	hsm := e2e.NewSoftHSMT(t)
	if err := hsm.InitToken(wfToken, "so-"+wfPIN, wfPIN); err != nil {
		t.Fatal(err)
	}
	caDir, err := testca.FindDir(".")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := testca.Load(caDir)
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	w := &wfWorld{tools: tools, hsm: hsm, bin: pluginBinary(t), ca: ca, dir: t.TempDir()}
	w.env = append(hsm.Env(), "PATH="+os.Getenv("PATH"), "HOME="+t.TempDir(),
		"NOTATION_PKCS11_PIN="+wfPIN, "NOTATION_PKCS11_MODULE="+hsm.Module(), "NOTATION_PKCS11_CACHE="+cache)
	w.reg = e2e.StartRegistryT(t, tools)
	w.notation = e2e.NewNotationT(t, tools, append(hsm.Env(),
		"NOTATION_PKCS11_PIN="+wfPIN, "NOTATION_PKCS11_MODULE="+hsm.Module(), "NOTATION_PKCS11_CACHE="+cache)...)
	w.must(t, w.notation, "plugin", "install", "--file", w.bin)
	root := filepath.Join(w.dir, "dev-root.crt")
	if err := os.WriteFile(root, testca.PEM(ca.Root), 0o644); err != nil {
		t.Fatal(err)
	}
	w.must(t, w.notation, "cert", "add", "--type", "ca", "--store", "release", root)
	return w
}

// np runs the binary with args; extraEnv entries override w.env.
func (w *wfWorld) np(t *testing.T, extraEnv []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env = append(append([]string(nil), w.env...), extraEnv...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("notation-pkcs11 %s: %v", strings.Join(args, " "), err)
	}
	r := result{out.String(), errOut.String(), code}
	if strings.Contains(r.stdout+r.stderr, wfPIN) {
		t.Fatalf("notation-pkcs11 %s printed the PIN:\n%s", strings.Join(args, " "), r)
	}
	return r
}

func (w *wfWorld) mustNP(t *testing.T, args ...string) result {
	t.Helper()
	r := w.np(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("notation-pkcs11 %s: %s", strings.Join(args, " "), r)
	}
	return r
}

func (w *wfWorld) must(t *testing.T, n *e2e.Notation, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, code, err := n.Run(ctx, args...)
	r := result{out, errOut, code}
	if err != nil || code != 0 {
		t.Fatalf("notation %s: %v %s", strings.Join(args, " "), err, r)
	}
	if strings.Contains(out+errOut, wfPIN) {
		t.Fatalf("notation %s printed the PIN", strings.Join(args, " "))
	}
	return r
}

func (w *wfWorld) notationRun(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, code, err := w.notation.Run(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return result{out, errOut, code}
}

func (w *wfWorld) push(t *testing.T, name string) (ref, digest string) {
	t.Helper()
	ref = w.reg.Ref("wf/" + name + ":v1")
	digest = e2e.PushT(t, w.tools, ref, []byte("artifact "+name+" "+t.Name()))
	return w.reg.Ref("wf/" + name + "@" + digest), digest
}

// generate runs key generate and returns the printed key URI.
func (w *wfWorld) generate(t *testing.T, kt, label string) string {
	t.Helper()
	r := w.mustNP(t, "key", "generate", "--token", "pkcs11:token="+wfToken, "--type", kt, "--label", label, "--output", "json")
	var out struct{ URI, KeySpec string }
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("key generate --output json: %v\n%s", err, r)
	}
	if !strings.Contains(out.URI, "object="+label) || !strings.Contains(out.URI, ";id=") {
		t.Fatalf("key generate printed %q", out.URI)
	}
	return out.URI
}

// request runs csr for uri, checks the request with openssl req -verify and
// Go's x509, and returns it.
func (w *wfWorld) request(t *testing.T, uri, subject string) *x509.CertificateRequest {
	t.Helper()
	path := filepath.Join(w.dir, strings.NewReplacer(":", "_", ";", "_", "=", "_", "%", "_").Replace(uri)+".csr")
	w.mustNP(t, "csr", "--key", uri, "--subject", subject, "--out", path)
	if out, err := exec.Command("openssl", "req", "-in", path, "-verify", "-noout").CombinedOutput(); err != nil {
		t.Fatalf("openssl req -verify: %v\n%s", err, out)
	} else if !strings.Contains(string(out), "verify OK") {
		t.Fatalf("openssl req -verify did not say OK:\n%s", out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("%s is not a PEM request", path)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatalf("CheckSignature: %v", err)
	}
	want, err := pki.ParseSubject(subject)
	if err != nil {
		t.Fatal(err)
	}
	if csr.Subject.String() != want.String() {
		t.Fatalf("request subject %q, want %q", csr.Subject, want)
	}
	var ku, eku bool
	for _, e := range csr.Extensions {
		switch e.Id.String() {
		case "2.5.29.15":
			ku = e.Critical
		case "2.5.29.37":
			eku = true
		}
	}
	if !ku || !eku {
		t.Fatalf("request lacks critical keyUsage (%v) or the EKU (%v)", ku, eku)
	}
	return csr
}

// issue has the test CA issue the request and writes the chain file.
func (w *wfWorld) issue(t *testing.T, csr *x509.CertificateRequest, name string, p testca.Profile) (string, *x509.Certificate) {
	t.Helper()
	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	leaf, err := w.ca.IssueCSRWith(csr, now, now.Add(90*24*time.Hour), p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(w.dir, name+"-chain.pem")
	if err := os.WriteFile(path, testca.PEM(append([]*x509.Certificate{leaf}, w.ca.Chain()...)...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, leaf
}

func (w *wfWorld) doctor(t *testing.T, uri string, extraEnv ...string) (*plugin.DoctorReport, result) {
	t.Helper()
	r := w.np(t, extraEnv, "doctor", "--key", uri, "--output", "json")
	var rep plugin.DoctorReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("doctor --output json: %v\n%s", err, r)
	}
	return &rep, r
}

func TestE2EWorkflowEmptyTokenToVerifiedSignature(t *testing.T) {
	w := newWF(t)
	tl := w.mustNP(t, "token", "list", "--output", "json")
	if !strings.Contains(tl.stdout, `"label": "`+wfToken+`"`) {
		t.Fatalf("token list does not show the token:\n%s", tl)
	}
	if r := w.mustNP(t, "key", "list", "--token", "pkcs11:token="+wfToken); !strings.Contains(r.stdout, "no keys") {
		t.Fatalf("key list on an empty token:\n%s", r)
	}
	auditLog := filepath.Join(w.dir, "audit", "sign.log")
	if err := os.MkdirAll(filepath.Dir(auditLog), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, kt := range []string{"ec-256", "rsa-3072"} {
		t.Run(kt, func(t *testing.T) {
			label := "release-" + kt
			uri := w.generate(t, kt, label)
			if r := w.np(t, nil, "doctor", "--key", uri); r.code != doctorExit(plugin.CheckCertificate) || !strings.Contains(r.stdout, "no certificate") {
				t.Fatalf("doctor before cert import: %s", r)
			}
			csr := w.request(t, uri, wfSubject)
			chainFile, leaf := w.issue(t, csr, kt, testca.Profile{})
			if r := w.mustNP(t, "cert", "lint", chainFile); !strings.Contains(r.stdout, "ok:") {
				t.Fatalf("cert lint: %s", r)
			}
			w.mustNP(t, "cert", "import", "--key", uri, chainFile)
			kl := w.mustNP(t, "key", "list", "--token", "pkcs11:token="+wfToken)
			if !strings.Contains(kl.stdout, label) || !strings.Contains(kl.stdout, "CN=Release Signing") {
				t.Fatalf("key list after import:\n%s", kl)
			}
			rep, r := w.doctor(t, uri)
			if r.code != 0 || !rep.OK {
				t.Fatalf("doctor: %s", r)
			}
			fp := sha256.Sum256(leaf.Raw)
			if id, err := trustpolicy.IdentityFor(leaf); err != nil || rep.CertificateSHA256 != hex.EncodeToString(fp[:]) || rep.Identity != id {
				t.Fatalf("doctor names another certificate: %+v", rep)
			}
			text := w.mustNP(t, "doctor", "--key", uri, "--name", label)
			if !strings.Contains(text.stdout, "notation key add --plugin pkcs11 --id '"+uri+"' "+label) {
				t.Fatalf("doctor does not print the key add command:\n%s", text)
			}
			// Use what doctor printed: the key add command and the policy statement.
			w.must(t, w.notation, "key", "add", "--plugin", "pkcs11", "--id", uri, "--plugin-config", "audit_log="+auditLog, label)
			if err := w.notation.WriteTrustPolicy(rep.TrustPolicy); err != nil {
				t.Fatal(err)
			}
			ref, digest := w.push(t, kt)
			w.must(t, w.notation, "sign", "--insecure-registry", "--key", label, ref)
			w.must(t, w.notation, "verify", "--insecure-registry", ref)
			rec := lastAudit(t, auditLog)
			if rec.Outcome != "success" || rec.KeyID != uri || rec.CertificateSHA256 != rep.CertificateSHA256 ||
				rec.TargetArtifact == nil || rec.TargetArtifact.Digest != digest || rec.KeySpec != strings.ToUpper(kt) {
				t.Fatalf("audit record %+v does not describe the signature of %s with %s", rec, digest, uri)
			}
		})
	}
	t.Run("audit log records failures and keeps mode 0600", func(t *testing.T) {
		ref, _ := w.push(t, "fail")
		bad := e2e.NewNotation(w.tools.Notation, filepath.Dir(w.notation.ConfigDir()), append(w.notation.Env(), "NOTATION_PKCS11_PIN=0000-wrong"))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, _, code, err := bad.Run(ctx, "sign", "--insecure-registry", "--key", "release-ec-256", ref); err != nil || code == 0 {
			t.Fatalf("sign with a wrong PIN: exit %d, %v", code, err)
		}
		rec := lastAudit(t, auditLog)
		if rec.Outcome != "failure" || rec.ErrorCode != "ACCESS_DENIED" || rec.TargetArtifact == nil {
			t.Fatalf("failure record: %+v", rec)
		}
		st, err := os.Stat(auditLog)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("audit log mode %04o, want 0600", st.Mode().Perm())
		}
		b, _ := os.ReadFile(auditLog)
		if strings.Contains(string(b), wfPIN) || strings.Contains(string(b), "0000-wrong") {
			t.Fatal("the audit log holds a PIN")
		}
		if n := strings.Count(string(b), "\n"); n != 3 {
			t.Fatalf("want 3 audit lines (2 signatures, 1 failure), got %d:\n%s", n, b)
		}
	})
	t.Run("concurrent signers append whole lines", func(t *testing.T) {
		const n = 8
		refs := make([]string, n)
		digests := map[string]bool{}
		for i := range refs {
			var d string
			refs[i], d = w.push(t, fmt.Sprintf("concurrent-%d", i))
			digests[d] = true
		}
		before := len(auditLines(t, auditLog))
		var wg sync.WaitGroup
		codes := make([]int, n)
		for i := range refs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				defer cancel()
				key := []string{"release-ec-256", "release-rsa-3072"}[i%2]
				format := []string{"jws", "cose"}[(i/2)%2]
				_, _, code, err := w.notation.Run(ctx, "sign", "--insecure-registry", "--signature-format", format, "--key", key, refs[i])
				if err != nil {
					code = -1
				}
				codes[i] = code
			}(i)
		}
		wg.Wait()
		for i, c := range codes {
			if c != 0 {
				t.Fatalf("sign %d exited %d", i, c)
			}
		}
		recs := auditLines(t, auditLog)
		if len(recs)-before != n {
			t.Fatalf("%d new audit lines, want %d", len(recs)-before, n)
		}
		for _, r := range recs[before:] { // JWS and COSE payloads alike name the artifact
			if r.Outcome != "success" || r.TargetArtifact == nil || !digests[r.TargetArtifact.Digest] {
				t.Fatalf("record %+v is not one of the %d signatures", r, n)
			}
			delete(digests, r.TargetArtifact.Digest)
		}
	})
}

// auditLines parses every line of the audit log.
func auditLines(t *testing.T, path string) []plugin.AuditRecord {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []plugin.AuditRecord
	for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var rec plugin.AuditRecord
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("audit line %d is not one JSON record: %v\n%q", i+1, err, l)
		}
		out = append(out, rec)
	}
	return out
}

func lastAudit(t *testing.T, path string) plugin.AuditRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var last plugin.AuditRecord
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		last = plugin.AuditRecord{}
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("audit line %d is not JSON: %v", n+1, err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("audit log is empty")
	}
	return last
}

// storeOnToken writes certificates onto the token directly, bypassing cert
// import's checks, to build the broken setups doctor must catch.
func (w *wfWorld) storeOnToken(t *testing.T, keyURIStr string, certs []*x509.Certificate) {
	t.Helper()
	u, err := pkcs11.ParseURI(keyURIStr)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := pkcs11.Open(context.Background(), u, pkcs11.Options{ModulePath: w.hsm.Module()})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	for i, c := range certs {
		id, label := u.ID, u.Object
		if i > 0 {
			id, label = c.SubjectKeyId, c.Subject.CommonName
		}
		if err := tok.ImportCertificate(context.Background(), pkcs11.NewPIN(wfPIN), id, label, c); err != nil {
			t.Fatal(err)
		}
	}
}

func TestE2EDoctorCatchesEachBrokenLink(t *testing.T) {
	w := newWF(t)
	t.Setenv("SOFTHSM2_CONF", w.hsm.ConfPath()) // storeOnToken runs the module in this process
	good := w.generate(t, "ec-256", "good")
	chain, _ := w.issue(t, w.request(t, good, wfSubject), "good", testca.Profile{})
	w.mustNP(t, "cert", "import", "--key", good, chain)

	noCert := w.generate(t, "ec-256", "no-cert")

	other := w.generate(t, "ec-256", "other-key")
	otherChain, _ := w.issue(t, w.request(t, other, wfSubject), "other", testca.Profile{})
	mismatch := w.generate(t, "ec-256", "mismatch")
	otherCerts := readChain(t, otherChain)
	w.storeOnToken(t, mismatch, otherCerts[:1])

	expired := w.generate(t, "ec-256", "expired")
	expCSR := w.request(t, expired, wfSubject)
	past := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	expLeaf, err := w.ca.IssueCSR(expCSR, past.Add(-24*time.Hour), past)
	if err != nil {
		t.Fatal(err)
	}
	w.storeOnToken(t, expired, []*x509.Certificate{expLeaf})

	serverAuth := w.generate(t, "ec-256", "server-auth")
	saChain, _ := w.issue(t, w.request(t, serverAuth, wfSubject), "server-auth", testca.Profile{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	w.storeOnToken(t, serverAuth, readChain(t, saChain)[:1])

	cases := []struct {
		name, uri string
		env       []string
		failed    string
		want      []string
	}{
		{"wrong PIN", good, []string{"NOTATION_PKCS11_PIN=0000-wrong"}, plugin.CheckPIN, []string{"PIN is incorrect"}},
		{"no PIN", good, []string{"NOTATION_PKCS11_PIN="}, plugin.CheckPIN, []string{"no PIN"}},
		{"no certificate", noCert, nil, plugin.CheckCertificate, []string{"no certificate with the key's CKA_ID"}},
		{"certificate for another key", mismatch, nil, plugin.CheckMatch, []string{"does not match the signing key"}},
		{"expired chain", expired, nil, plugin.CheckChain, []string{"expired on"}},
		{"chain breaking a rule", serverAuth, nil, plugin.CheckChain, []string{"serverAuth", "fix:"}},
		{"module missing", good + "?module-path=/nonexistent/libpkcs11.so", nil, plugin.CheckModule, []string{"/nonexistent/libpkcs11.so"}},
		{"token missing", "pkcs11:token=no-such-token;object=good", nil, plugin.CheckToken, []string{"no-such-token"}},
		{"key missing", "pkcs11:token=" + wfToken + ";object=no-such-key", nil, plugin.CheckKey, []string{"no-such-key"}},
		{"pin-value refused", good + "?pin-value=" + wfPIN, nil, plugin.CheckConfig, []string{"pin-value is refused"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, r := w.doctor(t, c.uri, c.env...)
			if rep.OK || rep.Failed != c.failed || r.code != doctorExit(c.failed) {
				t.Fatalf("want the %s link broken (exit %d): %s", c.failed, doctorExit(c.failed), r)
			}
			last := rep.Checks[len(rep.Checks)-1]
			for _, want := range c.want {
				if !strings.Contains(last.Detail, want) {
					t.Errorf("the failed check does not say %q: %+v", want, last)
				}
			}
			txt := w.np(t, c.env, "doctor", "--key", c.uri)
			if txt.code != r.code || !strings.Contains(txt.stderr, "broken link: "+c.failed) {
				t.Fatalf("text doctor: %s", txt)
			}
		})
	}
	t.Run("healthy key passes", func(t *testing.T) {
		if rep, r := w.doctor(t, good); !rep.OK || r.code != 0 {
			t.Fatalf("doctor: %s", r)
		}
	})
	t.Run("cert import refuses what doctor would catch", func(t *testing.T) {
		if r := w.np(t, nil, "cert", "import", "--key", noCert, otherChain); r.code != cli.ExitFailed || !strings.Contains(r.stderr, "does not match the signing key") {
			t.Fatalf("import of another key's certificate: %s", r)
		}
		if r := w.np(t, nil, "cert", "import", "--key", serverAuth, saChain); r.code != cli.ExitFailed || !strings.Contains(r.stderr, "serverAuth") {
			t.Fatalf("import of a serverAuth chain: %s", r)
		}
	})
	t.Run("PIN on the command line is refused", func(t *testing.T) {
		r := w.np(t, nil, "doctor", "--key", good, "--pin", "1234")
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "never taken on the command line") || strings.Contains(r.stderr, "1234") {
			t.Fatalf("--pin: %s", r)
		}
	})
}

func readChain(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	certs, err := testpki.LoadCertificates(path)
	if err != nil {
		t.Fatal(err)
	}
	return certs
}
