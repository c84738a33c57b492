package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RatifyVersion is the Ratify CLI that scripts/tools.sh ratify builds.
const RatifyVersion = "v1.4.6"

// FindRatify returns the ratify binary in [ToolsDir]. Its error wraps
// [ErrToolsMissing] and says how to build it: Ratify is slow to build cold
// (minutes), so plain `scripts/tools.sh` leaves it out.
func FindRatify() (string, error) {
	dir, err := ToolsDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "ratify")
	if !isExecutable(p) {
		return "", fmt.Errorf("%w: ratify %s not found (or not executable) in %s; run `scripts/tools.sh ratify` or `make e2e-ratify`, or set NOTATION_PKCS11_TOOLS_BIN to a folder holding it",
			ErrToolsMissing, RatifyVersion, dir)
	}
	return p, nil
}

// Ratify runs the ratify CLI with HOME pointing into a folder of its own, so
// ~/.ratify (its default config, plugins and the certificates it always adds
// to the notation verifier) and notation's CRL cache under ~/.cache start
// empty and never touch the developer's.
type Ratify struct {
	bin string
	dir string
	env []string
}

// NewRatify returns a Ratify that runs bin with its state under dir (created
// if missing). extraEnv is appended to the minimal environment.
func NewRatify(bin, dir string, extraEnv []string) (*Ratify, error) {
	r := &Ratify{bin: bin, dir: dir}
	for _, d := range []string{r.home(), r.PluginDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("e2e: ratify folders: %w", err)
		}
	}
	env := []string{"HOME=" + r.home(), "XDG_CACHE_HOME=" + filepath.Join(r.home(), ".cache"),
		"XDG_CONFIG_HOME=" + filepath.Join(r.home(), ".config"), "RATIFY_CONFIG=" + filepath.Join(r.home(), ".ratify")}
	for _, kv := range baseEnv() {
		if !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	r.env = append(env, extraEnv...)
	return r, nil
}

