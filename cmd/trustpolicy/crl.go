package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
)

const crlUsage = `trustpolicy crl manages the validated CRL cache that verify and explain use
(and the only source of revocation data with verify --offline).

Usage:
  trustpolicy crl fetch  [flags] CERT-FILE|URL...
      Download the CRLs (and delta CRLs) a certificate chain file (PEM or
      DER, leaf first) points to, or the CRL at an http URL; validate each
      against its issuing CA and cache it. --out DIR also writes a copy of
      each CRL there, to carry to an air-gapped machine.
  trustpolicy crl import [flags] FILE...
      Validate CRL files (DER or PEM "X509 CRL") carried in by hand and
      cache them. Nothing enters the cache unless its issuer is a trust
      store certificate or a CA certificate (--issuer FILE) that chains to
      one, the signature verifies and nextUpdate is not past.
  trustpolicy crl list   [flags]
      List the cached CRLs: issuer, number, thisUpdate, nextUpdate, entries,
      source.

Flags (all): --crl-cache DIR, --output text|json. fetch and import also take
--policy FILE, --truststore DIR (the folder that holds x509/, whose every
store is a possible anchor) and --issuer FILE (repeatable: intermediate CA
certificates). fetch takes --crl-timeout (5s) and --out DIR.

Exit codes: 0 every CRL fetched or imported (list: listed), 1 a CRL failed to
download or validate, 2 bad input or usage.
`

// crlFlags are the flags of the crl subcommands.
type crlFlags struct {
	cacheDir, policy, truststore, out string
	output                            outputFlag
	issuers                           listFlag
	crlTimeout                        time.Duration
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func cmdCRL(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, crlUsage)
		return exitUsage
	}
	sub := args[0]
	switch sub {
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, crlUsage)
		return exitVerified
	case "fetch", "import", "list":
	default:
		fmt.Fprintf(e.stderr, "trustpolicy: unknown crl command %q\n\n%s", sub, crlUsage)
		return exitUsage
	}
	f := crlFlags{output: "text"}
	fs := flag.NewFlagSet("crl "+sub, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&f.cacheDir, "crl-cache", "", "CRL cache `folder` (default: the user cache dir, e.g. ~/.cache/notation-pkcs11/crl)")
	fs.Var(&f.output, "output", "output format: text or json")
	if sub != "list" {
		fs.StringVar(&f.policy, "policy", "", "trust policy `file` (default $NOTATION_CONFIG/trustpolicy.json)")
		fs.StringVar(&f.truststore, "truststore", "", "trust store `folder` that holds x509/ (default $NOTATION_CONFIG/truststore)")
		fs.Var(&f.issuers, "issuer", "certificate `file` of an intermediate CA that issues CRLs; it must chain to a trust store (repeatable)")
	}
	if sub == "fetch" {
		fs.DurationVar(&f.crlTimeout, "crl-timeout", revocation.DefaultCRLTimeout, "bound one CRL download by this `duration`")
		fs.StringVar(&f.out, "out", "", "also write each fetched CRL (DER) into this `folder`, for crl import elsewhere")
	}
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitVerified
		}
		return exitUsage
	}
	switch {
	case sub == "list" && len(pos) > 0:
		return errorExit(e, badInput("crl list takes no arguments, got %q", pos))
	case sub != "list" && len(pos) == 0:
		return errorExit(e, badInput("crl %s needs at least one %s", sub, map[string]string{"fetch": "certificate file or http URL", "import": "CRL file"}[sub]))
	case sub == "fetch" && f.crlTimeout <= 0:
		return errorExit(e, badInput("--crl-timeout must be positive, not %s", f.crlTimeout))
	}
	cache, dir, err := openCRLCache(f, e)
	if err != nil {
		return errorExit(e, err)
	}
	switch sub {
	case "list":
		return crlList(cache, dir, f, e)
	case "import":
		return crlImport(cache, dir, pos, f, e)
	default:
		return crlFetch(ctx, cache, dir, pos, f, e)
	}
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
		CacheDir:     abs,
		CRLTimeout:   f.crlTimeout,
		OnCacheError: func(err error) { fmt.Fprintf(e.stderr, "trustpolicy: warning: CRL cache: %v\n", err) },
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
	rep := crlReport{CacheDir: dir, CRLs: rows(infos, e.now())}
	if f.output == "json" {
		if err := writeJSON(e.stdout, rep); err != nil {
			return errorExit(e, err)
		}
		return exitVerified
	}
	if len(rep.CRLs) == 0 {
		fmt.Fprintf(e.stdout, "no CRLs cached in %s\n", dir)
		return exitVerified
	}
	fmt.Fprintf(e.stdout, "%d CRL(s) in %s:\n", len(rep.CRLs), dir)
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

func writeCRLTable(w io.Writer, crls []crlRow) {
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
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\n", c.Issuer, num, fmtStamp(c.ThisUpdate), next, c.Entries, c.Source)
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
	if f.output == "json" {
		if err := writeJSON(e.stdout, rep); err != nil {
			return errorExit(e, err)
		}
	} else {
		if len(rep.CRLs) > 0 {
			fmt.Fprintf(e.stdout, "%s %d CRL(s) into %s:\n", verb, len(rep.CRLs), rep.CacheDir)
			writeCRLTable(e.stdout, rep.CRLs)
		}
		for _, s := range rep.Saved {
			fmt.Fprintf(e.stdout, "saved %s\n", s)
		}
		for _, p := range rep.Problems {
			fmt.Fprintf(e.stderr, "trustpolicy: %s: %s\n", p.Input, p.Error)
		}
	}
	if len(rep.Problems) > 0 {
		return exitFailed
	}
	return exitVerified
}
