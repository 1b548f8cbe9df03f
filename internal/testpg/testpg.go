// Package testpg gives tests a PostgreSQL schema of their own on the test server, so that test
// packages running in parallel do not collide.
package testpg

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// DefaultURL is the test server when SMTPDESK_TEST_POSTGRES is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// skipOnRequest skips t when SMTPDESK_SKIP_POSTGRES=1 asks for the PostgreSQL tests to be skipped.
func skipOnRequest(t testing.TB) {
	t.Helper()
	if os.Getenv("SMTPDESK_SKIP_POSTGRES") == "1" {
		t.Skip("SMTPDESK_SKIP_POSTGRES=1: PostgreSQL tests skipped on request")
	}
}

// serverURL is the test server: SMTPDESK_TEST_POSTGRES, or DefaultURL when it is unset.
func serverURL() string {
	if u := os.Getenv("SMTPDESK_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultURL
}

// Schema creates an empty PostgreSQL schema for one test, dropped when the test ends, and
// returns a DSN whose search_path points at it. The server is SMTPDESK_TEST_POSTGRES (default
// the local one on 127.0.0.1:5432, database test); SMTPDESK_SKIP_POSTGRES=1 skips the test on
// request, and an unreachable server fails it with how to start one.
func Schema(t testing.TB) string {
	t.Helper()
	skipOnRequest(t)
	base := serverURL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err == nil {
		err = admin.PingContext(ctx)
	}
	if err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s: %v\n"+
			"Start it (e.g. `docker run -d -p 127.0.0.1:5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16` "+
			"and `createdb -h 127.0.0.1 -U postgres test`), point SMTPDESK_TEST_POSTGRES at another server, "+
			"or set SMTPDESK_SKIP_POSTGRES=1 to skip these tests explicitly.", redactDSN(base), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse SMTPDESK_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Database creates a PostgreSQL database of the test's own with CREATE DATABASE's options (say
// "ENCODING 'SQL_ASCII' TEMPLATE template0"), dropped when the test ends, and returns the DSN of
// Schema's server pointed at it. Prefer Schema: a database costs the server far more than a schema.
func Database(t testing.TB, options string) string {
	t.Helper()
	u, err := url.Parse(Schema(t)) // the server's URL, checked reachable; the schema goes unused
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" "+options); err != nil {
		admin.Close()
		t.Fatalf("create database %s %s: %v", name, options, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE: the test's own connections may not all be closed yet.
		if _, err := admin.ExecContext(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		admin.Close()
	})
	u.Path = "/" + name
	return u.String()
}

// ReadOnlyRole creates a PostgreSQL role that may only read the tables of dsn's schema (one
// Schema returned): USAGE on the schema and SELECT on the tables named, or on every table it has
// now when none is, nothing else. It returns dsn signed in as that role. Roles are the whole
// server's, not one database's, so the name is random per call, and the role is dropped when the
// test ends (before Schema's schema).
func ReadOnlyRole(t testing.TB, dsn string, tables ...string) string {
	t.Helper()
	return role(t, dsn, "ro_", "SELECT", tables...)
}

// ReadWriteRole is ReadOnlyRole with INSERT, UPDATE and DELETE on the tables too, and the use of
// their sequences: what a server needs to run, but not to create or change a table.
func ReadWriteRole(t testing.TB, dsn string) string {
	t.Helper()
	return role(t, dsn, "rw_", "SELECT, INSERT, UPDATE, DELETE")
}

func role(t testing.TB, dsn, prefix, privileges string, tables ...string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	schema := u.Query().Get("search_path")
	if schema == "" {
		t.Fatal("testpg: the DSN names no search_path; pass one testpg.Schema returned")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	role := prefix + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE ROLE "+role+" LOGIN"); err != nil {
		admin.Close()
		t.Fatalf("create role %s: %v", role, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// DROP OWNED BY also revokes what the role was granted (in this database, the only
		// one it was granted anything in), which DROP ROLE needs.
		for _, q := range []string{"DROP OWNED BY " + role, "DROP ROLE " + role} {
			if _, err := admin.ExecContext(ctx, q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
		admin.Close()
	})
	grants := []string{
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT " + privileges + " ON ALL TABLES IN SCHEMA " + schema + " TO " + role,
	}
	if len(tables) > 0 {
		grants[1] = "GRANT " + privileges + " ON TABLE " + schema + "." + strings.Join(tables, ", "+schema+".") + " TO " + role
	}
	if privileges != "SELECT" {
		grants = append(grants, "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "+schema+" TO "+role)
	}
	for _, q := range grants {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	u.User = url.User(role)
	return u.String()
}

func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

// SchemaSnapshot describes the schema of the database db is connected to, one line per table,
// index, column or applied migration, so that a test can check that something changed none of
// it: SQLite's sqlite_master, or (postgres) the current schema's columns and indexes; then the
// schema_migrations rows.
func SchemaSnapshot(t testing.TB, db *sql.DB, postgres bool) []string {
	t.Helper()
	q := "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master ORDER BY type, name"
	if postgres {
		q = `SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns
			WHERE table_schema = current_schema()
			UNION ALL SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()
			ORDER BY 1`
	}
	var snap []string
	for _, stmt := range []string{q, "SELECT version || ' ' || name FROM schema_migrations ORDER BY version"} {
		rows, err := db.QueryContext(context.Background(), stmt)
		if err != nil {
			t.Fatalf("schema snapshot: %v", err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatalf("schema snapshot: %v", err)
			}
			snap = append(snap, s)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			t.Fatalf("schema snapshot: %v", err)
		}
	}
	return snap
}

// EndConnections ends every connection to dsn's database that carries dsn's application_name (set
// one of the test's own in the DSN), as the server does to all of its connections when it shuts
// down or restarts (SQLSTATE 57P01), and waits until they are gone. It returns how many it ended.
func EndConnections(t testing.TB, dsn string) int {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	app := u.Query().Get("application_name")
	if app == "" {
		t.Fatal("testpg.EndConnections: the DSN names no application_name; set one of the test's own")
	}
	q := u.Query()
	q.Del("application_name")
	u.RawQuery = q.Encode()
	admin, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The pids first, then each ended by its own statement: a condition beside
	// pg_terminate_backend in one WHERE may be evaluated after it, ending other tests' connections.
	rows, err := admin.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1
		AND datname = current_database()`, app)
	if err != nil {
		t.Fatalf("end connections of %s: %v", app, err)
	}
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			t.Fatalf("end connections of %s: %v", app, err)
		}
		pids = append(pids, pid)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		t.Fatalf("end connections of %s: %v", app, err)
	}
	for _, pid := range pids {
		if _, err := admin.ExecContext(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatalf("end connection %d of %s: %v", pid, app, err)
		}
	}
	for {
		var left int
		if err := admin.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1
			AND datname = current_database()`, app).Scan(&left); err != nil {
			t.Fatalf("end connections of %s: %v", app, err)
		}
		if left == 0 {
			return len(pids)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
