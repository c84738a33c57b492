package pki_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corex509 "github.com/notaryproject/notation-core-go/x509"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testkit"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
)

func errorFindings(fs []pki.Finding) []pki.Finding {
	var out []pki.Finding
	for _, f := range fs {
		if f.Severity == pki.SeverityError {
			out = append(out, f)
		}
	}
	return out
}

func warningFindings(fs []pki.Finding) []pki.Finding {
	var out []pki.Finding
	for _, f := range fs {
		if f.Severity == pki.SeverityWarning {
			out = append(out, f)
		}
	}
	return out
}

func showFindings(fs []pki.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  [%s] #%d %s", f.Severity, f.Index, f.String())
	}
	return b.String()
}

// assertAgreesWithNotation checks that CheckSigningChain and
// notation-core-go's ValidateCodeSigningCertChain accept and refuse the same
// chains, and that CheckSigningChain refuses exactly when LintChain has an
// error finding or notation refuses.
func assertAgreesWithNotation(t *testing.T, name string, chain []*x509.Certificate, now time.Time) {
	t.Helper()
	ours := pki.CheckSigningChain(chain, now)
	theirs := corex509.ValidateCodeSigningCertChain(chain, &now)
	if (ours == nil) != (theirs == nil) {
		t.Errorf("%s at %s: CheckSigningChain = %v, but notation-core-go ValidateCodeSigningCertChain = %v", name, now.Format(time.DateOnly), ours, theirs)
	}
	lintErrs := errorFindings(pki.LintChain(chain, now))
	if ours == nil && len(lintErrs) > 0 {
		t.Errorf("%s at %s: CheckSigningChain accepts a chain with lint errors:%s", name, now.Format(time.DateOnly), showFindings(lintErrs))
	}
	if ours != nil {
		var ce *pki.ChainError
		if !errors.As(ours, &ce) {
			t.Errorf("%s: CheckSigningChain error %T is not a *ChainError", name, ours)
		} else if len(ce.Findings) == 0 {
			t.Errorf("%s: ChainError without findings", name)
		}
	}
}

func TestLintGoodChains(t *testing.T) {
	for _, kt := range keyTypes {
		t.Run(kt, func(t *testing.T) {
			chain := loadCerts(t, kt, "chain.pem")
			if fs := pki.LintChain(chain, epoch); len(fs) != 0 {
				t.Errorf("LintChain found:%s", showFindings(fs))
			}
			if err := pki.CheckSigningChain(chain, epoch); err != nil {
				t.Errorf("CheckSigningChain: %v", err)
			}
			if err := corex509.ValidateCodeSigningCertChain(chain, &epoch); err != nil {
				t.Errorf("notation-core-go refuses the good chain: %v", err)
			}
			// Still good a year before and nine years after the epoch.
			for _, now := range []time.Time{epoch.AddDate(0, 0, -364), epoch.AddDate(9, 0, 0)} {
				if err := pki.CheckSigningChain(chain, now); err != nil {
					t.Errorf("CheckSigningChain at %s: %v", now.Format(time.DateOnly), err)
				}
			}
		})
	}
	for _, name := range []string{"ok-leaf", "other-key"} {
		t.Run("bad/"+name, func(t *testing.T) {
			chain := loadCerts(t, "bad", name+"-chain.pem")
			if fs := pki.LintChain(chain, epoch); len(fs) != 0 {
				t.Errorf("LintChain found:%s", showFindings(fs))
			}
			if err := pki.CheckSigningChain(chain, epoch); err != nil {
				t.Errorf("CheckSigningChain: %v", err)
			}
		})
	}
}

