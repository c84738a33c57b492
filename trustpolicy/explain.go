package trustpolicy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
)

// The text renderers escape every value that comes from outside (the
// reference, the policy file, the envelope and its certificates, the
// revocation responders, error texts) with internal/textsafe, so a
// certificate subject or an annotation cannot move the cursor or paint a
// fake verdict on a terminal. The JSON forms carry the values unchanged.

// esc escapes a one-line value.
func esc(s string) string { return textsafe.Escape(s) }

// Summary is one line for people: the verdict, and for a failure the check
// that failed, why, and the fix.
func (r *Result) Summary() string {
	var b strings.Builder
	switch r.Verdict {
	case VerdictVerified:
		fmt.Fprintf(&b, "verified: %s", esc(r.Reference))
		if r.Policy != nil {
			fmt.Fprintf(&b, " under policy %s (%s)", esc(quote(r.Policy.Name)), esc(r.Policy.Level))
		}
		if logged := r.loggedFailures(); len(logged) > 0 {
			fmt.Fprintf(&b, "; logged, not enforced: %s", esc(strings.Join(logged, "; ")))
		}
	case VerdictSkipped:
		name := ""
		if r.Policy != nil {
			name = r.Policy.Name
		}
		fmt.Fprintf(&b, "skipped: policy %s has level skip for %s", esc(quote(name)), esc(r.Reference))
	default:
		fmt.Fprintf(&b, "%s: %s: %s", r.Verdict, esc(r.Reference), esc(r.reason()))
		if r.Fix != "" {
			fmt.Fprintf(&b, "; fix: %s", esc(r.Fix))
		}
	}
	return b.String()
}

// reason is why a failed or inconclusive result did not verify: the
// enforced check that failed, or the error.
func (r *Result) reason() string {
	if c := r.failedCheck(); c != nil {
		return fmt.Sprintf("%s check failed: %s", c.Type, c.Error)
	}
	return r.Error
}

// quote is strconv.Quote without escaping what esc escapes anyway.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

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
// matched, each check with its action and outcome, the revocation evidence,
// the chain, the timestamp, and a fix for every failure.
func (r *Result) Explain() string {
	var b strings.Builder
	r.explainHeader(&b)
	r.explainChecks(&b)
	r.explainRevocation(&b)
	r.explainChain(&b)
	r.explainTimestamp(&b)
	r.explainFixes(&b)
	return b.String()
}

func (r *Result) explainHeader(b *strings.Builder) {
	fmt.Fprintf(b, "Reference:  %s\n", esc(r.Reference))
	fmt.Fprintf(b, "Verdict:    %s\n", strings.ToUpper(esc(string(r.Verdict))))
	if p := r.Policy; p != nil {
		fmt.Fprintf(b, "Policy:     %s (trustPolicies[%d]), level %s\n", esc(quote(p.Name)), p.Index, esc(p.Level))
		fmt.Fprintf(b, "            %s\n", esc(p.Why))
	}
	s := r.Signature
	if s == nil {
		return
	}
	fmt.Fprintf(b, "Signature:  %s, scheme %s, signed %s", esc(s.MediaType), esc(s.SigningScheme), s.SigningTime.Format(time.RFC3339))
	if !s.Expiry.IsZero() {
		fmt.Fprintf(b, ", expires %s", s.Expiry.Format(time.RFC3339))
	}
	if s.SigningAgent != "" {
		fmt.Fprintf(b, ", agent %s", esc(quote(s.SigningAgent)))
	}
	b.WriteString("\n")
	if t := s.TargetArtifact; t != nil {
		fmt.Fprintf(b, "Signed:     %s (%s, %d bytes)\n", esc(t.Digest), esc(t.MediaType), t.Size)
		for _, k := range slices.Sorted(maps.Keys(t.Annotations)) {
			fmt.Fprintf(b, "            %s=%s\n", esc(k), esc(t.Annotations[k]))
		}
	}
}

