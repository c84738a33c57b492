package ratifyverifier

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// Extensions is the structured result in the verifier result's
// "extensions".
type Extensions struct {
	// Verdict is the engine's verdict, or "failed" when no envelope could
	// be evaluated.
	Verdict trustpolicy.Verdict `json:"verdict"`
	// Reference is REGISTRY/REPO@DIGEST of the artifact verified: the
	// digest the subject resolved to. Empty when the subject could not be
	// resolved or did not resolve to the digest it names.
	Reference string `json:"reference,omitempty"`
	// Issuer and SN are the leaf's issuer and subject, the two fields
	// Ratify's built-in notation verifier reports, so Rego policies written
	// for it keep working. Control characters in them are escaped.
	Issuer string `json:"Issuer,omitempty"`
	SN     string `json:"SN,omitempty"`
	// Error is set when no envelope was evaluated: the signature could not
	// be fetched, the subject and the signature disagree, or no trust
	// policy statement applies.
	Error string `json:"error,omitempty"`
	// Warnings are notices that do not change the verdict, such as
	// verifying a subject by tag (notation's warning).
	Warnings []string `json:"warnings,omitempty"`
	// Result is the engine's full result: policy, every check with its
	// action, outcome, error and fix, the chain, revocation per
	// certificate.
	Result *trustpolicy.Result `json:"result,omitempty"`
}

// Deps are the injected parts of [Run].
type Deps struct {
	// NewRevocation returns the revocation checker for a configuration.
	// Default: [NewRevocationChecker].
	NewRevocation func(RevocationConfig) (revocation.Checker, error)
	// Now is the verification time. Default time.Now.
	Now func() time.Time
}

// Run serves one request: it reads stdin (at most MaxRequestBytes),
// parses the request, builds the engine and verifies. A non-nil error is
// always a *ProtocolError (errors.Is(err, ErrProtocol)): the request could
// not be served, and the command prints it with [ProtocolError.Marshal] and
// exits 1. Otherwise the Response says whether the signature verified.
func Run(ctx context.Context, getenv func(string) string, stdin io.Reader, deps Deps) (*Response, error) {
	data, err := io.ReadAll(io.LimitReader(stdin, MaxRequestBytes+1))
	if err != nil {
		return nil, protoErr(CodeIO, fmt.Errorf("reading the request from stdin: %w", err))
	}
	req, err := ParseRequest(getenv, data)
	if err != nil {
		var pe *ProtocolError
		if errors.As(err, &pe) {
			return nil, pe
		}
		return nil, protoErr(CodeInternal, err)
	}
	newRev := deps.NewRevocation
	if newRev == nil {
		newRev = NewRevocationChecker
	}
	rev, err := newRev(req.Config.Revocation)
	if err != nil {
		return nil, protoErr(CodeInvalidConfig, fmt.Errorf("verifier %q: revocation: %w", req.Config.Name, err))
	}
	eng, err := NewEngine(req.Config, rev)
	if err != nil {
		return nil, protoErr(CodeInvalidConfig, fmt.Errorf("verifier %q: %w", req.Config.Name, err))
	}
	client, err := registry.New(req.Store.RegistryOptions())
	if err != nil {
		return nil, protoErr(CodeInvalidConfig, fmt.Errorf("verifier %q: registry: %w", req.Config.Name, err))
	}
	svc, err := service.New(service.Config{Engine: eng, Registry: client, Now: deps.Now})
	if err != nil {
		return nil, protoErr(CodeInternal, fmt.Errorf("verifier %q: %w", req.Config.Name, err))
	}
	return Verify(ctx, req, svc), nil
}

// NewRevocationChecker builds the revocation checker for c.
func NewRevocationChecker(c RevocationConfig) (revocation.Checker, error) {
	return revocation.New(revocation.Options{
		OCSPTimeout:  time.Duration(c.OCSPTimeout),
		CRLTimeout:   time.Duration(c.CRLTimeout),
		ChainTimeout: time.Duration(c.OCSPTimeout + c.CRLTimeout),
		MaxCRLSize:   c.MaxCRLBytes,
		Offline:      c.Offline,
		CacheDir:     c.CacheDir,
		NoDiskCache:  c.NoDiskCache,
	})
}

// NewEngine compiles the configured trust policy and loads the trust
// stores it names.
func NewEngine(c *Config, rev revocation.Checker) (*trustpolicy.Engine, error) {
	var doc *trustpolicy.Document
	var err error
	if c.TrustPolicyPath != "" {
		doc, err = trustpolicy.LoadDocument(c.TrustPolicyPath)
	} else {
		doc, err = trustpolicy.ParseDocument(c.TrustPolicyDoc)
	}
	if err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	pol, err := trustpolicy.Compile(doc)
	if err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	var stores *truststore.Set
	if c.TrustStorePath != "" {
		stores = truststore.Load(c.TrustStorePath, pol.StoreRefs())
	} else {
		stores, err = inlineStores(c.TrustStores, pol.StoreRefs())
		if err != nil {
			return nil, err
		}
	}
	return trustpolicy.New(trustpolicy.Config{Policy: pol, Stores: stores, Revocation: rev, MemoEntries: -1})
}

