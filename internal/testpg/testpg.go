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
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// DefaultURL is the test server when SMTPDESK_TEST_POSTGRES is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Schema creates an empty PostgreSQL schema for one test, dropped when the test ends, and
// returns a DSN whose search_path points at it. The server is SMTPDESK_TEST_POSTGRES (default
// the local one on 127.0.0.1:5432, database test); SMTPDESK_SKIP_POSTGRES=1 skips the test on
// request, and an unreachable server fails it with how to start one.
func Schema(t testing.TB) string {
	t.Helper()
	if os.Getenv("SMTPDESK_SKIP_POSTGRES") == "1" {
		t.Skip("SMTPDESK_SKIP_POSTGRES=1: PostgreSQL tests skipped on request")
	}
	base := os.Getenv("SMTPDESK_TEST_POSTGRES")
	if base == "" {
		base = DefaultURL
	}
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

// ReadOnlyRole creates a PostgreSQL role that may only read the tables of dsn's schema (one
// Schema returned): USAGE on the schema and SELECT on the tables it has now, nothing else. It
// returns dsn signed in as that role. Roles are the whole server's, not one database's, so the
// name is random per call, and the role is dropped when the test ends (before Schema's schema).
func ReadOnlyRole(t testing.TB, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	schema := u.Query().Get("search_path")
	if schema == "" {
		t.Fatal("testpg.ReadOnlyRole: the DSN names no search_path; pass one testpg.Schema returned")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	role := "ro_" + hex.EncodeToString(b[:])
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
	for _, q := range []string{
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT ON ALL TABLES IN SCHEMA " + schema + " TO " + role,
	} {
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