func (r *Result) explainChecks(b *strings.Builder) {
	if len(r.Checks) == 0 {
		return
	}
	b.WriteString("\nChecks:\n")
	tw := tabwriter.NewWriter(b, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CHECK\tACTION\tRESULT\tDETAIL")
	for _, c := range r.Checks {
		detail := c.Error
		if detail == "" && c.Outcome == OutcomeNotRun {
			detail = "not reached: an earlier enforced check failed"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", esc(string(c.Type)), esc(string(c.Action)), esc(string(c.Outcome)), esc(detail))
	}
	tw.Flush()
}

func (r *Result) explainRevocation(b *strings.Builder) {
	for _, rv := range []struct {
		t     ValidationType
		title string
	}{{TypeRevocation, "Revocation (signing chain)"}, {TypeAuthenticTimestamp, "Revocation (timestamping chain)"}} {
		rc := r.Check(rv.t)
		if rc == nil || len(rc.Revocation) == 0 {
			continue
		}
		b.WriteString("\n" + rv.title + ":\n")
		tw := tabwriter.NewWriter(b, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  CERTIFICATE\tSTATUS\tMETHOD\tSOURCE\tTHIS UPDATE\tNEXT UPDATE\tDETAIL")
		for _, cr := range rc.Revocation {
			detail := cr.Detail
			if cr.Status == revocation.StatusRevoked {
				detail = fmt.Sprintf("revoked %s, reason %s", fmtTime(cr.RevokedAt), cr.Reason)
				if cr.Detail != "" {
					detail += "; " + cr.Detail
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", esc(cr.Subject), esc(string(cr.Status)), esc(orDash(string(cr.Method))),
				esc(revocationSource(cr.Result)), fmtTime(cr.ThisUpdate), fmtTime(cr.NextUpdate), esc(orDash(detail)))
		}
		tw.Flush()
	}
}

// revocationSource is where the deciding revocation evidence came from,
// as revocation.Result.Source says: "network", "memory cache" (filled
// earlier by this process), "disk cache" (filled by an earlier run or crl
// fetch) or "imported" (a CRL from crl import); "none" when nothing answered
// (every responder and distribution point failed, or offline without a
// cached answer); followed by the responder or distribution point URL. A
// certificate nothing was asked about (a root) has "-". A checker that does
// not fill Source is shown as before: "cache" when FromCache, else
// "network".
func revocationSource(res revocation.Result) string {
	if res.Method == revocation.MethodNone && res.URL == "" {
		return "-"
	}
	var src string
	switch res.Source {
	case revocation.SourceMemory, revocation.SourceDisk:
		src = string(res.Source) + " cache"
	default:
		src = string(res.Source)
	}
	switch {
	case res.Status != revocation.StatusOK && res.Status != revocation.StatusRevoked:
		// No answer: the status is not evidence from anywhere.
		src = "none"
	case src != "":
	case res.FromCache:
		src = "cache"
	default:
		src = "network"
	}
	if res.URL != "" {
		src += " " + res.URL
	}
	return src
}

func (r *Result) explainChain(b *strings.Builder) {
	if len(r.Chain) == 0 {
		return
	}
	b.WriteString("\nCertificate chain:\n")
	for _, c := range r.Chain {
		fmt.Fprintf(b, "  %-12s %s\n", esc(c.Role), esc(c.Subject))
		fmt.Fprintf(b, "  %-12s sha256 %s\n", "", esc(c.SHA256))
		fmt.Fprintf(b, "  %-12s valid %s to %s", "", c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
		if c.Trusted != "" {
			fmt.Fprintf(b, "; trusted in %s", esc(c.Trusted))
		}
		b.WriteString("\n")
	}
}

func (r *Result) explainTimestamp(b *strings.Builder) {
	t := r.Timestamp
	if t == nil {
		return
	}
	fmt.Fprintf(b, "\nTimestamp:  %s ± %s", t.Time.Format(time.RFC3339), t.Accuracy)
	if len(t.TSA) > 0 {
		fmt.Fprintf(b, " by %s", esc(t.TSA[0].Subject))
	}
	b.WriteString("\n")
}

func (r *Result) explainFixes(b *strings.Builder) {
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
		fmt.Fprintf(b, "\nReason:     %s\n", esc(r.Error))
	}
	if len(fixes) > 0 {
		b.WriteString("\nHow to fix:\n")
		for _, f := range fixes {
			fmt.Fprintf(b, "  - %s\n", esc(f))
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
