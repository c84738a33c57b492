package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/bulk"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/rollout"
)

const diffLong = `Simulate a trust policy change before enforcing it: verify every artifact
under the current policy (--policy, default notation's) and under the
candidate (--candidate), and print the artifacts whose verdict changes,
grouped by the check that changes it: identity, authenticity, integrity,
expiry, authenticTimestamp, revocation, descriptor, policy (no statement
applies, or level skip), signature (none, or one that cannot be fetched),
platforms. Run it before switching a scope from audit to strict.

The artifacts are named as for verify: REF arguments, --from FILE,
--all-tags REGISTRY/REPO, oci-layout:PATH... with --scope. Each is fetched
once and evaluated under both policies, with the same trust stores and one
revocation cache. --output json prints one document (schema
notation-pkcs11/trustpolicy/diff/v1).

Exit codes:
  0  no artifact would be newly blocked (verdicts that change only to
     verified or skipped are listed too)
  1  at least one artifact passes the current policy and not the candidate
  2  bad input or usage: unknown flag, missing --candidate, a missing or
     invalid policy or trust store, a malformed reference (named)`

func newDiffCmd(ctx context.Context, e env) *cobra.Command {
	f := verifyFlags{metadata: metadataFlag{}}
	var candidate string
	cmd := &cobra.Command{
		Use:   "diff --candidate FILE [--policy FILE] [flags] REF...",
		Short: "Simulate a trust policy change: the artifacts whose verdict changes, grouped by the check that changes it",
		Long:  diffLong,
		Example: `  trustpolicy diff --candidate strict.json --from release.txt
  trustpolicy diff --policy audit.json --candidate strict.json --all-tags registry.example/app
  trustpolicy diff --candidate strict.json --output json registry.example/app@sha256:…`,
		Args: cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			return runDiff(ctx, e, f, candidate, args)
		},
	}
	cmd.Flags().StringVar(&candidate, "candidate", "", "the candidate trust policy `file`, compared with --policy")
	f.registerRemote(cmd)
	f.registerScope(cmd)
	f.in.register(cmd)
	return cmd
}

func runDiff(ctx context.Context, e env, f verifyFlags, candidatePath string, pos []string) error {
	if candidatePath == "" {
		return cli.Usagef("--candidate FILE is required: the trust policy to compare with the current one")
	}
	if _, err := f.in.check(); err != nil {
		return err
	}
	listed, err := gatherListed(e, &f.in, f.scope, pos)
	if err != nil {
		return err
	}
	current, checker, err := prepareEngine(e, &f)
	if err != nil {
		return err
	}
	candidate, err := loadEngineWith(candidatePath, f.truststore, checker, e, f.compileOptions())
	if err != nil {
		return toCLI(fmt.Errorf("--candidate: %w", err))
	}
	inputs, src, platforms, err := gatherBulk(ctx, e, &f, current, listed)
	if err != nil {
		return err
	}
	v := &rollout.Verifier{Open: pairOpener(src, current, candidate), Options: f.serviceOptions(), Platforms: platforms}
	timeout := f.timeout
	verify := func(ctx context.Context, in bulk.Input) rollout.Outcome {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return v.Verify(ctx, in)
	}
	col := rollout.NewCollector()
	bar := newProgress(e.stderr, e.stdout, len(inputs), "comparing")
	var undecided []string
	runErr := bulk.Each(ctx, inputs, verify, bulk.Options{Jobs: f.in.jobs, PerHost: f.in.perRegistry, Progress: bar.set}, nil, func(o rollout.Outcome) error {
		col.Add(o)
		if o.Current.Result == nil && o.Candidate.Result == nil {
			undecided = append(undecided, o.Current.Brief)
		}
		return nil
	})
	bar.finish()
	if errors.Is(runErr, context.Canceled) {
		return fmt.Errorf("interrupted: the comparison did not finish")
	}
	if runErr != nil {
		return runErr
	}
	if len(undecided) > 0 {
		fmt.Fprintf(e.stderr, "Warning: %d of %d artifacts could not be verified under either policy, so the comparison says nothing about them; the first: %s\n",
			len(undecided), len(inputs), undecided[0])
	}
	rep := col.Report()
	if f.output.JSON() {
		err = writeJSON(e.stdout, rep)
	} else {
		err = printDiff(e.stdout, rep)
	}
	if err != nil {
		return err
	}
	if rep.ExitCode != exitVerified {
		return &cli.ExitError{Code: rep.ExitCode}
	}
	return nil
}

// pairOpener opens each artifact for both policies over one registry
// client that caches what it fetches for this artifact alone.
func pairOpener(src *sources, current, candidate *trustpolicy.Engine) func(context.Context, string) (bulk.Source, bulk.Source, error) {
	return func(ctx context.Context, ref string) (bulk.Source, bulk.Source, error) {
		one, err := src.open(ctx, ref)
		if err != nil {
			return bulk.Source{}, bulk.Source{}, err
		}
		client := one.Client
		if !registry.IsLayoutReference(ref) {
			client = client.WithCache()
		}
		pair := [2]bulk.Source{}
		for i, eng := range []*trustpolicy.Engine{current, candidate} {
			svc, err := service.New(service.Config{Engine: eng, Registry: client, Now: src.now})
			if err != nil {
				return bulk.Source{}, bulk.Source{}, err
			}
			pair[i] = bulk.Source{Service: svc, Client: client, Reference: one.Reference}
		}
		return pair[0], pair[1], nil
	}
}

// printDiff prints the groups, then a summary line.
func printDiff(w io.Writer, rep rollout.Report) error {
	var b strings.Builder
	for _, g := range rep.Groups {
		blocked := 0
		for _, c := range g.Changes {
			if c.NewlyBlocked {
				blocked++
			}
		}
		fmt.Fprintf(&b, "%s: %s", g.Check, plural(len(g.Changes), "artifact"))
		if blocked > 0 {
			fmt.Fprintf(&b, ", %d newly blocked", blocked)
		}
		b.WriteString("\n")
		for _, c := range g.Changes {
			line := fmt.Sprintf("  %s: %s -> %s", textsafe.Escape(c.Reference), c.Current, c.Candidate)
			if c.Reason != "" {
				line += ": " + c.Reason
			}
			b.WriteString(cutTo(line, 2*trustpolicy.MaxBriefLen) + "\n")
		}
	}
	if rep.Changed == 0 {
		fmt.Fprintf(&b, "%s compared: no verdict changes\n", plural(rep.Total, "artifact"))
	} else {
		fmt.Fprintf(&b, "%s compared: %d change verdict, %d newly blocked, %d newly allowed\n", plural(rep.Total, "artifact"), rep.Changed, rep.NewlyBlocked, rep.NewlyAllowed)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// cutTo keeps s under n characters.
func cutTo(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
