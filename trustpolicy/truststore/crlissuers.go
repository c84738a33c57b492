package truststore

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"time"
)

// Discover lists every store folder under root/x509/{ca,signingAuthority,tsa}
// whose name is a valid store name, sorted by type then name: the stores a
// trust policy could reference. A missing type folder is skipped; one that
// cannot be read gives an error wrapping ErrAccess.
func Discover(root string) ([]Ref, error) {
	return discover(osSource{root: root})
}

func discover(src source) ([]Ref, error) {
	var refs []Ref
	for _, t := range Types() {
		dir := path.Join("x509", string(t))
		ents, err := src.readDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, &StoreError{Path: src.display(dir), Err: fmt.Errorf("%w: %w", ErrAccess, err),
				Msg: fmt.Sprintf("cannot read type folder %s: %v", src.display(dir), err)}
		}
		for _, d := range ents {
			if d.IsDir() && ValidName(d.Name()) {
				refs = append(refs, Ref{Type: t, Name: d.Name()})
			}
		}
	}
	slices.SortFunc(refs, compareRefs)
	return refs, nil
}

// ErrNotAnchored: a CA certificate offered as a CRL issuer does not chain to
// a trust store certificate.
var ErrNotAnchored = errors.New("does not chain to a trust store")

// CRLIssuers returns the CA certificates a CRL may be validated against,
// the trust decision of the crl commands: every certificate of every store
// under root (the stores a policy names are among them), then each CA
// certificate of extra (intermediates given with --issuer or in a chain
// file) that chains to one of those at now. A certificate that does not
// chain to a trust store is never an issuer, so nothing unanchored enters
// the CRL cache; and an intermediate is never made a trust anchor.
//
// skipped lists what was left out: a store that fails to load (its
// *StoreError) and each CA certificate of extra that does not chain (an
// error wrapping ErrNotAnchored). err is set when root holds no usable
// certificate at all (wrapping ErrNoCertificates) or cannot be read.
func CRLIssuers(root string, extra []*x509.Certificate, now time.Time) (issuers []*x509.Certificate, skipped []error, err error) {
	return crlIssuers(osSource{root: root}, extra, now)
}

func crlIssuers(src source, extra []*x509.Certificate, now time.Time) ([]*x509.Certificate, []error, error) {
	refs, err := discover(src)
	if err != nil {
		return nil, nil, err
	}
	set := load(src, refs)
	var anchors []*x509.Certificate
	var skipped []error
	for _, ref := range refs {
		certs, err := set.Certificates(ref)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		anchors = append(anchors, certs...)
	}
	if len(anchors) == 0 {
		x509Dir := src.display("x509")
		return nil, skipped, &StoreError{Path: x509Dir, Err: ErrNoCertificates,
			Msg: fmt.Sprintf("no trust store certificate under %s: a CRL is accepted only from a CA that chains to a trust store; add your CA's root certificate with notation cert add, or pass --truststore", x509Dir)}
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, a := range anchors {
		roots.AddCert(a)
	}
	for _, c := range extra {
		if c != nil {
			inter.AddCert(c)
		}
	}
	out := slices.Clone(anchors)
	for _, c := range extra {
		if c == nil || !c.IsCA || slices.ContainsFunc(out, c.Equal) {
			continue
		}
		_, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			skipped = append(skipped, fmt.Errorf("certificate %q is not used as a CRL issuer: it %w: %v", c.Subject.String(), ErrNotAnchored, err))
			continue
		}
		out = append(out, c)
	}
	return out, skipped, nil
}
