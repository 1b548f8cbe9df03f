package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/store"
)

// gatedAudit is a real audit trail whose LastOK waits at a gate first, so that a test can have
// several page views wait on the same lookup.
type gatedAudit struct {
	*store.DB
	entered chan struct{}
	release chan struct{}
	calls   atomic.Int32
}

func (g *gatedAudit) LastOK(ctx context.Context, domain, action string) (map[string]time.Time, error) {
	g.calls.Add(1)
	g.entered <- struct{}{}
	<-g.release
	return g.DB.LastOK(ctx, domain, action)
}

// auditWithReset is a new SQLite audit trail holding one completed reset of alice@example.com.
func auditWithReset(t *testing.T) (*store.DB, time.Time) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "smtpdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	resetAt := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	id, err := db.AppendAudit(ctx, store.AuditEntry{Time: resetAt, ActorEmail: "ada@corp.example",
		Action: audit.ActionCredentialReset, Domain: "example.com", Logins: []string{"alice@example.com"},
		Outcome: store.OutcomePending})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CompleteAudit(ctx, id, store.OutcomeOK, 200, "", resetAt.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	return db, resetAt
}

// TestPasswordSetsOutliveTheFirstCaller: page views of one domain share one audit query, and
// the browser that started it going away must not fail the others (they would lose the reset
// times and mark freshly reset logins "consider rotating").
func TestPasswordSetsOutliveTheFirstCaller(t *testing.T) {
	db, resetAt := auditWithReset(t)
	// In a synctest bubble, synctest.Wait returns once every goroutine of the test waits: the
	// second view has then joined the lookup in flight, however slow the machine is.
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		g := &gatedAudit{DB: db, entered: make(chan struct{}, 2), release: make(chan struct{})}
		p := passwordSetsFor(g, time.Minute, time.Now, slog.New(slog.DiscardHandler))

		first, cancel := context.WithCancel(ctx)
		firstDone := make(chan map[string]time.Time)
		go func() { firstDone <- p.entry(first, "example.com").at }()
		<-g.entered // the first view's lookup is under way
		secondDone := make(chan map[string]time.Time)
		go func() { secondDone <- p.entry(ctx, "example.com").at }()
		synctest.Wait()
		cancel()
		if got := <-firstDone; got != nil {
			t.Errorf("the view whose browser went away got %v, want nothing", got)
		}
		close(g.release)
		if got := <-secondDone; !got["alice@example.com"].Equal(resetAt) {
			t.Errorf("the other view got %v, want alice's reset at %v", got, resetAt)
		}
		if n := g.calls.Load(); n != 1 {
			t.Errorf("two views of one domain made %d audit queries, want 1", n)
		}
	})
}

// TestPasswordSetsKeepAnswers: a domain's answer is kept for the ttl, then read again; Forget
// (this instance reset a password there) drops it at once.
func TestPasswordSetsKeepAnswers(t *testing.T) {
	db, resetAt := auditWithReset(t)
	g := &gatedAudit{DB: db, entered: make(chan struct{}, 10), release: make(chan struct{})}
	close(g.release)
	now := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	p := passwordSetsFor(g, time.Minute, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	for _, step := range []struct {
		name  string
		do    func()
		calls int32
	}{
		{"first view", func() {}, 1},
		{"a view 59 s later", func() { now = now.Add(59 * time.Second) }, 1},
		{"a view past the ttl", func() { now = now.Add(2 * time.Second) }, 2},
		{"a view after Forget", func() { p.Forget("Example.com") }, 3},
		{"the next view", func() {}, 3},
	} {
		step.do()
		if got := p.entry(ctx, "example.com").at; !got["alice@example.com"].Equal(resetAt) {
			t.Errorf("%s: got %v, want alice's reset at %v", step.name, got, resetAt)
		}
		if n := g.calls.Load(); n != step.calls {
			t.Errorf("%s: %d audit queries so far, want %d", step.name, n, step.calls)
		}
	}
}

// TestPasswordSetsForgetDuringALookup: a reset through this instance while a domain's lookup is
// in flight (begun before the reset was written) is not hidden by that lookup's answer: the
// answer goes to its callers but is not kept, and the next view reads the trail again.
func TestPasswordSetsForgetDuringALookup(t *testing.T) {
	db, _ := auditWithReset(t)
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		g := &gatedAudit{DB: db, entered: make(chan struct{}, 2), release: make(chan struct{})}
		p := passwordSetsFor(g, time.Minute, time.Now, slog.New(slog.DiscardHandler))
		done := make(chan struct{})
		go func() {
			p.entry(ctx, "example.com")
			close(done)
		}()
		<-g.entered // the lookup is under way
		p.Forget("Example.com")
		close(g.release)
		<-done
		p.entry(ctx, "example.com")
		if n := g.calls.Load(); n != 2 {
			t.Errorf("%d audit queries, want 2: the view after Forget used the answer of a lookup begun before it", n)
		}
	})
}

// TestPasswordSetsBounded: the domain page asks for the password ages of the domain in its
// address before Mailgun has said whether there is such a domain, so the answers kept must stay
// bounded however many names are asked for.
func TestPasswordSetsBounded(t *testing.T) {
	db, _ := auditWithReset(t)
	now := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	p := passwordSetsFor(db, time.Minute, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	for i := range 3 * maxPasswordSetDomains {
		p.entry(ctx, fmt.Sprintf("d%d.example", i))
		if i%100 == 0 {
			now = now.Add(time.Second)
		}
	}
	p.mu.Lock()
	kept := len(p.domains)
	p.mu.Unlock()
	if kept > maxPasswordSetDomains {
		t.Errorf("%d domains asked for: %d answers kept, want at most %d", 3*maxPasswordSetDomains, kept, maxPasswordSetDomains)
	}
	// The bound does not cost a real domain its answer.
	if got := p.entry(ctx, "example.com").at; got["alice@example.com"].IsZero() {
		t.Errorf("example.com after the others: got %v, want alice's reset", got)
	}
}
