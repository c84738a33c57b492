package trustpolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// KeyProblemKind says what is wrong with a key of a trust policy document.
type KeyProblemKind string

// Kinds of key problems. notation ignores all of them (encoding/json drops
// unknown keys, matches keys case-insensitively and keeps the last of
// duplicate keys), so they never change a verdict; they are warnings of
// Lint, errors of lint --strict.
const (
	// KeyUnknown: a key that no object of a trust policy has.
	KeyUnknown KeyProblemKind = "unknownKey"
	// KeyMisplaced: a key that belongs to another object, such as a
	// statement-level "verifyTimestamp" (it belongs in
	// signatureVerification).
	KeyMisplaced KeyProblemKind = "misplacedKey"
	// KeyDuplicate: a key that appears more than once in an object
	// (case-insensitively, for the objects notation decodes into structs).
	KeyDuplicate KeyProblemKind = "duplicateKey"
	// KeyCase: a known key written in another case ("TrustStores").
	KeyCase KeyProblemKind = "keyCase"
)

// KeyProblem is a key of the document that notation ignores or reads
// differently from what its author likely meant.
type KeyProblem struct {
	Kind KeyProblemKind `json:"kind"`
	// Path is the JSON path of the key, e.g.
	// "trustPolicies[0].verifyTimestamp".
	Path string `json:"path"`
	Key  string `json:"key"`
	// Suggestion is the key the author likely meant, or for a misplaced
	// key the JSON path where it belongs.
	Suggestion string `json:"suggestion,omitempty"`
	Msg        string `json:"message"`
}

func (p *KeyProblem) Error() string { return p.Path + ": " + p.Msg }

// ErrLintInput: LintKeys was given something it cannot walk.
var ErrLintInput = errors.New("cannot check the keys of the trust policy")

// objectKind is the kind of a JSON object in a trust policy document.
type objectKind int

const (
	kindNone objectKind = iota // not walked
	kindRoot
	kindStatement
	kindVerification
	kindOverride
	kindStatementList
	kindExtensions
)

// knownKeys are the keys of each object, in the order people write them.
func knownKeys(k objectKind) []string {
	switch k {
	case kindRoot:
		return []string{"version", "trustPolicies", "extensions"}
	case kindStatement:
		return []string{"name", "registryScopes", "signatureVerification", "trustStores", "trustedIdentities"}
	case kindVerification:
		return []string{"level", "override", "verifyTimestamp"}
	case kindExtensions:
		return []string{"registryScopes"}
	}
	return nil
}

// childKind is the kind of the value of the known key of k.
func childKind(k objectKind, key string) objectKind {
	switch {
	case k == kindRoot && key == "trustPolicies":
		return kindStatementList
	case k == kindStatement && key == "signatureVerification":
		return kindVerification
	case k == kindVerification && key == "override":
		return kindOverride
	case k == kindRoot && key == "extensions":
		return kindExtensions
	}
	return kindNone
}

func kindName(k objectKind) string {
	switch k {
	case kindRoot:
		return "the trust policy document"
	case kindStatement:
		return "a trust policy statement"
	case kindVerification:
		return "signatureVerification"
	case kindExtensions:
		return "extensions"
	}
	return "this object"
}

// LintKeys walks the first JSON value of a trust policy document token by
// token and reports, in document order, the keys notation ignores or reads
// differently: unknown and misplaced keys with a "did you mean", keys in
// another case, and duplicate keys (which encoding/json cannot show). It
// never changes what the document means: Compile decides validity, and a
// document with key problems verifies exactly as notation verifies it.
// Input larger than MaxPolicyFileSize, or that is not JSON, gives an error
// wrapping ErrLintInput.
func LintKeys(data []byte) ([]*KeyProblem, error) {
	if len(data) > MaxPolicyFileSize {
		return nil, fmt.Errorf("%w: the document is larger than %d MiB", ErrLintInput, MaxPolicyFileSize>>20)
	}
	w := &keyWalker{dec: json.NewDecoder(bytes.NewReader(data))}
	w.dec.UseNumber()
	if err := w.value("", kindRoot); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return w.probs, fmt.Errorf("%w: %v", ErrLintInput, err)
	}
	return w.probs, nil
}

type keyWalker struct {
	dec   *json.Decoder
	probs []*KeyProblem
}

func (w *keyWalker) add(kind KeyProblemKind, path, key, suggestion, msg string) {
	w.probs = append(w.probs, &KeyProblem{Kind: kind, Path: path, Key: key, Suggestion: suggestion, Msg: msg})
}

