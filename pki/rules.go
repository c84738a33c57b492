package pki

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"
	"time"

	corex509 "github.com/notaryproject/notation-core-go/x509"
)

// Severity says whether a finding stops signing.
type Severity string

const (
	// SeverityError marks a rule that notation enforces: a signature made
	// with this chain would be rejected, so the plugin refuses to sign.
	SeverityError Severity = "error"
	// SeverityWarning marks a rule of the Notary Project specification that
	// notation v1.3 does not enforce, or a problem that will bite later
	// (a subject no trust policy identity can name).
	SeverityWarning Severity = "warning"
)

// Finding is one broken rule on one certificate.
type Finding struct {
	Severity Severity `json:"severity"`
	// ID names the rule, stably: compare it, not the prose (see Rules).
	ID RuleID `json:"id"`
	// Index is the certificate's position in the chain, 0 for the leaf;
	// -1 for a certificate given that is not part of the chain
	// (RuleChainExtra).
	Index int `json:"index"`
	// Subject is the certificate's subject in RFC 4514 form.
	Subject string `json:"subject"`
	// Rule says what is wrong, in plain words, with the certificate's own
	// values (dates, names); it may be reworded, the ID is not.
	Rule string `json:"rule"`
	// Fix says what to change in the certificate profile or the chain.
	Fix string `json:"fix"`
}

func (f Finding) String() string {
	return fmt.Sprintf("%s certificate %q: %s; fix: %s", role(f.Index), f.Subject, f.Rule, f.Fix)
}

// ChainError lists the error findings that make a chain unusable for
// Notation signing.
type ChainError struct {
	Findings []Finding
}

func (e *ChainError) Error() string {
	parts := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		parts[i] = f.String()
	}
	return "certificate chain breaks the Notary Project signing rules: " + strings.Join(parts, "; ")
}

var (
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
)

// LintChain checks an ordered chain (leaf first, root last) against the
// Notary Project signing-certificate rules at time now and returns every
// finding, errors and warnings, in chain order.
func LintChain(chain []*x509.Certificate, now time.Time) []Finding {
	var out []Finding
	for i, c := range chain {
		add := func(id RuleID, rule, fix string) {
			out = append(out, newFinding(id, i, c, rule, fix))
		}
		lintValidity(c, now, add)
		if i == 0 {
			lintLeaf(c, len(chain) == 1 && isSelfSigned(c), add)
		} else {
			lintCA(c, i, add)
		}
		if i == len(chain)-1 && !isSelfSigned(c) {
			add(RuleChainNoRoot, "the chain does not end in a self-signed root", "add the root CA certificate that issued this one")
		}
		if i > 0 && i < len(chain)-1 && isSelfSigned(c) {
			add(RuleChainSelfSignedMiddle, "a self-signed certificate sits in the middle of the chain", "remove it, or put it last if it is the root")
		}
		if i+1 < len(chain) {
			if err := c.CheckSignatureFrom(chain[i+1]); err != nil || string(c.RawIssuer) != string(chain[i+1].RawSubject) {
				add(RuleChainOrder, fmt.Sprintf("it is not issued by the next certificate %q", chain[i+1].Subject), "order the chain leaf first, then each issuer, ending with the root")
			}
		}
	}
	return out
}

type addFunc func(id RuleID, rule, fix string)

// newFinding is a finding of rule id on certificate c at index i, with the
// severity Rules gives the rule.
func newFinding(id RuleID, i int, c *x509.Certificate, rule, fix string) Finding {
	subject := "(none)"
	if c != nil {
		subject = c.Subject.String()
	}
	return Finding{Severity: severityOf(id), ID: id, Index: i, Subject: subject, Rule: rule, Fix: fix}
}

