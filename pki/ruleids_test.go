package pki_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testkit"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
)

// knownRule reports whether id is catalogued by pki.Rules with severity sev.
func knownRule(id pki.RuleID, sev pki.Severity) bool {
	for _, r := range pki.Rules() {
		if r.ID == id {
			return r.Severity == sev
		}
	}
	return false
}

// ruleTriggers returns, for every rule, findings of a chain that breaks it.
func ruleTriggers(t *testing.T) map[pki.RuleID]func() []pki.Finding {
	t.Helper()
	bad := func(name string) func() []pki.Finding {
		return func() []pki.Finding { return pki.LintChain(loadCerts(t, "bad", name+"-chain.pem"), epoch) }
	}
	root := newRoot(t, "IDs Root")
	inter := newSub(t, "IDs Intermediate", root, nil)
	leafUnder := func(ca *testCA, mut func(*x509.Certificate)) func() []pki.Finding {
		return func() []pki.Finding {
			leaf, _ := newLeaf(t, "IDs Leaf", ca, mut)
			return pki.LintChain([]*x509.Certificate{leaf, ca.cert, root.cert}, epoch)
		}
	}
	caUnderRoot := func(mut func(*x509.Certificate)) func() []pki.Finding {
		return func() []pki.Finding {
			return leafUnder(newSub(t, "IDs Mutated CA", root, mut), nil)()
		}
	}
	okLeaf := loadCert(t, "bad", "ok-leaf.crt")
	caInter := loadCert(t, "ca", "intermediate.crt")
	caRoot := loadCert(t, "ca", "root.crt")
	return map[pki.RuleID]func() []pki.Finding{
		pki.RuleExpired:     bad("expired"),
		pki.RuleNotYetValid: bad("not-yet-valid"),
		pki.RuleExpiresSoon: func() []pki.Finding {
			chain := loadCerts(t, "ec-256", "chain.pem")
			return pki.LintChain(chain, chain[0].NotAfter.Add(-10*24*time.Hour))
		},
		pki.RuleLeafCA:            bad("ca-leaf"),
		pki.RuleKeyUsage:          bad("no-keyusage"),
		pki.RuleKeyUsageCrit:      bad("keyusage-noncritical"),
		pki.RuleLeafKeyUsage:      leafUnder(inter, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageContentCommitment }),
		pki.RuleLeafExtraKeyUsage: bad("keyusage-keycertsign"),
		pki.RuleLeafExtKeyUsage:   bad("serverauth-eku"),
		pki.RuleLeafKeyType:       bad("rsa-1024"),
		pki.RuleSHA1Signature: func() []pki.Finding {
			key := loadSigner(t, "rsa-2048", "leaf.key")
			tmpl := leafTmpl("IDs SHA-1")
			tmpl.SignatureAlgorithm = x509.SHA1WithRSA
			return pki.LintChain([]*x509.Certificate{issue(t, tmpl, key.Public(), nil, key)}, epoch)
		},
		pki.RuleSubjectIdentity: leafUnder(inter, func(c *x509.Certificate) { c.Subject = pkix.Name{CommonName: "IDs Bare"} }),
		pki.RuleLeafSelfSigned:  bad("self-signed-leaf"),
		pki.RuleCABasicConstraints: func() []pki.Finding {
			self := loadCert(t, "bad", "self-signed-leaf.crt")
			return pki.LintChain([]*x509.Certificate{self, self}, epoch)
		},
		pki.RuleCABasicConstraintsCrit: caUnderRoot(func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{extension(t, oidBasicConstraints, false, struct{ IsCA bool }{true})}
		}),
		pki.RuleCAPathLength: func() []pki.Finding {
			k := newP256(t)
			rt := caTmpl("IDs PathLen0 Root")
			rt.MaxPathLen, rt.MaxPathLenZero = 0, true
			r0 := &testCA{issue(t, rt, &k.PublicKey, nil, k), k}
			in := newSub(t, "IDs PathLen0 Intermediate", r0, nil)
			leaf, _ := newLeaf(t, "IDs PathLen0 Leaf", in, nil)
			return pki.LintChain([]*x509.Certificate{leaf, in.cert, r0.cert}, epoch)
		},
		pki.RuleCAKeyUsage: caUnderRoot(func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature }),
		pki.RuleCAWeakKey: func() []pki.Finding {
			weak := loadSigner(t, "bad", "rsa-1024.key")
			wr := issue(t, caTmpl("IDs Weak Root"), weak.Public(), nil, weak)
			leaf := testkit.Issue(t, leafTmpl("IDs Under Weak Root"), &newP256(t).PublicKey, wr, weak)
			return pki.LintChain([]*x509.Certificate{leaf, wr}, epoch)
		},
		pki.RuleChainEmpty:         func() []pki.Finding { _, fs := pki.LintCertificates(nil, epoch); return fs },
		pki.RuleChainNoRoot:        func() []pki.Finding { return pki.LintChain([]*x509.Certificate{okLeaf, caInter}, epoch) },
		pki.RuleChainIssuerMissing: func() []pki.Finding { _, fs := pki.LintCertificates([]*x509.Certificate{okLeaf}, epoch); return fs },
		pki.RuleChainOrder:         bad("missing-intermediate"),
		pki.RuleChainSelfSignedMiddle: func() []pki.Finding {
			return pki.LintChain([]*x509.Certificate{okLeaf, caRoot, caInter}, epoch)
		},
		pki.RuleChainExtra: func() []pki.Finding {
			certs := append(loadCerts(t, "bad", "ok-leaf-chain.pem"), loadCerts(t, "ec-384", "chain.pem")[2])
			_, fs := pki.LintCertificates(certs, epoch)
			return fs
		},
		pki.RuleNotationRejects: func() []pki.Finding {
			refuse := func([]*x509.Certificate, *time.Time) error {
				return errors.New("refused by the stand-in for notation-core-go")
			}
			var ce *pki.ChainError
			if err := pki.CheckSigningChainWith(loadCerts(t, "ec-256", "chain.pem"), epoch, refuse); !errors.As(err, &ce) {
				t.Fatalf("a refusing notation check: %v", err)
			}
			return ce.Findings
		},
	}
}

