package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// Exit codes (documented in the README and the command's help).
const (
	exitVerified     = 0
	exitFailed       = 1
	exitUsage        = 2
	exitInconclusive = 3
)

const version = "0.1.0"

// verifiesAs names the verifier whose verdicts this command reproduces.
const verifiesAs = "notation-go v1.3.2"

// JSON schemas of the documents this command prints besides the
// verification report (trustpolicy.SchemaVersion).
const (
	versionSchema = "notation-pkcs11/trustpolicy/version/v1"
	lintSchema    = "notation-pkcs11/trustpolicy/lint/v1"
	crlSchema     = "notation-pkcs11/trustpolicy/crl/v1"
)

// env is everything the command reads from its process.
type env struct {
	stdout, stderr io.Writer
	// stdin is read by --from - (nil: none).
	stdin  io.Reader
	getenv func(string) string
	now    func() time.Time
	// cacheDir returns the user's cache folder (os.UserCacheDir in main).
	// When nil it is derived from getenv (XDG_CACHE_HOME, HOME); when that
	// fails too, revocation caches are in memory only.
	cacheDir func() (string, error)
	// failed receives the error that errorExit is given while a command
	// runs, so that cli.Execute prints it (one line, or a JSON error
	// document under --output json).
	failed *error
}

const exitCodesHelp = `Exit codes:
  0  verified, or the matching policy has level skip
  1  verification failed; lint found problems; a CRL failed to download or validate
  2  bad input or usage: unknown flag, missing or unreadable file, invalid
     policy (verify, explain), malformed reference or descriptor, a reference
     whose digest is not the descriptor's
  3  inconclusive: the verifier could not decide (no trusted certificate
     configured for the signing scheme, a required verification plugin)`

const verifyExitCodes = `Exit codes:
  0  verified, or the matching policy has level skip
  1  verification failed: a signature, the registry, or no signature at all
  2  bad input or usage: unknown flag, missing or unreadable file, invalid
     policy, malformed reference or descriptor, a reference whose digest is
     not the descriptor's
  3  inconclusive: the verifier could not decide (no trusted certificate
     configured for the signing scheme, a required verification plugin)`

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, e env) int {
	return cli.Execute(newRoot(ctx, e), args, e.stdout, e.stderr)
}

func newRoot(ctx context.Context, e env) *cobra.Command {
	root := &cobra.Command{
		Use:   "trustpolicy",
		Short: "Verify Notation signatures against a Notation trust policy, as notation v1.3 does, and explain every verdict",
		Long: `trustpolicy verifies Notation signatures against a Notation trust policy,
as notation v1.3 does, and explains every verdict.

The policy and trust stores default to notation's: $NOTATION_CONFIG/trustpolicy.json
and $NOTATION_CONFIG/truststore (the folder that holds x509/).

` + exitCodesHelp,
		Example: `  trustpolicy verify registry.example/app@sha256:…
  trustpolicy explain --plain-http 127.0.0.1:5000/app:v1
  trustpolicy lint --strict
  trustpolicy crl fetch chain.pem`,
		Version: version,
	}
	// The completion commands take their writer when they are made.
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetVersionTemplate(fmt.Sprintf("trustpolicy {{.Version}} (verifies as %s)\n", verifiesAs))
	root.AddCommand(newVerifyCmd(ctx, e, false), newVerifyCmd(ctx, e, true), newLintCmd(e), newCRLCmd(ctx, e), newVersionCmd(e))
	root.AddCommand(newServeCmd(ctx, e))
	root.AddCommand(newDiffCmd(ctx, e), newPromoteCmd(ctx, e))
	addCompletionExamples(root)
	return root
}

func newVersionCmd(e env) *cobra.Command {
	var out *cli.Output
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the version and the notation version whose verdicts it reproduces",
		Example: "  trustpolicy version\n  trustpolicy version --output json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out.JSON() {
				return cli.WriteJSON(e.stdout, struct {
					Schema     string `json:"schema"`
					Version    string `json:"version"`
					VerifiesAs string `json:"verifiesAs"`
				}{versionSchema, version, verifiesAs})
			}
			_, err := fmt.Fprintf(e.stdout, "trustpolicy %s (verifies as %s)\n", version, verifiesAs)
			return err
		},
	}
	out = cli.OutputFlag(cmd)
	return cmd
}

// addCompletionExamples gives cobra's completion commands examples, as
// every command has.
func addCompletionExamples(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Example = "  trustpolicy completion bash > /etc/bash_completion.d/trustpolicy"
		for _, s := range c.Commands() {
			s.Example = fmt.Sprintf("  source <(trustpolicy completion %s)", s.Name())
			if s.Name() == "fish" {
				s.Example = "  trustpolicy completion fish | source"
			}
		}
	}
}

// usageError is bad input: exit 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func badInput(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// toCLI turns this command's errors into internal/cli's: bad input is a
// cli.UsageError (exit 2).
func toCLI(err error) error {
	var u usageError
	var cu *cli.UsageError
	if errors.As(err, &u) && !errors.As(err, &cu) {
		return &cli.UsageError{Err: err}
	}
	return err
}

// errorExit hands err to cli.Execute to print, and returns its exit code:
// 2 for bad input, 1 otherwise.
func errorExit(e env, err error) int {
	err = toCLI(err)
	code := exitFailed
	var cu *cli.UsageError
	if errors.As(err, &cu) {
		code = exitUsage
	}
	if e.failed != nil {
		*e.failed = err
		return code
	}
	fmt.Fprintf(e.stderr, "trustpolicy: error: %s\n", textsafe.Escape(err.Error()))
	return code
}

// runCode adapts a function that prints its result and returns an exit
// code (or hands its error to errorExit) to cobra.
func runCode(e env, f func(e env) int) error {
	var failed error
	e.failed = &failed
	code := f(e)
	switch {
	case failed != nil:
		return failed
	case code != exitVerified:
		return &cli.ExitError{Code: code}
	}
	return nil
}

// writeJSON writes one JSON document.
func writeJSON(w io.Writer, v any) error { return cli.WriteJSON(w, v) }

// exitFor maps a verdict to the exit code.
func exitFor(v trustpolicy.Verdict) int {
	switch v {
	case trustpolicy.VerdictVerified, trustpolicy.VerdictSkipped:
		return exitVerified
	case trustpolicy.VerdictInconclusive:
		return exitInconclusive
	default:
		return exitFailed
	}
}
