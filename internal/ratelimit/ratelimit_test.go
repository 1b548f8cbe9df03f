package ratelimit

import (
	"fmt"
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

func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }
