package containerdverifier

import (
	"errors"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
)

// FuzzParseConfig: any bytes give a configuration or a *ConfigError
// wrapping ErrInvalidConfig, whose message is one escaped line.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"trustPolicy": "/p", "trustStore": "/t", "revocation": {"cacheDir": "/c"}}`,
		`{"trustPolicy": "/p", "trustStore": "/t", "timeout": "5s", "revocation": {"cacheDir": "/c", "offline": true, "ocspTimeout": "1s", "crlTimeout": "2s"}, "registry": {"dockerConfig": "/d/config.json", "plainHTTP": ["127.0.0.1:5000", "[::1]:1"]}}`,
		`{"trustPolicy": "/p", "trustPolicy": "/q"}`,
		`{"TrustPolicy": 1}`,
		`{"revocation": []}`,
		`{} {}`,
		`[`,
		"{\"registry\": {\"plainHTTP\": [\"\x1b\"]}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("/etc/x.json", data)
		if err == nil {
			if c == nil || c.TrustPolicy == "" || c.Timeout <= 0 {
				t.Fatalf("accepted %q as %+v", data, c)
			}
			return
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("error %v is not a *ConfigError", err)
		}
		if textsafe.Has(err.Error()) {
			t.Fatalf("error %q holds a control character", err)
		}
	})
}

// FuzzReadDescriptor: any stdin gives a descriptor of the digest asked
// for, nothing, or an ErrInvocation error that is one escaped line.
func FuzzReadDescriptor(f *testing.F) {
	f.Add([]byte(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + dgst.String() + `","size":539}` + "\n"))
	f.Add([]byte(``))
	f.Add([]byte(`{"digest":"sha256:\u001b"}`))
	f.Add([]byte(`{} []`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ReadDescriptor(strings.NewReader(string(data)), dgst)
		switch {
		case err != nil:
			if !errors.Is(err, ErrInvocation) || textsafe.Has(err.Error()) {
				t.Fatalf("error %q", err)
			}
		case d != nil && d.Digest != dgst:
			t.Fatalf("accepted a descriptor of %s", d.Digest)
		}
	})
}
