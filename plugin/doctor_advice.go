package plugin

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// This file holds what Doctor prints for a healthy key: the notation key
// add command, the trust-store command and a complete trustpolicy.json.

// Defaults of DoctorOptions.
const (
	DefaultKeyName    = "release"
	DefaultTrustStore = "release"
	DefaultScope      = "*"
)

func (o DoctorOptions) withDefaults() DoctorOptions {
	if o.KeyName == "" {
		o.KeyName = DefaultKeyName
	}
	if o.TrustStore == "" {
		o.TrustStore = DefaultTrustStore
	}
	if o.Scope == "" {
		o.Scope = DefaultScope
	}
	return o
}

// DoctorOptionError is a DoctorOptions value that the trust policy linter
// refuses in the statement Doctor would print.
type DoctorOptionError struct {
	// Option is "KeyName", "TrustStore" or "Scope".
	Option string
	Value  string
	// Msg is the linter's reason.
	Msg string
}

func (e *DoctorOptionError) Error() string {
	return fmt.Sprintf("%s %q: %s", e.Option, e.Value, e.Msg)
}

// placeholderIdentity stands in for the signing certificate's identity
// when the options are checked before the certificate is known.
const placeholderIdentity = "x509.subject: C=US, ST=WA, O=Acme"

// Validate lints the trust policy statement the options make (empty
// values take their defaults) with the trust policy engine's linter, and
// returns a *DoctorOptionError for the first value it refuses.
func (o DoctorOptions) Validate() error {
	o = o.withDefaults()
	for _, p := range trustpolicy.Lint(o.policy(placeholderIdentity)) {
		e := &DoctorOptionError{Msg: p.Msg}
		switch {
		case strings.HasPrefix(p.Path, "trustPolicies[0].registryScopes"):
			e.Option, e.Value = "Scope", o.Scope
		case strings.HasPrefix(p.Path, "trustPolicies[0].trustStores"):
			e.Option, e.Value = "TrustStore", o.TrustStore
		case strings.HasPrefix(p.Path, "trustPolicies[0].name"):
			e.Option, e.Value = "KeyName", o.KeyName
		default:
			e.Option, e.Msg = "", p.Error()
		}
		return e
	}
	return nil
}

// policy is the complete trust policy document for verifiers of the key's
// signatures: one statement at level strict.
func (o DoctorOptions) policy(identity string) *trustpolicy.Document {
	return &trustpolicy.Document{
		Version: "1.0",
		TrustPolicies: []trustpolicy.Statement{{
			Name:                  o.KeyName,
			RegistryScopes:        []string{o.Scope},
			SignatureVerification: trustpolicy.SignatureVerification{Level: trustpolicy.LevelStrict},
			TrustStores:           []string{"ca:" + o.TrustStore},
			TrustedIdentities:     []string{identity},
		}},
	}
}

// advise fills the notation commands and the trust policy for a healthy
// key. The identity comes from the verifier's rule (pki.SubjectIdentity is
// trustpolicy.IdentityFor), so the policy accepts exactly this signing
// certificate's subject.
func (p *Plugin) advise(rep *DoctorReport, r keyRequest, chain []*x509.Certificate, pluginConfig map[string]string, o DoctorOptions) {
	leaf, root := chain[0], chain[len(chain)-1]
	fp := sha256.Sum256(leaf.Raw)
	rfp := sha256.Sum256(root.Raw)
	rep.Subject = leaf.Subject.String()
	rep.CertificateSHA256 = hex.EncodeToString(fp[:])
	rep.RootSubject = root.Subject.String()
	rep.RootSHA256 = hex.EncodeToString(rfp[:])
	rep.Root = root
	rep.NotAfter = leaf.NotAfter
	rep.KeyAddCommand = "notation key add --plugin " + Name + " --id " + shellQuote(r.uri.String()) + configArgs(pluginConfig) + " " + shellQuote(o.KeyName)
	rootFile := o.RootFile
	if rootFile == "" {
		rootFile = "ROOT.pem"
	}
	rep.TrustStoreCommand = "notation cert add --type ca --store " + shellQuote(o.TrustStore) + " " + shellQuote(rootFile)
	// The one subject rule (pki.SubjectIdentity, the verifier's own): the
	// identity the verifier suggests, or its words for why there is none.
	id, err := pki.SubjectIdentity(leaf.Subject)
	if err != nil {
		var se *pki.SubjectError
		if errors.As(err, &se) {
			err = se.Err
		}
		rep.IdentityProblem = err.Error()
		return
	}
	rep.Identity = id
	rep.TrustPolicy = o.policy(id)
}
