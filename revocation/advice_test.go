package revocation

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// adviceToTrust matches advice to put a certificate into a trust store. An
// intermediate CA in a trust store becomes a trust anchor, so no message of
// this package or of the crl commands may give it: the fix for a CRL whose
// issuer is unknown is --issuer with the intermediate, which must chain to
// a trust store.
var adviceToTrust = regexp.MustCompile(`(?i)\b(add|put|copy|move|place|install|import)\b[^.;:]*\b(to|into|in)\s+(a|the|your|its)\s+trust\s*stores?\b`)

func TestNoAdviceToTrustIntermediates(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := filepath.Glob(filepath.Join("..", "cmd", "trustpolicy", "crl_*.go"))
	if err != nil || len(cmd) == 0 {
		t.Fatalf("crl_*.go: %v %v", cmd, err)
	}
	files = append(files, cmd...)
	checked := 0
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			checked++
			if m := adviceToTrust.FindString(s); m != "" {
				t.Errorf("%s: %q advises adding a certificate to a trust store (%q)", path, s, m)
			}
			return true
		})
	}
	if checked < 100 {
		t.Fatalf("only %d string literals checked", checked)
	}
	for _, old := range []string{
		"add the issuing CA's certificate to a trust store",
		"add the issuing CA's certificate to a trust store or pass its chain",
		"put the intermediate into a trust store",
	} {
		if !adviceToTrust.MatchString(old) {
			t.Errorf("the check misses %q", old)
		}
	}
}
