package registry_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

func TestParseLayoutReference(t *testing.T) {
	d := digest.FromString("x")
	cases := []struct {
		in   string
		want registry.LayoutReference
		err  bool
	}{
		{"oci-layout:/tmp/l@" + d.String(), registry.LayoutReference{Path: "/tmp/l", Digest: d}, false},
		{"oci-layout:/tmp/l:v1.0", registry.LayoutReference{Path: "/tmp/l", Tag: "v1.0"}, false},
		{"oci-layout:rel/l.tar:latest", registry.LayoutReference{Path: "rel/l.tar", Tag: "latest"}, false},
		{"oci-layout:/tmp/l", registry.LayoutReference{Path: "/tmp/l"}, false},
		// A colon followed by a path is part of the path.
		{"oci-layout:/tmp/a:b/c", registry.LayoutReference{Path: "/tmp/a:b/c"}, false},
		{"oci-layout:/tmp/l@sha256:nothex", registry.LayoutReference{}, true},
		{"oci-layout:", registry.LayoutReference{}, true},
		{"oci-layout::v1", registry.LayoutReference{}, true},
		{"/tmp/l:v1", registry.LayoutReference{}, true},
	}
	for _, c := range cases {
		got, err := registry.ParseLayoutReference(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseLayoutReference(%q) = %+v, %v; want %+v, error %v", c.in, got, err, c.want, c.err)
		}
		if err != nil && !errors.Is(err, registry.ErrInvalidLayout) {
			t.Errorf("%q: error %v does not wrap ErrInvalidLayout", c.in, err)
		}
		if err == nil && got.String() != c.in {
			t.Errorf("String() = %q, want %q", got.String(), c.in)
		}
	}
	if r := (registry.LayoutReference{Path: "p", Digest: d}); r.Reference("r.example/app") != "r.example/app@"+d.String() {
		t.Errorf("Reference = %q", r.Reference("r.example/app"))
	}
}

// layoutWorld is a layout with a signed artifact tagged v1, an unsigned
// one tagged v2, and an index tagged multi whose two platform manifests
// are not listed in index.json; and the same layout as a tar.
type layoutWorld struct {
	dir, tar         string
	signed, unsigned ocispec.Descriptor
	index, platform  ocispec.Descriptor
	sig              ocispec.Descriptor
}

func newLayoutWorld(t *testing.T) *layoutWorld {
	t.Helper()
	w := &layoutWorld{dir: filepath.Join(t.TempDir(), "layout")}
	l := servicetest.NewLayout(t, w.dir)
	put := func(mt string, data []byte) ocispec.Descriptor { return l.PutBlob(t, mt, data) }
	w.signed = l.PutManifest(t, "v1", ocispec.MediaTypeImageManifest, servicetest.ImageManifest(put, []byte("signed")))
	w.unsigned = l.PutManifest(t, "v2", ocispec.MediaTypeImageManifest, servicetest.ImageManifest(put, []byte("unsigned")))
	w.sig = l.AddSignature(t, w.signed, mtCOSE, []byte("envelope bytes"))
	w.platform = put(ocispec.MediaTypeImageManifest, servicetest.ImageManifest(put, []byte("amd64")))
	w.platform.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	arm := put(ocispec.MediaTypeImageManifest, servicetest.ImageManifest(put, []byte("arm64")))
	arm.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	w.index = l.PutManifest(t, "multi", ocispec.MediaTypeImageIndex, servicetest.ImageIndex([]ocispec.Descriptor{w.platform, arm}))
	w.tar = filepath.Join(t.TempDir(), "layout.tar")
	l.Tar(t, w.tar)
	return w
}

func TestLayout(t *testing.T) {
	w := newLayoutWorld(t)
	for _, path := range []string{w.dir, w.tar} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			c, err := registry.NewLayout(t.Context(), path, registry.Options{})
			if err != nil {
				t.Fatal(err)
			}
			const scope = "registry.example/app"
			tg := resolve(t, c, scope+":v1")
			if tg.Descriptor.Digest != w.signed.Digest || tg.Descriptor.MediaType != ocispec.MediaTypeImageManifest ||
				tg.Reference != scope+"@"+w.signed.Digest.String() || tg.Tag != "v1" || tg.Repository != scope {
				t.Errorf("Resolve(v1) = %+v", tg)
			}
			if byDigest := resolve(t, c, scope+"@"+w.signed.Digest.String()); byDigest.Descriptor.Size != w.signed.Size || byDigest.Tag != "" {
				t.Errorf("Resolve(digest) = %+v", byDigest)
			}
			// A platform manifest is not in index.json: its media type
			// comes from its content.
			if p := resolve(t, c, scope+"@"+w.platform.Digest.String()); p.Descriptor.MediaType != ocispec.MediaTypeImageManifest {
				t.Errorf("platform manifest resolved as %+v", p.Descriptor)
			}
			sigs, err := collect(t, c, tg)
			if err != nil || len(sigs) != 1 || sigs[0].Err != nil || string(sigs[0].Envelope) != "envelope bytes" || sigs[0].Descriptor.Digest != w.sig.Digest {
				t.Fatalf("signatures %+v, %v", sigs, err)
			}
			if _, err := collect(t, c, resolve(t, c, scope+":v2")); !errors.Is(err, registry.ErrNoSignatures) {
				t.Errorf("unsigned artifact: %v, want ErrNoSignatures", err)
			}
			if _, err := c.FetchSignature(t.Context(), tg, w.sig); err != nil {
				t.Errorf("FetchSignature: %v", err)
			}
			_, err = c.Resolve(t.Context(), scope+":nope")
			wantErr(t, err, registry.ErrNotFound, path, `tag "nope"`)
			tags, err := c.Tags(t.Context(), scope)
			if err != nil || strings.Join(tags, ",") != "multi,v1,v2" {
				t.Errorf("Tags = %q, %v", tags, err)
			}
			idx := resolve(t, c, scope+":multi")
			ms, err := c.IndexManifests(t.Context(), idx)
			if err != nil || len(ms) != 2 || ms[0].Digest != w.platform.Digest || ms[1].Platform.Architecture != "arm64" {
				t.Errorf("IndexManifests = %+v, %v", ms, err)
			}
			if _, err := c.Repository(scope); !errors.Is(err, registry.ErrNoLayout) {
				t.Errorf("Repository of a layout client: %v", err)
			}
		})
	}
}

