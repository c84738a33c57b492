package difftest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notaryproject/notation-go"
	ntrustpolicy "github.com/notaryproject/notation-go/verifier/trustpolicy"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// minCases is the least number of generated cases the suite accepts.
const minCases = 300

func TestCaseCount(t *testing.T) {
	cases := generateCases()
	if len(cases) < minCases {
		t.Fatalf("generated %d cases, want at least %d", len(cases), minCases)
	}
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.name] {
			t.Errorf("duplicate case %s", c.name)
		}
		names[c.name] = true
	}
	// Every dimension value the suite is meant to cover must occur.
	have := map[[2]string]bool{}
	for _, c := range cases {
		for _, d := range c.dims() {
			have[d] = true
		}
	}
	for dim, vals := range requiredCoverage {
		for _, v := range vals {
			if !have[[2]string{dim, v}] {
				t.Errorf("no case has %s=%s", dim, v)
			}
		}
	}
	t.Logf("%d cases", len(cases))
}

// requiredCoverage lists, per dimension, the values some case must have.
var requiredCoverage = map[string][]string{
	"format":          {"jws", "cose"},
	"scheme":          {"x509", "sa"},
	"keyType":         {"ec-256", "ec-384", "ec-521", "rsa-2048", "rsa-3072", "rsa-4096"},
	"level":           {"strict", "permissive", "audit", "skip"},
	"override":        {"authenticity=log", "expiry=log", "expiry=enforce", "authenticTimestamp=log", "revocation=skip", "revocation=log", "revocation=enforce"},
	"verifyTimestamp": {"unset", "always", "afterCertExpiry"},
	"chain":           {"full", "leafRoot", "selfSigned", "outOfOrder", "wrongEKU", "expiredLeaf", "notYetValid"},
	"trustStore":      {"ca:roots", "ca:inter", "ca:other", "ca:missing", "signingAuthority:sa", "signingAuthority:missing", "tsa:tsa", "tsa:wrong", "tsa:missing"},
	"identity":        {"*", "exact", "subset", "nonMatch", "nonX509"},
	"sigExpiry":       {"none", "future", "expired"},
	"timestamp":       {"none", "good", "beforeCert", "afterCert", "otherTSA"},
	"revocation":      {"ok", "leafRevoked", "interRevoked", "leafUnknown", "leafUnknownInterRevoked", "error"},
	"tsaRevocation":   {"leafRevoked", "leafUnknown", "error"},
	"descriptor":      {"digest", "size", "mediaType"},
	"userMetadata":    {"match", "wrongValue", "missingKey"},
	"extendedAttr":    {"pluginCritical", "pluginNonCritical"},
	"corrupt":         {"truncated", "garbage", "signatureByte", "otherFormatMediaType", "unknownMediaType"},
	"reference":       {"repo@digest", "otherRepo", "tagOnly"},
	"scope":           {"*", "exact"},
	"signingTime":     {"past", "now"},
}

// TestDifferential runs every generated case through notation-go v1.3.2's
// verifier and our engine and requires the same verdict, the same checks and
// the same errors.
func TestDifferential(t *testing.T) {
	began := time.Now()
	cases := generateCases()
	ctx := context.Background()
	tally := newTally()
	verdicts := map[string]int{}
	var vmu sync.Mutex
	// The cases run in parallel (both verifiers are safe for concurrent
	// use); the group returns when all of them are done.
	t.Run("case", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				runCase(t, ctx, c, tally, verdicts, &vmu)
			})
		}
	})
	// Counts per dimension.
	counts := map[string]map[string]int{}
	for _, c := range cases {
		seen := map[[2]string]bool{}
		for _, d := range c.dims() {
			if seen[d] {
				continue
			}
			seen[d] = true
			if counts[d[0]] == nil {
				counts[d[0]] = map[string]int{}
			}
			counts[d[0]][d[1]]++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d cases in %s; notation verdicts: %v\n", len(cases), time.Since(began).Round(time.Millisecond), verdicts)
	for _, dim := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(&b, "  %-15s", dim)
		vals := counts[dim]
		keys := slices.Sorted(maps.Keys(vals))
		for _, k := range keys {
			fmt.Fprintf(&b, " %s:%d", k, vals[k])
		}
		b.WriteString("\n")
	}
	b.WriteString(tally.report())
	t.Log(b.String())
	tally.requireAllSeen(t)
}