func TestLintBadLeafFixtures(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   pki.RuleID
		says []string // the values the rule names (dates, key sizes, usages)
		fix  []string // key words of its fix
	}{
		{"serverauth-eku", pki.RuleLeafExtKeyUsage, []string{"serverAuth"}, []string{"extendedKeyUsage", "codeSigning"}},
		{"no-keyusage", pki.RuleKeyUsage, nil, []string{"keyUsage = critical, digitalSignature"}},
		{"keyusage-noncritical", pki.RuleKeyUsageCrit, nil, []string{"critical", "digitalSignature"}},
		{"keyusage-keycertsign", pki.RuleLeafExtraKeyUsage, []string{"keyCertSign"}, []string{"keyUsage = critical, digitalSignature", "nothing else"}},
		{"ca-leaf", pki.RuleLeafCA, nil, []string{"CA:FALSE"}},
		{"expired", pki.RuleExpired, []string{"2021-01-01T00:00:00Z"}, []string{"issue a new certificate"}},
		{"not-yet-valid", pki.RuleNotYetValid, []string{"2090-01-01T00:00:00Z"}, []string{"clock"}},
		{"rsa-1024", pki.RuleLeafKeyType, []string{"RSA 1024 bits"}, []string{"RSA 2048, 3072 or 4096", "P-256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chain := loadCerts(t, "bad", tc.name+"-chain.pem")
			leaf := loadCert(t, "bad", tc.name+".crt")
			if !leaf.Equal(chain[0]) {
				t.Fatal("the chain file does not start with the certificate")
			}
			subject := leaf.Subject.String()

			findings := pki.LintChain(chain, epoch)
			errs := errorFindings(findings)
			if len(errs) != 1 {
				t.Fatalf("want exactly one error finding, got:%s", showFindings(findings))
			}
			f := errs[0]
			if f.Index != 0 || f.Subject != subject || f.ID != tc.id {
				t.Errorf("finding %s is on #%d %q, want %s on the leaf #0 %q", f.ID, f.Index, f.Subject, tc.id, subject)
			}
			for _, w := range tc.says {
				if !strings.Contains(f.Rule, w) {
					t.Errorf("rule %q does not contain %q", f.Rule, w)
				}
			}
			for _, w := range tc.fix {
				if !strings.Contains(f.Fix, w) {
					t.Errorf("fix %q does not contain %q", f.Fix, w)
				}
			}
			if ws := warningFindings(findings); len(ws) != 0 {
				t.Errorf("unexpected warnings:%s", showFindings(ws))
			}

			err := pki.CheckSigningChain(chain, epoch)
			var ce *pki.ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("CheckSigningChain = %v, want a *ChainError", err)
			}
			if len(ce.Findings) != 1 || ce.Findings[0] != f {
				t.Errorf("ChainError findings = %+v, want the lint error %+v", ce.Findings, f)
			}
			// The one-line message is the findings' String forms.
			if want := "certificate chain breaks the Notary Project signing rules: " + f.String(); err.Error() != want {
				t.Errorf("message %q, want %q", err.Error(), want)
			}
			assertAgreesWithNotation(t, tc.name, chain, epoch)
		})
	}
}

func TestLintSelfSignedLeaf(t *testing.T) {
	chain := loadCerts(t, "bad", "self-signed-leaf-chain.pem")
	if len(chain) != 1 {
		t.Fatalf("fixture holds %d certificates, want 1", len(chain))
	}
	findings := pki.LintChain(chain, epoch)
	if errs := errorFindings(findings); len(errs) != 0 {
		t.Errorf("a self-signed signing certificate has error findings:%s", showFindings(errs))
	}
	ws := warningFindings(findings)
	if len(ws) != 1 || ws[0].Index != 0 || ws[0].ID != pki.RuleLeafSelfSigned || !strings.Contains(ws[0].Fix, "issue it from a CA") ||
		ws[0].Subject != chain[0].Subject.String() {
		t.Errorf("want one warning on the leaf that it is self-signed, got:%s", showFindings(findings))
	}
	if err := pki.CheckSigningChain(chain, epoch); err != nil {
		t.Errorf("CheckSigningChain: %v (notation-core-go accepts a single self-signed signing certificate)", err)
	}
	assertAgreesWithNotation(t, "self-signed-leaf", chain, epoch)
}

