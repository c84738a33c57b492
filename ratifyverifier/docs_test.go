package ratifyverifier

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
)

// TestDocsConfigExample: the config.json example in docs/ratify.md is a
// valid request for this verifier (with a real certificate in place of the
// elided PEM).
func TestDocsConfigExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "ratify.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "```json\n{\n  \"store\"")
	if start < 0 {
		t.Fatal("docs/ratify.md: no config.json example")
	}
	block := doc[start+len("```json\n"):]
	block = block[:strings.Index(block, "```")]
	var cfg struct {
		Store struct {
			Plugins []json.RawMessage `json:"plugins"`
		} `json:"store"`
		Verifier struct {
			Version string           `json:"version"`
			Plugins []map[string]any `json:"plugins"`
		} `json:"verifier"`
	}
	if err := json.Unmarshal([]byte(block), &cfg); err != nil {
		t.Fatalf("docs example: %v", err)
	}
	if len(cfg.Store.Plugins) != 1 || len(cfg.Verifier.Plugins) != 1 || cfg.Verifier.Version != Version100 {
		t.Fatalf("docs example: %+v", cfg)
	}
	f := newFixture(t, "application/cose")
	v := cfg.Verifier.Plugins[0]
	v["trustStores"] = map[string]string{"ca:release": f.rootPEM}
	stdin, _ := json.Marshal(map[string]any{
		"config":        v,
		"storeConfig":   map[string]any{"version": "1.0.0", "store": cfg.Store.Plugins[0]},
		"referenceDesc": f.sigDesc,
	})
	req, err := ParseRequest(f.env(), stdin)
	if err != nil {
		t.Fatal(err)
	}
	if req.Config.Type != "notation-pkcs11-ratify" || req.Store.UseHTTP {
		t.Errorf("parsed %+v %+v", req.Config, req.Store)
	}
	if _, err := NewEngine(req.Config, revocation.NonRevokableOnly()); err != nil {
		t.Fatal(err)
	}
}
