package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
)

// LayoutScheme starts a reference to an artifact in an OCI image layout:
// oci-layout:PATH[@DIGEST|:TAG].
const LayoutScheme = "oci-layout:"

// ErrInvalidLayout: the path is not an OCI image layout (a folder with
// oci-layout and index.json, or a tar archive of one), or the layout
// reference is malformed.
var ErrInvalidLayout = errors.New("invalid OCI image layout")

// LayoutReference is a parsed oci-layout:PATH[@DIGEST|:TAG].
type LayoutReference struct {
	// Path is the layout: a folder, or a tar archive.
	Path string
	// Tag is the tag inside the layout (its index.json's
	// org.opencontainers.image.ref.name), or "".
	Tag string
	// Digest is the manifest digest, or "".
	Digest digest.Digest
}

// Reference is what a layout Client resolves for r under the trust policy
// scope (REGISTRY/REPOSITORY): scope@DIGEST or scope:TAG, as notation
// verify --oci-layout --scope does.
func (r LayoutReference) Reference(scope string) string {
	if r.Digest != "" {
		return scope + "@" + r.Digest.String()
	}
	return scope + ":" + r.Tag
}

// String is the reference as written: oci-layout:PATH@DIGEST or :TAG.
func (r LayoutReference) String() string {
	switch {
	case r.Digest != "":
		return LayoutScheme + r.Path + "@" + r.Digest.String()
	case r.Tag != "":
		return LayoutScheme + r.Path + ":" + r.Tag
	}
	return LayoutScheme + r.Path
}

// IsLayoutReference reports whether ref names an OCI image layout.
func IsLayoutReference(ref string) bool { return strings.HasPrefix(ref, LayoutScheme) }

// tagRE is the OCI distribution rule for a tag.
var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// ParseLayoutReference parses oci-layout:PATH@DIGEST, oci-layout:PATH:TAG
// or oci-layout:PATH (no tag or digest: the caller decides, for example
// every tag). As in notation, the last "@" starts a digest; otherwise a
// last ":" followed by a valid tag (no "/") starts a tag. Errors wrap
// ErrInvalidLayout.
func ParseLayoutReference(ref string) (LayoutReference, error) {
	raw, ok := strings.CutPrefix(ref, LayoutScheme)
	if !ok {
		return LayoutReference{}, sanitize(fmt.Errorf("%w: %q does not start with %q", ErrInvalidLayout, ref, LayoutScheme))
	}
	var out LayoutReference
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		d := digest.Digest(raw[i+1:])
		if err := d.Validate(); err != nil {
			return LayoutReference{}, sanitize(fmt.Errorf("%w: %q: the digest after @ is invalid: %w", ErrInvalidLayout, ref, err))
		}
		out.Path, out.Digest = raw[:i], d
	} else if i := strings.LastIndex(raw, ":"); i >= 0 && tagRE.MatchString(raw[i+1:]) {
		out.Path, out.Tag = raw[:i], raw[i+1:]
	} else {
		out.Path = raw
	}
	if out.Path == "" {
		return LayoutReference{}, sanitize(fmt.Errorf("%w: %q names no path; want oci-layout:PATH[@DIGEST|:TAG]", ErrInvalidLayout, ref))
	}
	return out, nil
}

// NewLayout returns a Client that reads the OCI image layout at path (a
// folder, or a tar archive of one, as oras copy --to-oci-layout and
// notation write them) instead of a registry: it never opens a network
// connection. Its Resolve, Signatures and FetchSignature take references
// REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@DIGEST whose repository
// is only the trust policy scope (as notation verify --oci-layout
// --scope); the tag or digest is looked up in the layout. Signatures are
// the layout's manifests whose subject is the artifact (oras-go's
// predecessors index of the layout), under the same rules and caps as a
// registry's. The layout is read when NewLayout is called; errors wrap
// ErrInvalidLayout.
func NewLayout(ctx context.Context, path string, opts Options) (*Client, error) {
	c, err := New(opts)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, sanitize(fmt.Errorf("%w %s: %w", ErrInvalidLayout, path, err))
	}
	var store *oci.ReadOnlyStore
	if st.IsDir() {
		store, err = oci.NewFromFS(ctx, os.DirFS(path))
	} else if st.Mode().IsRegular() {
		var tfs *tarFS
		if tfs, err = newTarFS(path); err == nil {
			store, err = oci.NewFromFS(ctx, tfs)
		}
	} else {
		err = errors.New("neither a folder nor a regular file")
	}
	if err != nil {
		return nil, sanitize(fmt.Errorf("%w %s: %w (want a folder with oci-layout and index.json, or a tar archive of one)", ErrInvalidLayout, path, err))
	}
	c.layout = &layoutSource{path: path, store: store, maxManifestBytes: c.maxManifestBytes}
	return c, nil
}

// layoutSource is an OCI image layout opened read-only.
type layoutSource struct {
	path             string
	store            *oci.ReadOnlyStore
	maxManifestBytes int64
}

func (l *layoutSource) resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	d, err := l.store.Resolve(ctx, reference)
	if errors.Is(err, errdef.ErrNotFound) {
		what := fmt.Sprintf("tag %q", reference)
		if _, derr := digest.Parse(reference); derr == nil {
			what = "manifest " + reference
		}
		return ocispec.Descriptor{}, fmt.Errorf("%w: the OCI layout %s has no %s", ErrNotFound, l.path, what)
	}
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("OCI layout %s: %w", l.path, err)
	}
	d = ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
	if d.MediaType == "" || d.MediaType == "application/octet-stream" {
		// A manifest that index.json does not list (the platform manifest
		// of an index) resolves as a plain blob: its media type is in its
		// content.
		mt, err := l.mediaType(ctx, d)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("OCI layout %s: %s: %w", l.path, d.Digest, err)
		}
		d.MediaType = mt
	}
	return d, nil
}

// mediaType reads the mediaType field of the manifest d.
func (l *layoutSource) mediaType(ctx context.Context, d ocispec.Descriptor) (string, error) {
	if err := checkSize(d, l.maxManifestBytes); err != nil {
		return "", fmt.Errorf("not a manifest: %w", err)
	}
	data, err := content.FetchAll(ctx, l.store, d)
	if err != nil {
		return "", err
	}
	var m struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(data, &m); err != nil || m.MediaType == "" {
		return "", errors.New("not a manifest with a mediaType")
	}
	return m.MediaType, nil
}

func (l *layoutSource) manifests() content.Fetcher { return l.store }
func (l *layoutSource) blobs() content.Fetcher     { return l.store }

func (l *layoutSource) referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error {
	list, err := registry.Referrers(ctx, l.store, desc, artifactType)
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", l.path, err)
	}
	return fn(list)
}

// tags lists the layout's tags in ascending order.
func (l *layoutSource) tags(ctx context.Context) ([]string, error) {
	var out []string
	err := l.store.Tags(ctx, "", func(tags []string) error {
		out = append(out, tags...)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("OCI layout %s: %w", l.path, err)
	}
	return out, nil
}
