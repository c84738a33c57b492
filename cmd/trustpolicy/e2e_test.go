package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// These tests verify signatures made by the real notation CLI v1.3.2 in a
// real registry on 127.0.0.1, with `notation verify` and with this command
// on the same configuration, and require the same verdict. They skip only
// when the tools are missing and neither CI nor NOTATION_PKCS11_E2E=required
// is set.

type e2eWorld struct {
	tools    e2e.Tools
	reg      *e2e.Registry
	notation *e2e.Notation
}

func newE2EWorld(t *testing.T) *e2eWorld {
	t.Helper()
	tools := e2e.ToolsT(t)
	w := &e2eWorld{tools: tools, reg: e2e.StartRegistryT(t, tools), notation: e2e.NewNotationT(t, tools)}
	// An RSA-2048 key and self-signed certificate "CN=test,O=Notary,L=Seattle,ST=WA,C=US",
	// added to the trust store ca:test.
	w.mustNotation(t, "cert", "generate-test", "--default", "test")
	return w
}

func (w *e2eWorld) mustNotation(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, errOut, code, err := w.notation.Run(ctx, args...)
	if err != nil || code != 0 {
		t.Fatalf("notation %s: exit %d, %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, err, out, errOut)
	}
	return out
}

// notationVerify runs `notation verify` and reports whether it passed.
func (w *e2eWorld) notationVerify(t *testing.T, ref string) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, errOut, code, err := w.notation.Run(ctx, "verify", "--insecure-registry", ref)
	if err != nil {
		t.Fatalf("notation verify: %v", err)
	}
	return code == 0, out + errOut
}

// ours runs this command in-process with notation's configuration.
func (w *e2eWorld) ours(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runWithConfig(context.Background(), w.notation.ConfigDir(), time.Now, args...)
}

func policyDoc(stmts ...map[string]any) map[string]any {
	return map[string]any{"version": "1.0", "trustPolicies": stmts}
}

func stmt(name string, scopes []string, level string, stores, ids []string) map[string]any {
	s := map[string]any{
		"name":                  name,
		"registryScopes":        scopes,
		"signatureVerification": map[string]any{"level": level},
	}
	if stores != nil {
		s["trustStores"] = stores
	}
	if ids != nil {
		s["trustedIdentities"] = ids
	}
	return s
}

