package trustpolicy

// This file is the authenticity check (is a certificate of the chain in
// the policy's trust stores) and the trusted-identity check (does the leaf
// match the statement's identities), which notation reports as one.

import (
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// authenticity runs the authenticity and trusted-identity checks, which
// notation reports as one result.
func (r *run) authenticity() (stop bool, err error) {
	c := r.checks[TypeAuthenticity]
	scheme := r.si.SignedAttributes.SigningScheme
	var typ truststore.Type
	switch scheme {
	case signature.SigningSchemeX509:
		typ = truststore.TypeCA
	case signature.SigningSchemeX509SigningAuthority:
		typ = truststore.TypeSigningAuthority
	default:
		err := withFix(fmt.Errorf("error while loading the trust store, unrecognized signing scheme %q", scheme), "sign with signing scheme notary.x509 or notary.x509.signingAuthority")
		if r.record(TypeAuthenticity, err) {
			return true, fail(TypeAuthenticity, err)
		}
		return r.identity()
	}
	anchors := r.e.trusted(r.rule, typ)
	switch {
	case anchors.err != nil:
		err := withFix(anchors.err, fmt.Sprintf("fix the trust store (see the error), or remove it from policy %q", r.rule.Name))
		if r.record(TypeAuthenticity, err) {
			return true, fail(TypeAuthenticity, err)
		}
	case len(anchors.certs) == 0:
		err := &InconclusiveError{Msg: "no trusted certificates are found to verify authenticity"}
		fix := fmt.Sprintf("signatures with signing scheme %s are verified against %q trust stores; policy %q lists none", scheme, typ, r.rule.Name)
		// The check keeps the fix; the verdict is inconclusive, without one.
		if r.record(TypeAuthenticity, withFix(err, fix)) {
			return true, err
		}
	default:
		rf := r.ruleFacts(scheme, anchors)
		if rf.trustedIndex < 0 {
			err := withFix(&signature.SignatureAuthenticityError{}, r.untrustedFix(typ))
			if r.record(TypeAuthenticity, err) {
				return true, fail(TypeAuthenticity, err)
			}
		} else {
			c.Outcome = OutcomePassed
			r.markTrusted(anchors, rf.trustedIndex)
		}
	}
	return r.identity()
}

// identity is notation's trusted-identity check. Its failure replaces the
// authenticity result.
func (r *run) identity() (bool, error) {
	// An *IdentityError carries its fix (IdentityError.Fix).
	if err := r.identityFacts().identityErr; err != nil && r.record(TypeAuthenticity, err) {
		return true, fail(TypeAuthenticity, err)
	}
	return false, nil
}

func (r *run) ruleFacts(scheme signature.SigningScheme, anchors anchorSet) *ruleFacts {
	k := ruleFactsKey{chain: r.key, rule: r.rule.Index, scheme: scheme}
	if f := r.e.memo.getRule(k); f != nil {
		return f
	}
	f := &ruleFacts{trustedIndex: -1}
	// Any certificate of the envelope's chain byte-equal to a trusted one:
	// notation builds no path.
outer:
	for _, c := range r.chain {
		for i, t := range anchors.certs {
			if t.Equal(c) {
				f.trustedIndex = i
				break outer
			}
		}
	}
	r.e.memo.putRule(k, f)
	return f
}

func (r *run) identityFacts() *ruleFacts {
	k := ruleFactsKey{chain: r.key, rule: r.rule.Index, scheme: "identity"}
	if f := r.e.memo.getRule(k); f != nil {
		return f
	}
	f := &ruleFacts{trustedIndex: -1, identityErr: r.rule.MatchIdentity(r.chain[0])}
	r.e.memo.putRule(k, f)
	return f
}

func (r *run) markTrusted(anchors anchorSet, idx int) {
	t := anchors.certs[idx]
	for i, c := range r.chain {
		if t.Equal(c) {
			r.res.Chain[i].Trusted = anchors.names[idx]
		}
	}
}

func (r *run) untrustedFix(typ truststore.Type) string {
	var stores []string
	for _, s := range r.rule.Stores {
		if s.Type == typ {
			stores = append(stores, s.String())
		}
	}
	root := r.chain[len(r.chain)-1]
	where := "a " + string(typ) + " trust store named in the policy"
	if len(stores) > 0 {
		where = strings.Join(stores, " or ")
	}
	if len(r.chain) > 1 || isSelfIssued(root) {
		return fmt.Sprintf("no certificate of the signature's chain is in %s; if you trust its issuer, add the root certificate %q (sha256 %s) to %s", where, root.Subject.String(), r.res.Chain[len(r.chain)-1].SHA256, where)
	}
	return fmt.Sprintf("no certificate of the signature's chain is in %s", where)
}

func isSelfIssued(c *x509.Certificate) bool {
	return string(c.RawSubject) == string(c.RawIssuer)
}
