package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"
)

// The PostgreSQL settings a DBA may give the server, the database or the role, which change what
// the store's statements meet. Each is given here as a connection parameter of the test's DSN.

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

// TestServerTimeoutsAreUnavailable: a PostgreSQL lock_timeout or statement_timeout is the
// database not answering in time, as SQLite's busy timeout is: ErrUnavailable (a 503 page, and
// the audit recorder's retry), not a plain error (a 500, no retry).
func TestServerTimeoutsAreUnavailable(t *testing.T) {
	for _, p := range []string{"lock_timeout=200", "statement_timeout=200"} {
		t.Run(p, func(t *testing.T) {
			ctx := context.Background()
			dsn := newPostgresSchema(t)
			db := openTest(t, dsn+"&"+p)
			hold, err := openTest(t, dsn).sql.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer hold.Rollback()
			if _, err := hold.ExecContext(ctx, "LOCK TABLE audit_log, sessions IN ACCESS EXCLUSIVE MODE"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.GetSession(ctx, "x"); !errors.Is(err, ErrUnavailable) {
				t.Errorf("GetSession behind a lock = %v, want ErrUnavailable", err)
			}
			if _, err := db.AppendAudit(ctx, entry(t0, "a@corp.example", "auth.sign_in", "", OutcomeOK)); !errors.Is(err, ErrUnavailable) {
				t.Errorf("AppendAudit behind a lock = %v, want ErrUnavailable", err)
			}
		})
	}
}

// TestLikeWithoutStandardConformingStrings: with standard_conforming_strings off, the literal
// '\' of ESCAPE '\' opens a backslash escape, and the query is a syntax error: the actor filter
// and NewestOKMarked (every domain page's system logins) failed after Open had succeeded. The
// wildcards in the filter are still taken literally.
func TestLikeWithoutStandardConformingStrings(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, newPostgresSchema(t)+"&standard_conforming_strings=off")
	tdb := testDB{DB: db}
	id := mustAppend(t, tdb, entry(t0, "alice@corp.example", "auth.sign_in", "", OutcomeOK))
	odd := entry(t0, "a_b!%c@corp.example", "auth.sign_in", "", OutcomeOK)
	odd.ActorName = "A_b!%c"
	oddID := mustAppend(t, tdb, odd)
	for filter, want := range map[string][]int64{"alice": {id}, "a_b!%": {oddID}, "_": {oddID}, "!": {oddID}, "%": {oddID}, "a%c": nil} {
		if got, err := db.ListAudit(ctx, AuditFilter{Actor: filter}); err != nil || !slices.Equal(ids(got), want) {
			t.Errorf("actor filter %q = %v, %v; want %v", filter, ids(got), err, want)
		}
	}
	if _, err := db.NewestOKMarked(ctx, "example.com", "credential.create", "Asked for as system logins."); err != nil {
		t.Errorf("NewestOKMarked: %v", err)
	}
}
