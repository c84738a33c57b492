package admission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
)

// Defaults of Config's zero values.
const (
	// DefaultTimeout is below Gatekeeper's default provider timeout (3 s),
	// so the answer, even a timeout, arrives before Gatekeeper gives up.
	DefaultTimeout        = 2500 * time.Millisecond
	DefaultVerifyTimeout  = 30 * time.Second
	DefaultMaxVerifying   = 64
	DefaultMaxInFlight    = 32
	DefaultMaxQueue       = 128
	DefaultMaxKeys        = 256
	DefaultMaxBodyBytes   = 1 << 20
	DefaultCacheTTL       = 5 * time.Minute
	DefaultFailureTTL     = 30 * time.Second
	DefaultCacheEntries   = 10000
	DefaultReloadInterval = 2 * time.Second
	// keyParallelism bounds the keys of one request verified at once.
	keyParallelism = 8
)

// Config configures a Server. Paths and Registry are required; every zero
// field takes its default.
type Config struct {
	// Paths are the trust policy file and the trust store folder (that
	// holds x509/). Either may be in a Kubernetes ConfigMap or Secret
	// volume: see Server.Reload for how its ..data link is followed.
	Paths trustpolicy.Paths
	// Strict makes the policy's key warnings (keys notation ignores)
	// errors, as trustpolicy lint --strict does.
	Strict bool
	// Revocation checks the chains; it lives across reloads, and so do its
	// CRL and OCSP caches. Nil: revocation checks fail as notation's do
	// without a validator.
	Revocation revocation.Checker
	// Registry fetches what verification needs (credentials from the
	// docker config and its helpers: see registry.Options).
	Registry *registry.Client
	// Verify are the per-call options (user metadata, signature limit).
	Verify service.Options
	// Now is the verification clock (default time.Now).
	Now func() time.Time
	// Timeout is every request's deadline from its arrival, queueing
	// included (default DefaultTimeout). Keep it below the Gatekeeper
	// Provider's spec.timeout.
	Timeout time.Duration
	// VerifyTimeout bounds one verification (default 30 s). It runs apart
	// from the request that started it, so one that outlasts the request's
	// deadline still fills the cache for the next request (and requests
	// for the same artifact share it). MaxVerifying bounds the
	// verifications running at once (default 64); a request that finds
	// none free before its deadline gets an error for the key.
	VerifyTimeout time.Duration
	MaxVerifying  int
	// MaxInFlight requests are verified at once, MaxQueue more wait;
	// beyond that a request gets a systemError at once.
	MaxInFlight, MaxQueue int
	// MaxKeys bounds the keys of one request, MaxBodyBytes its body.
	MaxKeys      int
	MaxBodyBytes int64
	// CacheTTL is the longest a verdict is reused (default 5 min);
	// FailureTTL the longest for one that does not admit and for unknown
	// revocation status (default 30 s). CacheEntries bounds the cache.
	CacheTTL, FailureTTL time.Duration
	CacheEntries         int
	// ReloadInterval is how often Watch looks for changed files (default
	// 2 s).
	ReloadInterval time.Duration
	// Logger receives reloads and server faults (default: discarded).
	Logger *slog.Logger
}

func (c *Config) withDefaults() error {
	switch {
	case c.Paths.Policy == "" || c.Paths.TrustStore == "":
		return errors.New("admission: Config.Paths needs the policy file and the trust store folder")
	case c.Registry == nil:
		return errors.New("admission: Config.Registry is required")
	case c.Timeout < 0 || c.VerifyTimeout < 0 || c.MaxVerifying < 0 || c.MaxInFlight < 0 || c.MaxQueue < 0 || c.MaxKeys < 0 || c.MaxBodyBytes < 0 ||
		c.CacheTTL < 0 || c.FailureTTL < 0 || c.CacheEntries < 0 || c.ReloadInterval < 0:
		return errors.New("admission: Config durations and limits must not be negative")
	}
	setDefault(&c.Timeout, DefaultTimeout)
	setDefault(&c.VerifyTimeout, DefaultVerifyTimeout)
	setDefault(&c.MaxVerifying, DefaultMaxVerifying)
	setDefault(&c.MaxInFlight, DefaultMaxInFlight)
	setDefault(&c.MaxQueue, DefaultMaxQueue)
	setDefault(&c.MaxKeys, DefaultMaxKeys)
	setDefault(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&c.CacheTTL, DefaultCacheTTL)
	setDefault(&c.FailureTTL, DefaultFailureTTL)
	setDefault(&c.CacheEntries, DefaultCacheEntries)
	setDefault(&c.ReloadInterval, DefaultReloadInterval)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Server is the Gatekeeper external data provider. Create it with New,
// load the policy with Reload, serve Handler. It is safe for concurrent
// use.
type Server struct {
	cfg   Config
	cache *verdictCache
	lim   *limiter
	m     *metrics
	// verifying holds one token per verification running.
	verifying chan struct{}

	reloadMu sync.Mutex
	gen      atomic.Pointer[generation]
	next     uint64 // the next generation number; under reloadMu
	state    atomic.Pointer[readiness]
}

// readiness is the outcome of the last load attempt.
type readiness struct {
	ready  bool
	reason string
	// stamp is the fingerprint of the files of the last load attempt.
	stamp string
}

// New returns a Server; it answers nothing until Reload succeeds.
func New(cfg Config) (*Server, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, cache: newVerdictCache(cfg.CacheEntries), lim: newLimiter(cfg.MaxInFlight, cfg.MaxQueue), next: 1,
		verifying: make(chan struct{}, cfg.MaxVerifying)}
	s.m = newMetrics(func() float64 { return float64(s.lim.inFlight()) }, func() float64 { return float64(s.cache.len()) })
	s.state.Store(&readiness{reason: "the trust policy has not been loaded yet"})
	return s, nil
}