func TestLintChainShapeFixtures(t *testing.T) {
	caInter := loadCert(t, "ca", "intermediate.crt")
	caRoot := loadCert(t, "ca", "root.crt")
	okLeaf := loadCert(t, "bad", "ok-leaf.crt")
	type want struct {
		index int
		id    pki.RuleID
		names string // a subject the rule names, "" for none
	}
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		want  []want
	}{
		{"missing-intermediate-chain.pem", loadCerts(t, "bad", "missing-intermediate-chain.pem"),
			[]want{{0, pki.RuleChainOrder, caRoot.Subject.String()}}},
		{"leaf and intermediate, no root", []*x509.Certificate{okLeaf, caInter},
			[]want{{1, pki.RuleChainNoRoot, ""}}},
		{"leaf, root, intermediate", []*x509.Certificate{okLeaf, caRoot, caInter}, []want{
			{0, pki.RuleChainOrder, caRoot.Subject.String()},
			{1, pki.RuleChainSelfSignedMiddle, ""},
			{1, pki.RuleChainOrder, caInter.Subject.String()},
			{2, pki.RuleChainNoRoot, ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := errorFindings(pki.LintChain(tc.chain, epoch))
			for _, w := range tc.want {
				found := false
				for _, f := range errs {
					if f.Index == w.index && f.Subject == tc.chain[w.index].Subject.String() && f.ID == w.id && strings.Contains(f.Rule, w.names) {
						found = true
					}
				}
				if !found {
					t.Errorf("no %s error on #%d naming %q in:%s", w.id, w.index, w.names, showFindings(errs))
				}
			}
			var ce *pki.ChainError
			if err := pki.CheckSigningChain(tc.chain, epoch); !errors.As(err, &ce) {
				t.Errorf("CheckSigningChain = %v, want a *ChainError", err)
			}
			assertAgreesWithNotation(t, tc.name, tc.chain, epoch)
		})
	}
	t.Run("wrong-order-chain.pem as given", func(t *testing.T) {
		chain := loadCerts(t, "bad", "wrong-order-chain.pem")
		errs := errorFindings(pki.LintChain(chain, epoch))
		// The root comes first and is linted as the signing certificate.
		found := false
		for _, f := range errs {
			if f.Index == 0 && f.ID == pki.RuleLeafCA && f.Subject == caRoot.Subject.String() {
				found = true
			}
		}
		if !found {
			t.Errorf("no finding that the first certificate (the root) is a CA:%s", showFindings(errs))
		}
		assertAgreesWithNotation(t, "wrong-order-chain.pem", chain, epoch)
	})
}

