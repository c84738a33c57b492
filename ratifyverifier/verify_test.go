package ratifyverifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// testNow is within every test certificate's validity.
var testNow = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)

// noRevocation answers every certificate "non-revokable" without I/O.
func noRevocation(RevocationConfig) (revocation.Checker, error) {
	return revocation.NonRevokableOnly(), nil
}

// testDeps are Run's dependencies without revocation I/O, at testNow.
func testDeps() Deps {
	return Deps{NewRevocation: noRevocation, Now: func() time.Time { return testNow }}
}

// runStdin runs one request with the environment getenv.
func runStdin(t *testing.T, getenv func(string) string, stdin []byte) (*Response, *ProtocolError) {
	t.Helper()
	resp, err := Run(context.Background(), getenv, bytes.NewReader(stdin), testDeps())
	return resp, asProtocolError(t, err)
}

// runWith runs the request for the fixture's signature.
func runWith(t *testing.T, f *fixture, config map[string]any) (*Response, *ProtocolError) {
	t.Helper()
	return runStdin(t, f.env(), f.stdin(t, config))
}

// asProtocolError returns err as the *ProtocolError Run promises, nil for
// nil.
func asProtocolError(t *testing.T, err error) *ProtocolError {
	t.Helper()
	if err == nil {
		return nil
	}
	var pe *ProtocolError
	if !errors.As(err, &pe) || !errors.Is(err, ErrProtocol) {
		t.Fatalf("Run returned %v (%T), want a *ProtocolError", err, err)
	}
	return pe
}

func TestVerify(t *testing.T) {
	for _, mt := range []string{"application/cose", "application/jose+json"} {
		otherRoot, err := os.ReadFile(filepath.Join(testPKI, "rsa-3072", "root.crt"))
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name    string
			setup   func(f *fixture)                // breaks the registry
			config  func(f *fixture) map[string]any // default strict
			ok      bool
			verdict trustpolicy.Verdict
			want    func(f *fixture) string
		}{
			{name: "verified", ok: true, verdict: trustpolicy.VerdictVerified,
				want: func(f *fixture) string { return "verified: " + f.ref() + ` under policy "unit" (strict)` }},
			{name: "skipped", config: (*fixture).skipConfig, ok: true, verdict: trustpolicy.VerdictSkipped,
				want: func(*fixture) string { return `skipped: policy "unit" has level skip` }},
			{name: "untrusted root", config: func(f *fixture) map[string]any {
				return f.config("strict", func(c map[string]any) { c["trustStores"] = map[string]string{"ca:test": string(otherRoot)} })
			}, verdict: trustpolicy.VerdictFailed,
				want: func(*fixture) string {
					return "authenticity check failed: the signature's certificate chain does not contain any trusted certificate; fix: "
				}},
			{name: "store not configured", config: func(f *fixture) map[string]any {
				return f.config("strict", func(c map[string]any) { c["trustStores"] = map[string]string{"ca:other": f.rootPEM} })
			}, verdict: trustpolicy.VerdictFailed,
				want: func(*fixture) string { return "authenticity check failed: trust store ca:test: holds no certificate" }},
			{name: "subject size differs", setup: func(f *fixture) { f.answerHead(f.subject.Digest.String(), f.subject.Digest.String(), f.subject.Size+1) },
				verdict: trustpolicy.VerdictFailed, want: func(f *fixture) string { return "failed: " + f.ref() }},
			{name: "registry down", setup: func(f *fixture) { f.reg.Close() }, verdict: trustpolicy.VerdictFailed,
				want: func(*fixture) string {
					return "connect: connection refused; check that the artifact exists and the store's registry settings (useHttp, credentials) are right"
				}},
			{name: "envelope missing", setup: func(f *fixture) { f.failBlobs("blob unknown\x1b[31m") }, verdict: trustpolicy.VerdictFailed,
				want: func(f *fixture) string {
					return "failed: " + f.ref() + `: unable to retrieve digital signature with digest "` + f.sigDesc.Digest.String() + `"`
				}},
		}
		for _, c := range cases {
			t.Run(mt+"/"+c.name, func(t *testing.T) {
				f := newFixture(t, mt)
				if c.setup != nil {
					c.setup(f)
				}
				config := f.config("strict", nil)
				if c.config != nil {
					config = c.config(f)
				}
				resp, perr := runWith(t, f, config)
				if perr != nil {
					t.Fatalf("protocol error: %v", perr)
				}
				want := c.want(f)
				if resp.IsSuccess != c.ok || resp.Extensions == nil || resp.Extensions.Verdict != c.verdict || !strings.Contains(resp.Message, want) {
					t.Fatalf("got isSuccess=%v verdict=%v message %q, want %v %v containing %q", resp.IsSuccess, resp.Extensions, resp.Message, c.ok, c.verdict, want)
				}
				if resp.Name != "np" || resp.Type != "notation-pkcs11-ratify" {
					t.Errorf("name %q type %q", resp.Name, resp.Type)
				}
				line, err := resp.Marshal()
				if err != nil || bytes.Count(line, []byte("\n")) != 1 || !json.Valid(line) || bytes.ContainsRune(line, 0x1b) {
					t.Fatalf("Marshal: %v %q", err, line)
				}
				if c.verdict == trustpolicy.VerdictVerified {
					e := resp.Extensions
					if e.Result == nil || len(e.Result.Chain) != 3 || e.SN != e.Result.Chain[0].Subject || e.Issuer != e.Result.Chain[0].Issuer || e.Reference != f.ref() {
						t.Errorf("extensions: %+v", e)
					}
				}
			})
		}
	}
}

