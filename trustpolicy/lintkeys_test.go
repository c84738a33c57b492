package trustpolicy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// lkStmt is a valid statement with extra text spliced into its object.
func lkStmt(extra string) string {
	return `{"name":"release","registryScopes":["*"],"signatureVerification":{"level":"strict"},` +
		`"trustStores":["ca:acme"],"trustedIdentities":["*"]` + extra + `}`
}

func lkDoc(stmts ...string) string {
	return `{"version":"1.0","trustPolicies":[` + strings.Join(stmts, ",") + `]}`
}

func TestLintKeys(t *testing.T) {
	type want struct {
		kind       trustpolicy.KeyProblemKind
		path       string
		suggestion string
		mention    string
	}
	cases := []struct {
		name string
		doc  string
		want []want
	}{
		{"clean", lkDoc(lkStmt("")), nil},
		{"trustStore for trustStores", lkDoc(lkStmt(`,"trustStore":["ca:x"]`)),
			[]want{{trustpolicy.KeyUnknown, "trustPolicies[0].trustStore", "trustStores", `did you mean "trustStores"?`}}},
		{"trustedIdentity", lkDoc(lkStmt(`,"trustedIdentity":["*"]`)),
			[]want{{trustpolicy.KeyUnknown, "trustPolicies[0].trustedIdentity", "trustedIdentities", "did you mean"}}},
		{"nothing close", lkDoc(lkStmt(`,"comment":"x"`)),
			[]want{{trustpolicy.KeyUnknown, "trustPolicies[0].comment", "", `its keys are "name", "registryScopes"`}}},
		{"statement-level verifyTimestamp", lkDoc(lkStmt(`,"verifyTimestamp":"afterCertExpiry"`)),
			[]want{{trustpolicy.KeyMisplaced, "trustPolicies[0].verifyTimestamp", "trustPolicies[0].signatureVerification.verifyTimestamp", "move it to trustPolicies[0].signatureVerification.verifyTimestamp"}}},
		{"top-level trustStores", `{"version":"1.0","trustStores":["ca:x"],"trustPolicies":[` + lkStmt("") + `]}`,
			[]want{{trustpolicy.KeyMisplaced, "trustStores", "trustPolicies[N].trustStores", "does not belong in the trust policy document"}}},
		{"trustStores inside signatureVerification", lkDoc(strings.Replace(lkStmt(""), `{"level":"strict"}`, `{"level":"strict","trustStores":["ca:x"]}`, 1)),
			[]want{{trustpolicy.KeyMisplaced, "trustPolicies[0].signatureVerification.trustStores", "trustPolicies[0].trustStores", ""}}},
		{"unknown in signatureVerification", lkDoc(strings.Replace(lkStmt(""), `{"level":"strict"}`, `{"level":"strict","overide":{}}`, 1)),
			[]want{{trustpolicy.KeyUnknown, "trustPolicies[0].signatureVerification.overide", "override", ""}}},
		{"duplicate key", lkDoc(lkStmt(`,"trustStores":["ca:other"]`)),
			[]want{{trustpolicy.KeyDuplicate, "trustPolicies[0].trustStores", "", "uses the last value"}}},
		{"duplicate in another case", lkDoc(lkStmt(`,"TrustStores":["ca:other"]`)),
			[]want{
				{trustpolicy.KeyDuplicate, "trustPolicies[0].TrustStores", "", `"trustStores" and "TrustStores" are the same field`},
				{trustpolicy.KeyCase, "trustPolicies[0].TrustStores", "trustStores", "differs in case"},
			}},
		{"duplicate override type", lkDoc(strings.Replace(lkStmt(""), `{"level":"strict"}`, `{"level":"strict","override":{"revocation":"log","revocation":"skip"}}`, 1)),
			[]want{{trustpolicy.KeyDuplicate, "trustPolicies[0].signatureVerification.override.revocation", "", "appears more than once"}}},
		{"duplicate top-level key", `{"version":"1.0","version":"1.0","trustPolicies":[` + lkStmt("") + `]}`,
			[]want{{trustpolicy.KeyDuplicate, "version", "", ""}}},
		{"odd key in second statement", lkDoc(lkStmt(""), strings.Replace(lkStmt(`,"a b":1`), "release", "other", 1)),
			[]want{{trustpolicy.KeyUnknown, `trustPolicies[1]["a b"]`, "", "unknown key"}}},
		{"escape in a key", lkDoc(lkStmt(`,"x\u001b[2K":1`)),
			[]want{{trustpolicy.KeyUnknown, `trustPolicies[0]["x\x1b[2K"]`, "", `"x\x1b[2K"`}}},
		{"unknown keys below unknown keys are not walked", lkDoc(lkStmt(`,"extra":{"trustStore":1}`)),
			[]want{{trustpolicy.KeyUnknown, "trustPolicies[0].extra", "", ""}}},
		{"trailing data is ignored, as notation does", lkDoc(lkStmt("")) + `{"junk":1}`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := trustpolicy.ParseDocument([]byte(c.doc)); err != nil {
				t.Fatalf("the case is not a document notation decodes: %v", err)
			}
			got, err := trustpolicy.LintKeys([]byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d problems, want %d: %v", len(got), len(c.want), got)
			}
			for i, w := range c.want {
				g := got[i]
				if g.Kind != w.kind || g.Path != w.path || g.Suggestion != w.suggestion || !strings.Contains(g.Msg, w.mention) {
					t.Errorf("problem %d = %+v, want %+v", i, *g, w)
				}
				if textsafe.Has(g.Error()) {
					t.Errorf("problem %d has control characters: %q", i, g.Error())
				}
			}
		})
	}
}