// TestAgreementWithNotation runs every certificate fixture, every chain file
// and every single certificate, through both checkers at several times.
func TestAgreementWithNotation(t *testing.T) {
	times := []time.Time{
		epoch,
		epoch.AddDate(-2, 0, 0), // before the good certificates
		epoch.AddDate(10, 0, 0), // leaves just expired
		time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2092, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, p := range certFixtures(t) {
		chain := loadCerts(t, strings.TrimPrefix(p, fixtureDir+string(filepath.Separator)))
		for _, now := range times {
			assertAgreesWithNotation(t, p, chain, now)
			if len(chain) > 1 {
				for i, c := range chain {
					assertAgreesWithNotation(t, fmt.Sprintf("%s[%d] alone", p, i), []*x509.Certificate{c}, now)
				}
				// Reversed order.
				rev := make([]*x509.Certificate, len(chain))
				for i, c := range chain {
					rev[len(chain)-1-i] = c
				}
				assertAgreesWithNotation(t, p+" reversed", rev, now)
			}
		}
	}
}

func TestLintExpiryWarning(t *testing.T) {
	for _, kt := range keyTypes {
		t.Run(kt, func(t *testing.T) {
			chain := loadCerts(t, kt, "chain.pem")
			leaf := chain[0]
			now := leaf.NotAfter.Add(-10 * 24 * time.Hour)
			findings := pki.LintChain(chain, now)
			if errs := errorFindings(findings); len(errs) != 0 {
				t.Errorf("errors 10 days before expiry:%s", showFindings(errs))
			}
			ws := warningFindings(findings)
			if len(ws) != 1 {
				t.Fatalf("want one warning, got:%s", showFindings(findings))
			}
			w := ws[0]
			if w.Index != 0 || w.Subject != leaf.Subject.String() || w.ID != pki.RuleExpiresSoon ||
				!strings.Contains(w.Rule, leaf.NotAfter.UTC().Format(time.RFC3339)) || !strings.Contains(w.Fix, "renew") {
				t.Errorf("warning = %+v", w)
			}
			if err := pki.CheckSigningChain(chain, now); err != nil {
				t.Errorf("CheckSigningChain 10 days before expiry: %v (a warning must not stop signing)", err)
			}
			assertAgreesWithNotation(t, kt, chain, now)

			// Boundaries: 31 days before, no warning; at NotAfter, still a
			// warning; one second after, an error.
			if fs := pki.LintChain(chain, leaf.NotAfter.Add(-31*24*time.Hour)); len(fs) != 0 {
				t.Errorf("31 days before expiry:%s", showFindings(fs))
			}
			fs := pki.LintChain(chain, leaf.NotAfter)
			if len(errorFindings(fs)) != 0 || len(warningFindings(fs)) != 1 {
				t.Errorf("at NotAfter: want one warning, got:%s", showFindings(fs))
			}
			assertAgreesWithNotation(t, kt+" at NotAfter", chain, leaf.NotAfter)
			fs = pki.LintChain(chain, leaf.NotAfter.Add(time.Second))
			if errs := errorFindings(fs); len(errs) != 1 || errs[0].ID != pki.RuleExpired {
				t.Errorf("one second after NotAfter: want one expiry error, got:%s", showFindings(fs))
			}
			assertAgreesWithNotation(t, kt+" after NotAfter", chain, leaf.NotAfter.Add(time.Second))
			// At NotBefore the chain is valid, one second earlier it is not
			// (all three certificates share the NotBefore): one error each.
			if errs := errorFindings(pki.LintChain(chain, leaf.NotBefore)); len(errs) != 0 {
				t.Errorf("at NotBefore:%s", showFindings(errs))
			}
			assertAgreesWithNotation(t, kt+" at NotBefore", chain, leaf.NotBefore)
			errs := errorFindings(pki.LintChain(chain, leaf.NotBefore.Add(-time.Second)))
			if len(errs) != len(chain) {
				t.Errorf("before NotBefore: want %d errors, got:%s", len(chain), showFindings(errs))
			}
			for i, f := range errs {
				if f.Index != i || f.ID != pki.RuleNotYetValid || !strings.Contains(f.Rule, chain[i].NotBefore.UTC().Format(time.RFC3339)) || !strings.Contains(f.Fix, "clock") {
					t.Errorf("before NotBefore: finding %d = %+v", i, f)
				}
			}
			assertAgreesWithNotation(t, kt+" before NotBefore", chain, leaf.NotBefore.Add(-time.Second))
		})
	}
}

func TestCheckSigningChainEmpty(t *testing.T) {
	if fs := pki.LintChain(nil, epoch); len(fs) != 0 {
		t.Errorf("LintChain(nil) = %v", fs)
	}
	for _, chain := range [][]*x509.Certificate{nil, {}} {
		err := pki.CheckSigningChain(chain, epoch)
		var ce *pki.ChainError
		if !errors.As(err, &ce) || len(ce.Findings) != 1 {
			t.Fatalf("CheckSigningChain(empty) = %v, want a *ChainError with one finding", err)
		}
		f := ce.Findings[0]
		if f.Severity != pki.SeverityError || f.ID != pki.RuleChainEmpty || !strings.Contains(f.Fix, "signing certificate") {
			t.Errorf("finding = %+v", f)
		}
		assertAgreesWithNotation(t, "empty", chain, epoch)
	}
}

// extension returns an extension with a DER value.
func extension(t *testing.T, id asn1.ObjectIdentifier, critical bool, v any) pkix.Extension {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: id, Critical: critical, Value: b}
}

