package store

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"
)

// TestPostgresWritesWhateverDefaultIsolation: a PostgreSQL server (or role) may set
// default_transaction_isolation above READ COMMITTED. The migrations and the audit chain take an
// advisory lock and then read what the lock's previous holder wrote; in a REPEATABLE READ or
// SERIALIZABLE transaction that read came from a snapshot taken before the lock was granted, so
// replicas starting at once re-applied migration 1 ("relation already exists") and concurrent
// audit writes took the same id (duplicate key) or failed to serialize: the action was refused.
func TestPostgresWritesWhateverDefaultIsolation(t *testing.T) {
	for _, level := range []string{"repeatable read", "serializable"} {
		t.Run(level, func(t *testing.T) {
			dsn := newPostgresSchema(t) + "&default_transaction_isolation=" + url.PathEscape(level)
			ctx := context.Background()
			const opens = 4
			handles := openAtOnce(t, ctx, dsn, opens) // replicas starting at once on an empty schema
			// As in TestAuditConcurrent: no store deadline, which the last of the 80 writes
			// queued for the chain's lock could run past on a loaded machine, and a few
			// connections each, still several transactions at once per replica, without taking
			// 40 of the server's 100 from the test packages running meanwhile.
			for _, h := range handles {
				h.timeout = 0
				h.sql.SetMaxOpenConns(4)
			}
			var wg sync.WaitGroup
			const n = 40
			fails := make(chan error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					h := handles[i%opens]
					at := t0.Add(time.Duration(i) * time.Millisecond)
					id, err := h.AppendAudit(ctx, entry(at, fmt.Sprintf("u%d@corp.example", i), "credential.reset", "example.com", OutcomePending, "l@example.com"))
					if err == nil {
						err = h.CompleteAudit(ctx, id, OutcomeOK, 200, "", at.Add(time.Millisecond))
					}
					if err != nil {
						fails <- err
					}
				}()
			}
			wg.Wait()
			close(fails)
			failed := 0
			for err := range fails {
				if failed++; failed == 1 {
					t.Errorf("concurrent audit write: %v", err)
				}
			}
			if failed > 0 {
				t.Errorf("%d of %d concurrent actions could not be recorded", failed, n)
			}
			rep, err := handles[0].VerifyAudit(ctx)
			if err != nil || rep.BrokenAt != 0 || rep.Checked != 2*int64(n-failed) {
				t.Errorf("VerifyAudit = %+v, %v; want intact with %d rows", rep, err, 2*(n-failed))
			}
		})
	}
}
