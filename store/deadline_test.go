package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/smtpdesk/smtpdesk/internal/testpg"
	"github.com/smtpdesk/smtpdesk/internal/testport"
)

func TestPostgresConnectTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		dsn  string
		want time.Duration
		env  string // PGCONNECT_TIMEOUT, when set
	}{
		{"none in the URL: the default", "postgres://u@db:5432/smtpdesk", DefaultConnectTimeout, ""},
		{"none, other parameters", "postgres://u@db/smtpdesk?sslmode=disable&search_path=x", DefaultConnectTimeout, ""},
		{"the URL's", "postgresql://u@db/smtpdesk?connect_timeout=2", 2 * time.Second, ""},
		{"the URL's, among others", "postgres://u:p%40ss@db/smtpdesk?sslmode=disable&connect_timeout=30", 30 * time.Second, ""},
		{"the URL's 0: no limit, as asked", "postgres://u@db/smtpdesk?connect_timeout=0", 0, ""},
		// libpq's variable, which pgx reads, is the operator's choice too.
		{"PGCONNECT_TIMEOUT's", "postgres://u@db/smtpdesk", 3 * time.Second, "3"},
		{"PGCONNECT_TIMEOUT's 0: no limit, as asked", "postgres://u@db/smtpdesk", 0, "0"},
		{"the URL's before PGCONNECT_TIMEOUT's", "postgres://u@db/smtpdesk?connect_timeout=2", 2 * time.Second, "3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PGCONNECT_TIMEOUT", tc.env) // restored after the test
			if tc.env == "" {
				os.Unsetenv("PGCONNECT_TIMEOUT")
			}
			cfg, err := pgConfig(tc.dsn)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ConnectTimeout != tc.want {
				t.Errorf("connect timeout = %v, want %v", cfg.ConnectTimeout, tc.want)
			}
		})
	}
}

