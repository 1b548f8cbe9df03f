package ratelimit

import (
	"sync"
	"time"
)

// Sampler thins out a stream of repeated events per key: it lets through the first event of a
// key, then at most one per window, and counts the events it holds back in between, so that the
// next event let through can say how many it stands for. It keeps at most maxKeys keys in this
// instance's memory, dropping the least recently used one first: a dropped key's next event is
// let through as a first one, and the count it held is lost. It is safe for concurrent use.
type Sampler struct {
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	keys *lru[*sampled]
}

type sampled struct {
	kept  time.Time // when the last event was let through; zero: none yet
	held  int       // events held back since then
	since time.Time // when the first of them came
}

// Sample is the Sampler's answer for one event.
type Sample struct {
	// Keep says whether to record the event.
	Keep bool
	// Held is how many events of the key were held back before this one, since the last one
	// let through (or since the key was first seen); Since is when the first of them came.
	// When Keep is false, Held counts this event too.
	Held  int
	Since time.Time
}

// NewSampler lets through one event per key per window (one minute when not positive), keeps at
// most maxKeys keys (10,000 when not positive) and reads time from now (time.Now when nil).
func NewSampler(window time.Duration, maxKeys int, now func() time.Time) *Sampler {
	if window <= 0 {
		window = time.Minute
	}
	if maxKeys <= 0 {
		maxKeys = 10000
	}
	if now == nil {
		now = time.Now
	}
	return &Sampler{window: window, now: now, keys: newLRU[*sampled](maxKeys)}
}

// Sample notes one event of key. The event is let through when it is the key's first, or the
// first a window after the last one let through, and allow (when not nil) agrees: allow is a
// second budget, such as a Limiter shared by many keys, asked only for an event the window
// would let through, under the Sampler's lock (so it must not call back into the Sampler). An
// event allow refuses is held back and counted like any other.
func (s *Sampler) Sample(key string, allow func() bool) Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	st, ok := s.keys.get(key)
	if !ok {
		st = &sampled{}
		s.keys.add(key, st)
	}
	if (st.kept.IsZero() || now.Sub(st.kept) >= s.window) && (allow == nil || allow()) {
		out := Sample{Keep: true, Held: st.held, Since: st.since}
		*st = sampled{kept: now}
		return out
	}
	if st.held == 0 {
		st.since = now
	}
	st.held++
	return Sample{Held: st.held, Since: st.since}
}

// Len reports how many keys are kept (for tests).
func (s *Sampler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys.len()
}
