package handlers

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
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
}

func (g *gatedAudit) LastOK(ctx context.Context, domain, action string) (map[string]time.Time, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.DB.LastOK(ctx, domain, action)
}

// TestPasswordSetsOutliveTheFirstCaller: page views of one domain share one audit query, and
// the browser that started it going away must not fail the others (they would lose the reset
// times and mark freshly reset logins "consider rotating").
func TestPasswordSetsOutliveTheFirstCaller(t *testing.T) {
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
	g := &gatedAudit{DB: db, entered: make(chan struct{}, 2), release: make(chan struct{})}
	p := passwordSetsFor(g, time.Minute, time.Now, slog.New(slog.DiscardHandler))

	first, cancel := context.WithCancel(ctx)
	firstDone := make(chan map[string]time.Time)
	go func() { firstDone <- p.Of(first, "example.com") }()
	<-g.entered // the first view's lookup is under way
	secondDone := make(chan map[string]time.Time)
	go func() { secondDone <- p.Of(ctx, "example.com") }()
	time.Sleep(50 * time.Millisecond) // let the second view join the lookup in flight
	cancel()
	close(g.release)
	if got := <-firstDone; got != nil {
		t.Errorf("the view whose browser went away got %v, want nothing", got)
	}
	if got := <-secondDone; !got["alice@example.com"].Equal(resetAt) {
		t.Errorf("the other view got %v, want alice's reset at %v", got, resetAt)
	}
}
