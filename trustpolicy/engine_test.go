package trustpolicy_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-go"
	nsigner "github.com/notaryproject/notation-go/signer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// The engine tests sign with the ec-256 chain of the test PKI: the leaf
// is valid 2025-01-01 to 2036-01-01, intermediate and root to 2046.
var (
	tpValidAt   = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tpExpiredAt = time.Date(2037, 1, 1, 0, 0, 0, 0, time.UTC) // leaf expired
)

// tpSigned is one signed artifact.
type tpSigned struct {
	chain    []*x509.Certificate
	desc     ocispec.Descriptor
	envelope []byte
}

func tpSign(t testing.TB, content string) tpSigned {
	t.Helper()
	dir := filepath.Join("..", "testdata", "pki", "ec-256")
	chain, err := testpki.LoadCertificates(filepath.Join(dir, "chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := testpki.LoadSigner(filepath.Join(dir, "leaf.key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := nsigner.NewGenericSigner(key, chain)
	if err != nil {
		t.Fatal(err)
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(content), Size: int64(len(content))}
	env, _, err := s.Sign(context.Background(), desc, notation.SignerSignOptions{SignatureMediaType: "application/cose"})
	if err != nil {
		t.Fatal(err)
	}
	return tpSigned{chain: chain, desc: desc, envelope: env}
}

// tpEngine compiles policy and trusts the chain's root in ca:test.
func tpEngine(t testing.TB, policy string, root *x509.Certificate, rev revocation.Checker, memo int) *trustpolicy.Engine {
	t.Helper()
	doc, err := trustpolicy.ParseDocument([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := trustpolicy.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	e, err := trustpolicy.New(trustpolicy.Config{
		Policy:      pol,
		Stores:      truststore.NewSet(map[truststore.Ref][]*x509.Certificate{{Type: truststore.TypeCA, Name: "test"}: {root}}),
		Revocation:  rev,
		MemoEntries: memo,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// tpStatement is one statement of a test policy: strict unless override
// says otherwise, store ca:test.
func tpStatement(name, scope, identity, override string) string {
	if override != "" {
		override = `,"override":{` + override + `}`
	}
	return fmt.Sprintf(`{"name":%q,"registryScopes":[%q],"signatureVerification":{"level":"strict"%s},"trustStores":["ca:test"],"trustedIdentities":[%q]}`,
		name, scope, override, identity)
}

func tpPolicy(statements ...string) string {
	out := `{"version":"1.0","trustPolicies":[`
	for i, s := range statements {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out + "]}"
}

func (s tpSigned) input(repo string, now time.Time) trustpolicy.Input {
	return trustpolicy.Input{
		Reference: repo + "@" + s.desc.Digest.String(), Descriptor: s.desc,
		Envelope: s.envelope, MediaType: "application/cose", Now: now,
	}
}

// TestEngineMemoAcrossTimeAndRules runs one Engine, memo on, over the same
// chain at different times and under different statements, in an order
// that would expose a time fact or a statement's fact left in the memo:
// the leaf's expiry flips from valid to expired and back, and statements
// that share the chain but differ in identity and overrides each get their
// own answer. Every result must equal a fresh engine's without memo.
func TestEngineMemoAcrossTimeAndRules(t *testing.T) {
	signed := tpSign(t, "memo artifact")
	root := signed.chain[len(signed.chain)-1]
	policy := tpPolicy(
		tpStatement("any", "registry.example/any", "*", ""),
		tpStatement("other-org", "registry.example/other", "x509.subject:C=US, ST=WA, O=Other", ""),
		tpStatement("log-expiry", "registry.example/log", "*", `"authenticTimestamp":"log"`),
	)
	rev := revocation.NonRevokableOnly()
	memo := tpEngine(t, policy, root, rev, 0)
	steps := []struct {
		repo    string
		now     time.Time
		verdict trustpolicy.Verdict
		failed  trustpolicy.ValidationType // the failed check, enforced or logged
	}{
		{"registry.example/any", tpValidAt, trustpolicy.VerdictVerified, ""},
		{"registry.example/any", tpExpiredAt, trustpolicy.VerdictFailed, trustpolicy.TypeAuthenticTimestamp},
		{"registry.example/any", tpValidAt, trustpolicy.VerdictVerified, ""},
		{"registry.example/other", tpValidAt, trustpolicy.VerdictFailed, trustpolicy.TypeAuthenticity},
		{"registry.example/any", tpValidAt, trustpolicy.VerdictVerified, ""},
		{"registry.example/log", tpExpiredAt, trustpolicy.VerdictVerified, trustpolicy.TypeAuthenticTimestamp},
		{"registry.example/any", tpExpiredAt, trustpolicy.VerdictFailed, trustpolicy.TypeAuthenticTimestamp},
		{"registry.example/other", tpExpiredAt, trustpolicy.VerdictFailed, trustpolicy.TypeAuthenticity},
		{"registry.example/log", tpValidAt, trustpolicy.VerdictVerified, ""},
	}
	for i, s := range steps {
		in := signed.input(s.repo, s.now)
		got := memo.Evaluate(context.Background(), in)
		want := tpEngine(t, policy, root, rev, -1).Evaluate(context.Background(), in)
		if g, w := tpJSON(t, got), tpJSON(t, want); g != w {
			t.Errorf("step %d (%s at %s): memo engine differs from a fresh one:\n got %s\nwant %s", i, s.repo, s.now.Format("2006"), g, w)
		}
		if got.Verdict != s.verdict {
			t.Errorf("step %d (%s at %s): verdict %s (%s), want %s", i, s.repo, s.now.Format("2006"), got.Verdict, got.Error, s.verdict)
		}
		for _, c := range got.Checks {
			if failed := c.Outcome == trustpolicy.OutcomeFailed; failed != (c.Type == s.failed) {
				t.Errorf("step %d (%s at %s): check %s is %s (%s)", i, s.repo, s.now.Format("2006"), c.Type, c.Outcome, c.Error)
			}
		}
		var ie *trustpolicy.IdentityError
		if isIdentity := errors.As(got.Err(), &ie); isIdentity != (s.failed == trustpolicy.TypeAuthenticity) {
			t.Errorf("step %d: Err() = %v, *IdentityError %v", i, got.Err(), isIdentity)
		}
	}
}

// TestEngineMemoConcurrent evaluates at both times from many goroutines
// through one Engine (run with -race): each answer depends on its own time.
func TestEngineMemoConcurrent(t *testing.T) {
	signed := tpSign(t, "concurrent artifact")
	e := tpEngine(t, tpPolicy(tpStatement("any", "registry.example/any", "*", "")), signed.chain[len(signed.chain)-1], revocation.NonRevokableOnly(), 0)
	const n = 16
	errs := make(chan error, n)
	for i := range n {
		go func() {
			now, want := tpValidAt, trustpolicy.VerdictVerified
			if i%2 == 1 {
				now, want = tpExpiredAt, trustpolicy.VerdictFailed
			}
			if got := e.Evaluate(context.Background(), signed.input("registry.example/any", now)); got.Verdict != want {
				errs <- fmt.Errorf("goroutine %d at %s: %s (%s), want %s", i, now.Format("2006"), got.Verdict, got.Error, want)
				return
			}
			errs <- nil
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestFixTravelsWithError: a failed Result's fix is the fix its error
// carries (Fix() string, as internal/cli.Fixer) and the failed check's;
// an inconclusive verdict has no Result fix, and its check keeps one.
func TestFixTravelsWithError(t *testing.T) {
	signed := tpSign(t, "fix artifact")
	root := signed.chain[len(signed.chain)-1]
	other := tpSign(t, "another artifact")
	policy := tpPolicy(
		tpStatement("any", "registry.example/any", "*", ""),
		tpStatement("other-org", "registry.example/other", "x509.subject:C=US, ST=WA, O=Other", ""),
	)
	e := tpEngine(t, policy, root, revocation.NonRevokableOnly(), 0)
	otherRoots, err := testpki.LoadCertificates(filepath.Join("..", "testdata", "pki", "ec-384", "root.crt"))
	if err != nil {
		t.Fatal(err)
	}
	noRoot := tpEngine(t, policy, otherRoots[0], revocation.NonRevokableOnly(), 0)
	noRevocation := tpEngine(t, policy, root, nil, 0)
	mismatch := signed.input("registry.example/any", tpValidAt)
	mismatch.Descriptor = other.desc
	mismatch.Reference = "registry.example/any@" + other.desc.Digest.String()
	tampered := signed.input("registry.example/any", tpValidAt)
	tampered.Envelope = append([]byte(nil), signed.envelope...)
	tampered.Envelope[len(tampered.Envelope)-1] ^= 1
	cases := []struct {
		name    string
		e       *trustpolicy.Engine
		in      trustpolicy.Input
		check   trustpolicy.ValidationType // "" for the final checks
		errType any                        // a pointer to the error type errors.As must find
	}{
		{"expired leaf", e, signed.input("registry.example/any", tpExpiredAt), trustpolicy.TypeAuthenticTimestamp, nil},
		{"identity", e, signed.input("registry.example/other", tpValidAt), trustpolicy.TypeAuthenticity, new(*trustpolicy.IdentityError)},
		{"untrusted", noRoot, signed.input("registry.example/any", tpValidAt), trustpolicy.TypeAuthenticity, new(*signature.SignatureAuthenticityError)},
		{"no revocation checker", noRevocation, signed.input("registry.example/any", tpValidAt), trustpolicy.TypeRevocation, nil},
		{"tampered", e, tampered, trustpolicy.TypeIntegrity, nil},
		{"descriptor mismatch", e, mismatch, "", nil},
		{"no applicable policy", e, signed.input("registry.example/none", tpValidAt), "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := c.e.Evaluate(context.Background(), c.in)
			if res.Verdict != trustpolicy.VerdictFailed {
				t.Fatalf("verdict %s (%s), want failed", res.Verdict, res.Error)
			}
			err := res.Err()
			var fixer interface{ Fix() string }
			if !errors.As(err, &fixer) || fixer.Fix() == "" {
				t.Fatalf("Err() = %v carries no fix", err)
			}
			if fixer.Fix() != res.Fix {
				t.Errorf("Err().Fix() = %q, Result.Fix = %q", fixer.Fix(), res.Fix)
			}
			if c.check != "" {
				if got := res.Check(c.check); got.Outcome != trustpolicy.OutcomeFailed || got.Fix != res.Fix {
					t.Errorf("check %s: %s, fix %q; Result.Fix %q", c.check, got.Outcome, got.Fix, res.Fix)
				}
				var ce *trustpolicy.CheckError
				if !errors.As(err, &ce) || ce.Type != c.check || !errors.Is(err, trustpolicy.ErrVerificationFailed) {
					t.Errorf("Err() = %#v, want a *CheckError of type %s", err, c.check)
				}
			}
			if c.errType != nil && !errors.As(err, c.errType) {
				t.Errorf("Err() = %v is not a %T", err, c.errType)
			}
		})
	}
	t.Run("select error", func(t *testing.T) {
		res := e.Evaluate(context.Background(), signed.input("registry.example/none", tpValidAt))
		if !errors.Is(res.Err(), trustpolicy.ErrNoApplicablePolicy) {
			t.Errorf("Err() = %v, want ErrNoApplicablePolicy", res.Err())
		}
	})
	t.Run("inconclusive", func(t *testing.T) {
		// No ca store holds anything for this signing scheme: inconclusive,
		// with the fix on the check only.
		pol := tpPolicy(`{"name":"tsa-only","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["tsa:test"],"trustedIdentities":["*"]}`)
		res := tpEngine(t, pol, root, revocation.NonRevokableOnly(), 0).Evaluate(context.Background(), signed.input("registry.example/any", tpValidAt))
		if res.Verdict != trustpolicy.VerdictInconclusive || !errors.Is(res.Err(), trustpolicy.ErrInconclusive) {
			t.Fatalf("verdict %s, Err() %v", res.Verdict, res.Err())
		}
		if res.Fix != "" || res.Check(trustpolicy.TypeAuthenticity).Fix == "" {
			t.Errorf("Result.Fix %q, authenticity fix %q", res.Fix, res.Check(trustpolicy.TypeAuthenticity).Fix)
		}
	})
}

func tpJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
