package e2e

import (
	"errors"
	"testing"
)

func TestParseRatifyOutput(t *testing.T) {
	cases := []struct {
		name    string
		out     string
		ok      bool
		reports int
		err     bool
	}{
		{"pass", `{"isSuccess": true, "verifierReports": [{"isSuccess": true, "name": "notation", "message": "ok"}]}`, true, 1, false},
		{"fail omits isSuccess", "{\n  \"verifierReports\": [\n    {\"isSuccess\": false, \"name\": \"np\"}\n  ]\n}\n", false, 1, false},
		{"log line first", "info: starting\n{\"isSuccess\": true, \"verifierReports\": []}", true, 0, false},
		{"no json", "time=... level=error msg=boom\n", false, 0, true},
		{"broken json", `{"isSuccess": tru`, false, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := ParseRatifyOutput(c.out)
			if c.err {
				if !errors.Is(err, ErrRatifyOutput) {
					t.Fatalf("got %v, want ErrRatifyOutput", err)
				}
				return
			}
			if err != nil || res.IsSuccess != c.ok || len(res.Reports) != c.reports {
				t.Fatalf("got %+v, %v", res, err)
			}
			_, err = res.Only()
			if (err == nil) != (c.reports == 1) {
				t.Fatalf("Only: %v with %d reports", err, c.reports)
			}
		})
	}
}

func TestRatifyConfigFiles(t *testing.T) {
	r, err := NewRatify("/nonexistent/ratify", t.TempDir(), []string{"EXTRA=1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.WriteConfig("../escape.json", map[string]any{}); err == nil {
		t.Error("WriteConfig accepted a path")
	}
	if err := r.InstallVerifier("/nonexistent/bin", "a/b"); err == nil {
		t.Error("InstallVerifier accepted a path as type")
	}
	cfg := RatifyConfig(r.PluginDir(), map[string]any{"name": "x"})
	if v := cfg["verifier"].(map[string]any); v["pluginBinDirs"].([]string)[0] != r.PluginDir() {
		t.Errorf("pluginBinDirs: %v", v)
	}
	home := false
	for _, kv := range r.Env() {
		if kv == "HOME="+r.home() {
			home = true
		}
	}
	if !home {
		t.Errorf("HOME not isolated: %v", r.Env())
	}
}
