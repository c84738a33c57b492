// Package rollout simulates a trust policy change before it is enforced:
// every artifact of a release is verified under the current policy and
// under the candidate, and the artifacts whose verdict changes are
// grouped by the check that changes it (identity, authenticity,
// revocation, expiry, ...). It is the library under `trustpolicy diff`;
// the artifacts are verified with package bulk's Verifier, once per
// policy, over one registry client that caches what it fetched, so each
// artifact is fetched once.
//
// The package never prints.
package rollout

import (
	"errors"
	"slices"
	"strings"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/bulk"
)

// Schema is the JSON schema of a Report.
const Schema = "notation-pkcs11/trustpolicy/diff/v1"

// Outcome is one artifact verified under both policies.
type Outcome struct {
	Current, Candidate bulk.Record
}

// Groups a change is filed under besides the engine's check types
// (integrity, authenticity, expiry, authenticTimestamp, revocation).
const (
	// GroupIdentity: the signing certificate's subject is not a trusted
	// identity of the statement (an authenticity failure in notation's
	// terms, told apart because it is the common case of a rollout).
	GroupIdentity = "identity"
	// GroupDescriptor: the signed descriptor or user metadata.
	GroupDescriptor = "descriptor"
	// GroupPolicy: no statement applies, or the statement's level is skip.
	GroupPolicy = "policy"
	// GroupSignature: no signature, or one could not be fetched.
	GroupSignature = "signature"
	// GroupPlatforms: a platform manifest of an index is not covered.
	GroupPlatforms = "platforms"
	// GroupError: nothing could be decided (the reference did not
	// resolve).
	GroupError = "error"
)

// Change is an artifact whose verdict differs between the policies.
type Change struct {
	Reference string              `json:"reference"`
	Source    string              `json:"source,omitempty"`
	Digest    string              `json:"digest,omitempty"`
	Current   trustpolicy.Verdict `json:"current"`
	Candidate trustpolicy.Verdict `json:"candidate"`
	// Check is the group: the check whose outcome changes the verdict.
	Check string `json:"check"`
	// NewlyBlocked: it passes the current policy (verified or skipped)
	// and not the candidate.
	NewlyBlocked bool `json:"newlyBlocked"`
	// Reason is why the side that does not pass does not (escaped).
	Reason string `json:"reason"`
	// CurrentBrief and CandidateBrief are verify's lines under each.
	CurrentBrief   string `json:"currentBrief"`
	CandidateBrief string `json:"candidateBrief"`
}

// Group is the changes one check makes.
type Group struct {
	Check   string   `json:"check"`
	Changes []Change `json:"changes"`
}

// Report is a rollout simulation's result.
type Report struct {
	Schema       string  `json:"schema"`
	Total        int     `json:"total"`
	Changed      int     `json:"changed"`
	NewlyBlocked int     `json:"newlyBlocked"`
	NewlyAllowed int     `json:"newlyAllowed"`
	Groups       []Group `json:"groups"`
	// ExitCode is 1 when any artifact would be newly blocked, else 0.
	ExitCode int `json:"exitCode"`
}

func passes(v trustpolicy.Verdict) bool {
	return v == trustpolicy.VerdictVerified || v == trustpolicy.VerdictSkipped
}

// Compare returns the change o makes, and whether its verdict changes.
func Compare(o Outcome) (Change, bool) {
	cur, cand := o.Current, o.Candidate
	if cur.Verdict == cand.Verdict {
		return Change{}, false
	}
	c := Change{
		Reference: cur.Reference, Source: cur.Source, Digest: cand.Digest,
		Current: cur.Verdict, Candidate: cand.Verdict,
		NewlyBlocked:   passes(cur.Verdict) && !passes(cand.Verdict),
		CurrentBrief:   cur.Brief,
		CandidateBrief: cand.Brief,
	}
	if c.Digest == "" {
		c.Digest = cur.Digest
	}
	// The side that does not pass says why; when neither passes (failed
	// against inconclusive), the candidate does.
	blocked, other := cand, cur
	if passes(cand.Verdict) {
		blocked, other = cur, cand
	}
	c.Check = classify(blocked, other)
	c.Reason = textsafe.Escape(blocked.Error)
	return c, true
}

// classify names the check that keeps blocked from passing while other
// passes (or fails otherwise).
func classify(blocked, other bulk.Record) string {
	if other.Verdict == trustpolicy.VerdictSkipped {
		return GroupPolicy
	}
	rep := blocked.Result
	switch {
	case rep == nil:
		return GroupError
	case passes(rep.Verdict) && len(blocked.Platforms) > 0:
		return GroupPlatforms
	case rep.Policy == nil:
		return GroupPolicy
	case len(rep.Signatures) == 0:
		if len(blocked.Platforms) > 0 && other.Result != nil && len(other.Result.Signatures) == 0 {
			return GroupPlatforms
		}
		return GroupSignature
	}
	for _, s := range rep.Signatures {
		if s.Result == nil || passes(s.Verdict) {
			continue
		}
		var ce *trustpolicy.CheckError
		var ie *trustpolicy.IdentityError
		switch err := s.Err(); {
		case errors.As(err, &ie):
			return GroupIdentity
		case errors.As(err, &ce) && ce.Type != "":
			return string(ce.Type)
		case errors.As(err, &ce):
			return GroupDescriptor
		}
		// From data (a report decoded from JSON has no error values): the
		// first enforced check that failed.
		for _, ch := range s.Checks {
			if ch.Outcome == trustpolicy.OutcomeFailed && ch.Action == trustpolicy.ActionEnforce {
				return string(ch.Type)
			}
		}
		return GroupDescriptor
	}
	return GroupSignature
}

// Collector gathers the changes of a run. It is not safe for concurrent
// use: feed it from bulk.Each's emit.
type Collector struct {
	r      Report
	groups map[string]*Group
	order  []string
}

// NewCollector returns an empty collector.
func NewCollector() *Collector {
	return &Collector{r: Report{Schema: Schema}, groups: map[string]*Group{}}
}

// Add compares o and keeps its change, if any; it returns the change.
func (c *Collector) Add(o Outcome) (Change, bool) {
	c.r.Total++
	ch, changed := Compare(o)
	if !changed {
		return ch, false
	}
	c.r.Changed++
	if ch.NewlyBlocked {
		c.r.NewlyBlocked++
		c.r.ExitCode = 1
	} else if passes(ch.Candidate) {
		c.r.NewlyAllowed++
	}
	g := c.groups[ch.Check]
	if g == nil {
		g = &Group{Check: ch.Check}
		c.groups[ch.Check] = g
		c.order = append(c.order, ch.Check)
	}
	g.Changes = append(g.Changes, ch)
	return ch, true
}

// Report returns the report: groups by how many artifacts they newly
// block, then by name; changes in input order.
func (c *Collector) Report() Report {
	r := c.r
	r.Groups = make([]Group, 0, len(c.order))
	for _, name := range c.order {
		r.Groups = append(r.Groups, *c.groups[name])
	}
	blocked := func(g Group) int {
		n := 0
		for _, ch := range g.Changes {
			if ch.NewlyBlocked {
				n++
			}
		}
		return n
	}
	slices.SortStableFunc(r.Groups, func(a, b Group) int {
		if d := blocked(b) - blocked(a); d != 0 {
			return d
		}
		return strings.Compare(a.Check, b.Check)
	})
	return r
}