// inlineStores parses trustStores: "type:name" -> PEM. A store the policy
// names but trustStores lacks is held empty, so that verifications under
// that policy statement fail authenticity with "holds no certificate"
// (never falling back to other stores' certificates).
func inlineStores(m map[string]string, refs []truststore.Ref) (*truststore.Set, error) {
	stores := make(map[truststore.Ref][]*x509.Certificate, len(m))
	for _, r := range refs {
		stores[r] = nil
	}
	for key, text := range m {
		ref, err := truststore.ParseRef(key)
		if err != nil {
			return nil, configErr("trustStores key %q: %v; write \"ca:NAME\", \"signingAuthority:NAME\" or \"tsa:NAME\"", key, err)
		}
		rest := []byte(text)
		var certs []*x509.Certificate
		for n := 1; ; n++ {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				return nil, configErr("trustStores[%q]: PEM block %d is %q, want CERTIFICATE", key, n, b.Type)
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, configErr("trustStores[%q]: certificate %d: %v", key, n, err)
			}
			certs = append(certs, c)
		}
		if len(certs) == 0 {
			return nil, configErr("trustStores[%q] holds no PEM certificate; paste the trusted root's PEM (-----BEGIN CERTIFICATE-----…)", key)
		}
		stores[ref] = certs
	}
	return truststore.NewSet(stores), nil
}

// Verify verifies the signature of req with svc (package
// trustpolicy/service, the flow every gate shares), under
// req.Config.Timeout. It never fails open: every path but a verified (or
// policy-skipped) verdict is IsSuccess=false, with a message that names
// the failing check and its fix.
//
// The trust policy statement is chosen by the subject's repository first,
// so under level skip nothing is fetched (for a subject by digest, the
// registry is not asked anything). The artifact verified is the one
// RATIFY_VERIFIER_SUBJECT names: a registry that resolves a digest
// reference to another digest, or a signature manifest whose subject is
// another digest, fails naming both digests. Once the subject is resolved,
// the message and Extensions.Reference name REGISTRY/REPO@DIGEST, the
// digest actually verified, also for a tag.
func Verify(ctx context.Context, req *Request, svc *service.Service) *Response {
	resp := &Response{Name: req.Config.Name, Type: req.Config.Type}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(req.Config.Timeout))
	defer cancel()
	ext := &Extensions{Verdict: trustpolicy.VerdictFailed}
	resp.Extensions = ext
	fail := func(format string, args ...any) *Response {
		msg := textsafe.Escape(fmt.Sprintf(format, args...))
		resp.Message, ext.Error = msg, msg
		return resp
	}
	if at := req.Signature.ArtifactType; at != "" && at != registry.ArtifactTypeNotation {
		return fail("failed: %s: referrer %s has artifactType %q; this verifier verifies Notary Project signatures only: set \"artifactTypes\": %q in its Ratify entry",
			req.Subject, req.Signature.Digest, at, registry.ArtifactTypeNotation)
	}
	report, err := svc.VerifySignature(ctx, req.Subject, req.Signature, service.Options{})
	if err != nil {
		var m *trustpolicy.SubjectMismatchError
		switch {
		case errors.Is(err, service.ErrInvalidInput):
			return fail("failed: %s %q is not a registry reference: %v", EnvSubject, req.Subject, err)
		case errors.As(err, &m):
			return fail("failed: %s: subject digest mismatch: the registry resolved %s to %s; nothing was verified",
				req.Subject, m.ReferenceDigest, m.DescriptorDigest)
		case errors.Is(err, trustpolicy.ErrInvalidDescriptor):
			return fail("failed: %v; nothing was verified", err)
		}
		return fail("failed: %s: registry: %v; check that the artifact exists and the store's registry settings (useHttp, credentials) are right", req.Subject, err)
	}
	ext.Reference, ext.Verdict, ext.Warnings = report.Reference, report.Verdict, report.Warnings
	resp.IsSuccess = report.Verdict == trustpolicy.VerdictVerified || report.Verdict == trustpolicy.VerdictSkipped
	if len(report.Signatures) == 0 {
		// Nothing evaluated: no statement applies, or the signature could
		// not be retrieved.
		resp.Message = textsafe.Escape(report.Summary())
		ext.Error = resp.Message
		return resp
	}
	res := report.Signatures[0].Result
	resp.Message = textsafe.Escape(res.Summary())
	ext.Result = res
	for _, c := range res.Chain {
		if c.Role == "leaf" {
			ext.Issuer, ext.SN = textsafe.Escape(c.Issuer), textsafe.Escape(c.Subject)
		}
	}
	return resp
}
