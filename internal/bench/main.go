// Command bench measures the wall time of whole `notation sign` commands on
// this machine: notation's own file key against the plugin with keys in
// SoftHSM, all in one run and interleaved round-robin so that drift (CPU
// frequency, the registry's growing referrers index) hits every variant
// alike. It also times the plugin's describe-key alone, with and without
// its key-spec cache.
//
// Run it with `make bench`, or:
//
//	go build -o bin/notation-pkcs11 ./cmd/notation-pkcs11
//	go run ./internal/bench -plugin bin/notation-pkcs11 -n 30
//
// It prints the machine and a markdown table for the README. Everything it
// creates lives in a temporary folder that is removed at the end; the
// registry is stopped on success, failure and Ctrl-C.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testca"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

const (
	warmups    = 3
	tokenLabel = "bench"
)

// variant is one way of running a command, timed n times.
type variant struct {
	name  string
	run   func(context.Context) error
	times []time.Duration
}

func main() {
	pluginBin := flag.String("plugin", "", "path to the built notation-pkcs11 binary (required)")
	n := flag.Int("n", 30, "timed runs per variant (after 3 warm-up runs)")
	flag.Parse()
	if *pluginBin == "" || *n < 1 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/bench -plugin bin/notation-pkcs11 [-n 30]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *pluginBin, *n, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "bench failed: %v\n", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, pluginBin string, n int, out io.Writer) (err error) {
	pluginBin, err = filepath.Abs(pluginBin)
	if err != nil {
		return fmt.Errorf("plugin path: %w", err)
	}
	tools, err := e2e.FindTools()
	if err != nil {
		return fmt.Errorf("finding tools: %w", err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	caDir, err := testca.FindDir(cwd)
	if err != nil {
		return fmt.Errorf("finding testdata: %w", err)
	}
	pkiDir := filepath.Dir(caDir) // testdata/pki
	tmp, err := os.MkdirTemp("", "notation-pkcs11-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// SoftHSM token with the EC-256 and RSA-3072 test keys and their chains.
	hsm, err := e2e.NewSoftHSM(filepath.Join(tmp, "softhsm"))
	if err != nil {
		return fmt.Errorf("softhsm setup: %w", err)
	}
	pin := make([]byte, 12)
	if _, err := rand.Read(pin); err != nil {
		return err
	}
	pinHex := hex.EncodeToString(pin)
	pinFile := filepath.Join(tmp, "pin")
	if err := os.WriteFile(pinFile, []byte(pinHex+"\n"), 0o600); err != nil {
		return err
	}
	if err := hsm.InitToken(tokenLabel, "so-"+pinHex, pinHex); err != nil {
		return fmt.Errorf("softhsm token: %w", err)
	}
	if err := os.Setenv("SOFTHSM2_CONF", hsm.ConfPath()); err != nil {
		return err
	}
	keys := []struct {
		kt string
		id byte
	}{{"ec-256", 1}, {"rsa-3072", 2}}
	uris := map[string]string{}
	for _, k := range keys {
		if err := hsm.ImportKey(tokenLabel, pinHex, filepath.Join(pkiDir, k.kt, "leaf.key"), k.kt, []byte{k.id}); err != nil {
			return fmt.Errorf("importing %s key: %w", k.kt, err)
		}
		uri := fmt.Sprintf("pkcs11:token=%s;object=%s?pin-source=file:%s", tokenLabel, k.kt, pinFile)
		if err := importChain(ctx, uri, hsm.Module(), pkcs11.NewPIN(pinHex), []byte{k.id}, k.kt, filepath.Join(pkiDir, k.kt, "chain.pem")); err != nil {
			return fmt.Errorf("importing %s chain: %w", k.kt, err)
		}
		uris[k.kt] = uri
	}

	// Registry and one artifact.
	reg, err := e2e.StartRegistry(ctx, tools.Registry, filepath.Join(tmp, "registry"))
	if err != nil {
		return fmt.Errorf("starting registry: %w", err)
	}
	defer reg.Stop()
	digest, err := e2e.Push(ctx, tools.Oras, reg.Ref("bench/app:v1"), filepath.Join(tmp, "artifact"), []byte("bench artifact\n"))
	if err != nil {
		return fmt.Errorf("pushing artifact: %w", err)
	}
	ref := reg.Ref("bench/app@" + digest)

	// notation with the plugin, and the same EC-256 key as a local file key.
	cacheDir := filepath.Join(tmp, "plugin-cache")
	env := append(hsm.Env(), "NOTATION_PKCS11_MODULE="+hsm.Module(), "NOTATION_PKCS11_CACHE="+cacheDir)
	not := e2e.NewNotation(tools.Notation, filepath.Join(tmp, "notation"), env)
	if err := notation(ctx, not, "plugin", "install", "--file", pluginBin); err != nil {
		return fmt.Errorf("installing plugin: %w", err)
	}
	if err := writeSigningKeys(not.ConfigDir(), "file-ec256",
		filepath.Join(pkiDir, "ec-256", "leaf.key"), filepath.Join(pkiDir, "ec-256", "chain.pem")); err != nil {
		return fmt.Errorf("registering file key: %w", err)
	}

	sign := func(args ...string) func(context.Context) error {
		args = append([]string{"sign", "--insecure-registry", "--signature-format", "cose"}, append(args, ref)...)
		return func(ctx context.Context) error { return notation(ctx, not, args...) }
	}
	pluginBinInstalled := filepath.Join(not.LibexecDir(), "plugins", "pkcs11", "notation-pkcs11")
	describe := func(uri string, cache bool) func(context.Context) error {
		cfg := map[string]string{}
		if !cache {
			cfg["key_cache"] = "off"
		}
		req, _ := json.Marshal(map[string]any{"contractVersion": "1.0", "keyId": uri, "pluginConfig": cfg})
		return func(ctx context.Context) error { return describeKey(ctx, pluginBinInstalled, env, req) }
	}
	signs := []*variant{
		{name: "notation file key, EC-256", run: sign("--key", "file-ec256")},
		{name: "plugin, EC-256 in SoftHSM", run: sign("--plugin", "pkcs11", "--id", uris["ec-256"])},
		{name: "plugin, RSA-3072 in SoftHSM", run: sign("--plugin", "pkcs11", "--id", uris["rsa-3072"])},
	}
	describes := []*variant{
		{name: "EC-256, key-spec cache hit", run: describe(uris["ec-256"], true)},
		{name: "EC-256, cache off (loads the module)", run: describe(uris["ec-256"], false)},
	}

	fmt.Fprintf(out, "Machine: %s, %d CPUs, %s/%s, %s\n", cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(out, "Runs: %d per variant after %d warm-up runs, interleaved round-robin; same artifact, COSE envelopes, local registry on %s.\n\n", n, warmups, reg.Addr())
	for _, group := range [][]*variant{signs, describes} {
		if err := measure(ctx, group, n); err != nil {
			return err
		}
	}
	printTable(out, "notation sign", "file key", signs)
	fmt.Fprintln(out)
	printTable(out, "describe-key alone", "cache hit", describes)
	return nil
}

// measure runs every variant warmups+n times, round-robin, keeping the
// timings of the last n rounds.
func measure(ctx context.Context, vs []*variant, n int) error {
	for i := range warmups + n {
		for _, v := range vs {
			start := time.Now()
			if err := v.run(ctx); err != nil {
				return fmt.Errorf("%s (run %d): %w", v.name, i+1, err)
			}
			if i >= warmups {
				v.times = append(v.times, time.Since(start))
			}
		}
	}
	return nil
}

// printTable prints a markdown table; the last column compares each median
// with the first variant's.
func printTable(out io.Writer, title, baseName string, vs []*variant) {
	fmt.Fprintf(out, "| %s | median (ms) | p10 (ms) | p90 (ms) | median / %s |\n", title, baseName)
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|")
	baseMed := percentile(vs[0].times, 50)
	for _, v := range vs {
		med := percentile(v.times, 50)
		fmt.Fprintf(out, "| %s | %.1f | %.1f | %.1f | %.2f× |\n", v.name, ms(med),
			ms(percentile(v.times, 10)), ms(percentile(v.times, 90)), float64(med)/float64(baseMed))
	}
}

// percentile is the nearest-rank percentile p of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(i, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// importChain stores a chain on the token: the leaf with the key's id, the
// issuers under labels of their own.
func importChain(ctx context.Context, uri, module string, pin pkcs11.PIN, id []byte, label, chainFile string) error {
	b, err := os.ReadFile(chainFile)
	if err != nil {
		return err
	}
	certs, err := pki.ParseCertificates(b)
	if err != nil {
		return err
	}
	u, err := pkcs11.ParseURI(uri)
	if err != nil {
		return err
	}
	tok, err := pkcs11.Open(ctx, u, pkcs11.Options{ModulePath: module})
	if err != nil {
		return err
	}
	defer tok.Close()
	for i, c := range certs {
		certID, certLabel := id, label
		if i > 0 {
			certID, certLabel = nil, fmt.Sprintf("%s-ca-%d", label, i)
		}
		if err := tok.ImportCertificate(ctx, pin, certID, certLabel, c); err != nil {
			return err
		}
	}
	return tok.Close()
}

// writeSigningKeys writes notation v1.3.2's signingkeys.json with one local
// key (notation has no command to add an existing key file).
func writeSigningKeys(configDir, name, keyPath, certPath string) error {
	doc := map[string]any{
		"default": name,
		"keys":    []any{map[string]string{"name": name, "keyPath": keyPath, "certPath": certPath}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(configDir, "signingkeys.json"), b, 0o600)
}

// notation runs the notation CLI; a failure carries its output.
func notation(ctx context.Context, n *e2e.Notation, args ...string) error {
	stdout, stderr, code, err := n.Run(ctx, args...)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("notation %s exited %d:\n%s", args[0], code, strings.TrimSpace(stderr+"\n"+stdout))
	}
	return nil
}

// describeKey runs the plugin's describe-key as notation would.
func describeKey(ctx context.Context, bin string, env []string, req []byte) error {
	cmd := exec.CommandContext(ctx, bin, "describe-key")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdin = bytes.NewReader(req)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("describe-key: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if !bytes.Contains(stdout.Bytes(), []byte(`"keySpec"`)) {
		return errors.New("describe-key: no keySpec in " + stdout.String())
	}
	return nil
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
