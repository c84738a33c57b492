package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// metadataFlag is --user-metadata KEY=VALUE, repeatable.
type metadataFlag map[string]string

func (m metadataFlag) String() string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	return strings.Join(kv, ",")
}

func (m metadataFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("must be KEY=VALUE, not %q", s)
	}
	m[k] = v
	return nil
}

func (m metadataFlag) Type() string { return "KEY=VALUE" }

type verifyFlags struct {
	policy, truststore    string
	output                *cli.Output
	plainHTTP             bool
	maxSignatures         int
	metadata              metadataFlag
	signature, mediaType  string
	descriptor, reference string
	timeout               time.Duration
	brief                 bool
	rev                   revocationFlags
	// scope is the trust policy scope of an OCI layout reference.
	scope string
	// registryScopes turns on registry-level scopes (an extension).
	registryScopes bool
	// in and report are bulk verification's (verify only).
	in     artifactFlags
	report string
}

const verifyLong = `Verify a signed artifact as notation verify does: the trust policy
statement whose registryScopes names the repository (or "*") decides which
trust stores, identities and checks apply; the artifact verifies when one
of its signatures does.

REF is REGISTRY/REPOSITORY@DIGEST, or REGISTRY/REPOSITORY:TAG, which is
resolved to a digest first (with notation's warning on stderr: tags are
mutable). The line printed names the digest that was verified.

Local mode verifies an envelope you already have, with no registry:
--signature FILE --media-type TYPE --descriptor FILE --reference REF, where
the descriptor is the artifact's OCI descriptor (JSON: mediaType, digest,
size; e.g. from "oras manifest fetch --descriptor REF"). A --reference
REPO@DIGEST must name the descriptor's digest (else exit 2); a --reference
REPO:TAG is taken to name the descriptor, whose digest is what is verified,
as notation resolves a tag.

An OCI image layout (a folder or a tar, as "oras copy --to-oci-layout"
writes it, signatures included as referrers) is verified with
oci-layout:PATH@DIGEST or oci-layout:PATH:TAG and --scope REGISTRY/REPO, the
trust policy scope it is verified under (as notation verify --oci-layout
--scope). With --offline, a layout is verified without any network
connection.

Revocation: OCSP first, CRL when OCSP gives no answer; --offline uses only
cached CRLs and OCSP responses (see "trustpolicy crl").

`

func newVerifyCmd(ctx context.Context, e env, explain bool) *cobra.Command {
	f := verifyFlags{metadata: metadataFlag{}}
	cmd := &cobra.Command{
		Use:   "verify [flags] REF...",
		Short: "Verify artifacts' signatures against the trust policy; print one line per artifact",
		Long:  verifyLong + bulkLong + bulkExitCodes,
		Example: `  trustpolicy verify registry.example/app@sha256:…
  trustpolicy verify --plain-http 127.0.0.1:5000/app:v1 --output json
  trustpolicy verify --signature sig.cose --media-type application/cose \
    --descriptor desc.json --reference registry.example/app@sha256:…
  trustpolicy verify --from release.txt --report junit=verify.xml
  trustpolicy verify --all-tags registry.example/app --platforms all --output json
  trustpolicy verify --offline --scope registry.example/app oci-layout:./release.tar:v1`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(ctx, e, f, args, explain)
		},
	}
	if explain {
		cmd.Use = "explain [flags] REGISTRY/REPO[:TAG|@DIGEST]"
		cmd.Short = "Verify as verify does, and explain: the policy and why it matched, every check, the chain, the fix"
		cmd.Long = "Explain takes the same inputs as verify and prints the whole story of the\nverdict; --brief prints verify's one line instead.\n\n" + verifyLong + verifyExitCodes
		cmd.Example = `  trustpolicy explain registry.example/app@sha256:…
  trustpolicy explain --brief --plain-http 127.0.0.1:5000/app:v1
  trustpolicy explain --offline --crl-cache ./crl registry.example/app@sha256:…`
		cmd.Flags().BoolVar(&f.brief, "brief", false, "print only the one-line result, as verify does")
		cmd.Args = cobra.MaximumNArgs(1)
	} else {
		f.in.register(cmd)
		cmd.Flags().StringVar(&f.report, "report", "", "also write a report: junit=`FILE` (JUnit XML, one testcase per artifact)")
	}
	f.registerRemote(cmd)
	f.registerScope(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.signature, "signature", "", "verify this local signature envelope `file` instead of fetching from a registry")
	fs.StringVar(&f.mediaType, "media-type", "", "the local envelope's media `type`: application/jose+json or application/cose")
	fs.StringVar(&f.descriptor, "descriptor", "", "`file` holding the artifact's OCI descriptor (JSON) the local signature must cover")
	fs.StringVar(&f.reference, "reference", "", "the artifact reference REGISTRY/REPO@DIGEST (or :TAG) that selects the policy (local mode)")
	return cmd
}

