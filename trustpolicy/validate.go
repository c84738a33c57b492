package trustpolicy

// This file validates a Document with notation's acceptance rules (Lint,
// and Compile's first step): the validator, the document and statement
// rules, levels and overrides. The list rules (stores, identities, scopes)
// are in validate_lists.go.

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
)

// Lint returns every problem in the document, in document order. It returns
// nothing exactly when Compile accepts the document.
func Lint(doc *Document) []*PolicyError { return LintWithOptions(doc, CompileOptions{}) }

// LintWithOptions is Lint for CompileWithOptions.
func LintWithOptions(doc *Document, opts CompileOptions) []*PolicyError {
	v := validate(doc, opts)
	probs := slices.Clone(v.probs)
	sort.SliceStable(probs, func(i, j int) bool { return lessKey(probs[i].key, probs[j].key) })
	out := make([]*PolicyError, len(probs))
	for i, p := range probs {
		out[i] = p.err
	}
	return out
}

// problem is a PolicyError with its position in document order.
type problem struct {
	err *PolicyError
	key problemKey
}

// problemKey orders problems in document order: statement (0 for the
// document's own fields, else index+1), field, item, sub-item.
type problemKey [4]int

func lessKey(a, b problemKey) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// Field ranks within a statement, in the order statements are usually
// written.
const (
	fieldName = iota
	fieldScopes
	fieldVerification
	fieldStores
	fieldIdentities
)

// validator collects problems in notation's checking order and builds the
// rules along the way.
type validator struct {
	// registryScopes allows registry-host scopes (the extension).
	registryScopes bool
	probs          []problem
	rules          []*Rule
	// dns caches parsed identities: large policies repeat the same ones.
	dns map[string]parsedIdentity
}

type parsedIdentity struct {
	dn  DN
	m   map[string]string // read-only
	err error
}

func (v *validator) parseIdentity(value string) parsedIdentity {
	if p, ok := v.dns[value]; ok {
		return p
	}
	dn, err := ParseDN(value)
	p := parsedIdentity{dn: dn, err: err}
	if err == nil {
		p.m = make(map[string]string)
		dn.each(func(t, val string) bool { p.m[t] = val; return true })
	}
	if v.dns == nil {
		v.dns = make(map[string]parsedIdentity)
	}
	v.dns[value] = p
	return p
}

func (v *validator) add(key problemKey, path, value, msg string) {
	v.probs = append(v.probs, problem{err: &PolicyError{Path: path, Value: value, Msg: msg}, key: key})
}

const levelChoices = `use one of "strict", "permissive", "audit" or "skip" (lower case)`

// validate checks doc in notation-go v1.3.2's order (Document.Validate):
// version; then each statement's name and core (name, level, overrides,
// verifyTimestamp, stores and identities); then every statement's registry
// scopes; then scopes used twice. Unlike notation it goes on after a
// problem, so Lint can report them all; every problem it reports is one
// notation rejects.
func validate(doc *Document, opts CompileOptions) *validator {
	v := &validator{registryScopes: opts.RegistryScopes || doc != nil && doc.Extensions != nil && doc.Extensions.RegistryScopes}
	if doc == nil {
		v.add(problemKey{}, "", "", `the trust policy document is missing; it needs "version": "1.0" and at least one entry in "trustPolicies"`)
		return v
	}
	switch {
	case doc.Version == "":
		v.add(problemKey{0, 0}, "version", "", `missing or empty; set "version": "1.0"`)
	case doc.Version != "1.0":
		v.add(problemKey{0, 0}, "version", doc.Version, `unsupported version; the only supported version is "1.0"`)
	}
	if len(doc.TrustPolicies) == 0 {
		v.add(problemKey{0, 1}, "trustPolicies", "", `no trust policy statements; add at least one (a statement with "registryScopes": ["*"] applies to every repository)`)
		return v
	}
	names := make(map[string]int)
	for i := range doc.TrustPolicies {
		v.statement(i, &doc.TrustPolicies[i], names)
	}
	for i := range doc.TrustPolicies {
		v.scopes(i, &doc.TrustPolicies[i])
	}
	v.duplicateScopes(doc)
	return v
}

func stmtPath(i int) string { return "trustPolicies[" + strconv.Itoa(i) + "]" }

