package trustpolicy

// This file holds the validator's rules for a statement's lists: trust
// stores, trusted identities and registry scopes.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

func (v *validator) stores(i int, rule *Rule, stores []string) {
	p := stmtPath(i) + ".trustStores"
	seen := make(map[truststore.Ref]bool)
	for j, s := range stores {
		key := problemKey{i + 1, fieldStores, j, 0}
		jp := p + "[" + strconv.Itoa(j) + "]"
		typ, name, found := strings.Cut(s, ":")
		switch {
		case !found:
			v.add(key, jp, s, `missing the ":" separator; write TYPE:NAME with TYPE one of ca, signingAuthority or tsa, e.g. "ca:acme"`)
		case !truststore.Type(typ).Valid():
			v.add(key, jp, s, fmt.Sprintf(`unknown trust store type %q; use ca, signingAuthority or tsa (case-sensitive)`, typ))
		case !truststore.ValidName(name):
			v.add(key, jp, s, fmt.Sprintf(`invalid trust store name %q; a name is one or more of the characters a-z, A-Z, 0-9, '_', '.' and '-'`, name))
		default:
			ref := truststore.Ref{Type: truststore.Type(typ), Name: name}
			if !seen[ref] {
				seen[ref] = true
				rule.Stores = append(rule.Stores, ref)
			}
		}
	}
}

// x509SubjectPrefix is notation's prefix for X.509 subject identities
// (case-sensitive).
const x509SubjectPrefix = "x509.subject"

func (v *validator) identities(i int, rule *Rule, ids []string) {
	p := stmtPath(i) + ".trustedIdentities"
	if len(ids) > 1 && slices.Contains(ids, "*") {
		v.add(problemKey{i + 1, fieldIdentities, -1, 0}, p, "", `"*" must be the only trusted identity; remove "*", or remove the other identities`)
	}
	rule.AnyIdentity = len(ids) == 1 && ids[0] == "*"
	type parsed struct {
		idx int
		dn  DN
		m   map[string]string
	}
	var dns []parsed
	for j, id := range ids {
		key := problemKey{i + 1, fieldIdentities, j, 0}
		jp := p + "[" + strconv.Itoa(j) + "]"
		if id == "" {
			v.add(key, jp, "", `empty trusted identity; use "x509.subject:" followed by a distinguished name, or "*"`)
			continue
		}
		if id == "*" {
			continue
		}
		prefix, value, found := strings.Cut(id, ":")
		if !found {
			v.add(key, jp, id, `missing the ":" separator; write "x509.subject:" followed by a distinguished name such as "C=US, ST=WA, O=Acme", or use "*"`)
			continue
		}
		if prefix != x509SubjectPrefix {
			// Other prefixes are for plugins; notation accepts them unchecked.
			rule.OtherIdentities = append(rule.OtherIdentities, id)
			continue
		}
		if value == "" {
			v.add(key, jp, id, `the x509.subject identity has no value; give a distinguished name with at least C, ST and O, e.g. "x509.subject:C=US, ST=WA, O=Acme"`)
			continue
		}
		pi := v.parseIdentity(value)
		if pi.err != nil {
			v.add(key, jp, id, "invalid x509.subject: "+pi.err.Error())
			continue
		}
		dns = append(dns, parsed{idx: j, dn: pi.dn, m: pi.m})
		rule.X509Identities = append(rule.X509Identities, pi.dn)
		rule.x509Raw = append(rule.x509Raw, id)
	}
	// Overlapping identities: notation rejects a DN that is a subset of
	// another (including an equal one), checking pairs in order.
	reported := make(map[[2]int]bool)
	for a := range dns {
		for b := range dns {
			if a == b || !dns[a].dn.subsetOfMap(dns[b].m) {
				continue
			}
			lo, hi := min(a, b), max(a, b)
			if reported[[2]int{lo, hi}] {
				continue
			}
			reported[[2]int{lo, hi}] = true
			later, earlier := dns[hi], dns[lo]
			v.add(problemKey{i + 1, fieldIdentities, later.idx, 1}, p+"["+strconv.Itoa(later.idx)+"]", ids[later.idx],
				fmt.Sprintf("overlaps with trustedIdentities[%d] %q: every attribute of %s is also in %s, so both match the same certificates; notation rejects overlapping identities, remove one",
					earlier.idx, ids[earlier.idx], overlapSide(a == lo), overlapSide(a != lo)))
		}
	}
}

func overlapSide(earlier bool) string {
	if earlier {
		return "the earlier identity"
	}
	return "this identity"
}

func (v *validator) scopes(i int, st *Statement) {
	p := stmtPath(i) + ".registryScopes"
	scopes := st.RegistryScopes
	if len(scopes) == 0 {
		v.add(problemKey{i + 1, fieldScopes, -1, 0}, p, "", `missing or empty; list repositories as REGISTRY/REPOSITORY (e.g. "registry.example.com/team/app"), or use ["*"] to apply the statement to every repository`)
		return
	}
	if len(scopes) > 1 && slices.Contains(scopes, "*") {
		v.add(problemKey{i + 1, fieldScopes, -1, 0}, p, "", `"*" must be the only scope of its statement; remove "*", or remove the other scopes`)
	}
	v.rules[i].Wildcard = len(scopes) == 1 && scopes[0] == "*"
	for j, s := range scopes {
		if s == "*" {
			continue
		}
		jp := p + "[" + strconv.Itoa(j) + "]"
		key := problemKey{i + 1, fieldScopes, j, 0}
		switch classifyScope(s) {
		case scopeWildcard:
			v.add(key, jp, s, `wildcards are not supported in registry scopes; use "*" alone or an exact REGISTRY/REPOSITORY scope`)
		case scopeInvalid:
			if isRegistryScope(s) {
				if !v.registryScopes {
					v.add(key, jp, s, registryScopeOff)
				}
				continue
			}
			msg := `not a valid registry scope; use REGISTRY[:PORT]/REPOSITORY with a lower-case repository and no scheme, tag or digest, e.g. "registry.example.com/team/app"`
			if h := scopeHint(s); h != "" {
				msg += " (" + h + ")"
			}
			v.add(key, jp, s, msg)
		}
	}
}

func (v *validator) duplicateScopes(doc *Document) {
	first := make(map[string][2]int)
	for i := range doc.TrustPolicies {
		for j, s := range doc.TrustPolicies[i].RegistryScopes {
			prev, dup := first[s]
			if !dup {
				first[s] = [2]int{i, j}
				continue
			}
			where := fmt.Sprintf("%s.registryScopes[%d]", stmtPath(prev[0]), prev[1])
			v.add(problemKey{i + 1, fieldScopes, j, 1}, fmt.Sprintf("%s.registryScopes[%d]", stmtPath(i), j), s,
				fmt.Sprintf("this scope is already used by %s; a scope may appear only once in the whole document", where))
		}
	}
}
