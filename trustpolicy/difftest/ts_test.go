package difftest

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/tspclient-go"
	"github.com/veraison/go-cose"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testtsa"
)

// tsKind is the RFC 3161 countersignature an envelope carries.
type tsKind string

const (
	tsNone tsKind = ""
	// tsGood: genTime is the signing time, inside every certificate's
	// validity; the TSA chains to the tsa:tsa store's root.
	tsGood tsKind = "good"
	// tsBeforeCert: genTime two days before the leaf's notBefore.
	tsBeforeCert tsKind = "beforeCert"
	// tsAfterCert: genTime an hour after the leaf's notAfter (only for an
	// expired leaf, so it is still in the past).
	tsAfterCert tsKind = "afterCert"
	// tsAccuracyCrossing: genTime an hour after the leaf's notBefore with
	// an accuracy of two hours, so genTime-accuracy is before it.
	tsAccuracyCrossing tsKind = "accuracyCrossing"
	// tsOtherTSA: a good token from a TSA whose root is in no tsa store.
	tsOtherTSA tsKind = "otherTSA"
	// tsWrongImprint: the token's messageImprint is not the signature's.
	tsWrongImprint tsKind = "wrongImprint"
	// tsNonCriticalEKU: the TSA leaf's EKU is not critical.
	tsNonCriticalEKU tsKind = "nonCriticalEKU"
	// tsNoSigningCert: no signing-certificate-v2 attribute.
	tsNoSigningCert tsKind = "noSigningCert"
	// tsWrongContentType: TSTInfo encapsulated as id-data.
	tsWrongContentType tsKind = "wrongContentType"
	// tsGarbage: the countersignature is not a CMS token at all.
	tsGarbage tsKind = "garbage"
)

// attached reports whether the token is added after signing (envelope
// surgery on the unprotected header) rather than by the signer: the signer
// refuses tokens that do not verify, and never timestamps
// notary.x509.signingAuthority signatures.
func (s sigSpec) tsAttached() bool {
	switch s.ts {
	case tsNone:
		return false
	case tsNonCriticalEKU, tsNoSigningCert, tsWrongContentType, tsGarbage:
		return true
	}
	return s.scheme == signature.SigningSchemeX509SigningAuthority
}

var (
	tsaOnce               sync.Once
	tsaErr                error
	tsaRoot, otherTSARoot *x509.Certificate
	otherTSAKey           crypto.Signer
	otherTSAChain         []*x509.Certificate
)

func tsaRoots(t testing.TB) (good, other *x509.Certificate) {
	tsaOnce.Do(func() {
		var chain []*x509.Certificate
		if _, chain, tsaErr = testtsa.GeneratePKI(testtsa.PKIOptions{}); tsaErr != nil {
			return
		}
		tsaRoot = chain[len(chain)-1]
		if otherTSAKey, otherTSAChain, tsaErr = testtsa.GeneratePKI(testtsa.PKIOptions{Seed: "notation-pkcs11 difftest other TSA"}); tsaErr != nil {
			return
		}
		otherTSARoot = otherTSAChain[len(otherTSAChain)-1]
	})
	if tsaErr != nil {
		t.Fatal(tsaErr)
	}
	return tsaRoot, otherTSARoot
}

// genTime is the genTime the recipe's TSA writes.
func (s sigSpec) genTime(m *material, st time.Time) (time.Time, time.Duration) {
	leaf := m.chain(s.chain)[0]
	switch s.ts {
	case tsBeforeCert:
		return leaf.NotBefore.Add(-48 * time.Hour), 0
	case tsAfterCert:
		return leaf.NotAfter.Add(time.Hour), 0
	case tsAccuracyCrossing:
		return leaf.NotBefore.Add(time.Hour), 2 * time.Hour
	}
	return st, 0
}

// newTSA returns the recipe's TSA and the roots to give the signer.
func newTSA(t testing.TB, s sigSpec, m *material, st time.Time) (*testtsa.TSA, *x509.CertPool, error) {
	tsaRoots(t)
	gt, acc := s.genTime(m, st)
	opts := testtsa.Options{Clock: func() time.Time { return gt }, Accuracy: acc}
	switch s.ts {
	case tsOtherTSA:
		opts.Signer, opts.Certificates = otherTSAKey, otherTSAChain
	case tsWrongImprint:
		opts.WrongMessageImprint = true
	case tsNonCriticalEKU:
		opts.NonCriticalEKU = true
	case tsNoSigningCert:
		opts.OmitSigningCertificate = true
	case tsWrongContentType:
		opts.WrongContentType = true
	}
	tsa, err := testtsa.New(opts)
	if err != nil {
		return nil, nil, err
	}
	return tsa, tsa.RootPool(), nil
}

// timestamper returns what the signer gets: nil unless the signer itself
// adds the token.
func timestamper(t testing.TB, s sigSpec, m *material, st time.Time) (tspclient.Timestamper, *x509.CertPool, error) {
	if s.ts == tsNone || s.tsAttached() {
		return nil, nil, nil
	}
	tsa, pool, err := newTSA(t, s, m, st)
	if err != nil {
		return nil, nil, err
	}
	return tsa, pool, nil
}

// attachTimestamp adds the recipe's countersignature to a signed envelope's
// unprotected header, as a signer that does not check its TSA would.
func attachTimestamp(t testing.TB, s sigSpec, m *material, st time.Time, raw []byte) ([]byte, error) {
	var token []byte
	stamp := func(sig []byte) error {
		if s.ts == tsGarbage {
			token = []byte("this is not an RFC 3161 token")
			return nil
		}
		tsa, _, err := newTSA(t, s, m, st)
		if err != nil {
			return err
		}
		ks, err := signature.ExtractKeySpec(m.chain(s.chain)[0])
		if err != nil {
			return err
		}
		req, err := tspclient.NewRequest(tspclient.RequestOptions{Content: sig, HashAlgorithm: ks.SignatureAlgorithm().Hash()})
		if err != nil {
			return err
		}
		resp, err := tsa.Timestamp(context.Background(), req)
		if err != nil {
			return err
		}
		token = resp.TimestampToken.FullBytes
		if len(token) == 0 {
			return fmt.Errorf("TSA granted no token (status %v)", resp.Status)
		}
		return nil
	}
	switch s.mt {
	case mtJWS:
		var env map[string]any
		if err := json.Unmarshal(raw, &env); err != nil {
			return nil, err
		}
		sigText, _ := env["signature"].(string)
		sig, err := base64.RawURLEncoding.DecodeString(sigText)
		if err != nil {
			return nil, err
		}
		if err := stamp(sig); err != nil {
			return nil, err
		}
		hdr, _ := env["header"].(map[string]any)
		if hdr == nil {
			hdr = map[string]any{}
			env["header"] = hdr
		}
		hdr["io.cncf.notary.timestampSignature"] = token // []byte: standard base64, as notation writes it
		return json.Marshal(env)
	case mtCOSE:
		var msg cose.Sign1Message
		if err := msg.UnmarshalCBOR(raw); err != nil {
			return nil, err
		}
		if err := stamp(msg.Signature); err != nil {
			return nil, err
		}
		msg.Headers.RawUnprotected = nil
		msg.Headers.Unprotected["io.cncf.notary.timestampSignature"] = token
		return msg.MarshalCBOR()
	}
	return nil, fmt.Errorf("unknown media type %q", s.mt)
}
