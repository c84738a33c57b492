package admission

import (
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// expiry is when the verdict of r, decided at now, must be decided again:
// the earliest of
//
//   - now + maxTTL (now + min(maxTTL, failTTL) for a verdict that does not
//     admit: an image signed a minute later should pass soon);
//   - the expiry of every certificate of the chains that decided (the
//     signing chain and the timestamping chain), and the signature's own
//     expiry;
//   - the nextUpdate of every CRL or OCSP answer the revocation check used,
//     so a revocation published with the next CRL or OCSP answer is seen;
//   - now + failTTL when a certificate's revocation status was unknown
//     (a revocation check that only logs, or was not decided).
//
// For a verified artifact only the signature that verified decided; for
// the others every signature tried.
func expiry(r *trustpolicy.Report, now time.Time, maxTTL, failTTL time.Duration) time.Time {
	admitted := r.Verdict == trustpolicy.VerdictVerified || r.Verdict == trustpolicy.VerdictSkipped
	exp := now.Add(maxTTL)
	if !admitted {
		exp = now.Add(min(maxTTL, failTTL))
	}
	earliest := func(t time.Time) {
		if !t.IsZero() && t.Before(exp) {
			exp = t
		}
	}
	for _, s := range r.Signatures {
		if s.Result == nil || (r.Verdict == trustpolicy.VerdictVerified && s.Verdict != trustpolicy.VerdictVerified) {
			continue
		}
		for _, c := range s.Chain {
			earliest(c.NotAfter)
		}
		if s.Signature != nil {
			earliest(s.Signature.Expiry)
		}
		if s.Timestamp != nil {
			for _, c := range s.Timestamp.TSA {
				earliest(c.NotAfter)
			}
		}
		for _, c := range s.Checks {
			for _, ev := range c.Revocation {
				earliest(ev.NextUpdate)
				if ev.Status == revocation.StatusUnknown {
					earliest(now.Add(failTTL))
				}
			}
		}
	}
	return exp
}

// revocationSources counts the revocation evidence of r's signatures that
// came from the revocation cache (hits) and from the network (misses).
// Certificates that cannot be revoked, and unknown answers, count as
// neither.
func revocationSources(r *trustpolicy.Report) (hits, misses int) {
	for _, s := range r.Signatures {
		if s.Result == nil {
			continue
		}
		for _, c := range s.Checks {
			for _, ev := range c.Revocation {
				switch {
				case ev.Status != revocation.StatusOK && ev.Status != revocation.StatusRevoked:
				case ev.FromCache:
					hits++
				default:
					misses++
				}
			}
		}
	}
	return hits, misses
}
