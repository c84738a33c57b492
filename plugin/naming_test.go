package plugin

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"
)

// frameworkPath is notation-plugin-framework-go's package, also named
// plugin: every file of this package imports it as proto, so that
// "plugin." never means two packages.
const frameworkPath = "github.com/notaryproject/notation-plugin-framework-go/plugin"

func TestFrameworkImportAlias(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files: %v", err)
	}
	fset := token.NewFileSet()
	imports := 0
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); path != frameworkPath {
				continue
			}
			imports++
			if imp.Name == nil || imp.Name.Name != "proto" {
				t.Errorf("%s imports %s without the alias proto", fset.Position(imp.Pos()), frameworkPath)
			}
		}
	}
	if imports == 0 {
		t.Errorf("no file imports %s: the check found nothing to check", frameworkPath)
	}
}
