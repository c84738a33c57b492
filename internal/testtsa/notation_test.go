package testtsa_test

// Round trips through notation-go v1.3.2: sign with its GenericSigner and a
// *testtsa.TSA as Timestamper, verify with its verifier under a policy that
// lists a "tsa" trust store. Everything is in memory: an in-memory trust
// store and fake revocation validators, so no file system state and no
// network.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/result"
	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/signer"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	"github.com/notaryproject/tspclient-go"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testtsa"
)

const (
	mediaTypeJWS  = "application/jose+json"
	mediaTypeCOSE = "application/cose"
)

// artifact is the descriptor every test signs.
func artifact() ocispec.Descriptor {
	return ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageManifest,
		Digest:    digest.FromString("testtsa artifact"),
		Size:      16,
	}
}

// memStore is an in-memory truststore.X509TrustStore.
type memStore map[truststore.Type]map[string][]*x509.Certificate

func (m memStore) GetCertificates(_ context.Context, typ truststore.Type, name string) ([]*x509.Certificate, error) {
	certs, ok := m[typ][name]
	if !ok {
		return nil, truststore.TrustStoreError{Msg: fmt.Sprintf("the trust store %q of type %q does not exist", name, typ)}
	}
	return certs, nil
}

// fakeRevocation answers every certificate with the same result.
type fakeRevocation struct{ result result.Result }

func (f fakeRevocation) ValidateContext(_ context.Context, opts revocation.ValidateContextOptions) ([]*result.CertRevocationResult, error) {
	out := make([]*result.CertRevocationResult, len(opts.CertChain))
	for i := range out {
		out[i] = &result.CertRevocationResult{Result: f.result}
	}
	return out, nil
}

// codeSigningChain returns a fresh P-256 leaf key and the chain leaf, root.
// The leaf is valid [notBefore, notAfter]; the root 2000-2100.
func codeSigningChain(t *testing.T, notBefore, notAfter time.Time) (crypto.Signer, []*x509.Certificate) {
	t.Helper()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	name := func(cn string) pkix.Name {
		return pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"testtsa"}, CommonName: cn}
	}
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(100), Subject: name("code signing root"),
		NotBefore: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(101), Subject: name("code signing leaf"),
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, leafKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		t.Fatal(err)
	}
	return leafKey, []*x509.Certificate{leaf, root}
}

// notationSign signs artifact() with notation-go's GenericSigner; tsa may be
// nil for no timestamp.
func notationSign(t *testing.T, key crypto.Signer, chain []*x509.Certificate, tsa *testtsa.TSA, mediaType string) ([]byte, *signature.SignerInfo, error) {
	t.Helper()
	s, err := signer.NewGenericSigner(key, chain)
	if err != nil {
		t.Fatal(err)
	}
	opts := notation.SignerSignOptions{SignatureMediaType: mediaType}
	if tsa != nil {
		opts.Timestamper, opts.TSARootCAs = tsa, tsa.RootPool()
	}
	return s.Sign(t.Context(), artifact(), opts)
}

// verifySetup is what notationVerify needs besides the signature.
type verifySetup struct {
	codeSigningRoot *x509.Certificate
	tsaRoot         *x509.Certificate // nil: the policy lists no "tsa" store
	verification    trustpolicy.SignatureVerification
	tsaRevocation   *result.Result // nil: ResultOK
}

// notationVerify verifies sig for artifact() with notation-go's verifier.
func notationVerify(t *testing.T, sig []byte, mediaType string, vs verifySetup) (*notation.VerificationOutcome, error) {
	t.Helper()
	stores := memStore{truststore.TypeCA: {"test": {vs.codeSigningRoot}}}
	policyStores := []string{"ca:test"}
	if vs.tsaRoot != nil {
		stores[truststore.TypeTSA] = map[string][]*x509.Certificate{"test": {vs.tsaRoot}}
		policyStores = append(policyStores, "tsa:test")
	}
	if vs.verification.VerificationLevel == "" {
		vs.verification.VerificationLevel = trustpolicy.LevelStrict.Name
	}
	doc := &trustpolicy.Document{
		Version: "1.0",
		TrustPolicies: []trustpolicy.TrustPolicy{{
			Name:                  "testtsa",
			RegistryScopes:        []string{"*"},
			SignatureVerification: vs.verification,
			TrustStores:           policyStores,
			TrustedIdentities:     []string{"*"},
		}},
	}
	tsaRevocation := fakeRevocation{result.ResultOK}
	if vs.tsaRevocation != nil {
		tsaRevocation.result = *vs.tsaRevocation
	}
	v, err := verifier.NewWithOptions(doc, stores, nil, verifier.VerifierOptions{
		RevocationCodeSigningValidator:  fakeRevocation{result.ResultOK},
		RevocationTimestampingValidator: tsaRevocation,
	})
	if err != nil {
		t.Fatal(err)
	}
	desc := artifact()
	return v.Verify(t.Context(), desc, sig, notation.VerifierVerifyOptions{
		ArtifactReference:  "registry.test/testtsa@" + desc.Digest.String(),
		SignatureMediaType: mediaType,
	})
}

