package trustpolicy

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"

	"github.com/notaryproject/notation-core-go/signature"
)

// chainKey identifies a certificate chain by the SHA-256 of its exact bytes
// (each certificate length-prefixed, so no two chains share a key).
type chainKey [sha256.Size]byte

func keyOf(chain []*x509.Certificate) chainKey {
	h := sha256.New()
	var n [8]byte
	for _, c := range chain {
		binary.BigEndian.PutUint64(n[:], uint64(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var k chainKey
	h.Sum(k[:0])
	return k
}

// chainFacts are the time-independent facts about a chain: they depend only
// on its bytes, so they are computed once per chain.
type chainFacts struct {
	// ruleErr is notation-core-go's code-signing chain validation (without
	// a signing time), as the envelope's integrity check runs it.
	ruleErr error
	// alg is the signature algorithm the leaf key implies; algErr when the
	// key is not one Notation allows.
	alg    signature.Algorithm
	algErr error
	// infos describes the chain for the Result (subjects, fingerprints,
	// validity); callers copy it before marking trusted certificates.
	infos []CertInfo
}

// ruleFacts are facts about a chain under one policy statement: which
// trusted certificate it contains, whether its leaf matches the identities.
type ruleFacts struct {
	trustedIndex int // index in the anchor set, -1 for none
	identityErr  error
}

type ruleFactsKey struct {
	chain  chainKey
	rule   int
	scheme signature.SigningScheme
}

// memo holds the two kinds of facts, each in a bounded map.
type memo struct {
	chain *bounded[chainKey, *chainFacts]
	rule  *bounded[ruleFactsKey, *ruleFacts]
}

// newMemo returns a memo of at most max entries of each kind; a negative max
// disables it.
func newMemo(max int) *memo {
	return &memo{chain: newBounded[chainKey, *chainFacts](max), rule: newBounded[ruleFactsKey, *ruleFacts](max)}
}

func (m *memo) getChain(k chainKey) *chainFacts      { return m.chain.get(k) }
func (m *memo) putChain(k chainKey, f *chainFacts)   { m.chain.put(k, f) }
func (m *memo) getRule(k ruleFactsKey) *ruleFacts    { return m.rule.get(k) }
func (m *memo) putRule(k ruleFactsKey, f *ruleFacts) { m.rule.put(k, f) }

// bounded is a concurrent map of at most max entries. When full it is
// emptied: simple, and the working set of an admission controller (a few
// signing chains) never fills it. The zero V is returned for a miss.
type bounded[K comparable, V any] struct {
	max int
	mu  sync.RWMutex
	m   map[K]V
}

func newBounded[K comparable, V any](max int) *bounded[K, V] {
	return &bounded[K, V]{max: max, m: map[K]V{}}
}

func (b *bounded[K, V]) get(k K) V {
	var zero V
	if b.max < 0 {
		return zero
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.m[k]
}

func (b *bounded[K, V]) put(k K, v V) {
	if b.max < 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.m) >= b.max {
		clear(b.m)
	}
	b.m[k] = v
}
