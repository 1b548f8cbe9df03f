// Package ratelimit keeps, in this instance's memory and with a bound on how many keys it
// remembers, one token bucket per key (Limiter: a user, a client IP) and the state of a stream
// of repeated events per key (Sampler: a user's refusals of one kind).
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter limits actions per key. The number of buckets is bounded: the least recently used one
// is dropped first, which at worst gives that key a fresh budget.
type Limiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets *lru[*rate.Limiter]
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
		now:     now,
		buckets: newLRU[*rate.Limiter](maxKeys),
	}
}

// Allow takes one action from key's budget. When the budget is spent it returns false and how
// long until the next action is allowed.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets.get(key)
	if !ok {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets.add(key, b)
	}
	now := l.now()
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Peek reports what Allow would answer for key now, and takes nothing from its budget: a request
// that is answered as another would be (a HEAD as its GET) but does not do that one's work.
func (l *Limiter) Peek(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets.get(key)
	if !ok {
		return true, 0 // a fresh bucket is full
	}
	tokens := b.TokensAt(l.now())
	if tokens >= 1 {
		return true, 0
	}
	// As long as Allow's reservation would wait for the missing part of a token.
	return false, time.Duration((1 - tokens) / float64(l.limit) * float64(time.Second))
}

// Len reports how many buckets are kept (for tests and metrics).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buckets.len()
}
