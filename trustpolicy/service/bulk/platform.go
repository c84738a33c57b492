package bulk

import (
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Platforms selects the platform manifests of an image index to check:
// every one, or those named. Create it with ParsePlatforms.
type Platforms struct {
	all   bool
	names []platformName
}

type platformName struct{ os, arch, variant string }

func (p platformName) String() string {
	s := p.os + "/" + p.arch
	if p.variant != "" {
		s += "/" + p.variant
	}
	return s
}

// ParsePlatforms parses "all" or a comma-separated list of
// os/architecture[/variant] (for example linux/amd64,linux/arm64/v8).
func ParsePlatforms(s string) (*Platforms, error) {
	if s == "all" {
		return &Platforms{all: true}, nil
	}
	p := &Platforms{}
	for _, item := range strings.Split(s, ",") {
		parts := strings.Split(strings.TrimSpace(item), "/")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || (len(parts) == 3 && parts[2] == "") {
			return nil, fmt.Errorf("%w: platform %q: want all, or os/architecture[/variant] separated by commas", ErrBadInput, item)
		}
		n := platformName{os: parts[0], arch: parts[1]}
		if len(parts) == 3 {
			n.variant = parts[2]
		}
		p.names = append(p.names, n)
	}
	return p, nil
}

// PlatformString is os/architecture[/variant] of p ("unknown" when nil).
func PlatformString(p *ocispec.Platform) string {
	if p == nil {
		return "unknown"
	}
	return platformName{os: p.OS, arch: p.Architecture, variant: p.Variant}.String()
}

// isPlatform tells a platform manifest from the other entries of an index
// (buildx lists attestation manifests with platform unknown/unknown).
func isPlatform(p *ocispec.Platform) bool {
	return p != nil && p.OS != "" && p.Architecture != "" && p.OS != "unknown" && p.Architecture != "unknown"
}

// Select returns the manifests of an index that p selects, in the index's
// order, and the platforms p names that the index does not list.
func (p *Platforms) Select(manifests []ocispec.Descriptor) (selected []ocispec.Descriptor, missing []string) {
	if p.all {
		for _, m := range manifests {
			if isPlatform(m.Platform) {
				selected = append(selected, m)
			}
		}
		return selected, nil
	}
	found := make([]bool, len(p.names))
	for _, m := range manifests {
		if !isPlatform(m.Platform) {
			continue
		}
		hit := false
		for i, n := range p.names {
			if n.os == m.Platform.OS && n.arch == m.Platform.Architecture && (n.variant == "" || n.variant == m.Platform.Variant) {
				found[i], hit = true, true
			}
		}
		if hit {
			selected = append(selected, m)
		}
	}
	for i, n := range p.names {
		if !found[i] {
			missing = append(missing, n.String())
		}
	}
	return selected, missing
}
