package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestOpenConcurrentlyOnAnEmptyDatabase: replicas starting at the same moment on a database
// nobody opened yet (a fresh SQLite file, a fresh PostgreSQL schema at the server's default
// isolation) each apply the migrations or wait for the one that does: every Open succeeds, and
// each migration is recorded once.
func TestOpenConcurrentlyOnAnEmptyDatabase(t *testing.T) {
	for _, tc := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "fresh.db") }},
		{"postgres", func(t *testing.T) string { return newPostgresSchema(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := tc.dsn(t)
			ctx := context.Background()
			const opens = 6
			handles := openAtOnce(t, ctx, dsn, opens)
			applied := 0
			for i := range handles {
				if len(handles[i].Applied()) > 0 {
					applied++
				}
			}
			ms, err := handles[0].migrations()
			if err != nil {
				t.Fatal(err)
			}
			if applied != 1 {
				t.Errorf("%d of %d Opens applied migrations, want 1", applied, opens)
			}
			var rows, distinct int
			if err := handles[0].sql.QueryRowContext(ctx, "SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations").Scan(&rows, &distinct); err != nil {
				t.Fatal(err)
			}
			if rows != len(ms) || distinct != len(ms) {
				t.Errorf("schema_migrations: %d rows, %d versions; want %d of each", rows, distinct, len(ms))
			}
		})
	}
}

// TestAuditRetentionOnTwoReplicas: every replica runs the retention job, so two may remove the
// same old prefix at the same moment, while both go on recording actions. Between them they
// remove each old entry once (their counts add up to the prefix), and the chain that is left
// links to the anchor the last batch wrote, with every action recorded meanwhile in it.
func TestAuditRetentionOnTwoReplicas(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		replicas := []*DB{db.DB, openTest(t, db.dsn)}
		const old = 2*retentionBatch + 123 // a few batches each
		bulkAudit(t, db.DB, old)           // t0 onwards, a second apart
		cutoff := t0.Add(24 * time.Hour)

		const actions = 20
		var wg sync.WaitGroup
		deleted := make([]int64, len(replicas))
		errs := make(chan error, len(replicas)+actions)
		for i, r := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := r.DeleteAuditBefore(ctx, cutoff)
				deleted[i] = n
				if err != nil {
					errs <- fmt.Errorf("retention on replica %d: %w", i, err)
				}
			}()
		}
		for i := range actions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := replicas[i%len(replicas)]
				at := cutoff.Add(time.Hour + time.Duration(i)*time.Second)
				id, err := r.AppendAudit(ctx, entry(at, fmt.Sprintf("u%d@corp.example", i), "credential.reset", "example.com", OutcomePending, "l@example.com"))
				if err == nil {
					err = r.CompleteAudit(ctx, id, OutcomeOK, 200, "", at.Add(time.Millisecond))
				}
				if err != nil {
					errs <- fmt.Errorf("action %d: %w", i, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := deleted[0] + deleted[1]; got != old {
			t.Errorf("the replicas deleted %d + %d entries, want %d between them", deleted[0], deleted[1], old)
		}
		rep := mustVerify(t, db)
		if rep.BrokenAt != 0 || rep.Checked != 2*actions || !rep.Trimmed || rep.OldestAt.Before(cutoff) {
			t.Errorf("VerifyAudit = %+v; want intact, trimmed, the %d rows of the actions from %s on", rep, 2*actions, cutoff)
		}
		got, err := db.ListAudit(ctx, AuditFilter{Limit: 2 * actions})
		if err != nil || len(got) != actions {
			t.Errorf("entries left = %d, %v; want the %d actions", len(got), err, actions)
		}
	})
}

// TestOpenWhileAnotherSwitchesTheFileToWAL: replicas starting together on a SQLite file nobody
// has opened yet all open it. The first connection to switch the file to WAL mode (sqliteParams)
// writes its header, and SQLite answered another connection that tried meanwhile with
// SQLITE_BUSY at once, not after its busy timeout: that Open failed ("database is locked"), as
// TestOpenConcurrentlyOnAnEmptyDatabase did now and then on a loaded machine. Here the other
// process holds the write lock of a file still in rollback mode, as that switch does; Open must
// wait for it instead of failing.
func TestOpenWhileAnotherSwitchesTheFileToWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fresh.db")
	other, err := sql.Open("sqlite", path) // no pragmas: the file stays in rollback mode
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	type opened struct {
		db  *DB
		err error
	}
	done := make(chan opened, 1)
	go func() {
		db, err := Open(ctx, path)
		done <- opened{db, err}
	}()
	// Open used to fail within milliseconds; it must still be waiting when the lock is given
	// back. (On a machine too slow to have tried by then, this passes without proving anything;
	// it cannot fail wrongly.)
	select {
	case o := <-done:
		if o.db != nil {
			o.db.Close()
		}
		t.Fatalf("Open while another process held the write lock = %v; want it to wait for the lock", o.err)
	case <-time.After(500 * time.Millisecond):
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.err != nil {
		t.Fatalf("Open once the lock was given back: %v", o.err)
	}
	o.db.Close()
}

// openAtOnce opens dsn n times concurrently, as replicas starting together do, and fails the
// test when any Open fails. The handles are closed when the test ends.
func openAtOnce(t *testing.T, ctx context.Context, dsn string, n int) []*DB {
	t.Helper()
	handles := make([]*DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			handles[i], errs[i] = Open(ctx, dsn)
		}()
	}
	wg.Wait()
	for _, h := range handles {
		if h != nil {
			t.Cleanup(func() { h.Close() })
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open %d: %v", i, err)
		}
	}
	return handles
}
