package containerdverifier

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

var (
	dgst  = digest.FromString("manifest")
	other = digest.FromString("another manifest")
)

func TestParseArgs(t *testing.T) {
	mt := DescriptorMediaType
	cases := []struct {
		name string
		args []string
		want string // "" for success, else a part of the error
	}{
		{"containerd's invocation", []string{"-name", "127.0.0.1:5000/app:v1", "-digest", dgst.String(), "-stdin-media-type", mt}, ""},
		{"any order, = syntax, two dashes", []string{"--digest=" + dgst.String(), "-stdin-media-type=" + mt, "-name=r.example/app@" + dgst.String()}, ""},
		{"no arguments", nil, "-name is missing"},
		{"digest missing", []string{"-name", "r.example/app:v1", "-stdin-media-type", mt}, "-digest is missing"},
		{"media type missing", []string{"-name", "r.example/app:v1", "-digest", dgst.String()}, "-stdin-media-type is missing"},
		{"flag twice", []string{"-name", "a.example/x:1", "-name", "b.example/y:1", "-digest", dgst.String(), "-stdin-media-type", mt}, "-name is given 2 times"},
		{"unknown flag", []string{"-name", "r.example/app:v1", "-digest", dgst.String(), "-stdin-media-type", mt, "-policy", "x"}, "flag provided but not defined: -policy"},
		{"extra argument", []string{"-name", "r.example/app:v1", "-digest", dgst.String(), "-stdin-media-type", mt, "extra"}, `unexpected argument "extra"`},
		{"empty name", []string{"-name", "", "-digest", dgst.String(), "-stdin-media-type", mt}, "-name is empty"},
		{"bad digest", []string{"-name", "r.example/app:v1", "-digest", "sha256:xyz", "-stdin-media-type", mt}, `-digest "sha256:xyz"`},
		{"other media type", []string{"-name", "r.example/app:v1", "-digest", dgst.String(), "-stdin-media-type", "application/json"}, `-stdin-media-type "application/json": only application/vnd.oci.descriptor.v1+json`},
		{"value missing", []string{"-name", "r.example/app:v1", "-digest"}, "flag needs an argument: -digest"},
		{"control characters escaped", []string{"-name", "r.example/app:v1", "-digest", dgst.String(), "-stdin-media-type", mt, "\x1b[31mred"}, `unexpected argument "\x1b[31mred"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inv, err := ParseArgs(c.args)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if inv.Digest != dgst || inv.StdinMediaType != mt {
					t.Errorf("ParseArgs = %+v", inv)
				}
				return
			}
			if !errors.Is(err, ErrInvocation) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v: want ErrInvocation with %q", err, c.want)
			}
			if strings.ContainsRune(err.Error(), '\x1b') {
				t.Errorf("error %q holds a raw escape character", err)
			}
		})
	}
}

func TestIsProtocol(t *testing.T) {
	for args, want := range map[string]bool{
		"-name x":               true,
		"--name=x":              true,
		"-digest sha256:x":      true,
		"-stdin-media-type x":   true,
		"check":                 false,
		"-h":                    false,
		"--help":                false,
		"name":                  false,
		"version --output json": false,
		"":                      false,
	} {
		if got := IsProtocol(strings.Fields(args)); got != want {
			t.Errorf("IsProtocol(%q) = %v, want %v", args, got, want)
		}
	}
}

func TestReference(t *testing.T) {
	cases := []struct {
		name, want, err string
	}{
		{name: "127.0.0.1:5000/app:v1", want: "127.0.0.1:5000/app@" + dgst.String()},
		{name: "registry.example.com/team/app", want: "registry.example.com/team/app@" + dgst.String()},
		{name: "registry.example.com/app@" + dgst.String(), want: "registry.example.com/app@" + dgst.String()},
		{name: "registry.example.com/app:v1@" + dgst.String(), want: "registry.example.com/app@" + dgst.String()},
		{name: "localhost:5000/app:latest", want: "localhost:5000/app@" + dgst.String()},
		{name: "registry.example.com/app@" + other.String(), err: "names digest " + other.String() + ", but -digest is " + dgst.String()},
		{name: "app:v1", err: `-name "app:v1"`},
		{name: "registry.example.com/App:v1", err: `-name "registry.example.com/App:v1"`},
		{name: "http://registry.example.com/app", err: "-name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Invocation{Name: c.name, Digest: dgst}.Reference()
			if c.err != "" {
				if !errors.Is(err, ErrInvocation) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v: want ErrInvocation with %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("Reference() = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestReadDescriptor(t *testing.T) {
	desc := `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + dgst.String() + `","size":539}`
	cases := []struct {
		name, stdin, err string
		none             bool // accepted, no descriptor
	}{
		{name: "containerd's descriptor and newline", stdin: desc + "\n"},
		{name: "with annotations and platform", stdin: `{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"` + dgst.String() + `","size":1,"annotations":{"a":"b"},"platform":{"os":"linux","architecture":"amd64"}}`},
		{name: "empty stdin", stdin: "", none: true},
		{name: "white space only", stdin: " \n", none: true},
		{name: "other digest", stdin: `{"digest":"` + other.String() + `"}`, err: "names digest " + `"` + other.String() + `", but -digest is`},
		{name: "no digest", stdin: `{"size":1}`, err: `names digest ""`},
		{name: "not JSON", stdin: "hello", err: "not an OCI descriptor in JSON"},
		{name: "two documents", stdin: desc + desc, err: "data after the descriptor"},
		{name: "too large", stdin: desc + strings.Repeat(" ", MaxDescriptorBytes), err: "larger than 65536 bytes"},
		{name: "escape characters escaped", stdin: `{"digest":"sha256:\u001b[31m"}`, err: `names digest "sha256:\x1b[31m"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := ReadDescriptor(strings.NewReader(c.stdin), dgst)
			switch {
			case c.err != "":
				if !errors.Is(err, ErrInvocation) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v: want ErrInvocation with %q", err, c.err)
				}
			case err != nil:
				t.Fatal(err)
			case c.none != (d == nil):
				t.Errorf("descriptor %+v, want none: %v", d, c.none)
			case d != nil && d.Digest != dgst:
				t.Errorf("descriptor digest %s", d.Digest)
			}
		})
	}
	if d, err := ReadDescriptor(nil, dgst); d != nil || err != nil {
		t.Errorf("ReadDescriptor(nil) = %v, %v", d, err)
	}
}
