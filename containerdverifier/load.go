package containerdverifier

import (
	"context"
	"fmt"
	"strings"
	"time"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// UserAgent is what the verifier sends to registries.
const UserAgent = CommandName

// MaxDockerConfigBytes caps registry.dockerConfig.
const MaxDockerConfigBytes = 1 << 20

// Problem is one lint problem of the trust policy or the trust store.
type Problem struct {
	// Source is "policy" or "truststore".
	Source string `json:"source"`
	// Path is the JSON path in the policy, or the file or folder of the
	// trust store.
	Path    string `json:"path"`
	Message string `json:"message"`
}

// LintError is a trust policy or trust store that does not lint clean
// (`trustpolicy lint --strict`): every problem, in order. The verifier
// refuses every pull until they are fixed. errors.Is(err,
// ErrInvalidConfig) holds.
type LintError struct {
	File       string // the configuration file
	Policy     string
	TrustStore string
	Problems   []Problem
}

func (e *LintError) Error() string {
	return fmt.Sprintf("the trust policy %s and trust store %s named by %s do not lint clean: %d problem(s), the first: %s",
		textsafe.Escape(e.Policy), textsafe.Escape(e.TrustStore), textsafe.Escape(e.File), len(e.Problems), e.Problems[0].line())
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *LintError) Is(target error) bool { return target == ErrInvalidConfig }

// Fix is the edit and the command that checks it.
func (e *LintError) Fix() string {
	return fmt.Sprintf("edit %s or the trust store %s as each problem says, then run: %s check --config %s",
		e.Policy, e.TrustStore, CommandName, shellQuote(e.File))
}

// line is the problem on one line, escaped.
func (p Problem) line() string {
	if p.Path == "" {
		return p.Source + ": " + textsafe.Escape(p.Message)
	}
	return p.Source + " " + textsafe.Escape(p.Path) + ": " + textsafe.Escape(p.Message)
}

// Options are the injected parts of [Load].
type Options struct {
	// Now is the verification time. Default time.Now.
	Now func() time.Time
	// OnCacheError receives revocation cache problems, which never fail a
	// verification (stderr, for debugging).
	OnCacheError func(error)
}

// Verifier is a loaded configuration: the engine over the linted trust
// policy and trust store, with the revocation checker over the cache.
type Verifier struct {
	file   string
	cfg    *Config
	engine *trustpolicy.Engine
	now    func() time.Time
}

// Load reads the configuration at file and everything it names, and
// refuses anything that is not clean: the configuration file
// (*ConfigError, *FileTrustError), the trust policy and trust store
// (*FileTrustError for their files, *LintError with every lint problem,
// key warnings included), and the revocation cache folder (a
// *revocation.CacheTrustError, wrapped). Every error wraps
// ErrInvalidConfig.
func Load(file string, opts Options) (*Verifier, error) {
	cfg, err := LoadConfig(file)
	if err != nil {
		return nil, err
	}
	data, err := readTrusted(cfg.TrustPolicy, "trust policy", trustpolicy.MaxPolicyFileSize)
	if err != nil {
		return nil, err
	}
	doc, problems := lint(cfg, data)
	if len(problems) > 0 {
		return nil, &LintError{File: file, Policy: cfg.TrustPolicy, TrustStore: cfg.TrustStore, Problems: problems}
	}
	policy, err := trustpolicy.Compile(doc)
	if err != nil { // lint found nothing, so Compile accepts it
		return nil, fmt.Errorf("%w: trust policy %s: %w", ErrInvalidConfig, textsafe.Escape(cfg.TrustPolicy), err)
	}
	if err := checkTrustStore(cfg.TrustStore, policy.StoreRefs()); err != nil {
		return nil, err
	}
	if d := cfg.Registry.DockerConfig; d != "" {
		// It holds credentials; oras reads it again on first use.
		if _, err := readTrusted(d, "docker config (registry.dockerConfig)", MaxDockerConfigBytes); err != nil {
			return nil, err
		}
	}
	rev, err := revocation.NewFromConfig(cfg.revocationConfig(), opts.OnCacheError)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: revocation.cacheDir: %w", ErrInvalidConfig, textsafe.Escape(file), err)
	}
	stores := truststore.Load(cfg.TrustStore, policy.StoreRefs())
	engine, err := trustpolicy.New(trustpolicy.Config{Policy: policy, Stores: stores, Revocation: rev, MemoEntries: -1})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Verifier{file: file, cfg: cfg, engine: engine, now: now}, nil
}

// lint is `trustpolicy lint --strict` on the policy bytes and the trust
// store: key warnings count, since a key notation ignores is a policy that
// does not say what it looks like it says.
func lint(cfg *Config, data []byte) (*trustpolicy.Document, []Problem) {
	var out []Problem
	doc, err := trustpolicy.ParseDocument(data)
	if err != nil {
		return nil, []Problem{{Source: "policy", Message: err.Error()}}
	}
	keys, err := trustpolicy.LintKeys(data)
	if err != nil {
		out = append(out, Problem{Source: "policy", Message: err.Error()})
	}
	for _, k := range keys {
		out = append(out, Problem{Source: "policy", Path: k.Path, Message: k.Msg})
	}
	for _, p := range trustpolicy.Lint(doc) {
		out = append(out, Problem{Source: "policy", Path: p.Path, Message: strings.TrimPrefix(p.Error(), p.Path+": ")})
	}
	for _, p := range truststore.Lint(cfg.TrustStore, referencedStores(doc)) {
		out = append(out, Problem{Source: "truststore", Path: p.Path, Message: p.Error()})
	}
	return doc, out
}

// referencedStores lists the well-formed store references of the
// document, also when other parts of it are invalid.
func referencedStores(doc *trustpolicy.Document) []truststore.Ref {
	var refs []truststore.Ref
	seen := map[truststore.Ref]bool{}
	for _, st := range doc.TrustPolicies {
		for _, s := range st.TrustStores {
			if r, err := truststore.ParseRef(s); err == nil && !seen[r] {
				seen[r] = true
				refs = append(refs, r)
			}
		}
	}
	return refs
}

// Config returns the loaded configuration.
func (v *Verifier) Config() Config { return *v.cfg }

// File returns the configuration file.
func (v *Verifier) File() string { return v.file }

// Verify verifies ref (REGISTRY/REPOSITORY@DIGEST) from its registry with
// trustpolicy/service, the flow every gate shares. Plain HTTP is used only
// when the registry is listed in registry.plainHTTP; credentials come only
// from registry.dockerConfig.
func (v *Verifier) Verify(ctx context.Context, ref string) (*trustpolicy.Report, error) {
	r, err := registry.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	host, _, _ := strings.Cut(r.Repository, "/")
	client, err := registry.New(v.registryOptions(host))
	if err != nil {
		return nil, err
	}
	svc, err := service.New(service.Config{Engine: v.engine, Registry: client, Now: v.now})
	if err != nil {
		return nil, err
	}
	return svc.Verify(ctx, ref, service.Options{})
}

// registryOptions are the registry client's options for host.
func (v *Verifier) registryOptions(host string) registry.Options {
	cred := registry.DockerCredentials(v.cfg.Registry.DockerConfig)
	if v.cfg.Registry.DockerConfig == "" {
		cred = func(context.Context, string) (auth.Credential, error) { return auth.EmptyCredential, nil }
	}
	return registry.Options{
		PlainHTTP:     v.cfg.plainHTTP(host),
		Credentials:   cred,
		UserAgent:     UserAgent,
		PlainHTTPHint: fmt.Sprintf("list %q in registry.plainHTTP of %s (loopback registries only)", host, v.file),
	}
}
