package testtsa

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/notaryproject/tspclient-go"
	"github.com/notaryproject/tspclient-go/pki"
)

// Options configures [New]. The zero value gives a TSA that Notary Project
// verification accepts: the [GeneratePKI] default PKI, genTime = time.Now,
// no accuracy, policy [DefaultPolicy].
type Options struct {
	// Signer is the TSA leaf's private key and Certificates its chain,
	// ordered leaf first, then intermediates, then the self-signed root.
	// Set both or neither; with neither, New uses GeneratePKI. New checks
	// only that Signer matches Certificates[0], so a test may pass a chain
	// that breaks the certificate rules on purpose. Signer must be an ECDSA
	// or RSA key (RSA signs with PKCS #1 v1.5).
	Signer       crypto.Signer
	Certificates []*x509.Certificate

	// Clock returns the genTime of each token; nil means time.Now. It is
	// converted to UTC and keeps its fractional second. It may be called
	// from several goroutines at once.
	Clock func() time.Time

	// Accuracy is written to TSTInfo.accuracy when non-zero. It must be
	// non-negative and a whole number of microseconds.
	Accuracy time.Duration

	// Policy is TSTInfo.policy; nil means DefaultPolicy. A request that
	// names another policy (reqPolicy) is rejected with unacceptedPolicy.
	Policy asn1.ObjectIdentifier

	// OmitSigningTime leaves out the signingTime signed attribute. Tokens
	// are valid either way (it is optional in RFC 5652).
	OmitSigningTime bool

	// The fields below make tokens that Notary Project verification must
	// reject.

	// OmitSigningCertificate leaves out the signing-certificate-v2
	// attribute. tspclient-go then fails SignedToken.Verify ("failed to
	// get SigningCertificateV2 from signed attributes") and, when the
	// request asked for certificates, Response.Validate.
	OmitSigningCertificate bool

	// SigningCertificateV1 writes the RFC 2634 signing-certificate
	// attribute (SHA-1 ESSCertID) instead of signing-certificate-v2. RFC
	// 3161 allows either, but tspclient-go v1.0.0 reads only v2, so it
	// rejects such tokens like OmitSigningCertificate does. OpenSSL's
	// default ess_cert_id_alg = sha1 produces this form.
	SigningCertificateV1 bool

	// WrongMessageImprint puts a hashedMessage in TSTInfo that differs
	// from the request's (first byte inverted). TSTInfo.Validate then
	// fails with "mismatched message" and Response.Validate with "message
	// imprint in response ... does not match". notation-go's signer does
	// not compare the imprint, so such a token does end up in a signature;
	// its verifier rejects it.
	WrongMessageImprint bool

	// NonCriticalEKU generates the PKI with a non-critical
	// extendedKeyUsage on the TSA leaf (GeneratePKI's
	// PKIOptions.NonCriticalEKU). It cannot be combined with Signer. The
	// root stays that of the default PKI, so a verifier that trusts the
	// default root reaches the EKU check.
	// SignedToken.Verify then fails ("extended key usage extension must be
	// set as critical"), and so does ValidateTimestampingCertChain.
	NonCriticalEKU bool

	// WrongContentType encapsulates the TSTInfo as id-data
	// (1.2.840.113549.1.7.1) instead of id-ct-TSTInfo, in eContentType
	// and in the contentType signed attribute alike. ParseSignedToken then
	// fails with "unexpected content type".
	WrongContentType bool
}

// TSA is an in-process RFC 3161 time-stamping authority. It is safe for
// concurrent use.
type TSA struct {
	signer   crypto.Signer
	chain    []*x509.Certificate
	hash     crypto.Hash
	hashAlg  asn1.ObjectIdentifier
	sigAlg   algorithmIdentifier
	clock    func() time.Time
	accuracy accuracy
	policy   asn1.ObjectIdentifier
	opts     Options // the knobs; Signer, Certificates and Clock are not read from here

	serial atomic.Int64 // serial number of the last token issued
}

// New returns a TSA configured by opts.
func New(opts Options) (*TSA, error) {
	signer, chain := opts.Signer, slices.Clone(opts.Certificates)
	switch {
	case signer == nil && len(chain) != 0:
		return nil, errors.New("testtsa: Options.Certificates is set but Options.Signer is not")
	case signer != nil && opts.NonCriticalEKU:
		return nil, errors.New("testtsa: Options.NonCriticalEKU applies to the generated PKI only; it cannot be combined with Options.Signer")
	case signer == nil:
		var err error
		signer, chain, err = GeneratePKI(PKIOptions{NonCriticalEKU: opts.NonCriticalEKU})
		if err != nil {
			return nil, err
		}
	default:
		if err := checkChain(signer, chain); err != nil {
			return nil, err
		}
	}
	hash, hashAlg, sigAlg, err := algorithms(signer.Public())
	if err != nil {
		return nil, err
	}
	acc, err := encodeAccuracy(opts.Accuracy)
	if err != nil {
		return nil, err
	}
	t := &TSA{
		signer:   signer,
		chain:    chain,
		hash:     hash,
		hashAlg:  hashAlg,
		sigAlg:   sigAlg,
		clock:    opts.Clock,
		accuracy: acc,
		policy:   slices.Clone(opts.Policy),
		opts:     opts,
	}
	if t.clock == nil {
		t.clock = time.Now
	}
	if len(t.policy) == 0 {
		t.policy = DefaultPolicy()
	}
	t.opts.Signer, t.opts.Certificates, t.opts.Clock = nil, nil, nil
	return t, nil
}

