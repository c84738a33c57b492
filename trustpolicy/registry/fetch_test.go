package registry_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
)

// TestFetchSignature: one signature fetched by its manifest descriptor, as
// the Ratify verifier is handed it, under the rules of Signatures (size caps
// before any byte is read, content checked against its digest) and with the
// manifest's subject checked against the artifact.
func TestFetchSignature(t *testing.T) {
	f := newFake(t)
	art := f.addArtifact("demo/app", "v1")
	other := f.addArtifact("demo/app", "v2")
	good := f.addSignature("demo/app", art, mtCOSE, []byte("good envelope"))
	noSubject := f.putManifest("demo/app", "", ocispec.MediaTypeImageManifest, mustJSON(t, ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest, Config: ocispec.DescriptorEmptyJSON,
		Layers: []ocispec.Descriptor{f.putBlob(mtJWS, []byte("no subject"))},
	}))
	ofOther := f.addSignature("demo/app", other, mtCOSE, []byte("signs v2"))
	bigEnvelope := f.addSignature("demo/app", art, mtCOSE, []byte(strings.Repeat("x", 2000)))
	lying := f.addSignature("demo/app", art, mtCOSE, []byte("honest"))
	f.tamper = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/blobs/"+digest.FromString("honest").String()) {
			writeContent(w, "application/octet-stream", digest.FromString("honest"), []byte("forged"))
			return true
		}
		return false
	}
	c := newClient(t, registry.Options{MaxEnvelopeBytes: 1024, MaxManifestBytes: 4096})
	target := resolve(t, c, f.ref("demo/app@"+art.Digest.String()))
	big := good
	big.Size = 5000

	cases := []struct {
		name     string
		desc     ocispec.Descriptor
		envelope string
		is       error
		want     []string
	}{
		{name: "good", desc: good, envelope: "good envelope"},
		{name: "manifest without subject", desc: noSubject, envelope: "no subject"},
		{name: "signature of another artifact", desc: ofOther, is: trustpolicy.ErrSubjectMismatch,
			want: []string{"subject digest mismatch: signature manifest " + ofOther.Digest.String() + " names subject " + other.Digest.String() + ", but the artifact verified is " + art.Digest.String()}},
		{name: "manifest over the cap", desc: big, is: errdef.ErrSizeExceedsLimit, want: []string{"signature manifest " + good.Digest.String(), "manifest: size 5000 bytes exceeds the limit of 4096 bytes"}},
		{name: "envelope over the cap", desc: bigEnvelope, is: errdef.ErrSizeExceedsLimit, want: []string{"size 2000 bytes exceeds the limit of 1024 bytes"}},
		{name: "envelope content lies", desc: lying, is: content.ErrMismatchedDigest, want: []string{"fetching application/cose envelope"}},
		{name: "unknown manifest", desc: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("nope"), Size: 4}, want: []string{"fetching the manifest"}},
		{name: "not a manifest", desc: ocispec.Descriptor{MediaType: "application/json", Digest: good.Digest, Size: good.Size}, want: []string{"unsupported manifest media type"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := c.FetchSignature(t.Context(), target, tc.desc)
			if tc.envelope != "" {
				if err != nil || sig.Err != nil || string(sig.Envelope) != tc.envelope || sig.Descriptor.Digest != tc.desc.Digest {
					t.Fatalf("FetchSignature = %+v, %v; want envelope %q", sig, err, tc.envelope)
				}
				return
			}
			wantErr(t, err, tc.is, tc.want...)
			if sig.Err != err || sig.Envelope != nil {
				t.Errorf("Signature %+v: want Err = the error and no envelope", sig)
			}
		})
	}
	if f.requested("/blobs/" + digest.FromString(strings.Repeat("x", 2000)).String()) {
		t.Error("the oversized envelope was downloaded")
	}
	var se *registry.SignatureSubjectError
	_, err := c.FetchSignature(t.Context(), target, ofOther)
	if !errors.As(err, &se) || se.Manifest != ofOther.Digest || se.Subject != other.Digest || se.Artifact != art.Digest {
		t.Errorf("FetchSignature(signature of v2) = %v, want a *SignatureSubjectError naming the three digests", err)
	}
	if _, err := c.FetchSignature(t.Context(), registry.Target{Reference: "x", Repository: "x"}, good); !errors.Is(err, digest.ErrDigestInvalidFormat) {
		t.Errorf("FetchSignature(hand-made target) = %v", err)
	}
}