func (v *validator) statement(i int, st *Statement, names map[string]int) {
	p := stmtPath(i)
	k := func(field, item, sub int) problemKey { return problemKey{i + 1, field, item, sub} }
	rule := &Rule{Index: i, Name: st.Name, Statement: cloneStatement(st)}
	v.rules = append(v.rules, rule)

	// Name: unique (case-sensitive) and non-empty.
	if st.Name == "" {
		v.add(k(fieldName, 0, 0), p+".name", "", "missing or empty; every statement needs a unique name")
	} else if j, dup := names[st.Name]; dup {
		v.add(k(fieldName, 0, 0), p+".name", st.Name, fmt.Sprintf("this name is already used by %s; statement names must be unique (the comparison is case-sensitive)", stmtPath(j)))
	} else {
		names[st.Name] = i
	}

	// Level and overrides (notation's GetVerificationLevel).
	sv := st.SignatureVerification
	vp := p + ".signatureVerification"
	level := sv.Level
	actions, known := levelActions(level)
	switch {
	case level == "":
		v.add(k(fieldVerification, 0, 0), vp+".level", "", "missing or empty; "+levelChoices)
	case !known:
		v.add(k(fieldVerification, 0, 0), vp+".level", level, "unknown level; "+levelChoices)
	}
	rule.Level = level
	rule.Overridden = len(sv.Override) > 0
	if len(sv.Override) > 0 {
		if level == LevelSkip {
			v.add(k(fieldVerification, 1, 0), vp+".override", "", `level "skip" cannot be customized; remove the override, or choose another level`)
		} else {
			for n, t := range overrideKeys(sv.Override) {
				idx, msg := validateOverride(t, sv.Override[t])
				if msg != "" {
					v.add(k(fieldVerification, 1, n), vp+".override"+jsonKey(string(t)), overrideValue(t, sv.Override[t], idx), msg)
				} else {
					actions[idx] = sv.Override[t]
				}
			}
		}
	}
	rule.actions = actions
	switch sv.VerifyTimestamp {
	case "", VerifyTimestampAlways:
		rule.VerifyTimestamp = VerifyTimestampAlways
	case VerifyTimestampAfterCertExpiry:
		rule.VerifyTimestamp = VerifyTimestampAfterCertExpiry
	default:
		v.add(k(fieldVerification, 2, 0), vp+".verifyTimestamp", sv.VerifyTimestamp, `unknown option; use "always" (the default) or "afterCertExpiry"`)
	}

	// Presence of stores and identities.
	stores, ids := st.TrustStores, st.TrustedIdentities
	switch {
	case level == LevelSkip:
		if len(stores) > 0 {
			v.add(k(fieldStores, -1, 0), p+".trustStores", "", `must be empty when the level is "skip"; remove the trust stores, or choose another level`)
		}
		if len(ids) > 0 {
			v.add(k(fieldIdentities, -1, 0), p+".trustedIdentities", "", `must be empty when the level is "skip"; remove the trusted identities, or choose another level`)
		}
	case known:
		if len(stores) == 0 {
			v.add(k(fieldStores, -1, 0), p+".trustStores", "", fmt.Sprintf(`missing or empty; level %q needs at least one trust store such as "ca:NAME"`, level))
		}
		if len(ids) == 0 {
			v.add(k(fieldIdentities, -1, 0), p+".trustedIdentities", "", fmt.Sprintf(`missing or empty; level %q needs at least one trusted identity such as "x509.subject:C=US, ST=WA, O=Acme", or "*" to accept any signer the trust stores vouch for`, level))
		}
	}
	v.stores(i, rule, stores)
	v.identities(i, rule, ids)
}

// overrideKeys returns the override's keys in notation's type order, then
// unknown keys sorted. (notation iterates the map, so when several keys are
// wrong its first error is random; ours is deterministic.)
func overrideKeys(m map[ValidationType]Action) []ValidationType {
	var known, unknown []ValidationType
	for _, t := range validationTypes() {
		if _, ok := m[t]; ok {
			known = append(known, t)
		}
	}
	for _, t := range slices.Sorted(maps.Keys(m)) {
		if validationTypeIndex(t) < 0 {
			unknown = append(unknown, t)
		}
	}
	return append(known, unknown...)
}

// validateOverride applies notation's checks to one override, in its order: a
// known type, a known action, not integrity, and skip only for revocation.
func validateOverride(t ValidationType, a Action) (idx int, msg string) {
	idx = validationTypeIndex(t)
	switch {
	case idx < 0:
		return idx, `unknown verification type; the types that can be overridden are "authenticity", "authenticTimestamp", "expiry" and "revocation"`
	case a != ActionEnforce && a != ActionLog && a != ActionSkip:
		if t == TypeRevocation {
			return idx, `unknown action; use "enforce", "log" or "skip"`
		}
		if t == TypeIntegrity {
			return idx, `unknown action, and integrity cannot be overridden anyway; remove it (integrity is always enforced)`
		}
		return idx, `unknown action; use "enforce" or "log" (only revocation can be skipped)`
	case t == TypeIntegrity:
		return idx, `integrity cannot be overridden; remove it (integrity is always enforced, except at level "skip")`
	case a == ActionSkip && t != TypeRevocation:
		return idx, fmt.Sprintf(`%s cannot be skipped, only revocation can; use "enforce" or "log"`, t)
	}
	return idx, ""
}

// overrideValue is the Value of an override problem: the key when the key
// is wrong, else the action.
func overrideValue(t ValidationType, a Action, idx int) string {
	if idx < 0 {
		return string(t)
	}
	return string(a)
}

// jsonKey renders a map key as a JSON path step: ".key" for simple keys,
// otherwise `["key"]`.
func jsonKey(key string) string {
	simple := key != ""
	for i := 0; i < len(key); i++ {
		if c := key[i]; !isASCIIAlnum(c) && c != '_' {
			simple = false
			break
		}
	}
	if simple {
		return "." + key
	}
	return "[" + strconv.Quote(key) + "]"
}
