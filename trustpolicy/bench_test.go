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

func benchNotation(f *benchFixture) func(b *testing.B) {
	return func(b *testing.B) {
		v := f.notationVerifier(b)
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			j := i % len(f.envelopes)
			if _, err := v.Verify(ctx, f.descs[j], f.envelopes[j], notation.VerifierVerifyOptions{ArtifactReference: f.ref(j), SignatureMediaType: "application/cose"}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func benchEngine(f *benchFixture, memo int) func(b *testing.B) {
	return func(b *testing.B) {
		e := f.engine(b, memo)
		ctx := context.Background()
		now := time.Now()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			j := i % len(f.envelopes)
			r := e.Evaluate(ctx, trustpolicy.Input{Reference: f.ref(j), Descriptor: f.descs[j], Envelope: f.envelopes[j], MediaType: "application/cose", Now: now})
			if r.Verdict != trustpolicy.VerdictVerified {
				b.Fatal(r.Summary())
			}
		}
	}
}

// ecdsaVerify is one ECDSA P-256 verification of a certificate's signature,
// the unit of the crypto floor.
func ecdsaVerify(f *benchFixture) func(b *testing.B) {
	leaf, inter := f.chain[0], f.chain[1]
	pub := inter.PublicKey.(*ecdsa.PublicKey)
	sum := sha256.Sum256(leaf.RawTBSCertificate)
	return func(b *testing.B) {
		for b.Loop() {
			if !ecdsa.VerifyASN1(pub, sum[:], leaf.Signature) {
				b.Fatal("bad signature")
			}
		}
	}
}

// cryptoFloor is the signature verifications the checks need for one
// signature when nothing is memoized: the envelope signature (leaf key) and
// the chain signatures leaf<-intermediate, intermediate<-root, root<-root.
func cryptoFloor(f *benchFixture) func(b *testing.B) {
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
		panic(err)
	}
	d := sha256.Sum256([]byte("envelope"))
	sig, err := key.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		panic(err)
	}
	ops = append(ops, pair{f.chain[0].PublicKey.(*ecdsa.PublicKey), d[:], sig})
	return func(b *testing.B) {
		for b.Loop() {
			for _, op := range ops {
				if !ecdsa.VerifyASN1(op.pub, op.sum, op.sig) {
					b.Fatal("bad signature")
				}
			}
		}
	}
}

func BenchmarkNotationGo(b *testing.B)   { benchNotation(newBenchFixture(b, 1))(b) }
func BenchmarkEngineCold(b *testing.B)   { benchEngine(newBenchFixture(b, 1), -1)(b) }
func BenchmarkEngineWarm(b *testing.B)   { benchEngine(newBenchFixture(b, 1), 0)(b) }
func BenchmarkEngineMany(b *testing.B)   { benchEngine(newBenchFixture(b, 256), 0)(b) }
func BenchmarkCryptoFloor(b *testing.B)  { cryptoFloor(newBenchFixture(b, 1))(b) }
func BenchmarkECDSAP256(b *testing.B)    { ecdsaVerify(newBenchFixture(b, 1))(b) }
func BenchmarkNotationMany(b *testing.B) { benchNotation(newBenchFixture(b, 256))(b) }

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

// BenchmarkRatios measures every variant in one run and reports the ratios
// the README quotes. Each sub-measurement is a full testing.Benchmark.
func BenchmarkRatios(b *testing.B) {
	f1 := newBenchFixture(b, 1)
	fm := newBenchFixture(b, 256)
	ns := func(fn func(*testing.B)) float64 { return float64(testing.Benchmark(fn).NsPerOp()) }
	for b.Loop() {
		notationNs := ns(benchNotation(f1))
		cold := ns(benchEngine(f1, -1))
		warm := ns(benchEngine(f1, 0))
		many := ns(benchEngine(fm, 0))
		floor := ns(cryptoFloor(f1))
		one := ns(ecdsaVerify(f1))
		b.ReportMetric(notationNs/1e3, "notation-µs/op")
		b.ReportMetric(cold/1e3, "cold-µs/op")
		b.ReportMetric(warm/1e3, "warm-µs/op")
		b.ReportMetric(many/1e3, "many-µs/op")
		b.ReportMetric(floor/1e3, "floor-µs/op")
		b.ReportMetric(one/1e3, "ecdsa-µs/op")
		b.ReportMetric(notationNs/warm, "speedup-warm-x")
		b.ReportMetric(notationNs/cold, "speedup-cold-x")
		b.ReportMetric(cold/floor, "cold/floor")
		b.ReportMetric(many/one, "many/ecdsa")
	}
}
