package main

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// tagWarning is notation v1.3.2's warning for verifying by tag
// (cmd/notation/manifest.go), for tag v1.
const tagWarning = "Warning: Always verify the artifact using digest(@sha256:...) rather than a tag(:v1) because resolved digest may not point to the same signed artifact, as tags are mutable.\n"

// writeDesc writes a descriptor file with the given digest.
func writeDesc(t *testing.T, dgst string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "desc.json")
	raw := `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + dgst + `","size":19}`
	if err := os.WriteFile(p, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLocalVerifyFailures(t *testing.T) {
	w := newLocalWorld(t, goodPolicy)
	tampered := filepath.Join(t.TempDir(), "tampered")
	raw, _ := os.ReadFile(w.envelope["application/jose+json"])
	raw = bytes.Replace(raw, []byte(`"signature":"`), []byte(`"signature":"AA`), 1)
	if err := os.WriteFile(tampered, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ones := "sha256:" + strings.Repeat("1", 64)
	zeros := "sha256:" + strings.Repeat("0", 64)
	otherDesc := writeDesc(t, ones)
	zeroDesc := writeDesc(t, zeros)
	badDesc := writeDesc(t, "sha256:abc")
	cose := w.envelope["application/cose"]
	local := func(desc, ref string, extra ...string) []string {
		return append([]string{"verify", "--signature", cose, "--media-type", "application/cose", "--descriptor", desc, "--reference", ref}, extra...)
	}
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"tampered envelope", []string{"verify", "--signature", tampered, "--media-type", "application/jose+json", "--descriptor", w.desc, "--reference", "registry.example/app@" + w.digest}, exitFailed, []string{"integrity"}},
		{"wrong media type", []string{"verify", "--signature", cose, "--media-type", "application/jose+json", "--descriptor", w.desc, "--reference", "registry.example/app@" + w.digest}, exitFailed, []string{"integrity"}},
		// The reference names one artifact, the descriptor another: bad
		// input, naming both digests, never "verified".
		{"reference digest is not the descriptor's", local(otherDesc, "registry.example/app@"+w.digest), exitUsage, []string{w.digest, ones}},
		{"all-zero reference digest", local(w.desc, "registry.example/app@"+zeros), exitUsage, []string{zeros, w.digest}},
		{"all-zero descriptor digest", local(zeroDesc, "registry.example/app@"+zeros), exitUsage, []string{"all zeros", zeroDesc}},
		{"malformed descriptor digest", local(badDesc, "registry.example/app:v1"), exitUsage, []string{"sha256:abc", badDesc}},
		{"malformed reference digest", local(w.desc, "registry.example/app@sha256:xyz"), exitUsage, []string{"sha256:xyz"}},
		// Reference and descriptor agree, but the signature covers another
		// artifact.
		{"signature of another artifact", local(otherDesc, "registry.example/app@"+ones), exitFailed, []string{"failed: registry.example/app@" + ones, "content descriptor mismatch"}},
		{"no policy for repo", local(w.desc, "registry.example/other@"+w.digest), exitFailed, []string{"no applicable trust policy"}},
		{"metadata required", w.local("application/cose", "--user-metadata", "team=release"), exitFailed, []string{"unable to find specified metadata"}},
		{"missing flag", []string{"verify", "--signature", cose}, exitUsage, []string{"needs all of"}},
		{"no reference", []string{"verify"}, exitUsage, []string{"needs one artifact reference"}},
		{"both modes", append(w.local("application/cose"), "registry.example/app:v1"), exitUsage, []string{"not both"}},
		{"reference without tag or digest", local(w.desc, "registry.example/app"), exitUsage, []string{"neither a tag nor a digest"}},
		{"missing signature file", []string{"verify", "--signature", "/nonexistent/sig", "--media-type", "application/cose", "--descriptor", w.desc, "--reference", "registry.example/app@" + w.digest}, exitUsage, []string{"/nonexistent/sig"}},
		{"bad output", w.local("application/cose", "--output", "yaml"), exitUsage, []string{"text or json"}},
		{"unknown command", []string{"frobnicate"}, exitUsage, []string{"unknown command"}},
		{"bad max signatures", []string{"verify", "--max-signatures", "0", "registry.example/app:v1"}, exitUsage, []string{"--max-signatures"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := w.run(t, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d:\n%s%s", code, c.code, out, errOut)
			}
			for _, want := range c.want {
				if !strings.Contains(out+errOut, want) {
					t.Errorf("output lacks %q:\n%s%s", want, out, errOut)
				}
			}
			if c.code == exitUsage && strings.Contains(out, "verified") {
				t.Errorf("bad input printed a verdict:\n%s", out)
			}
		})
	}
}

