package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/promote"
)

const promoteLong = `Promote an artifact from one repository to another (staging to
production) only when it verifies under the trust policy:

  1. SRC (REGISTRY/REPO:TAG or @DIGEST) is resolved once and that digest is
     verified as verify does; unless it verifies, nothing is copied (DST is
     not even contacted);
  2. the manifest (or an index with its platform manifests), every blob
     and its Notary signatures are copied to DST with oras-go, each byte
     checked against its digest on the way, so content altered in SRC after
     signing is never written; what DST already holds is skipped, so
     running the same command again completes an interrupted copy;
  3. DST is verified by digest under the same policy;
  4. only then is DST tagged (DST's tag, else SRC's), so a tag in DST
     never names an unverified artifact.

DST is REGISTRY/REPO, REGISTRY/REPO:TAG, or REGISTRY/REPO@DIGEST (the same
digest). Credentials come from the docker configuration (or
--docker-config FILE), one per registry host, so SRC and DST can need
different ones; "docker login HOST" stores them. --timeout bounds the whole
promotion.

Exit codes:
  0  promoted: SRC verified, copied, DST verified and tagged
  1  not promoted: SRC failed verification or its policy skips it, SRC
     could not be read, the copy failed (rerun to complete it) or content
     did not match its digest, DST did not verify
  2  bad input or usage: unknown flag, missing or invalid policy or trust
     store, a malformed SRC or DST, DST naming another digest
  3  not promoted: SRC's verification was inconclusive`

func newPromoteCmd(ctx context.Context, e env) *cobra.Command {
	f := verifyFlags{metadata: metadataFlag{}}
	var dockerConfig string
	cmd := &cobra.Command{
		Use:   "promote [flags] SRC DST",
		Short: "Copy an artifact and its signatures to another repository only if it verifies, then verify the copy",
		Long:  promoteLong,
		Example: `  trustpolicy promote staging.example/app:v1.2 prod.example/app
  trustpolicy promote --output json staging.example/app@sha256:… prod.example/app:v1.2
  trustpolicy promote --docker-config ci/config.json staging.example/app:v1 prod.example/app:stable`,
		Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			return runPromote(ctx, e, f, dockerConfig, args[0], args[1])
		},
	}
	f.registerRemote(cmd)
	cmd.Flags().StringVar(&dockerConfig, "docker-config", "", "read registry credentials from this docker `config.json` (default: the docker configuration)")
	return cmd
}

func runPromote(ctx context.Context, e env, f verifyFlags, dockerConfig, src, dst string) error {
	for _, a := range []struct{ name, ref string }{{"SRC", src}, {"DST", dst}} {
		if registry.IsLayoutReference(a.ref) {
			return cli.Usagef("%s %q: promote copies between registries; an OCI layout is copied with oras copy --from-oci-layout", a.name, a.ref)
		}
	}
	if _, err := registry.ParseReference(src); err != nil {
		return cli.Usagef("SRC: %w", err)
	}
	if _, _, _, err := promote.ParseDestination(dst); err != nil {
		return cli.Usagef("DST: %w", err)
	}
	opts := registryOptions(f)
	if dockerConfig != "" {
		fh, err := os.Open(dockerConfig)
		if err != nil {
			return cli.Usagef("--docker-config: %w", err)
		}
		fh.Close()
		opts.Credentials = registry.DockerCredentials(dockerConfig)
	}
	engine, _, err := prepareEngine(e, &f)
	if err != nil {
		return err
	}
	client, err := registry.New(opts)
	if err != nil {
		return err
	}
	svc, err := service.New(service.Config{Engine: engine, Registry: client, Now: e.now})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	res, err := promote.Promote(ctx, src, dst, promote.Config{Service: svc, Client: client, Options: f.serviceOptions(), MaxSignatures: f.maxSignatures})
	code := promoteExit(res, err)
	switch {
	case code == exitUsage:
		return cli.Usagef("%w", err)
	case f.output.JSON():
		// One document, the result, which says why when it failed.
		if werr := writeJSON(e.stdout, res); werr != nil {
			return werr
		}
		if code != exitVerified {
			return &cli.ExitError{Code: code}
		}
		return nil
	}
	if werr := printPromote(e, res); werr != nil {
		return werr
	}
	switch {
	case err == nil:
		return nil
	case code == exitInconclusive:
		return exitCodeError{err: err, code: exitInconclusive}
	}
	return err
}

// exitCodeError is an error with its own exit code (internal/cli honours
// ExitCode).
type exitCodeError struct {
	err  error
	code int
}

func (e exitCodeError) Error() string { return e.err.Error() }
func (e exitCodeError) Unwrap() error { return e.err }
func (e exitCodeError) ExitCode() int { return e.code }

// promoteExit is the exit code of a promotion.
func promoteExit(res *promote.Result, err error) int {
	var ie *service.InputError
	switch {
	case err == nil:
		return exitVerified
	case errors.Is(err, promote.ErrInvalidDestination), errors.As(err, &ie), errors.Is(err, registry.ErrInvalidReference):
		return exitUsage
	case errors.Is(err, promote.ErrNotVerified) && res.SourceReport != nil && res.DestinationReport == nil &&
		res.SourceReport.Verdict == trustpolicy.VerdictInconclusive:
		return exitInconclusive
	}
	return exitFailed
}

// printPromote prints what happened, one line per step.
func printPromote(e env, res *promote.Result) error {
	var b strings.Builder
	for _, w := range reportWarnings(res.SourceReport) {
		fmt.Fprintf(e.stderr, "Warning: %s\n", textsafe.Escape(w))
	}
	if res.SourceReport != nil {
		b.WriteString("source: " + res.SourceReport.Brief() + "\n")
	}
	c := res.Copied
	if res.DestinationReport != nil || c.Manifests+c.Blobs+c.Signatures+c.Existing > 0 {
		fmt.Fprintf(&b, "copied: %d manifests, %d blobs, %d signatures (%d already there)\n", c.Manifests, c.Blobs, c.Signatures, c.Existing)
	}
	if res.DestinationReport != nil {
		b.WriteString("destination: " + res.DestinationReport.Brief() + "\n")
	}
	if res.Promoted {
		fmt.Fprintf(&b, "promoted: %s (%s)\n", textsafe.Escape(res.Destination), res.Digest)
	}
	_, err := fmt.Fprint(e.stdout, b.String())
	return err
}

func reportWarnings(r *trustpolicy.Report) []string {
	if r == nil {
		return nil
	}
	return r.Warnings
}