// timestampResult returns the authenticTimestamp result of outcome.
func timestampResult(t *testing.T, outcome *notation.VerificationOutcome) *notation.ValidationResult {
	t.Helper()
	if outcome == nil {
		t.Fatal("nil outcome")
	}
	for _, r := range outcome.VerificationResults {
		if r.Type == trustpolicy.TypeAuthenticTimestamp {
			return r
		}
	}
	t.Fatalf("no authenticTimestamp result in %+v", outcome.VerificationResults)
	return nil
}

func mustPass(t *testing.T, outcome *notation.VerificationOutcome, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if r := timestampResult(t, outcome); r.Error != nil {
		t.Fatalf("authenticTimestamp: %v", r.Error)
	}
}

func mustFail(t *testing.T, outcome *notation.VerificationOutcome, err error, substr string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), substr) {
		t.Fatalf("verify error = %v, want one containing %q", err, substr)
	}
	if r := timestampResult(t, outcome); r.Error == nil || !strings.Contains(r.Error.Error(), substr) {
		t.Fatalf("authenticTimestamp result = %v, want an error containing %q", r.Error, substr)
	}
	t.Logf("rejected as expected: %v", err)
}

// TestNotationRoundTrip: a timestamped JWS and COSE signature verifies under
// strict with a tsa store, and the countersignature is the TSA's.
func TestTSANotationRoundTrip(t *testing.T) {
	now := time.Now()
	key, chain := codeSigningChain(t, now.Add(-time.Hour), now.Add(time.Hour))
	for _, mt := range []string{mediaTypeJWS, mediaTypeCOSE} {
		t.Run(mt, func(t *testing.T) {
			tsa := newTSA(t, testtsa.Options{Accuracy: time.Second})
			sig, info, err := notationSign(t, key, chain, tsa, mt)
			if err != nil {
				t.Fatal(err)
			}
			if tsa.Issued() != 1 {
				t.Fatalf("TSA issued %d tokens, want 1", tsa.Issued())
			}
			// The countersignature stamps the signature bytes.
			ts, _, err := verifyToken(t.Context(), info.UnsignedAttributes.TimestampSignature, info.Signature, tsa.RootPool())
			if err != nil {
				t.Fatalf("countersignature: %v", err)
			}
			if d := ts.Value.Sub(now); d < 0 || d > time.Minute {
				t.Errorf("genTime %v is not just after %v", ts.Value, now)
			}
			outcome, err := notationVerify(t, sig, mt, verifySetup{codeSigningRoot: chain[1], tsaRoot: tsa.Root()})
			mustPass(t, outcome, err)
		})
	}
}

// TestNotationExpiredCertRescued signs with notation-go's own signer while
// the certificate is valid, waits until it has expired, then verifies: under
// strict, a timestamp inside the validity rescues it; without a tsa store
// (no timestamp verification) the same signature fails.
func TestTSANotationExpiredCertRescued(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	notAfter := now.Add(2 * time.Second)
	key, chain := codeSigningChain(t, now.Add(-time.Hour), notAfter)
	tsa := newTSA(t, testtsa.Options{}) // genTime = time.Now
	sig, _, err := notationSign(t, key, chain, tsa, mediaTypeJWS)
	if err != nil {
		t.Fatal(err)
	}
	if wait := time.Until(notAfter) + 50*time.Millisecond; wait > 0 {
		time.Sleep(wait) // the only way past notation's time.Now: let it expire
	}
	outcome, err := notationVerify(t, sig, mediaTypeJWS, verifySetup{codeSigningRoot: chain[1], tsaRoot: tsa.Root()})
	mustPass(t, outcome, err)

	outcome, err = notationVerify(t, sig, mediaTypeJWS, verifySetup{codeSigningRoot: chain[1]})
	mustFail(t, outcome, err, "verification time is after certificate")

	// verifyTimestamp afterCertExpiry: the certificate has expired, so the
	// timestamp is checked, and it rescues the signature too.
	outcome, err = notationVerify(t, sig, mediaTypeJWS, verifySetup{codeSigningRoot: chain[1], tsaRoot: tsa.Root(),
		verification: trustpolicy.SignatureVerification{VerificationLevel: "strict", VerifyTimestamp: trustpolicy.OptionAfterCertExpiry}})
	mustPass(t, outcome, err)
}