// runCase verifies one case with both verifiers and reports every
// difference.
func runCase(t *testing.T, ctx context.Context, c *tcase, tl *tally, verdicts map[string]int, vmu *sync.Mutex) {
	in := c.build(t)
	o := runOracle(ctx, in)
	u := runOurs(ctx, in)
	for _, d := range compareResults(c, in, o, u, tl) {
		t.Error(d)
	}
	vmu.Lock()
	verdicts[o.verdict]++
	vmu.Unlock()
	if t.Failed() || testing.Verbose() {
		t.Logf("notation: %s", describeOracle(o))
		t.Logf("ours:     %s", describeOurs(u))
	}
}

// An expected difference between notation's answer and ours, asserted by an
// explicit predicate. Two kinds:
//
//   - deliberate: ours says it differently on purpose (the verdict and the
//     pass/fail of every check are still identical);
//   - engineBug: a mismatch found by this suite and reported for a fix. It is
//     asserted in its exact current form, so fixing the engine makes the
//     suite say which entry to delete.
//
// A difference that matches no entry fails the suite, and every entry must
// occur at least once.
type expectedDiff struct {
	name string
	kind string // "deliberate" or "engineBug"
	why  string
	// match gets where the difference is (a check type, or "error" for the
	// top-level reason), notation's text and ours.
	match func(c *tcase, in *input, where, notation, ours string) bool
}

const (
	kindDeliberate = "deliberate"
	kindEngineBug  = "engineBug"
)

var (
	reStoreMissing = regexp.MustCompile(`^the trust store "([^"]+)" of type "([^"]+)" does not exist$`)
	reStoreEmpty   = regexp.MustCompile(`^no x509 certificates were found in trust store "([^"]+)" of type "([^"]+)"$`)
	rePluginOurs   = regexp.MustCompile(`^the signature requires the verification plugin "[^"]+", which this verifier does not run; verify it with notation and that plugin installed$`)
	reIdentityNot  = regexp.MustCompile(`^signing certificate from the digital signature does not match the X\.509 trusted identities \[.*\] defined in the trust policy "([^"]+)"$`)
	reIdentityNone = regexp.MustCompile(`^no x509 trusted identities are configured in the trust policy "([^"]+)"$`)
)

// storeWording matches notation's wording of a missing or empty store
// against ours, after an optional common prefix.
func storeWording(n, o string) bool {
	const tsaPrefix = "failed to load tsa trust store with error: "
	if strings.HasPrefix(n, tsaPrefix) {
		if !strings.HasPrefix(o, tsaPrefix) {
			return false
		}
		n, o = strings.TrimPrefix(n, tsaPrefix), strings.TrimPrefix(o, tsaPrefix)
	}
	if m := reStoreMissing.FindStringSubmatch(n); m != nil {
		return o == fmt.Sprintf("trust store %s:%s: was not loaded; only the stores the trust policy references are loaded", m[2], m[1])
	}
	if m := reStoreEmpty.FindStringSubmatch(n); m != nil {
		return o == fmt.Sprintf("trust store %s:%s: holds no certificate; give the store at least one trusted root certificate", m[2], m[1])
	}
	return false
}

