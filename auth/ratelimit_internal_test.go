package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestIPLimiterBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	l := newIPLimiter(2, 4, clock)
	for i := range 4 {
		if ok, _ := l.allow(fmt.Sprintf("10.0.0.%d", i)); !ok {
			t.Fatalf("first attempt of ip %d refused", i)
		}
	}
	// Full and nobody idle: one of the least recently seen entries goes.
	now = now.Add(time.Second)
	l.allow("10.0.0.1")
	l.allow("10.0.0.9")
	if got, want := l.size(), 4; got != want {
		t.Fatalf("size = %d, want %d", got, want)
	}
	// Everyone idle for a minute: a new IP sweeps them all.
	now = now.Add(2 * time.Minute)
	l.allow("10.0.1.1")
	if got, want := l.size(), 1; got != want {
		t.Errorf("size after idle sweep = %d, want %d", got, want)
	}
}

func TestIPLimiterSpendsAndRefills(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newIPLimiter(2, 0, func() time.Time { return now })
	for i := range 2 {
		if ok, _ := l.allow("ip"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	ok, wait := l.allow("ip")
	if ok || wait != 30*time.Second {
		t.Fatalf("third attempt = %v, %s; want refused, 30s", ok, wait)
	}
	if ok, _ := l.allow("other"); !ok {
		t.Error("another IP shares the budget")
	}
	now = now.Add(30 * time.Second)
	if ok, _ := l.allow("ip"); !ok {
		t.Error("refused after the refill time")
	}
	if newIPLimiter(-1, 0, time.Now) != nil {
		t.Error("negative perMinute does not disable")
	}
}