// TestLocalVerifyHeadline: every output names the digest that was
// verified, the descriptor's, also when the reference is a tag.
func TestLocalVerifyHeadline(t *testing.T) {
	w := newLocalWorld(t, goodPolicy)
	verified := "registry.example/app@" + w.digest
	for _, ref := range []string{verified, "registry.example/app:v1", "registry.example/app:v1@" + w.digest} {
		tag := strings.Contains(ref, ":v1") && !strings.Contains(ref, "@")
		args := []string{"--signature", w.envelope["application/cose"], "--media-type", "application/cose", "--descriptor", w.desc, "--reference", ref}
		code, out, errOut := w.run(t, append([]string{"verify"}, args...)...)
		if code != exitVerified || !strings.HasPrefix(out, "verified: "+verified+": ") {
			t.Errorf("%s: verify exit %d: %s%s", ref, code, out, errOut)
		}
		if (errOut == tagWarning) != tag || tag && strings.Contains(out, "Warning") {
			t.Errorf("%s: stderr %q, stdout %q; want the tag warning on stderr exactly when verifying by tag", ref, errOut, out)
		}
		code, out, _ = w.run(t, append([]string{"explain"}, args...)...)
		if code != exitVerified || !strings.HasPrefix(out, "Artifact:   "+verified+"\n") || tag != strings.Contains(out, `resolved from tag "v1"`) {
			t.Errorf("%s: explain exit %d:\n%s", ref, code, out)
		}
		code, out, errOut = w.run(t, append([]string{"verify", "--output", "json"}, args...)...)
		var rep trustpolicy.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitVerified || rep.Reference != verified {
			t.Fatalf("%s: json exit %d, %v: %s", ref, code, err, out)
		}
		if tag && (rep.Tag != "v1" || len(rep.Warnings) != 1 || "Warning: "+rep.Warnings[0]+"\n" != tagWarning || errOut != tagWarning) {
			t.Errorf("%s: tag %q, warnings %q, stderr %q", ref, rep.Tag, rep.Warnings, errOut)
		}
	}
}

// issueLeaf issues a code-signing leaf for the ec-256 test leaf key from
// the ec-256 test intermediate, with subject and revocation URLs of our
// choosing, and returns the chain (leaf, intermediate, root) and the key.
func issueLeaf(t *testing.T, subject pkix.Name, ocsp, crl []string) ([]*x509.Certificate, crypto.Signer) {
	t.Helper()
	chain, err := testpki.LoadCertificates(filepath.Join(pkiDir, "ec-256", "chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	interKey, err := testpki.LoadSigner(filepath.Join(pkiDir, "ec-256", "intermediate.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := testpki.LoadSigner(filepath.Join(pkiDir, "ec-256", "leaf.key"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(0x7e57),
		Subject:               subject,
		NotBefore:             testpki.Epoch().AddDate(0, 0, -365),
		NotAfter:              testpki.Epoch().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		OCSPServer:            ocsp,
		CRLDistributionPoints: crl,
	}
	der, err := x509.CreateCertificate(nil, tmpl, chain[1], key.Public(), interKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{leaf, chain[1], chain[2]}, key
}

func testSubject(cn string) pkix.Name {
	return pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"Notation PKCS11 Test"}, CommonName: cn}
}

// hasRawControl reports a control character other than newline and tab.
func hasRawControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || r == '\u202e' })
}