func TestNewLayoutRejects(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.tar")
	if err := os.WriteFile(garbage, []byte("\x1b[2Jnot a tar"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	for _, p := range []string{filepath.Join(dir, "missing"), garbage, empty} {
		_, err := registry.NewLayout(t.Context(), p, registry.Options{})
		wantErr(t, err, registry.ErrInvalidLayout, p)
		if strings.ContainsRune(err.Error(), 0x1b) {
			t.Errorf("unescaped control character in %q", err)
		}
	}
}

func TestIndexManifestsRejects(t *testing.T) {
	f := newFake(t)
	c := newClient(t, registry.Options{})
	art := f.addArtifact("app", "v1")
	_, err := c.IndexManifests(t.Context(), resolve(t, c, f.ref("app:v1")))
	wantErr(t, err, nil, "not an image index")
	bad := f.putManifest("app", "bad", ocispec.MediaTypeImageIndex, []byte(`{"manifests":[{"digest":"sha256:zz"}]}`))
	_ = art
	_, err = c.IndexManifests(t.Context(), resolve(t, c, f.ref("app@"+bad.Digest.String())))
	wantErr(t, err, nil, "manifests[0]: invalid digest")
}

// TestWithCache: a second pass through the cache makes no request, and
// cached content is still checked against its descriptor.
func TestWithCache(t *testing.T) {
	f := newFake(t)
	subject := f.addArtifact("app", "v1")
	f.addSignature("app", subject, mtCOSE, []byte("envelope"))
	c := newClient(t, registry.Options{}).WithCache()
	pass := func() registry.Target {
		tg := resolve(t, c, f.ref("app:v1"))
		sigs, err := collect(t, c, tg)
		if err != nil || len(sigs) != 1 || sigs[0].Err != nil {
			t.Fatalf("signatures %+v, %v", sigs, err)
		}
		return tg
	}
	tg := pass()
	n := len(f.requestLog())
	pass()
	if m := len(f.requestLog()); m != n {
		t.Errorf("second pass made %d requests: %q", m-n, f.requestLog()[n:])
	}
	// A descriptor whose size lies is caught on the cached bytes too.
	sigs, _ := collect(t, c, tg)
	lie := sigs[0].Descriptor
	lie.Size++
	if _, err := c.FetchSignature(t.Context(), tg, lie); err == nil {
		t.Error("a wrong size passed through the cache")
	}
	// Another client's cache is its own.
	if d := newClient(t, registry.Options{}).WithCache(); d == c {
		t.Error("WithCache returned the same client")
	}
}

func TestTags(t *testing.T) {
	w := servicetest.NewWritableRegistry(t)
	for _, tag := range []string{"b", "a", "c"} {
		w.PutManifest("app", tag, ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"t":"`+tag+`"}`))
	}
	c := newClient(t, registry.Options{})
	tags, err := c.Tags(t.Context(), w.Ref("app"))
	if err != nil || strings.Join(tags, ",") != "a,b,c" {
		t.Errorf("Tags = %q, %v", tags, err)
	}
	if _, err := c.Tags(t.Context(), "app"); !errors.Is(err, registry.ErrInvalidReference) {
		t.Errorf("Tags without a registry host: %v", err)
	}
	if _, err := c.Repository(w.Ref("app:v1")); err != nil {
		t.Errorf("Repository: %v", err)
	}
}

// TestLayoutTarNames: a tar whose members are named ./oci-layout and so on
// (tar -cf l.tar -C layout .) opens like one without the prefix; members
// that would leave the archive (../, absolute) are ignored.
func TestLayoutTarNames(t *testing.T) {
	w := newLayoutWorld(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	add("../index.json", []byte(`{"manifests":[]}`))
	add("/oci-layout", []byte(`garbage`))
	err := filepath.WalkDir(w.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(w.dir, p)
		data, err := os.ReadFile(p)
		if err == nil {
			add("./"+filepath.ToSlash(rel), data)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "dot.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := registry.NewLayout(t.Context(), p, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tg := resolve(t, c, "registry.example/app:v1")
	if sigs, err := collect(t, c, tg); err != nil || len(sigs) != 1 || sigs[0].Err != nil {
		t.Errorf("signatures in a ./ tar: %+v, %v", sigs, err)
	}
}
