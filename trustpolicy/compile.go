package trustpolicy

// This file turns a valid Document into a Policy (Compile) and answers
// questions about it: which statement applies to a reference (Select), a
// statement's action per check, the stores it names.

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// Policy is a compiled, valid trust policy. It is immutable and safe for
// concurrent use.
type Policy struct {
	rules    []*Rule
	byScope  map[string]*Rule
	wildcard *Rule
	// byRegistry holds the registry-host scopes (CompileOptions).
	byRegistry     map[string]*Rule
	registryScopes bool
	// scopes lists the configured scopes for "no applicable policy" errors.
	scopes string
}

// Rule is one compiled trust policy statement. Treat it as read-only.
type Rule struct {
	// Index is the statement's position in trustPolicies.
	Index int
	// Name is the statement's name.
	Name string
	// Statement is a copy of the statement as written.
	Statement *Statement
	// Wildcard is true when the statement's registryScopes is ["*"].
	Wildcard bool
	// Level is the base level: strict, permissive, audit or skip.
	Level string
	// Overridden is true when the statement has overrides (notation then
	// names the level "custom").
	Overridden bool
	// VerifyTimestamp is "always" (also when unset) or "afterCertExpiry".
	VerifyTimestamp string
	// Stores are the trust stores, de-duplicated, in document order.
	Stores []truststore.Ref
	// AnyIdentity is true when trustedIdentities is ["*"].
	AnyIdentity bool
	// X509Identities are the parsed x509.subject identities, in order.
	X509Identities []DN
	// OtherIdentities are the identities with other prefixes (for plugins),
	// verbatim.
	OtherIdentities []string

	x509Raw []string
	actions [5]Action
}

// validationTypes is notation's list of verification types, in its order
// (which is also the order of Rule.actions).
func validationTypes() [5]ValidationType {
	return [5]ValidationType{TypeIntegrity, TypeAuthenticity, TypeAuthenticTimestamp, TypeExpiry, TypeRevocation}
}

func validationTypeIndex(t ValidationType) int {
	for i, v := range validationTypes() {
		if v == t {
			return i
		}
	}
	return -1
}

// levelActions is notation's table of actions per base level, in
// validationTypes order; ok is false for an unknown level.
func levelActions(level string) (a [5]Action, ok bool) {
	e, l, s := ActionEnforce, ActionLog, ActionSkip
	switch level {
	case LevelStrict:
		return [5]Action{e, e, e, e, e}, true
	case LevelPermissive:
		return [5]Action{e, e, l, l, l}, true
	case LevelAudit:
		return [5]Action{e, l, l, l, l}, true
	case LevelSkip:
		return [5]Action{s, s, s, s, s}, true
	}
	return a, false
}

// Action returns what a failure of check t does under this statement: the
// level's action, replaced by the override if there is one. Integrity is
// always enforced except at level skip, where every check is skipped. An
// unknown t is enforced (skipped at level skip).
func (r *Rule) Action(t ValidationType) Action {
	if r == nil {
		return ActionEnforce
	}
	i := validationTypeIndex(t)
	if i < 0 {
		if r.Level == LevelSkip {
			return ActionSkip
		}
		return ActionEnforce
	}
	return r.actions[i]
}

// Rules returns the compiled statements in document order.
func (p *Policy) Rules() []*Rule {
	if p == nil {
		return nil
	}
	return slices.Clone(p.rules)
}

// Select returns the statement that applies to an artifact reference, as
// notation-go's GetApplicableTrustPolicy: the reference must be
// REGISTRY/REPOSITORY@DIGEST (the part before the last '@' must be a valid
// scope; the digest is not checked), a statement listing that exact
// repository wins over the "*" statement, and otherwise the error wraps
// ErrNoApplicablePolicy. An invalid reference gives an error wrapping
// ErrInvalidReference. Matching is exact and case-sensitive. With
// registry-level scopes on (CompileOptions), a statement listing the
// reference's registry host applies when none lists the repository, before
// the "*" statement.
func (p *Policy) Select(reference string) (*Rule, error) {
	at := strings.LastIndexByte(reference, '@')
	if at < 0 {
		return nil, fmt.Errorf("%w %q: it has no digest; REGISTRY/REPOSITORY@DIGEST is required (resolve tags to digests first)", ErrInvalidReference, reference)
	}
	repo := reference[:at]
	if classifyScope(repo) != scopeValid {
		return nil, fmt.Errorf("%w %q: %q is not a valid REGISTRY/REPOSITORY (lower-case repository, no scheme or tag); REGISTRY/REPOSITORY@DIGEST is required (resolve tags to digests first)", ErrInvalidReference, reference, repo)
	}
	if p == nil {
		return nil, fmt.Errorf("%w for %q: there is no trust policy", ErrNoApplicablePolicy, reference)
	}
	if r, ok := p.byScope[repo]; ok {
		return r, nil
	}
	if r, ok := p.byRegistry[registryOf(repo)]; ok {
		return r, nil
	}
	if p.wildcard != nil {
		return p.wildcard, nil
	}
	return nil, fmt.Errorf("%w for %q: no statement lists %q in registryScopes and none uses \"*\"; configured scopes: %s", ErrNoApplicablePolicy, reference, repo, p.scopes)
}

// Compile validates the document and compiles it. It accepts a document
// exactly when notation-go v1.3.2's Document.Validate does; otherwise it
// returns the first problem in notation's checking order as a *PolicyError.
// The document is copied: changing it later does not change the Policy.
func Compile(doc *Document) (*Policy, error) { return CompileWithOptions(doc, CompileOptions{}) }

// CompileWithOptions is Compile with extensions turned on by opts (or by
// the document's "extensions"). Without any, it is Compile.
func CompileWithOptions(doc *Document, opts CompileOptions) (*Policy, error) {
	v := validate(doc, opts)
	if len(v.probs) > 0 {
		return nil, v.probs[0].err
	}
	p := &Policy{rules: v.rules, byScope: make(map[string]*Rule, len(v.rules)), registryScopes: v.registryScopes}
	// The first few scopes, for "no applicable policy" errors.
	const show = 10
	var shown []string
	total := 0
	for _, r := range v.rules {
		for _, s := range r.Statement.RegistryScopes {
			if total < show {
				shown = append(shown, strconv.Quote(s))
			}
			total++
			switch {
			case s == "*":
				p.wildcard = r
			case v.registryScopes && isRegistryScope(s):
				if p.byRegistry == nil {
					p.byRegistry = map[string]*Rule{}
				}
				p.byRegistry[s] = r
			default:
				p.byScope[s] = r
			}
		}
	}
	p.scopes = strings.Join(shown, ", ")
	if total > show {
		p.scopes += fmt.Sprintf(" and %d more", total-show)
	}
	return p, nil
}

// StoreRefs returns every store the policy names, once each, in document
// order.
func (p *Policy) StoreRefs() []truststore.Ref {
	var refs []truststore.Ref
	seen := map[truststore.Ref]bool{}
	for _, r := range p.Rules() {
		for _, s := range r.Stores {
			if !seen[s] {
				seen[s] = true
				refs = append(refs, s)
			}
		}
	}
	return refs
}

func cloneStatement(st *Statement) *Statement {
	c := *st
	c.RegistryScopes = slices.Clone(st.RegistryScopes)
	c.TrustStores = slices.Clone(st.TrustStores)
	c.TrustedIdentities = slices.Clone(st.TrustedIdentities)
	c.SignatureVerification.Override = maps.Clone(st.SignatureVerification.Override)
	return &c
}
