// Command serve measures "trustpolicy serve" against "ratify serve" v1.4.6
// with its built-in notation verifier, as Gatekeeper providers, side by
// side in one run on this machine:
//
//   - the same 200 distinct artifacts (-artifacts) signed with the notation
//     CLI by 3 leaves (-signers) of one OpenSSL CA (CRLs on loopback), in a
//     loopback registry, and the same trust policy (level strict, so
//     revocation is checked) and root;
//   - the same Gatekeeper request stream over TLS 1.3 with a client
//     certificate: 1 to 10 keys per request, from 1, 16 and 64 concurrent
//     clients (-clients);
//   - two regimes: warm (both caches on and filled by one pass over every
//     artifact, then -requests requests), and cold (a fresh server, every
//     key an artifact it has not seen: one pass over the artifacts).
//     Every answer of the warm-up and the cold regime is decoded and must
//     admit every key; in the warm regime every 16th is (and every one
//     must be HTTP 200), so that decoding on the load generator's side,
//     which shares the CPUs, weighs little.
//
// Each run starts fresh server processes (loopback only) and stops them;
// each run ends after its requests or -limit, whichever is first. It
// prints throughput, p50 and p99 latency, errors, peak RSS (VmHWM) and the
// server's CPU time per request (from /proc, which a busy machine disturbs
// less than wall time) per server, and the ratios, as a markdown table:
//
//	NOTATION_PKCS11_TOOLS_BIN=$HOME/.cache/notation-pkcs11/tools/bin go run ./internal/bench/serve
//
// It needs the peer tools, Ratify included (scripts/tools.sh ratify).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "serve bench: error: %v\n", err)
		os.Exit(1)
	}
}

// row is one measured run.
type row struct {
	regime  string
	clients int
	server  string
	res     result
	rss     int64
	cpu     time.Duration // the server's CPU time during the run
}

func run() error {
	artifacts := flag.Int("artifacts", 200, "distinct artifacts")
	signers := flag.Int("signers", 3, "signers of the artifacts")
	requests := flag.Int("requests", 2000, "requests per warm run")
	limit := flag.Duration("limit", 30*time.Second, "longest run")
	clientList := flag.String("clients", "1,16,64", "concurrent clients, comma-separated")
	tpBin := flag.String("trustpolicy", "", "trustpolicy binary (default: built from ./cmd/trustpolicy)")
	flag.Parse()
	var clients []int
	for _, c := range strings.Split(*clientList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n <= 0 {
			return fmt.Errorf("-clients %q: give positive numbers", *clientList)
		}
		clients = append(clients, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "serve-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	ratify, err := e2e.FindRatify()
	if err != nil {
		return err
	}
	if *tpBin == "" {
		if *tpBin, err = buildTrustpolicy(ctx, dir); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "signing %d artifacts...\n", *artifacts)
	w, err := e2e.NewAdmissionWorld(ctx, filepath.Join(dir, "world"), e2e.AdmissionOptions{Bench: *artifacts, Signers: *signers, NoOCSP: true})
	if err != nil {
		return err
	}
	defer w.Close()
	p, err := newPKI(filepath.Join(dir, "tls"))
	if err != nil {
		return err
	}

	var rows []row
	n := 0
	for _, regime := range []string{"warm", "cold"} {
		for _, c := range clients {
			for _, which := range []string{"ratify serve", "trustpolicy serve"} {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				n++
				runDir := filepath.Join(dir, fmt.Sprintf("run%d", n))
				if err := os.MkdirAll(runDir, 0o700); err != nil {
					return err
				}
				r, err := measure(which, regime, c, ratify, *tpBin, w, p, runDir, *requests, *limit)
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "%s %d clients %s: %.0f req/s, p99 %s, %d errors\n", regime, c, which, r.res.throughput(), r.res.percentile(99), r.res.errors)
				rows = append(rows, r)
			}
		}
	}
	printTable(rows, *artifacts, *signers)
	return nil
}

func (r row) cpuPerRequest() time.Duration { return r.cpu / time.Duration(max(r.res.requests, 1)) }

// measure starts a fresh server, warms it up in the warm regime, runs the
// stream and stops it.
func measure(which, regime string, clients int, ratifyBin, tpBin string, w *e2e.AdmissionWorld, p *pki, dir string, requests int, limit time.Duration) (row, error) {
	var s *server
	var err error
	if which == "ratify serve" {
		s, err = startRatify(ratifyBin, w, p, dir)
	} else {
		s, err = startTrustpolicy(tpBin, w, p, dir)
	}
	if err != nil {
		return row{}, err
	}
	defer s.stop()
	client := p.httpClient(clients)
	if err := s.ready(client); err != nil {
		return row{}, err
	}
	stream, check := requestKeys(w.Bench, 0, true), 1
	if regime == "warm" {
		if warm := load(client, s.url, stream, 8, 5*time.Minute, 1); warm.errors > 0 {
			return row{}, fmt.Errorf("%s: warm-up: %d errors, first: %s", which, warm.errors, warm.firstErr)
		}
		stream = requestKeys(w.Bench, requests, false)
		check = 16
	}
	cpu0, err := s.cpu()
	if err != nil {
		return row{}, err
	}
	res := load(client, s.url, stream, clients, limit, check)
	cpu1, err := s.cpu()
	if err != nil {
		return row{}, err
	}
	rss, err := s.peakRSS()
	if err != nil {
		return row{}, err
	}
	return row{regime: regime, clients: clients, server: which, res: res, rss: rss, cpu: cpu1 - cpu0}, nil
}

// printTable writes the markdown table, with ratios trustpolicy / ratify.
func printTable(rows []row, artifacts, signers int) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
	fmt.Printf("`trustpolicy serve` vs `ratify serve` v1.4.6 (built-in notation verifier, --cache-enabled), %d artifacts from %d signers, TLS 1.3 with client certificates, 1-10 keys per request; %s/%s, %d CPUs, %s\n\n",
		artifacts, signers, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Println("| regime | clients | server | requests/s | p50 ms | p99 ms | errors | peak RSS MB | server CPU ms/request | KB/response | throughput ratio | CPU ratio |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for i, r := range rows {
		ratio, cpuRatio := "", ""
		if r.server == "trustpolicy serve" && i > 0 && rows[i-1].server == "ratify serve" {
			ratio = fmt.Sprintf("%.1fx", r.res.throughput()/rows[i-1].res.throughput())
			cpuRatio = fmt.Sprintf("%.1fx", float64(rows[i-1].cpuPerRequest())/float64(max(r.cpuPerRequest(), 1)))
		}
		fmt.Printf("| %s | %d | %s | %.0f | %s | %s | %d/%d | %.0f | %s | %.1f | %s | %s |\n", r.regime, r.clients, r.server, r.res.throughput(),
			ms(r.res.percentile(50)), ms(r.res.percentile(99)), r.res.errors, r.res.requests, float64(r.rss)/(1<<20),
			fmt.Sprintf("%.2f", float64(r.cpuPerRequest().Microseconds())/1000), float64(r.res.bytes)/float64(max(r.res.requests, 1))/1024, ratio, cpuRatio)
	}
	for _, r := range rows {
		if r.res.errors > 0 {
			fmt.Printf("\n%s %s %d clients, first error: %s\n", r.server, r.regime, r.clients, r.res.firstErr)
		}
	}
}
