package testtsa_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	nx509 "github.com/notaryproject/notation-core-go/x509"
	"github.com/notaryproject/tspclient-go"
	"github.com/notaryproject/tspclient-go/pki"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testtsa"
)

// fixed returns a Clock that always answers at.
func fixed(at time.Time) func() time.Time { return func() time.Time { return at } }

func newTSA(t *testing.T, opts testtsa.Options) *testtsa.TSA {
	t.Helper()
	tsa, err := testtsa.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return tsa
}

func newRequest(t *testing.T, content []byte, hash crypto.Hash) *tspclient.Request {
	t.Helper()
	req, err := tspclient.NewRequest(tspclient.RequestOptions{Content: content, HashAlgorithm: hash})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// stamp asks tsa for a token over content and returns the response.
func stamp(t *testing.T, tsa *testtsa.TSA, content []byte) (*tspclient.Request, *tspclient.Response) {
	t.Helper()
	req := newRequest(t, content, crypto.SHA256)
	resp, err := tsa.Timestamp(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return req, resp
}

// verifyToken runs the checks notation-go v1.3.2 runs on a countersignature
// (verifier.verifyTimestamp steps 2 and 3) and returns the timestamp.
func verifyToken(ctx context.Context, tokenDER, content []byte, roots *x509.CertPool) (*tspclient.Timestamp, []*x509.Certificate, error) {
	token, err := tspclient.ParseSignedToken(tokenDER)
	if err != nil {
		return nil, nil, err
	}
	info, err := token.Info()
	if err != nil {
		return nil, nil, err
	}
	ts, err := info.Validate(content)
	if err != nil {
		return nil, nil, err
	}
	chain, err := token.Verify(ctx, x509.VerifyOptions{CurrentTime: ts.Value, Roots: roots})
	if err != nil {
		return nil, nil, err
	}
	if err := nx509.ValidateTimestampingCertChain(chain); err != nil {
		return nil, nil, err
	}
	return ts, chain, nil
}

func wantErr(t *testing.T, what string, err error, substr string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), substr) {
		t.Errorf("%s: error = %v, want one containing %q", what, err, substr)
	}
}

func TestTSATokenVerifies(t *testing.T) {
	genTime := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	tsa := newTSA(t, testtsa.Options{Clock: fixed(genTime), Accuracy: 1500 * time.Millisecond})
	content := []byte("the signature bytes")
	req, resp := stamp(t, tsa, content)
	if err := resp.Validate(req); err != nil { // nonce, imprint, policy, certReq
		t.Fatalf("Response.Validate: %v", err)
	}
	ts, chain, err := verifyToken(t.Context(), resp.TimestampToken.FullBytes, content, tsa.RootPool())
	if err != nil {
		t.Fatal(err)
	}
	if !ts.Value.Equal(genTime) || ts.Value.Location() != time.UTC {
		t.Errorf("genTime = %v, want %v in UTC", ts.Value, genTime)
	}
	if ts.Accuracy != 1500*time.Millisecond {
		t.Errorf("accuracy = %v, want 1.5s", ts.Accuracy)
	}
	if len(chain) != 2 || !chain[0].Equal(tsa.Chain()[0]) || !chain[1].Equal(tsa.Root()) {
		t.Errorf("verified chain = %v, want the TSA leaf and root", chain)
	}
	if err := nx509.ValidateTimestampingCertChain(tsa.Chain()); err != nil {
		t.Errorf("ValidateTimestampingCertChain(Chain()): %v", err)
	}

	token, err := resp.SignedToken()
	if err != nil {
		t.Fatal(err)
	}
	info, err := token.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != 1 || !info.Policy.Equal(testtsa.DefaultPolicy()) || info.SerialNumber.Cmp(big.NewInt(1)) != 0 ||
		info.Nonce.Cmp(req.Nonce) != 0 || info.Ordering || len(info.TSA.FullBytes) != 0 {
		t.Errorf("TSTInfo = %+v", info)
	}
	if got := tsa.Issued(); got != 1 {
		t.Errorf("Issued() = %d, want 1", got)
	}
	// The certificates field holds the leaf only; the root comes from the
	// verifier's trust store.
	if len(token.Certificates) != 1 || !token.Certificates[0].Equal(tsa.Chain()[0]) {
		t.Errorf("token certificates = %d, want the leaf only", len(token.Certificates))
	}
	if len(token.SignerInfos) != 1 {
		t.Fatalf("%d SignerInfos, want 1", len(token.SignerInfos))
	}
	si := token.SignerInfos[0]
	var types []string
	for _, a := range si.SignedAttributes {
		types = append(types, a.Type.String())
	}
	want := []string{
		"1.2.840.113549.1.9.3",       // contentType
		"1.2.840.113549.1.9.4",       // messageDigest
		"1.2.840.113549.1.9.5",       // signingTime
		"1.2.840.113549.1.9.16.2.47", // signing-certificate-v2
	}
	// DER orders the SET by encoding; compare as sets.
	slices.Sort(types)
	slices.Sort(want)
	if strings.Join(types, " ") != strings.Join(want, " ") {
		t.Errorf("signed attributes = %v, want %v", types, want)
	}
	var signingTime time.Time
	if err := si.SignedAttributes.Get(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}, &signingTime); err != nil ||
		!signingTime.Equal(genTime.Truncate(time.Second)) {
		t.Errorf("signingTime = %v (%v), want %v", signingTime, err, genTime.Truncate(time.Second))
	}
	if _, err := token.SigningCertificate(&si); err != nil {
		t.Errorf("SigningCertificate: %v", err)
	}

	// Second token: next serial.
	_, resp2 := stamp(t, tsa, content)
	token2, err := resp2.SignedToken()
	if err != nil {
		t.Fatal(err)
	}
	if info2, err := token2.Info(); err != nil || info2.SerialNumber.Cmp(big.NewInt(2)) != 0 {
		t.Errorf("second serial = %v (%v), want 2", info2, err)
	}
}

