package plugin

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
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
}

// DoctorReport is the result of Doctor. OK is true when no check failed
// (warnings allowed); then Identity, KeyAddCommand and TrustPolicy say how
// to use the key with notation.
type DoctorReport struct {
	KeyID  string  `json:"keyId"`
	OK     bool    `json:"ok"`
	Failed string  `json:"failed,omitempty"` // the first failed check
	Checks []Check `json:"checks"`

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
// same code, plus expiry and revocation.
func (p *Plugin) Doctor(ctx context.Context, keyID string, pluginConfig map[string]string, o DoctorOptions) *DoctorReport {
	rep := &DoctorReport{}
	ok := func(name, detail string) {
		rep.Checks = append(rep.Checks, Check{Name: name, Status: StatusOK, Detail: detail})
	}
	warn := func(name, detail, fix string) {
		rep.Checks = append(rep.Checks, Check{Name: name, Status: StatusWarn, Detail: detail, Fix: fix})
	}
	fail := func(name string, err error, f fix) *DoctorReport {
		rep.Checks = append(rep.Checks, Check{Name: name, Status: StatusFail, Detail: err.Error(), Fix: f.text, Command: f.command})
		rep.Failed = name
		return rep
	}

	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return fail(CheckConfig, err, fix{text: "give a name, trust store and registry scope that trust policies accept, as the message says"})
	}
	r, err := p.adminRequest(keyID, pluginConfig, false)
	if err != nil {
		return fail(CheckConfig, err, configFix(err))
	}
	rep.KeyID = r.uri.String()
	var bundle []*x509.Certificate
	if r.cfg.CertificateChain != "" {
		if bundle, err = readBundle(r.cfg.CertificateChain); err != nil {
			return fail(CheckConfig, err, fix{text: "make " + r.cfg.CertificateChain + " a readable certificate file (PEM, DER or PKCS#7) with the signing certificate and its issuers, or remove pluginConfig certificate_chain to use the certificates on the token"})
		}
	}
	ok(CheckConfig, "key URI and pluginConfig are valid; module "+r.module)

	tok, err := p.open(ctx, r, true)
	switch {
	case errors.Is(err, pkcs11.ErrTokenNotFound), errors.Is(err, pkcs11.ErrAmbiguous):
		ok(CheckModule, "module "+r.module+" loads")
		return fail(CheckToken, err, tokenFix(err, r))
	case err != nil:
		return fail(CheckModule, err, moduleFix(r))
	}
	open := true
	defer func() {
		if open {
			_ = tok.Close()
		}
	}()
	ok(CheckModule, "module "+r.module+" loads")
	info := tok.Info()
	ok(CheckToken, fmt.Sprintf("token %q (serial %s, %s %s) in slot %d", info.Label, info.Serial, info.Manufacturer, info.Model, info.Slot))

	pin, err := pkcs11.ReadPIN(r.uri, p.getenv)
	if err != nil {
		return fail(CheckPIN, err, pinFix(err, r.uri))
	}
	key, err := tok.Login(ctx, pin)
	switch {
	case errors.Is(err, pkcs11.ErrLogin):
		return fail(CheckPIN, err, loginFix(r.uri))
	case err != nil && (errors.Is(err, pkcs11.ErrKeyNotFound) || errors.Is(err, pkcs11.ErrAmbiguous)):
		ok(CheckPIN, "the token accepts the PIN")
		return fail(CheckKey, err, keyFix(err, r, pluginConfig))
	case err != nil:
		return fail(CheckPIN, err, fix{text: "check that token " + strconv.Quote(info.Label) + " accepts logins (notation-pkcs11 token list shows its state)"})
	}
	ok(CheckPIN, "the token accepts the PIN")
	ks, err := pki.KeySpecOf(key.Public())
	if err != nil {
		return fail(CheckKey, err, fix{text: "Notation cannot sign with this key type; generate a supported key under a new label: notation-pkcs11 key generate --token " + shellQuote(tokenURI(r.uri).String()) + " --type ec-256 --label NEW-LABEL"})
	}
	ok(CheckKey, fmt.Sprintf("private key %s (%s, CKA_ID %x)", r.uri.KeyDescription(), ks, key.ID()))

	chain, err := p.chain(ctx, tok, key, bundle, r)
	switch {
	case errors.Is(err, pkcs11.ErrCertificateNotFound):
		return fail(CheckCertificate, err, certificateFix(r))
	case errors.Is(err, pki.ErrCertificateMismatch):
		ok(CheckCertificate, "a certificate is stored for the key")
		return fail(CheckMatch, err, matchFix(r))
	case err != nil:
		ok(CheckCertificate, "a certificate is stored for the key")
		ok(CheckMatch, "the certificate holds the key's public key")
		return fail(CheckChain, err, incompleteFix(r))
	}
	leaf := chain[0]
	ok(CheckCertificate, fmt.Sprintf("certificate %q", leaf.Subject))
	ok(CheckMatch, "the certificate holds the key's public key")

	now := p.now()
	if err := pki.CheckSigningChain(chain, now); err != nil {
		return fail(CheckChain, err, ruleFix(err, r))
	}
	var warnings []string
	for _, f := range pki.LintChain(chain, now) {
		if f.Severity == pki.SeverityWarning && !strings.Contains(f.Rule, "expires in under") {
			warnings = append(warnings, f.String())
		}
	}
	if len(warnings) > 0 {
		warn(CheckChain, fmt.Sprintf("%d certificate(s) to root %q; %s", len(chain), chain[len(chain)-1].Subject, strings.Join(warnings, "; ")), "see the fixes named")
	} else {
		ok(CheckChain, fmt.Sprintf("%d certificate(s) to root %q meet the Notary Project rules", len(chain), chain[len(chain)-1].Subject))
	}

	soonest := chain[0]
	for _, c := range chain {
		if c.NotAfter.Before(soonest.NotAfter) {
			soonest = c
		}
	}
	left := soonest.NotAfter.Sub(now)
	if left < ExpiryWarning {
		warn(CheckExpiry, fmt.Sprintf("certificate %q expires on %s, in %d day(s)", soonest.Subject, soonest.NotAfter.UTC().Format(time.RFC3339), int(left.Hours()/24)),
			"renew it now: a new key, its csr, the CA, cert import (the rotation runbook in docs/pki-workflow.md)")
	} else {
		ok(CheckExpiry, fmt.Sprintf("the chain is valid until %s (certificate %q)", soonest.NotAfter.UTC().Format(time.RFC3339), soonest.Subject))
	}

	// The network checks below must not hold the module lock (and keep
	// signers waiting): the token is done with.
	open = false
	if err := tok.Close(); err != nil {
		return fail(CheckToken, err, fix{text: "check the token (notation-pkcs11 token list)"})
	}
	if err := p.doctorRevocation(ctx, chain, now, o.Revocation, ok, warn); err != nil {
		return fail(CheckRevocation, err, revocationFix(err))
	}

	rep.OK = true
	p.advise(rep, r, chain, pluginConfig, o)
	return rep
}

