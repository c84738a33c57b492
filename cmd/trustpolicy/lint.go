package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// Severities of lint problems.
const (
	severityError   = "error"
	severityWarning = "warning"
)

// lintProblem is one problem, for --output json.
type lintProblem struct {
	Source string `json:"source"` // "policy" or "truststore"
	// Severity is "error" (notation rejects it) or "warning" (notation
	// ignores it: unknown, misplaced and duplicate keys; errors under
	// --strict).
	Severity string `json:"severity"`
	// Kind is the key problem's kind (trustpolicy.KeyProblemKind), for
	// key problems.
	Kind       string `json:"kind,omitempty"`
	Path       string `json:"path"`
	Message    string `json:"message"`
	Suggestion string `json:"suggestion,omitempty"`
}

type lintReport struct {
	Schema     string        `json:"schema"`
	Policy     string        `json:"policy"`
	TrustStore string        `json:"truststore"`
	Strict     bool          `json:"strict"`
	Valid      bool          `json:"valid"`
	Problems   []lintProblem `json:"problems"`
}

func newLintCmd(e env) *cobra.Command {
	var policy, store string
	var strict bool
	var output *cli.Output
	cmd := &cobra.Command{
		Use:   "lint [flags]",
		Short: "Report every problem of the trust policy and trust stores, with JSON paths",
		Long: `Lint checks the trust policy with notation's rules and reports every problem
at once, each with its JSON path, and checks the trust stores the policy
names.

Keys notation ignores are warnings: unknown keys (with a "did you mean",
e.g. trustStore -> trustStores), misplaced keys (a statement-level
verifyTimestamp belongs in signatureVerification), keys in another case,
and duplicate keys (notation uses the last). They never change a verdict;
--strict makes them errors.

Exit codes:
  0  no problems (warnings allowed unless --strict)
  1  problems found: the policy breaks notation's rules, a trust store is
     broken, or (with --strict) a key warning
  2  bad input or usage: the policy file is missing, unreadable or not
     JSON; unknown flag`,
		Example: `  trustpolicy lint
  trustpolicy lint --strict --policy ./trustpolicy.json --truststore ./truststore
  trustpolicy lint --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLint(e, policy, store, strict, output)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&policy, "policy", "", "trust policy `file` (default $NOTATION_CONFIG/trustpolicy.json)")
	fs.StringVar(&store, "truststore", "", "trust store `folder` that holds x509/ (default $NOTATION_CONFIG/truststore)")
	fs.BoolVar(&strict, "strict", false, "treat keys notation ignores (unknown, misplaced, duplicate) as errors")
	output = cli.OutputFlag(cmd)
	return cmd
}

func runLint(e env, policy, store string, strict bool, output *cli.Output) error {
	paths, err := resolvePaths(policy, store, e)
	if err != nil {
		return toCLI(err)
	}
	doc, keys, err := trustpolicy.LintFile(paths.Policy)
	if err != nil && doc == nil {
		// Nothing to lint: a missing, unreadable or malformed file.
		return &cli.UsageError{Err: fmt.Errorf("--policy: %w", err)}
	}
	rep := lintReport{Schema: lintSchema, Policy: paths.Policy, TrustStore: paths.TrustStore, Strict: strict, Problems: []lintProblem{}}
	keySeverity := severityWarning
	if strict {
		keySeverity = severityError
	}
	for _, k := range keys {
		rep.Problems = append(rep.Problems, lintProblem{Source: "policy", Severity: keySeverity, Kind: string(k.Kind), Path: k.Path, Message: k.Msg, Suggestion: k.Suggestion})
	}
	for _, p := range trustpolicy.Lint(doc) {
		rep.Problems = append(rep.Problems, lintProblem{Source: "policy", Severity: severityError, Path: p.Path, Message: p.Error()})
	}
	for _, p := range truststore.Lint(paths.TrustStore, referencedStores(doc)) {
		rep.Problems = append(rep.Problems, lintProblem{Source: "truststore", Severity: severityError, Path: p.Path, Message: p.Error()})
	}
	errs := 0
	for _, p := range rep.Problems {
		if p.Severity == severityError {
			errs++
		}
	}
	rep.Valid = errs == 0
	if output.JSON() {
		err = writeJSON(e.stdout, rep)
	} else {
		err = printLint(e.stdout, rep, errs)
	}
	if err != nil {
		return err
	}
	if !rep.Valid {
		return &cli.ExitError{Code: exitFailed}
	}
	return nil
}

// printLint prints the report for people, every value escaped.
func printLint(w io.Writer, rep lintReport, errs int) error {
	esc := textsafe.Escape
	warns := len(rep.Problems) - errs
	var err error
	switch {
	case len(rep.Problems) == 0:
		_, err = fmt.Fprintf(w, "ok: %s and %s have no problems\n", esc(rep.Policy), esc(rep.TrustStore))
	case errs == 0:
		_, err = fmt.Fprintf(w, "ok: %s and %s have no errors; %d warning(s) (notation ignores these; --strict makes them errors):\n", esc(rep.Policy), esc(rep.TrustStore), warns)
	default:
		_, err = fmt.Fprintf(w, "%d error(s), %d warning(s):\n", errs, warns)
	}
	for _, p := range rep.Problems {
		if err != nil {
			return err
		}
		msg := p.Message
		if p.Kind != "" {
			msg = p.Path + ": " + msg
		}
		_, err = fmt.Fprintf(w, "  %s: %s: %s\n", p.Severity, p.Source, esc(msg))
	}
	return err
}

// referencedStores lists the well-formed store references of the document,
// even when other parts of it are invalid, so the stores are linted too.
func referencedStores(doc *trustpolicy.Document) []truststore.Ref {
	var refs []truststore.Ref
	if doc == nil {
		return refs
	}
	seen := map[truststore.Ref]bool{}
	for _, st := range doc.TrustPolicies {
		for _, s := range st.TrustStores {
			r, err := truststore.ParseRef(s)
			if err == nil && !seen[r] {
				seen[r] = true
				refs = append(refs, r)
			}
		}
	}
	return refs
}
