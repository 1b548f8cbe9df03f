// Package ratelimit keeps one token bucket per key (a user, a client IP) in this instance's
// memory, with a bound on how many keys it remembers.
package ratelimit

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter limits actions per key. The number of buckets is bounded: the least recently used one
// is dropped first, which at worst gives that key a fresh budget.
type Limiter struct {
	limit rate.Limit
	burst int
	max   int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*list.Element
	order   *list.List // front = most recently used
}

type bucket struct {
	key string
	lim *rate.Limiter
}

// New allows perMinute actions per key per minute (with a burst of as many), keeps at most
// maxKeys buckets, and reads time from now (time.Now when nil).
func New(perMinute, maxKeys int, now func() time.Time) *Limiter {
	if perMinute <= 0 {
		perMinute = 30
	}
	if maxKeys <= 0 {
		maxKeys = 10000
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		limit:   rate.Every(time.Minute / time.Duration(perMinute)),
		burst:   perMinute,
		max:     maxKeys,
		now:     now,
		buckets: map[string]*list.Element{},
		order:   list.New(),
	}
}

// Allow takes one action from key's budget. When the budget is spent it returns false and how
// long until the next action is allowed.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if el, ok := l.buckets[key]; ok {
		l.order.MoveToFront(el)
		b = el.Value.(*bucket)
	} else {
		b = &bucket{key: key, lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = l.order.PushFront(b)
		for l.order.Len() > l.max {
			last := l.order.Back()
			l.order.Remove(last)
			delete(l.buckets, last.Value.(*bucket).key)
		}
	}
	now := l.now()
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len reports how many buckets are kept (for tests and metrics).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
