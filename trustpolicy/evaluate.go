package trustpolicy

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Envelope attributes that require a verification plugin.
const (
	attrVerificationPlugin           = "io.cncf.notary.verificationPlugin"
	attrVerificationPluginMinVersion = "io.cncf.notary.verificationPluginMinVersion"
)

// run is the state of one evaluation.
type run struct {
	e      *Engine
	ctx    context.Context
	in     Input
	rule   *Rule
	res    *Result
	chain  []*x509.Certificate
	si     *signature.SignerInfo
	facts  *chainFacts
	key    chainKey
	checks map[ValidationType]*Check
}

// Evaluate verifies one signature envelope exactly as notation-go v1.3.2's
// verifier does, and returns the whole story as data. It never returns nil.
//
// The checks run in notation's order (integrity, authenticity with trusted
// identity, expiry, authentic timestamp, revocation) and stop at the first
// failed check whose action is enforce; then the signed descriptor and user
// metadata are compared, which notation enforces at every level but skip.
func (e *Engine) Evaluate(ctx context.Context, in Input) *Result {
	res := &Result{Schema: SchemaVersion, Reference: in.Reference}
	rule, err := e.policy.Select(in.Reference)
	if err != nil {
		res.Verdict = VerdictFailed
		res.err = err
		res.Error = err.Error()
		if errors.Is(err, ErrNoApplicablePolicy) {
			res.Fix = fmt.Sprintf("add a trust policy statement whose registryScopes lists %q, or a statement with registryScopes [\"*\"]", repositoryOf(in.Reference))
		}
		return res
	}
	res.Policy = policyMatch(rule, in.Reference)
	r := &run{e: e, ctx: ctx, in: in, rule: rule, res: res, checks: map[ValidationType]*Check{}}
	res.Checks = make([]Check, len(checkOrder))
	for i, t := range checkOrder {
		res.Checks[i] = Check{Type: t, Action: rule.Action(t), Outcome: OutcomeNotRun}
		r.checks[t] = &res.Checks[i]
	}
	if rule.Level == LevelSkip {
		for i := range res.Checks {
			res.Checks[i].Outcome = OutcomeSkipped
		}
		res.Verdict = VerdictSkipped
		return res
	}
	if in.Now.IsZero() {
		// The engine never reads the clock; a zero time is a caller bug.
		return r.finish(&InconclusiveError{Msg: "no verification time was given"})
	}
	r.finish(r.verify())
	return res
}

// finish records the final error and verdict.
func (r *run) finish(err error) *Result {
	res := r.res
	// Checks that were never reached keep OutcomeNotRun; checks whose
	// action is skip are reported as skipped.
	for i := range res.Checks {
		if res.Checks[i].Outcome == OutcomeNotRun && res.Checks[i].Action == ActionSkip {
			res.Checks[i].Outcome = OutcomeSkipped
		}
	}
	res.err = err
	switch {
	case err == nil:
		res.Verdict = VerdictVerified
	case errors.Is(err, ErrInconclusive):
		res.Verdict = VerdictInconclusive
		res.Error = err.Error()
	default:
		res.Verdict = VerdictFailed
		res.Error = err.Error()
	}
	if res.Fix == "" && err != nil {
		var ce *CheckError
		if errors.As(err, &ce) && ce.Type != "" {
			res.Fix = r.checks[ce.Type].Fix
		}
	}
	return res
}

// record sets a check's result and says whether verification must stop.
func (r *run) record(t ValidationType, err error, fix string) bool {
	c := r.checks[t]
	if err == nil {
		c.Outcome = OutcomePassed
		c.Error, c.Fix = "", ""
		return false
	}
	c.Outcome = OutcomeFailed
	c.Error = err.Error()
	c.Fix = fix
	return c.Action == ActionEnforce
}

// fail wraps a check's error for the Result.
func fail(t ValidationType, err error) error {
	if errors.Is(err, ErrInconclusive) {
		return err
	}
	return &CheckError{Type: t, Err: err}
}