// Reload reads, lints and compiles the policy and trust stores. On
// success they become a new generation (the verdicts of older ones are
// dropped) and the server is ready. On failure (a *ConfigError) the
// previous generation, if any, stays in use and the server reports not
// ready, with the reason, until a load succeeds.
//
// A Kubernetes ConfigMap or Secret volume updates its files by swapping
// the symlink MOUNT/..data to a new folder. Reload reads that link once
// and loads from the folder it names, which the kubelet never changes, so
// one load never mixes two versions (it is retried when the link moved
// during the load). The policy file must be the volume's own symlink
// (MOUNT/NAME -> ..data/NAME) and the trust store folder the mount itself
// (holding ..data and x509); nothing else is followed, and within the
// folder read notation's rules hold unchanged: a symlinked store folder or
// a symlink inside a store is still refused.
func (s *Server) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	g, err := load(loadOptions{paths: s.cfg.Paths, rev: s.cfg.Revocation, strict: s.cfg.Strict})
	if err != nil {
		stamp := ""
		if r, rerr := resolve(s.cfg.Paths); rerr == nil {
			stamp = stampOf(r)
		}
		reason := "the trust policy or trust stores failed to load: " + err.Error()
		var ce *ConfigError
		if errors.As(err, &ce) && ce.Command != "" {
			reason += "; fix: run " + ce.Command
		}
		if cur := s.gen.Load(); cur != nil {
			reason += fmt.Sprintf(" (still serving generation %d)", cur.n)
		}
		s.state.Store(&readiness{reason: reason, stamp: stamp})
		s.m.ready.Set(0)
		s.m.reloads.WithLabelValues("failed").Inc()
		s.cfg.Logger.Error("reload failed", "error", textsafe.Escape(reason))
		return err
	}
	svc, err := service.New(service.Config{Engine: g.engine, Registry: s.cfg.Registry, Now: s.cfg.Now})
	if err != nil {
		return err
	}
	g.svc = svc
	g.n = s.next
	s.next++
	s.gen.Store(g)
	s.cache.dropBefore(g.n)
	s.state.Store(&readiness{ready: true, reason: fmt.Sprintf("generation %d", g.n), stamp: g.stamp})
	s.m.ready.Set(1)
	s.m.generation.Set(float64(g.n))
	s.m.reloads.WithLabelValues("ok").Inc()
	for _, w := range g.warnings {
		s.cfg.Logger.Warn("trust policy warning", "warning", textsafe.Escape(w))
	}
	s.cfg.Logger.Info("loaded", "generation", g.n, "policy", textsafe.Escape(g.from.policy), "truststore", textsafe.Escape(g.from.store))
	return nil
}

// Ready reports whether the current policy and trust stores loaded and
// linted clean, and why not.
func (s *Server) Ready() (bool, string) {
	st := s.state.Load()
	return st.ready, st.reason
}

// Generation is the number of the generation in use (0: none).
func (s *Server) Generation() uint64 {
	if g := s.gen.Load(); g != nil {
		return g.n
	}
	return 0
}

// Changed reports whether the files differ from those of the last load
// attempt (the ..data targets, names, sizes, times and inodes).
func (s *Server) Changed() bool {
	r, err := resolve(s.cfg.Paths)
	if err != nil {
		return s.state.Load().stamp != "" // a link that broke is a change
	}
	return stampOf(r) != s.state.Load().stamp
}

// Watch reloads whenever Changed reports a change, checking every
// Config.ReloadInterval, until ctx ends.
func (s *Server) Watch(ctx context.Context) {
	t := time.NewTicker(s.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.Changed() {
				_ = s.Reload() // logged and reported by readiness and metrics
			}
		}
	}
}
