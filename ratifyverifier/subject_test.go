package ratifyverifier

import (
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// TestVerifySubjectAgreement: the artifact verified is the one
// RATIFY_VERIFIER_SUBJECT names. A registry that resolves a digest
// reference to another digest, or a signature manifest whose subject is
// another artifact, gives a failed verdict naming both digests, even when
// the envelope is a valid signature of the other artifact. The result names
// the digest actually verified, also for a tag.
func TestVerifySubjectAgreement(t *testing.T) {
	zero := "sha256:" + strings.Repeat("0", 64)
	cases := []struct {
		name string
		// setup prepares the registry (and f.sigDesc, the signature
		// manifest to verify) and returns the subject.
		setup func(t *testing.T, f *fixture) (subject string)
		ok    bool
		ref   func(f *fixture) string   // want Extensions.Reference
		want  func(f *fixture) []string // in the message
	}{
		{name: "registry answers another digest", setup: func(t *testing.T, f *fixture) string {
			other, _ := f.other(t)
			f.answerHead(f.subject.Digest.String(), other.Digest.String(), other.Size)
			return f.ref()
		}, want: func(f *fixture) []string {
			return []string{"failed: " + f.ref() + ": registry: resolve " + f.ref(), f.subject.Digest.String(), digest.FromBytes([]byte("another artifact")).String()}
		}},
		{name: "all-zero digest", setup: func(t *testing.T, f *fixture) string {
			f.answerHead(zero, zero, 1)
			return f.reg.Ref("app@" + zero)
		}, want: func(f *fixture) []string {
			return []string{"failed: the registry's answer for " + f.reg.Ref("app@"+zero) + ": invalid artifact descriptor: digest " + zero + " is all zeros", "nothing was verified"}
		}},
		{name: "manifest names another subject", setup: func(t *testing.T, f *fixture) string {
			other, env := f.other(t)
			f.sigDesc = f.reg.AddSignatureOf("app", f.subject, &other, f.mediaType, env)
			return f.ref()
		}, ref: (*fixture).ref, want: func(f *fixture) []string {
			other := digest.FromBytes([]byte("another artifact"))
			return []string{"failed: " + f.ref() + ": ", "subject digest mismatch: signature manifest " + f.sigDesc.Digest.String() + " names subject " + other.String() + ", but the artifact verified is " + f.subject.Digest.String(), "another artifact"}
		}},
		{name: "manifest names the subject", setup: func(_ *testing.T, f *fixture) string { return f.ref() }, ok: true, ref: (*fixture).ref,
			want: func(f *fixture) []string { return []string{"verified: " + f.ref()} }},
		{name: "tag", setup: func(_ *testing.T, f *fixture) string { return f.tag() }, ok: true, ref: (*fixture).ref,
			want: func(f *fixture) []string { return []string{"verified: " + f.ref() + " under policy"} }},
		{name: "tag moved", setup: func(t *testing.T, f *fixture) string {
			other, env := f.other(t)
			f.sigDesc = f.reg.AddSignatureOf("app", other, &other, f.mediaType, env)
			return f.tag()
		}, ref: (*fixture).ref, want: func(*fixture) []string {
			return []string{"names subject " + digest.FromBytes([]byte("another artifact")).String(), "the tag v1 may have moved since the signature was listed; verify by digest"}
		}},
		{name: "tag, envelope missing", setup: func(_ *testing.T, f *fixture) string {
			f.failBlobs("blob unknown")
			return f.tag()
		}, ref: (*fixture).ref, want: func(f *fixture) []string {
			return []string{"failed: " + f.ref() + `: unable to retrieve digital signature with digest "` + f.sigDesc.Digest.String() + `"`, "blob unknown"}
		}},
		{name: "tag resolves to an all-zero digest", setup: func(_ *testing.T, f *fixture) string {
			f.answerHead("v1", zero, 1)
			return f.tag()
		}, want: func(f *fixture) []string {
			return []string{"failed: the registry's answer for " + f.tag() + ": invalid artifact descriptor: digest " + zero + " is all zeros"}
		}},
		{name: "not a reference", setup: func(_ *testing.T, f *fixture) string { return "not a reference" },
			want: func(*fixture) []string {
				return []string{`failed: RATIFY_VERIFIER_SUBJECT "not a reference" is not a registry reference`}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, "application/cose")
			subject := c.setup(t, f)
			resp, perr := runStdin(t, envFor(subject), f.stdin(t, f.config("strict", nil)))
			if perr != nil {
				t.Fatalf("protocol error: %v", perr)
			}
			e := resp.Extensions
			ref := ""
			if c.ref != nil {
				ref = c.ref(f)
			}
			if resp.IsSuccess != c.ok || e == nil || e.Reference != ref {
				t.Fatalf("got isSuccess=%v extensions %+v message %q, want %v with reference %q", resp.IsSuccess, e, resp.Message, c.ok, ref)
			}
			for _, w := range c.want(f) {
				if !strings.Contains(resp.Message, w) {
					t.Errorf("message %q lacks %q", resp.Message, w)
				}
			}
			if !c.ok && (e.Verdict != trustpolicy.VerdictFailed || e.Error != resp.Message || e.Result != nil) {
				t.Errorf("a refused subject must fail before the engine runs: %+v", e)
			}
			if c.ok && (e.Result == nil || e.Result.Reference != ref) {
				t.Errorf("result reference: %+v", e.Result)
			}
		})
	}
}