// Root returns the last certificate of the chain: the TSA root to trust
// (tspclient VerifyOptions.Roots, notation SignOptions.TSARootCAs, a "tsa"
// trust store).
func (t *TSA) Root() *x509.Certificate { return t.chain[len(t.chain)-1] }

// Chain returns the TSA chain, leaf first and root last. The slice is a copy.
func (t *TSA) Chain() []*x509.Certificate { return slices.Clone(t.chain) }

// RootPool returns a new pool holding only [TSA.Root].
func (t *TSA) RootPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(t.Root())
	return pool
}

// Issued returns how many serial numbers the TSA has used: the tokens it
// granted, plus any whose signing failed.
func (t *TSA) Issued() int { return int(t.serial.Load()) }

// Timestamp answers req. It implements tspclient.Timestamper, so a *TSA can
// be notation-go's SignOptions.Timestamper. Like a real TSA it returns a
// rejection response (status rejection with a failInfo), not an error, for a
// request it will not stamp: version other than 1, a hash other than SHA-256,
// SHA-384 or SHA-512, a hashedMessage of the wrong length, a reqPolicy other
// than its policy, or any extension. Its error is for a nil request, an ended
// ctx or a failure to sign.
func (t *TSA) Timestamp(ctx context.Context, req *tspclient.Request) (*tspclient.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("testtsa: %w", err)
	}
	if req == nil {
		return nil, errors.New("testtsa: nil request")
	}
	der, err := t.respond(req)
	if err != nil {
		return nil, err
	}
	// Hand back the parsed wire form, exactly what an HTTP client would see.
	var resp tspclient.Response
	if err := resp.UnmarshalBinary(der); err != nil {
		return nil, fmt.Errorf("testtsa: parsing own response: %w", err)
	}
	return &resp, nil
}

// respond returns the DER TimeStampResp for req.
func (t *TSA) respond(req *tspclient.Request) ([]byte, error) {
	if reject := t.check(req); reject != nil {
		return reject.marshal()
	}
	token, err := t.token(req, t.clock(), t.serial.Add(1))
	if err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(timeStampResp{
		Status:         pkiStatusInfo{Status: int(pki.StatusGranted)},
		TimeStampToken: asn1.RawValue{FullBytes: token},
	})
	if err != nil {
		return nil, fmt.Errorf("testtsa: encoding response: %w", err)
	}
	return der, nil
}

// rejection is a TimeStampResp with status rejection.
type rejection struct {
	failure pki.FailureInfo
	text    string
}

// timeStampResp and pkiStatusInfo encode a TimeStampResp. tspclient's
// Response decodes one, but encoding/asn1 cannot encode its StatusString
// ("utf8" on a []string).
type timeStampResp struct {
	Status         pkiStatusInfo
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

type pkiStatusInfo struct {
	Status       int
	StatusString []asn1.RawValue `asn1:"optional"` // PKIFreeText: SEQUENCE OF UTF8String
	FailInfo     asn1.BitString  `asn1:"optional"`
}

func (r *rejection) marshal() ([]byte, error) {
	bit := int(r.failure)
	bits := asn1.BitString{Bytes: make([]byte, bit/8+1), BitLength: bit + 1}
	bits.Bytes[bit/8] = 0x80 >> (bit % 8)
	der, err := asn1.Marshal(timeStampResp{Status: pkiStatusInfo{
		Status:       int(pki.StatusRejection),
		StatusString: []asn1.RawValue{{Class: asn1.ClassUniversal, Tag: asn1.TagUTF8String, Bytes: []byte(r.text)}},
		FailInfo:     bits,
	}})
	if err != nil {
		return nil, fmt.Errorf("testtsa: encoding rejection: %w", err)
	}
	return der, nil
}

// check returns why req must be rejected, or nil.
func (t *TSA) check(req *tspclient.Request) *rejection {
	if req.Version != 1 {
		return &rejection{pki.FailureInfoBadDataFormat, fmt.Sprintf("version %d is not 1", req.Version)}
	}
	hash, ok := hashFromOID(req.MessageImprint.HashAlgorithm.Algorithm)
	if !ok {
		return &rejection{pki.FailureInfoBadAlg,
			fmt.Sprintf("hash algorithm %v is not SHA-256, SHA-384 or SHA-512", req.MessageImprint.HashAlgorithm.Algorithm)}
	}
	if n := len(req.MessageImprint.HashedMessage); n != hash.Size() {
		return &rejection{pki.FailureInfoBadDataFormat, fmt.Sprintf("hashedMessage has %d bytes, want %d", n, hash.Size())}
	}
	if len(req.ReqPolicy) != 0 && !req.ReqPolicy.Equal(t.policy) {
		return &rejection{pki.FailureInfoUnacceptedPolicy, fmt.Sprintf("policy %v is not %v", req.ReqPolicy, t.policy)}
	}
	if len(req.Extensions) != 0 {
		return &rejection{pki.FailureInfoUnacceptedExtension, "extensions are not supported"}
	}
	return nil
}
