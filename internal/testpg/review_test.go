package testpg

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/smtpdesk/smtpdesk/internal/testport"
)

// fakeTB stands in for the testing.TB a helper is given, so that a test can see the helper skip,
// fail or register cleanups without failing itself. Fatal and Skip end the calling goroutine, as
// the real ones do; run calls the helper in a goroutine of its own.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	fatal    []string
	errs     []string
	skipped  bool
	cleanups []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = append(f.fatal, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Skip(args ...any) {
	f.mu.Lock()
	f.skipped = true
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// cleanup runs the registered cleanups, last first, as the testing package does.
func (f *fakeTB) cleanup() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	f.cleanups = nil
}

// run calls fn, which uses f, and reports whether it returned (false: it called Fatal or Skip).
func (f *fakeTB) run(fn func()) bool {
	done := make(chan bool)
	go func() {
		ok := false
		defer func() { done <- ok }()
		fn()
		ok = true
	}()
	return <-done
}

// newFake returns a fakeTB whose cleanups run when t ends, whatever the test did with them.
func newFake(t *testing.T) *fakeTB {
	t.Helper()
	f := &fakeTB{TB: t}
	t.Cleanup(f.cleanup)
	return f
}

// openT opens dsn and closes it when t ends.
func openT(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// adminDB is the test server's database, without a schema of the test's own.
func adminDB(t *testing.T) *sql.DB {
	t.Helper()
	return openT(t, serverURL())
}

// exists reports whether query (one $1) finds a row for name.
func exists(t *testing.T, db *sql.DB, query, name string) bool {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), query, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// TestSchemaSkipsOnlyOnRequest: SMTPDESK_SKIP_POSTGRES=1 skips, and nothing else does: "0" or
// unset runs the test against the server rather than quietly skipping every PostgreSQL test.
func TestSchemaSkipsOnlyOnRequest(t *testing.T) {
	for _, tc := range []struct {
		skip        string
		wantSkipped bool
	}{{"1", true}, {"0", false}, {"", false}} {
		t.Run("SMTPDESK_SKIP_POSTGRES="+tc.skip, func(t *testing.T) {
			if !tc.wantSkipped {
				skipOnRequest(t) // the developer's own request, before the row sets its own
			}
			t.Setenv("SMTPDESK_SKIP_POSTGRES", tc.skip)
			f := newFake(t)
			f.run(func() { Schema(f) })
			if got := f.skipped; got != tc.wantSkipped {
				t.Errorf("skipped = %v, want %v (fatal: %q)", got, tc.wantSkipped, f.fatal)
			}
			if !tc.wantSkipped && len(f.fatal) > 0 {
				t.Errorf("Schema failed: %q", f.fatal)
			}
		})
	}
}

// TestSchemaReportsADownServer: a server that does not answer, the one SMTPDESK_TEST_POSTGRES
// names, fails the test (never a skip) with how to start one or skip, and without the password.
func TestSchemaReportsADownServer(t *testing.T) {
	t.Setenv("SMTPDESK_SKIP_POSTGRES", "")
	addr, err := testport.Addr() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SMTPDESK_TEST_POSTGRES", "postgres://postgres:hunter2secret@"+addr+"/test?sslmode=disable&connect_timeout=5")
	f := newFake(t)
	if f.run(func() { Schema(f) }) {
		t.Fatal("Schema returned with no server answering")
	}
	if f.skipped || len(f.fatal) != 1 {
		t.Fatalf("skipped %v, fatal %q: want one failure", f.skipped, f.fatal)
	}
	got := f.fatal[0]
	for _, want := range []string{"PostgreSQL is not reachable at", addr, "SMTPDESK_SKIP_POSTGRES=1", "SMTPDESK_TEST_POSTGRES"} {
		if !strings.Contains(got, want) {
			t.Errorf("message lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "hunter2secret") {
		t.Errorf("message shows the password:\n%s", got)
	}
}

// TestSchemaIsolatedAndDropped: each Schema is a different, empty schema that the DSN's
// search_path selects, on the server SMTPDESK_TEST_POSTGRES names, and is dropped (with its
// tables) when the test ends.
func TestSchemaIsolatedAndDropped(t *testing.T) {
	skipOnRequest(t)
	f := newFake(t)
	var dsns [2]string
	if !f.run(func() { dsns[0], dsns[1] = Schema(f), Schema(f) }) {
		t.Fatalf("Schema failed: %q", f.fatal)
	}
	var schemas [2]string
	for i, dsn := range dsns {
		db := openT(t, dsn)
		if err := db.QueryRowContext(context.Background(), "SELECT current_schema()").Scan(&schemas[i]); err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := u.Query().Get("search_path"), schemas[i]; got != want || !strings.HasPrefix(got, "t_") {
			t.Errorf("DSN %s: search_path %q, current_schema %q: want the schema of the test's own", dsn, got, want)
		}
		if _, err := db.ExecContext(context.Background(), "CREATE TABLE t (id int)"); err != nil {
			t.Fatalf("create table in %s: %v", schemas[i], err)
		}
		db.Close()
	}
	if schemas[0] == schemas[1] {
		t.Fatalf("two calls gave the same schema %s", schemas[0])
	}
	admin := adminDB(t)
	const q = "SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1"
	for _, s := range schemas {
		if !exists(t, admin, q, s) {
			t.Errorf("schema %s is not on the server SMTPDESK_TEST_POSTGRES names", s)
		}
	}
	f.cleanup()
	if len(f.errs) > 0 {
		t.Errorf("cleanup: %q", f.errs)
	}
	for _, s := range schemas {
		if exists(t, admin, q, s) {
			t.Errorf("schema %s left behind after the test", s)
		}
	}
}

// TestDatabaseOwnAndDropped: Database gives a database of the test's own, made with the options
// asked for, that the DSN selects, and drops it when the test ends.
func TestDatabaseOwnAndDropped(t *testing.T) {
	skipOnRequest(t)
	f := newFake(t)
	var dsn string
	if !f.run(func() { dsn = Database(f, "ENCODING 'SQL_ASCII' TEMPLATE template0") }) {
		t.Fatalf("Database failed: %q", f.fatal)
	}
	db := openT(t, dsn)
	var name, enc string
	if err := db.QueryRowContext(context.Background(), "SELECT current_database(), pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()").Scan(&name, &enc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "t_") || enc != "SQL_ASCII" {
		t.Errorf("database %s, encoding %s: want one of the test's own, SQL_ASCII", name, enc)
	}
	if _, err := db.ExecContext(context.Background(), "CREATE TABLE t (id int)"); err != nil {
		t.Errorf("create a table in the new database: %v", err)
	}
	db.Close()
	f.cleanup()
	if len(f.errs) > 0 {
		t.Errorf("cleanup: %q", f.errs)
	}
	if exists(t, adminDB(t), "SELECT COUNT(*) FROM pg_database WHERE datname = $1", name) {
		t.Errorf("database %s left behind after the test", name)
	}
}

// TestRolesGrantWhatTheySay: ReadOnlyRole reads the schema's tables and writes nothing;
// ReadWriteRole also inserts (a serial column's sequence included), updates and deletes, and
// neither creates a table. Both roles are dropped when the test ends.
func TestRolesGrantWhatTheySay(t *testing.T) {
	skipOnRequest(t)
	f := newFake(t)
	var owner, ro, rw string
	if !f.run(func() {
		owner = Schema(f)
		db := openT(t, owner)
		if _, err := db.ExecContext(context.Background(), "CREATE TABLE t (id serial PRIMARY KEY, v int)"); err != nil {
			t.Error(err)
			return
		}
		if _, err := db.ExecContext(context.Background(), "INSERT INTO t (v) VALUES (1)"); err != nil {
			t.Error(err)
			return
		}
		ro, rw = ReadOnlyRole(f, owner), ReadWriteRole(f, owner)
	}) {
		t.Fatalf("setup failed: %q", f.fatal)
	}
	stmts := []string{"SELECT COUNT(*) FROM t", "INSERT INTO t (v) VALUES (2)", "UPDATE t SET v = 3", "DELETE FROM t WHERE v = 2", "CREATE TABLE u (id int)"}
	for _, tc := range []struct {
		dsn  string
		want []bool // whether each of stmts succeeds
	}{
		{ro, []bool{true, false, false, false, false}},
		{rw, []bool{true, true, true, true, false}},
	} {
		u, err := url.Parse(tc.dsn)
		if err != nil {
			t.Fatal(err)
		}
		db := openT(t, tc.dsn)
		for i, q := range stmts {
			_, err := db.ExecContext(context.Background(), q)
			if got := err == nil; got != tc.want[i] {
				t.Errorf("as %s: %s succeeded %v (%v), want %v", u.User.Username(), q, got, err, tc.want[i])
			}
		}
		db.Close()
	}
	f.cleanup()
	if len(f.errs) > 0 {
		t.Errorf("cleanup: %q", f.errs)
	}
	admin := adminDB(t)
	for _, dsn := range []string{ro, rw} {
		u, _ := url.Parse(dsn)
		if exists(t, admin, "SELECT COUNT(*) FROM pg_roles WHERE rolname = $1", u.User.Username()) {
			t.Errorf("role %s left behind after the test", u.User.Username())
		}
	}
}

// TestEndConnectionsEndsOnlyItsOwn: EndConnections ends the connections with the DSN's
// application_name, says how many, and leaves another application's connection alone.
func TestEndConnectionsEndsOnlyItsOwn(t *testing.T) {
	skipOnRequest(t)
	dsn := Schema(t)
	with := func(app string) (*sql.DB, *sql.Conn) {
		u, _ := url.Parse(dsn)
		q := u.Query()
		q.Set("application_name", app)
		u.RawQuery = q.Encode()
		db := openT(t, u.String())
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.PingContext(context.Background()); err != nil {
			t.Fatal(err)
		}
		return db, c
	}
	mine := "mine_" + strings.TrimPrefix(mustSearchPath(t, dsn), "t_")
	_, c1 := with(mine)
	_, c2 := with(mine)
	_, other := with("other_" + mine)
	u, _ := url.Parse(dsn)
	q := u.Query()
	q.Set("application_name", mine)
	u.RawQuery = q.Encode()
	if got, want := EndConnections(t, u.String()), 2; got != want {
		t.Errorf("EndConnections = %d, want %d", got, want)
	}
	for _, c := range []*sql.Conn{c1, c2} {
		if err := c.PingContext(context.Background()); err == nil {
			t.Error("a connection of the application still answers")
		}
	}
	if err := other.PingContext(context.Background()); err != nil {
		t.Errorf("another application's connection was ended: %v", err)
	}
}

func mustSearchPath(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("search_path")
}

// TestOutageLosesCommitsAsAsked: through the relay, LoseNextCommit loses one COMMIT (the client
// hears an error, the row is not there), the next COMMIT goes through, LoseNextCommitAnswer
// commits but the client hears an error, CommitsLost counts both, and Down refuses connections
// until Up.
func TestOutageLosesCommitsAsAsked(t *testing.T) {
	skipOnRequest(t)
	direct := Schema(t)
	ddb := openT(t, direct)
	if _, err := ddb.ExecContext(context.Background(), "CREATE TABLE t (v int)"); err != nil {
		t.Fatal(err)
	}
	o, relayed := WithOutage(t, direct)
	if relayed == direct || !strings.Contains(relayed, mustSearchPath(t, direct)) {
		t.Fatalf("relayed DSN %s, want the DSN %s with the relay's address", relayed, direct)
	}
	db := openT(t, relayed)
	insert := func(v int) error {
		tx, err := db.BeginTx(context.Background(), nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(context.Background(), "INSERT INTO t VALUES ($1)", v); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	stored := func(v int) bool {
		var n int
		if err := ddb.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM t WHERE v = $1", v).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	for _, tc := range []struct {
		v          int
		fault      func()
		wantErr    bool
		wantStored bool
		wantLost   int
	}{
		{1, func() {}, false, true, 0},
		{2, o.LoseNextCommit, true, false, 1},
		{3, func() {}, false, true, 1},
		{4, o.LoseNextCommitAnswer, true, true, 2},
		{5, func() {}, false, true, 2},
	} {
		tc.fault()
		err := insert(tc.v)
		if got := err != nil; got != tc.wantErr {
			t.Errorf("insert %d: error %v, want an error: %v", tc.v, err, tc.wantErr)
		}
		if got := stored(tc.v); got != tc.wantStored {
			t.Errorf("insert %d: stored %v, want %v", tc.v, got, tc.wantStored)
		}
		if got := o.CommitsLost(); got != tc.wantLost {
			t.Errorf("after insert %d: CommitsLost %d, want %d", tc.v, got, tc.wantLost)
		}
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	o.Down()
	if err := conn.PingContext(context.Background()); err == nil {
		t.Error("a connection through the relay still answers after Down")
	}
	if _, err := net.Dial("tcp", mustHost(t, relayed)); err == nil {
		t.Error("the relay takes connections after Down")
	}
	o.Up()
	if err := db.PingContext(context.Background()); err != nil {
		t.Errorf("after Up: %v", err)
	}
}

func mustHost(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// TestEndConnectionsWantsAnApplicationName: a DSN without application_name fails the test
// rather than ending every connection that set none (other tests' among them). The DSN is of a
// database of the test's own, so that even a broken EndConnections ends nobody else's.
func TestEndConnectionsWantsAnApplicationName(t *testing.T) {
	skipOnRequest(t)
	f := newFake(t)
	var dsn string
	if !f.run(func() { dsn = Database(f, "") }) {
		t.Fatalf("Database failed: %q", f.fatal)
	}
	db := openT(t, dsn)
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if f.run(func() { EndConnections(f, dsn) }) || len(f.fatal) != 1 || !strings.Contains(f.fatal[0], "application_name") {
		t.Errorf("EndConnections without application_name: fatal %q, want one saying to set one", f.fatal)
	}
	if err := c.PingContext(context.Background()); err != nil {
		t.Errorf("a connection without application_name was ended: %v", err)
	}
}
