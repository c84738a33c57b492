package e2e_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/result"
	nx509 "github.com/notaryproject/notation-core-go/x509"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/signer"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	"github.com/notaryproject/tspclient-go"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

// readRoot reads the one certificate in tsa.RootPEMPath().
func readRoot(t *testing.T, tsa *e2e.TSA) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(tsa.RootPEMPath())
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" || strings.TrimSpace(string(rest)) != "" {
		t.Fatalf("%s does not hold exactly one PEM certificate", tsa.RootPEMPath())
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// stampOverHTTP asks the TSA for a token over content with tspclient-go's
// HTTP timestamper (which validates the response against the request) and
// verifies it as notation-go does: imprint, CMS signature and chain at
// genTime against the root in RootPEMPath, and the timestamping chain rules.
func stampOverHTTP(ctx context.Context, tsa *e2e.TSA, roots *x509.CertPool, content []byte, hash crypto.Hash) (*tspclient.SignedToken, *tspclient.Timestamp, error) {
	ts, err := tspclient.NewHTTPTimestamper(nil, tsa.URL())
	if err != nil {
		return nil, nil, err
	}
	req, err := tspclient.NewRequest(tspclient.RequestOptions{Content: content, HashAlgorithm: hash})
	if err != nil {
		return nil, nil, err
	}
	resp, err := ts.Timestamp(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	token, err := resp.SignedToken()
	if err != nil {
		return nil, nil, err
	}
	info, err := token.Info()
	if err != nil {
		return nil, nil, err
	}
	stamp, err := info.Validate(content)
	if err != nil {
		return nil, nil, err
	}
	chain, err := token.Verify(ctx, x509.VerifyOptions{CurrentTime: stamp.Value, Roots: roots})
	if err != nil {
		return nil, nil, err
	}
	if err := nx509.ValidateTimestampingCertChain(chain); err != nil {
		return nil, nil, err
	}
	return token, stamp, nil
}

func TestTSARoundTrip(t *testing.T) {
	tsa := e2e.StartTSAT(t) // skips, or fails under CI / NOTATION_PKCS11_E2E=required, without openssl
	u, err := url.Parse(tsa.URL())
	if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" {
		t.Fatalf("URL() = %q, want http://127.0.0.1:PORT/", tsa.URL())
	}
	root := readRoot(t, tsa)
	if !root.Equal(tsa.Root()) {
		t.Error("RootPEMPath and Root differ")
	}
	if err := nx509.ValidateTimestampingCertChain([]*x509.Certificate{root}); err == nil {
		t.Error("the root alone passed as a TSA leaf") // sanity: the root is a CA, not the signer
	}
	notBefore, notAfter := e2e.TSAValidity()
	if !root.NotBefore.Equal(notBefore) || !root.NotAfter.Equal(notAfter) {
		t.Errorf("root validity %v..%v, want %v..%v", root.NotBefore, root.NotAfter, notBefore, notAfter)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)

	before := time.Now()
	token, stamp, err := stampOverHTTP(t.Context(), tsa, roots, []byte("signature bytes"), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if stamp.Value.Before(before.Add(-2*time.Second)) || stamp.Value.After(time.Now().Add(2*time.Second)) {
		t.Errorf("genTime %v is not now (%v)", stamp.Value, before)
	}
	if stamp.Accuracy != time.Second {
		t.Errorf("accuracy = %v, want 1s (accuracy = secs:1)", stamp.Accuracy)
	}
	info, err := token.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.Policy.String() != e2e.TSAPolicy {
		t.Errorf("policy = %v, want %s", info.Policy, e2e.TSAPolicy)
	}
	// ess_cert_id_alg = sha256: signing-certificate-v2 is there and names
	// the TSA certificate, which is what notation requires.
	if len(token.SignerInfos) != 1 {
		t.Fatalf("%d SignerInfos, want 1", len(token.SignerInfos))
	}
	si := token.SignerInfos[0]
	var attrs []string
	for _, a := range si.SignedAttributes {
		attrs = append(attrs, a.Type.String())
	}
	t.Logf("OpenSSL signed attributes: %v", attrs)
	leaf, err := token.SigningCertificate(&si)
	if err != nil {
		t.Fatalf("SigningCertificate (signing-certificate-v2): %v", err)
	}
	var eku *pkix.Extension
	for i := range leaf.Extensions {
		if leaf.Extensions[i].Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 37}) {
			eku = &leaf.Extensions[i]
		}
	}
	if eku == nil || !eku.Critical {
		t.Errorf("TSA certificate EKU extension = %v, want critical", eku)
	}

	// More digests, and concurrent requests (the serial file is shared).
	for _, h := range []crypto.Hash{crypto.SHA384, crypto.SHA512} {
		if _, _, err := stampOverHTTP(t.Context(), tsa, roots, []byte("x"), h); err != nil {
			t.Errorf("%v: %v", h, err)
		}
	}
	var wg sync.WaitGroup
	serials := make(chan string, 6)
	for i := range 6 {
		wg.Go(func() {
			token, _, err := stampOverHTTP(t.Context(), tsa, roots, fmt.Appendf(nil, "concurrent %d", i), crypto.SHA256)
			if err != nil {
				t.Error(err)
				return
			}
			info, err := token.Info()
			if err != nil {
				t.Error(err)
				return
			}
			serials <- info.SerialNumber.String()
		})
	}
	wg.Wait()
	close(serials)
	seen := map[string]bool{}
	for s := range serials {
		if seen[s] {
			t.Errorf("serial %s issued twice", s)
		}
		seen[s] = true
	}

	// Not a timestamp query.
	resp, err := http.Get(tsa.URL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", resp.StatusCode)
	}
	// A body that is no TimeStampReq: OpenSSL answers with a rejection.
	resp, err = http.Post(tsa.URL(), tspclient.MediaTypeTimestampQuery, strings.NewReader("not DER"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var rejected tspclient.Response
	if err := rejected.UnmarshalBinary(body); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("garbage query: status %d, parse error %v", resp.StatusCode, err)
	}
	if err := rejected.Status.Err(); err == nil || !strings.Contains(err.Error(), "the data submitted has the wrong format") {
		t.Errorf("garbage query: status error %v, want badDataFormat", err)
	}
}

