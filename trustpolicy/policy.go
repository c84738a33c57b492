package trustpolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// Errors of the policy layer. File errors from LoadDocument wrap one of the
// first four; a *PolicyError is ErrInvalidPolicy; Select's errors wrap
// ErrInvalidReference or ErrNoApplicablePolicy.
var (
	ErrPolicyNotFound     = errors.New("trust policy not found")
	ErrPolicyNotRegular   = errors.New("trust policy is not a regular file")
	ErrPolicyUnreadable   = errors.New("trust policy cannot be read")
	ErrMalformedPolicy    = errors.New("malformed trust policy")
	ErrInvalidPolicy      = errors.New("invalid trust policy")
	ErrNoApplicablePolicy = errors.New("no applicable trust policy")
	ErrInvalidReference   = errors.New("invalid artifact reference")
)

// MaxPolicyFileSize is the largest policy file LoadDocument reads. notation
// has no limit; 16 MiB holds well over 10,000 statements.
const MaxPolicyFileSize = 16 << 20

// policyHelpLink is where notation points users to write a policy.
const policyHelpLink = "https://notaryproject.dev/docs/quickstart/#create-a-trust-policy"

// PolicyError is one problem in a trust policy document.
type PolicyError struct {
	// Path is the JSON path of the offending field, e.g.
	// "trustPolicies[2].registryScopes[0]"; empty for the document itself.
	Path string
	// Value is the offending value, when there is one.
	Value string
	// Msg says what is wrong and what would be valid.
	Msg string
}

// Error returns `PATH "VALUE": MSG`, leaving out what is empty.
func (e *PolicyError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Value != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Quote(e.Value))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidPolicy) true.
func (e *PolicyError) Is(target error) bool { return target == ErrInvalidPolicy }

// ParseDocument decodes a trust policy document the way notation-go v1.3.2
// reads trustpolicy.json: with encoding/json's Decoder, so unknown keys are
// ignored, keys match case-insensitively and anything after the first JSON
// value is ignored. JSON that does not decode into a Document gives an error
// wrapping ErrMalformedPolicy. ParseDocument does not validate; see Compile
// and Lint.
func ParseDocument(data []byte) (*Document, error) {
	doc, err := decodeDocument(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedPolicy, err)
	}
	return doc, nil
}

func decodeDocument(data []byte) (*Document, error) {
	var doc Document
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, describeJSONError(data, err)
	}
	return &doc, nil
}

func describeJSONError(data []byte, err error) error {
	const want = `a trust policy is a JSON object such as {"version": "1.0", "trustPolicies": [...]}`
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("the document is empty; " + want)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the JSON ends early (truncated document); " + want)
	case errors.As(err, &syn):
		line, col := lineCol(data, syn.Offset)
		return fmt.Errorf("invalid JSON at line %d, column %d: %s; %s", line, col, strings.TrimPrefix(syn.Error(), "json: "), want)
	case errors.As(err, &typ):
		line, col := lineCol(data, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "the document"
		}
		return fmt.Errorf("at line %d, column %d: %s must be a JSON value of Go type %s, not a JSON %s; %s", line, col, field, typ.Type, typ.Value, want)
	}
	return fmt.Errorf("%s; %s", strings.TrimPrefix(err.Error(), "json: "), want)
}

// lineCol converts a byte offset (1-based position after the offending
// byte, as encoding/json reports it) into a 1-based line and column.
func lineCol(data []byte, off int64) (line, col int) {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col < 1 {
		col = 1
	}
	return line, col
}

// LoadDocument reads and decodes a trust policy file with notation's file
// rules. The errors are distinct and name the path: a missing file wraps
// ErrPolicyNotFound; a symlink, directory or other non-regular file wraps
// ErrPolicyNotRegular (notation does not follow symlinks); a file that
// cannot be opened or read (e.g. permissions) or is larger than
// MaxPolicyFileSize wraps ErrPolicyUnreadable; JSON that does not decode
// wraps ErrMalformedPolicy. LoadDocument does not validate.
func LoadDocument(path string) (*Document, error) {
	data, err := ReadPolicyFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := decodeDocument(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformedPolicy, path, err)
	}
	return doc, nil
}