// registerRemote adds the flags of verifying artifacts in a registry or
// layout: policy and trust stores, output, registry, limits, revocation.
func (f *verifyFlags) registerRemote(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.policy, "policy", "", "trust policy `file` (default $NOTATION_CONFIG/trustpolicy.json)")
	fs.StringVar(&f.truststore, "truststore", "", "trust store `folder` that holds x509/ (default $NOTATION_CONFIG/truststore)")
	f.output = cli.OutputFlag(cmd)
	fs.BoolVar(&f.plainHTTP, "plain-http", false, "talk plain HTTP to the registry (loopback test registries only)")
	fs.IntVar(&f.maxSignatures, "max-signatures", 100, "verify at most `N` signatures of the artifact, as notation's --max-signatures")
	fs.Var(f.metadata, "user-metadata", "require the signed annotation `KEY=VALUE` (repeatable)")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up on an artifact after this `duration`")
	fs.BoolVar(&f.registryScopes, "registry-scopes", false, "allow registry-level scopes (a registry host in registryScopes: repository > registry > \"*\"), an extension notation lacks; the policy can also set \"extensions\": {\"registryScopes\": true}")
	f.rev.register(cmd, true)
}

// registerScope adds --scope, for OCI layout references.
func (f *verifyFlags) registerScope(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.scope, "scope", "", "the trust policy scope `REGISTRY/REPO` an oci-layout: reference is verified under")
}

func runVerify(ctx context.Context, e env, f verifyFlags, pos []string, explain bool) error {
	name := "verify"
	if explain {
		name = "explain"
	}
	local := f.signature != "" || f.mediaType != "" || f.descriptor != "" || f.reference != ""
	bulkFlags := f.in.many() || f.report != "" || f.in.platforms != ""
	if !explain {
		if _, err := f.in.check(); err != nil {
			return err
		}
	}
	switch {
	case local && bulkFlags:
		return cli.Usagef("local mode verifies one envelope: --from, --all-tags, --report and --platforms are for artifacts in a registry or layout")
	case !explain && !local && (len(pos) > 1 || bulkFlags):
		return runBulk(ctx, e, f, pos)
	}
	switch {
	case local && len(pos) > 0:
		return cli.Usagef("give either REF or --signature/--media-type/--descriptor/--reference, not both")
	case local && (f.signature == "" || f.mediaType == "" || f.descriptor == "" || f.reference == ""):
		return cli.Usagef("local verification needs all of --signature, --media-type, --descriptor and --reference")
	case !local && len(pos) != 1:
		return cli.Usagef("%s needs one artifact reference REGISTRY/REPO[:TAG|@DIGEST] (or --signature ... for a local envelope)", name)
	}
	engine, _, err := prepareEngine(e, &f)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	var report *trustpolicy.Report
	if local {
		report, err = verifyLocal(ctx, engine, f, e)
	} else {
		report, err = verifyRemote(ctx, engine, pos[0], f, e)
	}
	if err != nil {
		return toCLI(err)
	}
	for _, w := range report.Warnings {
		fmt.Fprintf(e.stderr, "Warning: %s\n", textsafe.Escape(w))
	}
	if err := printReport(e.stdout, report, f.output, explain && !f.brief); err != nil {
		return err
	}
	if code := exitFor(report.Verdict); code != exitVerified {
		return &cli.ExitError{Code: code}
	}
	return nil
}

// loadEngine loads the policy and trust stores; rev checks the signing and
// timestamping chains.
func loadEngine(policy, store string, rev revocation.Checker, e env) (*trustpolicy.Engine, error) {
	return loadEngineWith(policy, store, rev, e, trustpolicy.CompileOptions{})
}

// loadEngineWith is loadEngine with the policy's extensions turned on by
// opts.
func loadEngineWith(policy, store string, rev revocation.Checker, e env, opts trustpolicy.CompileOptions) (*trustpolicy.Engine, error) {
	paths, err := resolvePaths(policy, store, e)
	if err != nil {
		return nil, err
	}
	engine, err := trustpolicy.LoadWithOptions(paths, rev, opts)
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

// printReport prints the JSON report, explain's whole text, or verify's
// one line.
func printReport(w io.Writer, r *trustpolicy.Report, output *cli.Output, explain bool) error {
	var err error
	switch {
	case output.JSON():
		err = writeJSON(w, r)
	case explain:
		_, err = io.WriteString(w, r.Explain())
	default:
		_, err = fmt.Fprintln(w, r.Brief())
	}
	return err
}