func (r *run) verify() error {
	// 1. Integrity.
	content, facts, key, ierr := r.e.verifyEnvelope(r.in.MediaType, r.in.Envelope)
	if ierr != nil {
		fix := "the signature envelope is corrupt, was altered, or is not a " + r.in.MediaType + " Notation envelope; re-sign the artifact"
		r.record(TypeIntegrity, ierr.err, fix)
		if ierr.inconclusive {
			return &InconclusiveError{Msg: ierr.err.Error()}
		}
		return fail(TypeIntegrity, ierr.err)
	}
	r.si, r.facts, r.key = &content.SignerInfo, facts, key
	r.chain = r.si.CertificateChain
	if facts != nil {
		r.res.Chain = slices.Clone(facts.infos)
	} else {
		r.res.Chain = certInfos(r.chain)
	}
	r.res.Signature = r.signatureInfo(content)
	if content.Payload.ContentType != PayloadMediaType {
		err := fmt.Errorf("payload content type %q not supported", content.Payload.ContentType)
		r.record(TypeIntegrity, err, "sign with a Notation client: the payload must be "+PayloadMediaType)
		return fail(TypeIntegrity, err)
	}
	r.record(TypeIntegrity, nil, "")

	// 2. A verification plugin, if the signature asks for one.
	if err := r.pluginAttributes(); err != nil {
		return err
	}

	// 3. Authenticity and trusted identity.
	if stop, err := r.authenticity(); stop {
		return err
	}

	// 4. Expiry.
	if exp := r.si.SignedAttributes.Expiry; !exp.IsZero() && !r.in.Now.Before(exp) {
		err := fmt.Errorf("digital signature has expired on %q", exp.Format(time.RFC1123Z))
		if r.record(TypeExpiry, err, fmt.Sprintf("the signer set an expiry of %s; re-sign the artifact to get a signature that is valid now", exp.UTC().Format(time.RFC3339))) {
			return fail(TypeExpiry, err)
		}
	} else {
		r.record(TypeExpiry, nil, "")
	}

	// 5. Authentic timestamp.
	if err, fix := r.authenticTimestamp(); r.record(TypeAuthenticTimestamp, err, fix) {
		return fail(TypeAuthenticTimestamp, err)
	}

	// 6. Revocation of the signing chain.
	if r.rule.Action(TypeRevocation) != ActionSkip {
		err, fix := r.revocation()
		if r.record(TypeRevocation, err, fix) {
			return fail(TypeRevocation, err)
		}
	}

	// 7. The signed descriptor and user metadata: always enforced.
	return r.finalChecks(content.Payload.Content)
}

func (r *run) signatureInfo(c *signature.EnvelopeContent) *SignatureInfo {
	sa := c.SignerInfo.SignedAttributes
	si := &SignatureInfo{
		MediaType:     r.in.MediaType,
		SigningScheme: string(sa.SigningScheme),
		SigningTime:   sa.SigningTime.UTC(),
		Expiry:        sa.Expiry.UTC(),
		SigningAgent:  c.SignerInfo.UnsignedAttributes.SigningAgent,
	}
	if sa.Expiry.IsZero() {
		si.Expiry = time.Time{}
	}
	var p payload
	if json.Unmarshal(c.Payload.Content, &p) == nil && p.TargetArtifact.Digest != "" {
		si.TargetArtifact = &Descriptor{
			MediaType:   p.TargetArtifact.MediaType,
			Digest:      p.TargetArtifact.Digest.String(),
			Size:        p.TargetArtifact.Size,
			Annotations: p.TargetArtifact.Annotations,
		}
	}
	return si
}

type payload struct {
	TargetArtifact ocispec.Descriptor `json:"targetArtifact"`
}

// pluginAttributes reproduces notation's handling of the critical
// verificationPlugin attribute. This engine runs no verification plugins, so
// a signature that requires one is inconclusive, as notation's is when the
// plugin is not installed.
func (r *run) pluginAttributes() error {
	name, err := criticalString(r.si, attrVerificationPlugin)
	if errors.Is(err, errNoAttribute) {
		return nil
	}
	if err != nil {
		return &CheckError{Err: err}
	}
	if strings.TrimSpace(name) == "" {
		return &CheckError{Err: fmt.Errorf("%v from extended attribute is an empty string", attrVerificationPlugin)}
	}
	if v, err := criticalString(r.si, attrVerificationPluginMinVersion); err != nil && !errors.Is(err, errNoAttribute) {
		return &InconclusiveError{Msg: fmt.Sprintf("error while getting plugin minimum version, error: %s", err)}
	} else if err == nil && (strings.TrimSpace(v) == "" || !validSemver(v)) {
		return &InconclusiveError{Msg: fmt.Sprintf("error while getting plugin minimum version, error: %s from extended attribute is not a valid SemVer", attrVerificationPluginMinVersion)}
	}
	return &InconclusiveError{Msg: fmt.Sprintf("the signature requires the verification plugin %q, which this verifier does not run; verify it with notation and that plugin installed", name)}
}

var errNoAttribute = errors.New("extended attribute not exist")

