package trustpolicy

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/notaryproject/notation-core-go/signature"
	_ "github.com/notaryproject/notation-core-go/signature/cose" // registers application/cose
	_ "github.com/notaryproject/notation-core-go/signature/jws"  // registers application/jose+json
	nx509 "github.com/notaryproject/notation-core-go/x509"
)

// PayloadMediaType is the only payload content type Notation signs.
const PayloadMediaType = "application/vnd.cncf.notary.payload.v1+json"

// integrityError is the outcome of the integrity check: failed or, for
// errors notation does not expect from an envelope, inconclusive.
type integrityError struct {
	err          error
	inconclusive bool
}

// verifyEnvelope is notation's integrity check. It parses the envelope with
// notation-core-go and verifies its signature with the format's own code
// (go-cose for COSE, notation-core-go's JWS), then applies the same
// envelope-content rules notation-core-go applies after it, except that the
// code-signing chain rules, which depend only on the chain bytes, come from
// the memo. The result is the same as signature.Envelope.Verify.
func (e *Engine) verifyEnvelope(mediaType string, raw []byte) (*signature.EnvelopeContent, *chainFacts, chainKey, *integrityError) {
	env, err := signature.ParseEnvelope(mediaType, raw)
	if err != nil {
		return nil, nil, chainKey{}, &integrityError{err: fmt.Errorf("unable to parse the digital signature, error : %s", err)}
	}
	if len(raw) == 0 {
		return nil, nil, chainKey{}, classify(&signature.SignatureNotFoundError{})
	}
	inner := innerEnvelope(env)
	if inner == nil {
		// Not the envelope layout this code knows: let notation-core-go do
		// everything, without the memo.
		content, err := env.Verify()
		if err != nil {
			return nil, nil, chainKey{}, classify(err)
		}
		return content, nil, keyOf(content.SignerInfo.CertificateChain), nil
	}
	content, err := inner.Verify()
	if err != nil {
		return nil, nil, chainKey{}, classify(err)
	}
	key := keyOf(content.SignerInfo.CertificateChain)
	facts, err := e.checkContent(content, key)
	if err != nil {
		return nil, nil, key, classify(err)
	}
	return content, facts, key, nil
}

// innerEnvelope returns the format-specific envelope that notation-core-go's
// common envelope wraps (its exported field Envelope), or nil.
func innerEnvelope(env signature.Envelope) signature.Envelope {
	v := reflect.ValueOf(env)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("Envelope")
	if !f.IsValid() || !f.CanInterface() {
		return nil
	}
	inner, ok := f.Interface().(signature.Envelope)
	if !ok || inner == nil {
		return nil
	}
	return inner
}

func classify(err error) *integrityError {
	var (
		notFound  *signature.SignatureEnvelopeNotFoundError
		invalid   *signature.InvalidSignatureError
		integrity *signature.SignatureIntegrityError
		sigNF     *signature.SignatureNotFoundError
	)
	switch {
	case errors.As(err, &notFound), errors.As(err, &invalid), errors.As(err, &integrity):
		return &integrityError{err: err}
	case errors.As(err, &sigNF):
		// notation-go treats this type as unexpected: inconclusive.
		return &integrityError{err: err, inconclusive: true}
	default:
		return &integrityError{err: err, inconclusive: true}
	}
}

// checkContent applies notation-core-go's rules on verified envelope content
// (the same rules, in the same order, with the same error types).
func (e *Engine) checkContent(c *signature.EnvelopeContent, key chainKey) (*chainFacts, error) {
	if len(c.Payload.Content) == 0 {
		return nil, &signature.InvalidSignatureError{Msg: "content not present"}
	}
	si := &c.SignerInfo
	if len(si.Signature) == 0 {
		return nil, &signature.InvalidSignatureError{Msg: "signature not present or is empty"}
	}
	if si.SignatureAlgorithm == 0 {
		return nil, &signature.InvalidSignatureError{Msg: "SignatureAlgorithm is not present"}
	}
	st, exp := si.SignedAttributes.SigningTime, si.SignedAttributes.Expiry
	if st.IsZero() {
		return nil, &signature.InvalidSignatureError{Msg: "signing-time not present"}
	}
	if !exp.IsZero() && !exp.After(st) {
		return nil, &signature.InvalidSignatureError{Msg: "expiry cannot be equal or before the signing time"}
	}
	if si.SignedAttributes.SigningScheme == "" {
		return nil, &signature.InvalidSignatureError{Msg: "SigningScheme not present"}
	}
	if len(si.CertificateChain) == 0 {
		return nil, &signature.InvalidSignatureError{Msg: "certificate-chain not present or is empty"}
	}
	facts := e.memo.getChain(key)
	if facts == nil {
		facts = &chainFacts{ruleErr: nx509.ValidateCodeSigningCertChain(si.CertificateChain, nil), infos: certInfos(si.CertificateChain)}
		ks, err := signature.ExtractKeySpec(si.CertificateChain[0])
		if err != nil {
			facts.algErr = err
		} else {
			facts.alg = ks.SignatureAlgorithm()
		}
		e.memo.putChain(key, facts)
	}
	if facts.ruleErr != nil {
		return nil, &signature.InvalidSignatureError{Msg: fmt.Sprintf("certificate-chain is invalid, %s", facts.ruleErr)}
	}
	if facts.algErr != nil {
		return nil, &signature.InvalidSignatureError{Msg: facts.algErr.Error()}
	}
	if facts.alg != si.SignatureAlgorithm {
		return nil, &signature.InvalidSignatureError{Msg: fmt.Sprintf("mismatch between signature algorithm derived from signing certificate (%v) and signing algorithm specified (%vs)", facts.alg, si.SignatureAlgorithm)}
	}
	return facts, nil
}
