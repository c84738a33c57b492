package ratifyverifier

import (
	"errors"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
)

// FuzzParseRequest: any stdin gives either a well-formed Request or a
// *ProtocolError with a one-line, escaped message; never a panic.
//
//	go test -run XXX -fuzz FuzzParseRequest -fuzztime 30s ./ratifyverifier/
func FuzzParseRequest(f *testing.F) {
	fx := newFixture(f, "application/cose")
	f.Add(fx.stdin(f, fx.config("strict", nil)), Version100)
	f.Add(fx.stdin(f, fx.config("permissive", func(c map[string]any) {
		c["timeout"] = "2s"
		c["revocation"] = map[string]any{"offline": true, "ocspTimeout": "100ms", "crlTimeout": "1s"}
	})), Version010)
	f.Add([]byte(`{"config":{"name":"x","trustPolicyPath":"/p","trustStorePath":"/s"},"storeConfig":{"store":{"name":"oras"}},"referenceDesc":{"mediaType":"m","digest":"sha256:`+
		`0000000000000000000000000000000000000000000000000000000000000000","size":1}}`), Version100)
	f.Add([]byte(`{"config":null}`), "1.0.0")
	f.Add([]byte(`[`), "9")
	f.Add(append(fx.stdin(f, fx.config("strict", nil)), "]\x1b[2J\u202e"...), Version100)
	f.Fuzz(func(t *testing.T, stdin []byte, version string) {
		env := map[string]string{EnvCommand: CommandVerify, EnvSubject: fx.ref(), EnvVersion: version}
		req, err := ParseRequest(func(k string) string { return env[k] }, stdin)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Msg == "" || req != nil {
				t.Fatalf("error %v (%T) with request %v", err, err, req)
			}
			if line := pe.Marshal(); strings.Count(string(line), "\n") != 1 || textsafe.Has(strings.TrimSuffix(string(line), "\n")) {
				t.Fatalf("plugin error line %q: want one line without control characters", line)
			}
			return
		}
		c := req.Config
		if c.Name == "" || req.Signature.Digest.Validate() != nil || req.Signature.Size <= 0 || req.Store.Name != "oras" ||
			c.Timeout <= 0 || c.Revocation.OCSPTimeout <= 0 || c.Revocation.CRLTimeout <= 0 ||
			c.Revocation.OCSPTimeout+c.Revocation.CRLTimeout >= c.Timeout ||
			(c.TrustPolicyPath == "") == (len(c.TrustPolicyDoc) == 0) || (c.TrustStorePath == "") == (c.TrustStores == nil) {
			t.Fatalf("accepted an ill-formed request: %+v %+v", req, c)
		}
	})
}
