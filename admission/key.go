package admission

import (
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
)

// MaxKeyLen bounds one key. An image reference is at most 255 characters
// of name plus a tag or digest; 1024 leaves room for the prefix.
const MaxKeyLen = 1024

// Docker Hub's names, as containerd and distribution/reference normalise
// them.
const (
	dockerHub       = "docker.io"
	legacyDockerHub = "index.docker.io"
	officialPrefix  = "library/"
	defaultTag      = "latest"
)

// ErrInvalidKey is wrapped by every *KeyError.
var ErrInvalidKey = errors.New("not an image reference")

// KeyError is a key that is not an image reference.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return fmt.Sprintf("key %q: %v", e.Key, e.Err) }

// Unwrap returns the underlying error.
func (e *KeyError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrInvalidKey) true.
func (e *KeyError) Is(target error) bool { return target == ErrInvalidKey }

// Key is one requested key, parsed.
type Key struct {
	// Namespace is the Kubernetes namespace of a "[NAMESPACE]IMAGE" key
	// (the prefix Ratify's templates add), "" without one. It does not
	// change the verification.
	Namespace string
	// Image is the key without the namespace prefix, as the Pod carries it.
	Image string
	// Reference is Image normalised as containerd normalises it
	// (reference.ParseDockerRef): Docker Hub's short names get docker.io
	// and library/ ("nginx" is docker.io/library/nginx:latest), a name
	// without tag or digest gets :latest, and a name with both a tag and a
	// digest keeps only the digest (that is what is pulled).
	Reference string
	// Digest is the digest Reference names, "" for a tag.
	Digest digest.Digest
}

// ParseKey parses key: an optional "[NAMESPACE]" prefix (a DNS-1123
// label), then an image reference as a Pod spec carries it. Errors are
// *KeyError.
func ParseKey(key string) (Key, error) {
	k, _, err := normalizeKey(key)
	if err != nil {
		return Key{}, err
	}
	parsed, err := registry.ParseReference(k.Reference)
	if err != nil {
		return Key{}, &KeyError{Key: key, Err: err}
	}
	k.Digest = parsed.Digest
	return k, nil
}

// normalizeKey is ParseKey without the final check of the reference's
// grammar (registry.ParseReference): Reference is set, Digest is not;
// byDigest reports whether Reference names a digest. A reference that a
// full ParseKey accepted before normalizes to the same string, which is
// how a cached verdict is found without parsing again.
func normalizeKey(key string) (k Key, byDigest bool, err error) {
	k = Key{Image: key}
	fail := func(format string, a ...any) (Key, bool, error) {
		return Key{}, false, &KeyError{Key: key, Err: fmt.Errorf(format, a...)}
	}
	if len(key) > MaxKeyLen {
		return fail("longer than %d bytes", MaxKeyLen)
	}
	if strings.HasPrefix(key, "[") {
		ns, rest, ok := strings.Cut(key[1:], "]")
		if !ok {
			return fail("a namespace prefix is [NAMESPACE] with a closing bracket")
		}
		if !dnsLabel(ns) {
			return fail("namespace prefix %q is not a Kubernetes namespace name (lowercase letters, digits and '-', at most 63)", ns)
		}
		k.Namespace, k.Image = ns, rest
	}
	ref, err := normalize(k.Image)
	if err != nil {
		return fail("%v", err)
	}
	k.Reference = ref
	return k, strings.Contains(ref, "@"), nil
}

// normalize is containerd's reference.ParseDockerRef, on the string level.
func normalize(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty image reference")
	}
	if isHex64(s) {
		return "", errors.New("a 64-character hexadecimal string is an image ID, not a reference")
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r > 0x7e {
			return "", errors.New("image references are printable ASCII without spaces")
		}
	}
	domain, remainder := splitDockerDomain(s)
	name, dgst, hasDigest := strings.Cut(remainder, "@")
	tag := ""
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		name, tag = name[:i], name[i+1:]
		if tag == "" {
			return "", errors.New("empty tag after ':'")
		}
	}
	if strings.ToLower(name) != name {
		return "", fmt.Errorf("repository name %q must be lowercase", name)
	}
	if isHex64(name) {
		return "", errors.New("a 64-character hexadecimal repository name is an image ID, not a reference")
	}
	ref := domain + "/" + name
	switch {
	case hasDigest:
		if !isSHA256(dgst) {
			if _, err := digest.Parse(dgst); err != nil {
				return "", fmt.Errorf("digest %q: %v", dgst, err)
			}
		}
		// A tag beside a digest is ignored: the digest is what is pulled.
		return ref + "@" + dgst, nil
	case tag != "":
		return ref + ":" + tag, nil
	default:
		return ref + ":" + defaultTag, nil
	}
}

// splitDockerDomain is distribution/reference's: the first component is
// the registry when it has a '.' or ':', is "localhost", or has an
// uppercase letter; otherwise the registry is Docker Hub, whose
// single-component names live under library/.
func splitDockerDomain(name string) (domain, remainder string) {
	i := strings.IndexByte(name, '/')
	if i == -1 || (!strings.ContainsAny(name[:i], ".:") && name[:i] != "localhost" && strings.ToLower(name[:i]) == name[:i]) {
		domain, remainder = dockerHub, name
	} else {
		domain, remainder = name[:i], name[i+1:]
	}
	if domain == legacyDockerHub {
		domain = dockerHub
	}
	if domain == dockerHub && !strings.ContainsRune(remainder, '/') {
		remainder = officialPrefix + remainder
	}
	return domain, remainder
}

// isSHA256 reports whether s is "sha256:" and 64 lowercase hex digits, a
// valid digest (digest.Parse decides the others).
func isSHA256(s string) bool {
	h, ok := strings.CutPrefix(s, "sha256:")
	return ok && isHex64(h)
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// dnsLabel reports whether s is an RFC 1123 label, as Kubernetes namespace
// names are.
func dnsLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