// TestSignaturesSubjectMismatch: a listed signature whose manifest names
// another subject is reported in its own Err, and the good one after it is
// still visited.
func TestSignaturesSubjectMismatch(t *testing.T) {
	f := newFake(t)
	art := f.addArtifact("demo/app", "v1")
	other := f.addArtifact("demo/app", "v2")
	layer := f.putBlob(mtCOSE, []byte("signs v2"))
	wrong := f.addReferrer("demo/app", art, ocispec.MediaTypeImageManifest, f.signatureManifest(other, layer))
	f.addSignature("demo/app", art, mtCOSE, []byte("good"))
	c := newClient(t, registry.Options{})
	sigs, err := collect(t, c, resolve(t, c, f.ref("demo/app:v1")))
	if err != nil || len(sigs) != 2 {
		t.Fatalf("got %d signatures, %v", len(sigs), err)
	}
	wantErr(t, sigs[0].Err, trustpolicy.ErrSubjectMismatch, wrong.Digest.String(), other.Digest.String())
	if sigs[1].Err != nil || string(sigs[1].Envelope) != "good" {
		t.Errorf("second signature %+v", sigs[1])
	}
}

func TestParseReference(t *testing.T) {
	d := digest.FromString("x")
	for _, tc := range []struct {
		in   string
		want registry.Reference
		err  string
	}{
		{in: "registry.example/app:v1", want: registry.Reference{Repository: "registry.example/app", Tag: "v1"}},
		{in: "registry.example/app@" + d.String(), want: registry.Reference{Repository: "registry.example/app", Digest: d}},
		{in: "127.0.0.1:5000/a/b:v1@" + d.String(), want: registry.Reference{Repository: "127.0.0.1:5000/a/b", Digest: d}},
		{in: "app:v1", err: "missing registry or repository"},
		{in: "app/x:v1", err: "is not a registry host"},
		{in: "registry.example/app", err: "no tag or digest"},
		{in: "registry.example/App:v1", err: `invalid repository "App"`},
		{in: "registry.example/app:v1\x1b[2J", err: `\x1b`},
	} {
		got, err := registry.ParseReference(tc.in)
		if tc.err != "" {
			if !errors.Is(err, registry.ErrInvalidReference) || !errors.Is(err, trustpolicy.ErrInvalidReference) || !strings.Contains(err.Error(), tc.err) || strings.ContainsRune(err.Error(), 0x1b) {
				t.Errorf("ParseReference(%q) error %v, want ErrInvalidReference mentioning %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseReference(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if want := ""; tc.want.Digest != "" {
			want = tc.want.Repository + "@" + d.String()
			if got.DigestReference() != want {
				t.Errorf("DigestReference() = %q, want %q", got.DigestReference(), want)
			}
		} else if got.DigestReference() != want {
			t.Errorf("DigestReference() of a tag = %q", got.DigestReference())
		}
	}
}

// TestWithMaxSignatures: a per-call limit on a shared client, which keeps
// its own.
func TestWithMaxSignatures(t *testing.T) {
	f := newFake(t)
	art := f.addArtifact("demo/app", "v1")
	for i := range 3 {
		f.addSignature("demo/app", art, mtJWS, []byte(fmt.Sprintf("envelope %d", i)))
	}
	c := newClient(t, registry.Options{})
	two, err := c.WithMaxSignatures(2)
	if err != nil {
		t.Fatal(err)
	}
	target := resolve(t, c, f.ref("demo/app:v1"))
	sigs, err := collect(t, two, target)
	wantErr(t, err, registry.ErrTooManySignatures, "more than 2 signatures")
	if len(sigs) != 2 {
		t.Errorf("limited client visited %d, want 2", len(sigs))
	}
	if sigs, err := collect(t, c, target); err != nil || len(sigs) != 3 {
		t.Errorf("the original client visited %d, %v; want 3 and nil", len(sigs), err)
	}
	if _, err := c.WithMaxSignatures(-1); err == nil {
		t.Error("WithMaxSignatures(-1) = nil error")
	}
}