func (p *Plugin) doctorRevocation(ctx context.Context, chain []*x509.Certificate, now time.Time, checker revocation.Checker, ok func(string, string), warn func(string, string, string)) error {
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
			return &fixedError{fmt.Errorf("certificate %q is revoked (%s at %s, since %s, reason %s)", subj, res.Method, res.URL, res.RevokedAt.UTC().Format(time.RFC3339), res.Reason),
				fix{text: "signatures with this chain no longer verify: generate a new key, have the CA issue its certificate and import it (the rotation runbook in docs/pki-workflow.md)"}}
		case revocation.StatusUnknown:
			return &fixedError{fmt.Errorf("the revocation status of certificate %q is unknown, notation verify will fail at level strict: %s", subj, res.Detail),
				fix{text: fmt.Sprintf("make %s reachable from this host over http (notation verify needs it too), then run doctor again", orUnknown(res.URL))}}
		case revocation.StatusOK:
			checked = append(checked, fmt.Sprintf("%q good by %s (%s)", subj, res.Method, res.URL))
		}
	}
	if len(checked) == 0 {
		warn(CheckRevocation, "no certificate of the chain names an OCSP responder or CRL distribution point: a compromised key could not be revoked", "have the CA put a CRL distribution point (or OCSP URL) in the signing-certificate profile")
		return nil
	}
	ok(CheckRevocation, strings.Join(checked, "; "))
	return nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
