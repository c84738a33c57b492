package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/admission"
	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
)

// serveFlags are the flags of serve.
type serveFlags struct {
	listen, tlsCert, tlsKey, clientCA string
	policy, truststore                string
	strict, plainHTTP                 bool
	dockerConfig                      string
	maxSignatures                     int
	metadata                          metadataFlag
	rev                               revocationFlags
	output                            *cli.Output

	timeout, verifyTimeout, cacheTTL, failureTTL time.Duration
	reloadInterval, shutdownGrace                time.Duration
	maxInFlight, maxQueue, maxVerifying          int
	maxKeys, cacheEntries                        int
}

const serveLong = `Serve Gatekeeper's external data protocol over HTTPS: POST /v1/verify takes a
ProviderRequest whose keys are image references as Pods carry them (tags,
digests, short Docker Hub names, an optional [namespace] prefix) and answers
one item per key: value {verdict, digest, summary, result}, and error set to
the summary (with its fix) for every image that does not verify, so that the
ConstraintTemplate denies it. systemError is set only for faults of the
server (overloaded, not ready, a malformed request). Verification is verify's:
the same policy, trust stores, revocation and registry access.

Also served: /healthz, /readyz (200 once the policy and trust stores loaded
and linted clean; 503 with the reason while the files on disk fail to load,
the previous policy still serving) and /metrics (Prometheus).

HTTPS only, TLS 1.3; with --client-ca, clients must present a certificate
that CA issued (Gatekeeper's, with its mTLS enabled). The policy, trust stores
and TLS files are reloaded when they change (checked every
--reload-interval) and on SIGHUP; a Kubernetes ConfigMap or Secret volume's
..data swap is followed (see docs/admission.md). SIGTERM or SIGINT stops
accepting requests, finishes those in flight (at most --shutdown-grace) and
exits 0. Logs go to stderr: key=value lines, or JSON lines with
--output json.

Registry credentials come from the docker config and its credential helpers
($DOCKER_CONFIG/config.json or ~/.docker/config.json), or from
--docker-config FILE, for example an imagePullSecret mounted from a Secret of
type kubernetes.io/dockerconfigjson.

Exit codes:
  0  stopped by SIGTERM or SIGINT
  1  the server failed (the address cannot be listened on)
  2  bad input or usage: unknown flag, missing or unreadable file, a TLS pair
     or client CA that does not load, a policy or trust store that does not
     load or lint clean at start`