// TestExplainEscapesCertificateSubject: a signing certificate whose subject
// holds terminal escapes cannot paint a fake verdict: explain, verify and
// the fix show the escaped form.
func TestExplainEscapesCertificateSubject(t *testing.T) {
	evil := "\x1b[2K\rVERIFIED\u202e"
	chain, key := issueLeaf(t, testSubject(evil), nil, nil)
	w := newLocalWorldWith(t, strings.Replace(goodPolicy, "O=Notation PKCS11 Test", "O=Someone Else", 1), chain, key)
	args := w.local("application/cose")[1:]
	for _, cmd := range [][]string{{"explain"}, {"verify"}, {"explain", "--brief"}} {
		oneLine := len(cmd) > 1 || cmd[0] == "verify"
		cmd = append(cmd, args...)
		code, out, errOut := w.run(t, cmd...)
		if code != exitFailed {
			t.Fatalf("%s: exit %d\n%s%s", cmd[0], code, out, errOut)
		}
		if hasRawControl(out) || hasRawControl(errOut) {
			t.Errorf("%s prints raw control characters:\n%q", cmd[0], out)
		}
		if want := `CN=\x1b[2K\rVERIFIED\u202e`; oneLine && !strings.Contains(out, want[:20]) || !oneLine && !strings.Contains(out, want) {
			t.Errorf("%s does not show the escaped subject:\n%s", cmd[0], out)
		}
		if oneLine && strings.Count(out, "\n") != 1 {
			t.Errorf("%s: not one line:\n%s", cmd[0], out)
		}
	}
	// The fix names the exact subject, printably, and works as printed.
	code, out, _ := w.run(t, append([]string{"explain"}, args...)...)
	if code != exitFailed || !strings.Contains(out, `CN=\\1b[2K\\0dVERIFIED\\e2\\80\\ae`) {
		t.Fatalf("explain fix:\n%s", out)
	}
	applyIdentityFix(t, w, out)
	if code, out, errOut := w.run(t, append([]string{"verify"}, args...)...); code != exitVerified {
		t.Errorf("after the printed fix: exit %d\n%s%s", code, out, errOut)
	}
}

// identityFixLine is the identity fix of explain's "How to fix".
var identityFixLine = regexp.MustCompile(`(?m)^  - authenticity \(enforce\): add ("(?:[^"\\]|\\.)*") to trustedIdentities of statement ("(?:[^"\\]|\\.)*") \(trustPolicies\[(\d+)\]\)$`)

// applyIdentityFix does what the printed fix says to the world's policy
// file: add the JSON string to trustedIdentities of the statement.
func applyIdentityFix(t *testing.T, w *localWorld, explain string) {
	t.Helper()
	m := identityFixLine.FindStringSubmatch(explain)
	if m == nil {
		t.Fatalf("explain prints no identity fix of the documented form:\n%s", explain)
	}
	var id, name string
	if err := json.Unmarshal([]byte(m[1]), &id); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(m[2]), &name); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(w.config, "trustpolicy.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	stmts := doc["trustPolicies"].([]any)
	i, err := strconv.Atoi(m[3])
	if err != nil || i >= len(stmts) {
		t.Fatalf("fix names trustPolicies[%s] of %d", m[3], len(stmts))
	}
	st := stmts[i].(map[string]any)
	if st["name"] != name {
		t.Fatalf("fix names statement %q, trustPolicies[%d] is %q", name, i, st["name"])
	}
	st["trustedIdentities"] = append(st["trustedIdentities"].([]any), id)
	out, _ := json.Marshal(doc)
	w.writePolicy(t, string(out))
}

