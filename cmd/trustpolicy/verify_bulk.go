package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/bulk"
)

const bulkLong = `Many artifacts at once: several REF arguments, --from FILE (one reference
per line, - for stdin; blank lines and # comments are skipped), --all-tags
REGISTRY/REPO (every tag, each resolved once), or all of them together.
One process verifies them with one engine, one registry client (connections
kept open; at most --per-registry artifacts of one registry host at once)
and one revocation cache, --jobs artifacts at a time; --timeout then bounds
each artifact. It prints one line per artifact, in the order given, then a
summary; --output json prints JSON Lines: one object per artifact (schema,
reference, digest, verdict, brief, and the full result), then the summary
object. --report junit=FILE also writes a JUnit XML report, one testcase
per artifact, for CI dashboards. A progress bar is shown on stderr when it
is a terminal.

--platforms all (or os/arch,...) also checks each platform manifest of an
image index or Docker manifest list: a platform is covered when its own
manifest or the index carries a verified signature, and the output says
which. The artifact verifies when the index does or every platform is
covered by its own signature.

`

const bulkExitCodes = `Exit codes:
  0  verified, or the matching policy has level skip (with many artifacts:
     every one)
  1  verification failed: a signature, the registry, or no signature at all
     (with many artifacts: any one)
  2  bad input or usage: unknown flag, missing or unreadable file, invalid
     policy, malformed reference or descriptor (an argument or --from line,
     named), a reference whose digest is not the descriptor's
  3  inconclusive: the verifier could not decide (no trusted certificate
     configured for the signing scheme, a required verification plugin);
     with many artifacts: none failed and some were inconclusive`

// reportFormatJUnit is the one --report format.
const reportFormatJUnit = "junit"

// parseReport parses --report FORMAT=FILE.
func parseReport(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	format, path, ok := strings.Cut(s, "=")
	if !ok || format != reportFormatJUnit || path == "" {
		return "", cli.Usagef("--report %q: want junit=FILE", s)
	}
	return path, nil
}

// prepareEngine checks the flags shared by every verification and loads
// the engine of --policy, and the revocation checker (one cache for the
// process) that any other engine of the run must share.
func prepareEngine(e env, f *verifyFlags) (*trustpolicy.Engine, revocation.Checker, error) {
	switch {
	case f.maxSignatures <= 0:
		return nil, nil, cli.Usagef("--max-signatures must be positive, not %d", f.maxSignatures)
	case f.timeout <= 0:
		return nil, nil, cli.Usagef("--timeout must be positive, not %s", f.timeout)
	}
	if f.truststore != "" {
		// The offline hints print a crl import command; it must use the
		// same trust stores to work as printed.
		abs, err := filepath.Abs(f.truststore)
		if err != nil {
			return nil, nil, cli.Usagef("--truststore %s: %v", f.truststore, err)
		}
		f.rev.importArgs = []string{"--truststore", abs}
	}
	checker, err := f.rev.newChecker(e)
	if err != nil {
		return nil, nil, toCLI(err)
	}
	engine, err := loadEngineWith(f.policy, f.truststore, checker, e, f.compileOptions())
	if err != nil {
		return nil, nil, toCLI(err)
	}
	return engine, checker, nil
}

// compileOptions are the policy extensions the flags turn on.
func (f *verifyFlags) compileOptions() trustpolicy.CompileOptions {
	return trustpolicy.CompileOptions{RegistryScopes: f.registryScopes}
}

// bulkRun is what bulk verify and diff share: the artifacts, where they
// are verified, and the pool's options.
type bulkRun struct {
	inputs  []bulk.Input
	src     *sources
	options bulk.Options
	// verify is the Verifier's Verify with --timeout per artifact.
	verify bulk.Func
}

// gatherBulk completes the inputs listed (gatherListed) with --all-tags
// and opens their sources. Every OCI layout named is opened now, so that a
// missing one is bad input (exit 2).
func gatherBulk(ctx context.Context, e env, f *verifyFlags, engine *trustpolicy.Engine, listed []bulk.Input) ([]bulk.Input, *sources, *bulk.Platforms, error) {
	platforms, err := f.in.check()
	if err != nil {
		return nil, nil, nil, err
	}
	src, err := newSources(engine, e, registryOptions(*f), f.scope)
	if err != nil {
		return nil, nil, nil, err
	}
	inputs, err := gatherTags(ctx, &f.in, f.scope, listed, src)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, in := range inputs {
		if lr, err := registry.ParseLayoutReference(in.Reference); err == nil {
			if _, err := src.layout(ctx, lr.Path); err != nil {
				return nil, nil, nil, cli.Usagef("%s %q: %w", in.Source, in.Reference, err)
			}
		}
	}
	return inputs, src, platforms, nil
}

// prepareBulk is gatherBulk with the Verifier of bulk verify.
func prepareBulk(ctx context.Context, e env, f *verifyFlags, engine *trustpolicy.Engine, listed []bulk.Input) (*bulkRun, error) {
	inputs, src, platforms, err := gatherBulk(ctx, e, f, engine, listed)
	if err != nil {
		return nil, err
	}
	v := &bulk.Verifier{Open: src.open, Options: f.serviceOptions(), Platforms: platforms}
	timeout := f.timeout
	return &bulkRun{
		inputs:  inputs,
		src:     src,
		options: bulk.Options{Jobs: f.in.jobs, PerHost: f.in.perRegistry},
		verify: func(ctx context.Context, in bulk.Input) bulk.Record {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return v.Verify(ctx, in)
		},
	}, nil
}

