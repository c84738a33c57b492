package ratifyverifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// testNow is within every test certificate's validity.
var testNow = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)

// noRevocation answers every certificate "non-revokable" without I/O.
func noRevocation(RevocationConfig) (revocation.Checker, error) {
	return revocation.NonRevokableOnly(), nil
}

func runWith(t *testing.T, f *fixture, fetch *fakeFetcher, config map[string]any) (*Response, *ProtocolError) {
	t.Helper()
	return runEnv(t, f.env(), f, fetch, config)
}

// runEnv is runWith with the environment getenv.
func runEnv(t *testing.T, getenv func(string) string, f *fixture, fetch *fakeFetcher, config map[string]any) (*Response, *ProtocolError) {
	t.Helper()
	resp, err := Run(context.Background(), getenv, bytes.NewReader(f.stdin(t, config)), Deps{
		NewFetcher:    func(StoreConfig) (Fetcher, error) { return fetch, nil },
		NewRevocation: noRevocation,
		Now:           func() time.Time { return testNow },
	})
	return resp, asProtocolError(t, err)
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
		f := newFixture(t, mt)
		otherRoot, err := os.ReadFile(filepath.Join(testPKI, "rsa-3072", "root.crt"))
		if err != nil {
			t.Fatal(err)
		}
		tampered := bytes.Clone(f.envelope)
		tampered[len(tampered)-3] ^= 0xff
		wrongSubject := ocispec.Descriptor{MediaType: f.subject.MediaType, Digest: f.subject.Digest, Size: f.subject.Size + 1}
		cases := []struct {
			name    string
			fetch   *fakeFetcher
			config  map[string]any
			ok      bool
			verdict trustpolicy.Verdict
			want    string
		}{
			{"verified", &fakeFetcher{}, f.config("strict", nil), true, trustpolicy.VerdictVerified, "verified: " + f.ref() + ` under policy "unit" (strict)`},
			{"skipped", &fakeFetcher{}, f.config("skip", func(c map[string]any) {
				c["trustPolicyDoc"] = map[string]any{"version": "1.0", "trustPolicies": []any{map[string]any{
					"name": "unit", "registryScopes": []string{"*"}, "signatureVerification": map[string]any{"level": "skip"}}}}
			}), true, trustpolicy.VerdictSkipped, `skipped: policy "unit" has level skip`},
			{"untrusted root", &fakeFetcher{}, f.config("strict", func(c map[string]any) { c["trustStores"] = map[string]string{"ca:test": string(otherRoot)} }),
				false, trustpolicy.VerdictFailed, "authenticity check failed: the signature's certificate chain does not contain any trusted certificate; fix: "},
			{"store not configured", &fakeFetcher{}, f.config("strict", func(c map[string]any) { c["trustStores"] = map[string]string{"ca:other": f.rootPEM} }),
				false, trustpolicy.VerdictFailed, "authenticity check failed: trust store ca:test: holds no certificate"},
			{"tampered envelope", &fakeFetcher{envelope: tampered}, f.config("strict", nil), false, trustpolicy.VerdictFailed, "integrity check failed"},
			{"subject size differs", &fakeFetcher{subject: &wrongSubject}, f.config("strict", nil), false, trustpolicy.VerdictFailed, "failed: " + f.ref()},
			{"registry down", &fakeFetcher{resolveErr: errors.New("connection refused")}, f.config("strict", nil), false, trustpolicy.VerdictFailed, "registry: connection refused; check that the artifact exists"},
			{"envelope missing", &fakeFetcher{fetchErr: errors.New("blob unknown\x1b[31m")}, f.config("strict", nil), false, trustpolicy.VerdictFailed, "signature " + f.sigDesc.Digest.String() + `: blob unknown\x1b[31m`},
		}
		for _, c := range cases {
			t.Run(mt+"/"+c.name, func(t *testing.T) {
				c.fetch.f = f
				c.fetch.mediaType = mt
				resp, perr := runWith(t, f, c.fetch, c.config)
				if perr != nil {
					t.Fatalf("protocol error: %v", perr)
				}
				if resp.IsSuccess != c.ok || resp.Extensions == nil || resp.Extensions.Verdict != c.verdict || !strings.Contains(resp.Message, c.want) {
					t.Fatalf("got isSuccess=%v verdict=%v message %q, want %v %v containing %q", resp.IsSuccess, resp.Extensions, resp.Message, c.ok, c.verdict, c.want)
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
					if e.Result == nil || len(e.Result.Chain) != 3 || e.SN != e.Result.Chain[0].Subject || e.Issuer != e.Result.Chain[0].Issuer {
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
			_, perr := runWith(t, f, &fakeFetcher{f: f}, f.config("strict", c.mut))
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
	resp, perr := runWith(t, f, &fakeFetcher{f: f}, f.config("strict", func(c map[string]any) { delete(c, "trustStores"); c["trustStorePath"] = dir }))
	if perr != nil || !resp.IsSuccess {
		t.Fatalf("got %v %+v", perr, resp)
	}
}

// TestVerifyTimeout: the whole verification runs under Config.Timeout.
func TestVerifyTimeout(t *testing.T) {
	f := newFixture(t, "application/cose")
	req, err := ParseRequest(f.env(), f.stdin(t, f.config("strict", func(c map[string]any) {
		c["timeout"] = "50ms"
		c["revocation"] = map[string]any{"ocspTimeout": "10ms", "crlTimeout": "10ms", "noDiskCache": true}
	})))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngine(req.Config, revocation.NonRevokableOnly())
	if err != nil {
		t.Fatal(err)
	}
	resp := Verify(context.Background(), req, eng, blockingFetcher{}, testNow)
	if resp.IsSuccess || !strings.Contains(resp.Message, context.DeadlineExceeded.Error()) {
		t.Fatalf("got %+v", resp)
	}
}

type blockingFetcher struct{}

func (blockingFetcher) Resolve(ctx context.Context, _ string) (ocispec.Descriptor, error) {
	<-ctx.Done()
	return ocispec.Descriptor{}, ctx.Err()
}

func (blockingFetcher) Envelope(context.Context, string, ocispec.Descriptor) (Signature, error) {
	return Signature{}, errors.New("unreachable")
}

// TestVerifyOtherArtifactType: a referrer that is not a notary signature
// (artifactTypes "*" in Ratify) fails with a message that says what to set,
// without touching the registry.
func TestVerifyOtherArtifactType(t *testing.T) {
	f := newFixture(t, "application/cose")
	stdin := strings.Replace(string(f.stdin(t, f.config("strict", nil))), `"artifactType":"application/vnd.cncf.notary.signature"`, `"artifactType":"application/spdx+json"`, 1)
	req, err := ParseRequest(f.env(), []byte(stdin))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngine(req.Config, revocation.NonRevokableOnly())
	if err != nil {
		t.Fatal(err)
	}
	resp := Verify(context.Background(), req, eng, blockingFetcher{}, testNow)
	if resp.IsSuccess || !strings.Contains(resp.Message, `has artifactType "application/spdx+json"; this verifier verifies Notary Project signatures only: set "artifactTypes": "application/vnd.cncf.notary.signature"`) {
		t.Fatalf("got %+v", resp)
	}
}
