package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// SchemaError is OpenReadOnly's answer for a database whose schema is not the one this binary's
// migrations make: some are still to apply, or the database records some this binary does not
// have. Open would apply the first kind; nothing here can read the second safely.
type SchemaError struct {
	Dialect string
	// NoSchema is set when the database has no schema_migrations table at all (a database
	// SMTP Desk never opened, or one this role cannot see); every migration is then Pending.
	NoSchema bool
	// Pending are the migrations Open would apply, by file name, oldest first.
	Pending []string
	// Unknown are the migrations the database records that this binary does not have, by the
	// name recorded, oldest first: a newer SMTP Desk migrated the database.
	Unknown []string
}

// Error says what the database lacks or has too many of; the command that opened it says what to
// do about it.
func (e *SchemaError) Error() string {
	var parts []string
	switch {
	case e.NoSchema:
		parts = append(parts, fmt.Sprintf("no SMTP Desk schema in this %s database (no schema_migrations table; "+
			"is it the server's database, and may this role use its schema?): %d %s pending (%s)",
			e.Dialect, len(e.Pending), plural(len(e.Pending), "migration is", "migrations are"), strings.Join(e.Pending, ", ")))
	case len(e.Pending) > 0:
		parts = append(parts, fmt.Sprintf("the database's schema is older than this SMTP Desk: %d %s not applied yet (%s)",
			len(e.Pending), plural(len(e.Pending), "migration is", "migrations are"), strings.Join(e.Pending, ", ")))
	}
	if len(e.Unknown) > 0 {
		parts = append(parts, fmt.Sprintf("the database records %d %s this SMTP Desk does not know (%s): a newer version migrated it",
			len(e.Unknown), plural(len(e.Unknown), "migration", "migrations"), strings.Join(e.Unknown, ", ")))
	}
	return "store: " + strings.Join(parts, "; ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// migrationsTableExists is the query that counts the schema_migrations tables: 1 or 0.
func (db *DB) migrationsTableExists() string {
	if db.dialect == DialectPostgres {
		// to_regclass follows search_path, as the queries do, and is NULL for a missing table.
		return "SELECT COUNT(*) FROM (SELECT to_regclass('schema_migrations') AS t) r WHERE t IS NOT NULL"
	}
	return "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
}

// CheckSchema reads which migrations the database records and returns a *SchemaError unless they
// are exactly this binary's. Pending means what Open would apply (the migrations after the newest
// recorded), so the two agree. OpenReadOnly runs it instead of migrating.
func (db *DB) CheckSchema(ctx context.Context) error {
	ms, err := db.migrations()
	if err != nil {
		return err
	}
	var n int
	if err := db.sql.QueryRowContext(ctx, db.migrationsTableExists()).Scan(&n); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	schemaErr := &SchemaError{Dialect: db.dialect, NoSchema: n == 0}
	known := make(map[int]bool, len(ms))
	for _, m := range ms {
		known[m.version] = true
	}
	current := 0
	if n > 0 {
		rows, err := db.sql.QueryContext(ctx, "SELECT version, name FROM schema_migrations ORDER BY version")
		if err != nil {
			return fmt.Errorf("store: read schema version: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			var name string
			if err := rows.Scan(&v, &name); err != nil {
				return fmt.Errorf("store: read schema version: %w", err)
			}
			current = max(current, v)
			if !known[v] {
				schemaErr.Unknown = append(schemaErr.Unknown, name)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: read schema version: %w", err)
		}
	}
	for _, m := range ms {
		if m.version > current {
			schemaErr.Pending = append(schemaErr.Pending, m.name)
		}
	}
	if schemaErr.NoSchema || len(schemaErr.Pending) > 0 || len(schemaErr.Unknown) > 0 {
		return schemaErr
	}
	return nil
}

// SchemaVersion is the newest migration the database records (0 for none): what "web migrate"
// reports once it has applied this binary's.
func (db *DB) SchemaVersion(ctx context.Context) (version int, name string, err error) {
	err = db.sql.QueryRowContext(ctx, "SELECT version, name FROM schema_migrations ORDER BY version DESC LIMIT 1").Scan(&version, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("store: read schema version: %w", err)
	}
	return version, name, nil
}

// Applied lists the migrations Open applied to the database, by file name, oldest first: none
// when it was up to date, and none for OpenReadOnly.
func (db *DB) Applied() []string { return slices.Clone(db.applied) }

// MigrationNotice is what Open tells the function WithMigrationNotice sets before migration work
// that someone waiting for SMTP Desk to start should hear about: a migration's time grows with
// the audit trail, and nothing answers meanwhile.
type MigrationNotice struct {
	// Waiting is set, alone, when another process holds the migration lock of this PostgreSQL
	// database (a replica that started at the same moment): Open waits until it is done, then
	// applies what is left, usually nothing.
	Waiting bool
	// Pending are the migrations Open is about to apply to a database that has a schema already,
	// by file name, oldest first.
	Pending []string
	// Rewrite are those of Pending that go through every row of the audit trail (in Go, a batch at
	// a time), and AuditRows the number of rows the trail has (counted only when Rewrite is
	// set): their time grows with it.
	Rewrite   []string
	AuditRows int64
}

// String says the notice in a sentence, for a log or a terminal.
func (n MigrationNotice) String() string {
	if n.Waiting {
		return "another SMTP Desk is applying migrations to this database; waiting until it is done"
	}
	s := fmt.Sprintf("applying %d %s (%s)", len(n.Pending), plural(len(n.Pending), "migration", "migrations"), strings.Join(n.Pending, ", "))
	if len(n.Rewrite) > 0 {
		s += fmt.Sprintf("; %s %s through each of the audit trail's %d rows, which takes minutes on a trail of millions",
			strings.Join(n.Rewrite, " and "), plural(len(n.Rewrite), "goes", "go"), n.AuditRows)
	}
	return s + "; stopping now undoes " + plural(len(n.Pending), "it", "them all") + ", and the next start applies " +
		plural(len(n.Pending), "it", "them") + " again"
}

// WithMigrationNotice has Open call fn, before it goes on, when it waits for another process's
// migrations and before it applies migrations to a database that has a
// schema already: the server logs it, "web migrate" prints it.
func WithMigrationNotice(fn func(MigrationNotice)) Option {
	return func(db *DB) { db.notice = fn }
}