func TestRunConfigErrors(t *testing.T) {
	f := newFixture(t, "application/cose")
	cases := []struct {
		name string
		mut  func(map[string]any)
		want string
	}{
		{"policy invalid", func(c map[string]any) {
			c["trustPolicyDoc"] = map[string]any{"version": "1.0", "trustPolicies": []any{map[string]any{"name": "x"}}}
		}, `verifier "np": trust policy:`},
		{"policy file missing", func(c map[string]any) {
			delete(c, "trustPolicyDoc")
			c["trustPolicyPath"] = "/nonexistent/trustpolicy.json"
		}, "/nonexistent/trustpolicy.json"},
		{"bad store key", func(c map[string]any) { c["trustStores"] = map[string]string{"root": f.rootPEM} }, `trustStores key "root"`},
		{"no pem", func(c map[string]any) { c["trustStores"] = map[string]string{"ca:test": "not a certificate"} }, `trustStores["ca:test"] holds no PEM certificate`},
		{"private key pem", func(c map[string]any) {
			c["trustStores"] = map[string]string{"ca:test": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}
		}, `PEM block 1 is "PRIVATE KEY", want CERTIFICATE`},
		{"garbage certificate", func(c map[string]any) {
			c["trustStores"] = map[string]string{"ca:test": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}
		}, `trustStores["ca:test"]: certificate 1:`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, perr := runWith(t, f, f.config("strict", c.mut))
			if perr == nil || perr.Code != CodeInvalidConfig || !strings.Contains(perr.Msg, c.want) {
				t.Fatalf("got %v, want an invalid-config error containing %q", perr, c.want)
			}
		})
	}
	t.Run("revocation setup fails", func(t *testing.T) {
		_, err := Run(context.Background(), f.env(), bytes.NewReader(f.stdin(t, f.config("strict", nil))), Deps{
			NewRevocation: func(RevocationConfig) (revocation.Checker, error) { return nil, errors.New("cache dir not writable") },
		})
		if perr := asProtocolError(t, err); perr == nil || !strings.Contains(perr.Msg, `verifier "np": revocation: cache dir not writable`) {
			t.Fatalf("got %v", perr)
		}
	})
	t.Run("stdin unreadable", func(t *testing.T) {
		_, err := Run(context.Background(), f.env(), errReader{}, Deps{})
		if perr := asProtocolError(t, err); perr == nil || perr.Code != CodeIO {
			t.Fatalf("got %v", err)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("broken pipe") }

// TestTrustStorePath loads the stores from a notation-layout folder.
func TestTrustStorePath(t *testing.T) {
	f := newFixture(t, "application/cose")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "x509", "ca", "test"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x509", "ca", "test", "root.crt"), []byte(f.rootPEM), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, perr := runWith(t, f, f.config("strict", func(c map[string]any) { delete(c, "trustStores"); c["trustStorePath"] = dir }))
	if perr != nil || !resp.IsSuccess {
		t.Fatalf("got %v %+v", perr, resp)
	}
}

// TestVerifyTimeout: the whole verification runs under Config.Timeout; a
// registry that never answers ends in the deadline.
func TestVerifyTimeout(t *testing.T) {
	f := newFixture(t, "application/cose")
	f.reg.Tamper(func(_ http.ResponseWriter, r *http.Request) bool {
		<-r.Context().Done() // the client gave up
		return true
	})
	resp, perr := runWith(t, f, f.config("strict", func(c map[string]any) {
		c["timeout"] = "50ms"
		c["revocation"] = map[string]any{"ocspTimeout": "10ms", "crlTimeout": "10ms", "noDiskCache": true}
	}))
	if perr != nil || resp.IsSuccess || !strings.Contains(resp.Message, context.DeadlineExceeded.Error()) {
		t.Fatalf("got %v %+v", perr, resp)
	}
}

// TestVerifyOtherArtifactType: a referrer that is not a notary signature
// (artifactTypes "*" in Ratify) fails with a message that says what to set,
// without touching the registry.
func TestVerifyOtherArtifactType(t *testing.T) {
	f := newFixture(t, "application/cose")
	stdin := strings.Replace(string(f.stdin(t, f.config("strict", nil))), `"artifactType":"application/vnd.cncf.notary.signature"`, `"artifactType":"application/spdx+json"`, 1)
	resp, perr := runStdin(t, f.env(), []byte(stdin))
	if perr != nil || resp.IsSuccess || !strings.Contains(resp.Message, `has artifactType "application/spdx+json"; this verifier verifies Notary Project signatures only: set "artifactTypes": "application/vnd.cncf.notary.signature"`) {
		t.Fatalf("got %v %+v", perr, resp)
	}
	if n := len(f.reg.Requests()); n != 0 {
		t.Errorf("%d registry requests for a referrer that is not a signature", n)
	}
}

// TestStoreWithoutUseHTTP: without useHttp no request leaves in clear
// text, and the message says what to set in Ratify's configuration (not
// the trustpolicy command's flag).
func TestStoreWithoutUseHTTP(t *testing.T) {
	f := newFixture(t, "application/cose")
	resp, perr := runStdin(t, f.env(), f.stdinFor(t, f.config("strict", nil), f.sigDesc, false))
	if perr != nil || resp.IsSuccess {
		t.Fatalf("got %v %+v", perr, resp)
	}
	if !strings.Contains(resp.Message, plainHTTPHint) || strings.Contains(resp.Message, "--plain-http") {
		t.Errorf("message %q: want the hint %q", resp.Message, plainHTTPHint)
	}
	if n := len(f.reg.Requests()); n != 0 {
		t.Errorf("%d plain-HTTP requests reached the registry without useHttp", n)
	}
}
