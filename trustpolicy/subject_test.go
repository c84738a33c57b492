package trustpolicy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

func TestCheckSubject(t *testing.T) {
	d := digest.FromString("artifact")
	other := digest.FromString("other")
	zero := digest.Digest("sha256:" + strings.Repeat("0", 64))
	good := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: d, Size: 10}
	with := func(f func(*ocispec.Descriptor)) ocispec.Descriptor { c := good; f(&c); return c }
	cases := []struct {
		name    string
		ref     string
		desc    ocispec.Descriptor
		want    error
		mention []string
		// digestRef and tag are SubjectReference's answer when want is nil.
		digestRef, tag string
	}{
		{"digest agrees", "registry.example/app@" + d.String(), good, nil, nil, "registry.example/app@" + d.String(), ""},
		{"tag and digest: the digest counts", "registry.example/app:v1@" + d.String(), good, nil, nil, "registry.example/app@" + d.String(), ""},
		{"tag resolves to the descriptor", "registry.example/app:v1", good, nil, nil, "registry.example/app@" + d.String(), "v1"},
		{"port and tag", "127.0.0.1:5000/app:v1", good, nil, nil, "127.0.0.1:5000/app@" + d.String(), "v1"},
		{"other digest", "registry.example/app@" + other.String(), good, trustpolicy.ErrSubjectMismatch, []string{d.String(), other.String()}, "", ""},
		{"all-zero reference", "registry.example/app@" + zero.String(), good, trustpolicy.ErrSubjectMismatch, []string{zero.String(), d.String()}, "", ""},
		{"all-zero descriptor", "registry.example/app@" + zero.String(), with(func(x *ocispec.Descriptor) { x.Digest = zero }), trustpolicy.ErrInvalidDescriptor, []string{"all zeros"}, "", ""},
		{"malformed descriptor digest", "registry.example/app:v1", with(func(x *ocispec.Descriptor) { x.Digest = "sha256:abc" }), trustpolicy.ErrInvalidDescriptor, []string{"sha256:abc"}, "", ""},
		{"upper-case hex", "registry.example/app:v1", with(func(x *ocispec.Descriptor) { x.Digest = digest.Digest(strings.ToUpper(d.String())) }), trustpolicy.ErrInvalidDescriptor, nil, "", ""},
		{"unknown algorithm", "registry.example/app:v1", with(func(x *ocispec.Descriptor) { x.Digest = "md5:d41d8cd98f00b204e9800998ecf8427e" }), trustpolicy.ErrInvalidDescriptor, nil, "", ""},
		{"no media type", "registry.example/app:v1", with(func(x *ocispec.Descriptor) { x.MediaType = "" }), trustpolicy.ErrInvalidDescriptor, []string{"mediaType"}, "", ""},
		{"negative size", "registry.example/app:v1", with(func(x *ocispec.Descriptor) { x.Size = -1 }), trustpolicy.ErrInvalidDescriptor, []string{"-1"}, "", ""},
		{"no digest", "registry.example/app:v1", with(func(x *ocispec.Descriptor) { x.Digest = "" }), trustpolicy.ErrInvalidDescriptor, []string{"digest"}, "", ""},
		{"malformed reference digest", "registry.example/app@sha256:xyz", good, trustpolicy.ErrInvalidReference, []string{"sha256:xyz"}, "", ""},
		{"bad tag", "registry.example/app:-x", good, trustpolicy.ErrInvalidReference, []string{"-x"}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := trustpolicy.CheckSubject(c.ref, c.desc)
			if c.want == nil {
				if err != nil {
					t.Fatalf("CheckSubject = %v", err)
				}
				ref, tag, err := trustpolicy.SubjectReference(c.ref, c.desc)
				if err != nil || ref != c.digestRef || tag != c.tag {
					t.Errorf("SubjectReference = %q, %q, %v; want %q, %q", ref, tag, err, c.digestRef, c.tag)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("CheckSubject = %v, want %v", err, c.want)
			}
			for _, m := range c.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if _, _, serr := trustpolicy.SubjectReference(c.ref, c.desc); !errors.Is(serr, c.want) {
				t.Errorf("SubjectReference error = %v", serr)
			}
		})
	}
	var sm *trustpolicy.SubjectMismatchError
	err := trustpolicy.CheckSubject("registry.example/app@"+other.String(), good)
	if !errors.As(err, &sm) || sm.ReferenceDigest != other || sm.DescriptorDigest != d || sm.Reference != "registry.example/app@"+other.String() {
		t.Errorf("mismatch error %#v", err)
	}
	// A reference with neither tag nor digest names no artifact.
	if _, _, err := trustpolicy.SubjectReference("registry.example/app", good); !errors.Is(err, trustpolicy.ErrInvalidReference) {
		t.Errorf("SubjectReference(no tag or digest) = %v", err)
	}
}
