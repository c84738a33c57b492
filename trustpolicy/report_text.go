package trustpolicy

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxBriefLen is the most characters Report.Brief returns: under 200.
const MaxBriefLen = 199

// Summary is one line per signature for people.
func (r *Report) Summary() string {
	if len(r.Signatures) == 1 && r.Error == r.Signatures[0].Error {
		return r.Signatures[0].Summary()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", r.Verdict, esc(r.Reference))
	if r.Error != "" && len(r.Signatures) == 0 {
		fmt.Fprintf(&b, ": %s", esc(r.Error))
	}
	if r.Fix != "" {
		fmt.Fprintf(&b, "; fix: %s", esc(r.Fix))
	}
	for _, s := range r.Signatures {
		fmt.Fprintf(&b, "\n  %s: %s", esc(sigName(s)), s.Summary())
	}
	if r.Error != "" && len(r.Signatures) > 0 && r.Verdict == VerdictFailed && !errors.Is(r.Err(), ErrInconclusive) {
		last := r.Signatures[len(r.Signatures)-1]
		if !strings.Contains(r.Error, last.Error) || last.Error == "" {
			fmt.Fprintf(&b, "\n  %s", esc(r.Error))
		}
	}
	return b.String()
}

// Brief is the one-line result of verify: the verdict, the artifact that
// was verified (REGISTRY/REPOSITORY@DIGEST, named once), and for a failure
// the reason and, when it fits, the fix. It is at most MaxBriefLen
// characters: a long reason is cut, and Explain and the JSON report keep
// the whole text. Every value is escaped for the terminal.
func (r *Report) Brief() string {
	head := fmt.Sprintf("%s: %s", esc(string(r.Verdict)), shortReference(esc(r.Reference)))
	var reason, fix string
	switch r.Verdict {
	case VerdictVerified:
		if r.Policy != nil {
			reason = fmt.Sprintf("policy %s, level %s", quote(r.Policy.Name), r.Policy.Level)
		}
		if s := r.verifiedSignature(); s != nil {
			if logged := s.loggedTypes(); len(logged) > 0 {
				reason += fmt.Sprintf("; failed but only logged: %s", strings.Join(logged, ", "))
			}
		}
	case VerdictSkipped:
		name := ""
		if r.Policy != nil {
			name = r.Policy.Name
		}
		reason = fmt.Sprintf("policy %s has level skip", quote(name))
	default:
		reason, fix = r.failure()
	}
	reason = esc(withoutReference(reason, r.Reference))
	fix = esc(withoutReference(fix, r.Reference))
	line := head
	if reason != "" {
		line += ": " + reason
	}
	if fix != "" && runeLen(line)+len("; fix: ")+runeLen(fix) <= MaxBriefLen {
		return line + "; fix: " + fix
	}
	if runeLen(line) <= MaxBriefLen {
		return line
	}
	const more = "… (cut; see explain)"
	return cut(line, MaxBriefLen-runeLen(more)) + more
}

// failure is the reason and fix of a report that did not verify.
func (r *Report) failure() (reason, fix string) {
	switch n := len(r.Signatures); {
	case n == 0 || r.Error != r.joinedErrors():
		// No signature, or the search was aborted: the report's own error.
		return r.Error, r.Fix
	case n == 1:
		return r.Signatures[0].reason(), r.Signatures[0].Fix
	default:
		last := r.Signatures[n-1]
		return fmt.Sprintf("%d signatures; last: %s", n, last.reason()), last.Fix
	}
}

// joinedErrors is the Error that Finish sets from the signatures alone.
func (r *Report) joinedErrors() string {
	var failed, inconclusive []string
	for _, s := range r.Signatures {
		if s.Verdict == VerdictInconclusive {
			inconclusive = append(inconclusive, sigName(s)+": "+s.Error)
		} else {
			failed = append(failed, sigName(s)+": "+s.Error)
		}
	}
	return strings.Join(append(failed, inconclusive...), "; ")
}

func (r *Report) verifiedSignature() *SignatureReport {
	for _, s := range r.Signatures {
		if s.Verdict == VerdictVerified {
			return s
		}
	}
	return nil
}

// loggedTypes are the checks that failed with action log.
func (r *Result) loggedTypes() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Outcome == OutcomeFailed && c.Action == ActionLog {
			out = append(out, string(c.Type))
		}
	}
	return out
}

// withoutReference replaces the reference in a message, which the line
// names already.
func withoutReference(msg, ref string) string {
	if ref == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, quote(ref), "it")
	return strings.ReplaceAll(msg, ref, "it")
}

// shortReference keeps a reference of at most 120 characters whole; a
// longer one keeps its digest (what was verified) and loses the middle of
// its repository.
func shortReference(ref string) string {
	const limit = 120
	if runeLen(ref) <= limit {
		return ref
	}
	repo, dgst := ref, ""
	if at := strings.LastIndexByte(ref, '@'); at >= 0 {
		repo, dgst = ref[:at], ref[at:]
	}
	keep := max(limit-runeLen(dgst)-1, 16)
	rs := []rune(repo)
	if len(rs) > keep {
		repo = string(rs[:keep/2]) + "…" + string(rs[len(rs)-keep/2:])
	}
	return cut(repo+dgst, limit)
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }

// cut returns s cut to at most n characters.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// Explain renders the whole report: the artifact that was verified, the
// verdict, and every signature tried with Result.Explain.
func (r *Report) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Artifact:   %s\n", esc(r.Reference))
	if r.Tag != "" {
		fmt.Fprintf(&b, "            resolved from tag %s: the digest above is what was verified (tags are mutable)\n", esc(quote(r.Tag)))
	}
	fmt.Fprintf(&b, "Verdict:    %s\n", strings.ToUpper(esc(string(r.Verdict))))
	if r.Error != "" && len(r.Signatures) == 0 {
		fmt.Fprintf(&b, "Reason:     %s\n", esc(r.Error))
	}
	if r.Fix != "" {
		fmt.Fprintf(&b, "Fix:        %s\n", esc(r.Fix))
	}
	for i, s := range r.Signatures {
		fmt.Fprintf(&b, "\n=== Signature %d of %d", i+1, len(r.Signatures))
		if s.Digest != "" {
			fmt.Fprintf(&b, " (%s)", esc(s.Digest))
		}
		b.WriteString(" ===\n")
		b.WriteString(s.Explain())
	}
	return b.String()
}
