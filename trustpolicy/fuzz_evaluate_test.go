package trustpolicy_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/notaryproject/notation-go"
	nsigner "github.com/notaryproject/notation-go/signer"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// FuzzEvaluate feeds arbitrary envelopes (COSE or JWS) through the engine and
// checks that it never panics, always returns a verdict that marshals, and
// never verifies an envelope that notation-go v1.3.2 rejects.
//
//	go test -run '^$' -fuzz FuzzEvaluate ./trustpolicy/
func FuzzEvaluate(f *testing.F) {
	fx := newBenchFixture(f, 1)
	jws := fx.sign(f, "application/jose+json")
	f.Add(true, fx.envelopes[0])
	f.Add(false, jws)
	f.Add(true, []byte{0xd2, 0x84})
	f.Add(false, []byte(`{"payload":"","protected":"","signature":""}`))
	e := fx.engine(f, 0)
	v := fx.notationVerifier(f)
	now := time.Now()
	f.Fuzz(func(t *testing.T, cose bool, envelope []byte) {
		mt := "application/jose+json"
		if cose {
			mt = "application/cose"
		}
		ref := fx.ref(0)
		r := e.Evaluate(context.Background(), trustpolicy.Input{Reference: ref, Descriptor: fx.desc, Envelope: envelope, MediaType: mt, Now: now})
		if r == nil || r.Verdict == "" {
			t.Fatalf("no verdict: %+v", r)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("result does not marshal: %v", err)
		}
		_ = r.Summary()
		_ = r.Explain()
		_, oerr := v.Verify(context.Background(), fx.desc, envelope, notation.VerifierVerifyOptions{ArtifactReference: ref, SignatureMediaType: mt})
		if (r.Verdict == trustpolicy.VerdictVerified) != (oerr == nil) {
			t.Fatalf("engine says %s (%s), notation-go says %v", r.Verdict, r.Error, oerr)
		}
	})
}

// sign signs the fixture's first descriptor again in the given format.
func (f *benchFixture) sign(tb testing.TB, mediaType string) []byte {
	tb.Helper()
	key, err := testpki.LoadSigner(filepath.Join("..", "testdata", "pki", "ec-256", "leaf.key"))
	if err != nil {
		tb.Fatal(err)
	}
	s, err := nsigner.NewGenericSigner(key, f.chain)
	if err != nil {
		tb.Fatal(err)
	}
	env, _, err := s.Sign(context.Background(), f.desc, notation.SignerSignOptions{SignatureMediaType: mediaType})
	if err != nil {
		tb.Fatal(err)
	}
	return env
}
