package trustpolicy

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	nx509 "github.com/notaryproject/notation-core-go/x509"
	"github.com/notaryproject/tspclient-go"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// authenticTimestamp is notation's authentic-timestamp check. Its error
// carries the fix.
func (r *run) authenticTimestamp() error {
	if r.si.SignedAttributes.SigningScheme == signature.SigningSchemeX509SigningAuthority {
		// The signing authority's signing time is authentic: every
		// certificate must have been valid at it. The clock is not used.
		st := r.si.SignedAttributes.SigningTime
		for _, c := range r.chain {
			if st.Before(c.NotBefore) || st.After(c.NotAfter) {
				return withFix(fmt.Errorf("certificate %q was not valid when the digital signature was produced at %q", c.Subject, st.Format(time.RFC1123Z)),
					fmt.Sprintf("the signing authority signed outside the validity of %q (%s to %s)", c.Subject.String(), c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339)))
			}
		}
		return nil
	}
	return r.timestamp()
}

func (r *run) timestamp() error {
	now := r.in.Now
	perform := false
	for _, s := range r.rule.Stores {
		if s.Type == truststore.TypeTSA {
			perform = true
			break
		}
	}
	if perform && r.rule.VerifyTimestamp == VerifyTimestampAfterCertExpiry {
		expired := false
		for _, c := range r.chain {
			if now.After(c.NotAfter) {
				expired = true
				break
			}
		}
		perform = expired
	}
	if !perform {
		// Without a timestamp, every certificate must be valid now.
		for _, c := range r.chain {
			if now.Before(c.NotBefore) {
				return withFix(fmt.Errorf("verification time is before certificate %q validity period, it will be valid from %q", c.Subject, c.NotBefore.Format(time.RFC1123Z)),
					fmt.Sprintf("certificate %q is not valid until %s; check the signer's and this machine's clocks", c.Subject.String(), c.NotBefore.UTC().Format(time.RFC3339)))
			}
			if now.After(c.NotAfter) {
				return withFix(fmt.Errorf("verification time is after certificate %q validity period, it was expired at %q", c.Subject, c.NotAfter.Format(time.RFC1123Z)),
					fmt.Sprintf("certificate %q expired at %s: renew it and re-sign the artifact, or sign with an RFC 3161 timestamp (notation sign --timestamp-url) and list a tsa trust store in policy %q", c.Subject.String(), c.NotAfter.UTC().Format(time.RFC3339), r.rule.Name))
			}
		}
		return nil
	}
	info, err := r.verifyCountersignature()
	if info != nil {
		r.res.Timestamp = info
	}
	return err
}

// verifyCountersignature verifies the RFC 3161 timestamp and the
// revocation of the timestamping chain; its errors carry their fixes.
func (r *run) verifyCountersignature() (*TimestampInfo, error) {
	token := r.si.UnsignedAttributes.TimestampSignature
	if len(token) == 0 {
		return nil, withFix(errors.New("no timestamp countersignature was found in the signature envelope"),
			"the policy requires a timestamp (it lists a tsa trust store): sign with notation sign --timestamp-url URL --timestamp-root-cert FILE")
	}
	const malformed = "the timestamp token is malformed; re-sign with a working RFC 3161 timestamp authority"
	signed, err := tspclient.ParseSignedToken(token)
	if err != nil {
		return nil, withFix(fmt.Errorf("failed to parse timestamp countersignature with error: %w", err), malformed)
	}
	tst, err := signed.Info()
	if err != nil {
		return nil, withFix(fmt.Errorf("failed to get the timestamp TSTInfo with error: %w", err), malformed)
	}
	ts, err := tst.Validate(r.si.Signature)
	if err != nil {
		return nil, withFix(fmt.Errorf("failed to get timestamp from timestamp countersignature with error: %w", err), "the timestamp does not cover this signature; re-sign the artifact")
	}
	info := &TimestampInfo{Time: ts.Value.UTC(), Accuracy: ts.Accuracy}
	anchors := r.e.trusted(r.rule, truststore.TypeTSA)
	if anchors.err != nil {
		return info, withFix(fmt.Errorf("failed to load tsa trust store with error: %w", anchors.err), "fix the tsa trust store named in the error")
	}
	if len(anchors.certs) == 0 {
		return info, withFix(errors.New("no trusted TSA certificate found in trust store"), "add the timestamp authority's root certificate to the tsa trust store the policy names")
	}
	roots := x509.NewCertPool()
	for _, c := range anchors.certs {
		roots.AddCert(c)
	}
	tsaChain, err := signed.Verify(r.ctx, x509.VerifyOptions{CurrentTime: ts.Value, Roots: roots})
	if err != nil {
		return info, withFix(fmt.Errorf("failed to verify the timestamp countersignature with error: %w", err),
			fmt.Sprintf("the timestamp was not issued by a timestamp authority whose root is in %s; add that root or sign with a trusted timestamp authority", tsaStores(r.rule)))
	}
	info.TSA = certInfos(tsaChain)
	if err := nx509.ValidateTimestampingCertChain(tsaChain); err != nil {
		return info, withFix(fmt.Errorf("failed to validate the timestamping certificate chain with error: %w", err),
			"the timestamp authority's certificates break the Notary Project timestamping rules (critical timeStamping EKU on the TSA certificate); use another timestamp authority")
	}
	for _, c := range r.chain {
		if !ts.BoundedAfter(c.NotBefore) {
			return info, withFix(fmt.Errorf("timestamp can be before certificate %q validity period, it will be valid from %q", c.Subject, c.NotBefore.Format(time.RFC1123Z)),
				fmt.Sprintf("the timestamp %s is before certificate %q became valid; check the signer's clock and re-sign", ts.Value.UTC().Format(time.RFC3339), c.Subject.String()))
		}
		if !ts.BoundedBefore(c.NotAfter) {
			return info, withFix(fmt.Errorf("timestamp can be after certificate %q validity period, it was expired at %q", c.Subject, c.NotAfter.Format(time.RFC1123Z)),
				fmt.Sprintf("certificate %q had already expired (%s) when the signature was timestamped; renew it and re-sign", c.Subject.String(), c.NotAfter.UTC().Format(time.RFC3339)))
		}
	}
	return info, r.chainRevocation(tsaChain, time.Time{}, timestampingChain())
}

func tsaStores(rule *Rule) string {
	var s []string
	for _, st := range rule.Stores {
		if st.Type == truststore.TypeTSA {
			s = append(s, st.String())
		}
	}
	if len(s) == 0 {
		return "the tsa trust stores"
	}
	return fmt.Sprint(s)
}