// TestRuleIDs: every rule the linter can emit has a unique, stable ID,
// catalogued by pki.Rules with its severity and documented in
// docs/pki-workflow.md; a chain breaking each rule yields a finding with
// that ID; and no finding carries an ID or severity the catalogue lacks.
func TestRuleIDs(t *testing.T) {
	kebab := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	seen := map[pki.RuleID]bool{}
	for _, r := range pki.Rules() {
		switch {
		case seen[r.ID]:
			t.Errorf("rule ID %q is catalogued twice", r.ID)
		case !kebab.MatchString(string(r.ID)):
			t.Errorf("rule ID %q is not lower-case words joined by '-'", r.ID)
		case r.Severity != pki.SeverityError && r.Severity != pki.SeverityWarning:
			t.Errorf("rule %s: severity %q", r.ID, r.Severity)
		case r.Summary == "":
			t.Errorf("rule %s has no summary", r.ID)
		}
		seen[r.ID] = true
	}

	// Every RuleID constant of the package is catalogued, and nothing else.
	declared := ruleConstants(t)
	for id, name := range declared {
		if !seen[id] {
			t.Errorf("constant %s = %q is not in pki.Rules()", name, id)
		}
	}
	for id := range seen {
		if _, ok := declared[id]; !ok {
			t.Errorf("pki.Rules() lists %q, which is no RuleID constant", id)
		}
	}

	// Documented: a row "| `ID` | severity | ..." in docs/pki-workflow.md.
	doc, err := os.ReadFile(filepath.Join("..", "docs", "pki-workflow.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range pki.Rules() {
		if row := "| `" + string(r.ID) + "` | " + string(r.Severity) + " |"; !strings.Contains(string(doc), row) {
			t.Errorf("docs/pki-workflow.md has no row %q", row)
		}
	}

	triggers := ruleTriggers(t)
	for _, r := range pki.Rules() {
		t.Run(string(r.ID), func(t *testing.T) {
			trigger, ok := triggers[r.ID]
			if !ok {
				t.Fatalf("no chain in the table breaks rule %s", r.ID)
			}
			fs := trigger()
			found := false
			for _, f := range fs {
				if !knownRule(f.ID, f.Severity) {
					t.Errorf("finding with an uncatalogued ID or severity: %+v", f)
				}
				if f.ID == r.ID {
					found = true
					if f.Rule == "" || f.Fix == "" || f.Subject == "" {
						t.Errorf("finding %s lacks prose, fix or subject: %+v", r.ID, f)
					}
				}
			}
			if !found {
				t.Errorf("no %s finding in:%s", r.ID, showFindings(fs))
			}
		})
	}
}

// ruleConstants parses the package's non-test files and returns every
// constant of type RuleID, value to name.
func ruleConstants(t *testing.T) map[pki.RuleID]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[pki.RuleID]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "RuleID" {
				return true
			}
			for i, ident := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: RuleID constant %s is not a string literal", name, ident.Name)
					continue
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				if prev, dup := out[pki.RuleID(v)]; dup {
					t.Errorf("%s and %s are both %q", prev, ident.Name, v)
				}
				out[pki.RuleID(v)] = ident.Name
			}
			return true
		})
	}
	return out
}