// TestTimes places genTime at awkward instants: a fraction of a nanosecond
// precision, the 2050 switch from UTCTime to GeneralizedTime for signingTime,
// and with signingTime omitted.
func TestTSATimes(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   time.Time
		opts testtsa.Options
	}{
		{"nanoseconds", time.Date(2030, 1, 2, 3, 4, 5, 1, time.UTC), testtsa.Options{}},
		{"whole-second", time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), testtsa.Options{}},
		{"after-2049", time.Date(2060, 6, 1, 0, 0, 0, 0, time.UTC), testtsa.Options{}},
		{"non-UTC-clock", time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600)), testtsa.Options{}},
		{"no-signingTime", time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), testtsa.Options{OmitSigningTime: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Clock = fixed(tc.at)
			tsa := newTSA(t, tc.opts)
			req, resp := stamp(t, tsa, []byte("x"))
			if err := resp.Validate(req); err != nil {
				t.Fatal(err)
			}
			ts, _, err := verifyToken(t.Context(), resp.TimestampToken.FullBytes, []byte("x"), tsa.RootPool())
			if err != nil {
				t.Fatal(err)
			}
			if !ts.Value.Equal(tc.at) || ts.Accuracy != 0 {
				t.Errorf("timestamp = %v ± %v, want %v ± 0", ts.Value, ts.Accuracy, tc.at)
			}
		})
	}
}

func TestTSAAccuracyAndPolicy(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		opts testtsa.Options
		want time.Duration
	}{
		{"none", testtsa.Options{}, 0},
		{"micros", testtsa.Options{Accuracy: 7 * time.Microsecond}, 7 * time.Microsecond},
		{"all-fields", testtsa.Options{Accuracy: 3*time.Second + 2*time.Millisecond + time.Microsecond}, 3*time.Second + 2*time.Millisecond + time.Microsecond},
		// RFC 3628 baseline policy without accuracy counts as one second.
		{"baseline", testtsa.Options{Policy: testtsa.BaselinePolicy()}, time.Second},
		{"baseline-explicit", testtsa.Options{Policy: testtsa.BaselinePolicy(), Accuracy: 10 * time.Millisecond}, 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Clock = fixed(at)
			tsa := newTSA(t, tc.opts)
			_, resp := stamp(t, tsa, []byte("x"))
			ts, _, err := verifyToken(t.Context(), resp.TimestampToken.FullBytes, []byte("x"), tsa.RootPool())
			if err != nil {
				t.Fatal(err)
			}
			if ts.Accuracy != tc.want {
				t.Errorf("accuracy = %v, want %v", ts.Accuracy, tc.want)
			}
		})
	}
}

func TestTSAHashAlgorithms(t *testing.T) {
	tsa := newTSA(t, testtsa.Options{})
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		req := newRequest(t, []byte("x"), h)
		resp, err := tsa.Timestamp(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if err := resp.Validate(req); err != nil {
			t.Errorf("%v: %v", h, err)
		}
		if _, _, err := verifyToken(t.Context(), resp.TimestampToken.FullBytes, []byte("x"), tsa.RootPool()); err != nil {
			t.Errorf("%v: %v", h, err)
		}
	}
}