func TestTSAStop(t *testing.T) {
	tsa := e2e.StartTSAT(t)
	host := strings.TrimSuffix(strings.TrimPrefix(tsa.URL(), "http://"), "/")
	if err := tsa.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := tsa.Stop(); err != nil { // again, as t.Cleanup will
		t.Fatalf("second Stop: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", host, time.Second); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Stop", host)
	}
}

// TestTSANotationGoRoundTrip: notation-go's signer timestamps with the
// OpenSSL TSA over HTTP, and its verifier accepts the countersignature under
// strict with the TSA root in a "tsa" trust store.
func TestTSANotationGoRoundTrip(t *testing.T) {
	tsa := e2e.StartTSAT(t)
	root := readRoot(t, tsa)
	key, chain := codeSigningChain(t)

	timestamper, err := tspclient.NewHTTPTimestamper(nil, tsa.URL())
	if err != nil {
		t.Fatal(err)
	}
	tsaRoots := x509.NewCertPool()
	tsaRoots.AddCert(root)
	s, err := signer.NewGenericSigner(key, chain)
	if err != nil {
		t.Fatal(err)
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("e2e tsa"), Size: 7}
	for _, mediaType := range []string{"application/jose+json", "application/cose"} {
		t.Run(mediaType, func(t *testing.T) {
			sig, info, err := s.Sign(t.Context(), desc, notation.SignerSignOptions{
				SignatureMediaType: mediaType, Timestamper: timestamper, TSARootCAs: tsaRoots,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(info.UnsignedAttributes.TimestampSignature) == 0 {
				t.Fatal("no countersignature in the signature")
			}
			stores := memStore{
				truststore.TypeCA:  {"test": {chain[len(chain)-1]}},
				truststore.TypeTSA: {"test": {root}},
			}
			doc := &trustpolicy.Document{Version: "1.0", TrustPolicies: []trustpolicy.TrustPolicy{{
				Name: "e2e-tsa", RegistryScopes: []string{"*"},
				SignatureVerification: trustpolicy.SignatureVerification{VerificationLevel: "strict"},
				TrustStores:           []string{"ca:test", "tsa:test"}, TrustedIdentities: []string{"*"},
			}}}
			v, err := verifier.NewWithOptions(doc, stores, nil, verifier.VerifierOptions{
				RevocationCodeSigningValidator:  okRevocation{},
				RevocationTimestampingValidator: okRevocation{},
			})
			if err != nil {
				t.Fatal(err)
			}
			outcome, err := v.Verify(t.Context(), desc, sig, notation.VerifierVerifyOptions{
				ArtifactReference: "registry.test/e2e@" + desc.Digest.String(), SignatureMediaType: mediaType,
			})
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			found := false
			for _, r := range outcome.VerificationResults {
				if r.Type == trustpolicy.TypeAuthenticTimestamp {
					found = true
					if r.Error != nil {
						t.Errorf("authenticTimestamp: %v", r.Error)
					}
				}
			}
			if !found {
				t.Error("no authenticTimestamp result")
			}
		})
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

// okRevocation reports every certificate good, without any network.
type okRevocation struct{}

func (okRevocation) ValidateContext(_ context.Context, opts revocation.ValidateContextOptions) ([]*result.CertRevocationResult, error) {
	out := make([]*result.CertRevocationResult, len(opts.CertChain))
	for i := range out {
		out[i] = &result.CertRevocationResult{Result: result.ResultOK}
	}
	return out, nil
}

// codeSigningChain returns a P-256 code-signing leaf key and the chain leaf,
// root, valid for an hour either side of now.
func codeSigningChain(t *testing.T) (crypto.Signer, []*x509.Certificate) {
	t.Helper()
	now := time.Now()
	issue := func(tmpl, parent *x509.Certificate, pub crypto.PublicKey, by crypto.Signer) *x509.Certificate {
		t.Helper()
		tmpl.NotBefore, tmpl.NotAfter, tmpl.BasicConstraintsValid = now.Add(-time.Hour), now.Add(time.Hour), true
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, by)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e code signing root"},
		IsCA: true, KeyUsage: x509.KeyUsageCertSign}
	root := issue(rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	leaf := issue(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "e2e code signing leaf"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}, root, leafKey.Public(), rootKey)
	return leafKey, []*x509.Certificate{leaf, root}
}
