package store

import (
	"context"
	"database/sql"
	"errors"
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

// TestWritesUnderStricterDefaultIsolation: with default_transaction_isolation above READ
// COMMITTED, a single-statement write meeting a concurrent write of the same row failed with a
// serialization failure (40001) where READ COMMITTED waits and answers: a form sent twice at once
// was an error, which lets the action go ahead (firstSending), so it ran twice; a session saved
// over another was a 500 instead of ErrChanged. The statement is now sent again.
func TestWritesUnderStricterDefaultIsolation(t *testing.T) {
	for _, level := range []string{"repeatable%20read", "serializable"} {
		t.Run(level, func(t *testing.T) {
			ctx := context.Background()
			dsn := newPostgresSchema(t)
			db := openTest(t, dsn+"&default_transaction_isolation="+level)
			now := time.Now()
			if err := db.CreateSession(ctx, SessionRecord{ID: "s", Data: []byte("a"), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			otherDB, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { otherDB.Close() })
			// Another request (or replica) has written the row and commits once op waits for it.
			concurrently := func(q string, arg any, op func() error) error {
				t.Helper()
				other, err := otherDB.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer other.Rollback()
				var pid int
				if err := other.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
					t.Fatal(err)
				}
				if _, err := other.ExecContext(ctx, q, arg); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- op() }()
				waitBlockedBy(t, otherDB, pid, done)
				if err := other.Commit(); err != nil {
					t.Fatal(err)
				}
				return <-done
			}
			var first bool
			err = concurrently("INSERT INTO used_forms (token_hash, used_at) VALUES ($1, 1)", hashSessionID("tok"),
				func() (err error) { first, err = db.UseFormToken(ctx, "tok", now); return err })
			if err != nil || first {
				t.Errorf("UseFormToken while another sending records it = %v, %v; want false, nil", first, err)
			}
			err = concurrently("UPDATE sessions SET data = 'b' WHERE id_hash = $1", hashSessionID("s"),
				func() error { return db.UpdateSession(ctx, "s", []byte("a"), []byte("c"), now) })
			if !errors.Is(err, ErrChanged) {
				t.Errorf("UpdateSession over a concurrent save = %v, want ErrChanged", err)
			}
		})
	}
}

// waitBlockedBy waits until a backend waits for a lock that pid holds, or op has ended (done;
// put back for the caller), at most 10 s.
func waitBlockedBy(t *testing.T, db *sql.DB, pid int, done chan error) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("the write ended (%v) before it waited for the other transaction", err)
		default:
		}
		var n int
		if err := db.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", pid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	t.Fatal("the write never waited for the other transaction")
}
