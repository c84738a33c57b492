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

// memo is a bounded cache. When full it is emptied: simple, and the working
// set of an admission controller (a few signing chains) never fills it.
type memo struct {
	max   int
	mu    sync.RWMutex
	chain map[chainKey]*chainFacts
	rule  map[ruleFactsKey]*ruleFacts
}

func newMemo(max int) *memo {
	return &memo{max: max, chain: map[chainKey]*chainFacts{}, rule: map[ruleFactsKey]*ruleFacts{}}
}

func (m *memo) getChain(k chainKey) *chainFacts {
	if m.max < 0 {
		return nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.chain[k]
}

func (m *memo) putChain(k chainKey, f *chainFacts) {
	if m.max < 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.chain) >= m.max {
		clear(m.chain)
	}
	m.chain[k] = f
}

func (m *memo) getRule(k ruleFactsKey) *ruleFacts {
	if m.max < 0 {
		return nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.rule[k]
}

func (m *memo) putRule(k ruleFactsKey, f *ruleFacts) {
	if m.max < 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.rule) >= m.max {
		clear(m.rule)
	}
	m.rule[k] = f
}
