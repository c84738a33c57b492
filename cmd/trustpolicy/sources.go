package main

import (
	"context"
	"sync"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/bulk"
)

// sources opens where each reference is verified: one registry client and
// one service for every registry reference (their connections, tokens and
// the engine's memo shared), and one client and service per OCI layout,
// opened once.
type sources struct {
	engine *trustpolicy.Engine
	now    func() time.Time
	opts   registry.Options
	scope  string
	client *registry.Client
	svc    *service.Service

	mu      sync.Mutex
	layouts map[string]*layoutEntry
}

type layoutEntry struct {
	once   sync.Once
	client *registry.Client
	svc    *service.Service
	err    error
}

// newSources returns the sources of one run; scope is --scope, the trust
// policy scope of OCI layouts.
func newSources(engine *trustpolicy.Engine, e env, opts registry.Options, scope string) (*sources, error) {
	client, err := registry.New(opts)
	if err != nil {
		return nil, err
	}
	svc, err := service.New(service.Config{Engine: engine, Registry: client, Now: e.now})
	if err != nil {
		return nil, err
	}
	return &sources{engine: engine, now: e.now, opts: opts, scope: scope, client: client, svc: svc, layouts: map[string]*layoutEntry{}}, nil
}

// open returns the Source of ref.
func (s *sources) open(ctx context.Context, ref string) (bulk.Source, error) {
	if !registry.IsLayoutReference(ref) {
		return bulk.Source{Service: s.svc, Client: s.client, Reference: ref}, nil
	}
	lr, err := registry.ParseLayoutReference(ref)
	if err != nil {
		return bulk.Source{}, err
	}
	if s.scope == "" {
		return bulk.Source{}, errNoScope
	}
	l, err := s.layout(ctx, lr.Path)
	if err != nil {
		return bulk.Source{}, err
	}
	return bulk.Source{Service: l.svc, Client: l.client, Reference: lr.Reference(s.scope)}, nil
}

// layout opens the layout at path once.
func (s *sources) layout(ctx context.Context, path string) (*layoutEntry, error) {
	s.mu.Lock()
	l := s.layouts[path]
	if l == nil {
		l = &layoutEntry{}
		s.layouts[path] = l
	}
	s.mu.Unlock()
	l.once.Do(func() {
		l.client, l.err = registry.NewLayout(ctx, path, s.opts)
		if l.err == nil {
			l.svc, l.err = service.New(service.Config{Engine: s.engine, Registry: l.client, Now: s.now})
		}
	})
	return l, l.err
}

// tags lists the tags of an --all-tags argument: REGISTRY/REPO, or
// oci-layout:PATH.
func (s *sources) tags(ctx context.Context, repo, scope string) ([]string, error) {
	if registry.IsLayoutReference(repo) {
		lr, err := registry.ParseLayoutReference(repo)
		if err != nil {
			return nil, cli.Usagef("--all-tags %s: %w", repo, err)
		}
		if lr.Tag != "" || lr.Digest != "" {
			return nil, cli.Usagef("--all-tags %s: name the layout alone, oci-layout:PATH", repo)
		}
		if scope == "" {
			return nil, cli.Usagef("--all-tags %s: %w", repo, errNoScope)
		}
		l, err := s.layout(ctx, lr.Path)
		if err != nil {
			return nil, cli.Usagef("--all-tags %s: %w", repo, err)
		}
		return l.client.Tags(ctx, "")
	}
	if err := checkRepository(repo); err != nil {
		return nil, cli.Usagef("--all-tags: %w", err)
	}
	return s.client.Tags(ctx, repo)
}