func criticalString(si *signature.SignerInfo, key string) (string, error) {
	attr, err := si.ExtendedAttribute(key)
	if err != nil {
		return "", errNoAttribute
	}
	if !attr.Critical {
		return "", fmt.Errorf("%v is not a critical Extended attribute", key)
	}
	v, ok := attr.Value.(string)
	if !ok {
		return "", fmt.Errorf("%v from extended attribute is not a string", key)
	}
	return v, nil
}

// authenticity runs the authenticity and trusted-identity checks, which
// notation reports as one result.
func (r *run) authenticity() (stop bool, err error) {
	c := r.checks[TypeAuthenticity]
	scheme := r.si.SignedAttributes.SigningScheme
	var typ truststore.Type
	switch scheme {
	case signature.SigningSchemeX509:
		typ = truststore.TypeCA
	case signature.SigningSchemeX509SigningAuthority:
		typ = truststore.TypeSigningAuthority
	default:
		err := fmt.Errorf("error while loading the trust store, unrecognized signing scheme %q", scheme)
		if r.record(TypeAuthenticity, err, "sign with signing scheme notary.x509 or notary.x509.signingAuthority") {
			return true, fail(TypeAuthenticity, err)
		}
		return r.identity()
	}
	anchors := r.e.trusted(r.rule, typ)
	switch {
	case anchors.err != nil:
		fix := fmt.Sprintf("fix the trust store (see the error), or remove it from policy %q", r.rule.Name)
		if r.record(TypeAuthenticity, anchors.err, fix) {
			return true, fail(TypeAuthenticity, anchors.err)
		}
	case len(anchors.certs) == 0:
		err := &InconclusiveError{Msg: "no trusted certificates are found to verify authenticity"}
		fix := fmt.Sprintf("signatures with signing scheme %s are verified against %q trust stores; policy %q lists none", scheme, typ, r.rule.Name)
		if r.record(TypeAuthenticity, err, fix) {
			return true, err
		}
	default:
		rf := r.ruleFacts(scheme, anchors)
		if rf.trustedIndex < 0 {
			err := &signature.SignatureAuthenticityError{}
			if r.record(TypeAuthenticity, err, r.untrustedFix(typ)) {
				return true, fail(TypeAuthenticity, err)
			}
		} else {
			c.Outcome = OutcomePassed
			r.markTrusted(anchors, rf.trustedIndex)
		}
	}
	return r.identity()
}

// identity is notation's trusted-identity check. Its failure replaces the
// authenticity result.
func (r *run) identity() (bool, error) {
	rf := r.identityFacts()
	if rf.identityErr != nil {
		fix := ""
		var ie *IdentityError
		if errors.As(rf.identityErr, &ie) {
			fix = ie.Fix()
		}
		if r.record(TypeAuthenticity, rf.identityErr, fix) {
			return true, fail(TypeAuthenticity, rf.identityErr)
		}
	}
	return false, nil
}

func (r *run) ruleFacts(scheme signature.SigningScheme, anchors anchorSet) *ruleFacts {
	k := ruleFactsKey{chain: r.key, rule: r.rule.Index, scheme: scheme}
	if f := r.e.memo.getRule(k); f != nil {
		return f
	}
	f := &ruleFacts{trustedIndex: -1}
	// Any certificate of the envelope's chain byte-equal to a trusted one:
	// notation builds no path.
outer:
	for _, c := range r.chain {
		for i, t := range anchors.certs {
			if t.Equal(c) {
				f.trustedIndex = i
				break outer
			}
		}
	}
	r.e.memo.putRule(k, f)
	return f
}

func (r *run) identityFacts() *ruleFacts {
	k := ruleFactsKey{chain: r.key, rule: r.rule.Index, scheme: "identity"}
	if f := r.e.memo.getRule(k); f != nil {
		return f
	}
	f := &ruleFacts{trustedIndex: -1, identityErr: r.rule.MatchIdentity(r.chain[0])}
	r.e.memo.putRule(k, f)
	return f
}

func (r *run) markTrusted(anchors anchorSet, idx int) {
	t := anchors.certs[idx]
	for i, c := range r.chain {
		if t.Equal(c) {
			r.res.Chain[i].Trusted = anchors.names[idx]
		}
	}
}