// TestCallerPKI signs with a chain the caller brings: RSA-2048 and EC P-384
// leaves under an intermediate, so the token carries leaf and intermediate.
func TestTSACallerPKI(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]crypto.Signer{"rsa-2048": rsaKey, "ec-384": p384} {
		t.Run(name, func(t *testing.T) {
			chain := tsaChain(t, key)
			tsa := newTSA(t, testtsa.Options{Signer: key, Certificates: chain})
			if !tsa.Root().Equal(chain[2]) {
				t.Error("Root() is not the last certificate")
			}
			req, resp := stamp(t, tsa, []byte("x"))
			if err := resp.Validate(req); err != nil {
				t.Fatal(err)
			}
			_, verified, err := verifyToken(t.Context(), resp.TimestampToken.FullBytes, []byte("x"), tsa.RootPool())
			if err != nil {
				t.Fatal(err)
			}
			if len(verified) != 3 {
				t.Errorf("verified chain has %d certificates, want 3", len(verified))
			}
		})
	}
}

// tsaChain returns leaf (key), intermediate, root; the CA keys are P-256.
func tsaChain(t *testing.T, key crypto.Signer) []*x509.Certificate {
	t.Helper()
	nb, na := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	issue := func(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
		t.Helper()
		tmpl.NotBefore, tmpl.NotAfter, tmpl.BasicConstraintsValid = nb, na, true
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(10), Subject: pkix.Name{CommonName: "caller root"},
		IsCA: true, KeyUsage: x509.KeyUsageCertSign}
	root := issue(rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	inter := issue(&x509.Certificate{SerialNumber: big.NewInt(11), Subject: pkix.Name{CommonName: "caller intermediate"},
		IsCA: true, KeyUsage: x509.KeyUsageCertSign}, root, interKey.Public(), rootKey)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	leaf := issue(&x509.Certificate{SerialNumber: big.NewInt(12), Subject: pkix.Name{CommonName: "caller TSA"},
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}, inter, key.Public(), interKey)
	return []*x509.Certificate{leaf, inter, root}
}

// TestNegativeKnobs checks that every knob is rejected where tspclient-go
// (and so notation-go) must reject it, and nowhere earlier than it should.
func TestTSANegativeKnobs(t *testing.T) {
	content := []byte("the signature bytes")
	for _, tc := range []struct {
		name      string
		opts      testtsa.Options
		parse     string // ParseSignedToken error
		validate  string // Response.Validate error
		imprint   string // TSTInfo.Validate error
		verify    string // SignedToken.Verify error
		certChain string // ValidateTimestampingCertChain(Chain()) error
	}{
		{name: "OmitSigningCertificate", opts: testtsa.Options{OmitSigningCertificate: true},
			validate: "did not find any TSA signing certificate",
			verify:   "failed to get SigningCertificateV2 from signed attributes"},
		{name: "SigningCertificateV1", opts: testtsa.Options{SigningCertificateV1: true},
			validate: "did not find any TSA signing certificate",
			verify:   "failed to get SigningCertificateV2 from signed attributes"},
		{name: "WrongMessageImprint", opts: testtsa.Options{WrongMessageImprint: true},
			validate: "message imprint in response",
			imprint:  "mismatched message"},
		{name: "NonCriticalEKU", opts: testtsa.Options{NonCriticalEKU: true},
			verify:    "signing certificate extended key usage extension must be set as critical",
			certChain: "must have extended key usage extension marked as critical"},
		{name: "WrongContentType", opts: testtsa.Options{WrongContentType: true},
			parse:    "unexpected content type",
			validate: "unexpected content type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tsa := newTSA(t, tc.opts)
			req, resp := stamp(t, tsa, content)
			check := func(step string, err error, want string) bool {
				t.Helper()
				if want == "" {
					if err != nil {
						t.Errorf("%s: unexpected error %v", step, err)
					}
					return err == nil
				}
				wantErr(t, step, err, want)
				return false
			}
			check("Response.Validate", resp.Validate(req), tc.validate)
			check("ValidateTimestampingCertChain", nx509.ValidateTimestampingCertChain(tsa.Chain()), tc.certChain)
			token, err := tspclient.ParseSignedToken(resp.TimestampToken.FullBytes)
			if !check("ParseSignedToken", err, tc.parse) {
				return
			}
			info, err := token.Info()
			if err != nil {
				t.Fatal(err)
			}
			_, err = info.Validate(content)
			check("TSTInfo.Validate", err, tc.imprint)
			_, err = token.Verify(t.Context(), x509.VerifyOptions{CurrentTime: info.GenTime, Roots: tsa.RootPool()})
			check("SignedToken.Verify", err, tc.verify)
		})
	}
}