func lintValidity(c *x509.Certificate, now time.Time, add addFunc) {
	switch {
	case now.After(c.NotAfter):
		add(RuleExpired, fmt.Sprintf("it expired on %s", c.NotAfter.UTC().Format(time.RFC3339)), "issue a new certificate (and import it)")
	case now.Before(c.NotBefore):
		add(RuleNotYetValid, fmt.Sprintf("it is not valid before %s", c.NotBefore.UTC().Format(time.RFC3339)), "check the host clock, or wait until the certificate becomes valid")
	case c.NotAfter.Sub(now) < 30*24*time.Hour:
		add(RuleExpiresSoon, fmt.Sprintf("it expires in under 30 days (%s)", c.NotAfter.UTC().Format(time.RFC3339)), "renew it soon")
	}
}

func lintLeaf(c *x509.Certificate, selfSigned bool, add addFunc) {
	if c.BasicConstraintsValid && c.IsCA {
		add(RuleLeafCA, "a signing certificate must not be a CA (basicConstraints cA=TRUE)", "issue the signing certificate with basicConstraints = critical, CA:FALSE")
	}
	lintKeyUsagePresent(c, "digitalSignature", add)
	if hasExt(c, oidKeyUsage) {
		if c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
			add(RuleLeafKeyUsage, "key usage lacks digitalSignature", "set keyUsage = critical, digitalSignature")
		}
		if extra := extraLeafKeyUsages(c.KeyUsage); len(extra) > 0 {
			add(RuleLeafExtraKeyUsage, "key usage has "+strings.Join(extra, ", ")+" besides digitalSignature", "set keyUsage = critical, digitalSignature and nothing else")
		}
	}
	for _, eku := range c.ExtKeyUsage {
		if name, bad := forbiddenEKU(eku); bad {
			add(RuleLeafExtKeyUsage, "extended key usage includes "+name, "set extendedKeyUsage = codeSigning only (or leave the extension out)")
		}
	}
	if _, err := KeySpecOf(c.PublicKey); err != nil {
		add(RuleLeafKeyType, "its key is not one Notation signs with: "+keyDescription(c), "use RSA 2048, 3072 or 4096 bits, or EC P-256, P-384 or P-521")
	}
	if weakSignature(c) {
		add(RuleSHA1Signature, "it is signed with SHA-1 ("+c.SignatureAlgorithm.String()+")", "reissue it signed with SHA-256 or stronger")
	}
	if _, err := SubjectIdentity(c.Subject); err != nil {
		add(RuleSubjectIdentity, identityProblem(err), "have the CA issue the certificate with C, ST and O in its subject, each once and none joined with +, e.g. C=US,ST=WA,O=Acme,CN=Release Signing")
	}
	if selfSigned {
		add(RuleLeafSelfSigned, "the signing certificate is self-signed", "fine for tests; for production issue it from a CA so that it can be revoked and rotated")
	}
}

func lintCA(c *x509.Certificate, index int, add addFunc) {
	switch {
	case !c.BasicConstraintsValid || !c.IsCA:
		add(RuleCABasicConstraints, "a CA certificate must have basicConstraints cA=TRUE", "set basicConstraints = critical, CA:TRUE in the CA profile")
	case !extCritical(c, oidBasicConstraints):
		add(RuleCABasicConstraintsCrit, "basicConstraints is not critical (the specification requires it)", "mark basicConstraints critical in the CA profile")
	}
	if c.BasicConstraintsValid && c.IsCA && (c.MaxPathLen > 0 || c.MaxPathLenZero) && c.MaxPathLen < index-1 {
		add(RuleCAPathLength, fmt.Sprintf("path length constraint %d is too small for %d CA certificate(s) below it", c.MaxPathLen, index-1), fmt.Sprintf("set pathlen to at least %d, or leave it out", index-1))
	}
	lintKeyUsagePresent(c, "keyCertSign", add)
	if hasExt(c, oidKeyUsage) && c.KeyUsage&x509.KeyUsageCertSign == 0 {
		add(RuleCAKeyUsage, "key usage lacks keyCertSign", "set keyUsage = critical, keyCertSign, cRLSign in the CA profile")
	}
	if weakKey(c) {
		add(RuleCAWeakKey, "its key is weaker than the specification allows: "+keyDescription(c), "use RSA of at least 2048 bits or EC of at least 256 bits")
	}
	if weakSignature(c) {
		add(RuleSHA1Signature, "it is signed with SHA-1 ("+c.SignatureAlgorithm.String()+")", "reissue it signed with SHA-256 or stronger")
	}
}

