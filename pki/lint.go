package pki

import (
	"crypto/x509"
	"time"
)

// LintCertificates checks a set of certificates given in any order (the
// files of `cert lint`) as one signing chain at time now. The leaf is the
// first certificate that issued none of the others; the chain is built
// from it with the others. It returns the chain it could build and every
// finding: the rule findings of LintChain, plus an error finding when the
// chain is incomplete (a missing issuer) or has certificates that are not
// part of it. A chain with no error finding is one the plugin signs with.
func LintCertificates(certs []*x509.Certificate, now time.Time) ([]*x509.Certificate, []Finding) {
	if len(certs) == 0 {
		return nil, []Finding{newFinding(RuleChainEmpty, 0, nil, "no certificate given", "name the files with the signing certificate and its issuers")}
	}
	leaf := pickLeaf(certs)
	chain, err := buildChain(leaf, PoolFinder(certs))
	findings := LintChain(chain, now)
	if err != nil {
		last := chain[len(chain)-1]
		findings = append(findings, newFinding(RuleChainIssuerMissing, len(chain)-1, last,
			"issuer certificate missing: no certificate for its issuer "+quote(last.Issuer.String())+" was given, so the chain cannot be checked up to a root",
			"add the issuing CA certificate (and the ones above it, up to the root) to the files"))
		if len(findings) > 0 {
			findings = dropRootFinding(findings, len(chain)-1)
		}
	}
	for _, c := range certs {
		if !inChain(chain, c) {
			findings = append(findings, newFinding(RuleChainExtra, -1, c,
				"this certificate is not part of the chain of "+quote(leaf.Subject.String()),
				"remove it from the files, or add the certificates that link it to the chain"))
		}
	}
	return chain, findings
}

// dropRootFinding removes the RuleChainNoRoot finding at index i, which
// the missing-issuer finding explains better.
func dropRootFinding(fs []Finding, i int) []Finding {
	out := fs[:0]
	for _, f := range fs {
		if f.Index == i && f.ID == RuleChainNoRoot {
			continue
		}
		out = append(out, f)
	}
	return out
}

// pickLeaf returns the first certificate that is not the issuer of another.
func pickLeaf(certs []*x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		issuesOther := false
		for _, o := range certs {
			if o != c && !o.Equal(c) && string(o.RawIssuer) == string(c.RawSubject) && c.CheckSignature(o.SignatureAlgorithm, o.RawTBSCertificate, o.Signature) == nil {
				issuesOther = true
				break
			}
		}
		if !issuesOther {
			return c
		}
	}
	return certs[0]
}

func quote(s string) string { return "\"" + s + "\"" }
