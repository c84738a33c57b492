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
		if errors.Is(err, ErrNoApplicablePolicy) {
			err = withFix(err, fmt.Sprintf("add a trust policy statement whose registryScopes lists %q, or a statement with registryScopes [\"*\"]", repositoryOf(in.Reference)))
		}
		res.Verdict = VerdictFailed
		res.err = err
		res.Error = err.Error()
		res.Fix = fixOf(err)
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
	// The fix of the deciding error. An inconclusive verdict has none: the
	// fix of the check that could not decide stays with the check.
	if err != nil && !errors.Is(err, ErrInconclusive) {
		res.Fix = fixOf(err)
	}
	return res
}

// record sets a check's result, with the fix its error carries, and says
// whether verification must stop.
func (r *run) record(t ValidationType, err error) bool {
	c := r.checks[t]
	if err == nil {
		c.Outcome = OutcomePassed
		c.Error, c.Fix = "", ""
		return false
	}
	c.Outcome = OutcomeFailed
	c.Error = err.Error()
	c.Fix = fixOf(err)
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
		err := withFix(ierr.err, "the signature envelope is corrupt, was altered, or is not a "+r.in.MediaType+" Notation envelope; re-sign the artifact")
		r.record(TypeIntegrity, err)
		if ierr.inconclusive {
			return &InconclusiveError{Msg: ierr.err.Error()}
		}
		return fail(TypeIntegrity, err)
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
		err := withFix(fmt.Errorf("payload content type %q not supported", content.Payload.ContentType), "sign with a Notation client: the payload must be "+PayloadMediaType)
		r.record(TypeIntegrity, err)
		return fail(TypeIntegrity, err)
	}
	r.record(TypeIntegrity, nil)

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
		err := withFix(fmt.Errorf("digital signature has expired on %q", exp.Format(time.RFC1123Z)),
			fmt.Sprintf("the signer set an expiry of %s; re-sign the artifact to get a signature that is valid now", exp.UTC().Format(time.RFC3339)))
		if r.record(TypeExpiry, err) {
			return fail(TypeExpiry, err)
		}
	} else {
		r.record(TypeExpiry, nil)
	}

	// 5. Authentic timestamp.
	if err := r.authenticTimestamp(); r.record(TypeAuthenticTimestamp, err) {
		return fail(TypeAuthenticTimestamp, err)
	}

	// 6. Revocation of the signing chain.
	if r.rule.Action(TypeRevocation) != ActionSkip {
		var st time.Time
		if r.si.SignedAttributes.SigningScheme == signature.SigningSchemeX509SigningAuthority {
			st, _ = r.si.AuthenticSigningTime()
		}
		if err := r.chainRevocation(r.chain, st, signingChain()); r.record(TypeRevocation, err) {
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

// finalChecks compares the signed descriptor and user metadata.
func (r *run) finalChecks(content []byte) error {
	var p payload
	if err := json.Unmarshal(content, &p); err != nil {
		return &CheckError{Err: err}
	}
	want := r.in.Descriptor
	got := p.TargetArtifact
	if got.Size != want.Size || got.Digest != want.Digest || got.MediaType != want.MediaType {
		return &CheckError{Err: withFix(errors.New("content descriptor mismatch"),
			fmt.Sprintf("the signature covers %s (%s, %d bytes), not %s (%s, %d bytes): it belongs to another artifact or the artifact was changed", got.Digest, got.MediaType, got.Size, want.Digest, want.MediaType, want.Size))}
	}
	for k, v := range r.in.UserMetadata {
		if got, ok := p.TargetArtifact.Annotations[k]; !ok || got != v {
			return &CheckError{Err: withFix(errors.New("unable to find specified metadata in the signature"),
				fmt.Sprintf("the signature does not carry the annotation %s=%s; sign with --user-metadata %s=%s or drop the requirement", k, v, k, v))}
		}
	}
	return nil
}
