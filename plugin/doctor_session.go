package plugin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// This file maps the shared open → PIN → login → key spec → chain steps
// (openSession) onto Doctor's checks: a step that passes reports its
// checks, a step that fails names its link and the fix.

// sessionStep returns openSession's after hook: the checks each step that
// passed proves. At the key spec step it also asks the token which
// mechanism generate-signature would sign with; a token that offers none
// fails the key link.
func (d *doctorRun) sessionStep(r keyRequest) func(sessionStep, *keySession) error {
	return func(step sessionStep, s *keySession) error {
		switch step {
		case stepOpen:
			info := s.Token.Info()
			d.token = info.Label
			d.ok(CheckModule, "module "+r.module+" loads")
			d.ok(CheckToken, fmt.Sprintf("token %q (serial %s, %s %s) in slot %d", info.Label, info.Serial, info.Manufacturer, info.Model, info.Slot))
		case stepLogin:
			d.ok(CheckPIN, "the token accepts the PIN")
		case stepKeySpec:
			how := ""
			m, known, err := SignMechanismFor(s.Key, s.Spec)
			if err != nil {
				return err
			}
			if known {
				how = ", signs with " + m.String()
				d.rep.Mechanism = &m
			}
			d.ok(CheckKey, fmt.Sprintf("private key %s (%s, CKA_ID %x%s)", r.uri.KeyDescription(), s.Spec, s.Key.ID(), how))
		case stepChain:
			d.ok(CheckCertificate, fmt.Sprintf("certificate %q", s.Chain[0].Subject))
			d.ok(CheckMatch, "the certificate holds the key's public key")
		}
		return nil
	}
}

// sessionFailed ends the walk at the link the failed step belongs to. The
// steps before it passed and reported their checks; a step that covers
// two links (the token is found where the module loads, the key where the
// token accepts the PIN) reports the first as passed when the cause shows
// that it did.
func (d *doctorRun) sessionFailed(err error, r keyRequest, pluginConfig map[string]string) *DoctorReport {
	var se *sessionError
	if !errors.As(err, &se) {
		return d.fail(CheckModule, err, moduleFix(r))
	}
	cause := se.Err
	switch se.Step {
	case stepOpen:
		if errors.Is(cause, pkcs11.ErrTokenNotFound) || errors.Is(cause, pkcs11.ErrAmbiguous) {
			d.ok(CheckModule, "module "+r.module+" loads")
			return d.fail(CheckToken, cause, tokenFix(cause, r))
		}
		return d.fail(CheckModule, cause, moduleFix(r))
	case stepPIN:
		return d.fail(CheckPIN, cause, pinFix(cause, r.uri))
	case stepLogin:
		switch {
		case errors.Is(cause, pkcs11.ErrLogin):
			return d.fail(CheckPIN, cause, loginFix(r.uri))
		case errors.Is(cause, pkcs11.ErrKeyNotFound) || errors.Is(cause, pkcs11.ErrAmbiguous):
			d.ok(CheckPIN, "the token accepts the PIN")
			return d.fail(CheckKey, cause, keyFix(cause, r, pluginConfig))
		}
		return d.fail(CheckPIN, cause, fix{text: "check that token " + strconv.Quote(d.token) + " accepts logins (notation-pkcs11 token list shows its state)"})
	case stepKeySpec:
		tok := shellQuote(tokenURI(r.uri).String())
		if errors.Is(cause, pkcs11.ErrMechanism) {
			var me *pkcs11.MechanismError
			if errors.As(cause, &me) {
				d.rep.MissingMechanisms, d.rep.OfferedMechanisms = me.Missing, me.Offered
			}
			return d.fail(CheckKey, cause, newKeyFix(tok, r.uri.Object, me))
		}
		return d.fail(CheckKey, cause, newKeyFix(tok, r.uri.Object, nil))
	case stepChain:
		switch {
		case errors.Is(cause, pkcs11.ErrCertificateNotFound):
			return d.fail(CheckCertificate, cause, certificateFix(r))
		case errors.Is(cause, pki.ErrCertificateMismatch):
			d.ok(CheckCertificate, "a certificate is stored for the key")
			return d.fail(CheckMatch, cause, matchFix(r))
		}
		d.ok(CheckCertificate, "a certificate is stored for the key")
		d.ok(CheckMatch, "the certificate holds the key's public key")
		return d.fail(CheckChain, cause, incompleteFix(r))
	}
	return d.fail(CheckModule, cause, moduleFix(r))
}

// newKeyFix is the fix for a key the token cannot sign with as Notation
// needs: the exact key generate command for a key type whose mechanisms
// the token offers (EC P-256 unless the token offers only RSA-PSS), under
// a new label derived from the old one. A token that offers neither gets
// advice without a command.
func newKeyFix(tokenURI, label string, me *pkcs11.MechanismError) fix {
	typ := "ec-256"
	if me != nil {
		var ec, pss bool
		for _, m := range me.Offered {
			ec = ec || strings.Contains(m, "ECDSA")
			pss = pss || strings.Contains(m, "RSA_PKCS_PSS")
		}
		switch {
		case ec:
		case pss:
			typ = "rsa-3072"
		default:
			return fix{text: "this token offers none of the mechanisms Notation needs (ECDSA or RSA-PSS; the message names them): sign with a key on another token"}
		}
	}
	if label == "" {
		label = "notation"
	}
	cmd := "notation-pkcs11 key generate --token " + tokenURI + " --type " + typ + " --label " + shellQuote(label+"-"+typ)
	return fix{text: "generate a key this token can sign with as Notation needs, then issue and import its certificate: " + cmd, command: cmd}
}