var expectedDiffs = []expectedDiff{
	{
		name: "trust store error wording",
		kind: kindDeliberate,
		why: "package truststore words store errors its own way (\"trust store TYPE:NAME: ...\"); " +
			"the store, the check, its action and the verdict are the same. The oracle's store answers as notation-go's file store does.",
		match: func(_ *tcase, _ *input, where, n, o string) bool {
			return (where == "authenticity" || where == "authenticTimestamp" || where == "error") && storeWording(n, o)
		},
	},
	{
		name: "verification plugin wording",
		kind: kindDeliberate,
		why:  "the oracle has no plugin manager; our engine runs no plugins and says so. Both are inconclusive after integrity",
		match: func(_ *tcase, _ *input, where, n, o string) bool {
			return where == "error" && n == "plugin unsupported due to nil verifier.pluginManager" && rePluginOurs.MatchString(o)
		},
	},
	{
		name: "policy selection wording",
		kind: kindDeliberate,
		why:  "no applicable policy or an invalid reference: both fail before any check; ours wraps ErrNoApplicablePolicy or ErrInvalidReference (asserted separately) with its own text",
		match: func(_ *tcase, _ *input, where, n, o string) bool {
			if where != "error" {
				return false
			}
			switch {
			case strings.HasPrefix(n, "artifact \"") && strings.Contains(n, "\" has no applicable trust policy statement."):
				return strings.HasPrefix(o, "no applicable trust policy for \"")
			case strings.HasPrefix(n, "artifact URI \"") && strings.Contains(n, "\" could not be parsed"),
				strings.HasPrefix(n, "registry scope \"") && strings.Contains(n, "\" is not valid"):
				return strings.HasPrefix(o, "invalid artifact reference \"")
			}
			return false
		},
	},
	{
		name: "authenticity inconclusive check text",
		kind: kindEngineBug,
		why: "trustpolicy/evaluate.go run.authenticity (branch len(anchors.certs) == 0) records the *InconclusiveError itself as the authenticity check's error, so " +
			"Check.Error gets its \"verification inconclusive: \" prefix; notation's result error text is the bare message",
		match: func(_ *tcase, _ *input, where, n, o string) bool {
			return where == "authenticity" && n == "no trusted certificates are found to verify authenticity" && o == "verification inconclusive: "+n
		},
	},
	{
		name: "identity mismatch text",
		kind: kindEngineBug,
		why: "trustpolicy/policy.go IdentityError.Error and Rule.MatchIdentity (closestMismatch detail): notation says " +
			"\"signing certificate from the digital signature does not match the X.509 trusted identities %q defined in the trust policy %q\" " +
			"with the parsed identities as []map[string]string",
		match: func(_ *tcase, _ *input, where, n, o string) bool {
			return (where == "authenticity" || where == "error") && reIdentityNot.MatchString(n) &&
				strings.HasPrefix(o, "signing certificate subject \"") && strings.Contains(o, "\" does not match the X.509 trusted identities [")
		},
	},
	{
		name: "no x509 identity text",
		kind: kindEngineBug,
		why:  "trustpolicy/policy.go Rule.MatchIdentity (len(r.X509Identities) == 0 branch) wraps notation's message in \"signing certificate subject %q does not match any identity: ... (it lists only ...)\"",
		match: func(_ *tcase, _ *input, where, n, o string) bool {
			return (where == "authenticity" || where == "error") && reIdentityNone.MatchString(n) &&
				strings.Contains(o, "does not match any identity: "+n+" (it lists only ")
		},
	},
	{
		name: "unparseable leaf subject text",
		kind: kindEngineBug,
		why: "trustpolicy/policy.go Rule.MatchIdentity (ParseDN(leaf subject) error branch): notation says \"error while parsing the certificate subject from the digital signature. error : %q\" " +
			"with go-ldap/pkix's own DN error; ours words both parts differently",
		match: func(_ *tcase, _ *input, where, n, o string) bool {
			return (where == "authenticity" || where == "error") &&
				strings.HasPrefix(n, "error while parsing the certificate subject from the digital signature. error : ") &&
				strings.Contains(o, ": notation cannot parse the subject: ")
		},
	},
	{
		name: "payload JSON error type name",
		kind: kindEngineBug,
		why: "trustpolicy/evaluate.go run.finalChecks decodes the payload into its unexported type payload, so encoding/json's error names " +
			"\"payload.targetArtifact\"; notation decodes into envelope.Payload and says \"Payload.targetArtifact\"",
		match: func(_ *tcase, _ *input, where, n, o string) bool {
			return where == "error" && strings.Contains(n, "Go struct field Payload.targetArtifact") &&
				o == strings.Replace(n, "Go struct field Payload.targetArtifact", "Go struct field payload.targetArtifact", 1)
		},
	},
	{
		name: "descriptor and metadata both wrong",
		kind: kindEngineBug,
		why: "trustpolicy/evaluate.go run.finalChecks returns at the descriptor mismatch; notation (verifier.go Verify) records " +
			"\"content descriptor mismatch\" and then overwrites it with the user metadata error, so notation reports the metadata error. Verdict identical",
		match: func(c *tcase, _ *input, where, n, o string) bool {
			return where == "error" && c.desc != descSame && c.desc != descAnnot && c.meta != metaNone &&
				n == "unable to find specified metadata in the signature" && o == "content descriptor mismatch"
		},
	},
}

