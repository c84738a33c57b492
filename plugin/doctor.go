package plugin

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// The links Doctor checks, in order. A failed link stops the walk.
const (
	CheckConfig      = "config"            // key URI and pluginConfig parse
	CheckModule      = "module"            // the PKCS#11 module loads
	CheckToken       = "token"             // the token is present
	CheckPIN         = "pin"               // a PIN is at hand and the token accepts it
	CheckKey         = "key"               // the private key is found and is a Notation key
	CheckCertificate = "certificate"       // a certificate for the key is on the token (or in certificate_chain)
	CheckMatch       = "certificate-match" // that certificate holds the key's public key
	CheckChain       = "chain"             // the chain is complete and meets the Notary Project rules now
	CheckExpiry      = "expiry"            // no certificate of the chain expires within ExpiryWarning
	CheckRevocation  = "revocation"        // the OCSP/CRL endpoints answer and nothing is revoked
)

// DoctorChecks lists the links in order.
func DoctorChecks() []string {
	return []string{CheckConfig, CheckModule, CheckToken, CheckPIN, CheckKey, CheckCertificate, CheckMatch, CheckChain, CheckExpiry, CheckRevocation}
}

// ExpiryWarning is how close to expiry a chain certificate makes Doctor warn.
const ExpiryWarning = 30 * 24 * time.Hour

// Check statuses.
const (
	StatusOK   = "ok"
	StatusWarn = "warn"
	StatusFail = "fail"
)

// Check is one link of the Doctor report.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	// Fix says what repairs this link, specific to the failure, with real
	// paths and URIs.
	Fix string `json:"fix,omitempty"`
	// Command, when set, is one shell command that repairs the link,
	// exactly as it is to be run (Fix mentions it or is it).
	Command string `json:"command,omitempty"`
	// Findings are the broken signing-certificate rules behind a chain
	// check that fails or warns, each with its stable rule ID.
	Findings []pki.Finding `json:"findings,omitempty"`
	// Err is the error of a failed check (Detail is its text), for
	// callers that tell failures apart with errors.Is and errors.As.
	Err error `json:"-"`
}

// DoctorReport is the result of Doctor. OK is true when no check failed
// (warnings allowed); then Identity, KeyAddCommand and TrustPolicy say how
// to use the key with notation.
type DoctorReport struct {
	KeyID  string  `json:"keyId"`
	OK     bool    `json:"ok"`
	Failed string  `json:"failed,omitempty"` // the first failed check
	Checks []Check `json:"checks"`

	// Mechanism is the PKCS#11 mechanism generate-signature signs with
	// for this key, from the token's mechanism list (set once the key
	// check passes; nil for a key that is not on a token).
	Mechanism *pkcs11.SignMechanism `json:"mechanism,omitempty"`
	// MissingMechanisms, set when the key check fails because the token
	// cannot make the signature Notation needs with this key, are the
	// mechanisms that would do; OfferedMechanisms are the signing
	// mechanisms the token has.
	MissingMechanisms []string `json:"missingMechanisms,omitempty"`
	OfferedMechanisms []string `json:"offeredMechanisms,omitempty"`

	Subject string `json:"subject,omitempty"`
	// Identity is the trusted identity of the signing certificate, from
	// the verifier's own rule (trustpolicy); empty when no x509.subject
	// identity can name it, and IdentityProblem says why.
	Identity          string    `json:"identity,omitempty"`
	IdentityProblem   string    `json:"identityProblem,omitempty"`
	CertificateSHA256 string    `json:"certificateSha256,omitempty"`
	RootSubject       string    `json:"rootSubject,omitempty"`
	RootSHA256        string    `json:"rootSha256,omitempty"`
	NotAfter          time.Time `json:"notAfter,omitzero"`
	KeyAddCommand     string    `json:"keyAddCommand,omitempty"`
	// TrustPolicy is a complete trustpolicy.json (version 1.0, one strict
	// statement) for verifiers of this key's signatures.
	TrustPolicy       *trustpolicy.Document `json:"trustPolicy,omitempty"`
	TrustStoreCommand string                `json:"trustStoreCommand,omitempty"`
	// Root is the chain's root certificate, for the trust store.
	Root *x509.Certificate `json:"-"`
}

