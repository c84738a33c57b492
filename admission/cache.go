package admission

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// cacheKey names one verdict: the artifact REGISTRY/REPOSITORY@DIGEST
// (the repository matters: trust policy scopes are per repository, and so
// are signatures) under one generation of policy and trust stores.
type cacheKey struct {
	ref string
	gen uint64
}

// answer is what a key gets, ready to send.
type answer struct {
	verdict string
	// value is the encoded ItemValue; err the item's error ("" when the
	// image is admitted) and errJSON the same as a JSON string (nil when
	// admitted). Both encodings are escaped for terminals.
	value   []byte
	err     string
	errJSON []byte
	// revHits and revMisses count the revocation evidence of a fresh
	// verification that came from the revocation cache, or not.
	revHits, revMisses int
}

// verdictCache holds answers until they expire, at most max of them (least
// recently used first out), and runs one verification per key at a time:
// concurrent requests for a key being verified wait for that verification
// (single flight). It is safe for concurrent use.
type verdictCache struct {
	max int

	mu      sync.Mutex
	entries map[cacheKey]*list.Element // of *cacheEntry
	lru     *list.List                 // front: most recently used
	flights map[cacheKey]*flight
}

type cacheEntry struct {
	key     cacheKey
	ans     *answer
	expires time.Time
}

type flight struct {
	done chan struct{}
	ans  *answer
}

func newVerdictCache(max int) *verdictCache {
	return &verdictCache{max: max, entries: map[cacheKey]*list.Element{}, lru: list.New(), flights: map[cacheKey]*flight{}}
}

// lookup returns the unexpired answer for key.
func (c *verdictCache) lookup(key cacheKey, now time.Time) (*answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lookupLocked(key, now)
}

func (c *verdictCache) lookupLocked(key cacheKey, now time.Time) (*answer, bool) {
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.entries, key)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e.ans, true
}

// do returns the cached answer for key (hit true), or runs compute, once
// for all concurrent callers, on its own goroutine, and caches its answer
// until the expiry it returns (not at all when that is not after now()).
// A caller whose ctx ends first gets ctx's error; the computation goes on
// and fills the cache for the next request. compute must end by itself
// (it carries its own deadline).
func (c *verdictCache) do(ctx context.Context, key cacheKey, now func() time.Time, compute func() (*answer, time.Time)) (*answer, bool, error) {
	c.mu.Lock()
	if ans, ok := c.lookupLocked(key, now()); ok {
		c.mu.Unlock()
		return ans, true, nil
	}
	f, running := c.flights[key]
	if !running {
		f = &flight{done: make(chan struct{})}
		c.flights[key] = f
	}
	c.mu.Unlock()
	if !running {
		go func() {
			ans, expires := compute()
			c.mu.Lock()
			delete(c.flights, key)
			if expires.After(now()) {
				c.storeLocked(key, ans, expires)
			}
			c.mu.Unlock()
			f.ans = ans
			close(f.done)
		}()
	}
	select {
	case <-f.done:
		return f.ans, false, nil
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

func (c *verdictCache) storeLocked(key cacheKey, ans *answer, expires time.Time) {
	if el, ok := c.entries[key]; ok {
		el.Value = &cacheEntry{key: key, ans: ans, expires: expires}
		c.lru.MoveToFront(el)
		return
	}
	c.entries[key] = c.lru.PushFront(&cacheEntry{key: key, ans: ans, expires: expires})
	for c.lru.Len() > c.max {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).key)
	}
}

// dropBefore removes the entries of generations older than gen.
func (c *verdictCache) dropBefore(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, el := range c.entries {
		if k.gen < gen {
			c.lru.Remove(el)
			delete(c.entries, k)
		}
	}
}

// len is the number of entries, expired ones included until looked up.
func (c *verdictCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