type tally struct {
	mu   sync.Mutex
	hits map[string]int
	ex   map[string]string
}

func newTally() *tally { return &tally{hits: map[string]int{}, ex: map[string]string{}} }

func (t *tally) hit(name, example string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hits[name]++
	if _, ok := t.ex[name]; !ok {
		t.ex[name] = example
	}
}

func (t *tally) report() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	for _, kind := range []string{kindDeliberate, kindEngineBug} {
		fmt.Fprintf(&b, "expected differences of kind %s:\n", kind)
		for _, d := range expectedDiffs {
			if d.kind != kind || t.hits[d.name] == 0 {
				continue
			}
			fmt.Fprintf(&b, "  %q: %d occurrences\n    why: %s\n    e.g. %s\n", d.name, t.hits[d.name], d.why, t.ex[d.name])
		}
	}
	return b.String()
}

func (t *tally) requireAllSeen(tb testing.TB) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, d := range expectedDiffs {
		if t.hits[d.name] != 0 {
			continue
		}
		if d.kind == kindEngineBug {
			tb.Errorf("known engine bug %q no longer occurs: it is fixed, delete its entry from expectedDiffs", d.name)
		} else {
			tb.Errorf("deliberate difference %q never occurred: remove it or add the case that shows it", d.name)
		}
	}
}

// textDiff reports a difference of texts unless it is a deliberate one.
func textDiff(c *tcase, in *input, tl *tally, where, n, o string) string {
	if n == o {
		return ""
	}
	for _, d := range expectedDiffs {
		if d.match(c, in, where, n, o) {
			tl.hit(d.name, fmt.Sprintf("%s: notation %q, ours %q", where, n, o))
			return ""
		}
	}
	return fmt.Sprintf("%s error text differs:\n\tnotation: %s\n\tours:     %s", where, n, o)
}

var allChecks = []trustpolicy.ValidationType{
	trustpolicy.TypeIntegrity, trustpolicy.TypeAuthenticity, trustpolicy.TypeExpiry,
	trustpolicy.TypeAuthenticTimestamp, trustpolicy.TypeRevocation,
}

