package trustpolicy

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// IdentityError is a signing certificate that the statement's trusted
// identities do not accept.
type IdentityError struct {
	// Policy is the statement's name and Index its position in
	// trustPolicies.
	Policy string
	Index  int
	// Leaf is the signing certificate's subject (Go's Subject.String()).
	Leaf string
	// Configured are the statement's x509.subject identities, verbatim.
	Configured []string
	// Suggestion is the trusted identity that matches this leaf, as
	// IdentityFor returns it, or, when none can, why only "*" can match it.
	// It is data, not the fix: the fix is Fix, as for every check error.
	//
	// Deprecated: call IdentityFor with the leaf.
	Suggestion string

	// fix is the edit of the policy file that makes the leaf match.
	fix    string
	detail string
	// parseErr is the *DNError of a leaf subject notation cannot parse.
	parseErr error
}

func (e *IdentityError) Error() string {
	return fmt.Sprintf("signing certificate subject %q does not match %s", e.Leaf, e.detail)
}

// Unwrap returns the *DNError when notation cannot parse the leaf's
// subject (only "*" can match it then), else nil.
func (e *IdentityError) Unwrap() error { return e.parseErr }

// Fix is the edit of trustpolicy.json that makes this certificate match,
// e.g. add "x509.subject: C=US, ST=WA, O=Acme, CN=Release Signing" to
// trustedIdentities of statement "release" (trustPolicies[0]). The quoted
// identity is a JSON string, exactly as it goes into the file. It is the
// package's one way to carry a fix (see fix.go): Evaluate reports it as the
// authenticity check's Fix.
func (e *IdentityError) Fix() string { return e.fix }

// MatchIdentity checks the signing certificate against the statement's
// trusted identities as notation-go v1.3.2 does (verifyX509TrustedIdentities):
// "*" accepts any certificate; otherwise there must be x509.subject
// identities, the leaf's Subject.String() must parse with ParseDN's rules,
// and some identity must be a subset of it (SubsetOf). Failures are
// *IdentityError.
func (r *Rule) MatchIdentity(leaf *x509.Certificate) error {
	if r == nil {
		return &IdentityError{Suggestion: "select a trust policy statement first", fix: "select a trust policy statement first", detail: "any trust policy: no statement was selected"}
	}
	if r.AnyIdentity {
		return nil
	}
	e := &IdentityError{Policy: r.Name, Index: r.Index, Configured: slices.Clone(r.x509Raw)}
	if leaf == nil {
		e.Suggestion = "provide the signing certificate"
		e.fix = e.Suggestion
		e.detail = fmt.Sprintf("the trusted identities of trust policy %q: there is no signing certificate", r.Name)
		return e
	}
	e.Leaf = leaf.Subject.String()
	leafDN, perr := ParseDN(e.Leaf)
	e.parseErr = perr
	e.Suggestion = suggestionFor(e.Leaf, leafDN, perr)
	e.fix = r.identityFix(leafDN, perr, e.Suggestion)
	if len(r.X509Identities) == 0 {
		e.detail = fmt.Sprintf("any identity: no x509 trusted identities are configured in the trust policy %q (it lists only %q, which need a plugin)", r.Name, r.OtherIdentities)
		return e
	}
	if perr != nil {
		e.detail = fmt.Sprintf("the X.509 trusted identities %q of trust policy %q: notation cannot parse the subject: %v", r.x509Raw, r.Name, perr)
		return e
	}
	m := make(map[string]string)
	leafDN.each(func(t, v string) bool { m[t] = v; return true })
	for _, id := range r.X509Identities {
		if id.subsetOfMap(m) {
			return nil
		}
	}
	e.detail = fmt.Sprintf("the X.509 trusted identities %q of trust policy %q: %s", r.x509Raw, r.Name, closestMismatch(r.X509Identities, r.x509Raw, m))
	return e
}

