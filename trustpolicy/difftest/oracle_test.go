package difftest

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/result"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/verifier"
	ntrustpolicy "github.com/notaryproject/notation-go/verifier/trustpolicy"
	ntruststore "github.com/notaryproject/notation-go/verifier/truststore"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	ourrev "github.com/notation-pkcs11/notation-pkcs11/revocation"
)

// stores maps a policy's "type:name" to the certificates of that store. A
// name that is absent does not exist; a present name with no certificate is
// an empty store folder.
type stores map[string][]*x509.Certificate

// oracleStore is notation's X509TrustStore over stores. Its errors are the
// ones notation-go's file-system store gives for the same situations.
type oracleStore stores

func (s oracleStore) GetCertificates(_ context.Context, typ ntruststore.Type, name string) ([]*x509.Certificate, error) {
	certs, ok := s[string(typ)+":"+name]
	if !ok {
		return nil, ntruststore.TrustStoreError{Msg: fmt.Sprintf("the trust store %q of type %q does not exist", name, typ)}
	}
	if len(certs) == 0 {
		return nil, ntruststore.CertificateError{Msg: fmt.Sprintf("no x509 certificates were found in trust store %q of type %q", name, typ)}
	}
	return append([]*x509.Certificate(nil), certs...), nil
}

// revPattern is the revocation answer for one chain, by certificate index.
type revPattern string

const (
	revOK                   revPattern = ""                        // good; the root (or a single certificate) nonRevokable
	revAllOK                revPattern = "allOK"                   // every certificate OK, even the root
	revLeafRevoked          revPattern = "leafRevoked"             // leaf revoked
	revInterRevoked         revPattern = "interRevoked"            // the certificate above the leaf revoked
	revRootRevoked          revPattern = "rootRevoked"             // last certificate revoked
	revLeafUnknown          revPattern = "leafUnknown"             // leaf unknown
	revLeafUnknownInterRevk revPattern = "leafUnknownInterRevoked" // leaf unknown, next revoked
	revLeafRevkInterUnknown revPattern = "leafRevokedInterUnknown" // leaf revoked, next unknown
	revAllUnknown           revPattern = "allUnknown"              // nothing known
	revError                revPattern = "error"                   // the checker fails
)

var errFakeRevocation = errors.New("fake revocation checker: OCSP responder http://ocsp.example/ unreachable")

func (p revPattern) statuses(n int) ([]ourrev.Status, error) {
	if p == revError {
		return nil, errFakeRevocation
	}
	st := make([]ourrev.Status, n)
	for i := range st {
		st[i] = ourrev.StatusOK
	}
	if p != revAllOK {
		st[n-1] = ourrev.StatusNonRevokable
	}
	next := min(1, n-1)
	switch p {
	case revLeafRevoked:
		st[0] = ourrev.StatusRevoked
	case revInterRevoked:
		st[next] = ourrev.StatusRevoked
	case revRootRevoked:
		st[n-1] = ourrev.StatusRevoked
	case revLeafUnknown:
		st[0] = ourrev.StatusUnknown
	case revLeafUnknownInterRevk:
		st[0] = ourrev.StatusUnknown
		st[next] = ourrev.StatusRevoked
	case revLeafRevkInterUnknown:
		st[next] = ourrev.StatusUnknown
		st[0] = ourrev.StatusRevoked
	case revAllUnknown:
		for i := range st {
			st[i] = ourrev.StatusUnknown
		}
	}
	return st, nil
}

// revSpec drives both verifiers' revocation answers.
type revSpec struct {
	sign revPattern // code-signing chain
	tsa  revPattern // timestamping chain
}

// revCall is one revocation request, as either verifier made it.
type revCall struct {
	purpose     string
	chain       string // subjects, leaf first
	signingTime time.Time
}

func (c revCall) String() string {
	return fmt.Sprintf("%s[%s]@%s", c.purpose, c.chain, c.signingTime.UTC().Format(time.RFC3339))
}

type recorder struct {
	mu    sync.Mutex
	calls []revCall
}

func (r *recorder) add(purpose string, chain []*x509.Certificate, st time.Time) {
	var s []string
	for _, c := range chain {
		s = append(s, c.Subject.CommonName)
	}
	r.mu.Lock()
	r.calls = append(r.calls, revCall{purpose, strings.Join(s, " < "), st})
	r.mu.Unlock()
}

