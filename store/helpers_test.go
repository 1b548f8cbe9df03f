package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const defaultTestPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// testDB is one database under test plus a way to open more handles on it
// (another "process" or replica).
type testDB struct {
	*DB
	dsn string
}

// forEachDialect runs fn as a subtest on a fresh SQLite file and on a fresh
// PostgreSQL schema.
func forEachDialect(t *testing.T, fn func(t *testing.T, db testDB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, newSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, newPostgres(t)) })
}

func newSQLite(t testing.TB) testDB {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "test.db")
	return testDB{DB: openTest(t, dsn), dsn: dsn}
}

// newPostgres creates a schema of its own (so parallel test packages do not
// collide), points search_path at it and drops it when the test ends.
func newPostgres(t testing.TB) testDB {
	t.Helper()
	dsn := newPostgresSchema(t)
	return testDB{DB: openTest(t, dsn), dsn: dsn}
}

// newPostgresSchema creates an empty schema as newPostgres does, without opening it, and
// returns the DSN that points search_path at it.
func newPostgresSchema(t testing.TB) string {
	t.Helper()
	if os.Getenv("SMTPDESK_SKIP_POSTGRES") == "1" {
		t.Skip("SMTPDESK_SKIP_POSTGRES=1: PostgreSQL tests skipped on request")
	}
	base := os.Getenv("SMTPDESK_TEST_POSTGRES")
	if base == "" {
		base = defaultTestPostgres
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

func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

func openTest(t testing.TB, dsn string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
