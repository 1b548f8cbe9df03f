package demoidp

import (
	"net/http"
	"testing"
	"time"
)

// TestExpiredGrantsForgotten: a code never exchanged and an access token are forgotten once
// expired, when the next one is given out, so a demo left running keeps only what can still be
// used (both stayed in memory for good).
func TestExpiredGrantsForgotten(t *testing.T) {
	p, clk := newClockProvider(t, nil)
	authorizeCode(t, p, "reviewer", nil) // never exchanged
	if rec, m := tokenFor(t, p, authorizeCode(t, p, "reviewer", nil), nil); rec.Code != http.StatusOK {
		t.Fatalf("exchange = %d %v", rec.Code, m)
	}
	clk.add(time.Hour + time.Second) // past the codes' and the access token's expiry
	code := authorizeCode(t, p, "reviewer", nil)
	p.mu.Lock()
	codes := len(p.codes)
	p.mu.Unlock()
	if codes != 1 {
		t.Errorf("%d codes kept after the first expired, want 1 (the new one)", codes)
	}
	if rec, m := tokenFor(t, p, code, nil); rec.Code != http.StatusOK {
		t.Fatalf("exchange = %d %v", rec.Code, m)
	}
	p.mu.Lock()
	tokens := len(p.tokens)
	p.mu.Unlock()
	if tokens != 1 {
		t.Errorf("%d access tokens kept after the first expired, want 1 (the new one)", tokens)
	}
}
