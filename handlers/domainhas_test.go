package handlers

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun"
)

// gatedDomains answers with the account's domains as they are when a call begins; while gate is
// set, a call then waits for it before its answer reaches the cache (a slow Mailgun, a walk of
// many pages).
type gatedDomains struct {
	mu    sync.Mutex
	names []string
	gate  chan struct{}
	calls int
}

func (g *gatedDomains) ListDomains(ctx context.Context, o *mailgun.DomainListOptions) (*mailgun.DomainList, error) {
	g.mu.Lock()
	g.calls++
	l := &mailgun.DomainList{TotalCount: len(g.names)}
	for _, n := range g.names {
		l.Items = append(l.Items, mailgun.Domain{Name: n})
	}
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return l, nil
}

// TestDomainCacheHasReadsAfterItAsks (a review helper's): Has says no to a name only after a read
// of the domain list that began after it asked (ARCHITECTURE.md: "a name it lacks (a domain added
// in Mailgun since) makes it read the list again before refusing"). A walk already under way when
// it asked (a page view's, its TTL run out), which began before the domain was added, must not be
// the answer: the domain's change pages were "Domain not found" (404) for a domain Mailgun has.
func TestDomainCacheHasReadsAfterItAsks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		src := &gatedDomains{names: []string{"a.example"}}
		clk := newClock()
		c := NewDomainCache(src, time.Minute, clk.Now)
		if _, err := c.Domains(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Minute) // the list's TTL runs out

		// A page view starts the next walk; Mailgun answers it as the account is now.
		gate := make(chan struct{})
		src.mu.Lock()
		src.gate = gate
		src.mu.Unlock()
		go func() { _, _ = c.Domains(ctx) }()
		synctest.Wait()

		// Then the administrator adds new.example in Mailgun and opens it in SMTP Desk.
		src.mu.Lock()
		src.names = append(src.names, "new.example")
		src.gate = nil
		src.mu.Unlock()
		got := make(chan bool, 1)
		go func() {
			ok, err := c.Has(ctx, "new.example")
			if err != nil {
				t.Error(err)
			}
			got <- ok
		}()
		synctest.Wait()
		close(gate) // the walk that began before new.example existed ends
		if !<-got {
			t.Errorf("Has(new.example) = false for a domain Mailgun has: it answered from a walk that began before it asked, without reading the list again (%d list calls)", src.calls)
		}
	})
}
