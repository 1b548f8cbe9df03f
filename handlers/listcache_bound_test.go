package handlers

import (
	"context"
	"fmt"
	"testing"
	"time"
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

// TestListCacheCountsDoNotCrowdOutPages: the home page counts the logins of every domain, and
// an account with more domains than MaxItems must still keep the pages being viewed. When the
// counts shared the pages' bound, each page fill cleared every other page.
func TestListCacheCountsDoNotCrowdOutPages(t *testing.T) {
	f := &fakeLister{logins: map[string]int{"a.example": 100}}
	for i := range 10 {
		f.logins[fmt.Sprintf("d%d.example", i)] = i
	}
	clk := newClock()
	c := NewListCache(f, ListCacheOptions{MaxItems: 4, Now: clk.Now})
	ctx := context.Background()
	for i := range 10 {
		if _, err := c.Count(ctx, fmt.Sprintf("d%d.example", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, skip := range []int{0, 25, 0, 25} {
		if _, err := c.Page(ctx, "a.example", skip, 25); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := len(f.calls), 10+2; got != want {
		t.Errorf("%d upstream calls, want %d: the two pages went upstream again after the counts", got, want)
	}
	// The counts are kept as well.
	if _, err := c.Count(ctx, "d3.example"); err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.calls), 10+2; got != want {
		t.Errorf("%d upstream calls after counting again, want %d", got, want)
	}
}

// TestListCacheCountsBounded: the login counts stay under their own bound, expired ones going
// first.
func TestListCacheCountsBounded(t *testing.T) {
	f := &fakeLister{logins: map[string]int{}}
	for i := range 30 {
		f.logins[fmt.Sprintf("d%d.example", i)] = i
	}
	clk := newClock()
	c := NewListCache(f, ListCacheOptions{Now: clk.Now})
	c.maxCounts = 8
	ctx := context.Background()
	for i := range 30 {
		if i == 20 {
			clk.Add(2 * time.Minute) // every count so far expires
		}
		if _, err := c.Count(ctx, fmt.Sprintf("d%d.example", i)); err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		n := len(c.counts)
		c.mu.Unlock()
		if n > 8 {
			t.Fatalf("after %d counts: %d kept, want at most 8", i+1, n)
		}
	}
	// The counts made after the clock moved are the ones kept: the expired went first.
	before := len(f.calls)
	if _, err := c.Count(ctx, "d29.example"); err != nil {
		t.Fatal(err)
	}
	if got := len(f.calls); got != before {
		t.Errorf("the latest count went upstream again (%d calls, want %d)", got, before)
	}
}
