package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

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

// env is everything the command reads from its process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	// cacheDir returns the user's cache folder (os.UserCacheDir in main).
	// When nil it is derived from getenv (XDG_CACHE_HOME, HOME); when that
	// fails too, revocation caches are in memory only.
	cacheDir func() (string, error)
}

const usage = `trustpolicy verifies Notation signatures against a Notation trust policy,
as notation v1.3 does, and explains every verdict.

Usage:
  trustpolicy verify  [flags] REGISTRY/REPO[:TAG|@DIGEST]
  trustpolicy verify  [flags] --signature FILE --media-type TYPE --descriptor FILE --reference REGISTRY/REPO@DIGEST
  trustpolicy explain [flags] (the same inputs as verify)
  trustpolicy lint    [--policy FILE] [--truststore DIR] [--output text|json]
  trustpolicy crl fetch  [flags] CERT-FILE|URL...   download, validate and cache CRLs
  trustpolicy crl import [flags] FILE...            validate and cache hand-carried CRLs
  trustpolicy crl list   [flags]                    list the cached CRLs
  trustpolicy version

Policy and trust stores default to notation's: $NOTATION_CONFIG/trustpolicy.json
and $NOTATION_CONFIG/truststore (the folder that holds x509/).

Revocation (verify, explain): OCSP first, CRL when OCSP gives no answer;
--offline uses only cached CRLs (see "trustpolicy crl"); --crl-cache DIR,
--no-disk-cache, --ocsp-timeout (2s), --crl-timeout (5s).

Exit codes:
  0  verified, or the matching policy has level skip
  1  verification failed
  2  bad input or usage: invalid policy, unreadable file, malformed reference
  3  inconclusive: the verifier could not decide (no trusted certificate
     configured for the signing scheme, a required verification plugin)

Run "trustpolicy verify -h" for the flags.
`

func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "verify":
		return cmdVerify(ctx, args[1:], e, false)
	case "explain":
		return cmdVerify(ctx, args[1:], e, true)
	case "lint":
		return cmdLint(args[1:], e)
	case "crl":
		return cmdCRL(ctx, args[1:], e)
	case "version", "--version":
		fmt.Fprintf(e.stdout, "trustpolicy %s (verifies as notation-go v1.3.2)\n", version)
		return exitVerified
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, usage)
		return exitVerified
	default:
		fmt.Fprintf(e.stderr, "trustpolicy: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}

// parseInterspersed parses flags that may come before or after the
// positional arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// outputFlag is --output text|json.
type outputFlag string

func (o *outputFlag) String() string { return string(*o) }
func (o *outputFlag) Set(s string) error {
	switch s {
	case "text", "json":
		*o = outputFlag(s)
		return nil
	}
	return fmt.Errorf("must be text or json, not %q", s)
}

// usageError is bad input: exit 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func badInput(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

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

// errorExit prints err and returns its exit code: 2 for bad input, 1
// otherwise.
func errorExit(e env, err error) int {
	fmt.Fprintf(e.stderr, "trustpolicy: %s\n", strings.TrimPrefix(err.Error(), "trustpolicy: "))
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	return exitFailed
}
