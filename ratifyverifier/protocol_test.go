package ratifyverifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
)

func TestParseRequestEnvironment(t *testing.T) {
	f := newFixture(t, "application/cose")
	stdin := f.stdin(t, f.config("strict", nil))
	cases := []struct {
		name string
		env  map[string]string
		code uint
		want string
	}{
		{"no environment", map[string]string{}, CodeMissingEnvironment, "missing environment variables RATIFY_VERIFIER_COMMAND, RATIFY_VERIFIER_VERSION, RATIFY_VERIFIER_SUBJECT"},
		{"no subject", map[string]string{EnvCommand: CommandVerify, EnvVersion: Version100}, CodeMissingEnvironment, "missing environment variables RATIFY_VERIFIER_SUBJECT:"},
		{"unknown command", map[string]string{EnvCommand: "DELETE", EnvVersion: Version100, EnvSubject: f.ref()}, CodeUnknownCommand, `unknown RATIFY_VERIFIER_COMMAND "DELETE"`},
		{"control characters", map[string]string{EnvCommand: "V\x1b[2J\u202e", EnvVersion: Version100, EnvSubject: f.ref()}, CodeUnknownCommand, `"V\x1b[2J\u202e"`},
		{"unsupported version", map[string]string{EnvCommand: CommandVerify, EnvVersion: "2.0.0", EnvSubject: f.ref()}, CodeVersionNotSupported, `unsupported RATIFY_VERIFIER_VERSION "2.0.0"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRequest(func(k string) string { return c.env[k] }, stdin)
			assertProtocolError(t, err, c.code, c.want)
		})
	}
	for _, v := range []string{Version100, Version010} {
		env := map[string]string{EnvCommand: CommandVerify, EnvVersion: v, EnvSubject: f.ref()}
		req, err := ParseRequest(func(k string) string { return env[k] }, stdin)
		if err != nil {
			t.Fatalf("version %s: %v", v, err)
		}
		if req.Version != v || req.Subject != f.ref() || req.Signature.Digest != f.sigDesc.Digest || req.Config.Name != "np" || !req.Store.UseHTTP {
			t.Errorf("version %s: parsed %+v", v, req)
		}
	}
}

func assertProtocolError(t *testing.T, err error, code uint, want string) {
	t.Helper()
	var pe *ProtocolError
	if !errors.As(err, &pe) || !errors.Is(err, ErrProtocol) {
		t.Fatalf("got %v (%T), want a *ProtocolError", err, err)
	}
	if pe.Code != code || !strings.Contains(pe.Msg, want) {
		t.Fatalf("got code %d %q, want code %d containing %q", pe.Code, pe.Msg, code, want)
	}
	line := pe.Marshal()
	if bytes.Count(line, []byte("\n")) != 1 || !json.Valid(line) || textsafe.Has(strings.TrimSuffix(string(line), "\n")) {
		t.Fatalf("Marshal gave %q, want one line of JSON without control characters", line)
	}
}

func TestParseRequestStdin(t *testing.T) {
	f := newFixture(t, "application/cose")
	good := f.config("strict", nil)
	with := func(mut func(map[string]any)) map[string]any { return f.config("strict", mut) }
	req := func(mut func(map[string]any)) string { return string(f.stdin(t, with(mut))) }
	cases := []struct {
		name  string
		stdin string
		code  uint
		want  string
	}{
		{"empty", "", CodeConfigParsing, "decoding the request on stdin: EOF"},
		{"not json", "verify please", CodeConfigParsing, "decoding the request on stdin"},
		{"trailing data", string(f.stdin(t, good)) + "{}", CodeConfigParsing, `unexpected data after the JSON object at byte`},
		{"too big", `{"config":"` + strings.Repeat("a", MaxRequestBytes) + `"}`, CodeIO, "over 4194304 bytes"},
		{"no config", `{"storeConfig":{"store":{"name":"oras"}},"referenceDesc":{}}`, CodeInvalidConfig, `no "config"`},
		{"no store", `{"config":{"name":"x"},"referenceDesc":{}}`, CodeInvalidConfig, `no "storeConfig.store"`},
		{"no referenceDesc", `{"config":{"name":"x"},"storeConfig":{"store":{"name":"oras"}}}`, CodeArgsParsing, `no "referenceDesc"`},
		{"config not an object", `{"config":[1],"storeConfig":{"store":{"name":"oras"}},"referenceDesc":{}}`, CodeInvalidConfig, "not a JSON object"},
		{"unknown key", req(func(c map[string]any) { c["trustPolicyDocs"] = 1 }), CodeInvalidConfig, "unknown keys trustPolicyDocs in the verifier entry"},
		{"no name", req(func(c map[string]any) { delete(c, "name") }), CodeInvalidConfig, `no "name"`},
		{"name not a string", req(func(c map[string]any) { c["name"] = 3 }), CodeInvalidConfig, `"name" must be a string`},
		{"no policy", req(func(c map[string]any) { delete(c, "trustPolicyDoc") }), CodeInvalidConfig, "no trust policy: give trustPolicyDoc"},
		{"two policies", req(func(c map[string]any) { c["trustPolicyPath"] = "/p.json" }), CodeInvalidConfig, "trustPolicyDoc or trustPolicyPath, not both"},
		{"policy not an object", req(func(c map[string]any) { c["trustPolicyDoc"] = "{}" }), CodeInvalidConfig, "trustPolicyDoc must be a JSON object"},
		{"no store", req(func(c map[string]any) { delete(c, "trustStores") }), CodeInvalidConfig, "no trust store: give trustStorePath"},
		{"two stores", req(func(c map[string]any) { c["trustStorePath"] = "/ts" }), CodeInvalidConfig, "trustStorePath or trustStores, not both"},
		{"stores wrong type", req(func(c map[string]any) { c["trustStores"] = []string{"x"} }), CodeInvalidConfig, `verifier "np"`},
		{"bad duration", req(func(c map[string]any) { c["timeout"] = "soon" }), CodeInvalidConfig, `want a duration string such as "800ms"`},
		{"number duration", req(func(c map[string]any) { c["timeout"] = 5 }), CodeInvalidConfig, `want a duration string`},
		{"negative timeout", req(func(c map[string]any) { c["timeout"] = "-1s" }), CodeInvalidConfig, "timeout -1s is negative"},
		{"negative crl timeout", req(func(c map[string]any) { c["revocation"] = map[string]any{"crlTimeout": "-1s"} }), CodeInvalidConfig, "revocation.crlTimeout -1s is negative"},
		{"revocation over budget", req(func(c map[string]any) {
			c["timeout"] = "2s"
			c["revocation"] = map[string]any{"ocspTimeout": "1s", "crlTimeout": "1s"}
		}), CodeInvalidConfig, "must be below timeout (2s)"},
		{"unknown revocation key", req(func(c map[string]any) { c["revocation"] = map[string]any{"crlTimout": "1s"} }), CodeInvalidConfig, `unknown field "crlTimout"`},
		{"offline without disk", req(func(c map[string]any) { c["revocation"] = map[string]any{"offline": true, "noDiskCache": true} }), CodeInvalidConfig, "revocation.offline needs the disk cache"},
		{"other store plugin", strings.Replace(string(f.stdin(t, good)), `"name":"oras"`, `"name":"zot"`, 1), CodeInvalidConfig, `storeConfig.store.name "zot"`},
		{"cloud auth provider", strings.Replace(string(f.stdin(t, good)), `"name":"oras"`, `"name":"oras","authProvider":{"name":"azureWorkloadIdentity"}`, 1), CodeInvalidConfig, `authProvider.name "azureWorkloadIdentity" is not supported`},
		{"bad digest", strings.Replace(string(f.stdin(t, good)), f.sigDesc.Digest.String(), "sha256:zz", 1), CodeArgsParsing, `referenceDesc.digest "sha256:zz"`},
		{"zero size", strings.Replace(string(f.stdin(t, good)), `"size":`, `"size":0,"x":`, 1), CodeArgsParsing, "referenceDesc.size 0"},
		{"no media type", strings.Replace(string(f.stdin(t, good)), `"mediaType":"`+sigManifestType+`"`, `"mediaType":""`, 1), CodeArgsParsing, "referenceDesc.mediaType is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRequest(f.env(), []byte(c.stdin))
			assertProtocolError(t, err, c.code, c.want)
		})
	}
}

func TestParseConfigDefaults(t *testing.T) {
	f := newFixture(t, "application/cose")
	b, _ := json.Marshal(f.config("strict", func(c map[string]any) { c["nestedReferences"] = "x"; c["source"] = map[string]any{"artifact": "y"} }))
	c, err := ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeout != Duration(DefaultTimeout) || c.Revocation.OCSPTimeout != Duration(DefaultOCSPTimeout) || c.Revocation.CRLTimeout != Duration(DefaultCRLTimeout) {
		t.Errorf("defaults: %+v", c)
	}
	if DefaultOCSPTimeout+DefaultCRLTimeout >= DefaultTimeout || DefaultTimeout >= 2900e6 {
		t.Errorf("default budget does not fit Ratify's 2.9 s executor budget under Gatekeeper's 3 s")
	}
}

// TestParseRequestTrailingData: a request is one JSON object and then only
// JSON whitespace to EOF. Anything else is refused with a protocol error
// that says where it starts and quotes it, escaped.
func TestParseRequestTrailingData(t *testing.T) {
	f := newFixture(t, "application/cose")
	good := f.stdin(t, f.config("strict", nil))
	n := len(good)
	cases := []struct {
		name, tail string
		at         int    // byte offset of the trailing data
		want       string // the quoted excerpt
	}{
		{"closing brace", "}", n, `"}"`},
		{"closing bracket", "]", n, `"]"`},
		{"second object", "\n{}", n + 1, `"{}"`},
		{"garbage after spaces", " \t\r\nxyz", n + 4, `"xyz"`},
		{"NUL", "\x00", n, `"\x00"`},
		{"terminal escape", "\x1b[2J\u202eok", n, `"\x1b[2J\u202eok"`},
		{"long", strings.Repeat("A", 100), n, `"` + strings.Repeat("A", maxExcerpt) + `" and 68 more bytes`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRequest(f.env(), append(bytes.Clone(good), c.tail...))
			if !errors.Is(err, ErrTrailingData) {
				t.Fatalf("got %v, want ErrTrailingData", err)
			}
			assertProtocolError(t, err, CodeConfigParsing, fmt.Sprintf("unexpected data after the JSON object at byte %d: %s; Ratify writes one JSON object", c.at, c.want))
		})
	}
	for _, tail := range []string{"", "\n", " \t\r\n\n"} {
		if _, err := ParseRequest(f.env(), append(bytes.Clone(good), tail...)); err != nil {
			t.Errorf("trailing whitespace %q: %v", tail, err)
		}
	}
}
