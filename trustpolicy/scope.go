package trustpolicy

import "strings"

// scopeStatus classifies a registry scope (or the repository part of an
// artifact reference) the way notation-go v1.3.2's
// validateRegistryScopeFormat does.
type scopeStatus int

const (
	scopeValid scopeStatus = iota
	// scopeWildcard: longer than one byte and contains '*'.
	scopeWildcard
	// scopeInvalid: not DOMAIN[:PORT]/REPOSITORY.
	scopeInvalid
)

// classifyScope is notation's validateRegistryScopeFormat without regular
// expressions: it is called for every verification, so it must be cheap.
// The domain part (before the first '/') must match distribution's domain
// pattern and the rest its lower-case repository pattern. The tests compare
// it with notation's regular expressions.
func classifyScope(s string) scopeStatus {
	if len(s) > 1 && strings.IndexByte(s, '*') >= 0 {
		return scopeWildcard
	}
	domain, repo, found := strings.Cut(s, "/")
	if !found || !validScopeDomain(domain) || !validScopeRepository(repo) {
		return scopeInvalid
	}
	return scopeValid
}

// validScopeDomain: dot-separated labels of [a-zA-Z0-9-] that neither start
// nor end with '-', then an optional ":" and one or more digits.
func validScopeDomain(d string) bool {
	host, port, hasPort := strings.Cut(d, ":")
	if hasPort {
		if port == "" {
			return false
		}
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return false
			}
		}
	}
	if host == "" {
		return false
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isASCIIAlnum(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

// validScopeRepository: '/'-separated components, each one or more runs of
// [a-z0-9] joined by exactly one separator: ".", "_", "__" or one or more
// "-".
func validScopeRepository(r string) bool {
	if r == "" {
		return false
	}
	for comp := range strings.SplitSeq(r, "/") {
		if !validScopeComponent(comp) {
			return false
		}
	}
	return true
}

func validScopeComponent(c string) bool {
	i := 0
	for {
		// A run of [a-z0-9]+.
		start := i
		for i < len(c) && isLowerAlnum(c[i]) {
			i++
		}
		if i == start {
			return false
		}
		if i == len(c) {
			return true
		}
		// A separator.
		switch c[i] {
		case '.':
			i++
		case '_':
			i++
			if i < len(c) && c[i] == '_' {
				i++
			}
		case '-':
			for i < len(c) && c[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func isASCIIAlnum(c byte) bool { return isLowerAlnum(c) || c >= 'A' && c <= 'Z' }

// scopeHint says why a scope that classifyScope rejects is invalid, for error
// messages. It never decides validity.
func scopeHint(s string) string {
	domain, repo, found := strings.Cut(s, "/")
	switch {
	case strings.Contains(s, "://"):
		return "remove the scheme"
	case s == "":
		return "the scope is empty"
	case !found:
		return "add the repository after the registry"
	case strings.ContainsAny(repo, "@"):
		return "remove the digest"
	case strings.Contains(repo, ":"):
		return "remove the tag"
	case domain == "":
		return "add the registry before the repository"
	case repo == "" || strings.HasSuffix(repo, "/"):
		return "remove the trailing '/'"
	case strings.ToLower(repo) != repo:
		return "the repository must be lower case"
	case strings.ContainsAny(s, " \t\r\n"):
		return "remove the whitespace"
	}
	return ""
}