// compareResults returns every difference between notation's answer and ours.
func compareResults(c *tcase, in *input, o oracleResult, u ourResult, tl *tally) []string {
	var diffs []string
	if u.panic != nil {
		return append(diffs, fmt.Sprintf("our engine panicked: %v", u.panic))
	}
	if o.panic != nil {
		return append(diffs, fmt.Sprintf("notation panicked (ours: %s): %v", u.verdict, o.panic))
	}
	if o.verdict != u.verdict {
		diffs = append(diffs, fmt.Sprintf("verdict: notation %s, ours %s", o.verdict, u.verdict))
	}
	if o.verdict == vConfigError || u.verdict == vConfigError {
		return diffs
	}
	res := u.res
	if o.outcome == nil {
		// No applicable policy: notation stops before any check.
		for _, ch := range res.Checks {
			if ch.Outcome != trustpolicy.OutcomeSkipped && ch.Outcome != trustpolicy.OutcomeNotRun {
				diffs = append(diffs, fmt.Sprintf("check %s: notation ran no check, ours %s", ch.Type, ch.Outcome))
			}
		}
	} else {
		seen := map[trustpolicy.ValidationType]bool{}
		for _, r := range o.outcome.VerificationResults {
			typ := trustpolicy.ValidationType(r.Type)
			seen[typ] = true
			ch := res.Check(typ)
			if ch == nil {
				diffs = append(diffs, fmt.Sprintf("check %s: notation reports it, ours has no such check", typ))
				continue
			}
			if string(ch.Action) != string(r.Action) {
				diffs = append(diffs, fmt.Sprintf("check %s: action notation %s, ours %s", typ, r.Action, ch.Action))
			}
			want := trustpolicy.OutcomePassed
			if r.Error != nil {
				want = trustpolicy.OutcomeFailed
			}
			if ch.Outcome != want {
				diffs = append(diffs, fmt.Sprintf("check %s: notation %s (%v), ours %s (%s)", typ, want, r.Error, ch.Outcome, ch.Error))
				continue
			}
			if r.Error != nil {
				if d := textDiff(c, in, tl, string(typ), r.Error.Error(), ch.Error); d != "" {
					diffs = append(diffs, d)
				}
			}
		}
		for _, typ := range allChecks {
			if seen[typ] {
				continue
			}
			ch := res.Check(typ)
			if ch == nil {
				diffs = append(diffs, fmt.Sprintf("check %s: missing from our result", typ))
				continue
			}
			if ch.Outcome != trustpolicy.OutcomeSkipped && ch.Outcome != trustpolicy.OutcomeNotRun {
				diffs = append(diffs, fmt.Sprintf("check %s: notation did not run it, ours %s (%s)", typ, ch.Outcome, ch.Error))
			}
			if reflect.DeepEqual(o.outcome.VerificationLevel, ntrustpolicy.LevelSkip) && ch.Outcome != trustpolicy.OutcomeSkipped {
				diffs = append(diffs, fmt.Sprintf("check %s: level skip, ours %s", typ, ch.Outcome))
			}
		}
	}
	// What ours reports about the envelope must be what notation parsed.
	if o.outcome != nil && o.outcome.EnvelopeContent != nil {
		diffs = append(diffs, compareEnvelopeInfo(o, res)...)
	}
	// No applicable policy: ours must say so with its sentinel errors.
	var nap notation.NoApplicableTrustPolicyError
	if errors.As(o.err, &nap) && !errors.Is(res.Err(), trustpolicy.ErrNoApplicablePolicy) && !errors.Is(res.Err(), trustpolicy.ErrInvalidReference) {
		diffs = append(diffs, fmt.Sprintf("notation: no applicable trust policy; ours is neither ErrNoApplicablePolicy nor ErrInvalidReference: %v", res.Err()))
	}
	// The reason of a failure.
	if o.err != nil {
		if d := textDiff(c, in, tl, "error", o.err.Error(), ourReason(res)); d != "" {
			diffs = append(diffs, d)
		}
	} else if res.Err() != nil {
		diffs = append(diffs, fmt.Sprintf("notation has no error, ours: %v", res.Err()))
	}
	// The revocation requests.
	if !slices.Equal(sortedCalls(o.calls), sortedCalls(u.calls)) {
		diffs = append(diffs, fmt.Sprintf("revocation requests differ:\n\tnotation: %v\n\tours:     %v", o.calls, u.calls))
	}
	return diffs
}

