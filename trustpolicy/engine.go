package trustpolicy

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Config is what an Engine is built from. Everything in it has already been
// read from disk; the engine itself opens no file.
type Config struct {
	// Policy is the compiled trust policy. Required.
	Policy *Policy
	// Stores holds the certificates (or load errors) of every store the
	// policy names. Required.
	Stores *truststore.Set
	// Revocation checks signing and timestamping chains. When nil, a
	// revocation check whose action is not skip fails with notation's
	// "revocation validator cannot be nil" error, and timestamp
	// verification fails, because notation always checks the TSA chain.
	Revocation revocation.Checker
	// MemoEntries bounds the chain-validation memo (default 4096 chains;
	// negative disables memoization).
	MemoEntries int
}

// Input is one signature to verify. Evaluate reads nothing but Input, the
// Engine's Config, and ctx (which only the revocation checker uses).
type Input struct {
	// Reference is REGISTRY/REPOSITORY@DIGEST; it selects the policy.
	Reference string
	// Descriptor is the artifact's manifest descriptor; the signed payload
	// must name exactly its media type, digest and size.
	Descriptor ocispec.Descriptor
	// Envelope and MediaType are the signature envelope and its media type
	// (application/jose+json or application/cose).
	Envelope  []byte
	MediaType string
	// UserMetadata must all be present in the signed annotations.
	UserMetadata map[string]string
	// Now is the verification time. Required: the engine never reads the
	// clock.
	Now time.Time
}

// Engine verifies Notation signatures against one trust policy and one set of
// trust stores. It is immutable and safe for concurrent use; its only state is
// a memo of chain facts that do not depend on time (certificate chain rules,
// which store holds which certificate, identity matches), keyed by the exact
// chain bytes. Time validity, expiry, timestamps and revocation are decided on
// every call.
type Engine struct {
	policy *Policy
	stores *truststore.Set
	rev    revocation.Checker
	memo   *memo

	anchorsMu sync.Mutex
	anchors   map[anchorKey]anchorSet
}

type anchorKey struct {
	rule int
	typ  truststore.Type
}

type anchorSet struct {
	certs []*x509.Certificate
	// names[i] is the store that holds certs[i].
	names []string
	err   error
}

// New builds an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Policy == nil {
		return nil, errors.New("trustpolicy: config has no policy")
	}
	if cfg.Stores == nil {
		return nil, errors.New("trustpolicy: config has no trust stores")
	}
	n := cfg.MemoEntries
	if n == 0 {
		n = 4096
	}
	return &Engine{
		policy:  cfg.Policy,
		stores:  cfg.Stores,
		rev:     cfg.Revocation,
		memo:    newMemo(n),
		anchors: make(map[anchorKey]anchorSet),
	}, nil
}

// Policy returns the engine's compiled policy.
func (e *Engine) Policy() *Policy { return e.policy }

// trusted returns the certificates of the rule's stores of type typ, in the
// order notation loads them (policy order, duplicates once), stopping at the
// first store that failed to load.
func (e *Engine) trusted(rule *Rule, typ truststore.Type) anchorSet {
	k := anchorKey{rule.Index, typ}
	e.anchorsMu.Lock()
	a, ok := e.anchors[k]
	e.anchorsMu.Unlock()
	if ok {
		return a
	}
	for _, ref := range rule.Stores {
		if ref.Type != typ {
			continue
		}
		certs, err := e.stores.Certificates(ref)
		if err != nil {
			a = anchorSet{err: err}
			break
		}
		for _, c := range certs {
			a.certs = append(a.certs, c)
			a.names = append(a.names, ref.String())
		}
	}
	e.anchorsMu.Lock()
	e.anchors[k] = a
	e.anchorsMu.Unlock()
	return a
}

// Select returns the statement that applies to a reference and how it
// matched (the Result's Policy), before any signature is fetched: notation
// decides "skip" this way, without touching the registry. Its errors are
// Policy.Select's (wrapping ErrInvalidReference or ErrNoApplicablePolicy).
func (e *Engine) Select(reference string) (*Rule, *PolicyMatch, error) {
	rule, err := e.policy.Select(reference)
	if err != nil {
		return nil, nil, err
	}
	return rule, policyMatch(rule, reference), nil
}

func policyMatch(rule *Rule, reference string) *PolicyMatch {
	m := &PolicyMatch{
		Name:            rule.Name,
		Index:           rule.Index,
		Level:           rule.Level,
		Actions:         map[ValidationType]Action{},
		VerifyTimestamp: rule.VerifyTimestamp,
	}
	if rule.Overridden {
		m.Level = rule.Level + " (with overrides)"
	}
	for _, t := range checkOrder {
		m.Actions[t] = rule.Action(t)
	}
	repo := repositoryOf(reference)
	if rule.Wildcard {
		m.Scope = "*"
		m.Why = fmt.Sprintf("no statement lists %q in registryScopes, so the wildcard statement %q applies", repo, rule.Name)
	} else if host := registryOf(repo); !slices.Contains(rule.Statement.RegistryScopes, repo) && slices.Contains(rule.Statement.RegistryScopes, host) {
		m.Scope = host
		m.Why = fmt.Sprintf("no statement lists %q in registryScopes; statement %q lists its registry %q (a registry-level scope)", repo, rule.Name, host)
	} else {
		m.Scope = repo
		m.Why = fmt.Sprintf("statement %q lists %q in registryScopes", rule.Name, repo)
	}
	return m
}

// repositoryOf returns the part of REGISTRY/REPO@DIGEST before the last '@'.
func repositoryOf(reference string) string {
	for i := len(reference) - 1; i >= 0; i-- {
		if reference[i] == '@' {
			return reference[:i]
		}
	}
	return reference
}

// checkOrder is the order of the five checks in a Result.
var checkOrder = [...]ValidationType{TypeIntegrity, TypeAuthenticity, TypeExpiry, TypeAuthenticTimestamp, TypeRevocation}