func TestLintKeysBadInput(t *testing.T) {
	for _, in := range []string{"", "{", `{"trustPolicies":[{"name":`, "[1,2", `{"a":}`} {
		if _, err := trustpolicy.LintKeys([]byte(in)); !errors.Is(err, trustpolicy.ErrLintInput) {
			t.Errorf("LintKeys(%q) = %v, want ErrLintInput", in, err)
		}
	}
	big := bytes.Repeat([]byte(" "), trustpolicy.MaxPolicyFileSize+1)
	if _, err := trustpolicy.LintKeys(big); !errors.Is(err, trustpolicy.ErrLintInput) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("LintKeys(too big) = %v", err)
	}
	// Deep nesting under an unknown key is skipped without recursion.
	deep := `{"version":"1.0","x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `,"trustPolicies":[]}`
	if got, err := trustpolicy.LintKeys([]byte(deep)); err != nil || len(got) != 1 {
		t.Errorf("deep: %v, %v", got, err)
	}
}

// TestLintKeysDoNotChangeVerdicts: key problems never make Compile (and so
// verification) reject a document notation accepts.
func TestLintKeysDoNotChangeVerdicts(t *testing.T) {
	doc := lkDoc(lkStmt(`,"trustStore":["ca:x"],"verifyTimestamp":"bogus","trustStores":["ca:acme"]`))
	probs, err := trustpolicy.LintKeys([]byte(doc))
	if err != nil || len(probs) != 3 {
		t.Fatalf("LintKeys = %v, %v", probs, err)
	}
	d, err := trustpolicy.ParseDocument([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trustpolicy.Compile(d); err != nil {
		t.Errorf("Compile rejects a document notation accepts: %v", err)
	}
	if _, ok := tpDiffQuiet(t, []byte(doc)); !ok {
		t.Error("notation and Compile disagree")
	}
}

// tpDiffQuiet reports whether notation and Compile agree on data.
func tpDiffQuiet(t *testing.T, data []byte) (string, bool) {
	t.Helper()
	return "", tpDiff(t, "lintkeys", data)
}

// FuzzLintKeys walks arbitrary bytes: LintKeys never panics, names a path
// for every problem, and agrees with encoding/json: when it reports no
// unknown or misplaced key, a decoder that disallows unknown fields
// accepts what the plain decoder accepts, and when it reports one, that
// decoder refuses the document.
//
//	go test -run '^$' -fuzz FuzzLintKeys ./trustpolicy/
func FuzzLintKeys(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "policy", "*.json"))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(lkDoc(lkStmt(`,"trustStore":["ca:x"],"verifyTimestamp":"always"`))))
	f.Add([]byte(lkDoc(lkStmt(`,"TrustStores":["ca:x"]`))))
	f.Fuzz(func(t *testing.T, data []byte) {
		probs, err := trustpolicy.LintKeys(data)
		if err != nil {
			if !errors.Is(err, trustpolicy.ErrLintInput) {
				t.Fatalf("error %v does not wrap ErrLintInput", err)
			}
			return
		}
		unknown := false
		for _, p := range probs {
			if p.Path == "" || p.Msg == "" {
				t.Fatalf("problem without a usable path: %+v", *p)
			}
			if p.Kind == trustpolicy.KeyUnknown || p.Kind == trustpolicy.KeyMisplaced {
				unknown = true
			}
		}
		var plain trustpolicy.Document
		if json.NewDecoder(bytes.NewReader(data)).Decode(&plain) != nil {
			return
		}
		strict := json.NewDecoder(bytes.NewReader(data))
		strict.DisallowUnknownFields()
		var doc trustpolicy.Document
		serr := strict.Decode(&doc)
		if unknown != (serr != nil) {
			t.Fatalf("LintKeys found unknown keys: %v; encoding/json with DisallowUnknownFields: %v\n%s\n%s", unknown, serr, data, fmtProblems(probs))
		}
	})
}

func fmtProblems(ps []*trustpolicy.KeyProblem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s %s\n", p.Kind, p.Error())
	}
	return b.String()
}