// value reads one value; objects and arrays of kind k are walked, anything
// else is skipped.
func (w *keyWalker) value(path string, k objectKind) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch {
	case d == '{' && k != kindNone && k != kindStatementList:
		return w.object(path, k)
	case d == '[' && k == kindStatementList:
		for i := 0; w.dec.More(); i++ {
			if err := w.value(path+"["+strconv.Itoa(i)+"]", kindStatement); err != nil {
				return err
			}
		}
		_, err := w.dec.Token() // ']'
		return err
	}
	return w.skipRest()
}

// skipRest consumes the rest of an object or array whose opening delimiter
// was read, without recursion.
func (w *keyWalker) skipRest() error {
	for depth := 1; depth > 0; {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

func (w *keyWalker) object(path string, k objectKind) error {
	known := knownKeys(k)
	// seen maps a key (folded, for struct objects) to its first spelling.
	seen := make(map[string]string)
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		kp := joinPath(path, key)
		fold := key
		if k != kindOverride {
			fold = jsonFold(key)
		}
		if first, dup := seen[fold]; dup {
			if first == key {
				w.add(KeyDuplicate, kp, key, "", fmt.Sprintf("key %q appears more than once; notation uses the last value and ignores the others; keep one", key))
			} else {
				w.add(KeyDuplicate, kp, key, "", fmt.Sprintf("keys %q and %q are the same field to notation (keys match case-insensitively), which uses the last one and ignores the others; keep one", first, key))
			}
		} else {
			seen[fold] = key
		}
		child := kindNone
		if k != kindOverride {
			child = w.checkKey(k, path, kp, key, known)
		}
		if err := w.value(kp, child); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	return err
}

// checkKey reports a key of a struct object that is not one of its known
// keys, and returns the kind of its value.
func (w *keyWalker) checkKey(k objectKind, path, kp, key string, known []string) objectKind {
	for _, kn := range known {
		if key == kn {
			return childKind(k, kn)
		}
	}
	for _, kn := range known {
		if jsonFold(key) == jsonFold(kn) {
			w.add(KeyCase, kp, key, kn, fmt.Sprintf("key %q differs in case from %q; notation accepts it (it matches keys case-insensitively) but other tools may not; did you mean %q?", key, kn, kn))
			return childKind(k, kn)
		}
	}
	if where := misplacedIn(k, path, key); where != "" {
		w.add(KeyMisplaced, kp, key, where, fmt.Sprintf("key %q does not belong in %s, so notation ignores it here; move it to %s", key, kindName(k), where))
		return kindNone
	}
	msg := fmt.Sprintf("unknown key %q in %s, ignored by notation", key, kindName(k))
	best := closestKey(key, known)
	if best != "" {
		msg += fmt.Sprintf("; did you mean %q?", best)
	} else {
		msg += "; its keys are " + quoteList(known)
	}
	w.add(KeyUnknown, kp, key, best, msg)
	return kindNone
}

// misplacedIn returns where a key of another object belongs, as a JSON
// path, or "".
func misplacedIn(k objectKind, path, key string) string {
	for _, other := range []objectKind{kindRoot, kindStatement, kindVerification} {
		if other == k {
			continue
		}
		for _, kn := range knownKeys(other) {
			if jsonFold(key) != jsonFold(kn) {
				continue
			}
			switch other {
			case kindVerification:
				if k == kindStatement {
					return path + ".signatureVerification." + kn
				}
				return "trustPolicies[N].signatureVerification." + kn
			case kindStatement:
				if k == kindVerification {
					return strings.TrimSuffix(path, ".signatureVerification") + "." + kn
				}
				return "trustPolicies[N]." + kn
			default:
				return kn
			}
		}
	}
	return ""
}

// closestKey is the known key nearest to key: equal ignoring case, or
// within an edit distance of about a quarter of its length.
func closestKey(key string, known []string) string {
	best, bestD := "", 0
	lk := strings.ToLower(key)
	for _, kn := range known {
		d := editDistance(lk, strings.ToLower(kn))
		if best == "" || d < bestD {
			best, bestD = kn, d
		}
	}
	if best == "" || bestD > max(1, len(best)/4) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b in bytes, bounded
// for long keys (a key longer than 64 bytes is never "close").
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func quoteList(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = strconv.Quote(k)
	}
	return strings.Join(q, ", ")
}

// jsonFold folds a key the way encoding/json matches keys to struct fields
// (foldName): ASCII letters to upper case, other runes to the smallest rune
// of their simple case-folding orbit.
func jsonFold(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			continue
		}
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		b.WriteRune(r)
	}
	return b.String()
}

// joinPath appends a key to a JSON path.
func joinPath(path, key string) string {
	step := jsonKey(key)
	if path == "" && strings.HasPrefix(step, ".") {
		return step[1:]
	}
	return path + step
}