func newServeCmd(ctx context.Context, e env) *cobra.Command {
	f := serveFlags{metadata: metadataFlag{}}
	cmd := &cobra.Command{
		Use:   "serve --listen ADDR --tls-cert FILE --tls-key FILE [--client-ca FILE] [flags]",
		Short: "Verify images for Gatekeeper admission: an external data provider over HTTPS",
		Long:  serveLong,
		Example: `  trustpolicy serve --listen :8443 --tls-cert /tls/tls.crt --tls-key /tls/tls.key \
    --client-ca /gatekeeper/ca.crt --policy /etc/notation/trustpolicy.json \
    --truststore /etc/notation/truststore
  trustpolicy serve --listen 127.0.0.1:8443 --tls-cert tls.crt --tls-key tls.key --plain-http`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return toCLI(runServe(ctx, e, f))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.listen, "listen", ":8443", "listen on `ADDR` (host:port)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "the server's certificate chain `file` (PEM); required")
	fs.StringVar(&f.tlsKey, "tls-key", "", "the server's private key `file` (PEM); required")
	fs.StringVar(&f.clientCA, "client-ca", "", "require client certificates issued by the CA certificates in this PEM `file`")
	fs.StringVar(&f.policy, "policy", "", "trust policy `file` (default $NOTATION_CONFIG/trustpolicy.json)")
	fs.StringVar(&f.truststore, "truststore", "", "trust store `folder` that holds x509/ (default $NOTATION_CONFIG/truststore)")
	fs.BoolVar(&f.strict, "strict", false, "not ready while the policy has keys notation ignores, as lint --strict")
	fs.BoolVar(&f.plainHTTP, "plain-http", false, "talk plain HTTP to registries (loopback test registries only)")
	fs.StringVar(&f.dockerConfig, "docker-config", "", "registry credentials from this docker config `file` (e.g. a mounted imagePullSecret's .dockerconfigjson)")
	fs.IntVar(&f.maxSignatures, "max-signatures", 100, "verify at most `N` signatures per image, as notation's --max-signatures")
	fs.Var(f.metadata, "user-metadata", "require the signed annotation `KEY=VALUE` (repeatable)")
	fs.DurationVar(&f.timeout, "timeout", admission.DefaultTimeout, "answer every request within this `duration` (keep it below the Provider's spec.timeout)")
	fs.DurationVar(&f.verifyTimeout, "verify-timeout", admission.DefaultVerifyTimeout, "bound one verification, which goes on after its request's deadline to fill the cache, by this `duration`")
	fs.DurationVar(&f.cacheTTL, "cache-ttl", admission.DefaultCacheTTL, "reuse a verdict at most this `duration` (less when a certificate expires or a CRL/OCSP answer is due sooner)")
	fs.DurationVar(&f.failureTTL, "failure-ttl", admission.DefaultFailureTTL, "reuse a verdict that does not admit, or an unknown revocation status, at most this `duration`")
	fs.IntVar(&f.cacheEntries, "cache-entries", admission.DefaultCacheEntries, "keep at most `N` verdicts")
	fs.IntVar(&f.maxInFlight, "max-in-flight", admission.DefaultMaxInFlight, "serve at most `N` requests at once")
	fs.IntVar(&f.maxQueue, "max-queue", admission.DefaultMaxQueue, "let at most `N` more requests wait; beyond that they get a systemError at once")
	fs.IntVar(&f.maxVerifying, "max-verifying", admission.DefaultMaxVerifying, "run at most `N` verifications at once")
	fs.IntVar(&f.maxKeys, "max-keys", admission.DefaultMaxKeys, "accept at most `N` keys per request")
	fs.DurationVar(&f.reloadInterval, "reload-interval", admission.DefaultReloadInterval, "look for changed policy, trust store and TLS files this often")
	fs.DurationVar(&f.shutdownGrace, "shutdown-grace", 10*time.Second, "on SIGTERM, let requests in flight finish for at most this `duration`")
	f.rev.register(cmd, true)
	f.output = cli.OutputFlag(cmd)
	return cmd
}

// check refuses missing TLS files and settings that are not positive.
func (f serveFlags) check() error {
	switch {
	case f.tlsCert == "" || f.tlsKey == "":
		return cli.Usagef("serve needs --tls-cert and --tls-key: it serves HTTPS only (Gatekeeper requires it)")
	case f.maxSignatures <= 0:
		return cli.Usagef("--max-signatures must be positive, not %d", f.maxSignatures)
	}
	for name, d := range map[string]time.Duration{"--timeout": f.timeout, "--verify-timeout": f.verifyTimeout, "--cache-ttl": f.cacheTTL,
		"--failure-ttl": f.failureTTL, "--reload-interval": f.reloadInterval, "--shutdown-grace": f.shutdownGrace} {
		if d <= 0 {
			return cli.Usagef("%s must be positive, not %s", name, d)
		}
	}
	for name, n := range map[string]int{"--cache-entries": f.cacheEntries, "--max-in-flight": f.maxInFlight, "--max-queue": f.maxQueue,
		"--max-verifying": f.maxVerifying, "--max-keys": f.maxKeys} {
		if n <= 0 {
			return cli.Usagef("%s must be positive, not %d", name, n)
		}
	}
	return nil
}

func runServe(ctx context.Context, e env, f serveFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	tlsf := &tlsFiles{cert: f.tlsCert, key: f.tlsKey, clientCA: f.clientCA}
	if err := tlsf.load(); err != nil {
		return err
	}
	paths, err := resolvePaths(f.policy, f.truststore, e)
	if err != nil {
		return err
	}
	if abs, err := filepath.Abs(paths.TrustStore); err == nil {
		// The offline hints print a crl import command; it must name the
		// trust stores served to work as printed.
		f.rev.importArgs = []string{"--truststore", abs}
	}
	checker, err := f.rev.newChecker(e)
	if err != nil {
		return err
	}
	ropts := registry.Options{PlainHTTP: f.plainHTTP, MaxSignatures: f.maxSignatures}
	if f.dockerConfig != "" {
		if _, err := readCapped(f.dockerConfig, "--docker-config"); err != nil {
			return err
		}
		ropts.Credentials = registry.DockerCredentials(f.dockerConfig)
	}
	client, err := registry.New(ropts)
	if err != nil {
		return err
	}
	// The log starts once the server listens: until then a failure is
	// the command's one error line (and fix), as for every command.
	logw := &lateWriter{}
	var handler slog.Handler = slog.NewTextHandler(logw, nil)
	if f.output.JSON() {
		handler = slog.NewJSONHandler(logw, nil)
	}
	log := slog.New(handler)
	srv, err := admission.New(admission.Config{
		Paths: paths, Strict: f.strict, Revocation: checker, Registry: client,
		Verify: service.Options{UserMetadata: f.metadata, MaxSignatures: f.maxSignatures},
		Now:    e.now, Timeout: f.timeout, VerifyTimeout: f.verifyTimeout,
		MaxInFlight: f.maxInFlight, MaxQueue: f.maxQueue, MaxVerifying: f.maxVerifying,
		MaxKeys: f.maxKeys, CacheTTL: f.cacheTTL, FailureTTL: f.failureTTL, CacheEntries: f.cacheEntries,
		ReloadInterval: f.reloadInterval, Logger: log,
	})
	if err != nil {
		return err
	}
	if err := srv.Reload(); err != nil {
		return usageError{err}
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", f.listen, err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		TLSConfig:         tlsf.config(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       f.timeout + 5*time.Second,
		WriteTimeout:      f.timeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(handler, slog.LevelWarn),
	}
	logw.start(e.stderr)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// SIGHUP is caught before the server says it listens, so a SIGHUP
	// sent once it does never kills it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go watch(ctx, hup, srv, tlsf, f.reloadInterval, log)
	served := make(chan error, 1)
	go func() { served <- hs.ServeTLS(ln, "", "") }()
	log.Info("listening", "addr", ln.Addr().String(), "mtls", f.clientCA != "", "generation", srv.Generation())
	select {
	case err := <-served:
		return fmt.Errorf("serving on %s: %w", textsafe.Escape(ln.Addr().String()), err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", f.shutdownGrace.String())
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), f.shutdownGrace)
	defer scancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("requests still in flight at the end of the grace period", "error", err.Error())
		_ = hs.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// lateWriter discards what is written until start.
type lateWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lateWriter) start(w io.Writer) {
	l.mu.Lock()
	l.w = w
	l.mu.Unlock()
}

func (l *lateWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil {
		return len(p), nil
	}
	return l.w.Write(p)
}

// watch reloads the policy, trust stores and TLS files when they change,
// and on SIGHUP, until ctx ends.
func watch(ctx context.Context, hup <-chan os.Signal, srv *admission.Server, tlsf *tlsFiles, every time.Duration, log *slog.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	stamp := tlsf.stamp()
	for {
		forced := false
		select {
		case <-ctx.Done():
			return
		case <-hup:
			forced = true
			log.Info("SIGHUP: reloading")
		case <-tick.C:
		}
		if forced || srv.Changed() {
			_ = srv.Reload() // the server logs and reports the outcome
		}
		if s := tlsf.stamp(); forced || s != stamp {
			stamp = s
			if err := tlsf.load(); err != nil {
				log.Error("TLS files not reloaded; the previous ones stay in use", "error", textsafe.Escape(err.Error()))
			} else {
				log.Info("TLS files reloaded")
			}
		}
	}
}
