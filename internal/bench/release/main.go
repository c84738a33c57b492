// Command release measures bulk verification as whole commands on this
// machine, against a distribution registry on 127.0.0.1 holding N
// artifacts signed by one key (the ec-256 test leaf; envelopes made
// in-process and pushed with oras-go, not by N notation processes):
//
//   - one `trustpolicy verify --from LIST` process over the N artifacts,
//     against N `notation verify` processes, one per artifact (the goal is
//     at least 10x in wall time);
//   - the floor: the same registry round trips (resolve, one referrers
//     call, the signature manifest, the envelope) made with oras-go in this
//     process, with the same concurrency and no verification; bulk
//     verification's cost per artifact against it (goal: within 1.5x);
//   - memory: the peak RSS of one bulk process over -mem references against
//     one over N (goal: under 150 MB, and flat).
//
// Run it from the repository root:
//
//	go build -o bin/trustpolicy ./cmd/trustpolicy
//	go run ./internal/bench/release -trustpolicy bin/trustpolicy
//
// It prints the machine and a markdown table for the README. Everything it
// creates lives in a temporary folder that is removed at the end, and the
// registry is stopped on success, failure and Ctrl-C.
package main

import (
	"context"
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
	"sync"
	"syscall"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
)

type config struct {
	trustpolicy string
	pki         string
	n, mem      int
	jobs        int
	runs        int
	notation    int
}

func main() {
	var c config
	flag.StringVar(&c.trustpolicy, "trustpolicy", "", "path to the built trustpolicy binary (required)")
	flag.StringVar(&c.pki, "pki", "testdata/pki", "the test PKI folder (ec-256 signs)")
	flag.IntVar(&c.n, "n", 1000, "artifacts of the speed comparison")
	flag.IntVar(&c.mem, "mem", 10000, "references of the memory run (0: skip it)")
	flag.IntVar(&c.jobs, "jobs", 8, "--jobs of bulk verification, and the floor's concurrency")
	flag.IntVar(&c.runs, "runs", 3, "timed runs of bulk verification and of the floor (the median is reported)")
	flag.IntVar(&c.notation, "notation", 0, "notation verify processes to time (default -n)")
	flag.Parse()
	if c.trustpolicy == "" || c.n < 1 || c.jobs < 1 || c.runs < 1 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/bench/release -trustpolicy bin/trustpolicy [-n 1000] [-mem 10000] [-jobs 8]")
		os.Exit(2)
	}
	if c.notation == 0 {
		c.notation = c.n
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "bench failed: %v\n", err)
		stop()
		os.Exit(1)
	}
}

// world is the registry, its artifacts and the notation configuration
// both verifiers read.
type world struct {
	c        config
	tools    e2e.Tools
	dir      string
	reg      *e2e.Registry
	notation *e2e.Notation
	refs     []string
}