// DoctorOptions shape the advice printed on success.
type DoctorOptions struct {
	KeyName    string // name for `notation key add` and the policy statement; "release" when empty
	TrustStore string // trust store name; "release" when empty
	Scope      string // registry scope of the policy statement; "*" when empty
	// RootFile is where the caller writes the root certificate: the
	// printed `notation cert add` names it. "" prints ROOT.pem.
	RootFile string
	// Revocation checks the chain's OCSP and CRL endpoints; nil builds a
	// memory-only revocation.Client with notation's timeouts.
	Revocation revocation.Checker
}

// Doctor walks every link between the key URI and a signature notation
// will accept, in order, and stops at the first broken one, naming it and
// saying how to fix it. It checks what generate-signature checks, with the
// same code (openSession), plus expiry and revocation.
func (p *Plugin) Doctor(ctx context.Context, keyID string, pluginConfig map[string]string, o DoctorOptions) *DoctorReport {
	d := &doctorRun{rep: &DoctorReport{}}
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return d.fail(CheckConfig, err, fix{text: "give a name, trust store and registry scope that trust policies accept, as the message says"})
	}
	r, err := p.adminRequest(keyID, pluginConfig, false)
	if err != nil {
		return d.fail(CheckConfig, err, configFix(err))
	}
	d.rep.KeyID = r.uri.String()
	var bundle []*x509.Certificate
	if r.cfg.CertificateChain != "" {
		if bundle, err = readBundle(r.cfg.CertificateChain); err != nil {
			return d.fail(CheckConfig, err, fix{text: "make " + r.cfg.CertificateChain + " a readable certificate file (PEM, DER or PKCS#7) with the signing certificate and its issuers, or remove pluginConfig certificate_chain to use the certificates on the token"})
		}
	}
	d.ok(CheckConfig, "key URI and pluginConfig are valid; module "+r.module)

	s, err := p.openSession(ctx, r, bundle, func() (pkcs11.PIN, error) { return pkcs11.ReadPIN(r.uri, p.getenv) }, d.sessionStep(r))
	if err != nil {
		return d.sessionFailed(err, r, pluginConfig)
	}
	chain, now := s.Chain, p.now()
	checked := d.chainRules(chain, now, r)
	// The network checks below must not hold the module lock (and keep
	// signers waiting): the token is done with.
	if err := s.Token.Close(); err != nil && checked {
		return d.fail(CheckToken, err, fix{text: "check the token (notation-pkcs11 token list)"})
	}
	if !checked {
		return d.rep
	}
	if err := p.doctorRevocation(ctx, d, chain, now, o.Revocation); err != nil {
		return d.fail(CheckRevocation, err, revocationFix(err))
	}
	d.rep.OK = true
	p.advise(d.rep, r, chain, pluginConfig, o)
	return d.rep
}

// doctorRun collects the checks of one Doctor walk.
type doctorRun struct {
	rep   *DoctorReport
	token string // the token's label, once it is open
}

func (d *doctorRun) ok(name, detail string) {
	d.rep.Checks = append(d.rep.Checks, Check{Name: name, Status: StatusOK, Detail: detail})
}

func (d *doctorRun) warn(name, detail, fix string, findings ...pki.Finding) {
	d.rep.Checks = append(d.rep.Checks, Check{Name: name, Status: StatusWarn, Detail: detail, Fix: fix, Findings: findings})
}

// fail ends the walk at check name.
func (d *doctorRun) fail(name string, err error, f fix, findings ...pki.Finding) *DoctorReport {
	d.rep.Checks = append(d.rep.Checks, Check{Name: name, Status: StatusFail, Detail: err.Error(), Fix: f.text, Command: f.command, Findings: findings, Err: err})
	d.rep.Failed = name
	return d.rep
}