func TestE2ENotationSignaturesSameVerdict(t *testing.T) {
	w := newE2EWorld(t)
	repo := w.reg.Ref("e2e/app")
	digest := e2e.PushT(t, w.tools, repo+":v1", []byte("artifact for trustpolicy"))
	ref := repo + "@" + digest
	w.mustNotation(t, "sign", "--insecure-registry", "--signature-format", "cose", ref)
	w.mustNotation(t, "sign", "--insecure-registry", "--signature-format", "jws", ref)
	unsigned := repo + "@" + e2e.PushT(t, w.tools, repo+":unsigned", []byte("nobody signed this"))

	// A second self-signed root in its own store, trusted by nobody's
	// signature.
	other := e2e.NewNotationT(t, w.tools)
	ctx := context.Background()
	if _, e, code, err := other.Run(ctx, "cert", "generate-test", "other"); err != nil || code != 0 {
		t.Fatalf("generate other cert: %v %s", err, e)
	}
	if err := w.notation.AddCert("ca", "other", other.ConfigDir()+"/localkeys/other.crt"); err != nil {
		t.Fatal(err)
	}

	star := []string{"*"}
	cases := []struct {
		name   string
		doc    map[string]any
		ref    string
		want   trustpolicy.Verdict
		output string // substring of verify's line
		detail string // substring of explain's text ("" for output)
	}{
		{"strict any identity", policyDoc(stmt("p", star, "strict", []string{"ca:test"}, star)), ref, trustpolicy.VerdictVerified, "verified", ""},
		{"strict exact scope", policyDoc(stmt("p", []string{repo}, "strict", []string{"ca:test"}, star), stmt("w", star, "strict", []string{"ca:other"}, star)), ref, trustpolicy.VerdictVerified, `policy "p"`, ""},
		{"wildcard with untrusted store", policyDoc(stmt("p", []string{w.reg.Ref("e2e/other")}, "strict", []string{"ca:test"}, star), stmt("w", star, "strict", []string{"ca:other"}, star)), ref, trustpolicy.VerdictFailed, "authenticity", ""},
		{"matching identity", policyDoc(stmt("p", star, "strict", []string{"ca:test"}, []string{"x509.subject: C=US, ST=WA, O=Notary"})), ref, trustpolicy.VerdictVerified, "verified", ""},
		{"identity mismatch", policyDoc(stmt("p", star, "strict", []string{"ca:test"}, []string{"x509.subject: C=US, ST=WA, O=Somebody Else"})), ref, trustpolicy.VerdictFailed, "authenticity", `add "x509.subject: C=US, ST=WA, O=Notary, CN=test, L=Seattle" to trustedIdentities of statement "p" (trustPolicies[0])`},
		{"identity mismatch audit", policyDoc(stmt("p", star, "audit", []string{"ca:test"}, []string{"x509.subject: C=US, ST=WA, O=Somebody Else"})), ref, trustpolicy.VerdictVerified, "logged", ""},
		{"untrusted root", policyDoc(stmt("p", star, "strict", []string{"ca:other"}, star)), ref, trustpolicy.VerdictFailed, "authenticity", "add the root certificate"},
		{"untrusted root permissive", policyDoc(stmt("p", star, "permissive", []string{"ca:other"}, star)), ref, trustpolicy.VerdictFailed, "authenticity", ""},
		{"untrusted root audit", policyDoc(stmt("p", star, "audit", []string{"ca:other"}, star)), ref, trustpolicy.VerdictVerified, "logged", ""},
		{"missing store", policyDoc(stmt("p", star, "strict", []string{"ca:nothere"}, star)), ref, trustpolicy.VerdictFailed, "authenticity", "nothere"},
		{"skip", policyDoc(stmt("p", star, "skip", nil, nil)), ref, trustpolicy.VerdictSkipped, "skip", ""},
		{"no applicable policy", policyDoc(stmt("p", []string{w.reg.Ref("e2e/other")}, "strict", []string{"ca:test"}, star)), ref, trustpolicy.VerdictFailed, "no applicable trust policy", "registryScopes"},
		{"unsigned artifact", policyDoc(stmt("p", star, "strict", []string{"ca:test"}, star)), unsigned, trustpolicy.VerdictFailed, "no signature", ""},
		{"by tag", policyDoc(stmt("p", star, "strict", []string{"ca:test"}, star)), repo + ":v1", trustpolicy.VerdictVerified, digest, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := w.notation.WriteTrustPolicy(c.doc); err != nil {
				t.Fatal(err)
			}
			notationOK, notationOut := w.notationVerify(t, c.ref)
			code, out, errOut := w.ours(t, "verify", "--plain-http", c.ref)
			oursOK := code == exitVerified
			if notationOK != oursOK {
				t.Fatalf("notation verify passed=%v, trustpolicy exit %d\nnotation: %s\nours: %s%s", notationOK, code, notationOut, out, errOut)
			}
			if !strings.Contains(out, c.output) || strings.Count(out, "\n") != 1 || len([]rune(out)) > 200 {
				t.Errorf("text output %q is not one line under 200 characters that mentions %q", out, c.output)
			}
			// By tag, both warn on stderr in the same words.
			byTag := !strings.Contains(c.ref, "@")
			if byTag != (errOut == tagWarning) || byTag != strings.Contains(notationOut, strings.TrimSpace(tagWarning)) {
				t.Errorf("tag warning: ours %q; notation: %s", errOut, notationOut)
			}
			code, out, errOut = w.ours(t, "verify", "--plain-http", "--output", "json", c.ref)
			var rep trustpolicy.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("json output: %v\n%s%s", err, out, errOut)
			}
			if rep.Verdict != c.want {
				t.Errorf("verdict %s, want %s (%s)", rep.Verdict, c.want, rep.Error)
			}
			if code != exitFor(c.want) {
				t.Errorf("exit %d, want %d", code, exitFor(c.want))
			}
			if c.want == trustpolicy.VerdictVerified && c.doc["trustPolicies"].([]map[string]any)[0]["signatureVerification"].(map[string]any)["level"] != "audit" {
				// The first signature (notation lists newest first or
				// oldest first; either way one of ours) verified.
				if len(rep.Signatures) == 0 || rep.Signatures[len(rep.Signatures)-1].Verdict != trustpolicy.VerdictVerified {
					t.Errorf("no verified signature in %+v", rep.Signatures)
				}
			}
			if byTag && (rep.Tag != "v1" || len(rep.Warnings) != 1) {
				t.Errorf("json tag %q, warnings %q", rep.Tag, rep.Warnings)
			}
			code, out, _ = w.ours(t, "explain", "--plain-http", c.ref)
			if code != exitFor(c.want) || !strings.Contains(out, "Verdict:") || !strings.Contains(out, c.detail) {
				t.Errorf("explain exit %d, lacks %q:\n%s", code, c.detail, out)
			}
		})
	}
}

func TestE2EBothFormatsEachVerify(t *testing.T) {
	w := newE2EWorld(t)
	if err := w.notation.WriteTrustPolicy(policyDoc(stmt("p", []string{"*"}, "strict", []string{"ca:test"}, []string{"x509.subject: C=US, ST=WA, O=Notary"}))); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"cose", "jws"} {
		t.Run(format, func(t *testing.T) {
			repo := w.reg.Ref("e2e/" + format)
			digest := e2e.PushT(t, w.tools, repo+":v1", []byte("only "+format))
			ref := repo + "@" + digest
			w.mustNotation(t, "sign", "--insecure-registry", "--signature-format", format, ref)
			code, out, errOut := w.ours(t, "verify", "--plain-http", "--output", "json", ref)
			if code != exitVerified {
				t.Fatalf("exit %d: %s%s", code, out, errOut)
			}
			var rep trustpolicy.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"cose": "application/cose", "jws": "application/jose+json"}[format]
			if len(rep.Signatures) != 1 || rep.Signatures[0].Signature.MediaType != want {
				t.Fatalf("signatures %+v, want one %s", rep.Signatures, want)
			}
			s := rep.Signatures[0]
			if s.Signature.TargetArtifact == nil || s.Signature.TargetArtifact.Digest != digest {
				t.Errorf("signed target %+v, want %s", s.Signature.TargetArtifact, digest)
			}
			if len(s.Chain) != 1 || s.Chain[0].Trusted != "ca:test" {
				t.Errorf("chain %+v: want the self-signed test certificate, trusted in ca:test", s.Chain)
			}
			for _, c := range s.Checks {
				if c.Type == trustpolicy.TypeRevocation || c.Type == trustpolicy.TypeAuthenticTimestamp || c.Outcome == trustpolicy.OutcomePassed {
					continue
				}
				t.Errorf("check %s: %s %s", c.Type, c.Outcome, c.Error)
			}
		})
	}
}