// LintFile reads and decodes a trust policy file as LoadDocument does, and
// also returns the problems of its keys (LintKeys): what notation ignores.
func LintFile(path string) (*Document, []*KeyProblem, error) {
	data, err := ReadPolicyFile(path)
	if err != nil {
		return nil, nil, err
	}
	doc, err := decodeDocument(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrMalformedPolicy, path, err)
	}
	keys, err := LintKeys(data)
	if err != nil {
		// decodeDocument read the first value, so LintKeys can walk it.
		return doc, keys, fmt.Errorf("%w: %s: %v", ErrMalformedPolicy, path, err)
	}
	return doc, keys, nil
}

// ReadPolicyFile reads a trust policy file with notation's file rules and
// returns its bytes; see LoadDocument for the errors.
func ReadPolicyFile(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, policyFileError(path, err)
	}
	if err := checkRegular(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, policyFileError(path, err)
	}
	defer f.Close()
	// The file was checked by name; make sure the one opened is the same
	// regular file.
	if fi2, err := f.Stat(); err != nil {
		return nil, policyFileError(path, err)
	} else if !fi2.Mode().IsRegular() || !os.SameFile(fi, fi2) {
		return nil, fmt.Errorf("%w: %s changed while it was being opened; retry", ErrPolicyNotRegular, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxPolicyFileSize+1))
	if err != nil {
		return nil, policyFileError(path, err)
	}
	if len(data) > MaxPolicyFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d MiB, the largest trust policy file accepted", ErrPolicyUnreadable, path, MaxPolicyFileSize>>20)
	}
	return data, nil
}

func checkRegular(path string, fi fs.FileInfo) error {
	m := fi.Mode()
	switch {
	case m&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symlink; notation does not follow symlinks, so put the policy file itself there", ErrPolicyNotRegular, path)
	case m.IsDir():
		return fmt.Errorf("%w: %s is a directory; the trust policy must be a JSON file (see %s)", ErrPolicyNotRegular, path, policyHelpLink)
	case !m.IsRegular():
		return fmt.Errorf("%w: %s is a %s file; the trust policy must be a regular JSON file", ErrPolicyNotRegular, path, fileKind(m))
	}
	return nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special"
}

func policyFileError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s does not exist; create it (see %s)", ErrPolicyNotFound, path, policyHelpLink)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %s: permission denied; make the file (and its folders) readable by this user", ErrPolicyUnreadable, path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%w: %s: %v", ErrPolicyUnreadable, path, err)
}