// TestIdentityFixWorksAsPrinted: the identity fix reads exactly as
// documented and, applied to the policy file, makes the artifact verify.
func TestIdentityFixWorksAsPrinted(t *testing.T) {
	w := newLocalWorld(t, strings.Replace(goodPolicy, "O=Notation PKCS11 Test", "O=Someone Else", 1))
	args := w.local("application/cose")[1:]
	code, out, _ := w.run(t, append([]string{"explain"}, args...)...)
	const want = `  - authenticity (enforce): add "x509.subject: C=US, ST=WA, O=Notation PKCS11 Test, CN=Test Signing EC-256, L=Seattle" to trustedIdentities of statement "release" (trustPolicies[0])`
	if code != exitFailed || !strings.Contains(out, want+"\n") {
		t.Fatalf("exit %d; explain lacks\n%s\nin\n%s", code, want, out)
	}
	code, out, _ = w.run(t, append([]string{"verify", "--output", "json"}, args...)...)
	var rep trustpolicy.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitFailed || !strings.HasPrefix(rep.Signatures[0].Fix, "add \"x509.subject: C=US") {
		t.Fatalf("json fix: exit %d, %v: %s", code, err, out)
	}
	_, out, _ = w.run(t, append([]string{"explain"}, args...)...)
	applyIdentityFix(t, w, out)
	if code, out, errOut := w.run(t, append([]string{"verify"}, args...)...); code != exitVerified {
		t.Errorf("after the printed fix: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := w.run(t, "lint", "--strict"); code != exitVerified {
		t.Errorf("lint of the fixed policy: exit %d\n%s", code, out)
	}
}

// TestOfflineSource: under --offline nothing comes from the network, and
// explain's SOURCE column says so.
func TestOfflineSource(t *testing.T) {
	chain, key := issueLeaf(t, testSubject("Revocable"), []string{"http://127.0.0.1:9/ocsp"}, []string{"http://127.0.0.1:9/leaf.crl"})
	w := newLocalWorldWith(t, goodPolicy, chain, key)
	args := append([]string{"explain", "--offline", "--crl-cache", t.TempDir()}, w.local("application/cose")[1:]...)
	code, out, errOut := w.run(t, args...)
	if code != exitFailed || !strings.Contains(out, "Revocation (signing chain):") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "network") {
		t.Errorf("offline explain names the network as a source:\n%s", out)
	}
	if !strings.Contains(out, "none http://127.0.0.1:9/") {
		t.Errorf("offline explain does not say that nothing answered:\n%s", out)
	}
	// With --truststore, the offline hint's crl import command names the
	// same trust stores, so that it works as printed.
	store := filepath.Join(w.config, "truststore")
	args = append([]string{"verify", "--output", "json", "--truststore", store, "--offline", "--crl-cache", t.TempDir()}, w.local("application/cose")[1:]...)
	_, out, _ = w.run(t, args...)
	var rep trustpolicy.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	leaf := rep.Signatures[0].Check(trustpolicy.TypeRevocation).Revocation[0]
	if !strings.Contains(leaf.Detail, "trustpolicy crl import ") || !strings.Contains(leaf.Detail, "--truststore "+store+" ") {
		t.Errorf("the offline hint's crl import lacks --truststore %s: %s", store, leaf.Detail)
	}
}

// TestVerifyBriefLong: verify's line names the reference once and stays
// under 200 characters whatever the inputs; explain and JSON keep all.
func TestVerifyBriefLong(t *testing.T) {
	w := newLocalWorld(t, strings.Replace(goodPolicy, `"registryScopes":["registry.example/app"]`, `"registryScopes":["*"]`, 1))
	long := "registry.example/" + strings.Repeat("team/", 40) + "app"
	chain, key := issueLeaf(t, testSubject(strings.Repeat("Very Long Signer Name ", 8)), nil, nil)
	wl := newLocalWorldWith(t, strings.Replace(goodPolicy, `"registryScopes":["registry.example/app"]`, `"registryScopes":["*"]`, 1), chain, key)
	wl.writePolicy(t, strings.Replace(strings.Replace(goodPolicy, `"registryScopes":["registry.example/app"]`, `"registryScopes":["*"]`, 1), "O=Notation PKCS11 Test", "O=Someone Else", 1))
	for _, c := range []struct {
		w    *localWorld
		ref  string
		code int
	}{
		{w, "registry.example/app@" + w.digest, exitVerified},
		{w, long + "@" + w.digest, exitVerified},
		{wl, "registry.example/app@" + wl.digest, exitFailed},
		{wl, long + "@" + wl.digest, exitFailed},
	} {
		args := []string{"--signature", c.w.envelope["application/cose"], "--media-type", "application/cose", "--descriptor", c.w.desc, "--reference", c.ref}
		for _, cmd := range [][]string{{"verify"}, {"explain", "--brief"}} {
			code, out, errOut := c.w.run(t, append(cmd, args...)...)
			line := strings.TrimSuffix(out, "\n")
			if code != c.code || strings.Contains(line, "\n") || utf8.RuneCountInString(line) >= 200 {
				t.Errorf("%s %s: exit %d, %d characters:\n%s%s", cmd[0], c.ref, code, utf8.RuneCountInString(line), out, errOut)
			}
			if n := strings.Count(line, "registry.example/"); n != 1 {
				t.Errorf("%s: the line names the reference %d times: %s", cmd[0], n, line)
			}
			if !strings.Contains(line, c.w.digest) {
				t.Errorf("%s: the line does not name the verified digest: %s", cmd[0], line)
			}
		}
		_, out, _ := c.w.run(t, append([]string{"explain"}, args...)...)
		if c.code == exitFailed && !strings.Contains(out, "add \"x509.subject: ") {
			t.Errorf("explain lost the fix:\n%s", out)
		}
	}
}
