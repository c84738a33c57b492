package registry

import (
	"fmt"

	"github.com/opencontainers/go-digest"
)

// Reference is an artifact reference checked as [Client.Resolve] checks it,
// without any network.
type Reference struct {
	// Repository is REGISTRY/REPOSITORY, what trust policy registryScopes
	// name.
	Repository string
	// Tag is the tag of a reference that names no digest.
	Tag string
	// Digest is the digest the reference names, "" for a tag. A reference
	// that names both (REPOSITORY:TAG@DIGEST) names the digest: the tag is
	// ignored, as Resolve and notation do.
	Digest digest.Digest
}

// DigestReference is REGISTRY/REPOSITORY@DIGEST, or "" when r names no
// digest.
func (r Reference) DigestReference() string {
	if r.Digest == "" {
		return ""
	}
	return r.Repository + "@" + r.Digest.String()
}

// ParseReference parses ref, REGISTRY/REPOSITORY:TAG or
// REGISTRY/REPOSITORY@DIGEST, by the rules of [Client.Resolve]: a registry
// host is required, and a tag or a digest. Errors wrap
// [ErrInvalidReference].
func ParseReference(ref string) (Reference, error) {
	r, err := parseReference(ref)
	if err != nil {
		return Reference{}, sanitize(err)
	}
	out := Reference{Repository: r.Registry + "/" + r.Repository}
	if d, err := r.Digest(); err == nil {
		out.Digest = d
	} else {
		out.Tag = r.Reference
	}
	return out, nil
}

// WithMaxSignatures returns a Client that shares c's HTTP connections,
// credentials and tokens and processes at most n signature manifests per
// [Client.Signatures] call (0: DefaultMaxSignatures), for a caller whose
// limit differs per request. c is unchanged.
func (c *Client) WithMaxSignatures(n int) (*Client, error) {
	if n < 0 {
		return nil, fmt.Errorf("registry: MaxSignatures must be positive, got %d", n)
	}
	cp := *c
	cp.maxSignatures = orDefault(n, DefaultMaxSignatures)
	return &cp, nil
}
