package testlog

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestBufferConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { fmt.Fprintf(&b, "line %02d\n", i) })
	}
	wg.Wait()
	lines := b.Lines()
	if len(lines) != 20 {
		t.Fatalf("%d lines, want 20: %q", len(lines), lines)
	}
	slices.Sort(lines)
	if lines[0] != "line 00" || lines[19] != "line 19" {
		t.Errorf("lines = %q", lines)
	}
	var empty Buffer
	if got := empty.Lines(); got != nil {
		t.Errorf("empty buffer lines = %q, want none", got)
	}
}