func lintKeyUsagePresent(c *x509.Certificate, bit string, add addFunc) {
	switch {
	case !hasExt(c, oidKeyUsage):
		add(RuleKeyUsage, "key usage extension is missing", "add keyUsage = critical, "+bit)
	case !extCritical(c, oidKeyUsage):
		add(RuleKeyUsageCrit, "key usage extension is not critical", "mark keyUsage critical (keyUsage = critical, "+bit+")")
	}
}

// forbiddenEKU names an extended key usage notation refuses on a signing
// certificate.
func forbiddenEKU(eku x509.ExtKeyUsage) (string, bool) {
	switch eku {
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth", true
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth", true
	case x509.ExtKeyUsageEmailProtection:
		return "emailProtection", true
	case x509.ExtKeyUsageTimeStamping:
		return "timeStamping", true
	case x509.ExtKeyUsageOCSPSigning:
		return "OCSPSigning", true
	}
	return "", false
}

func extraLeafKeyUsages(ku x509.KeyUsage) []string {
	names := []struct {
		bit  x509.KeyUsage
		name string
	}{
		{x509.KeyUsageKeyEncipherment, "keyEncipherment"},
		{x509.KeyUsageDataEncipherment, "dataEncipherment"},
		{x509.KeyUsageKeyAgreement, "keyAgreement"},
		{x509.KeyUsageCertSign, "keyCertSign"},
		{x509.KeyUsageCRLSign, "cRLSign"},
		{x509.KeyUsageEncipherOnly, "encipherOnly"},
		{x509.KeyUsageDecipherOnly, "decipherOnly"},
	}
	var out []string
	for _, n := range names {
		if ku&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func hasExt(c *x509.Certificate, id asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(id) {
			return true
		}
	}
	return false
}

func extCritical(c *x509.Certificate, id asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(id) {
			return e.Critical
		}
	}
	return false
}

func weakSignature(c *x509.Certificate) bool {
	switch c.SignatureAlgorithm {
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1, x509.MD5WithRSA, x509.MD2WithRSA:
		return true
	}
	return false
}

func weakKey(c *x509.Certificate) bool {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return k.N.BitLen() < 2048
	case *ecdsa.PublicKey:
		return k.Curve.Params().BitSize < 256
	}
	return true
}

func keyDescription(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d bits", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "EC " + k.Curve.Params().Name
	}
	return c.PublicKeyAlgorithm.String()
}

func role(i int) string {
	if i == 0 {
		return "signing"
	}
	return "CA"
}

// CheckSigningChain reports whether an ordered chain may sign at time now:
// nil, or a *ChainError with every error finding. When this package's rules
// find nothing but notation-core-go still rejects the chain, its reason is
// returned as a finding on the leaf (RuleNotationRejects), so the two can
// never disagree silently.
func CheckSigningChain(chain []*x509.Certificate, now time.Time) error {
	return checkSigningChain(chain, now, corex509.ValidateCodeSigningCertChain)
}

// checkSigningChain is CheckSigningChain with notation's check as an
// argument, so that a test can make it refuse.
func checkSigningChain(chain []*x509.Certificate, now time.Time, notation func([]*x509.Certificate, *time.Time) error) error {
	if len(chain) == 0 {
		return &ChainError{Findings: []Finding{newFinding(RuleChainEmpty, 0, nil, "the certificate chain is empty", "provide the signing certificate and its issuers")}}
	}
	var errs []Finding
	for _, f := range LintChain(chain, now) {
		if f.Severity == SeverityError {
			errs = append(errs, f)
		}
	}
	if len(errs) == 0 {
		if err := notation(chain, &now); err != nil {
			errs = append(errs, newFinding(RuleNotationRejects, 0, chain[0], "notation rejects the chain: "+err.Error(), "see the Notary Project certificate requirements"))
		}
	}
	if len(errs) > 0 {
		return &ChainError{Findings: errs}
	}
	return nil
}