// Policy is a compiled, valid trust policy. It is immutable and safe for
// concurrent use.
type Policy struct {
	rules    []*Rule
	byScope  map[string]*Rule
	wildcard *Rule
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
// ErrInvalidReference. Matching is exact and case-sensitive.
func (p *Policy) Select(reference string) (*Rule, error) {
	at := strings.LastIndexByte(reference, '@')
	if at < 0 {
		return nil, fmt.Errorf("%w %q: it has no digest; REGISTRY/REPOSITORY@DIGEST is required (resolve tags to digests first)", ErrInvalidReference, reference)
	}
	repo := reference[:at]
	if checkScope(repo) != scopeValid {
		return nil, fmt.Errorf("%w %q: %q is not a valid REGISTRY/REPOSITORY (lower-case repository, no scheme or tag); REGISTRY/REPOSITORY@DIGEST is required (resolve tags to digests first)", ErrInvalidReference, reference, repo)
	}
	if p == nil {
		return nil, fmt.Errorf("%w for %q: there is no trust policy", ErrNoApplicablePolicy, reference)
	}
	if r, ok := p.byScope[repo]; ok {
		return r, nil
	}
	if p.wildcard != nil {
		return p.wildcard, nil
	}
	return nil, fmt.Errorf("%w for %q: no statement lists %q in registryScopes and none uses \"*\"; configured scopes: %s", ErrNoApplicablePolicy, reference, repo, p.scopes)
}

// Lint returns every problem in the document, in document order. It returns
// nothing exactly when Compile accepts the document.
func Lint(doc *Document) []*PolicyError {
	c := check(doc)
	probs := slices.Clone(c.probs)
	sort.SliceStable(probs, func(i, j int) bool { return lessKey(probs[i].key, probs[j].key) })
	out := make([]*PolicyError, len(probs))
	for i, p := range probs {
		out[i] = p.err
	}
	return out
}

// Compile validates the document and compiles it. It accepts a document
// exactly when notation-go v1.3.2's Document.Validate does; otherwise it
// returns the first problem in notation's checking order as a *PolicyError.
// The document is copied: changing it later does not change the Policy.
func Compile(doc *Document) (*Policy, error) {
	c := check(doc)
	if len(c.probs) > 0 {
		return nil, c.probs[0].err
	}
	p := &Policy{rules: c.rules, byScope: make(map[string]*Rule, len(c.rules))}
	// The first few scopes, for "no applicable policy" errors.
	const show = 10
	var shown []string
	total := 0
	for _, r := range c.rules {
		for _, s := range r.Statement.RegistryScopes {
			if total < show {
				shown = append(shown, strconv.Quote(s))
			}
			total++
			if s == "*" {
				p.wildcard = r
			} else {
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

// checker collects problems in notation's checking order and builds the
// rules along the way.
type checker struct {
	probs []problem
	rules []*Rule
	// dns caches parsed identities: large policies repeat the same ones.
	dns map[string]parsedIdentity
}

type parsedIdentity struct {
	dn  DN
	m   map[string]string // read-only
	err error
}

func (c *checker) parseIdentity(value string) parsedIdentity {
	if p, ok := c.dns[value]; ok {
		return p
	}
	dn, err := ParseDN(value)
	p := parsedIdentity{dn: dn, err: err}
	if err == nil {
		p.m = make(map[string]string)
		dn.each(func(t, v string) bool { p.m[t] = v; return true })
	}
	if c.dns == nil {
		c.dns = make(map[string]parsedIdentity)
	}
	c.dns[value] = p
	return p
}

func (c *checker) add(key problemKey, path, value, msg string) {
	c.probs = append(c.probs, problem{err: &PolicyError{Path: path, Value: value, Msg: msg}, key: key})
}

const levelChoices = `use one of "strict", "permissive", "audit" or "skip" (lower case)`

// check validates doc in notation-go v1.3.2's order (Document.Validate):
// version; then each statement's name and core (name, level, overrides,
// verifyTimestamp, stores and identities); then every statement's registry
// scopes; then scopes used twice. Unlike notation it goes on after a
// problem, so Lint can report them all; every problem it reports is one
// notation rejects.
func check(doc *Document) *checker {
	c := &checker{}
	if doc == nil {
		c.add(problemKey{}, "", "", `the trust policy document is missing; it needs "version": "1.0" and at least one entry in "trustPolicies"`)
		return c
	}
	switch {
	case doc.Version == "":
		c.add(problemKey{0, 0}, "version", "", `missing or empty; set "version": "1.0"`)
	case doc.Version != "1.0":
		c.add(problemKey{0, 0}, "version", doc.Version, `unsupported version; the only supported version is "1.0"`)
	}
	if len(doc.TrustPolicies) == 0 {
		c.add(problemKey{0, 1}, "trustPolicies", "", `no trust policy statements; add at least one (a statement with "registryScopes": ["*"] applies to every repository)`)
		return c
	}
	names := make(map[string]int)
	for i := range doc.TrustPolicies {
		c.statement(i, &doc.TrustPolicies[i], names)
	}
	for i := range doc.TrustPolicies {
		c.scopes(i, &doc.TrustPolicies[i])
	}
	c.duplicateScopes(doc)
	return c
}

func stmtPath(i int) string { return "trustPolicies[" + strconv.Itoa(i) + "]" }

func (c *checker) statement(i int, st *Statement, names map[string]int) {
	p := stmtPath(i)
	k := func(field, item, sub int) problemKey { return problemKey{i + 1, field, item, sub} }
	rule := &Rule{Index: i, Name: st.Name, Statement: cloneStatement(st)}
	c.rules = append(c.rules, rule)

	// Name: unique (case-sensitive) and non-empty.
	if st.Name == "" {
		c.add(k(fieldName, 0, 0), p+".name", "", "missing or empty; every statement needs a unique name")
	} else if j, dup := names[st.Name]; dup {
		c.add(k(fieldName, 0, 0), p+".name", st.Name, fmt.Sprintf("this name is already used by %s; statement names must be unique (the comparison is case-sensitive)", stmtPath(j)))
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
		c.add(k(fieldVerification, 0, 0), vp+".level", "", "missing or empty; "+levelChoices)
	case !known:
		c.add(k(fieldVerification, 0, 0), vp+".level", level, "unknown level; "+levelChoices)
	}
	rule.Level = level
	rule.Overridden = len(sv.Override) > 0
	if len(sv.Override) > 0 {
		if level == LevelSkip {
			c.add(k(fieldVerification, 1, 0), vp+".override", "", `level "skip" cannot be customized; remove the override, or choose another level`)
		} else {
			for n, t := range overrideKeys(sv.Override) {
				idx, msg := checkOverride(t, sv.Override[t])
				if msg != "" {
					c.add(k(fieldVerification, 1, n), vp+".override"+jsonKey(string(t)), overrideValue(t, sv.Override[t], idx), msg)
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
		c.add(k(fieldVerification, 2, 0), vp+".verifyTimestamp", sv.VerifyTimestamp, `unknown option; use "always" (the default) or "afterCertExpiry"`)
	}

	// Presence of stores and identities.
	stores, ids := st.TrustStores, st.TrustedIdentities
	switch {
	case level == LevelSkip:
		if len(stores) > 0 {
			c.add(k(fieldStores, -1, 0), p+".trustStores", "", `must be empty when the level is "skip"; remove the trust stores, or choose another level`)
		}
		if len(ids) > 0 {
			c.add(k(fieldIdentities, -1, 0), p+".trustedIdentities", "", `must be empty when the level is "skip"; remove the trusted identities, or choose another level`)
		}
	case known:
		if len(stores) == 0 {
			c.add(k(fieldStores, -1, 0), p+".trustStores", "", fmt.Sprintf(`missing or empty; level %q needs at least one trust store such as "ca:NAME"`, level))
		}
		if len(ids) == 0 {
			c.add(k(fieldIdentities, -1, 0), p+".trustedIdentities", "", fmt.Sprintf(`missing or empty; level %q needs at least one trusted identity such as "x509.subject:C=US, ST=WA, O=Acme", or "*" to accept any signer the trust stores vouch for`, level))
		}
	}
	c.stores(i, rule, stores)
	c.identities(i, rule, ids)
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

// checkOverride applies notation's checks to one override, in its order: a
// known type, a known action, not integrity, and skip only for revocation.
func checkOverride(t ValidationType, a Action) (idx int, msg string) {
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

func (c *checker) stores(i int, rule *Rule, stores []string) {
	p := stmtPath(i) + ".trustStores"
	seen := make(map[truststore.Ref]bool)
	for j, s := range stores {
		key := problemKey{i + 1, fieldStores, j, 0}
		jp := p + "[" + strconv.Itoa(j) + "]"
		typ, name, found := strings.Cut(s, ":")
		switch {
		case !found:
			c.add(key, jp, s, `missing the ":" separator; write TYPE:NAME with TYPE one of ca, signingAuthority or tsa, e.g. "ca:acme"`)
		case !truststore.Type(typ).Valid():
			c.add(key, jp, s, fmt.Sprintf(`unknown trust store type %q; use ca, signingAuthority or tsa (case-sensitive)`, typ))
		case !truststore.ValidName(name):
			c.add(key, jp, s, fmt.Sprintf(`invalid trust store name %q; a name is one or more of the characters a-z, A-Z, 0-9, '_', '.' and '-'`, name))
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

func (c *checker) identities(i int, rule *Rule, ids []string) {
	p := stmtPath(i) + ".trustedIdentities"
	if len(ids) > 1 && slices.Contains(ids, "*") {
		c.add(problemKey{i + 1, fieldIdentities, -1, 0}, p, "", `"*" must be the only trusted identity; remove "*", or remove the other identities`)
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
			c.add(key, jp, "", `empty trusted identity; use "x509.subject:" followed by a distinguished name, or "*"`)
			continue
		}
		if id == "*" {
			continue
		}
		prefix, value, found := strings.Cut(id, ":")
		if !found {
			c.add(key, jp, id, `missing the ":" separator; write "x509.subject:" followed by a distinguished name such as "C=US, ST=WA, O=Acme", or use "*"`)
			continue
		}
		if prefix != x509SubjectPrefix {
			// Other prefixes are for plugins; notation accepts them unchecked.
			rule.OtherIdentities = append(rule.OtherIdentities, id)
			continue
		}
		if value == "" {
			c.add(key, jp, id, `the x509.subject identity has no value; give a distinguished name with at least C, ST and O, e.g. "x509.subject:C=US, ST=WA, O=Acme"`)
			continue
		}
		pi := c.parseIdentity(value)
		if pi.err != nil {
			c.add(key, jp, id, "invalid x509.subject: "+pi.err.Error())
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
			c.add(problemKey{i + 1, fieldIdentities, later.idx, 1}, p+"["+strconv.Itoa(later.idx)+"]", ids[later.idx],
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

func (c *checker) scopes(i int, st *Statement) {
	p := stmtPath(i) + ".registryScopes"
	scopes := st.RegistryScopes
	if len(scopes) == 0 {
		c.add(problemKey{i + 1, fieldScopes, -1, 0}, p, "", `missing or empty; list repositories as REGISTRY/REPOSITORY (e.g. "registry.example.com/team/app"), or use ["*"] to apply the statement to every repository`)
		return
	}
	if len(scopes) > 1 && slices.Contains(scopes, "*") {
		c.add(problemKey{i + 1, fieldScopes, -1, 0}, p, "", `"*" must be the only scope of its statement; remove "*", or remove the other scopes`)
	}
	c.rules[i].Wildcard = len(scopes) == 1 && scopes[0] == "*"
	for j, s := range scopes {
		if s == "*" {
			continue
		}
		jp := p + "[" + strconv.Itoa(j) + "]"
		key := problemKey{i + 1, fieldScopes, j, 0}
		switch checkScope(s) {
		case scopeWildcard:
			c.add(key, jp, s, `wildcards are not supported in registry scopes; use "*" alone or an exact REGISTRY/REPOSITORY scope`)
		case scopeInvalid:
			msg := `not a valid registry scope; use REGISTRY[:PORT]/REPOSITORY with a lower-case repository and no scheme, tag or digest, e.g. "registry.example.com/team/app"`
			if h := scopeHint(s); h != "" {
				msg += " (" + h + ")"
			}
			c.add(key, jp, s, msg)
		}
	}
}

func (c *checker) duplicateScopes(doc *Document) {
	first := make(map[string][2]int)
	for i := range doc.TrustPolicies {
		for j, s := range doc.TrustPolicies[i].RegistryScopes {
			prev, dup := first[s]
			if !dup {
				first[s] = [2]int{i, j}
				continue
			}
			where := fmt.Sprintf("%s.registryScopes[%d]", stmtPath(prev[0]), prev[1])
			c.add(problemKey{i + 1, fieldScopes, j, 1}, fmt.Sprintf("%s.registryScopes[%d]", stmtPath(i), j), s,
				fmt.Sprintf("this scope is already used by %s; a scope may appear only once in the whole document", where))
		}
	}
}

func cloneStatement(st *Statement) *Statement {
	c := *st
	c.RegistryScopes = slices.Clone(st.RegistryScopes)
	c.TrustStores = slices.Clone(st.TrustStores)
	c.TrustedIdentities = slices.Clone(st.TrustedIdentities)
	c.SignatureVerification.Override = maps.Clone(st.SignatureVerification.Override)
	return &c
}
