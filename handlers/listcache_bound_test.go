package handlers

import (
	"context"
	"testing"
)

// TestListCacheBoundedByLogins: the logins held in cached pages and whole-domain lists stay
// under MaxCredentials however many distinct pages are viewed, and the count the cache keeps
// matches what it holds; a list longer than the bound on its own is not kept.
func TestListCacheBoundedByLogins(t *testing.T) {
	f := &fakeLister{logins: map[string]int{"a.example": 100000, "b.example": 3000}}
	clk := newClock()
	c := NewListCache(f, ListCacheOptions{MaxItems: 1000, MaxCredentials: 1000, Now: clk.Now})
	ctx := context.Background()
	for i := range 50 {
		if _, err := c.Page(ctx, "a.example", i*100, 100); err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		held := 0
		for _, e := range c.pages {
			held += len(e.list.Items)
		}
		for _, e := range c.alls {
			held += len(e.items)
		}
		creds := c.creds
		c.mu.Unlock()
		if held > 1000 {
			t.Fatalf("after %d pages: %d logins cached, want at most 1000", i+1, held)
		}
		if held != creds {
			t.Fatalf("after %d pages: %d logins cached but counted %d", i+1, held, creds)
		}
	}
	if _, err := c.All(ctx, "b.example"); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	_, kept := c.alls["b.example"]
	c.mu.Unlock()
	if kept {
		t.Error("a 3,000-login domain was kept in a cache bounded at 1,000 logins")
	}
	// The latest page is still served from the cache.
	before := len(f.calls)
	if _, err := c.Page(ctx, "a.example", 49*100, 100); err != nil {
		t.Fatal(err)
	}
	if got := len(f.calls); got != before {
		t.Errorf("the latest page went upstream again (%d calls, want %d)", got, before)
	}
	c.Invalidate("a.example")
	c.mu.Lock()
	creds := c.creds
	c.mu.Unlock()
	if creds != 0 {
		t.Errorf("after Invalidate: %d logins counted, want 0", creds)
	}
}
