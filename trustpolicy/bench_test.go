package trustpolicy_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/notaryproject/notation-go"
	nsigner "github.com/notaryproject/notation-go/signer"
	"github.com/notaryproject/notation-go/verifier"
	ntp "github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	ours "github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// The benchmarks compare this engine with notation-go v1.3.2's verifier on
// identical inputs: a COSE envelope signed by an EC P-256 leaf, chain leaf ->
// intermediate -> root, the root in store ca:bench, identity "*",
// revocation skipped, in a warm process.
//
//	go test -run '^$' -bench . ./trustpolicy/
//
// BenchmarkRatios prints every ratio the README reports, measured in one run.

const benchRef = "registry.example/app@sha256:0000000000000000000000000000000000000000000000000000000000000000"

type benchFixture struct {
	chain     []*x509.Certificate
	desc      ocispec.Descriptor
	envelopes [][]byte // different artifacts, same chain
	descs     []ocispec.Descriptor
	docJSON   []byte
}

func newBenchFixture(tb testing.TB, n int) *benchFixture {
	tb.Helper()
	dir := filepath.Join("..", "testdata", "pki", "ec-256")
	chain, err := testpki.LoadCertificates(filepath.Join(dir, "chain.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	key, err := testpki.LoadSigner(filepath.Join(dir, "leaf.key"))
	if err != nil {
		tb.Fatal(err)
	}
	s, err := nsigner.NewGenericSigner(key, chain)
	if err != nil {
		tb.Fatal(err)
	}
	f := &benchFixture{chain: chain}
	for i := 0; i < n; i++ {
		content := fmt.Appendf(nil, "artifact %d", i)
		desc := ocispec.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: digest.FromBytes(content), Size: int64(len(content))}
		env, _, err := s.Sign(context.Background(), desc, notation.SignerSignOptions{SignatureMediaType: "application/cose"})
		if err != nil {
			tb.Fatal(err)
		}
		f.envelopes = append(f.envelopes, env)
		f.descs = append(f.descs, desc)
	}
	f.desc = f.descs[0]
	f.docJSON = []byte(`{"version":"1.0","trustPolicies":[{"name":"bench","registryScopes":["*"],
		"signatureVerification":{"level":"strict","override":{"revocation":"skip"}},
		"trustStores":["ca:bench"],"trustedIdentities":["*"]}]}`)
	return f
}

func (f *benchFixture) ref(i int) string {
	return "registry.example/app@" + f.descs[i].Digest.String()
}

// memStore is notation-go's trust store interface over memory.
type memStore map[string][]*x509.Certificate

func (m memStore) GetCertificates(_ context.Context, t truststore.Type, name string) ([]*x509.Certificate, error) {
	return m[string(t)+":"+name], nil
}

func (f *benchFixture) notationVerifier(tb testing.TB) notation.Verifier {
	tb.Helper()
	doc := &ntp.Document{
		Version: "1.0",
		TrustPolicies: []ntp.TrustPolicy{{
			Name:                  "bench",
			RegistryScopes:        []string{"*"},
			SignatureVerification: ntp.SignatureVerification{VerificationLevel: "strict", Override: map[ntp.ValidationType]ntp.ValidationAction{ntp.TypeRevocation: ntp.ActionSkip}},
			TrustStores:           []string{"ca:bench"},
			TrustedIdentities:     []string{"*"},
		}},
	}
	v, err := verifier.New(doc, memStore{"ca:bench": {f.chain[2]}}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func (f *benchFixture) engine(tb testing.TB, memo int) *trustpolicy.Engine {
	tb.Helper()
	doc, err := trustpolicy.ParseDocument(f.docJSON)
	if err != nil {
		tb.Fatal(err)
	}
	pol, err := trustpolicy.Compile(doc)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := trustpolicy.New(trustpolicy.Config{
		Policy:      pol,
		Stores:      ours.NewSet(map[ours.Ref][]*x509.Certificate{{Type: ours.TypeCA, Name: "bench"}: {f.chain[2]}}),
		MemoEntries: memo,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// An op is one verification (or one unit of crypto) for iteration i; the
// constructors do the setup outside the measured loop.
type op func(i int)

func notationOp(tb testing.TB, f *benchFixture) op {
	v := f.notationVerifier(tb)
	ctx := context.Background()
	return func(i int) {
		j := i % len(f.envelopes)
		if _, err := v.Verify(ctx, f.descs[j], f.envelopes[j], notation.VerifierVerifyOptions{ArtifactReference: f.ref(j), SignatureMediaType: "application/cose"}); err != nil {
			tb.Fatal(err)
		}
	}
}

func engineOp(tb testing.TB, f *benchFixture, memo int) op {
	e := f.engine(tb, memo)
	ctx := context.Background()
	now := time.Now()
	return func(i int) {
		j := i % len(f.envelopes)
		r := e.Evaluate(ctx, trustpolicy.Input{Reference: f.ref(j), Descriptor: f.descs[j], Envelope: f.envelopes[j], MediaType: "application/cose", Now: now})
		if r.Verdict != trustpolicy.VerdictVerified {
			tb.Fatal(r.Summary())
		}
	}
}

// ecdsaOp is one ECDSA P-256 verification of a certificate's signature, the
// unit of the crypto floor.
func ecdsaOp(tb testing.TB, f *benchFixture) op {
	leaf, inter := f.chain[0], f.chain[1]
	pub := inter.PublicKey.(*ecdsa.PublicKey)
	sum := sha256.Sum256(leaf.RawTBSCertificate)
	return func(int) {
		if !ecdsa.VerifyASN1(pub, sum[:], leaf.Signature) {
			tb.Fatal("bad signature")
		}
	}
}

// floorOp is the signature verifications the checks need for one signature
// when nothing is memoized: the envelope signature (leaf key) and the chain
// signatures leaf<-intermediate, intermediate<-root, root<-root.
func floorOp(tb testing.TB, f *benchFixture) op {
	type pair struct {
		pub *ecdsa.PublicKey
		sum []byte
		sig []byte
	}
	var ops []pair
	for i, c := range f.chain {
		issuer := c
		if i+1 < len(f.chain) {
			issuer = f.chain[i+1]
		}
		s := sha256.Sum256(c.RawTBSCertificate)
		ops = append(ops, pair{issuer.PublicKey.(*ecdsa.PublicKey), s[:], c.Signature})
	}
	// The envelope signature: an ECDSA signature by the leaf key over a
	// digest, the same cost as verifying a certificate signature.
	key, err := testpki.LoadSigner(filepath.Join("..", "testdata", "pki", "ec-256", "leaf.key"))
	if err != nil {
		tb.Fatal(err)
	}
	d := sha256.Sum256([]byte("envelope"))
	sig, err := key.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		tb.Fatal(err)
	}
	ops = append(ops, pair{f.chain[0].PublicKey.(*ecdsa.PublicKey), d[:], sig})
	return func(int) {
		for _, op := range ops {
			if !ecdsa.VerifyASN1(op.pub, op.sum, op.sig) {
				tb.Fatal("bad signature")
			}
		}
	}
}

func loop(b *testing.B, o op) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		o(i)
	}
}

func BenchmarkNotationGo(b *testing.B)   { loop(b, notationOp(b, newBenchFixture(b, 1))) }
func BenchmarkEngineCold(b *testing.B)   { loop(b, engineOp(b, newBenchFixture(b, 1), -1)) }
func BenchmarkEngineWarm(b *testing.B)   { loop(b, engineOp(b, newBenchFixture(b, 1), 0)) }
func BenchmarkEngineMany(b *testing.B)   { loop(b, engineOp(b, newBenchFixture(b, 256), 0)) }
func BenchmarkCryptoFloor(b *testing.B)  { loop(b, floorOp(b, newBenchFixture(b, 1))) }
func BenchmarkECDSAP256(b *testing.B)    { loop(b, ecdsaOp(b, newBenchFixture(b, 1))) }
func BenchmarkNotationMany(b *testing.B) { loop(b, notationOp(b, newBenchFixture(b, 256))) }

// BenchmarkSelect10k selects a policy among 10,000 statements.
func BenchmarkSelect10k(b *testing.B) {
	doc := &trustpolicy.Document{Version: "1.0"}
	for i := 0; i < 10000; i++ {
		doc.TrustPolicies = append(doc.TrustPolicies, trustpolicy.Statement{
			Name:                  fmt.Sprintf("p%d", i),
			RegistryScopes:        []string{fmt.Sprintf("registry.example/team%d/app", i)},
			SignatureVerification: trustpolicy.SignatureVerification{Level: "strict"},
			TrustStores:           []string{"ca:bench"},
			TrustedIdentities:     []string{"*"},
		})
	}
	pol, err := trustpolicy.Compile(doc)
	if err != nil {
		b.Fatal(err)
	}
	refs := make([]string, 1024)
	for i := range refs {
		refs[i] = fmt.Sprintf("registry.example/team%d/app@sha256:%064x", (i*7919)%10000, i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := pol.Select(refs[i%len(refs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRatios measures every variant in one run, interleaved in rounds so
// that load on the machine affects them alike, and reports the ratios the
// README quotes. testing.Benchmark cannot run inside a benchmark (it waits
// for the lock the outer one holds), so each variant is timed over a fixed
// number of iterations per round.
//
//	go test -run '^$' -bench Ratios -benchtime 1x ./trustpolicy/
func BenchmarkRatios(b *testing.B) {
	f1 := newBenchFixture(b, 1)
	fm := newBenchFixture(b, 256)
	names := []string{"notation", "cold", "warm", "many", "floor", "ecdsa"}
	ops := []op{notationOp(b, f1), engineOp(b, f1, -1), engineOp(b, f1, 0), engineOp(b, fm, 0), floorOp(b, f1), ecdsaOp(b, f1)}
	const rounds, perRound = 5, 400
	for b.Loop() {
		total := make([]time.Duration, len(ops))
		for _, o := range ops {
			for i := range 300 { // warm up: fills the memo (256 chains' artifacts), the caches, the heap
				o(i)
			}
		}
		for range rounds {
			for k, o := range ops {
				start := time.Now()
				for i := range perRound {
					o(i)
				}
				total[k] += time.Since(start)
			}
		}
		us := map[string]float64{}
		for k, n := range names {
			us[n] = float64(total[k].Nanoseconds()) / float64(rounds*perRound) / 1e3
			b.ReportMetric(us[n], n+"-µs/op")
		}
		b.ReportMetric(us["notation"]/us["warm"], "speedup-warm-x")
		b.ReportMetric(us["notation"]/us["cold"], "speedup-cold-x")
		b.ReportMetric(us["cold"]/us["floor"], "cold/floor")
		b.ReportMetric(us["many"]/us["ecdsa"], "many/ecdsa")
	}
}
