package revocation

import (
	"container/list"
	"sync"
)

// lru is a small mutex-guarded least-recently-used map bounded by the sum
// of its items' costs. An item costlier than the bound is not kept.
type lru[V any] struct {
	mu    sync.Mutex
	max   int64
	used  int64
	order *list.List // front = most recent; values are *lruItem[V]
	items map[string]*list.Element
}

type lruItem[V any] struct {
	key  string
	val  V
	cost int64
}

func newLRU[V any](max int64) *lru[V] {
	return &lru[V]{max: max, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lru[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*lruItem[V]).val, true
	}
	var zero V
	return zero, false
}

func (c *lru[V]) put(key string, val V, cost int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(key)
	if cost > c.max {
		return
	}
	c.items[key] = c.order.PushFront(&lruItem[V]{key: key, val: val, cost: cost})
	c.used += cost
	for c.used > c.max {
		c.removeLocked(c.order.Back().Value.(*lruItem[V]).key)
	}
}

func (c *lru[V]) removeLocked(key string) {
	if el, ok := c.items[key]; ok {
		c.used -= el.Value.(*lruItem[V]).cost
		c.order.Remove(el)
		delete(c.items, key)
	}
}
