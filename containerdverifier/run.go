package containerdverifier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// Exit codes. containerd allows the pull on 0 and refuses it on anything
// else; the codes differ so that people and logs can tell why.
const (
	ExitAllowed    = 0 // verified, or the matching policy statement has level skip
	ExitRefused    = 1 // the image did not verify (no signature, failed, inconclusive, registry error)
	ExitInvocation = 2 // bad arguments or descriptor on stdin
	ExitConfig     = 3 // configuration, trust policy, trust store or cache refused
	ExitTimeout    = 4 // no answer within the configured timeout, or interrupted
)

// MaxReasonBytes is what containerd reads of a verifier's stdout (32 KiB).
// The reason, with its final newline, never exceeds it.
const MaxReasonBytes = 32 << 10

// Outcome is the verifier's answer to one invocation.
type Outcome struct {
	// Code is the exit code.
	Code int
	// Reason is what goes to stdout, which containerd shows as the reason:
	// its first line is the one-line summary with the fix, escaped; the
	// lines after it detail what the first line summarises. At most
	// MaxReasonBytes-1 bytes, without the final newline.
	Reason string
	// Debug holds lines for stderr, which containerd logs at debug level.
	Debug []string
	// Report is the verification report, when one was made.
	Report *trustpolicy.Report
}

// Env is the process around [Run].
type Env struct {
	// Getenv reads the environment (the configuration path).
	Getenv func(string) string
	// Stdin carries the descriptor.
	Stdin io.Reader
	// Options are passed to Load; Options.OnCacheError defaults to adding
	// the problem to Outcome.Debug.
	Options Options
	// DefaultTimeout bounds the work until the configuration's timeout is
	// known (reading the configuration). Default DefaultTimeout.
	DefaultTimeout time.Duration
}

// Run answers one containerd invocation: it parses args, loads the
// configuration (refusing one that does not lint clean), reads the
// descriptor on stdin, and verifies REPOSITORY@DIGEST, all within the
// configuration's timeout measured from the call. Anything but a verified
// (or skip-level) verdict refuses. When the time is up Run returns at once
// (fail closed, ExitTimeout), leaving the abandoned work to end with the
// process.
func Run(ctx context.Context, args []string, env Env) Outcome {
	start := time.Now()
	inv, err := ParseArgs(args)
	if err != nil {
		return invocationOutcome(err)
	}
	ref, err := inv.Reference()
	if err != nil {
		return invocationOutcome(err)
	}
	file := ConfigPath(env.Getenv)
	limit := env.DefaultTimeout
	if limit <= 0 {
		limit = DefaultTimeout
	}
	w := &work{inv: inv, ref: ref, file: file, env: env, start: start, timeouts: make(chan time.Duration, 1), done: make(chan Outcome, 1)}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.run(wctx)
	timer := time.NewTimer(limit - time.Since(start))
	defer timer.Stop()
	for {
		select {
		case o := <-w.done:
			o.Debug = append(w.debugLines(), o.Debug...)
			return o
		case d := <-w.timeouts:
			limit = d
			timer.Reset(d - time.Since(start))
		case <-timer.C:
			return w.timeout(limit, nil)
		case <-ctx.Done():
			return finish(Outcome{Code: ExitTimeout, Debug: w.debugLines()},
				fmt.Sprintf("refused: %s: interrupted (%v) before the verification finished", esc(ref), ctx.Err()), "retry the pull")
		}
	}
}

// work is one verification, run on its own goroutine so that Run can
// answer when the time is up whatever the work is blocked on.
type work struct {
	inv      Invocation
	ref      string
	file     string
	env      Env
	start    time.Time
	timeouts chan time.Duration
	done     chan Outcome

	mu    sync.Mutex
	debug []string
}

func (w *work) logf(format string, a ...any) {
	w.mu.Lock()
	w.debug = append(w.debug, textsafe.Escape(fmt.Sprintf(format, a...)))
	w.mu.Unlock()
}

func (w *work) debugLines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.debug...)
}

func (w *work) run(ctx context.Context) {
	w.done <- w.verify(ctx)
}

func (w *work) verify(ctx context.Context) Outcome {
	w.logf("configuration %s; verifying %s", w.file, w.ref)
	opts := w.env.Options
	if opts.OnCacheError == nil {
		opts.OnCacheError = func(err error) { w.logf("revocation cache: %v", err) }
	}
	v, err := Load(w.file, opts)
	if err != nil {
		return configOutcome(w.ref, w.file, err)
	}
	timeout := time.Duration(v.cfg.Timeout)
	w.timeouts <- timeout
	ctx, cancel := context.WithDeadline(ctx, w.start.Add(timeout))
	defer cancel()
	if _, err := ReadDescriptor(w.env.Stdin, w.inv.Digest); err != nil {
		return invocationOutcome(err)
	}
	report, err := v.Verify(ctx, w.ref)
	w.logf("verification took %s", time.Since(w.start).Round(time.Millisecond))
	if ctx.Err() != nil && (err != nil || !allowed(report)) {
		return w.timeout(timeout, report)
	}
	if err == nil && report == nil {
		err = errors.New("no report") // never: the service returns one or an error
	}
	if err != nil {
		return finish(Outcome{Code: ExitRefused}, fmt.Sprintf("refused: %s: %s", esc(w.ref), esc(err.Error())),
			fmt.Sprintf("check that the image is in its registry and that registry.plainHTTP and registry.dockerConfig in %s are right", esc(w.file)))
	}
	return reportOutcome(v, w.ref, report)
}

// allowed reports a verdict that allows the pull.
func allowed(r *trustpolicy.Report) bool {
	return r != nil && (r.Verdict == trustpolicy.VerdictVerified || r.Verdict == trustpolicy.VerdictSkipped)
}