// NewRatifyT is [NewRatify] with the binary from [FindRatify] in a temporary
// folder; a missing binary skips the test, or fails it under
// NOTATION_PKCS11_E2E=required.
func NewRatifyT(t testing.TB) *Ratify {
	t.Helper()
	bin, err := FindRatify()
	if err != nil {
		skipOrFatal(t, err.Error())
	}
	r, err := NewRatify(bin, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *Ratify) home() string { return filepath.Join(r.dir, "home") }

// Bin returns the ratify binary.
func (r *Ratify) Bin() string { return r.bin }

// Env returns a copy of the environment ratify runs with.
func (r *Ratify) Env() []string { return append([]string(nil), r.env...) }

// PluginDir is the folder to list in the verifier section's pluginBinDirs;
// an external verifier of type T is the file PluginDir()/T.
func (r *Ratify) PluginDir() string { return filepath.Join(r.dir, "plugins") }

// InstallVerifier copies the executable src to PluginDir()/typ, the file
// Ratify runs for a verifier whose type (or name) is typ.
func (r *Ratify) InstallVerifier(src, typ string) error {
	if typ == "" || strings.ContainsAny(typ, `/\`) {
		return fmt.Errorf("e2e: verifier type %q: give a plain file name", typ)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("e2e: installing verifier: %w", err)
	}
	defer in.Close()
	dst := filepath.Join(r.PluginDir(), typ)
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("e2e: installing verifier: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("e2e: installing verifier %s: %w", dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("e2e: installing verifier %s: %w", dst, err)
	}
	return nil
}

// WriteConfig writes cfg as JSON to name under the Ratify folder and returns
// the file's path, for `ratify verify -c`.
func (r *Ratify) WriteConfig(name string, cfg any) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("e2e: ratify config name %q: give a plain file name", name)
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", fmt.Errorf("e2e: encoding ratify config: %w", err)
	}
	p := filepath.Join(r.dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return "", fmt.Errorf("e2e: writing ratify config: %w", err)
	}
	return p, nil
}

// RatifyConfig returns a Ratify v1 config.json document: the oras store over
// plain HTTP (the test registry has no TLS), the configPolicy policy
// provider (every artifact type "all", Ratify's default), and the given
// verifiers, with pluginBinDirs set when pluginDir is not empty.
func RatifyConfig(pluginDir string, verifiers ...map[string]any) map[string]any {
	v := map[string]any{"version": "1.0.0", "plugins": verifiers}
	if pluginDir != "" {
		v["pluginBinDirs"] = []string{pluginDir}
	}
	return map[string]any{
		"store": map[string]any{"version": "1.0.0", "plugins": []any{
			map[string]any{"name": "oras", "useHttp": true},
		}},
		"policy":   map[string]any{"version": "1.0.0", "plugin": map[string]any{"name": "configPolicy"}},
		"verifier": v,
	}
}

// RatifyResult is the JSON `ratify verify` prints.
type RatifyResult struct {
	// IsSuccess is the overall verdict (Ratify omits it when false).
	IsSuccess bool `json:"isSuccess"`
	// Reports holds one verifier result per referrer (signature) verified.
	Reports []RatifyReport `json:"verifierReports"`
	// Stdout and Stderr are the raw outputs, for failure messages.
	Stdout string `json:"-"`
	Stderr string `json:"-"`
}

// RatifyReport is one verifier's result for one referrer.
type RatifyReport struct {
	Subject         string          `json:"subject"`
	ReferenceDigest string          `json:"referenceDigest"`
	ArtifactType    string          `json:"artifactType"`
	IsSuccess       bool            `json:"isSuccess"`
	Name            string          `json:"name"`
	VerifierName    string          `json:"verifierName"`
	Type            string          `json:"type"`
	VerifierType    string          `json:"verifierType"`
	Message         string          `json:"message"`
	ErrorReason     string          `json:"errorReason"`
	Remediation     string          `json:"remediation"`
	Extensions      json.RawMessage `json:"extensions"`
}

// ErrRatifyOutput is wrapped when `ratify verify` prints no result JSON.
var ErrRatifyOutput = errors.New("e2e: ratify verify printed no result")

// Verify runs `ratify verify -s subject -c configPath` and decodes its JSON.
// Ratify exits 0 whether verification passes or fails, so the verdict is
// RatifyResult.IsSuccess; err is set only when ratify could not run, exited
// non-zero, or printed no result.
func (r *Ratify) Verify(ctx context.Context, subject, configPath string) (*RatifyResult, error) {
	stdout, stderr, code, err := run(ctx, r.env, r.dir, r.bin, "verify", "-s", subject, "-c", configPath)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("e2e: ratify verify exited %d: %s", code, strings.TrimSpace(stderr+"\n"+stdout))
	}
	res, err := ParseRatifyOutput(stdout)
	if err != nil {
		return nil, fmt.Errorf("%w\nstderr: %s", err, stderr)
	}
	res.Stderr = stderr
	return res, nil
}

// ParseRatifyOutput decodes the output of `ratify verify`: one JSON object,
// possibly pretty-printed, possibly after log lines.
func ParseRatifyOutput(stdout string) (*RatifyResult, error) {
	i := strings.Index(stdout, "{")
	if i < 0 {
		return nil, fmt.Errorf("%w: %q", ErrRatifyOutput, stdout)
	}
	res := &RatifyResult{Stdout: stdout}
	if err := json.NewDecoder(strings.NewReader(stdout[i:])).Decode(res); err != nil {
		return nil, fmt.Errorf("%w: decoding %q: %v", ErrRatifyOutput, stdout, err)
	}
	return res, nil
}

// Only returns the single verifier report of a result that verified exactly
// one referrer, or an error describing what there was.
func (res *RatifyResult) Only() (RatifyReport, error) {
	if len(res.Reports) != 1 {
		return RatifyReport{}, fmt.Errorf("e2e: want one verifier report, got %d: %s", len(res.Reports), res.Stdout)
	}
	return res.Reports[0], nil
}

// RatifyVerifierPackage is the import path of the project's Ratify verifier.
const RatifyVerifierPackage = "github.com/notation-pkcs11/notation-pkcs11/cmd/notation-pkcs11-ratify"

// RatifyVerifierType is the verifier type (and plugin file name) the
// project's verifier is installed under.
const RatifyVerifierType = "notation-pkcs11-ratify"

// BuildRatifyVerifier builds the project's Ratify verifier into dir and
// returns its path.
func BuildRatifyVerifier(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, RatifyVerifierType)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, RatifyVerifierPackage)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("e2e: go build %s: %w\n%s", RatifyVerifierPackage, err, b)
	}
	return out, nil
}