// silentServer accepts TCP connections on loopback and never answers on them, as a PostgreSQL
// server behind a broken network or a hung host does; it returns its address.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// closedPort returns a loopback address nothing listens on: connecting is refused at once.
func closedPort(t *testing.T) string {
	t.Helper()
	addr, err := testport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestOpenWhenPostgresCannotBeReached: a server that accepts the connection and never answers
// makes Open fail once the URL's connect_timeout has passed, with an error that says so, instead
// of waiting for the operating system to give up on the connection. A refused connection is the
// database not answering too (requests answer it with their 503 page); a server that answers
// with a refusal of its own (no such database) is not.
func TestOpenWhenPostgresCannotBeReached(t *testing.T) {
	noSuchDB, err := url.Parse(newPostgresSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	noSuchDB.Path = "/smtpdesk_no_such_database"
	for _, tc := range []struct {
		name         string
		dsn          string
		unavailable  bool
		deadline     bool
		wantInErrors []string
	}{
		{"silent server", "postgres://smtpdesk@" + silentServer(t) + "/smtpdesk?sslmode=disable&connect_timeout=1",
			true, true, []string{"store: ping postgres", "the database is not answering", "failed to connect", "timeout"}},
		{"connection refused", "postgres://smtpdesk@" + closedPort(t) + "/smtpdesk?sslmode=disable",
			true, false, []string{"store: ping postgres", "the database is not answering", "connection refused"}},
		{"no such database", noSuchDB.String(),
			false, false, []string{"store: ping postgres", "smtpdesk_no_such_database"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The context has no deadline, only a generous safety net that cancels it: were the
			// connect timeout not applied, Open would fail with context.Canceled, not a
			// deadline. The store's own deadline is off, so it cannot stand in for the connect
			// timeout either.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			safety := time.AfterFunc(15*time.Second, cancel)
			defer safety.Stop()

			db, err := Open(ctx, tc.dsn, WithTimeout(0))
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if got := errors.Is(err, ErrUnavailable); got != tc.unavailable {
				t.Errorf("errors.Is(ErrUnavailable) = %v, want %v; error: %v", got, tc.unavailable, err)
			}
			if got := errors.Is(err, context.DeadlineExceeded); got != tc.deadline {
				t.Errorf("errors.Is(context.DeadlineExceeded) = %v, want %v; error: %v", got, tc.deadline, err)
			}
			if ctx.Err() != nil {
				t.Errorf("Open ended with the test's safety net: %v", err)
			}
			for _, want := range tc.wantInErrors {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestConnectEndsAtTheStoreDeadline: a connect_timeout longer than the store's deadline, or 0
// (none), does not let opening a connection outlast the deadline: the deadline bounds each
// operation, its connection included, at start-up too (README, "Database").
func TestConnectEndsAtTheStoreDeadline(t *testing.T) {
	for _, ct := range []string{"0", "60"} {
		t.Run("connect_timeout="+ct, func(t *testing.T) {
			// As in TestOpenWhenPostgresCannotBeReached: only a safety net that cancels.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			safety := time.AfterFunc(15*time.Second, cancel)
			defer safety.Stop()
			db, err := Open(ctx, "postgres://smtpdesk@"+silentServer(t)+"/smtpdesk?sslmode=disable&connect_timeout="+ct, WithTimeout(time.Second))
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error = %v; want ErrUnavailable and context.DeadlineExceeded", err)
			}
			if ctx.Err() != nil {
				t.Errorf("Open ended with the test's safety net: %v", err)
			}
		})
	}
}

// testTimeout is the store's deadline in the tests that run into it: far longer than any of
// their operations takes unblocked, short enough for a test.
const testTimeout = 300 * time.Millisecond

// TestOperationsEndAtTheDeadline: with the table an operation needs locked by another
// connection (PostgreSQL) or the database's write lock held by another process (SQLite, whose
// readers a writer never blocks), every operation made on a request's behalf ends at the
// store's deadline with ErrUnavailable and context.DeadlineExceeded, instead of waiting for
// the lock. Once the lock is gone the same handle works again.
func TestOperationsEndAtTheDeadline(t *testing.T) {
	now := time.Now()
	ops := []struct {
		name  string
		table string // what it needs; "" for a read SQLite does not block
		write bool
		run   func(ctx context.Context, db *DB) error
	}{
		{"GetSession", "sessions", false, func(ctx context.Context, db *DB) error {
			_, err := db.GetSession(ctx, "s1")
			return err
		}},
		{"CreateSession", "sessions", true, func(ctx context.Context, db *DB) error {
			return db.CreateSession(ctx, SessionRecord{ID: "s2", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)})
		}},
		{"UpdateSession", "sessions", true, func(ctx context.Context, db *DB) error {
			return db.UpdateSession(ctx, "s1", []byte("{}"), []byte("{}"), now)
		}},
		{"TouchSession", "sessions", true, func(ctx context.Context, db *DB) error {
			return db.TouchSession(ctx, "s1", now)
		}},
		{"DeleteSession", "sessions", true, func(ctx context.Context, db *DB) error { return db.DeleteSession(ctx, "s1") }},
		{"CountActiveSessions", "sessions", false, func(ctx context.Context, db *DB) error {
			_, err := db.CountActiveSessions(ctx, now, time.Hour)
			return err
		}},
		{"DeleteExpiredSessions", "sessions", true, func(ctx context.Context, db *DB) error {
			_, err := db.DeleteExpiredSessions(ctx, now, time.Hour)
			return err
		}},
		{"DeleteSessionsMatching", "sessions", true, func(ctx context.Context, db *DB) error {
			_, err := db.DeleteSessionsMatching(ctx, func([]byte) bool { return true })
			return err
		}},
		{"UseFormToken", "used_forms", true, func(ctx context.Context, db *DB) error {
			_, err := db.UseFormToken(ctx, "f1", now)
			return err
		}},
		{"ReleaseFormToken", "used_forms", true, func(ctx context.Context, db *DB) error { return db.ReleaseFormToken(ctx, "f1") }},
		{"DeleteUsedFormTokens", "used_forms", true, func(ctx context.Context, db *DB) error {
			_, err := db.DeleteUsedFormTokens(ctx, now)
			return err
		}},
		{"AppendAudit", "audit_log", true, func(ctx context.Context, db *DB) error {
			_, err := db.AppendAudit(ctx, AuditEntry{Time: now, Action: "auth.sign_in", Outcome: OutcomeOK})
			return err
		}},
		{"CompleteAudit", "audit_log", true, func(ctx context.Context, db *DB) error {
			return db.CompleteAudit(ctx, 1, OutcomeOK, 200, "", now)
		}},
		{"ListAudit", "audit_log", false, func(ctx context.Context, db *DB) error {
			_, err := db.ListAudit(ctx, AuditFilter{})
			return err
		}},
		{"EachAudit", "audit_log", false, func(ctx context.Context, db *DB) error {
			return db.EachAudit(ctx, AuditFilter{}, func(AuditEntry) error { return nil })
		}},
		{"AuditDomains", "audit_log", false, func(ctx context.Context, db *DB) error {
			_, err := db.AuditDomains(ctx)
			return err
		}},
		{"LastOK", "audit_log", false, func(ctx context.Context, db *DB) error {
			_, err := db.LastOK(ctx, "acme.example", "credential.reset")
			return err
		}},
	}

	setUp := func(t *testing.T, db *DB) {
		t.Helper()
		ctx := context.Background()
		if err := db.CreateSession(ctx, SessionRecord{ID: "s1", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AppendAudit(ctx, AuditEntry{Time: now, Action: "credential.reset", Domain: "acme.example",
			Logins: []string{"a@acme.example"}, Outcome: OutcomePending}); err != nil {
			t.Fatal(err)
		}
	}
	// check runs op blocked by hold, which takes the lock and returns its release. The store's
	// deadline is testTimeout only meanwhile: before and after it, connecting on a loaded machine
	// must not run into it.
	check := func(t *testing.T, db *DB, run func(context.Context, *DB) error, hold func() (release func())) {
		t.Helper()
		release := hold()
		db.timeout = testTimeout
		// No deadline of the test's own, the store's must end the wait: only a safety net that
		// cancels (context.Canceled, not a deadline) should it not.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		safety := time.AfterFunc(15*time.Second, cancel)
		defer safety.Stop()
		err := run(ctx, db)
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v; want ErrUnavailable and context.DeadlineExceeded", err)
		}
		if err != nil && !strings.Contains(err.Error(), "the database is not answering") {
			t.Errorf("error %q does not say the database is not answering", err)
		}
		db.timeout = DefaultTimeout
		release()
		if _, err := db.GetSession(context.Background(), "s1"); err != nil && !errors.Is(err, ErrNotFound) {
			t.Errorf("after the lock: GetSession: %v", err)
		}
	}

	t.Run("postgres", func(t *testing.T) {
		tdb := newPostgres(t)
		db := tdb.DB
		setUp(t, db)
		// Someone else's connection (an administrator's session, a migration of another
		// program) holding a lock.
		other, err := sql.Open("pgx", tdb.dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { other.Close() })
		for _, op := range ops {
			t.Run(op.name, func(t *testing.T) {
				check(t, db, op.run, func() func() {
					tx, err := other.Begin()
					if err != nil {
						t.Fatal(err)
					}
					if _, err := tx.Exec("LOCK TABLE " + op.table + " IN ACCESS EXCLUSIVE MODE"); err != nil {
						t.Fatal(err)
					}
					return func() { _ = tx.Rollback() }
				})
			})
		}
	})

	t.Run("sqlite", func(t *testing.T) {
		tdb := newSQLite(t)
		setUp(t, tdb.DB)
		// Another process: its own handle, so not this one's write queue (wsem).
		other := openTest(t, tdb.dsn)
		for _, op := range ops {
			if !op.write {
				continue
			}
			t.Run(op.name, func(t *testing.T) {
				check(t, tdb.DB, op.run, func() func() {
					tx, err := other.sql.Begin() // IMMEDIATE: takes the write lock now
					if err != nil {
						t.Fatal(err)
					}
					return func() { _ = tx.Rollback() }
				})
			})
		}
	})
}

// TestLongJobsHaveNoStoreDeadline: the audit check and retention read the whole trail, which
// takes far longer than any request's query on a large database, so they run under their
// caller's context alone: with a store deadline shorter than any query they still finish,
// while a request's operation cannot.
func TestLongJobsHaveNoStoreDeadline(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		old := time.Now().Add(-48 * time.Hour)
		for i := range 3 {
			id, err := db.AppendAudit(ctx, AuditEntry{Time: old.Add(time.Duration(i) * time.Minute), Action: "credential.reset",
				Domain: "acme.example", Logins: []string{"a@acme.example"}, Outcome: OutcomePending})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.CompleteAudit(ctx, id, OutcomeOK, 200, "", old.Add(time.Duration(i)*time.Minute+time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		db.timeout = time.Nanosecond

		if _, err := db.GetSession(ctx, "s1"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("GetSession with a deadline of 1ns: %v; want ErrUnavailable", err)
		}
		rep, err := db.VerifyAudit(ctx)
		if err != nil || rep.BrokenAt != 0 || rep.Checked != 6 {
			t.Errorf("VerifyAudit = %+v, %v; want 6 rows checked, intact", rep, err)
		}
		n, err := db.DeleteAuditBefore(ctx, time.Now().Add(-time.Hour))
		if err != nil || n != 3 {
			t.Errorf("DeleteAuditBefore = %d, %v; want 3 entries deleted", n, err)
		}
	})
}

// TestSQLiteBusyIsUnavailable: a write that SQLite's busy timeout ended, another process holding
// the write lock throughout, is the database not answering, as when the store's deadline ends it
// first (they are as long).
func TestSQLiteBusyIsUnavailable(t *testing.T) {
	tdb := newSQLite(t)
	other := openTest(t, tdb.dsn)
	tx, err := other.sql.Begin() // IMMEDIATE: takes the write lock now
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// A handle of its own that waits for no lock: SQLite's answer at the end of a busy timeout.
	raw, err := sql.Open("sqlite", tdb.dsn+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, busy := raw.Exec("DELETE FROM sessions")
	if busy == nil {
		t.Fatal("a write succeeded while another connection held the write lock")
	}
	if err := unavailable(context.Background(), busy); !errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unavailable(%v) = %v; want ErrUnavailable, not a deadline", busy, err)
	}
	if err := unavailable(context.Background(), errors.New("no such table: x")); errors.Is(err, ErrUnavailable) {
		t.Errorf("another error became ErrUnavailable: %v", err)
	}
}

// appNamed returns dsn with an application_name of the test's own (its schema's random name), so
// that testpg.EndConnections ends this test's connections only.
func appNamed(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", "smtpdesk_"+q.Get("search_path")) // the schema's random name
	u.RawQuery = q.Encode()
	return u.String()
}

// busyPool has db's pool hold four connections, each reused a moment ago. (pgx pings a connection
// before reusing it when it is new or was idle for more than a second, which would find it ended;
// after a restart the busy ones were not.)
func busyPool(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	// Without the ended connections an earlier round left idle.
	db.sql.SetMaxIdleConns(0)
	db.sql.SetMaxIdleConns(maxIdleConns)
	for range 2 {
		var txs []*sql.Tx
		for range 4 {
			tx, err := db.sql.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			txs = append(txs, tx)
		}
		for _, tx := range txs {
			_ = tx.Rollback()
		}
	}
}

// endAll has db's pool hold four busy connections (busyPool), then has the server end them, as a
// restart does. dsn is db's, named by appNamed.
func endAll(t *testing.T, db *DB, dsn string) {
	t.Helper()
	busyPool(t, db)
	if n := testpg.EndConnections(t, dsn); n < 4 {
		t.Fatalf("ended %d connections, want at least 4", n)
	}
}

// TestPostgresConnectionsEndedByTheServer: when PostgreSQL ends every connection of the pool, as
// a restart, a failover or pg_terminate_backend does, and is back at once, the next audit write,
// the check and retention each begin on a new connection rather than fail on an ended one:
// BEGIN on an ended connection was not tried again, so the first action after a restart was
// refused and the completion of one whose Mailgun call spanned it was lost (the entry stayed
// pending). A write outside a transaction that meets an ended connection fails as the database
// not answering (the 503 page), not as an error of its own: the server may have run it.
func TestPostgresConnectionsEndedByTheServer(t *testing.T) {
	dsn := appNamed(t, newPostgresSchema(t))
	db := openTest(t, dsn)
	ctx := context.Background()
	now := time.Now()

	endAll(t, db, dsn)
	id, err := db.AppendAudit(ctx, AuditEntry{Time: now, Action: "credential.reset", Domain: "acme.example",
		Logins: []string{"a@acme.example"}, Outcome: OutcomePending})
	if err != nil {
		t.Fatalf("AppendAudit after the server ended the connections: %v", err)
	}
	endAll(t, db, dsn)
	if err := db.CompleteAudit(ctx, id, OutcomeOK, 200, "", now); err != nil {
		t.Fatalf("CompleteAudit after the server ended the connections: %v", err)
	}
	endAll(t, db, dsn)
	if rep, err := db.VerifyAudit(ctx); err != nil || rep.BrokenAt != 0 || rep.Checked != 2 {
		t.Errorf("VerifyAudit after the server ended the connections = %+v, %v; want 2 rows, intact", rep, err)
	}
	endAll(t, db, dsn)
	if _, err := db.DeleteAuditBefore(ctx, now.Add(-time.Hour)); err != nil {
		t.Errorf("DeleteAuditBefore after the server ended the connections: %v", err)
	}
	endAll(t, db, dsn)
	if err := db.DeleteSession(ctx, "s1"); !errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("DeleteSession on an ended connection: %v; want ErrUnavailable, not a deadline", err)
	}

	// A connection that was cut without the server's goodbye (a failover to another host, a
	// proxy restarted) is closed when BEGIN is written to it: the same again.
	relay, rdsn := testpg.WithOutage(t, dsn)
	rdb := openTest(t, rdsn)
	if _, err := rdb.AppendAudit(ctx, AuditEntry{Time: now, Action: "auth.sign_in", Outcome: OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	relay.Down()
	relay.Up()
	if _, err := rdb.AppendAudit(ctx, AuditEntry{Time: now, Action: "auth.sign_in", Outcome: OutcomeOK}); err != nil {
		t.Errorf("AppendAudit after its connection was cut: %v", err)
	}
	busyPool(t, rdb)
	relay.Down()
	relay.Up()
	if err := rdb.DeleteSession(ctx, "s1"); !errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("DeleteSession on a cut connection: %v; want ErrUnavailable, not a deadline", err)
	}
}

// TestPostgresReadsAfterTheConnectionsEnded: a read made on a request's behalf (the session
// lookup of every page view, the audit pages' reads) right after PostgreSQL ended every
// connection of the pool, or after they were cut, answers from a new connection. It was sent on
// an ended one and failed, as the 503 page, once for each connection the pool held.
func TestPostgresReadsAfterTheConnectionsEnded(t *testing.T) {
	dsn := appNamed(t, newPostgresSchema(t))
	db := openTest(t, dsn)
	relay, rdsn := testpg.WithOutage(t, dsn)
	rdb := openTest(t, rdsn)
	ctx := context.Background()
	now := time.Now()
	// rdb reaches the same schema through the relay.
	if err := db.CreateSession(ctx, SessionRecord{ID: "s1", Data: []byte("alice"), CreatedAt: now, LastSeen: now,
		ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	id, err := db.AppendAudit(ctx, AuditEntry{Time: now, Action: "credential.reset", Domain: "acme.example",
		Logins: []string{"a@acme.example"}, Outcome: OutcomePending})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CompleteAudit(ctx, id, OutcomeOK, 200, "", now); err != nil {
		t.Fatal(err)
	}
	reads := []struct {
		name string
		run  func(db *DB) error
	}{
		{"GetSession", func(db *DB) error {
			rec, err := db.GetSession(ctx, "s1")
			if err == nil && string(rec.Data) != "alice" {
				err = fmt.Errorf("data %q, want alice", rec.Data)
			}
			return err
		}},
		{"CountActiveSessions", func(db *DB) error {
			n, err := db.CountActiveSessions(ctx, now, 0)
			if err == nil && n != 1 {
				err = fmt.Errorf("%d sessions, want 1", n)
			}
			return err
		}},
		{"DeleteSessionsMatching (its read)", func(db *DB) error {
			_, err := db.DeleteSessionsMatching(ctx, func([]byte) bool { return false })
			return err
		}},
		{"ListAudit", func(db *DB) error {
			es, err := db.ListAudit(ctx, AuditFilter{})
			if err == nil && len(es) != 1 {
				err = fmt.Errorf("%d entries, want 1", len(es))
			}
			return err
		}},
		{"EachAudit", func(db *DB) error {
			n := 0
			err := db.EachAudit(ctx, AuditFilter{}, func(AuditEntry) error { n++; return nil })
			if err == nil && n != 1 {
				err = fmt.Errorf("%d entries, want 1", n)
			}
			return err
		}},
		{"AuditDomains", func(db *DB) error {
			ds, err := db.AuditDomains(ctx)
			if err == nil && !slices.Equal(ds, []string{"acme.example"}) {
				err = fmt.Errorf("domains %q, want acme.example", ds)
			}
			return err
		}},
		{"LastOK", func(db *DB) error {
			m, err := db.LastOK(ctx, "acme.example", "credential.reset")
			if err == nil && len(m) != 1 {
				err = fmt.Errorf("%v, want a@acme.example's", m)
			}
			return err
		}},
	}
	for _, r := range reads {
		endAll(t, db, dsn)
		if err := r.run(db); err != nil {
			t.Errorf("%s after the server ended the connections: %v", r.name, err)
		}
		busyPool(t, rdb)
		relay.Down()
		relay.Up()
		if err := r.run(rdb); err != nil {
			t.Errorf("%s after the connections were cut: %v", r.name, err)
		}
	}
}

// TestConnEnded: what a read sends again (read) and begin begins again: a connection that the
// server ended or that was cut, never a statement's own error, a deadline, a cancellation or a
// server that cannot be reached.
func TestConnEnded(t *testing.T) {
	ctx := context.Background()
	_, connectErr := pgconn.Connect(ctx, "postgres://u@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if connectErr == nil {
		t.Fatal("connected to 127.0.0.1:1")
	}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"57P01, a restart", &pgconn.PgError{Code: "57P01"}, true},
		{"57P02, a crash", fmt.Errorf("x: %w", &pgconn.PgError{Code: "57P02"}), true},
		{"an EOF for an answer", io.ErrUnexpectedEOF, true},
		{"an EOF", fmt.Errorf("x: %w", io.EOF), true},
		{"a reset", reset, true},
		// pgx from v5.13.0: a connection found closed while the answer was awaited is no longer
		// safe to retry, but is pgconn.ErrConnClosed.
		{"a connection closed", fmt.Errorf("begin: %w", pgconn.ErrConnClosed), true},
		{"no such table", &pgconn.PgError{Code: "42P01"}, false},
		{"a unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"no rows", sql.ErrNoRows, false},
		{"a deadline", context.DeadlineExceeded, false},
		{"a canceled request", fmt.Errorf("x: %w", context.Canceled), false},
		{"a network timeout", timeout, false},
		{"a server that cannot be reached", connectErr, false},
		{"none", nil, false},
	} {
		if got := connEnded(tc.err); got != tc.want {
			t.Errorf("connEnded(%s: %v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestDeadlineInTheDriversWords: an operation whose deadline has passed is ErrUnavailable and
// context.DeadlineExceeded whatever the driver's error says (SQLite's "interrupted", say, which
// wraps neither), and a cancellation (the browser went away) is neither: nothing says the
// database did not answer.
func TestDeadlineInTheDriversWords(t *testing.T) {
	driver := errors.New("interrupted (9)")
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if err := unavailable(ctx, driver); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, driver) {
		t.Errorf("unavailable(a passed deadline, %v) = %v; want ErrUnavailable, context.DeadlineExceeded and the driver's error", driver, err)
	}
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := unavailable(canceled, driver); errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unavailable(a cancellation, %v) = %v; want neither ErrUnavailable nor a deadline", driver, err)
	}
}
