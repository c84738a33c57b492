package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxLocalFile caps the local signature and descriptor files.
const maxLocalFile = 4 << 20

type metadataFlag map[string]string

func (m metadataFlag) String() string { return fmt.Sprint(map[string]string(m)) }
func (m metadataFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("must be KEY=VALUE, not %q", s)
	}
	m[k] = v
	return nil
}

type verifyFlags struct {
	policy, truststore    string
	output                outputFlag
	plainHTTP             bool
	maxSignatures         int
	metadata              metadataFlag
	signature, mediaType  string
	descriptor, reference string
	timeout               time.Duration
	rev                   revocationFlags
}

func cmdVerify(ctx context.Context, args []string, e env, explain bool) int {
	name := "verify"
	if explain {
		name = "explain"
	}
	f := verifyFlags{output: "text", metadata: metadataFlag{}}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&f.policy, "policy", "", "trust policy `file` (default $NOTATION_CONFIG/trustpolicy.json)")
	fs.StringVar(&f.truststore, "truststore", "", "trust store `folder` that holds x509/ (default $NOTATION_CONFIG/truststore)")
	fs.Var(&f.output, "output", "output format: text or json")
	fs.BoolVar(&f.plainHTTP, "plain-http", false, "talk plain HTTP to the registry (loopback test registries only)")
	fs.IntVar(&f.maxSignatures, "max-signatures", 100, "verify at most `N` signatures of the artifact, as notation's --max-signatures")
	fs.Var(f.metadata, "user-metadata", "require the signed annotation `KEY=VALUE` (repeatable)")
	fs.StringVar(&f.signature, "signature", "", "verify this local signature envelope `file` instead of fetching from a registry")
	fs.StringVar(&f.mediaType, "media-type", "", "the local envelope's media `type`: application/jose+json or application/cose")
	fs.StringVar(&f.descriptor, "descriptor", "", "`file` holding the artifact's OCI descriptor (JSON) the local signature must cover")
	fs.StringVar(&f.reference, "reference", "", "the artifact reference REGISTRY/REPO@DIGEST that selects the policy (local mode)")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up after this `duration`")
	f.rev.register(fs, true)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitVerified
		}
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()

	local := f.signature != "" || f.mediaType != "" || f.descriptor != "" || f.reference != ""
	switch {
	case local && len(pos) > 0:
		return errorExit(e, badInput("give either REF or --signature/--media-type/--descriptor/--reference, not both"))
	case local && (f.signature == "" || f.mediaType == "" || f.descriptor == "" || f.reference == ""):
		return errorExit(e, badInput("local verification needs all of --signature, --media-type, --descriptor and --reference"))
	case !local && len(pos) != 1:
		return errorExit(e, badInput("%s needs one artifact reference REGISTRY/REPO[:TAG|@DIGEST] (or --signature ... for a local envelope)", name))
	case f.maxSignatures <= 0:
		return errorExit(e, badInput("--max-signatures must be positive, not %d", f.maxSignatures))
	}

	checker, err := f.rev.newChecker(e)
	if err != nil {
		return errorExit(e, err)
	}
	engine, err := loadEngine(f.policy, f.truststore, checker, e)
	if err != nil {
		return errorExit(e, err)
	}
	var report *trustpolicy.Report
	if local {
		report, err = verifyLocal(ctx, engine, f, e)
	} else {
		report, err = verifyRemote(ctx, engine, pos[0], f, e)
	}
	if err != nil {
		return errorExit(e, err)
	}
	if err := printReport(e.stdout, report, f.output, explain); err != nil {
		return errorExit(e, err)
	}
	return exitFor(report.Verdict)
}

// loadEngine loads the policy and trust stores; rev checks the signing and
// timestamping chains.
func loadEngine(policy, store string, rev revocation.Checker, e env) (*trustpolicy.Engine, error) {
	paths, err := resolvePaths(policy, store, e)
	if err != nil {
		return nil, err
	}
	engine, err := trustpolicy.Load(paths, rev)
	if err != nil {
		return nil, usageError{err}
	}
	return engine, nil
}

func resolvePaths(policy, store string, e env) (trustpolicy.Paths, error) {
	paths := trustpolicy.Paths{Policy: policy, TrustStore: store}
	if policy == "" || store == "" {
		def, err := trustpolicy.DefaultPaths(e.getenv)
		if err != nil {
			return paths, usageError{err}
		}
		if paths.Policy == "" {
			paths.Policy = def.Policy
		}
		if paths.TrustStore == "" {
			paths.TrustStore = def.TrustStore
		}
	}
	return paths, nil
}

func verifyLocal(ctx context.Context, engine *trustpolicy.Engine, f verifyFlags, e env) (*trustpolicy.Report, error) {
	envelope, err := readCapped(f.signature, "--signature")
	if err != nil {
		return nil, err
	}
	raw, err := readCapped(f.descriptor, "--descriptor")
	if err != nil {
		return nil, err
	}
	var desc ocispec.Descriptor
	if err := json.Unmarshal(raw, &desc); err != nil {
		return nil, badInput("--descriptor %s: not an OCI descriptor in JSON: %v", f.descriptor, err)
	}
	if desc.Digest == "" || desc.MediaType == "" {
		return nil, badInput("--descriptor %s: the descriptor needs mediaType, digest and size", f.descriptor)
	}
	report := &trustpolicy.Report{Reference: f.reference}
	if _, _, err := engine.Select(f.reference); err != nil && !errors.Is(err, trustpolicy.ErrNoApplicablePolicy) {
		return nil, usageError{err}
	}
	res := engine.Evaluate(ctx, trustpolicy.Input{
		Reference:    f.reference,
		Descriptor:   desc,
		Envelope:     envelope,
		MediaType:    f.mediaType,
		UserMetadata: f.metadata,
		Now:          e.now(),
	})
	report.Add("", res)
	report.Finish(nil)
	return report, nil
}

func readCapped(path, flagName string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, badInput("%s: %v", flagName, err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxLocalFile+1))
	if err != nil {
		return nil, badInput("%s %s: %v", flagName, path, err)
	}
	if len(data) > maxLocalFile {
		return nil, badInput("%s %s: larger than %d bytes", flagName, path, maxLocalFile)
	}
	return data, nil
}

func verifyRemote(ctx context.Context, engine *trustpolicy.Engine, ref string, f verifyFlags, e env) (*trustpolicy.Report, error) {
	client, err := registry.New(registry.Options{PlainHTTP: f.plainHTTP, MaxSignatures: f.maxSignatures})
	if err != nil {
		return nil, err
	}
	target, err := client.Resolve(ctx, ref)
	if err != nil {
		if errors.Is(err, registry.ErrInvalidReference) {
			return nil, usageError{err}
		}
		return nil, err
	}
	report := &trustpolicy.Report{Reference: target.Reference}
	// As notation: the policy is chosen (and a skip honoured) before any
	// signature is fetched.
	rule, match, err := engine.Select(target.Reference)
	if err != nil {
		if errors.Is(err, trustpolicy.ErrNoApplicablePolicy) {
			report.Verdict = trustpolicy.VerdictFailed
			report.Error = err.Error()
			report.Fix = fmt.Sprintf("add a trust policy statement whose registryScopes lists %q, or one with registryScopes [\"*\"]", target.Repository)
			report.Schema = trustpolicy.SchemaVersion
			return report, nil
		}
		return nil, usageError{err}
	}
	report.Policy = match
	if rule.Level == trustpolicy.LevelSkip {
		report.Add("", engine.Evaluate(ctx, trustpolicy.Input{Reference: target.Reference, Now: e.now()}))
		report.Finish(nil)
		return report, nil
	}
	var abort error
	err = client.Signatures(ctx, target, func(s registry.Signature) bool {
		if s.Err != nil {
			abort = fmt.Errorf("unable to retrieve digital signature with digest %q associated with %q from the registry: %w", s.Descriptor.Digest, target.Reference, s.Err)
			return true
		}
		res := engine.Evaluate(ctx, trustpolicy.Input{
			Reference:    target.Reference,
			Descriptor:   target.Descriptor,
			Envelope:     s.Envelope,
			MediaType:    s.MediaType,
			UserMetadata: f.metadata,
			Now:          e.now(),
		})
		return report.Add(s.Descriptor.Digest.String(), res)
	})
	if err != nil && !errors.Is(err, registry.ErrNoSignatures) {
		abort = err
	}
	report.Finish(abort)
	return report, nil
}

func printReport(w io.Writer, r *trustpolicy.Report, output outputFlag, explain bool) error {
	if output == "json" {
		return writeJSON(w, r)
	}
	if !explain {
		_, err := fmt.Fprintln(w, r.Summary())
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Artifact:   %s\nVerdict:    %s\n", r.Reference, strings.ToUpper(string(r.Verdict)))
	if r.Error != "" && len(r.Signatures) == 0 {
		fmt.Fprintf(&b, "Reason:     %s\n", r.Error)
	}
	if r.Fix != "" {
		fmt.Fprintf(&b, "Fix:        %s\n", r.Fix)
	}
	for i, s := range r.Signatures {
		fmt.Fprintf(&b, "\n=== Signature %d of %d", i+1, len(r.Signatures))
		if s.Digest != "" {
			fmt.Fprintf(&b, " (%s)", s.Digest)
		}
		b.WriteString(" ===\n")
		b.WriteString(s.Explain())
	}
	_, err := io.WriteString(w, b.String())
	return err
}
