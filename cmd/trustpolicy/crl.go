package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
)

const crlExitCodes = `Exit codes:
  0  every CRL fetched or imported (list: listed)
  1  a CRL failed to download or validate
  2  bad input or usage: unknown flag, missing or unreadable file, no cache folder`

// crlFlags are the flags of the crl subcommands.
type crlFlags struct {
	cacheDir, policy, truststore, out string
	output                            *cli.Output
	issuers                           listFlag
	crlTimeout                        time.Duration
}

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }
func (l *listFlag) Type() string       { return "file" }

func newCRLCmd(ctx context.Context, e env) *cobra.Command {
	group := &cobra.Command{
		Use:   "crl",
		Short: "Manage the validated CRL cache that verify and explain use (the only revocation source under --offline)",
		Long: `trustpolicy crl manages the validated CRL cache that verify and explain use,
and that is the only source of revocation data with verify --offline.

` + crlExitCodes,
		Example: `  trustpolicy crl fetch --out ./carry chain.pem
  trustpolicy crl import --issuer intermediate.crt ./carry/*.crl
  trustpolicy crl list`,
	}
	fetch := crlCommand(ctx, e, "fetch", &cobra.Command{
		Use:   "fetch [flags] CERT-FILE|URL...",
		Short: "Download, validate and cache the CRLs of a certificate chain file or at http URLs",
		Long: `Download the CRLs (and delta CRLs) a certificate chain file (PEM or DER, leaf
first) points to, or the CRL at an http URL; validate each against its
issuing CA and cache it. --out DIR also writes a copy of each CRL there, to
carry to an air-gapped machine.

` + crlExitCodes,
		Example: `  trustpolicy crl fetch chain.pem
  trustpolicy crl fetch --out ./carry --issuer intermediate.crt http://crl.example/ca.crl`,
		Args: cobra.MinimumNArgs(1),
	})
	imp := crlCommand(ctx, e, "import", &cobra.Command{
		Use:   "import [flags] FILE...",
		Short: "Validate CRL files carried in by hand and cache them",
		Long: `Validate CRL files (DER or PEM "X509 CRL") carried in by hand and cache them.
Nothing enters the cache unless its issuer is a trust store certificate or a
CA certificate (--issuer FILE) that chains to one, the signature verifies
and nextUpdate is not past.

` + crlExitCodes,
		Example: `  trustpolicy crl import ./carry/*.crl
  trustpolicy crl import --issuer intermediate.crt --crl-cache ./crl ca.crl`,
		Args: cobra.MinimumNArgs(1),
	})
	list := crlCommand(ctx, e, "list", &cobra.Command{
		Use:   "list [flags]",
		Short: "List the cached CRLs: issuer, number, thisUpdate, nextUpdate, entries, source",
		Long: `List the cached CRLs: issuer, number, thisUpdate, nextUpdate, entries and
where each came from.

` + crlExitCodes,
		Example: "  trustpolicy crl list\n  trustpolicy crl list --crl-cache ./crl --output json",
		Args:    cobra.NoArgs,
	})
	group.AddCommand(fetch, imp, list)
	return group
}

// crlCommand adds the flags of the crl subcommand sub to cmd and its run.
func crlCommand(ctx context.Context, e env, sub string, cmd *cobra.Command) *cobra.Command {
	f := &crlFlags{}
	fs := cmd.Flags()
	fs.StringVar(&f.cacheDir, "crl-cache", "", "CRL cache `folder` (default: the user cache dir, e.g. ~/.cache/notation-pkcs11/crl)")
	f.output = cli.OutputFlag(cmd)
	if sub != "list" {
		fs.StringVar(&f.policy, "policy", "", "trust policy `file` (default $NOTATION_CONFIG/trustpolicy.json)")
		fs.StringVar(&f.truststore, "truststore", "", "trust store `folder` that holds x509/; every store in it is a possible CRL issuer (default $NOTATION_CONFIG/truststore)")
		fs.Var(&f.issuers, "issuer", "certificate `file` of an intermediate CA that issues CRLs; it must chain to a trust store (repeatable)")
	}
	if sub == "fetch" {
		fs.DurationVar(&f.crlTimeout, "crl-timeout", revocation.DefaultCRLTimeout, "bound one CRL download by this `duration`")
		fs.StringVar(&f.out, "out", "", "also write each fetched CRL (DER) into this `folder`, for crl import elsewhere")
	}
	cmd.RunE = func(_ *cobra.Command, args []string) error {
		if sub == "fetch" && f.crlTimeout <= 0 {
			return cli.Usagef("--crl-timeout must be positive, not %s", f.crlTimeout)
		}
		return runCode(e, func(e env) int {
			cache, dir, err := openCRLCache(*f, e)
			if err != nil {
				return errorExit(e, err)
			}
			switch sub {
			case "list":
				return crlList(cache, dir, *f, e)
			case "import":
				return crlImport(cache, dir, args, *f, e)
			default:
				return crlFetch(ctx, cache, dir, args, *f, e)
			}
		})
	}
	return cmd
}

// openCRLCache opens the disk cache; the crl commands need one.
func openCRLCache(f crlFlags, e env) (*revocation.CRLCache, string, error) {
	dir := f.cacheDir
	if dir == "" {
		d, err := defaultCacheDir(e)
		if err != nil {
			return nil, "", badInput("%v: pass --crl-cache DIR", err)
		}
		dir = d
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", badInput("--crl-cache %s: %v", dir, err)
	}
	cache, err := revocation.NewCRLCache(revocation.Options{
		CacheDir:   abs,
		CRLTimeout: f.crlTimeout,
		OnCacheError: func(err error) {
			fmt.Fprintf(e.stderr, "trustpolicy: warning: CRL cache: %s\n", textsafe.Escape(err.Error()))
		},
	})
	if err != nil {
		return nil, "", usageError{err}
	}
	return cache, abs, nil
}

// crlRow is one CRL of the JSON and text output.
type crlRow struct {
	revocation.CRLInfo
	Expired bool `json:"expired"`
}

// crlProblem is one input that failed.
type crlProblem struct {
	Input string `json:"input"`
	Error string `json:"error"`
}

type crlReport struct {
	Schema   string       `json:"schema"`
	CacheDir string       `json:"cacheDir"`
	CRLs     []crlRow     `json:"crls"`
	Problems []crlProblem `json:"problems,omitempty"`
	// Saved lists the files --out wrote.
	Saved []string `json:"saved,omitempty"`
}

func crlList(cache *revocation.CRLCache, dir string, f crlFlags, e env) int {
	infos, err := cache.List()
	if err != nil {
		return errorExit(e, err)
	}
	rep := crlReport{Schema: crlSchema, CacheDir: dir, CRLs: rows(infos, e.now())}
	if f.output.JSON() {
		if err := writeJSON(e.stdout, rep); err != nil {
			return errorExit(e, err)
		}
		return exitVerified
	}
	if len(rep.CRLs) == 0 {
		fmt.Fprintf(e.stdout, "no CRLs cached in %s\n", textsafe.Escape(dir))
		return exitVerified
	}
	fmt.Fprintf(e.stdout, "%d CRL(s) in %s:\n", len(rep.CRLs), textsafe.Escape(dir))
	writeCRLTable(e.stdout, rep.CRLs)
	return exitVerified
}

func rows(infos []revocation.CRLInfo, now time.Time) []crlRow {
	out := make([]crlRow, 0, len(infos))
	for _, i := range infos {
		out = append(out, crlRow{CRLInfo: i, Expired: i.Expired(now)})
	}
	return out
}

// writeCRLTable prints the CRLs, every value from outside escaped.
func writeCRLTable(w io.Writer, crls []crlRow) {
	esc := textsafe.Escape
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ISSUER\tNUMBER\tTHIS UPDATE\tNEXT UPDATE\tENTRIES\tSOURCE")
	for _, c := range crls {
		num := "-"
		if c.Number != nil {
			num = c.Number.String()
		}
		if c.Delta {
			num += fmt.Sprintf(" (delta of %s)", c.DeltaBase)
		}
		next := fmtStamp(c.NextUpdate)
		if c.Expired {
			next += " EXPIRED"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\n", esc(c.Issuer), esc(num), fmtStamp(c.ThisUpdate), next, c.Entries, esc(c.Source))
	}
	tw.Flush()
}

func fmtStamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// finishCRL prints a fetch or import report and returns its exit code.
func finishCRL(rep crlReport, verb string, f crlFlags, e env) int {
	rep.Schema = crlSchema
	if f.output.JSON() {
		if err := writeJSON(e.stdout, rep); err != nil {
			return errorExit(e, err)
		}
	} else {
		if len(rep.CRLs) > 0 {
			fmt.Fprintf(e.stdout, "%s %d CRL(s) into %s:\n", verb, len(rep.CRLs), textsafe.Escape(rep.CacheDir))
			writeCRLTable(e.stdout, rep.CRLs)
		}
		for _, s := range rep.Saved {
			fmt.Fprintf(e.stdout, "saved %s\n", textsafe.Escape(s))
		}
		for _, p := range rep.Problems {
			fmt.Fprintf(e.stderr, "trustpolicy crl %s: error: %s: %s\n", crlVerb(verb), textsafe.Escape(p.Input), textsafe.Escape(p.Error))
		}
	}
	if len(rep.Problems) > 0 {
		return exitFailed
	}
	return exitVerified
}

// crlVerb is the subcommand that reports verb ("fetched", "imported").
func crlVerb(verb string) string {
	if verb == "imported" {
		return "import"
	}
	return "fetch"
}
