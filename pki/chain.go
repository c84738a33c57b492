package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// maxChainLength bounds how far BuildChain walks towards a root, so that a
// cycle of cross-signed certificates cannot loop forever.
const maxChainLength = 10

// ErrCertificateMismatch is returned when a certificate offered as the
// signing certificate does not hold the signing key's public key.
var ErrCertificateMismatch = errors.New("certificate does not match the signing key")

// ErrIncompleteChain is returned when no issuer can be found for a
// certificate that is not self-signed.
var ErrIncompleteChain = errors.New("incomplete certificate chain")

// IssuerFinder returns the candidate issuers of a certificate: every known
// certificate whose subject equals rawIssuer (the DER of the issuer name).
// Implementations look in a PEM bundle, on a token, or both.
type IssuerFinder func(rawIssuer []byte) ([]*x509.Certificate, error)

// PublicKeyEqual reports whether two public keys are the same key.
func PublicKeyEqual(a, b crypto.PublicKey) bool {
	ka, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ka.Equal(b)
}

// FindLeafAt returns the certificate in certs that holds pub and suits
// signing at now: a key renewed in place may have an expired and a current
// certificate side by side. It prefers one valid at now, and among equals
// the one issued last; it never rejects a matching certificate itself, so
// the chain rules still report an expired one when no other exists.
func FindLeafAt(pub crypto.PublicKey, certs []*x509.Certificate, now time.Time) (*x509.Certificate, error) {
	var best *x509.Certificate
	better := func(c *x509.Certificate) bool {
		if best == nil {
			return true
		}
		cv, bv := validAt(c, now), validAt(best, now)
		if cv != bv {
			return cv
		}
		return c.NotBefore.After(best.NotBefore)
	}
	for _, c := range certs {
		if PublicKeyEqual(pub, c.PublicKey) && better(c) {
			best = c
		}
	}
	if best == nil {
		return FindLeaf(pub, certs)
	}
	return best, nil
}

func validAt(c *x509.Certificate, t time.Time) bool {
	return !t.Before(c.NotBefore) && !t.After(c.NotAfter)
}

// FindLeaf returns the first certificate in certs that holds pub.
func FindLeaf(pub crypto.PublicKey, certs []*x509.Certificate) (*x509.Certificate, error) {
	for _, c := range certs {
		if PublicKeyEqual(pub, c.PublicKey) {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: none of the %d certificates holds the key's public key", ErrCertificateMismatch, len(certs))
}

// BuildChain orders a chain from leaf to a self-signed root, asking find for
// each certificate's issuer. A candidate is accepted only if its subject is
// the certificate's issuer and its key verifies the certificate's signature.
func BuildChain(leaf *x509.Certificate, find IssuerFinder) ([]*x509.Certificate, error) {
	chain, err := buildChain(leaf, find)
	if err != nil {
		return nil, err
	}
	return chain, nil
}

// buildChain is BuildChain that also returns, on error, the part of the
// chain it could build (for lint to check what is there).
func buildChain(leaf *x509.Certificate, find IssuerFinder) ([]*x509.Certificate, error) {
	chain := []*x509.Certificate{leaf}
	for cur := leaf; !isSelfSigned(cur); {
		if len(chain) >= maxChainLength {
			return chain, fmt.Errorf("%w: no self-signed root within %d certificates above %q", ErrIncompleteChain, maxChainLength, leaf.Subject)
		}
		candidates, err := find(cur.RawIssuer)
		if err != nil {
			return chain, fmt.Errorf("failed to look up the issuer of %q: %w", cur.Subject, err)
		}
		var issuer *x509.Certificate
		for _, c := range candidates {
			if bytes.Equal(c.RawSubject, cur.RawIssuer) && cur.CheckSignatureFrom(c) == nil && !inChain(chain, c) {
				issuer = c
				break
			}
		}
		if issuer == nil {
			return chain, fmt.Errorf("%w: no certificate for issuer %q of %q; add the issuing CA certificate (and the ones above it, up to the root)", ErrIncompleteChain, cur.Issuer, cur.Subject)
		}
		chain = append(chain, issuer)
		cur = issuer
	}
	return chain, nil
}

// PoolFinder returns an IssuerFinder over a fixed set of certificates.
func PoolFinder(certs []*x509.Certificate) IssuerFinder {
	bySubject := make(map[string][]*x509.Certificate, len(certs))
	for _, c := range certs {
		bySubject[string(c.RawSubject)] = append(bySubject[string(c.RawSubject)], c)
	}
	return func(rawIssuer []byte) ([]*x509.Certificate, error) {
		return bySubject[string(rawIssuer)], nil
	}
}

// isSelfSigned checks the certificate's signature with its own key. It uses
// CheckSignature, not CheckSignatureFrom, which would refuse a self-signed
// certificate that is not a CA (a self-signed signing certificate).
func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

func inChain(chain []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range chain {
		if x.Equal(c) {
			return true
		}
	}
	return false
}
