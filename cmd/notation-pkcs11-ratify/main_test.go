package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/ratifyverifier"
)

// TestRunExitCodes: protocol errors exit 1 with Ratify's error object on
// stdout, one line; nothing else is printed.
func TestRunExitCodes(t *testing.T) {
	verify := map[string]string{
		ratifyverifier.EnvCommand: "VERIFY", ratifyverifier.EnvVersion: "1.0.0",
		ratifyverifier.EnvSubject: "127.0.0.1:1/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
	}
	cases := []struct {
		name  string
		env   map[string]string
		stdin string
		code  uint
		want  string
	}{
		{"run by hand", map[string]string{}, "", ratifyverifier.CodeMissingEnvironment, "this program is a Ratify verifier plugin"},
		{"malformed stdin", verify, "{", ratifyverifier.CodeConfigParsing, "decoding the request on stdin"},
		{"bad config", verify, `{"config":{"name":"np"},"storeConfig":{"store":{"name":"oras"}},"referenceDesc":{"mediaType":"m","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1}}`,
			ratifyverifier.CodeInvalidConfig, "no trust policy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(context.Background(), func(k string) string { return c.env[k] }, strings.NewReader(c.stdin), &out, ratifyverifier.Deps{})
			if code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			var e ratifyverifier.ProtocolError
			if strings.Count(out.String(), "\n") != 1 || json.Unmarshal(out.Bytes(), &e) != nil {
				t.Fatalf("stdout %q: want one line of JSON", out.String())
			}
			if e.Code != c.code || !strings.Contains(e.Msg, c.want) {
				t.Fatalf("got %+v, want code %d with %q", e, c.code, c.want)
			}
		})
	}
}
