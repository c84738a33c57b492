package revocation

import (
	"context"
	"crypto/x509"
)

// NonRevokableOnly returns a Checker that needs no network and no cache: a
// root (self-signed) certificate, or one that names neither an OCSP
// responder nor a CRL distribution point, is NonRevokable, as in
// notation-core-go; every other certificate is Unknown, because nothing was
// checked. It fails closed: under a policy that enforces revocation, a chain
// with revocation endpoints fails.
func NonRevokableOnly() Checker {
	return CheckerFunc(func(ctx context.Context, req Request) ([]Result, error) {
		out := make([]Result, len(req.Chain))
		for i, c := range req.Chain {
			out[i] = staticResult(c, i == len(req.Chain)-1)
		}
		return out, nil
	})
}

func staticResult(c *x509.Certificate, last bool) Result {
	if last && c.CheckSignatureFrom(c) == nil && string(c.RawIssuer) == string(c.RawSubject) {
		return Result{Status: StatusNonRevokable}
	}
	if len(c.OCSPServer) == 0 && len(c.CRLDistributionPoints) == 0 {
		return Result{Status: StatusNonRevokable}
	}
	return Result{Status: StatusUnknown, Detail: "the certificate names revocation endpoints but no revocation checker is configured"}
}