// TestNotationLongExpiredCertRescued: a certificate that expired years ago,
// signed at a time inside its validity and stamped then. notation-go's
// GenericSigner always signs at time.Now, so this signs with notation-core-go
// directly (the envelope code GenericSigner uses) and a chosen signing time.
func TestTSANotationLongExpiredCertRescued(t *testing.T) {
	notBefore, notAfter := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	signedAt := time.Date(2020, 6, 1, 12, 0, 0, 0, time.UTC)
	key, chain := codeSigningChain(t, notBefore, notAfter)
	for _, tc := range []struct {
		name    string
		genTime time.Time
		want    string // "" for pass
	}{
		{"inside", signedAt.Add(time.Minute), ""},
		{"after-expiry", notAfter.Add(time.Hour), "timestamp can be after certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tsa := newTSA(t, testtsa.Options{Clock: fixed(tc.genTime)})
			sig := coreSign(t, key, chain, signedAt, tsa)
			outcome, err := notationVerify(t, sig, mediaTypeJWS, verifySetup{codeSigningRoot: chain[1], tsaRoot: tsa.Root()})
			if tc.want == "" {
				mustPass(t, outcome, err)
				return
			}
			mustFail(t, outcome, err, tc.want)
		})
	}
}

// coreSign builds a JWS signature of artifact() signed at signingTime, as
// notation-go's GenericSigner would but without its time.Now.
func coreSign(t *testing.T, key crypto.Signer, chain []*x509.Certificate, signingTime time.Time, tsa *testtsa.TSA) []byte {
	t.Helper()
	payload, err := json.Marshal(map[string]any{"targetArtifact": artifact()})
	if err != nil {
		t.Fatal(err)
	}
	local, err := signature.NewLocalSigner(chain, key)
	if err != nil {
		t.Fatal(err)
	}
	env, err := signature.NewEnvelope(mediaTypeJWS)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := env.Sign(&signature.SignRequest{
		Payload:       signature.Payload{ContentType: "application/vnd.cncf.notary.payload.v1+json", Content: payload},
		Signer:        local,
		SigningTime:   signingTime,
		SigningScheme: signature.SigningSchemeX509,
		SigningAgent:  "testtsa",
		Timestamper:   tsa,
		TSARootCAs:    tsa.RootPool(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// TestNotationTimestampOutsideValidity moves genTime (± accuracy) across the
// signing certificate's validity bounds. Bounds are inclusive.
func TestTSANotationTimestampOutsideValidity(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	notBefore, notAfter := now.Add(-time.Hour), now.Add(time.Hour)
	key, chain := codeSigningChain(t, notBefore, notAfter)
	const before, after = "timestamp can be before certificate", "timestamp can be after certificate"
	for _, tc := range []struct {
		name    string
		genTime time.Time
		opts    testtsa.Options
		want    string // "" for pass
	}{
		{"before", notBefore.Add(-time.Second), testtsa.Options{}, before},
		{"long-before", notBefore.AddDate(-1, 0, 0), testtsa.Options{}, before},
		{"at-notBefore", notBefore, testtsa.Options{}, ""},
		{"accuracy-reaches-before", notBefore.Add(500 * time.Millisecond), testtsa.Options{Accuracy: time.Second}, before},
		{"at-notAfter", notAfter, testtsa.Options{}, ""},
		{"1ns-after", notAfter.Add(time.Nanosecond), testtsa.Options{}, after},
		{"after", notAfter.Add(time.Second), testtsa.Options{}, after},
		{"long-after", notAfter.AddDate(5, 0, 0), testtsa.Options{}, after},
		{"accuracy-reaches-after", notAfter.Add(-time.Second), testtsa.Options{Accuracy: 2 * time.Second}, after},
		{"accuracy-inside", notAfter.Add(-2 * time.Second), testtsa.Options{Accuracy: 2 * time.Second}, ""},
		// The RFC 3628 baseline policy without accuracy means ±1 s.
		{"baseline-at-notAfter", notAfter, testtsa.Options{Policy: testtsa.BaselinePolicy()}, after},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Clock = fixed(tc.genTime)
			tsa := newTSA(t, tc.opts)
			sig, _, err := notationSign(t, key, chain, tsa, mediaTypeJWS)
			if err != nil {
				t.Fatalf("sign: %v", err) // the signer does not compare genTime with the certificate
			}
			outcome, err := notationVerify(t, sig, mediaTypeJWS, verifySetup{codeSigningRoot: chain[1], tsaRoot: tsa.Root()})
			if tc.want == "" {
				mustPass(t, outcome, err)
				return
			}
			mustFail(t, outcome, err, tc.want)
		})
	}
}

// TestNotationRejectsBadTokens swaps the JWS countersignature (an unsigned
// header, so the signature stays intact) for a token from a misbehaving TSA
// over the same signature bytes, and checks what notation-go's verifier says.
// It also records which bad TSAs notation-go's signer already refuses.
func TestTSANotationRejectsBadTokens(t *testing.T) {
	now := time.Now()
	key, chain := codeSigningChain(t, now.Add(-time.Hour), now.Add(time.Hour))
	good := newTSA(t, testtsa.Options{})
	sig, info, err := notationSign(t, key, chain, good, mediaTypeJWS)
	if err != nil {
		t.Fatal(err)
	}
	vs := verifySetup{codeSigningRoot: chain[1], tsaRoot: good.Root()}
	outcome, err := notationVerify(t, sig, mediaTypeJWS, vs)
	mustPass(t, outcome, err)

	otherKey, otherChain, err := testtsa.GeneratePKI(testtsa.PKIOptions{Seed: "untrusted TSA"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		opts       testtsa.Options
		signerErr  string // "" when notation-go's signer accepts the token
		verifyWant string
	}{
		{"OmitSigningCertificate", testtsa.Options{OmitSigningCertificate: true},
			"failed to get SigningCertificateV2", "failed to verify the timestamp countersignature"},
		{"SigningCertificateV1", testtsa.Options{SigningCertificateV1: true},
			"failed to get SigningCertificateV2", "failed to verify the timestamp countersignature"},
		{"WrongMessageImprint", testtsa.Options{WrongMessageImprint: true},
			"", "mismatched message"},
		{"NonCriticalEKU", testtsa.Options{NonCriticalEKU: true},
			"must be set as critical", "must be set as critical"},
		{"WrongContentType", testtsa.Options{WrongContentType: true},
			"unexpected content type", "failed to parse timestamp countersignature"},
		{"UntrustedTSA", testtsa.Options{Signer: otherKey, Certificates: otherChain},
			"", "certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := newTSA(t, tc.opts)

			// What the signer does with it (it trusts bad's root).
			_, _, err := notationSign(t, key, chain, bad, mediaTypeJWS)
			if tc.signerErr == "" && err != nil {
				t.Errorf("sign: %v, want success", err)
			} else if tc.signerErr != "" && (err == nil || !strings.Contains(err.Error(), tc.signerErr)) {
				t.Errorf("sign error = %v, want one containing %q", err, tc.signerErr)
			}

			req, err := tspclient.NewRequest(tspclient.RequestOptions{Content: info.Signature, HashAlgorithm: crypto.SHA256})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := bad.Timestamp(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			outcome, err := notationVerify(t, swapTimestamp(t, sig, resp.TimestampToken.FullBytes), mediaTypeJWS, vs)
			mustFail(t, outcome, err, tc.verifyWant)
		})
	}

	t.Run("no-countersignature", func(t *testing.T) {
		sig, _, err := notationSign(t, key, chain, nil, mediaTypeJWS)
		if err != nil {
			t.Fatal(err)
		}
		outcome, err := notationVerify(t, sig, mediaTypeJWS, vs)
		mustFail(t, outcome, err, "no timestamp countersignature was found")
	})
}

// swapTimestamp replaces the countersignature in the unprotected header of a
// JWS signature envelope.
func swapTimestamp(t *testing.T, sig, token []byte) []byte {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(sig, &env); err != nil {
		t.Fatal(err)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(env["header"], &header); err != nil {
		t.Fatal(err)
	}
	const key = "io.cncf.notary.timestampSignature"
	if _, ok := header[key]; !ok {
		t.Fatalf("no %s in the JWS header", key)
	}
	var err error
	if header[key], err = json.Marshal(token); err != nil { // []byte: standard base64
		t.Fatal(err)
	}
	if env["header"], err = json.Marshal(header); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNotationTSARevocation: the TSA chain's revocation check runs even with
// revocation set to skip, and "unknown" fails it.
func TestTSANotationRevocation(t *testing.T) {
	now := time.Now()
	key, chain := codeSigningChain(t, now.Add(-time.Hour), now.Add(time.Hour))
	tsa := newTSA(t, testtsa.Options{})
	sig, _, err := notationSign(t, key, chain, tsa, mediaTypeJWS)
	if err != nil {
		t.Fatal(err)
	}
	skipRevocation := trustpolicy.SignatureVerification{
		VerificationLevel: "strict",
		Override:          map[trustpolicy.ValidationType]trustpolicy.ValidationAction{trustpolicy.TypeRevocation: trustpolicy.ActionSkip},
	}
	for _, tc := range []struct {
		result result.Result
		want   string
	}{
		{result.ResultUnknown, "revocation status is unknown"},
		{result.ResultRevoked, "is revoked"},
	} {
		outcome, err := notationVerify(t, sig, mediaTypeJWS, verifySetup{
			codeSigningRoot: chain[1], tsaRoot: tsa.Root(), verification: skipRevocation, tsaRevocation: &tc.result,
		})
		mustFail(t, outcome, err, tc.want)
	}
}