// chainRules checks the chain against the signing rules (a failure ends
// the walk: false) and how soon it expires.
func (d *doctorRun) chainRules(chain []*x509.Certificate, now time.Time, r keyRequest) bool {
	root := chain[len(chain)-1].Subject
	if err := pki.CheckSigningChain(chain, now); err != nil {
		var ce *pki.ChainError
		errors.As(err, &ce)
		var findings []pki.Finding
		if ce != nil {
			findings = ce.Findings
		}
		d.fail(CheckChain, err, ruleFix(err, r), findings...)
		return false
	}
	var warnings []pki.Finding
	var texts []string
	for _, f := range pki.LintChain(chain, now) {
		// Expiry has a check of its own.
		if f.Severity == pki.SeverityWarning && f.ID != pki.RuleExpiresSoon {
			warnings = append(warnings, f)
			texts = append(texts, f.String())
		}
	}
	if len(warnings) > 0 {
		d.warn(CheckChain, fmt.Sprintf("%d certificate(s) to root %q; %s", len(chain), root, strings.Join(texts, "; ")), "see the fixes named", warnings...)
	} else {
		d.ok(CheckChain, fmt.Sprintf("%d certificate(s) to root %q meet the Notary Project rules", len(chain), root))
	}
	soonest := chain[0]
	for _, c := range chain {
		if c.NotAfter.Before(soonest.NotAfter) {
			soonest = c
		}
	}
	if left := soonest.NotAfter.Sub(now); left < ExpiryWarning {
		d.warn(CheckExpiry, fmt.Sprintf("certificate %q expires on %s, in %d day(s)", soonest.Subject, soonest.NotAfter.UTC().Format(time.RFC3339), int(left.Hours()/24)),
			"renew it now: a new key, its csr, the CA, cert import (the rotation runbook in docs/pki-workflow.md)")
	} else {
		d.ok(CheckExpiry, fmt.Sprintf("the chain is valid until %s (certificate %q)", soonest.NotAfter.UTC().Format(time.RFC3339), soonest.Subject))
	}
	return true
}

// RevocationError is a certificate of the chain that Doctor's revocation
// check finds revoked (Result.Status revocation.StatusRevoked), or whose
// status no responder could give (revocation.StatusUnknown).
type RevocationError struct {
	Subject string // the certificate's subject
	Result  revocation.Result
}

func (e *RevocationError) Error() string {
	r := e.Result
	if r.Status == revocation.StatusRevoked {
		return fmt.Sprintf("certificate %q is revoked (%s at %s, since %s, reason %s)", e.Subject, r.Method, r.URL, r.RevokedAt.UTC().Format(time.RFC3339), r.Reason)
	}
	return fmt.Sprintf("the revocation status of certificate %q is unknown, notation verify will fail at level strict: %s", e.Subject, r.Detail)
}

func (p *Plugin) doctorRevocation(ctx context.Context, d *doctorRun, chain []*x509.Certificate, now time.Time, checker revocation.Checker) error {
	if checker == nil {
		c, err := revocation.New(revocation.Options{NoDiskCache: true})
		if err != nil {
			return err
		}
		checker = c
	}
	results, err := checker.Check(ctx, revocation.Request{Chain: chain, Purpose: revocation.PurposeCodeSigning, Now: now})
	if err != nil {
		return &fixedError{fmt.Errorf("revocation check of the chain failed: %w", err),
			fix{text: "make the OCSP responders and CRL distribution points of the chain reachable from this host over http, then run doctor again"}}
	}
	var checked []string
	for i, res := range results {
		if i >= len(chain) {
			break
		}
		subj := chain[i].Subject.String()
		switch res.Status {
		case revocation.StatusRevoked:
			return &fixedError{&RevocationError{Subject: subj, Result: res},
				fix{text: "signatures with this chain no longer verify: generate a new key, have the CA issue its certificate and import it (the rotation runbook in docs/pki-workflow.md)"}}
		case revocation.StatusUnknown:
			return &fixedError{&RevocationError{Subject: subj, Result: res},
				fix{text: fmt.Sprintf("make %s reachable from this host over http (notation verify needs it too), then run doctor again", orUnknown(res.URL))}}
		case revocation.StatusOK:
			checked = append(checked, fmt.Sprintf("%q good by %s (%s)", subj, res.Method, res.URL))
		}
	}
	if len(checked) == 0 {
		d.warn(CheckRevocation, "no certificate of the chain names an OCSP responder or CRL distribution point: a compromised key could not be revoked", "have the CA put a CRL distribution point (or OCSP URL) in the signing-certificate profile")
		return nil
	}
	d.ok(CheckRevocation, strings.Join(checked, "; "))
	return nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
