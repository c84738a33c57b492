package trustpolicy

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary is one line for people: the verdict, and for a failure the check
// that failed, why, and the fix.
func (r *Result) Summary() string {
	var b strings.Builder
	switch r.Verdict {
	case VerdictVerified:
		fmt.Fprintf(&b, "verified: %s", r.Reference)
		if r.Policy != nil {
			fmt.Fprintf(&b, " under policy %q (%s)", r.Policy.Name, r.Policy.Level)
		}
		if logged := r.loggedFailures(); len(logged) > 0 {
			fmt.Fprintf(&b, "; logged, not enforced: %s", strings.Join(logged, "; "))
		}
	case VerdictSkipped:
		fmt.Fprintf(&b, "skipped: policy %q has level skip for %s", r.Policy.Name, r.Reference)
	default:
		fmt.Fprintf(&b, "%s: %s", r.Verdict, r.Reference)
		if c := r.failedCheck(); c != nil {
			fmt.Fprintf(&b, ": %s check failed: %s", c.Type, c.Error)
		} else if r.Error != "" {
			fmt.Fprintf(&b, ": %s", r.Error)
		}
		if r.Fix != "" {
			fmt.Fprintf(&b, "; fix: %s", r.Fix)
		}
	}
	return b.String()
}

// failedCheck returns the enforced check that decided a failure, if any.
func (r *Result) failedCheck() *Check {
	for i := range r.Checks {
		c := &r.Checks[i]
		if c.Outcome == OutcomeFailed && c.Action == ActionEnforce {
			return c
		}
	}
	return nil
}

func (r *Result) loggedFailures() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Outcome == OutcomeFailed && c.Action == ActionLog {
			out = append(out, fmt.Sprintf("%s: %s", c.Type, c.Error))
		}
	}
	return out
}

// Explain renders a Result as a readable report: the policy and why it
// matched, each check with its action and outcome, the chain, and a fix for
// every failure.
func (r *Result) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Reference:  %s\n", r.Reference)
	fmt.Fprintf(&b, "Verdict:    %s\n", strings.ToUpper(string(r.Verdict)))
	if r.Policy != nil {
		fmt.Fprintf(&b, "Policy:     %q (trustPolicies[%d]), level %s\n", r.Policy.Name, r.Policy.Index, r.Policy.Level)
		fmt.Fprintf(&b, "            %s\n", r.Policy.Why)
	}
	if s := r.Signature; s != nil {
		fmt.Fprintf(&b, "Signature:  %s, scheme %s, signed %s", s.MediaType, s.SigningScheme, s.SigningTime.Format(time.RFC3339))
		if !s.Expiry.IsZero() {
			fmt.Fprintf(&b, ", expires %s", s.Expiry.Format(time.RFC3339))
		}
		b.WriteString("\n")
		if s.TargetArtifact != nil {
			fmt.Fprintf(&b, "Signed:     %s (%s, %d bytes)\n", s.TargetArtifact.Digest, s.TargetArtifact.MediaType, s.TargetArtifact.Size)
		}
	}
	if len(r.Checks) > 0 {
		b.WriteString("\nChecks:\n")
		tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  CHECK\tACTION\tRESULT\tDETAIL")
		for _, c := range r.Checks {
			detail := c.Error
			if detail == "" && c.Outcome == OutcomeNotRun {
				detail = "not reached: an earlier enforced check failed"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Type, c.Action, c.Outcome, detail)
		}
		tw.Flush()
	}
	for _, rv := range []struct {
		t     ValidationType
		title string
	}{{TypeRevocation, "Revocation (signing chain)"}, {TypeAuthenticTimestamp, "Revocation (timestamping chain)"}} {
		rc := r.Check(rv.t)
		if rc == nil || len(rc.Revocation) == 0 {
			continue
		}
		b.WriteString("\n" + rv.title + ":\n")
		tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  CERTIFICATE\tSTATUS\tMETHOD\tSOURCE\tTHIS UPDATE\tNEXT UPDATE\tDETAIL")
		for _, cr := range rc.Revocation {
			// SOURCE is where the deciding evidence came from: the cache or
			// the network, and the responder or distribution point URL. A
			// certificate nothing was asked about (a root) has none.
			src := "-"
			if cr.Method != "" || cr.URL != "" {
				src = "network"
				if cr.FromCache {
					src = "cache"
				}
				if cr.URL != "" {
					src += " " + cr.URL
				}
			}
			detail := cr.Detail
			if cr.Status == "revoked" {
				detail = fmt.Sprintf("revoked %s, reason %s", fmtTime(cr.RevokedAt), cr.Reason)
				if cr.Detail != "" {
					detail += "; " + cr.Detail
				}
			}
			if detail == "" {
				detail = "-"
			}
			method := string(cr.Method)
			if method == "" {
				method = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", cr.Subject, cr.Status, method, src, fmtTime(cr.ThisUpdate), fmtTime(cr.NextUpdate), detail)
		}
		tw.Flush()
	}
	if len(r.Chain) > 0 {
		b.WriteString("\nCertificate chain:\n")
		for _, c := range r.Chain {
			fmt.Fprintf(&b, "  %-12s %s\n", c.Role, c.Subject)
			fmt.Fprintf(&b, "  %-12s sha256 %s\n", "", c.SHA256)
			fmt.Fprintf(&b, "  %-12s valid %s to %s", "", c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
			if c.Trusted != "" {
				fmt.Fprintf(&b, "; trusted in %s", c.Trusted)
			}
			b.WriteString("\n")
		}
	}
	if t := r.Timestamp; t != nil {
		fmt.Fprintf(&b, "\nTimestamp:  %s ± %s", t.Time.Format(time.RFC3339), t.Accuracy)
		if len(t.TSA) > 0 {
			fmt.Fprintf(&b, " by %s", t.TSA[0].Subject)
		}
		b.WriteString("\n")
	}
	var fixes []string
	for _, c := range r.Checks {
		if c.Outcome == OutcomeFailed && c.Fix != "" {
			fixes = append(fixes, fmt.Sprintf("%s (%s): %s", c.Type, c.Action, c.Fix))
		}
	}
	if r.Fix != "" && (len(fixes) == 0 || r.failedCheck() == nil) {
		fixes = append(fixes, r.Fix)
	}
	if r.Verdict != VerdictVerified && r.Verdict != VerdictSkipped && r.Error != "" {
		fmt.Fprintf(&b, "\nReason:     %s\n", r.Error)
	}
	if len(fixes) > 0 {
		b.WriteString("\nHow to fix:\n")
		for _, f := range fixes {
			fmt.Fprintf(&b, "  - %s\n", f)
		}
	}
	return b.String()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