func run(ctx context.Context, c config, out io.Writer) (err error) {
	if c.trustpolicy, err = filepath.Abs(c.trustpolicy); err != nil {
		return err
	}
	tools, err := e2e.FindTools()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-release-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	reg, err := e2e.StartRegistry(ctx, tools.Registry, filepath.Join(dir, "registry"))
	if err != nil {
		return err
	}
	defer func() {
		if serr := reg.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	w := &world{c: c, tools: tools, dir: dir, reg: reg, notation: e2e.NewNotation(tools.Notation, filepath.Join(dir, "notation"), nil)}
	if err := w.setup(ctx); err != nil {
		return err
	}
	return w.measure(ctx, out)
}

// setup pushes max(n, mem) signed artifacts and writes the notation
// configuration: the ec-256 root in ca:test, a strict policy for every
// repository.
func (w *world) setup(ctx context.Context) error {
	if err := w.notation.AddCert("ca", "test", filepath.Join(w.c.pki, "ec-256", "root.crt")); err != nil {
		return err
	}
	if err := w.notation.WriteTrustPolicy(e2e.StrictPolicy("test")); err != nil {
		return err
	}
	key, err := testpki.LoadSigner(filepath.Join(w.c.pki, "ec-256", "leaf.key"))
	if err != nil {
		return err
	}
	chain, err := testpki.LoadCertificates(filepath.Join(w.c.pki, "ec-256", "chain.pem"))
	if err != nil {
		return err
	}
	total := max(w.c.n, w.c.mem)
	w.refs = make([]string, total)
	p := e2e.NewPusher(w.reg.Addr())
	errs := make(chan error, 1)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := w.pushSigned(ctx, p, i, key, chain); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range total {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return nil
}

// measure runs the comparisons and prints the table.
func (w *world) measure(ctx context.Context, out io.Writer) error {
	n := w.c.n
	list := filepath.Join(w.dir, "release.txt")
	if err := os.WriteFile(list, []byte(strings.Join(w.refs[:n], "\n")+"\n"), 0o600); err != nil {
		return err
	}
	// Warm-up: the binaries in the page cache, the registry's storage.
	if _, _, err := w.bulk(ctx, list, w.c.jobs); err != nil {
		return err
	}
	if _, err := w.floor(ctx, n); err != nil {
		return err
	}
	var bulk, bulkCores, floor []time.Duration
	var rssN int64
	for range w.c.runs {
		d, rss, err := w.bulk(ctx, list, w.c.jobs)
		if err != nil {
			return err
		}
		bulk, rssN = append(bulk, d), rss
		if d, _, err = w.bulk(ctx, list, runtime.NumCPU()); err != nil {
			return err
		}
		bulkCores = append(bulkCores, d)
		if d, err = w.floor(ctx, n); err != nil {
			return err
		}
		floor = append(floor, d)
	}
	notation, err := w.notationRuns(ctx, w.c.notation)
	if err != nil {
		return err
	}
	notationN := notation * time.Duration(n) / time.Duration(w.c.notation)
	var rssMem int64
	if w.c.mem > 0 {
		mem := filepath.Join(w.dir, "mem.txt")
		if err := os.WriteFile(mem, []byte(strings.Join(w.refs[:w.c.mem], "\n")+"\n"), 0o600); err != nil {
			return err
		}
		if _, rssMem, err = w.bulk(ctx, mem, w.c.jobs); err != nil {
			return err
		}
	}
	b, bc, f := median(bulk), median(bulkCores), median(floor)
	per := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000/float64(n)) }
	fmt.Fprintf(out, "Machine: %s, %d CPUs, %s/%s, %s (%s)\n\n", cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(out, "%d artifacts signed by one key (COSE, EC P-256 chain of 3), registry on 127.0.0.1, median of %d runs:\n\n", n, w.c.runs)
	fmt.Fprintln(out, "| measure | wall time | per artifact | ratio |")
	fmt.Fprintln(out, "|---|---:|---:|---:|")
	fmt.Fprintf(out, "| %d `notation verify` processes, one after another | %s | %s | 1.00x |\n", n, round(notationN), per(notationN))
	fmt.Fprintf(out, "| one `trustpolicy verify --from` process, --jobs %d | %s | %s | **%.1fx** faster |\n", w.c.jobs, round(b), per(b), float64(notationN)/float64(b))
	fmt.Fprintf(out, "| the same, --jobs %d (the default: one per core) | %s | %s | %.1fx faster |\n", runtime.NumCPU(), round(bc), per(bc), float64(notationN)/float64(bc))
	fmt.Fprintf(out, "| floor: the same 4 requests per artifact with oras-go, %d at once, no verification | %s | %s | bulk is **%.2fx** the floor |\n", w.c.jobs, round(f), per(f), float64(b)/float64(f))
	if w.c.notation != n {
		fmt.Fprintf(out, "\n(notation: %d processes timed, scaled to %d.)\n", w.c.notation, n)
	}
	fmt.Fprintf(out, "\nPeak RSS of one bulk process: %d references %.1f MB", n, float64(rssN)/1024)
	if rssMem > 0 {
		fmt.Fprintf(out, ", %d references %.1f MB (%.2fx for %dx the references)", w.c.mem, float64(rssMem)/1024, float64(rssMem)/float64(rssN), w.c.mem/n)
	}
	fmt.Fprintln(out)
	return nil
}

// bulk runs one trustpolicy verify process over the list and returns its
// wall time and peak RSS (KiB).
func (w *world) bulk(ctx context.Context, list string, jobs int) (time.Duration, int64, error) {
	cmd := exec.CommandContext(ctx, w.c.trustpolicy, "verify", "--plain-http", "--jobs", fmt.Sprint(jobs), "--per-registry", fmt.Sprint(jobs),
		"--no-disk-cache", "--from", list, "--output", "json")
	cmd.Env = append(w.notation.Env(), "HOME="+w.dir)
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("trustpolicy verify: %w: %s", err, stderr.String())
	}
	rss := int64(0)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return d, rss, nil
}

// notationRuns times k notation verify processes, one after another.
func (w *world) notationRuns(ctx context.Context, k int) (time.Duration, error) {
	start := time.Now()
	for i := range k {
		_, errOut, code, err := w.notation.Run(ctx, "verify", "--insecure-registry", w.refs[i%w.c.n])
		if err != nil || code != 0 {
			return 0, fmt.Errorf("notation verify %s: exit %d, %v: %s", w.refs[i], code, err, errOut)
		}
	}
	return time.Since(start), nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func round(d time.Duration) string {
	if d > 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
