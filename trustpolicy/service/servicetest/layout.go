package servicetest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"
)

// Layout is an OCI image layout in a folder, written with oras-go's OCI
// store as oras copy --to-oci-layout writes one: every manifest listed in
// index.json (tagged ones with org.opencontainers.image.ref.name), and
// signatures as manifests whose subject is the artifact.
type Layout struct {
	// Dir is the layout's folder.
	Dir   string
	store *oci.Store
}

// NewLayout creates an empty layout in dir.
func NewLayout(t testing.TB, dir string) *Layout {
	t.Helper()
	s, err := oci.NewWithContext(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return &Layout{Dir: dir, store: s}
}

// PutBlob stores data and returns its descriptor.
func (l *Layout) PutBlob(t testing.TB, mediaType string, data []byte) ocispec.Descriptor {
	t.Helper()
	d := content.NewDescriptorFromBytes(mediaType, data)
	if err := l.store.Push(context.Background(), d, bytes.NewReader(data)); err != nil && !isExists(err) {
		t.Fatal(err)
	}
	return d
}

// PutManifest stores data as a manifest of mediaType, tagged tag unless
// tag is "".
func (l *Layout) PutManifest(t testing.TB, tag, mediaType string, data []byte) ocispec.Descriptor {
	t.Helper()
	d := l.PutBlob(t, mediaType, data)
	if tag != "" {
		if err := l.store.Tag(context.Background(), d, tag); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// AddSignature stores envelope (of mediaType) and a Notary Project
// signature manifest whose subject is subject, and returns the manifest's
// descriptor.
func (l *Layout) AddSignature(t testing.TB, subject ocispec.Descriptor, mediaType string, envelope []byte) ocispec.Descriptor {
	t.Helper()
	l.PutBlob(t, ocispec.DescriptorEmptyJSON.MediaType, ocispec.DescriptorEmptyJSON.Data)
	layer := l.PutBlob(t, mediaType, envelope)
	d := l.PutManifest(t, "", ocispec.MediaTypeImageManifest, SignatureManifest(&subject, layer))
	d.ArtifactType = ArtifactTypeNotation
	return d
}

// Tar writes the layout as a tar archive at path.
func (l *Layout) Tar(t testing.TB, path string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(l.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == l.Dir {
			return err
		}
		rel, err := filepath.Rel(l.Dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = os.WriteFile(path, buf.Bytes(), 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// ImageManifest is a small OCI image manifest whose one layer holds
// content (stored in put's blob store): an artifact to sign.
func ImageManifest(put func(mediaType string, data []byte) ocispec.Descriptor, content []byte) []byte {
	cfg := put(ocispec.DescriptorEmptyJSON.MediaType, ocispec.DescriptorEmptyJSON.Data)
	layer := put("application/vnd.test.file", content)
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.test.artifact",
		Config:       cfg,
		Layers:       []ocispec.Descriptor{layer},
	}
	m.SchemaVersion = 2
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // a manifest of descriptors always encodes
	}
	return b
}

// ImageIndex is an OCI image index of manifests.
func ImageIndex(manifests []ocispec.Descriptor) []byte {
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
	idx.SchemaVersion = 2
	b, err := json.Marshal(idx)
	if err != nil {
		panic(err) // an index of descriptors always encodes
	}
	return b
}

func isExists(err error) bool { return errors.Is(err, errdef.ErrAlreadyExists) }