func (r *run) untrustedFix(typ truststore.Type) string {
	var stores []string
	for _, s := range r.rule.Stores {
		if s.Type == typ {
			stores = append(stores, s.String())
		}
	}
	root := r.chain[len(r.chain)-1]
	where := "a " + string(typ) + " trust store named in the policy"
	if len(stores) > 0 {
		where = strings.Join(stores, " or ")
	}
	if len(r.chain) > 1 || isSelfIssued(root) {
		return fmt.Sprintf("no certificate of the signature's chain is in %s; if you trust its issuer, add the root certificate %q (sha256 %s) to %s", where, root.Subject.String(), r.res.Chain[len(r.chain)-1].SHA256, where)
	}
	return fmt.Sprintf("no certificate of the signature's chain is in %s", where)
}

func isSelfIssued(c *x509.Certificate) bool {
	return string(c.RawSubject) == string(c.RawIssuer)
}

// revocation checks the signing chain through the injected checker.
func (r *run) revocation() (error, string) {
	if r.e.rev == nil {
		return errors.New("unable to check revocation status, code signing revocation validator cannot be nil"), "configure revocation checking, or set the policy's revocation override to skip"
	}
	var st time.Time
	if r.si.SignedAttributes.SigningScheme == signature.SigningSchemeX509SigningAuthority {
		st, _ = r.si.AuthenticSigningTime()
	}
	results, err := r.e.rev.Check(r.ctx, revocation.Request{Chain: r.chain, Purpose: revocation.PurposeCodeSigning, SigningTime: st, Now: r.in.Now})
	if err != nil {
		return fmt.Errorf("unable to check revocation status, err: %s", err.Error()), "check the revocation configuration"
	}
	if len(results) != len(r.chain) {
		// notation-core-go always answers one result per certificate; a
		// checker that does not is broken, and nothing it said is trusted.
		return fmt.Errorf("unable to check revocation status, err: the revocation checker returned %d results for a chain of %d certificates", len(results), len(r.chain)), "report this as a bug in the revocation checker"
	}
	c := r.checks[TypeRevocation]
	for i, res := range results {
		if i < len(r.chain) {
			c.Revocation = append(c.Revocation, CertRevocation{Subject: r.chain[i].Subject.String(), Result: res})
		}
	}
	status, subject := summarize(results, r.chain)
	switch status {
	case revocation.StatusOK:
		return nil, ""
	case revocation.StatusRevoked:
		return fmt.Errorf("signing certificate with subject %q is revoked", subject), "the certificate was revoked by its CA; do not deploy this artifact; re-sign it with a key whose certificate is valid"
	default:
		return fmt.Errorf("signing certificate with subject %q revocation status is unknown", subject), "make the certificate's OCSP responder or CRL distribution point reachable, or import its CRL for offline use"
	}
}

// summarize is notation's final revocation result: every certificate good
// means OK; otherwise a revoked certificate (the one nearest the leaf) wins
// over an unknown one (likewise the nearest the leaf).
func summarize(results []revocation.Result, chain []*x509.Certificate) (revocation.Status, string) {
	final := revocation.StatusUnknown
	good := 0
	var subject, revokedSubject string
	revoked := false
	for i := len(results) - 1; i >= 0; i-- {
		if i >= len(chain) {
			continue
		}
		s := results[i].Status
		if s.Good() {
			good++
			continue
		}
		final = s
		subject = chain[i].Subject.String()
		if s == revocation.StatusRevoked {
			revoked = true
			revokedSubject = subject
		}
	}
	if revoked {
		return revocation.StatusRevoked, revokedSubject
	}
	if good == len(results) {
		return revocation.StatusOK, ""
	}
	if final == revocation.StatusOK || final == revocation.StatusNonRevokable {
		final = revocation.StatusUnknown
	}
	return final, subject
}

// finalChecks compares the signed descriptor and user metadata.
func (r *run) finalChecks(content []byte) error {
	var p payload
	if err := json.Unmarshal(content, &p); err != nil {
		return &CheckError{Err: err}
	}
	want := r.in.Descriptor
	got := p.TargetArtifact
	if got.Size != want.Size || got.Digest != want.Digest || got.MediaType != want.MediaType {
		r.res.Fix = fmt.Sprintf("the signature covers %s (%s, %d bytes), not %s (%s, %d bytes): it belongs to another artifact or the artifact was changed", got.Digest, got.MediaType, got.Size, want.Digest, want.MediaType, want.Size)
		return &CheckError{Err: errors.New("content descriptor mismatch")}
	}
	for k, v := range r.in.UserMetadata {
		if got, ok := p.TargetArtifact.Annotations[k]; !ok || got != v {
			r.res.Fix = fmt.Sprintf("the signature does not carry the annotation %s=%s; sign with --user-metadata %s=%s or drop the requirement", k, v, k, v)
			return &CheckError{Err: errors.New("unable to find specified metadata in the signature")}
		}
	}
	return nil
}
