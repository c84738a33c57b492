package admission

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
)

// TestParseKey: keys as Pods carry them, normalised as containerd's
// reference.ParseDockerRef does.
func TestParseKey(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		key, ns, ref string
		digest       bool
	}{
		{key: "nginx", ref: "docker.io/library/nginx:latest"},
		{key: "nginx:1.27", ref: "docker.io/library/nginx:1.27"},
		{key: "library/nginx", ref: "docker.io/library/nginx:latest"},
		{key: "bitnami/redis:7", ref: "docker.io/bitnami/redis:7"},
		{key: "docker.io/nginx", ref: "docker.io/library/nginx:latest"},
		{key: "index.docker.io/library/nginx:1", ref: "docker.io/library/nginx:1"},
		{key: "localhost/app", ref: "localhost/app:latest"},
		{key: "localhost:5000/app:v1", ref: "localhost:5000/app:v1"},
		{key: "127.0.0.1:5000/team/app@" + d, ref: "127.0.0.1:5000/team/app@" + d, digest: true},
		{key: "ghcr.io/org/app:v1@" + d, ref: "ghcr.io/org/app@" + d, digest: true},
		{key: "nginx@" + d, ref: "docker.io/library/nginx@" + d, digest: true},
		{key: "[default]nginx", ns: "default", ref: "docker.io/library/nginx:latest"},
		{key: "[kube-system]registry.k8s.io/pause:3.10", ns: "kube-system", ref: "registry.k8s.io/pause:3.10"},
	}
	for _, c := range cases {
		k, err := ParseKey(c.key)
		if err != nil {
			t.Errorf("%q: %v", c.key, err)
			continue
		}
		if k.Reference != c.ref || k.Namespace != c.ns || (k.Digest != "") != c.digest {
			t.Errorf("%q: got %+v; want reference %s namespace %q digest %v", c.key, k, c.ref, c.ns, c.digest)
		}
	}
	bad := []struct{ key, want string }{
		{"", "empty image reference"},
		{"[default]", "empty image reference"},
		{"[Default]nginx", "not a Kubernetes namespace name"},
		{"[]nginx", "not a Kubernetes namespace name"},
		{"[default nginx", "closing bracket"},
		{"NGINX", "must be lowercase"},
		{"docker.io/Library/nginx", "must be lowercase"},
		{"nginx:", "empty tag"},
		{"nginx@sha256:zz", "digest"},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "image ID"},
		{"nginx\x1b[2J", "printable ASCII"},
		{"nginx\u202e", "printable ASCII"},
		{"ng inx", "printable ASCII"},
		{"nginx:" + strings.Repeat("a", 200), "invalid"},
		{strings.Repeat("a", MaxKeyLen+1), "longer than"},
		{"127.0.0.1:5000/", "invalid"},
		{"Registry/app:v1", "not a registry host"}, // an uppercase first component is a host, as in containerd
	}
	for _, c := range bad {
		_, err := ParseKey(c.key)
		var ke *KeyError
		if !errors.Is(err, ErrInvalidKey) || !errors.As(err, &ke) || ke.Key != c.key || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v; want a *KeyError with %q", c.key, err, c.want)
		}
	}
}

// FuzzParseKey: no panic, and what parses is a reference the registry
// client accepts, with a digest exactly when it says so.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"nginx", "[ns]a/b:c", "localhost:5000/x@sha256:" + strings.Repeat("0", 64), "[", "a:b@c", "docker.io"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		k, err := ParseKey(key)
		if err != nil {
			return
		}
		if !strings.Contains(k.Reference, "/") || (k.Digest != "") != strings.Contains(k.Reference, "@") {
			t.Fatalf("%q: %+v", key, k)
		}
	})
}

// TestAppendJSONString: the fast path for plain references and the escaped
// path for the rest both decode to the string.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "docker.io/library/nginx:latest", `a"b\c`, "x\x1b[2Jy", "bidi\u202e", "caf\u00e9"} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil || got != s {
			t.Errorf("%q: %s decodes to %q (%v)", s, b, got, err)
		}
		if textsafe.Has(string(b)) {
			t.Errorf("%q: %s is not escaped", s, b)
		}
	}
}
