package sandbox

import (
	"fmt"
	"regexp"
	"testing"
)

func TestGeneratePassword(t *testing.T) {
	shape := regexp.MustCompile(`^[A-Za-z0-9]{16,20}$`)
	seen := make(map[string]bool)
	lengths := make(map[int]bool)
	for range 500 {
		p := generatePassword()
		if !shape.MatchString(p) {
			t.Fatalf("password %q: want 16-20 letters and digits", p)
		}
		if !regexp.MustCompile(`[A-Z]`).MatchString(p) || !regexp.MustCompile(`[a-z]`).MatchString(p) || !regexp.MustCompile(`[0-9]`).MatchString(p) {
			t.Fatalf("password %q lacks an upper, lower or digit", p)
		}
		if seen[p] {
			t.Fatalf("password %q generated twice", p)
		}
		seen[p] = true
		lengths[len(p)] = true
	}
	if got, want := len(lengths), 5; got != want {
		t.Fatalf("saw %d distinct lengths, want %d", got, want)
	}
}

func TestWindow(t *testing.T) {
	tests := []struct{ total, skip, limit, lo, hi int }{
		{10, 0, 100, 0, 10},
		{10, 5, 2, 5, 7},
		{10, 10, 5, 10, 10},
		{10, 1 << 62, 1000, 10, 10},
		{0, 0, 100, 0, 0},
	}
	for _, tt := range tests {
		lo, hi := window(tt.total, tt.skip, tt.limit)
		if lo != tt.lo || hi != tt.hi {
			t.Errorf("window(%d, %d, %d) = %d, %d, want %d, %d", tt.total, tt.skip, tt.limit, lo, hi, tt.lo, tt.hi)
		}
	}
}

// TestCallsKeepsTheLastTenThousand checks that Calls returns at most maxCalls calls, the newest,
// although the log is trimmed only when it holds twice as many.
func TestCallsKeepsTheLastTenThousand(t *testing.T) {
	s := New("k")
	const n = maxCalls + maxCalls/2
	for i := range n {
		s.record(Call{Path: fmt.Sprint("/", i)})
	}
	calls := s.Calls()
	if len(calls) != maxCalls {
		t.Fatalf("Calls() has %d calls after %d requests, want the last %d", len(calls), n, maxCalls)
	}
	if first, want := calls[0].Path, fmt.Sprint("/", n-maxCalls); first != want {
		t.Errorf("oldest call = %s, want %s", first, want)
	}
	if last, want := calls[len(calls)-1].Path, fmt.Sprint("/", n-1); last != want {
		t.Errorf("newest call = %s, want %s", last, want)
	}
}
