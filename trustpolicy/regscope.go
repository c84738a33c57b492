package trustpolicy

import "strings"

// CompileOptions turn on extensions to notation v1.3.2's trust policy.
// The zero value is notation's behaviour exactly.
type CompileOptions struct {
	// RegistryScopes allows a registry host (a scope without "/", e.g.
	// "registry.example.com" or "localhost:5000") in registryScopes, as
	// notaryproject/specifications PR #330 proposes: the statement applies
	// to every repository of that registry. The most specific match wins:
	// a statement listing the repository, else one listing its registry,
	// else the "*" statement. Matching is exact and case-sensitive (no
	// case folding, no default registry, no prefix matching). A policy
	// can also turn it on itself with "extensions": {"registryScopes":
	// true}. Off, a registry-host scope is invalid, as in notation.
	RegistryScopes bool
}

// registryScopeOff is the problem of a registry-host scope when the
// extension is off: it says what the policy needs.
const registryScopeOff = `not a valid registry scope: a registry host without a repository is a registry-level scope, which notation does not support; ` +
	`list repositories as REGISTRY/REPOSITORY, or turn on registry-level scopes (notaryproject/specifications PR #330) ` +
	`with "extensions": {"registryScopes": true} in the policy or --registry-scopes`

// isRegistryScope reports whether s is a registry host: no '/', a valid
// DOMAIN[:PORT], and by docker's rule a host (a dot or a port, or
// "localhost"), not the first component of a repository name.
func isRegistryScope(s string) bool {
	return s != "" && !strings.ContainsRune(s, '/') && validScopeDomain(s) &&
		(s == "localhost" || strings.HasPrefix(s, "localhost:") || strings.ContainsAny(s, ".:"))
}

// registryOf is the registry host of a REGISTRY/REPOSITORY.
func registryOf(repo string) string {
	host, _, _ := strings.Cut(repo, "/")
	return host
}

// RegistryScopes reports whether the policy was compiled with registry-
// level scopes on.
func (p *Policy) RegistryScopes() bool { return p != nil && p.registryScopes }