// compareEnvelopeInfo compares the signature and chain our result describes
// with the envelope content notation verified.
func compareEnvelopeInfo(o oracleResult, res *trustpolicy.Result) []string {
	var diffs []string
	si := o.outcome.EnvelopeContent.SignerInfo
	sig := res.Signature
	if sig == nil {
		return []string{"notation verified the envelope's integrity; our result has no signature info"}
	}
	if sig.SigningScheme != string(si.SignedAttributes.SigningScheme) {
		diffs = append(diffs, fmt.Sprintf("signing scheme: notation %s, ours %s", si.SignedAttributes.SigningScheme, sig.SigningScheme))
	}
	if !sig.SigningTime.Equal(si.SignedAttributes.SigningTime) {
		diffs = append(diffs, fmt.Sprintf("signing time: notation %s, ours %s", si.SignedAttributes.SigningTime, sig.SigningTime))
	}
	if !sig.Expiry.Equal(si.SignedAttributes.Expiry) {
		diffs = append(diffs, fmt.Sprintf("expiry: notation %s, ours %s", si.SignedAttributes.Expiry, sig.Expiry))
	}
	if len(res.Chain) != len(si.CertificateChain) {
		return append(diffs, fmt.Sprintf("chain: notation %d certificates, ours %d", len(si.CertificateChain), len(res.Chain)))
	}
	for i, c := range si.CertificateChain {
		sum := sha256.Sum256(c.Raw)
		if res.Chain[i].SHA256 != hex.EncodeToString(sum[:]) || res.Chain[i].Subject != c.Subject.String() {
			diffs = append(diffs, fmt.Sprintf("chain[%d]: notation %s, ours %s", i, c.Subject, res.Chain[i].Subject))
		}
	}
	return diffs
}

// ourReason is the error our failing check or final comparison carries,
// without our "<check> check failed: " prefix or inconclusive wrapper.
func ourReason(res *trustpolicy.Result) string {
	err := res.Err()
	if err == nil {
		return ""
	}
	var ce *trustpolicy.CheckError
	if errors.As(err, &ce) {
		return ce.Err.Error()
	}
	var ie *trustpolicy.InconclusiveError
	if errors.As(err, &ie) {
		return ie.Msg
	}
	return err.Error()
}

func sortedCalls(calls []revCall) []string {
	s := make([]string, len(calls))
	for i, c := range calls {
		s[i] = c.String()
	}
	sort.Strings(s)
	return s
}

func describeOracle(o oracleResult) string {
	if o.panic != nil {
		return fmt.Sprintf("PANIC %v", o.panic)
	}
	if o.cfgErr != nil {
		return fmt.Sprintf("%s: %v", o.verdict, o.cfgErr)
	}
	var b strings.Builder
	b.WriteString(o.verdict)
	if o.outcome != nil {
		for _, r := range o.outcome.VerificationResults {
			fmt.Fprintf(&b, " [%s %s", r.Type, r.Action)
			if r.Error != nil {
				fmt.Fprintf(&b, " FAIL %v", r.Error)
			}
			b.WriteString("]")
		}
	}
	if o.err != nil {
		fmt.Fprintf(&b, " err=%q", o.err.Error())
	}
	return b.String()
}

func describeOurs(u ourResult) string {
	if u.panic != nil {
		return fmt.Sprintf("PANIC %v", u.panic)
	}
	if u.cfgErr != nil {
		return fmt.Sprintf("%s: %v", u.verdict, u.cfgErr)
	}
	var b strings.Builder
	b.WriteString(u.verdict)
	for _, ch := range u.res.Checks {
		fmt.Fprintf(&b, " [%s %s %s", ch.Type, ch.Action, ch.Outcome)
		if ch.Error != "" {
			fmt.Fprintf(&b, " %s", ch.Error)
		}
		b.WriteString("]")
	}
	if u.res.Error != "" {
		fmt.Fprintf(&b, " err=%q", u.res.Error)
	}
	return b.String()
}