var (
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
)

// keyUsageBits encodes key usage bits as the extension's BIT STRING.
func keyUsageBits(ku x509.KeyUsage) asn1.BitString {
	var b [2]byte
	n := 0
	for i := 0; i < 9; i++ {
		if ku&(1<<i) != 0 {
			b[i/8] |= 0x80 >> (i % 8)
			n = i + 1
		}
	}
	return asn1.BitString{Bytes: b[:(n+7)/8], BitLength: n}
}

// TestLintRules builds chains that break one rule each and checks the
// finding and that the verdict matches notation-core-go's.
func TestLintRules(t *testing.T) {
	type want struct {
		sev   pki.Severity
		index int
		id    pki.RuleID
		says  string // a value the rule names ("" for none)
		fix   string
	}
	type chainCase struct {
		name  string
		chain []*x509.Certificate
		want  []want // findings that must be present
		ok    bool   // CheckSigningChain accepts
	}
	var cases []chainCase

	root := newRoot(t, "Rules Root")
	inter := newSub(t, "Rules Intermediate", root, func(c *x509.Certificate) { c.MaxPathLen, c.MaxPathLenZero = 0, true })
	withLeaf := func(name string, mut func(*x509.Certificate), ok bool, w ...want) {
		leaf, _ := newLeaf(t, name, inter, mut)
		cases = append(cases, chainCase{name, []*x509.Certificate{leaf, inter.cert, root.cert}, w, ok})
	}

	withLeaf("valid leaf", nil, true)
	withLeaf("no extended key usage", func(c *x509.Certificate) { c.ExtKeyUsage = nil }, true)
	withLeaf("anyExtendedKeyUsage", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} }, true)
	withLeaf("no basicConstraints on the leaf", func(c *x509.Certificate) { c.BasicConstraintsValid = false }, true)
	for eku, name := range map[x509.ExtKeyUsage]string{
		x509.ExtKeyUsageServerAuth: "serverAuth", x509.ExtKeyUsageClientAuth: "clientAuth",
		x509.ExtKeyUsageEmailProtection: "emailProtection", x509.ExtKeyUsageTimeStamping: "timeStamping",
		x509.ExtKeyUsageOCSPSigning: "OCSPSigning",
	} {
		withLeaf("EKU codeSigning+"+name, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning, eku} }, false,
			want{pki.SeverityError, 0, pki.RuleLeafExtKeyUsage, name, "codeSigning only"})
	}
	for ku, name := range map[x509.KeyUsage]string{
		x509.KeyUsageKeyEncipherment: "keyEncipherment", x509.KeyUsageDataEncipherment: "dataEncipherment",
		x509.KeyUsageKeyAgreement: "keyAgreement", x509.KeyUsageCRLSign: "cRLSign",
	} {
		withLeaf("key usage digitalSignature+"+name, func(c *x509.Certificate) { c.KeyUsage |= ku }, false,
			want{pki.SeverityError, 0, pki.RuleLeafExtraKeyUsage, name, "nothing else"})
	}
	withLeaf("key usage contentCommitment only", func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageContentCommitment }, false,
		want{pki.SeverityError, 0, pki.RuleLeafKeyUsage, "", "keyUsage = critical, digitalSignature"})
	withLeaf("key usage not critical", func(c *x509.Certificate) {
		c.KeyUsage = 0
		c.ExtraExtensions = []pkix.Extension{extension(t, oidKeyUsage, false, keyUsageBits(x509.KeyUsageDigitalSignature))}
	}, false, want{pki.SeverityError, 0, pki.RuleKeyUsageCrit, "", "mark keyUsage critical"})
	withLeaf("subject without C, ST, O", func(c *x509.Certificate) { c.Subject = pkix.Name{CommonName: "Bare Leaf"} }, true,
		want{pki.SeverityWarning, 0, pki.RuleSubjectIdentity, "CN=Bare Leaf", "C, ST and O"})
	withLeaf("leaf expired, CAs valid", func(c *x509.Certificate) { c.NotAfter = epoch.AddDate(0, 0, -1) }, false,
		want{pki.SeverityError, 0, pki.RuleExpired, epoch.AddDate(0, 0, -1).UTC().Format(time.RFC3339), "issue a new certificate"})

	// CA rules.
	caChain := func(name string, mutInter func(*x509.Certificate), ok bool, w ...want) {
		in := newSub(t, name+" CA", root, mutInter)
		leaf, _ := newLeaf(t, name, in, nil)
		cases = append(cases, chainCase{name, []*x509.Certificate{leaf, in.cert, root.cert}, w, ok})
	}
	caChain("intermediate without key usage", func(c *x509.Certificate) { c.KeyUsage = 0 }, false,
		want{pki.SeverityError, 1, pki.RuleKeyUsage, "", "add keyUsage = critical, keyCertSign"})
	caChain("intermediate key usage not critical", func(c *x509.Certificate) {
		c.KeyUsage = 0
		c.ExtraExtensions = []pkix.Extension{extension(t, oidKeyUsage, false, keyUsageBits(x509.KeyUsageCertSign|x509.KeyUsageCRLSign))}
	}, false, want{pki.SeverityError, 1, pki.RuleKeyUsageCrit, "", "keyCertSign"})
	caChain("intermediate key usage without keyCertSign", func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature }, false,
		want{pki.SeverityError, 1, pki.RuleCAKeyUsage, "", "keyCertSign, cRLSign"})
	caChain("intermediate basicConstraints not critical", func(c *x509.Certificate) {
		c.ExtraExtensions = []pkix.Extension{extension(t, oidBasicConstraints, false, struct{ IsCA bool }{true})}
	}, true, want{pki.SeverityWarning, 1, pki.RuleCABasicConstraintsCrit, "", "mark basicConstraints critical"})
	caChain("intermediate expired", func(c *x509.Certificate) { c.NotAfter = epoch.AddDate(0, -1, 0) }, false,
		want{pki.SeverityError, 1, pki.RuleExpired, "", "issue a new certificate"})
	caChain("intermediate expires in 5 days", func(c *x509.Certificate) { c.NotAfter = epoch.AddDate(0, 0, 5) }, true,
		want{pki.SeverityWarning, 1, pki.RuleExpiresSoon, "", "renew"})

	// An intermediate with CA:FALSE: its signature on the leaf does not count.
	{
		k := newP256(t)
		tmpl := caTmpl("Not A CA")
		tmpl.IsCA = false
		notCA := &testCA{issue(t, tmpl, &k.PublicKey, root, nil), k}
		// x509.CreateCertificate checks nothing about the parent's profile.
		leaf := testkit.Issue(t, leafTmpl("Under Not A CA"), &newP256(t).PublicKey, notCA.cert, k)
		cases = append(cases, chainCase{"intermediate with CA:FALSE", []*x509.Certificate{leaf, notCA.cert, root.cert},
			[]want{{pki.SeverityError, 1, pki.RuleCABasicConstraints, "", "CA:TRUE"}}, false})
	}

	// Path length: a root with pathlen 0 cannot have an intermediate under it.
	{
		k := newP256(t)
		rt := caTmpl("PathLen0 Root")
		rt.MaxPathLen, rt.MaxPathLenZero = 0, true
		r0 := &testCA{issue(t, rt, &k.PublicKey, nil, k), k}
		in := newSub(t, "PathLen0 Intermediate", r0, nil)
		leaf, _ := newLeaf(t, "PathLen0 Leaf", in, nil)
		cases = append(cases, chainCase{"root pathlen 0 above an intermediate", []*x509.Certificate{leaf, in.cert, r0.cert},
			[]want{{pki.SeverityError, 2, pki.RuleCAPathLength, "constraint 0 is too small for 1 CA", "set pathlen to at least 1"}}, false})
		// Directly under the pathlen-0 root a leaf is fine.
		leaf2, _ := newLeaf(t, "PathLen0 Direct Leaf", r0, nil)
		cases = append(cases, chainCase{"root pathlen 0 directly above the leaf", []*x509.Certificate{leaf2, r0.cert}, nil, true})
		// pathlen 1 over two intermediates is too small as well.
		k1 := newP256(t)
		rt1 := caTmpl("PathLen1 Root")
		rt1.MaxPathLen = 1
		r1 := &testCA{issue(t, rt1, &k1.PublicKey, nil, k1), k1}
		i1 := newSub(t, "PathLen1 Intermediate 1", r1, nil)
		i2 := newSub(t, "PathLen1 Intermediate 2", i1, nil)
		leaf3, _ := newLeaf(t, "PathLen1 Leaf", i2, nil)
		cases = append(cases, chainCase{"root pathlen 1 above two intermediates", []*x509.Certificate{leaf3, i2.cert, i1.cert, r1.cert},
			[]want{{pki.SeverityError, 3, pki.RuleCAPathLength, "constraint 1 is too small for 2", "at least 2"}}, false})
		// The intermediate constrained to pathlen 0 in the main chain is fine.
	}

	// A weak CA key is only a warning (notation-core-go does not check it).
	{
		weak := loadSigner(t, "bad", "rsa-1024.key")
		rt := caTmpl("Weak RSA-1024 Root")
		wr := issue(t, rt, weak.Public(), nil, weak)
		leafKey := newP256(t)
		leaf := testkit.Issue(t, leafTmpl("Under Weak Root"), &leafKey.PublicKey, wr, weak)
		cases = append(cases, chainCase{"RSA-1024 root", []*x509.Certificate{leaf, wr}, []want{
			{pki.SeverityWarning, 1, pki.RuleCAWeakKey, "RSA 1024 bits", "at least 2048 bits"}}, true})
	}

	// A self-signed certificate with a valid leaf profile at the end of a
	// longer chain is a root without CA:TRUE.
	{
		selfLeaf := loadCert(t, "bad", "self-signed-leaf.crt")
		cases = append(cases, chainCase{"self-signed leaf twice", []*x509.Certificate{selfLeaf, selfLeaf}, []want{
			{pki.SeverityError, 1, pki.RuleCABasicConstraints, "", "CA:TRUE"},
		}, false})
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			findings := pki.LintChain(tc.chain, epoch)
			for _, w := range tc.want {
				found := false
				for _, f := range findings {
					if f.Severity == w.sev && f.Index == w.index && f.Subject == tc.chain[w.index].Subject.String() &&
						f.ID == w.id && strings.Contains(f.Rule, w.says) && strings.Contains(f.Fix, w.fix) {
						found = true
					}
				}
				if !found {
					t.Errorf("no %s %s on #%d naming %q with fix %q in:%s", w.sev, w.id, w.index, w.says, w.fix, showFindings(findings))
				}
			}
			if tc.ok && len(errorFindings(findings)) != 0 {
				t.Errorf("unexpected errors:%s", showFindings(errorFindings(findings)))
			}
			err := pki.CheckSigningChain(tc.chain, epoch)
			if (err == nil) != tc.ok {
				t.Errorf("CheckSigningChain = %v, want ok=%v", err, tc.ok)
			}
			assertAgreesWithNotation(t, tc.name, tc.chain, epoch)
		})
	}
}

