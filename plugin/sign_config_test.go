package plugin

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"
)

// TestGenerateSignatureParsesConfigOnce walks the package's calls from
// GenerateSignature (functions and methods by name) and counts the
// ParseConfig call sites it reaches: the audit decision and the signature
// share one parse.
func TestGenerateSignatureParsesConfigOnce(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	funcs := map[string]*ast.FuncDecl{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Body != nil {
				funcs[fn.Name.Name] = fn
			}
		}
	}
	seen := map[string]bool{}
	var sites []string
	var walk func(name string)
	walk = func(name string) {
		fn := funcs[name]
		if fn == nil || seen[name] {
			return
		}
		seen[name] = true
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var callee string
			switch f := c.Fun.(type) {
			case *ast.Ident:
				callee = f.Name
			case *ast.SelectorExpr:
				callee = f.Sel.Name
			}
			if callee == "ParseConfig" {
				sites = append(sites, fset.Position(c.Pos()).String()+" in "+name)
			}
			walk(callee)
			return true
		})
	}
	if funcs["GenerateSignature"] == nil || funcs["ParseConfig"] == nil {
		t.Fatal("GenerateSignature or ParseConfig not found")
	}
	walk("GenerateSignature")
	if len(sites) != 1 {
		t.Errorf("GenerateSignature reaches %d ParseConfig calls, want 1: %s", len(sites), strings.Join(sites, "; "))
	}
}

// The one parse keeps the order of the checks: an unsupported contract
// version is reported before a bad pluginConfig, and a request whose
// pluginConfig parses is audited even when its contract version is
// refused.
func TestGenerateSignatureConfigOrder(t *testing.T) {
	kt := keyTypeOf(t, "ec-256")
	for _, c := range []struct {
		name     string
		contract string
		cfg      func(log string) map[string]string
		code     proto.ErrorCode // "" for success
		audited  string          // the audit record's outcome; "" for none
	}{
		{"contract refused before a bad pluginConfig", "2.0", func(string) map[string]string { return map[string]string{"colour": "blue"} },
			proto.ErrorCodeUnsupportedContractVersion, ""},
		{"contract refused, audited", "2.0", func(log string) map[string]string { return map[string]string{ConfigAuditLog: log} },
			proto.ErrorCodeUnsupportedContractVersion, "failure"},
		{"bad pluginConfig, not audited", proto.ContractVersion, func(log string) map[string]string {
			return map[string]string{ConfigAuditLog: log, ConfigTimeout: "soon"}
		}, proto.ErrorCodeValidation, ""},
		{"signed and audited", proto.ContractVersion, func(log string) map[string]string { return map[string]string{ConfigAuditLog: log} },
			"", "success"},
	} {
		t.Run(c.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "audit.log")
			p := newPlugin(&fakeBackend{t: t, tok: goodToken(t, kt.kt, true)}, stdEnv(fakeModule(t)), nil)
			req := signReq(keyURI, kt, c.cfg(log))
			req.ContractVersion = c.contract
			r := runPlugin(t, p, "generate-signature", req)
			if c.code == "" {
				wantOK[proto.GenerateSignatureResponse](t, r)
			} else {
				wantError(t, r, c.code)
			}
			if c.audited == "" {
				if _, err := os.Lstat(log); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("an audit log was written (%v)", err)
				}
				return
			}
			recs := auditLines(t, log)
			if len(recs) != 1 || recs[0].Outcome != c.audited || (c.code != "" && recs[0].ErrorCode != string(c.code)) {
				t.Errorf("audit records %+v, want one %s record", recs, c.audited)
			}
		})
	}
}
