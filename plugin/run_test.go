package plugin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"
)

// semverRE is semver 2.0.0 (https://semver.org).
const semverRE = (`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

func TestRunGetMetadata(t *testing.T) {
	tests := []struct {
		name    string
		version string
		stdin   any
		want    string
	}{
		{"empty object", "1.2.3", "{}", "1.2.3"},
		{"pluginConfig", "1.2.3", `{"pluginConfig":{"a":"b"}}`, "1.2.3"},
		{"empty stdin", "1.2.3", nil, "1.2.3"},
		{"not JSON (metadata never fails)", "1.2.3", "\x00not json", "1.2.3"},
		{"PIN-looking pluginConfig is ignored by metadata", "1.2.3", `{"pluginConfig":{"pin":"` + configPIN + `"}}`, "1.2.3"},
		{"default version", "", "{}", "0.0.0-dev"},
		{"pre-release version", "0.1.0-rc.1+build.7", "{}", "0.1.0-rc.1+build.7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			envCalls := 0
			p := New(Options{Version: tc.version, Backend: noBackend(t), Getenv: func(string) string { envCalls++; return "" }})
			r := runPlugin(t, p, string(proto.CommandGetMetadata), tc.stdin)
			md := wantOK[proto.GetMetadataResponse](t, r)
			if md.Name != "pkcs11" {
				t.Errorf("name %q, want pkcs11", md.Name)
			}
			if md.Version != tc.want || !regexp.MustCompile(semverRE).MatchString(md.Version) {
				t.Errorf("version %q, want semver %q", md.Version, tc.want)
			}
			if !slices.Equal(md.SupportedContractVersions, []string{"1.0"}) {
				t.Errorf("supportedContractVersions %q, want [1.0]", md.SupportedContractVersions)
			}
			if !slices.Equal(md.Capabilities, []proto.Capability{"SIGNATURE_GENERATOR.RAW"}) {
				t.Errorf("capabilities %q, want exactly [SIGNATURE_GENERATOR.RAW]", md.Capabilities)
			}
			// notation's metadata validation requires these non-empty.
			if md.Description == "" || md.URL == "" {
				t.Errorf("description %q / url %q must not be empty", md.Description, md.URL)
			}
			var raw map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"name", "description", "version", "url", "supportedContractVersions", "capabilities"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("metadata JSON lacks %q: %s", k, r.stdout)
				}
			}
			if envCalls != 0 {
				t.Errorf("get-plugin-metadata read the environment %d times; it needs no configuration", envCalls)
			}
		})
	}
}

// The zero Options pick the real HSM backend; metadata must still not need it.
func TestRunGetMetadataZeroOptions(t *testing.T) {
	r := runPlugin(t, New(Options{}), string(proto.CommandGetMetadata), "{}")
	md := wantOK[proto.GetMetadataResponse](t, r)
	if md.Version != "0.0.0-dev" || md.Name != Name {
		t.Errorf("metadata %+v", md)
	}
}

func TestRunRefusedCommands(t *testing.T) {
	envelope := proto.GenerateEnvelopeRequest{
		ContractVersion: "1.0", KeyID: keyURI, PayloadType: "application/vnd.cncf.notary.payload.v1+json",
		SignatureEnvelopeType: "application/jose+json", Payload: []byte("{}"),
	}
	tests := []struct {
		name    string
		command string
		stdin   any
		want    []string
	}{
		{"generate-envelope", "generate-envelope", envelope, []string{"generate-envelope is not supported", "SIGNATURE_GENERATOR.RAW"}},
		{"generate-envelope empty stdin", "generate-envelope", nil, []string{"generate-envelope is not supported"}},
		{"verify-signature", "verify-signature", `{"contractVersion":"1.0"}`, []string{"verify-signature is not supported", "SIGNATURE_GENERATOR.RAW"}},
		{"unknown command", "sign", "{}", []string{`"sign" is not a plugin protocol command`, "get-plugin-metadata", "describe-key", "generate-signature"}},
		{"empty command", "", "{}", []string{`"" is not a plugin protocol command`}},
		{"command is case-sensitive", "GET-PLUGIN-METADATA", "{}", []string{`"GET-PLUGIN-METADATA" is not a plugin protocol command`}},
		{"version is not a protocol command", "version", nil, []string{`"version" is not a plugin protocol command`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPlugin(noBackend(t), stdEnv("/nonexistent/module.so"), nil)
			r := runPlugin(t, p, tc.command, tc.stdin)
			wantError(t, r, proto.ErrorCodeValidation, tc.want...)
		})
	}
}

func TestRunMalformedRequests(t *testing.T) {
	// A valid generate-signature request larger than 16 MiB.
	big := signReq(keyURI, keyTypes()[0], nil)
	big.Payload = make([]byte, 13<<20) // 13 MiB, base64 makes it > 17 MiB
	bigJSON, err := json.Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	if len(bigJSON) <= maxRequest {
		t.Fatalf("big request is only %d bytes", len(bigJSON))
	}

	tests := []struct {
		name    string
		command proto.Command
		stdin   any
		code    proto.ErrorCode
		want    []string
	}{
		{"describe-key not JSON", proto.CommandDescribeKey, "{not json", proto.ErrorCodeValidation, []string{"not valid JSON"}},
		{"describe-key empty stdin", proto.CommandDescribeKey, nil, proto.ErrorCodeValidation, []string{"not valid JSON"}},
		{"describe-key JSON array", proto.CommandDescribeKey, `["1.0"]`, proto.ErrorCodeValidation, []string{"not valid JSON"}},
		{"describe-key wrong field type", proto.CommandDescribeKey, `{"contractVersion":1,"keyId":"x"}`, proto.ErrorCodeValidation, []string{"not valid JSON"}},
		{"describe-key missing contractVersion", proto.CommandDescribeKey, `{"keyId":"` + keyURI + `"}`, proto.ErrorCodeValidation, []string{"contractVersion cannot be empty"}},
		{"describe-key missing keyId", proto.CommandDescribeKey, `{"contractVersion":"1.0"}`, proto.ErrorCodeValidation, []string{"keyId cannot be empty"}},
		{"describe-key contract 2.0", proto.CommandDescribeKey, describeReqV("2.0"), proto.ErrorCodeUnsupportedContractVersion, []string{`"2.0"`}},
		{"describe-key contract 1.1", proto.CommandDescribeKey, describeReqV("1.1"), proto.ErrorCodeUnsupportedContractVersion, []string{`"1.1"`}},
		{"generate-signature truncated JSON", proto.CommandGenerateSignature, `{"contractVersion":"1.0",`, proto.ErrorCodeValidation, []string{"not valid JSON"}},
		{"generate-signature payload not base64", proto.CommandGenerateSignature, `{"contractVersion":"1.0","keyId":"k","keySpec":"EC-256","hashAlgorithm":"SHA-256","payload":"%%%"}`, proto.ErrorCodeValidation, []string{"not valid JSON"}},
		{"generate-signature missing keySpec", proto.CommandGenerateSignature, signReqWithout("keySpec"), proto.ErrorCodeValidation, []string{"keySpec cannot be empty"}},
		{"generate-signature missing hashAlgorithm", proto.CommandGenerateSignature, signReqWithout("hashAlgorithm"), proto.ErrorCodeValidation, []string{"hashAlgorithm cannot be empty"}},
		{"generate-signature missing payload", proto.CommandGenerateSignature, signReqWithout("payload"), proto.ErrorCodeValidation, []string{"payload cannot be empty"}},
		{"generate-signature missing keyId", proto.CommandGenerateSignature, signReqWithout("keyId"), proto.ErrorCodeValidation, []string{"keyId cannot be empty"}},
		{"generate-signature contract 2.0", proto.CommandGenerateSignature, signReqV("2.0"), proto.ErrorCodeUnsupportedContractVersion, []string{`"2.0"`}},
		{"generate-signature larger than 16 MiB", proto.CommandGenerateSignature, bigJSON, proto.ErrorCodeValidation, []string{"larger than 16777216 bytes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPlugin(noBackend(t), stdEnv("/nonexistent/module.so"), nil)
			r := runPlugin(t, p, string(tc.command), tc.stdin)
			wantError(t, r, tc.code, tc.want...)
		})
	}
}

func describeReqV(v string) proto.DescribeKeyRequest {
	r := describeReq(keyURI, nil)
	r.ContractVersion = v
	return r
}

func signReqV(v string) proto.GenerateSignatureRequest {
	r := signReq(keyURI, keyTypes()[3], nil)
	r.ContractVersion = v
	return r
}

// signReqWithout is a generate-signature request JSON without one field.
func signReqWithout(field string) string {
	m := map[string]string{
		"contractVersion": "1.0",
		"keyId":           keyURI,
		"keySpec":         "EC-256",
		"hashAlgorithm":   "SHA-256",
		"payload":         base64.StdEncoding.EncodeToString([]byte(testPayload)),
	}
	delete(m, field)
	b, _ := json.Marshal(m)
	return string(b)
}

func TestCommands(t *testing.T) {
	want := []string{"get-plugin-metadata", "describe-key", "generate-signature", "generate-envelope", "verify-signature"}
	var got []string
	for _, c := range Commands() {
		got = append(got, string(c))
	}
	if !slices.Equal(got, want) {
		t.Errorf("Commands() = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"get-plugin-metadata", true}, {"describe-key", true}, {"generate-signature", true},
		{"generate-envelope", true}, {"verify-signature", true},
		{"version", false}, {"help", false}, {"", false}, {"Describe-Key", false}, {"describe-key ", false},
	} {
		if got := IsCommand(tc.name); got != tc.want {
			t.Errorf("IsCommand(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Unknown request fields must be ignored (the spec says so).
func TestRunIgnoresUnknownRequestFields(t *testing.T) {
	mod := fakeModule(t)
	b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", false)}
	p := newPlugin(b, stdEnv(mod), nil)
	r := runPlugin(t, p, "describe-key", `{"contractVersion":"1.0","keyId":"`+keyURI+`","futureField":{"x":[1,2]}}`)
	resp := wantOK[proto.DescribeKeyResponse](t, r)
	if resp.KeySpec != proto.KeySpecEC256 || resp.KeyID != keyURI {
		t.Errorf("response %+v", resp)
	}
}

// Requests at the 16 MiB limit: one byte more is refused as too large.
func TestRunRequestSizeLimit(t *testing.T) {
	// A describe-key request padded with whitespace inside the object to
	// exactly n bytes.
	request := func(n int) []byte {
		head := `{"contractVersion":"1.0","keyId":"` + keyURI + `"`
		return []byte(head + strings.Repeat(" ", n-len(head)-1) + "}")
	}
	t.Run("exactly 16 MiB", func(t *testing.T) {
		b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", false)}
		p := newPlugin(b, stdEnv(fakeModule(t)), nil)
		req := request(maxRequest)
		if len(req) != maxRequest {
			t.Fatalf("request is %d bytes", len(req))
		}
		resp := wantOK[proto.DescribeKeyResponse](t, runPlugin(t, p, "describe-key", req))
		if resp.KeySpec != proto.KeySpecEC256 {
			t.Errorf("keySpec %q", resp.KeySpec)
		}
	})
	t.Run("16 MiB and one byte", func(t *testing.T) {
		p := newPlugin(noBackend(t), stdEnv(fakeModule(t)), nil)
		wantError(t, runPlugin(t, p, "describe-key", request(maxRequest+1)), proto.ErrorCodeValidation, "larger than 16777216 bytes")
	})
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("stdout closed") }

// A response that cannot be written is reported on stderr with exit 1.
func TestRunStdoutWriteFails(t *testing.T) {
	p := newPlugin(noBackend(t), nil, nil)
	r := runPluginW(t, context.Background(), p, "get-plugin-metadata", "{}", func(io.Writer) io.Writer { return failingWriter{} })
	wantError(t, r, proto.ErrorCodeGeneric, "stdout closed")
}

// TestRunRefusesTrailingBytes (regression, issue 12 #11): what followed the
// request's JSON object was ignored, so a second request (or anything) could
// ride along unseen. One object, then only white space to the end of input.
func TestRunRefusesTrailingBytes(t *testing.T) {
	desc, err := json.Marshal(describeReq(keyURI, nil))
	if err != nil {
		t.Fatal(err)
	}
	sign, err := json.Marshal(signReq(keyURI, keyTypeOf(t, "ec-256"), nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, trailer string
		want          []string // nil: accepted
	}{
		{"nothing", "", nil},
		{"white space", " \t\r\n \n", nil},
		{"a second request", " " + string(desc), []string{"followed by a second JSON object", fmt.Sprintf("(%d bytes)", len(desc))}},
		{"a JSON array", "\n[1]", []string{"followed by a JSON array (3 bytes)"}},
		{"a string", `"x"`, []string{"followed by a JSON string"}},
		{"a number", "7", []string{"followed by a number (1 bytes)"}},
		{"text", " garbage", []string{"followed by other text (7 bytes)"}},
		{"a NUL byte", "\x00", []string{"followed by control characters"}},
		{"a stray brace", "}", []string{"followed by other text"}},
		{"a form feed (not JSON white space)", "\f", []string{"followed by control characters"}},
	} {
		for _, c := range []struct {
			command string
			req     []byte
		}{{"describe-key", desc}, {"generate-signature", sign}} {
			t.Run(tc.name+"/"+c.command, func(t *testing.T) {
				b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", true), forbid: tc.want != nil}
				p := newPlugin(b, stdEnv(fakeModule(t)), nil)
				r := runPlugin(t, p, c.command, append(append([]byte{}, c.req...), tc.trailer...))
				if tc.want == nil {
					if r.code != 0 {
						t.Fatalf("exit %d: %s", r.code, r.stderr)
					}
					return
				}
				msg := wantError(t, r, proto.ErrorCodeValidation, append([]string{"invalid request", "send exactly one JSON object"}, tc.want...)...)
				if strings.Contains(msg, "garbage") {
					t.Errorf("the message repeats the trailing bytes: %s", msg)
				}
			})
		}
	}
}
