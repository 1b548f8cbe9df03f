package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/smtpdesk/smtpdesk/internal/testpg"
)

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
	return testpg.Schema(t)
}

func openTest(t testing.TB, dsn string, opts ...Option) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
