package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestSamplerKeepsFirstThenOnePerWindow(t *testing.T) {
	clk := newClock()
	start := clk.Now()
	s := NewSampler(time.Minute, 100, clk.Now)
	if got := s.Sample("alice", nil); !got.Keep || got.Held != 0 || !got.Since.IsZero() {
		t.Fatalf("first event = %+v, want kept with nothing held", got)
	}
	for i := range 5 {
		clk.Add(time.Second)
		got := s.Sample("alice", nil)
		if got.Keep || got.Held != i+1 || !got.Since.Equal(start.Add(time.Second)) {
			t.Fatalf("event %d within the window = %+v, want held (%d so far, since the first held)", i+2, got, i+1)
		}
	}
	// Another key has its own first event.
	if got := s.Sample("bob", nil); !got.Keep || got.Held != 0 {
		t.Errorf("bob's first event = %+v, want kept", got)
	}
	// A window after the last kept event, the next one is kept and carries the five held.
	clk.Add(time.Minute - 5*time.Second)
	got := s.Sample("alice", nil)
	if !got.Keep || got.Held != 5 || !got.Since.Equal(start.Add(time.Second)) {
		t.Fatalf("event a window later = %+v, want kept carrying 5 held since %v", got, start.Add(time.Second))
	}
	// The count starts again from there.
	clk.Add(time.Second)
	if got := s.Sample("alice", nil); got.Keep || got.Held != 1 {
		t.Errorf("event after the carried one = %+v, want held, 1 so far", got)
	}
	clk.Add(time.Minute)
	if got := s.Sample("alice", nil); !got.Keep || got.Held != 1 {
		t.Errorf("next window = %+v, want kept carrying 1", got)
	}
}

func TestSamplerAllowIsASecondBudget(t *testing.T) {
	clk := newClock()
	s := NewSampler(time.Minute, 100, clk.Now)
	asked := 0
	no := func() bool { asked++; return false }
	if got := s.Sample("alice", no); got.Keep || got.Held != 1 {
		t.Fatalf("first event refused by allow = %+v, want held and counted", got)
	}
	if got := s.Sample("alice", func() bool { return true }); !got.Keep || got.Held != 1 {
		t.Fatalf("next event allowed = %+v, want kept carrying the refused one", got)
	}
	// Within the window allow is not asked: the window already holds the event back.
	if got := s.Sample("alice", no); got.Keep || asked != 1 {
		t.Errorf("event within the window = %+v with allow asked %d times, want held without asking again", got, asked)
	}
}

func TestSamplerBoundedKeys(t *testing.T) {
	clk := newClock()
	s := NewSampler(time.Minute, 10, clk.Now)
	s.Sample("hot", nil)
	for i := range 100 {
		if i%5 == 0 {
			// "hot" stays recently used, so it is never the one dropped.
			if got := s.Sample("hot", nil); got.Keep {
				t.Fatal("hot key kept twice in a window: it was dropped")
			}
		}
		s.Sample(fmt.Sprintf("domain%d.example", i), nil)
	}
	if got := s.Len(); got > 10 {
		t.Errorf("%d keys kept, want at most 10", got)
	}
	// The oldest key was dropped: its next event counts as a first one.
	if got := s.Sample("domain0.example", nil); !got.Keep {
		t.Error("a dropped key's event held back")
	}
}

// TestNewSamplerDefaults: a window or maxKeys that is not positive gets the documented default,
// one minute and 10,000 keys.
func TestNewSamplerDefaults(t *testing.T) {
	tests := []struct {
		name    string
		window  time.Duration
		maxKeys int
	}{
		{"zero", 0, 0},
		{"negative", -time.Second, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			s := NewSampler(tt.window, tt.maxKeys, clk.Now)
			if got := s.Sample("alice", nil); !got.Keep {
				t.Fatalf("first event = %+v, want kept", got)
			}
			clk.Add(time.Minute - time.Second)
			if got := s.Sample("alice", nil); got.Keep {
				t.Fatalf("event 59s later = %+v, want held", got)
			}
			clk.Add(time.Second)
			if got := s.Sample("alice", nil); !got.Keep || got.Held != 1 {
				t.Fatalf("event a minute later = %+v, want kept carrying 1", got)
			}
			for i := range 10000 {
				s.Sample(fmt.Sprintf("domain%d.example", i), nil)
			}
			if got, want := s.Len(), 10000; got != want {
				t.Errorf("%d keys kept, want %d", got, want)
			}
		})
	}
}

// TestNewSamplerNilClock: a Sampler made without a clock reads the real time.
func TestNewSamplerNilClock(t *testing.T) {
	s := NewSampler(time.Minute, 10, nil)
	if got := s.Sample("alice", nil); !got.Keep {
		t.Fatalf("first event = %+v, want kept", got)
	}
	got := s.Sample("alice", nil)
	if got.Keep || got.Held != 1 || got.Since.IsZero() {
		t.Errorf("second event = %+v, want held since now", got)
	}
}

// TestSamplerConcurrent: every event is either kept or counted, whatever the interleaving
// (run with -race).
func TestSamplerConcurrent(t *testing.T) {
	s := NewSampler(time.Minute, 100, newClock().Now)
	const workers, each = 8, 200
	var mu sync.Mutex
	kept, lastHeld := 0, 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				got := s.Sample("alice", nil)
				mu.Lock()
				if got.Keep {
					kept++
				}
				lastHeld = max(lastHeld, got.Held)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if kept != 1 || lastHeld != workers*each-1 {
		t.Errorf("kept %d, held %d of %d events; want 1 kept and the rest counted", kept, lastHeld, workers*each)
	}
}
