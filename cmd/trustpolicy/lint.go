package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// lintProblem is one problem, for --output json.
type lintProblem struct {
	Source  string `json:"source"` // "policy" or "truststore"
	Path    string `json:"path"`
	Message string `json:"message"`
}

type lintReport struct {
	Policy     string        `json:"policy"`
	TrustStore string        `json:"truststore"`
	Valid      bool          `json:"valid"`
	Problems   []lintProblem `json:"problems"`
}

func cmdLint(args []string, e env) int {
	var policy, store string
	output := outputFlag("text")
	fs := flag.NewFlagSet("lint", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&policy, "policy", "", "trust policy `file` (default $NOTATION_CONFIG/trustpolicy.json)")
	fs.StringVar(&store, "truststore", "", "trust store `folder` that holds x509/ (default $NOTATION_CONFIG/truststore)")
	fs.Var(&output, "output", "output format: text or json")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitVerified
		}
		return exitUsage
	}
	if len(pos) > 0 {
		return errorExit(e, badInput("lint takes no arguments, got %q", pos))
	}
	paths, err := resolvePaths(policy, store, e)
	if err != nil {
		return errorExit(e, err)
	}
	rep := lintReport{Policy: paths.Policy, TrustStore: paths.TrustStore, Problems: []lintProblem{}}
	doc, err := trustpolicy.LoadDocument(paths.Policy)
	var refs []truststore.Ref
	if err != nil {
		rep.Problems = append(rep.Problems, lintProblem{Source: "policy", Path: paths.Policy, Message: err.Error()})
	} else {
		for _, p := range trustpolicy.Lint(doc) {
			rep.Problems = append(rep.Problems, lintProblem{Source: "policy", Path: p.Path, Message: p.Error()})
		}
		refs = referencedStores(doc)
	}
	for _, p := range truststore.Lint(paths.TrustStore, refs) {
		rep.Problems = append(rep.Problems, lintProblem{Source: "truststore", Path: p.Path, Message: p.Error()})
	}
	rep.Valid = len(rep.Problems) == 0
	if output == "json" {
		if err := writeJSON(e.stdout, rep); err != nil {
			return errorExit(e, err)
		}
	} else if rep.Valid {
		fmt.Fprintf(e.stdout, "ok: %s and %s have no problems\n", paths.Policy, paths.TrustStore)
	} else {
		fmt.Fprintf(e.stdout, "%d problem(s):\n", len(rep.Problems))
		for _, p := range rep.Problems {
			fmt.Fprintf(e.stdout, "  %s: %s\n", p.Source, p.Message)
		}
	}
	if !rep.Valid {
		return exitUsage
	}
	return exitVerified
}

// referencedStores lists the well-formed store references of the document,
// even when other parts of it are invalid, so the stores are linted too.
func referencedStores(doc *trustpolicy.Document) []truststore.Ref {
	var refs []truststore.Ref
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