// timeout is the refusal when the time is up; report is what was decided
// by then, if anything.
func (w *work) timeout(limit time.Duration, report *trustpolicy.Report) Outcome {
	o := Outcome{Code: ExitTimeout, Report: report, Debug: w.debugLines()}
	first := fmt.Sprintf("refused: %s: the verification did not finish within %s (timeout in %s)", esc(w.ref), limit, esc(w.file))
	fix := fmt.Sprintf("check that the registry and the OCSP and CRL servers answer from this node; for air-gapped nodes set revocation.offline in %s and fill the cache with trustpolicy crl fetch or crl import; or raise timeout there (below containerd's per_verifier_timeout)", esc(w.file))
	o = finish(o, first, fix)
	if report != nil {
		o.Reason = capReason(o.Reason + "\n" + report.Summary())
	}
	return o
}

// invocationOutcome refuses a bad invocation.
func invocationOutcome(err error) Outcome {
	return finish(Outcome{Code: ExitInvocation}, "refused: "+esc(err.Error()),
		"containerd's bindir verifier runs "+CommandName+" -name REF -digest DIGEST -stdin-media-type "+DescriptorMediaType+" with the descriptor on stdin; see "+CommandName+" -h")
}

// configOutcome refuses every pull while the configuration is not clean.
func configOutcome(ref, file string, err error) Outcome {
	fix := checkFix(file)
	var f interface{ Fix() string }
	if errors.As(err, &f) && f.Fix() != "" {
		fix = f.Fix()
	}
	o := finish(Outcome{Code: ExitConfig}, fmt.Sprintf("refused: %s: %s", esc(ref), esc(err.Error())), esc(fix))
	var le *LintError
	if errors.As(err, &le) {
		lines := make([]string, 0, len(le.Problems))
		for _, p := range le.Problems {
			lines = append(lines, "  "+p.line())
		}
		o.Reason = capReason(o.Reason + "\n" + strings.Join(lines, "\n"))
	}
	return o
}

// reportOutcome turns the report into the answer: allowed when verified or
// skipped, refused otherwise. The first line is the one-line summary with
// its fix: for a refusal, the last signature's (or the report's, when no
// signature was evaluated); the report's other summary lines follow (each
// signature tried, an error that ended the search). A refusal ends with the
// explain command that shows every check.
func reportOutcome(v *Verifier, ref string, report *trustpolicy.Report) Outcome {
	o := Outcome{Code: ExitRefused, Report: report}
	lines := strings.Split(report.Summary(), "\n")
	if allowed(report) {
		o.Code = ExitAllowed
		o.Reason = capReason(strings.Join(lines, "\n"))
		return o
	}
	explain := v.ExplainCommand(ref)
	if n := len(report.Signatures); n > 0 {
		last := report.Signatures[n-1].Summary()
		rest := lines[1:]
		lines = []string{last}
		if n > 1 {
			lines[0] = fmt.Sprintf("%s (the last of %d signatures, none verified)", last, n)
		}
		for _, l := range rest {
			if !strings.HasSuffix(l, ": "+last) { // the last signature's line: it is the first
				lines = append(lines, l)
			}
		}
	}
	if !strings.Contains(lines[0], "; fix: ") {
		if len(report.Signatures) == 0 {
			insecure := ""
			if host, _, _ := strings.Cut(ref, "/"); v.cfg.plainHTTP(host) {
				insecure = " --insecure-registry"
			}
			lines[0] += fmt.Sprintf("; fix: sign it: notation sign%s %s; or give its repository a trust policy statement in %s", insecure, esc(ref), esc(v.cfg.TrustPolicy))
		} else {
			lines[0] += "; fix: run the details command below: it shows every check and its fix"
		}
	}
	lines = append(lines, "details: "+explain)
	o.Reason = capReason(strings.Join(lines, "\n"))
	return o
}

// ExplainCommand is the trustpolicy explain command that shows every check
// of ref with this configuration (run it as the user containerd runs as,
// which owns the revocation cache).
func (v *Verifier) ExplainCommand(ref string) string {
	c := v.cfg
	args := []string{"trustpolicy", "explain", "--policy", shellQuote(c.TrustPolicy), "--truststore", shellQuote(c.TrustStore),
		"--crl-cache", shellQuote(c.Revocation.CacheDir)}
	if c.Revocation.Offline {
		args = append(args, "--offline")
	}
	host, _, _ := strings.Cut(ref, "/")
	if c.plainHTTP(host) {
		args = append(args, "--plain-http")
	}
	cmd := strings.Join(append(args, shellQuote(ref)), " ")
	// DOCKER_CONFIG names the folder that holds config.json.
	if d := c.Registry.DockerConfig; filepath.Base(d) == "config.json" {
		cmd = "DOCKER_CONFIG=" + shellQuote(filepath.Dir(d)) + " " + cmd
	}
	return esc(cmd)
}

// finish sets the reason: first, then "; fix: FIX" when there is a fix.
func finish(o Outcome, first, fix string) Outcome {
	if fix != "" {
		first += "; fix: " + fix
	}
	o.Reason = capReason(first)
	return o
}

// esc escapes a one-line value.
func esc(s string) string { return textsafe.Escape(s) }

// capReason keeps the reason within MaxReasonBytes with its newline,
// cutting on a character boundary and saying so.
func capReason(s string) string {
	const more = "… (cut at 32 KiB; run the details command for everything)"
	if len(s)+1 <= MaxReasonBytes {
		return s
	}
	n := MaxReasonBytes - 1 - len(more)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + more
}