// TestUntrustedRoot: a token verifies only against its own TSA root.
func TestTSAUntrustedRoot(t *testing.T) {
	tsa := newTSA(t, testtsa.Options{})
	key, chain, err := testtsa.GeneratePKI(testtsa.PKIOptions{Seed: "another TSA"})
	if err != nil {
		t.Fatal(err)
	}
	other := newTSA(t, testtsa.Options{Signer: key, Certificates: chain})
	_, resp := stamp(t, other, []byte("x"))
	_, _, err = verifyToken(t.Context(), resp.TimestampToken.FullBytes, []byte("x"), tsa.RootPool())
	wantErr(t, "verify against another root", err, "certificate signed by unknown authority")
}

func TestTSARejections(t *testing.T) {
	tsa := newTSA(t, testtsa.Options{})
	good := func() *tspclient.Request { return newRequest(t, []byte("x"), crypto.SHA256) }
	for _, tc := range []struct {
		name   string
		mutate func(*tspclient.Request)
		want   string
	}{
		{"policy", func(r *tspclient.Request) { r.ReqPolicy = asn1.ObjectIdentifier{1, 2, 3} },
			"the requested TSA policy is not supported by the TSA"},
		{"sha1", func(r *tspclient.Request) {
			r.MessageImprint.HashAlgorithm.Algorithm = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
			r.MessageImprint.HashedMessage = r.MessageImprint.HashedMessage[:20]
		}, "unrecognized or unsupported Algorithm Identifier"},
		{"short-hash", func(r *tspclient.Request) { r.MessageImprint.HashedMessage = r.MessageImprint.HashedMessage[:5] },
			"the data submitted has the wrong format"},
		{"version", func(r *tspclient.Request) { r.Version = 2 }, "the data submitted has the wrong format"},
		{"extension", func(r *tspclient.Request) {
			r.Extensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}}
		}, "the requested extension is not supported by the TSA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := good()
			tc.mutate(req)
			resp, err := tsa.Timestamp(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status.Status != pki.StatusRejection {
				t.Errorf("status = %v, want rejection", resp.Status.Status)
			}
			wantErr(t, "Status.Err", resp.Status.Err(), tc.want)
			if _, err := resp.SignedToken(); err == nil {
				t.Error("SignedToken of a rejection succeeded")
			}
		})
	}
	// The policy the TSA does use is accepted when requested.
	req := good()
	req.ReqPolicy = testtsa.DefaultPolicy()
	resp, err := tsa.Timestamp(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Validate(req); err != nil {
		t.Errorf("request naming the TSA's policy: %v", err)
	}

	if _, err := tsa.Timestamp(t.Context(), nil); err == nil {
		t.Error("Timestamp(nil) succeeded")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := tsa.Timestamp(ctx, good()); !errors.Is(err, context.Canceled) {
		t.Errorf("Timestamp(cancelled ctx) error = %v, want context.Canceled", err)
	}
}

func TestTSAHTTP(t *testing.T) {
	genTime := time.Date(2027, 7, 7, 7, 7, 7, 0, time.UTC)
	tsa := newTSA(t, testtsa.Options{Clock: fixed(genTime)})
	srv := httptest.NewServer(tsa) // 127.0.0.1
	defer srv.Close()

	ts, err := tspclient.NewHTTPTimestamper(srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("over http")
	// Concurrent requests; the HTTP timestamper runs Response.Validate.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			req, err := tspclient.NewRequest(tspclient.RequestOptions{Content: content, HashAlgorithm: crypto.SHA256})
			if err != nil {
				errs <- err
				return
			}
			resp, err := ts.Timestamp(t.Context(), req)
			if err != nil {
				errs <- err
				return
			}
			if _, _, err := verifyToken(t.Context(), resp.TimestampToken.FullBytes, content, tsa.RootPool()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := tsa.Issued(); got != 8 {
		t.Errorf("Issued() = %d, want 8", got)
	}

	// certReq false: no certificates in the token, which Validate demands.
	req, err := tspclient.NewRequest(tspclient.RequestOptions{Content: content, HashAlgorithm: crypto.SHA256, NoCert: true})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Timestamp(t.Context(), req)
	if err != nil {
		t.Fatalf("NoCert request: %v", err)
	}
	token, err := resp.SignedToken()
	if err != nil {
		t.Fatal(err)
	}
	if len(token.Certificates) != 0 {
		t.Errorf("NoCert token carries %d certificates", len(token.Certificates))
	}

	post := func(method, contentType string, body []byte) *http.Response {
		t.Helper()
		r, err := http.NewRequestWithContext(t.Context(), method, srv.URL, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if r := post(http.MethodGet, "", nil); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", r.StatusCode)
	}
	if r := post(http.MethodPost, "text/plain", []byte("x")); r.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: status %d, want 415", r.StatusCode)
	}
	if r := post(http.MethodPost, tspclient.MediaTypeTimestampQuery, make([]byte, 70<<10)); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("70 KiB body: status %d, want 413", r.StatusCode)
	}
	r := post(http.MethodPost, tspclient.MediaTypeTimestampQuery, []byte("not DER"))
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != tspclient.MediaTypeTimestampReply {
		t.Fatalf("garbage body: status %d, Content-Type %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	var rejected tspclient.Response
	if err := rejected.UnmarshalBinary(body); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "garbage body", rejected.Status.Err(), "the data submitted has the wrong format")
}

func TestTSANewErrors(t *testing.T) {
	key, chain, err := testtsa.GeneratePKI(testtsa.PKIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _, err := testtsa.GeneratePKI(testtsa.PKIOptions{Seed: "other"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts testtsa.Options
		want string
	}{
		{"certificates-without-signer", testtsa.Options{Certificates: chain}, "Options.Signer is not"},
		{"signer-without-certificates", testtsa.Options{Signer: key}, "Options.Certificates is empty"},
		{"key-mismatch", testtsa.Options{Signer: otherKey, Certificates: chain}, "does not match"},
		{"noncritical-with-signer", testtsa.Options{Signer: key, Certificates: chain, NonCriticalEKU: true}, "generated PKI only"},
		{"negative-accuracy", testtsa.Options{Accuracy: -time.Second}, "negative"},
		{"sub-microsecond-accuracy", testtsa.Options{Accuracy: 1500 * time.Nanosecond}, "whole number of microseconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testtsa.New(tc.opts)
			wantErr(t, "New", err, tc.want)
		})
	}
}

func TestTSAGeneratePKI(t *testing.T) {
	key1, chain1, err := testtsa.GeneratePKI(testtsa.PKIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key2, chain2, err := testtsa.GeneratePKI(testtsa.PKIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !key1.Public().(*ecdsa.PublicKey).Equal(key2.Public()) || !chain1[0].Equal(chain2[0]) || !chain1[1].Equal(chain2[1]) {
		t.Error("GeneratePKI is not deterministic")
	}
	_, nonCrit, err := testtsa.GeneratePKI(testtsa.PKIOptions{NonCriticalEKU: true})
	if err != nil {
		t.Fatal(err)
	}
	if !nonCrit[1].Equal(chain1[1]) {
		t.Error("NonCriticalEKU changed the root")
	}
	_, other, err := testtsa.GeneratePKI(testtsa.PKIOptions{Seed: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if other[1].Equal(chain1[1]) {
		t.Error("a different seed gave the same root")
	}

	leaf, root := chain1[0], chain1[1]
	if err := leaf.CheckSignatureFrom(root); err != nil {
		t.Error(err)
	}
	ext := func(c *x509.Certificate, id asn1.ObjectIdentifier) *pkix.Extension {
		for i := range c.Extensions {
			if c.Extensions[i].Id.Equal(id) {
				return &c.Extensions[i]
			}
		}
		return nil
	}
	eku, ku := ext(leaf, asn1.ObjectIdentifier{2, 5, 29, 37}), ext(leaf, asn1.ObjectIdentifier{2, 5, 29, 15})
	if eku == nil || !eku.Critical || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping {
		t.Errorf("leaf EKU = %v %v, want critical timeStamping only", eku, leaf.ExtKeyUsage)
	}
	if ku == nil || !ku.Critical || leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("leaf keyUsage = %v %v, want critical digitalSignature", ku, leaf.KeyUsage)
	}
	if e := ext(nonCrit[0], asn1.ObjectIdentifier{2, 5, 29, 37}); e == nil || e.Critical {
		t.Errorf("NonCriticalEKU leaf EKU = %v, want non-critical", e)
	}
	if err := nx509.ValidateTimestampingCertChain(chain1); err != nil {
		t.Errorf("ValidateTimestampingCertChain: %v", err)
	}
	if _, _, err := testtsa.GeneratePKI(testtsa.PKIOptions{NotBefore: time.Now(), NotAfter: time.Now().Add(-time.Hour)}); err == nil {
		t.Error("GeneratePKI accepted NotAfter before NotBefore")
	}
}
