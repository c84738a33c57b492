package ratifyverifier

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// TestVerifySubjectAgreement: the artifact verified is the one
// RATIFY_VERIFIER_SUBJECT names. A registry that resolves a digest
// reference to another digest, or a signature manifest whose subject is
// another artifact, gives a failed verdict naming both digests, even when
// the envelope is a valid signature of the other artifact. The result names
// the digest actually verified, also for a tag.
func TestVerifySubjectAgreement(t *testing.T) {
	f := newFixture(t, "application/cose")
	other, otherEnv := f.signed(t, "another artifact")
	tag := testRepo + ":v1"
	zero := testRepo + "@sha256:" + strings.Repeat("0", 64)
	zeroDesc := ocispec.Descriptor{MediaType: f.subject.MediaType, Digest: digest.Digest("sha256:" + strings.Repeat("0", 64)), Size: 1}
	cases := []struct {
		name    string
		subject string
		fetch   *fakeFetcher
		ok      bool
		ref     string   // want Extensions.Reference
		want    []string // in the message
	}{
		{name: "registry answers another digest", subject: f.ref(), fetch: &fakeFetcher{subject: &other, envelope: otherEnv},
			want: []string{"failed: " + f.ref() + ": subject digest mismatch: the registry resolved " + f.subject.Digest.String() + " to " + other.Digest.String()}},
		{name: "all-zero digest", subject: zero, fetch: &fakeFetcher{ref: zero},
			want: []string{"subject digest mismatch", "sha256:" + strings.Repeat("0", 64) + " to " + f.subject.Digest.String()}},
		{name: "manifest names another subject", subject: f.ref(), fetch: &fakeFetcher{sigSubject: &other}, ref: f.ref(),
			want: []string{"failed: " + f.ref() + ": subject digest mismatch: signature manifest " + f.sigDesc.Digest.String() + " names subject " + other.Digest.String() + ", but the artifact verified is " + f.subject.Digest.String(), "another artifact"}},
		{name: "manifest names the subject", subject: f.ref(), fetch: &fakeFetcher{sigSubject: &f.subject}, ok: true, ref: f.ref(),
			want: []string{"verified: " + f.ref()}},
		{name: "tag", subject: tag, fetch: &fakeFetcher{ref: tag}, ok: true, ref: f.ref(),
			want: []string{"verified: " + f.ref() + " under policy"}},
		{name: "tag moved", subject: tag, fetch: &fakeFetcher{ref: tag, sigSubject: &other}, ref: f.ref(),
			want: []string{"names subject " + other.Digest.String(), "the tag v1 may have moved since Ratify resolved it; verify by digest"}},
		{name: "tag, envelope missing", subject: tag, fetch: &fakeFetcher{ref: tag, fetchErr: errors.New("blob unknown")}, ref: f.ref(),
			want: []string{"failed: " + f.ref() + ": signature " + f.sigDesc.Digest.String() + ": blob unknown"}},
		{name: "tag resolves to an all-zero digest", subject: tag, fetch: &fakeFetcher{ref: tag, subject: &zeroDesc},
			want: []string{"failed: " + tag + ": the registry's answer cannot be verified: invalid artifact descriptor: digest sha256:" + strings.Repeat("0", 64) + " is all zeros"}},
		{name: "not a reference", subject: "not a reference", fetch: &fakeFetcher{},
			want: []string{`failed: RATIFY_VERIFIER_SUBJECT "not a reference" is not a registry reference`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fetch.f = f
			env := map[string]string{EnvCommand: CommandVerify, EnvVersion: Version100, EnvSubject: c.subject}
			resp, perr := runEnv(t, func(k string) string { return env[k] }, f, c.fetch, f.config("strict", nil))
			if perr != nil {
				t.Fatalf("protocol error: %v", perr)
			}
			e := resp.Extensions
			if resp.IsSuccess != c.ok || e == nil || e.Reference != c.ref {
				t.Fatalf("got isSuccess=%v extensions %+v message %q, want %v with reference %q", resp.IsSuccess, e, resp.Message, c.ok, c.ref)
			}
			for _, w := range c.want {
				if !strings.Contains(resp.Message, w) {
					t.Errorf("message %q lacks %q", resp.Message, w)
				}
			}
			if !c.ok && (e.Verdict != trustpolicy.VerdictFailed || e.Error != resp.Message || e.Result != nil) {
				t.Errorf("a refused subject must fail before the engine runs: %+v", e)
			}
			if c.ok && (e.Result == nil || e.Result.Reference != c.ref) {
				t.Errorf("result reference: %+v", e.Result)
			}
		})
	}
}

// TestRegistryFetcherSubject: the signature manifest's subject reaches the
// caller as it is.
func TestRegistryFetcherSubject(t *testing.T) {
	subject := manifestWith()
	env := []byte("envelope bytes")
	envDesc := ocispec.Descriptor{MediaType: "application/cose", Digest: digest.FromBytes(env), Size: int64(len(env))}
	other := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes([]byte("other")), Size: 5}
	for _, s := range []*ocispec.Descriptor{nil, &other} {
		sig, err := fetchFrom(t, &testRegistry{subject: subject, sigManifest: manifestWithSubject(s, envDesc), envelope: env})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case s == nil && sig.Subject != nil:
			t.Errorf("no subject in the manifest, got %+v", sig.Subject)
		case s != nil && (sig.Subject == nil || sig.Subject.Digest != s.Digest || sig.Subject.Size != s.Size):
			t.Errorf("got subject %+v, want %+v", sig.Subject, s)
		}
	}
}