// identityFix words the edit that makes a leaf with subject dn match the
// statement: add the leaf's identity, or, when it would overlap identities
// the statement already lists (notation rejects a policy whose identities
// overlap), replace those; when notation cannot parse the subject, only "*"
// can match it.
func (r *Rule) identityFix(dn DN, perr error, suggestion string) string {
	where := fmt.Sprintf("statement %s (trustPolicies[%d])", jsonString(r.Name), r.Index)
	if perr != nil {
		return fmt.Sprintf("set trustedIdentities of %s to [\"*\"] to accept any certificate its trust stores vouch for; %s", where, suggestion)
	}
	id := jsonString(suggestion)
	var ids []string
	if r.Statement != nil {
		ids = r.Statement.TrustedIdentities
	}
	var overlapping []string
	for _, raw := range ids {
		prefix, value, ok := strings.Cut(raw, ":")
		if !ok || prefix != x509SubjectPrefix {
			continue
		}
		if other, err := ParseDN(value); err == nil && dn.SubsetOf(other) {
			overlapping = append(overlapping, jsonString(raw))
		}
	}
	if len(overlapping) > 0 {
		return fmt.Sprintf("replace %s in trustedIdentities of %s with %s (an identity must not overlap another)", strings.Join(overlapping, " and "), where, id)
	}
	return fmt.Sprintf("add %s to trustedIdentities of %s", id, where)
}

// jsonString is s as a JSON string literal, as it is written in
// trustpolicy.json (no HTML escaping).
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return strconv.Quote(s)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// closestMismatch describes, for the identity with the fewest differing
// attributes, its first difference from the leaf.
func closestMismatch(ids []DN, raw []string, leaf map[string]string) string {
	best, bestN := -1, 0
	var bestType, bestWant string
	for i, id := range ids {
		n := 0
		var typ, want string
		id.each(func(t, v string) bool {
			if leaf[t] != v {
				if n == 0 {
					typ, want = t, v
				}
				n++
			}
			return true
		})
		if best < 0 || n < bestN {
			best, bestN, bestType, bestWant = i, n, typ, want
		}
	}
	if best < 0 {
		return "no identity is configured"
	}
	have, ok := leaf[bestType]
	leafPart := fmt.Sprintf("the certificate has %s=%q", bestType, have)
	if !ok {
		leafPart = "the certificate has no " + bestType
	}
	closest := "the closest, "
	if len(ids) == 1 {
		closest = ""
	}
	return fmt.Sprintf("%s%q requires %s=%q but %s (attribute types and values must match exactly, case included)", closest, raw[best], bestType, bestWant, leafPart)
}

// IdentityFor returns the x509.subject trusted identity that matches
// exactly this signing certificate's subject, in notation's format:
// "x509.subject: " and the subject's attributes, C, ST and O first, e.g.
// "x509.subject: C=US, ST=WA, O=Acme, CN=Release Signing". Values are
// escaped as RFC 4514 requires, and control and invisible characters as
// \XX hex pairs, so the string is safe to print and notation's parser
// returns the certificate's exact subject from it. It fails when notation
// cannot use the subject (it lacks C, ST or O, or has a multi-valued RDN or
// an attribute Go renders as "=#..."); then only "*" can match the
// certificate, and the error wraps ParseDN's *DNError (ErrInvalidDN).
//
// Both the verifier's fix and notation-pkcs11 doctor print this string.
func IdentityFor(cert *x509.Certificate) (string, error) {
	if cert == nil {
		return "", errors.New("no signing certificate")
	}
	subject := cert.Subject.String()
	dn, err := ParseDN(subject)
	if err != nil {
		return "", noIdentityError(subject, err)
	}
	return suggestionFor(subject, dn, nil), nil
}

// noIdentityError says that only "*" can match a subject that notation
// cannot parse; it wraps ParseDN's *DNError.
func noIdentityError(subject string, err error) error {
	return fmt.Errorf("no x509.subject identity can match certificate subject %q, so only the trusted identity \"*\" can: %w", subject, err)
}

// suggestionFor is IdentityFor's text for a parsed subject: the identity,
// or (when the subject did not parse) why only "*" can match.
func suggestionFor(subject string, dn DN, err error) string {
	if err != nil {
		return noIdentityError(subject, err).Error()
	}
	return x509SubjectPrefix + ": " + dn.identityOrder().String()
}
