package ratelimit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/internal/testclock"
)

func TestSpendsAndRefills(t *testing.T) {
	clk := newClock()
	l := New(3, 100, clk.Now)
	for i := range 3 {
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("action %d refused within the budget", i+1)
		}
	}
	ok, wait := l.Allow("alice")
	if ok {
		t.Fatal("fourth action in a minute allowed")
	}
	if got, want := wait, 20*time.Second; got != want {
		t.Errorf("retry after %v, want %v", got, want)
	}
	// Another user has their own budget.
	if ok, _ := l.Allow("bob"); !ok {
		t.Error("bob refused because of alice")
	}
	// A refused attempt spends nothing: after the wait one more is allowed, then refused again.
	clk.Add(20 * time.Second)
	if ok, _ := l.Allow("alice"); !ok {
		t.Error("refused after waiting")
	}
	if ok, _ := l.Allow("alice"); ok {
		t.Error("allowed twice after one token came back")
	}
	clk.Add(time.Minute)
	for i := range 3 {
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("action %d refused after a full minute", i+1)
		}
	}
}

// TestPeekTakesNothing: Peek answers as Allow would, however often it is asked, and never
// spends the budget.
func TestPeekTakesNothing(t *testing.T) {
	clk := newClock()
	l := New(2, 100, clk.Now)
	for range 5 {
		if ok, wait := l.Peek("alice"); !ok || wait != 0 {
			t.Fatalf("Peek of a fresh budget = %v, %v, want allowed", ok, wait)
		}
	}
	for i := range 2 {
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("action %d refused after the peeks: they spent the budget", i+1)
		}
	}
	for range 3 {
		ok, wait := l.Peek("alice")
		if ok {
			t.Fatal("Peek of a spent budget allowed")
		}
		if got, want := wait, 30*time.Second; got != want {
			t.Errorf("Peek's wait = %v, want %v (Allow's)", got, want)
		}
	}
	if _, wait := l.Allow("alice"); wait != 30*time.Second {
		t.Errorf("Allow's wait after the peeks = %v, want 30s", wait)
	}
	clk.Add(10 * time.Second)
	if _, wait := l.Peek("alice"); wait != 20*time.Second {
		t.Errorf("Peek's wait 10s later = %v, want 20s", wait)
	}
	clk.Add(20 * time.Second)
	if ok, _ := l.Peek("alice"); !ok {
		t.Error("Peek refused once a token came back")
	}
	if ok, _ := l.Allow("alice"); !ok {
		t.Error("Allow refused once a token came back, after a peek")
	}
}

func TestBoundedKeys(t *testing.T) {
	clk := newClock()
	l := New(1, 10, clk.Now)
	if ok, _ := l.Allow("hot"); !ok {
		t.Fatal("first action refused")
	}
	for i := range 50 {
		if i%5 == 0 {
			// "hot" stays recently used, so it is never the one dropped.
			if ok, _ := l.Allow("hot"); ok {
				t.Fatal("hot user allowed past the budget")
			}
		}
		l.Allow(fmt.Sprintf("user%d", i))
	}
	if got := l.Len(); got > 10 {
		t.Errorf("%d buckets kept, want at most 10", got)
	}
}

// TestNewDefaults: a perMinute or maxKeys that is not positive gets the documented default, 30
// actions a minute (one back every 2s) and 10,000 buckets.
func TestNewDefaults(t *testing.T) {
	tests := []struct {
		name               string
		perMinute, maxKeys int
	}{
		{"zero", 0, 0},
		{"negative", -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(tt.perMinute, tt.maxKeys, newClock().Now)
			for i := range 30 {
				if ok, _ := l.Allow("alice"); !ok {
					t.Fatalf("action %d refused within the default budget of 30", i+1)
				}
			}
			ok, wait := l.Allow("alice")
			if ok {
				t.Fatal("action 31 allowed within a minute")
			}
			if got, want := wait, 2*time.Second; got != want {
				t.Errorf("retry after %v, want %v", got, want)
			}
			for i := range 10000 {
				l.Allow(fmt.Sprintf("user%d", i))
			}
			if got, want := l.Len(), 10000; got != want {
				t.Errorf("%d buckets kept, want %d", got, want)
			}
		})
	}
}

// TestNewNilClock: a Limiter made without a clock reads the real time.
func TestNewNilClock(t *testing.T) {
	l := New(1, 10, nil)
	if ok, _ := l.Allow("alice"); !ok {
		t.Fatal("first action refused")
	}
	ok, wait := l.Allow("alice")
	if ok {
		t.Fatal("second action in a minute allowed")
	}
	if wait <= 0 || wait > time.Minute {
		t.Errorf("retry after %v, want a wait of at most a minute", wait)
	}
}

// TestBoundedKeysDropsLeastRecentlyUsed: the Limiter keeps exactly maxKeys buckets, and a new key
// drops the least recently used one, whose key then starts afresh; the others keep their spent
// budgets.
func TestBoundedKeysDropsLeastRecentlyUsed(t *testing.T) {
	l := New(1, 3, newClock().Now)
	for _, key := range []string{"a", "b", "c"} {
		if ok, _ := l.Allow(key); !ok {
			t.Fatalf("%s's first action refused", key)
		}
	}
	if got, want := l.Len(), 3; got != want {
		t.Fatalf("%d buckets kept, want %d", got, want)
	}
	// a is used again, so b is now the least recently used.
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("a allowed twice in a minute")
	}
	if ok, _ := l.Allow("d"); !ok {
		t.Fatal("d's first action refused")
	}
	if got, want := l.Len(), 3; got != want {
		t.Errorf("%d buckets kept after a fourth key, want %d", got, want)
	}
	for _, tt := range []struct {
		key  string
		want bool
	}{{"a", false}, {"c", false}, {"d", false}, {"b", true}} {
		if got, _ := l.Allow(tt.key); got != tt.want {
			t.Errorf("Allow(%s) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

// TestPeekKeepsNoBucket: Peek of a key without a bucket makes none, so it cannot push another
// key's spent budget out.
func TestPeekKeepsNoBucket(t *testing.T) {
	l := New(1, 1, newClock().Now)
	l.Allow("alice")
	if ok, _ := l.Peek("bob"); !ok {
		t.Fatal("Peek of a fresh key refused")
	}
	if got, want := l.Len(), 1; got != want {
		t.Errorf("%d buckets kept, want %d", got, want)
	}
	if ok, _ := l.Allow("alice"); ok {
		t.Error("alice allowed again: bob's Peek dropped her spent budget")
	}
}

// TestLimiterConcurrent: concurrent Allow, Peek and Len spend exactly one key's budget, whatever
// the interleaving (run with -race).
func TestLimiterConcurrent(t *testing.T) {
	l := New(10, 1000, newClock().Now)
	const workers, each = 8, 50
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if ok, _ := l.Allow("shared"); ok {
					allowed.Add(1)
				}
				l.Peek("shared")
				l.Allow(fmt.Sprintf("worker%d-%d", w, i))
				l.Len()
			}
		})
	}
	wg.Wait()
	if got, want := allowed.Load(), int64(10); got != want {
		t.Errorf("%d of %d actions allowed, want %d", got, workers*each, want)
	}
}

func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }
