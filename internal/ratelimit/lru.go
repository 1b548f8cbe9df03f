package ratelimit

import "container/list"

// lru is a map that keeps at most max keys, dropping the least recently used one to make room.
// Limiter and Sampler share it; it is not safe for concurrent use (they hold their own lock).
type lru[V any] struct {
	max   int
	items map[string]*list.Element
	order *list.List // front = most recently used
}

type lruItem[V any] struct {
	key string
	val V
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, items: map[string]*list.Element{}, order: list.New()}
}

// get returns key's value and marks it as the most recently used.
func (c *lru[V]) get(key string) (V, bool) {
	el, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruItem[V]).val, true
}

// add keeps v under key (which must not be kept yet) as the most recently used, then drops the
// least recently used keys beyond max.
func (c *lru[V]) add(key string, v V) {
	c.items[key] = c.order.PushFront(&lruItem[V]{key: key, val: v})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruItem[V]).key)
	}
}

func (c *lru[V]) len() int { return len(c.items) }
