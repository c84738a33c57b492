package pkcs11

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoPackageVariables keeps the package free of mutable package-level
// state: a package-level var may only be a blank interface assertion
// (var _ I = ...) or an error sentinel (ErrX or errX = errors.New or
// fmt.Errorf). Tables are functions or switches.
func TestNoPackageVariables(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files: %v", err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if id.Name == "_" || isSentinel(id.Name, vs, i) {
						continue
					}
					t.Errorf("%s: package-level var %s: make it a function, a switch or a constant", fset.Position(id.Pos()), id.Name)
				}
			}
		}
	}
}

// isSentinel reports whether the i-th name of vs is an error sentinel:
// named Err... or err... and set by errors.New or fmt.Errorf.
func isSentinel(name string, vs *ast.ValueSpec, i int) bool {
	if !strings.HasPrefix(name, "Err") && !strings.HasPrefix(name, "err") || i >= len(vs.Values) {
		return false
	}
	call, ok := vs.Values[i].(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && (pkg.Name == "errors" && sel.Sel.Name == "New" || pkg.Name == "fmt" && sel.Sel.Name == "Errorf")
}