// serviceOptions are the service's per-call options from the flags.
func (f *verifyFlags) serviceOptions() service.Options {
	return service.Options{UserMetadata: f.metadata, MaxSignatures: f.maxSignatures}
}

// runBulk is verify with many artifacts.
func runBulk(ctx context.Context, e env, f verifyFlags, pos []string) error {
	junitPath, err := parseReport(f.report)
	if err != nil {
		return err
	}
	if _, err := f.in.check(); err != nil {
		return err
	}
	listed, err := gatherListed(e, &f.in, f.scope, pos)
	if err != nil {
		return err
	}
	engine, _, err := prepareEngine(e, &f)
	if err != nil {
		return err
	}
	run, err := prepareBulk(ctx, e, &f, engine, listed)
	if err != nil {
		return err
	}
	var junitFile *os.File
	if junitPath != "" {
		// Created before the run: a report that cannot be written is bad
		// input, found before any verification.
		if junitFile, err = os.Create(junitPath); err != nil {
			return cli.Usagef("--report junit=%s: %w", junitPath, err)
		}
		defer junitFile.Close()
	}
	out := &bulkPrinter{e: e, json: f.output.JSON()}
	summary := bulk.NewSummary(len(run.inputs))
	junit := bulk.NewJUnit("trustpolicy verify")
	bar := newProgress(e.stderr, e.stdout, len(run.inputs), "verifying")
	run.options.Progress = bar.set
	tags := 0
	runErr := bulk.Run(ctx, run.inputs, run.verify, run.options, func(r bulk.Record) error {
		summary.Add(r)
		junit.Add(r)
		if r.Result != nil && r.Result.Tag != "" {
			tags++
		}
		bar.clear()
		return out.record(r)
	})
	bar.finish()
	if tags > 0 {
		fmt.Fprintf(e.stderr, "Warning: %d of %d artifacts were named by tag; each line names the digest verified. Tags are mutable: deploy by the digest (REPO@sha256:...), not the tag.\n", tags, len(run.inputs))
	}
	if err := out.summary(summary); err != nil && runErr == nil {
		runErr = err
	}
	if junitFile != nil {
		if _, err := junit.WriteTo(junitFile); err != nil && runErr == nil {
			runErr = fmt.Errorf("--report junit=%s: %w", junitPath, err)
		}
		if err := junitFile.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("--report junit=%s: %w", junitPath, err)
		}
	}
	if errors.Is(runErr, context.Canceled) {
		runErr = fmt.Errorf("interrupted: %d of %d artifacts not verified", summary.NotRun, summary.Total)
	}
	if runErr != nil {
		// The records and the summary are out: under --output json stdout
		// stays JSON Lines, and the error is one line on stderr.
		if f.output.JSON() {
			fmt.Fprintf(e.stderr, "trustpolicy verify: error: %s\n", textsafe.Escape(runErr.Error()))
			return &cli.ExitError{Code: exitFailed}
		}
		return runErr
	}
	if summary.ExitCode != exitVerified {
		return &cli.ExitError{Code: summary.ExitCode}
	}
	return nil
}

// bulkPrinter prints records and the summary: text lines, or JSON Lines.
type bulkPrinter struct {
	e    env
	json bool
}

func (p *bulkPrinter) record(r bulk.Record) error {
	if p.json {
		return writeJSONLine(p.e.stdout, r)
	}
	var b strings.Builder
	if r.Result != nil && r.Reference != r.Result.Reference {
		b.WriteString(textsafe.Escape(r.Reference) + " -> ")
	}
	b.WriteString(r.Brief)
	for _, pl := range r.Platforms {
		fmt.Fprintf(&b, "\n  %s %s: %s", textsafe.Escape(pl.Platform), shortDigest(pl.Digest), platformLine(pl))
	}
	b.WriteByte('\n')
	_, err := fmt.Fprint(p.e.stdout, b.String())
	return err
}

// platformLine says what covers a platform.
func platformLine(p bulk.Platform) string {
	switch p.CoveredBy {
	case bulk.CoveredByBoth:
		return "covered by the index and its own signature"
	case bulk.CoveredByIndex:
		return "covered by the index's signature"
	case bulk.CoveredByManifest:
		return "covered by its own signature"
	}
	return cutLine("NOT covered: " + textsafe.Escape(p.Error))
}

func (p *bulkPrinter) summary(s *bulk.Summary) error {
	if p.json {
		return writeJSONLine(p.e.stdout, s)
	}
	_, err := fmt.Fprintln(p.e.stdout, s.String())
	return err
}

// shortDigest is sha256: and the first 12 hex digits.
func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12] + "…"
	}
	return d
}

// cutLine keeps a line under trustpolicy.MaxBriefLen characters.
func cutLine(s string) string {
	r := []rune(s)
	if len(r) <= trustpolicy.MaxBriefLen-30 {
		return s
	}
	return string(r[:trustpolicy.MaxBriefLen-31]) + "…"
}
