package bulk_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/bulk"
)

func checkRef(ref string) error {
	if registry.IsLayoutReference(ref) {
		_, err := registry.ParseLayoutReference(ref)
		return err
	}
	_, err := registry.ParseReference(ref)
	return err
}

func TestReadList(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string // references
		line     int      // of the LineError, 0 for none
		is       error
	}{
		{"blank lines and comments", "\n# release 1.2\n  r.example/a:v1  \n\n\t# indented comment\nr.example/b@sha256:" + strings.Repeat("a", 64) + "\r\noci-layout:/tmp/l:v1\n", []string{"r.example/a:v1", "r.example/b@sha256:" + strings.Repeat("a", 64), "oci-layout:/tmp/l:v1"}, 0, nil},
		{"empty", "", nil, 0, nil},
		{"bad reference", "r.example/a:v1\n\nnot-a-reference!\n", nil, 3, registry.ErrInvalidReference},
		{"no registry host", "# x\napp:v1\n", nil, 2, registry.ErrInvalidReference},
		{"two on a line", "r.example/a:v1 r.example/b:v1\n", nil, 1, bulk.ErrBadInput},
		{"bad layout", "oci-layout:/x@sha256:zz\n", nil, 1, registry.ErrInvalidLayout},
		{"control characters", "r.example/a:\x1b[2J\n", nil, 1, registry.ErrInvalidReference},
		{"line too long", "r.example/a:v1\n" + strings.Repeat("x", bulk.MaxLineBytes+1) + "\n", nil, 2, bulk.ErrBadInput},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := bulk.ReadList(strings.NewReader(c.in), "refs.txt", checkRef)
			if c.line == 0 {
				if err != nil {
					t.Fatal(err)
				}
				var refs []string
				for _, in := range got {
					refs = append(refs, in.Reference)
				}
				if strings.Join(refs, " ") != strings.Join(c.want, " ") {
					t.Errorf("got %q, want %q", refs, c.want)
				}
				if len(got) > 0 && got[0].Source != "refs.txt:3" {
					t.Errorf("source %q, want refs.txt:3", got[0].Source)
				}
				return
			}
			var le *bulk.LineError
			if !errors.As(err, &le) || le.Line != c.line || le.Name != "refs.txt" {
				t.Fatalf("error %v, want a LineError at refs.txt:%d", err, c.line)
			}
			if !errors.Is(err, c.is) || !errors.Is(err, bulk.ErrBadInput) {
				t.Errorf("error %v does not wrap %v and ErrBadInput", err, c.is)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "refs.txt:") || strings.ContainsRune(msg, 0x1b) || strings.Contains(msg, "\n") {
				t.Errorf("message %q: want one escaped line starting with the file and line", msg)
			}
		})
	}
}

func TestParsePlatforms(t *testing.T) {
	for _, ok := range []string{"all", "linux/amd64", "linux/amd64,linux/arm64/v8", "windows/amd64, linux/arm/v7"} {
		if _, err := bulk.ParsePlatforms(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "linux", "linux/", "/amd64", "linux/arm/v7/x", "linux/arm/", "linux/amd64,,"} {
		if _, err := bulk.ParsePlatforms(bad); !errors.Is(err, bulk.ErrBadInput) {
			t.Errorf("%q: error %v, want ErrBadInput", bad, err)
		}
	}
}