// TestLintSHA1 documents a rule that is stricter than notation-core-go: a
// signature made with SHA-1 is an error even on a self-signed signing
// certificate, which ValidateCodeSigningCertChain accepts (it checks a lone
// certificate with CheckSignature, which still allows SHA-1).
func TestLintSHA1(t *testing.T) {
	key := loadSigner(t, "rsa-2048", "leaf.key")
	tmpl := leafTmpl("SHA-1 Self-Signed Leaf")
	tmpl.SignatureAlgorithm = x509.SHA1WithRSA
	c := issue(t, tmpl, key.Public(), nil, key)
	chain := []*x509.Certificate{c}
	errs := errorFindings(pki.LintChain(chain, epoch))
	if len(errs) != 1 || errs[0].ID != pki.RuleSHA1Signature || !strings.Contains(errs[0].Rule, "SHA1-RSA") || !strings.Contains(errs[0].Fix, "SHA-256 or stronger") {
		t.Errorf("want one SHA-1 error, got:%s", showFindings(errs))
	}
	var ce *pki.ChainError
	if err := pki.CheckSigningChain(chain, epoch); !errors.As(err, &ce) {
		t.Errorf("CheckSigningChain = %v, want a *ChainError", err)
	}
}

func TestFindingJSONAndString(t *testing.T) {
	f := pki.Finding{Severity: pki.SeverityError, ID: pki.RuleCAKeyUsage, Index: 1, Subject: "CN=x", Rule: "r", Fix: "f"}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"severity":"error","id":"ca-key-usage","index":1,"subject":"CN=x","rule":"r","fix":"f"}`; string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	if got, want := f.String(), `CA certificate "CN=x": r; fix: f`; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	f.Index = 0
	if got, want := f.String(), `signing certificate "CN=x": r; fix: f`; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	ce := &pki.ChainError{Findings: []pki.Finding{f, {Index: 2, Subject: "CN=y", Rule: "r2", Fix: "f2"}}}
	if got, want := ce.Error(), `certificate chain breaks the Notary Project signing rules: signing certificate "CN=x": r; fix: f; CA certificate "CN=y": r2; fix: f2`; got != want {
		t.Errorf("Error = %q, want %q", got, want)
	}
}

func FuzzLintChain(f *testing.F) {
	for _, p := range certFixtures(f) {
		f.Add(readFile(f, p))
	}
	f.Add(pemOf(loadCert(f, "bad", "ok-leaf.crt"), loadCert(f, "ca", "root.crt"), loadCert(f, "ca", "intermediate.crt")))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := pki.ParseCertificates(data)
		if err != nil {
			return
		}
		for _, now := range []time.Time{epoch, epoch.AddDate(30, 0, 0)} {
			findings := pki.LintChain(certs, now)
			for _, f := range findings {
				if f.Index < 0 || f.Index >= len(certs) {
					t.Fatalf("finding index %d out of range for %d certificates", f.Index, len(certs))
				}
				if f.Severity != pki.SeverityError && f.Severity != pki.SeverityWarning {
					t.Fatalf("finding severity %q", f.Severity)
				}
				if f.Rule == "" || f.Fix == "" || !knownRule(f.ID, f.Severity) {
					t.Fatalf("finding without a catalogued rule ID, prose or fix: %+v", f)
				}
			}
			err := pki.CheckSigningChain(certs, now)
			if err == nil {
				if errs := errorFindings(findings); len(errs) != 0 {
					t.Fatalf("CheckSigningChain accepts a chain with lint errors:%s", showFindings(errs))
				}
				if cerr := corex509.ValidateCodeSigningCertChain(certs, &now); cerr != nil {
					t.Fatalf("CheckSigningChain accepts a chain notation-core-go refuses: %v", cerr)
				}
			} else {
				var ce *pki.ChainError
				if !errors.As(err, &ce) || len(ce.Findings) == 0 {
					t.Fatalf("CheckSigningChain error %v is not a *ChainError with findings", err)
				}
				for _, f := range ce.Findings {
					if f.Severity != pki.SeverityError {
						t.Fatalf("ChainError holds a %s finding", f.Severity)
					}
				}
			}
		}
		// Building a chain from any certificate terminates.
		find := pki.PoolFinder(certs)
		for _, c := range certs {
			chain, err := pki.BuildChain(c, find)
			if err != nil {
				if !errors.Is(err, pki.ErrIncompleteChain) {
					t.Fatalf("BuildChain error %v is not ErrIncompleteChain", err)
				}
				continue
			}
			if len(chain) == 0 || chain[0] != c || len(chain) > 10 {
				t.Fatalf("BuildChain returned %d certificates", len(chain))
			}
		}
	})
}
