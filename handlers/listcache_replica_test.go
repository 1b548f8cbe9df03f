package handlers

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/store"
)

// slowRead is a Mailgun list that answers its first call with the logins as they were when the
// call began and then, before the answer reaches the cache, lets elsewhere happen: another
// replica deletes a login, and the answer takes a while (a slow Mailgun, a retry, a whole
// domain's walk of many calls).
type slowRead struct {
	Lister
	once      sync.Once
	elsewhere func()
}

func (s *slowRead) ListCredentials(ctx context.Context, domain string, opts *mailgun.ListOptions) (*mailgun.CredentialList, error) {
	l, err := s.Lister.ListCredentials(ctx, domain, opts)
	s.once.Do(s.elsewhere)
	return l, err
}

// TestListCacheStaleForAtMostTheTTL: a replica's cache shows another replica's delete within
// the time README's "Several replicas" gives (15 s for a page and the whole list, 60 s for a
// count), counted from the delete, however long the read that missed it took. The entries used
// to be kept for the TTL from when the read ended, so a read of 10 s showed the deleted login
// for 25 s.
func TestListCacheStaleForAtMostTheTTL(t *testing.T) {
	const pageTTL, countTTL, slow = 15 * time.Second, 60 * time.Second, 10 * time.Second
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		read func(ctx context.Context, c *ListCache) (int, error) // the logins the replica shows
	}{
		{"page", pageTTL, func(ctx context.Context, c *ListCache) (int, error) {
			l, err := c.Page(ctx, "a.example", 0, 100)
			if err != nil {
				return 0, err
			}
			return len(l.Items), nil
		}},
		{"whole domain", pageTTL, func(ctx context.Context, c *ListCache) (int, error) {
			items, err := c.All(ctx, "a.example")
			return len(items), err
		}},
		{"count", countTTL, func(ctx context.Context, c *ListCache) (int, error) {
			return c.Count(ctx, "a.example")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			f := &fakeLister{logins: map[string]int{"a.example": 50}}
			src := &slowRead{Lister: f, elsewhere: func() {
				f.mu.Lock()
				f.logins["a.example"]-- // deleted through replica B, just after Mailgun answered
				f.mu.Unlock()
				clk.Add(slow)
			}}
			c := NewListCache(src, ListCacheOptions{PageTTL: pageTTL, CountTTL: countTTL, Now: clk.Now})
			if n, err := tc.read(ctx, c); err != nil || n != 50 {
				t.Fatalf("first read = %d, %v; want the 50 logins Mailgun had", n, err)
			}
			deleted := clk.Now().Add(-slow)
			clk.Add(tc.ttl - slow - time.Second)
			if n, err := tc.read(ctx, c); err != nil || n != 50 || f.callCount() != 1 {
				t.Errorf("%s after the delete: %d logins (%v), %d calls; want the 50 kept, no new call",
					clk.Now().Sub(deleted), n, err, f.callCount())
			}
			clk.Add(time.Second)
			if n, err := tc.read(ctx, c); err != nil || n != 49 {
				t.Errorf("%s after the delete on another replica: %d logins (%v), want 49",
					clk.Now().Sub(deleted), n, err)
			}
		})
	}
}

// slowDomains is fakeDomains whose first walk lets a domain go (removed in Mailgun's panel) and
// time pass once its first page is read.
type slowDomains struct {
	*fakeDomains
	once      sync.Once
	elsewhere func()
}

func (s *slowDomains) ListDomains(ctx context.Context, o *mailgun.DomainListOptions) (*mailgun.DomainList, error) {
	l, err := s.fakeDomains.ListDomains(ctx, o)
	s.once.Do(s.elsewhere)
	return l, err
}

// TestDomainCacheStaleForAtMostTheTTL: the domain list, too, is kept for its TTL from when its
// walk began.
func TestDomainCacheStaleForAtMostTheTTL(t *testing.T) {
	const ttl, slow = time.Minute, 10 * time.Second
	ctx := context.Background()
	clk := newClock()
	f := &fakeDomains{n: 3}
	src := &slowDomains{fakeDomains: f, elsewhere: func() { f.n--; clk.Add(slow) }}
	c := NewDomainCache(src, ttl, clk.Now)
	if ds, err := c.Domains(ctx); err != nil || len(ds) != 3 {
		t.Fatalf("first read = %d domains, %v; want 3", len(ds), err)
	}
	clk.Add(ttl - slow)
	if ds, err := c.Domains(ctx); err != nil || len(ds) != 2 {
		t.Errorf("%s after a domain was removed: %d domains (%v), want 2", ttl, len(ds), err)
	}
}

// slowAudit is an audit trail whose first LastOK reads the trail as it is and then lets another
// replica record a reset, and time pass, before the answer reaches PasswordSets.
type slowAudit struct {
	*store.DB
	calls     atomic.Int32
	elsewhere func()
}

func (s *slowAudit) LastOK(ctx context.Context, domain, action string) (map[string]time.Time, error) {
	at, err := s.DB.LastOK(ctx, domain, action)
	if s.calls.Add(1) == 1 {
		s.elsewhere()
	}
	return at, err
}

// TestPasswordSetsStaleForAtMostTheTTL: a reset through another replica shows in the password
// ages within the ttl of when it was recorded, however long the read that missed it took.
func TestPasswordSetsStaleForAtMostTheTTL(t *testing.T) {
	const ttl, slow = 15 * time.Second, 4 * time.Second
	db, _ := auditWithReset(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	resetOnB := now
	src := &slowAudit{DB: db, elsewhere: func() {
		id, err := db.AppendAudit(ctx, store.AuditEntry{Time: resetOnB, ActorEmail: "bob@corp.example",
			Action: audit.ActionCredentialReset, Domain: "example.com", Logins: []string{"bob@example.com"},
			Outcome: store.OutcomePending})
		if err == nil {
			err = db.CompleteAudit(ctx, id, store.OutcomeOK, 200, "", resetOnB)
		}
		if err != nil {
			t.Errorf("reset on B: %v", err)
		}
		now = now.Add(slow)
	}}
	p := passwordSetsFor(src, ttl, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	if got := p.entry(ctx, "example.com").at; len(got) != 1 {
		t.Fatalf("first read = %v, want alice's reset alone", got)
	}
	now = resetOnB.Add(ttl)
	if got := p.entry(ctx, "example.com").at; !got["bob@example.com"].Equal(resetOnB) {
		t.Errorf("%s after bob's reset on another replica: %v, want it", ttl, got)
	}
}