// coreValidator is notation-core-go's revocation.Validator answering from
// a pattern.
type coreValidator struct {
	purpose string
	pat     revPattern
	rec     *recorder
}

func (v coreValidator) ValidateContext(_ context.Context, o revocation.ValidateContextOptions) ([]*result.CertRevocationResult, error) {
	v.rec.add(v.purpose, o.CertChain, o.AuthenticSigningTime)
	sts, err := v.pat.statuses(len(o.CertChain))
	if err != nil {
		return nil, err
	}
	out := make([]*result.CertRevocationResult, len(sts))
	for i, s := range sts {
		r := &result.CertRevocationResult{RevocationMethod: result.RevocationMethodOCSP}
		switch s {
		case ourrev.StatusOK:
			r.Result = result.ResultOK
		case ourrev.StatusRevoked:
			r.Result = result.ResultRevoked
		case ourrev.StatusNonRevokable:
			r.Result, r.RevocationMethod = result.ResultNonRevokable, result.RevocationMethodUnknown
		default:
			r.Result = result.ResultUnknown
		}
		r.ServerResults = []*result.ServerResult{{Result: r.Result, Server: "http://ocsp.example/", RevocationMethod: r.RevocationMethod}}
		out[i] = r
	}
	return out, nil
}

// ourChecker is our revocation.Checker answering from the same patterns.
func ourChecker(spec revSpec, rec *recorder) ourrev.Checker {
	return ourrev.CheckerFunc(func(_ context.Context, req ourrev.Request) ([]ourrev.Result, error) {
		pat, purpose := spec.sign, "codeSigning"
		if req.Purpose == ourrev.PurposeTimestamping {
			pat, purpose = spec.tsa, "timestamping"
		}
		rec.add(purpose, req.Chain, req.SigningTime)
		sts, err := pat.statuses(len(req.Chain))
		if err != nil {
			return nil, err
		}
		out := make([]ourrev.Result, len(sts))
		for i, s := range sts {
			out[i] = ourrev.Result{Status: s}
			if s != ourrev.StatusNonRevokable {
				out[i].Method, out[i].URL = ourrev.MethodOCSP, "http://ocsp.example/"
			}
		}
		return out, nil
	})
}

// input is everything one verification is given, identically on both sides.
type input struct {
	doc          *ntrustpolicy.Document
	stores       stores
	rev          revSpec
	envelope     []byte
	mediaType    string
	reference    string
	desc         ocispec.Descriptor
	userMetadata map[string]string
}

// verdicts, as our engine names them; configError is a policy both sides
// refuse before verifying.
const (
	vVerified     = "verified"
	vFailed       = "failed"
	vInconclusive = "inconclusive"
	vSkipped      = "skipped"
	vConfigError  = "configError"
)

type oracleResult struct {
	verdict string
	cfgErr  error
	outcome *notation.VerificationOutcome
	err     error
	panic   any
	calls   []revCall
}

// runOracle verifies with notation-go v1.3.2.
func runOracle(ctx context.Context, in *input) (o oracleResult) {
	rec := &recorder{}
	defer func() {
		if p := recover(); p != nil {
			o.panic = p
		}
		o.calls = rec.calls
	}()
	v, err := verifier.NewWithOptions(in.doc, oracleStore(in.stores), nil, verifier.VerifierOptions{
		RevocationCodeSigningValidator:  coreValidator{"codeSigning", in.rev.sign, rec},
		RevocationTimestampingValidator: coreValidator{"timestamping", in.rev.tsa, rec},
	})
	if err != nil {
		o.verdict, o.cfgErr = vConfigError, err
		return o
	}
	o.outcome, o.err = v.Verify(ctx, in.desc, in.envelope, notation.VerifierVerifyOptions{
		ArtifactReference:  in.reference,
		SignatureMediaType: in.mediaType,
		UserMetadata:       in.userMetadata,
	})
	var inconclusive notation.VerificationInconclusiveError
	switch {
	case o.err == nil && o.outcome != nil && reflect.DeepEqual(o.outcome.VerificationLevel, ntrustpolicy.LevelSkip):
		o.verdict = vSkipped
	case o.err == nil:
		o.verdict = vVerified
	case errors.As(o.err, &inconclusive):
		o.verdict = vInconclusive
	default:
		o.verdict = vFailed
	}
	return o
}
