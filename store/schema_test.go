package store

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/internal/testpg"
)

// TestOpenReadOnly: OpenReadOnly opens an up-to-date database without migrating, reads it, and
// refuses to write; it refuses a database with a pending migration (changing nothing) and one
// a newer version migrated, each with a *SchemaError that names the migrations.
func TestOpenReadOnly(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		mustAppend(t, db, entry(t0, "alice@corp.example", "credential.reset", "example.com", OutcomeOK, "x@example.com"))
		ms, err := db.migrations()
		if err != nil {
			t.Fatal(err)
		}
		last := ms[len(ms)-1].name

		ro, err := OpenReadOnly(ctx, db.dsn)
		if err != nil {
			t.Fatalf("OpenReadOnly of an up-to-date database: %v", err)
		}
		if rep, err := ro.VerifyAudit(ctx); err != nil || rep.Checked != 1 || rep.BrokenAt != 0 {
			t.Errorf("VerifyAudit through OpenReadOnly = %+v, %v; want 1 row, intact", rep, err)
		}
		if got := ro.Applied(); len(got) != 0 {
			t.Errorf("OpenReadOnly applied %v", got)
		}
		if _, err := ro.AppendAudit(ctx, entry(t0, "mallory@corp.example", "credential.reset", "example.com", OutcomeOK)); err == nil {
			t.Error("AppendAudit through OpenReadOnly succeeded; its connections should refuse writes")
		}
		ro.Close()

		// Back to how the previous version left the database: the newest migration not applied.
		for _, q := range []string{"DROP TABLE audit_retained", "ALTER TABLE audit_anchor DROP COLUMN retained", "DELETE FROM schema_migrations WHERE version = 7"} {
			if _, err := db.sql.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if last != "0007_audit_retained.sql" {
			t.Fatalf("newest migration %s: undo it above instead of 0007", last)
		}
		before := testpg.SchemaSnapshot(t, db.sql, db.dialect == DialectPostgres)
		ro, err = OpenReadOnly(ctx, db.dsn)
		se, ok := errors.AsType[*SchemaError](err)
		if !ok || se.NoSchema || !slices.Equal(se.Pending, []string{last}) || len(se.Unknown) != 0 {
			t.Fatalf("OpenReadOnly with %s pending = %v (%#v), want a SchemaError naming it", last, err, se)
		}
		if ro != nil {
			t.Error("OpenReadOnly returned a handle with its error")
		}
		if want := "1 migration is not applied yet (" + last + ")"; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
		if after := testpg.SchemaSnapshot(t, db.sql, db.dialect == DialectPostgres); !slices.Equal(after, before) {
			t.Errorf("OpenReadOnly changed the schema:\nbefore %q\nafter  %q", before, after)
		}

		// Migrated by a newer version: a migration this binary does not have.
		d, err := Open(ctx, db.dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Applied(); !slices.Equal(got, []string{last}) {
			t.Errorf("Open applied %v, want [%s]", got, last)
		}
		if v, name, err := d.SchemaVersion(ctx); v != 7 || name != last || err != nil {
			t.Errorf("SchemaVersion = %d, %q, %v; want 7, %q", v, name, err, last)
		}
		d.Close()
		if _, err := db.sql.ExecContext(ctx, db.rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
			99, "0099_from_the_future.sql", time.Now().UnixNano()); err != nil {
			t.Fatal(err)
		}
		_, err = OpenReadOnly(ctx, db.dsn)
		se, ok = errors.AsType[*SchemaError](err)
		if !ok || len(se.Pending) != 0 || !slices.Equal(se.Unknown, []string{"0099_from_the_future.sql"}) {
			t.Fatalf("OpenReadOnly of a newer schema = %v (%#v), want a SchemaError naming 0099", err, se)
		}
		if want := "does not know (0099_from_the_future.sql): a newer version migrated it"; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}

		// The server's Open refuses it too: this binary would write rows without what the newer
		// migrations added, which the newer integrity check would report as changed.
		before = testpg.SchemaSnapshot(t, db.sql, db.dialect == DialectPostgres)
		d, err = Open(ctx, db.dsn)
		se, ok = errors.AsType[*SchemaError](err)
		if d != nil {
			d.Close()
			t.Error("Open returned a handle with its error")
		}
		if !ok || len(se.Pending) != 0 || !slices.Equal(se.Unknown, []string{"0099_from_the_future.sql"}) {
			t.Fatalf("Open of a newer schema = %v (%#v), want a SchemaError naming 0099", err, se)
		}
		if want := "store: the database records 1 migration this SMTP Desk does not know (0099_from_the_future.sql)"; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error %q does not start with %q", err, want)
		}
		if after := testpg.SchemaSnapshot(t, db.sql, db.dialect == DialectPostgres); !slices.Equal(after, before) {
			t.Errorf("Open of a newer schema changed it:\nbefore %q\nafter  %q", before, after)
		}
	})
}

// TestOpenReadOnlyEmpty: a database SMTP Desk never migrated is refused as one without its
// schema, and OpenReadOnly creates nothing in it.
func TestOpenReadOnlyEmpty(t *testing.T) {
	ctx := context.Background()
	sqlite := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(sqlite, nil, 0o600); err != nil { // an empty file is an empty SQLite database
		t.Fatal(err)
	}
	for name, dsn := range map[string]string{"sqlite": sqlite, "postgres": newPostgresSchema(t)} {
		t.Run(name, func(t *testing.T) {
			_, err := OpenReadOnly(ctx, dsn)
			se, ok := errors.AsType[*SchemaError](err)
			if !ok || !se.NoSchema || len(se.Pending) != 7 {
				t.Fatalf("OpenReadOnly of an empty database = %v (%#v), want NoSchema with every migration pending", err, se)
			}
			if want := "no SMTP Desk schema in this " + name + " database"; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
			d, err := Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if got := d.Applied(); len(got) != 7 {
				t.Errorf("Open after OpenReadOnly applied %v, want all 7 (OpenReadOnly created schema_migrations?)", got)
			}
		})
	}
}

// TestOpenReadOnlyCreatesNoFile: OpenReadOnly of a SQLite file that does not exist fails and
// leaves no file behind (SQLite creates one on open otherwise), as a plain path or a file: URI.
func TestOpenReadOnlyCreatesNoFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ dsn, file string }{
		{filepath.Join(dir, "plain.db"), filepath.Join(dir, "plain.db")},
		{"sqlite:" + filepath.Join(dir, "prefixed.db"), filepath.Join(dir, "prefixed.db")},
		{"file:" + filepath.Join(dir, "uri.db") + "?cache=private", filepath.Join(dir, "uri.db")},
	} {
		if db, err := OpenReadOnly(context.Background(), tc.dsn); err == nil {
			db.Close()
			t.Errorf("OpenReadOnly(%q) of a missing file succeeded", tc.dsn)
		}
		if _, err := os.Stat(tc.file); err == nil {
			t.Errorf("OpenReadOnly(%q) created %s", tc.dsn, tc.file)
		}
	}
}

// TestOpenRefusesADatabaseNotInUTF8: Open refuses a PostgreSQL database whose encoding is not UTF8
// (SQL_ASCII keeps any bytes unchecked, LATIN1 refuses most of the world's letters), names it and
// says how to create a UTF8 one, and creates nothing in it. OpenReadOnly does not refuse it, so
// that a trail already written there can be verified: it finds no schema here.
func TestOpenRefusesADatabaseNotInUTF8(t *testing.T) {
	dsn := testpg.Database(t, "ENCODING 'SQL_ASCII' TEMPLATE template0")
	ctx := context.Background()
	db, err := Open(ctx, dsn)
	if err == nil {
		db.Close()
		t.Fatal("Open of a SQL_ASCII database succeeded")
	}
	u, _ := url.Parse(dsn)
	name := strings.TrimPrefix(u.Path, "/")
	ee, ok := errors.AsType[*EncodingError](err)
	if !ok || ee.Database != name || ee.Encoding != "SQL_ASCII" {
		t.Fatalf("Open of a SQL_ASCII database = %v (%#v), want an EncodingError naming %s and SQL_ASCII", err, ee, name)
	}
	for _, want := range []string{`"` + name + `"`, "SQL_ASCII", "CREATE DATABASE " + `"` + name + `"` + " ENCODING 'UTF8' TEMPLATE template0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open's error %q does not say %q", err, want)
		}
	}
	// Nothing was created: OpenReadOnly finds no schema.
	_, err = OpenReadOnly(ctx, dsn)
	if se, ok := errors.AsType[*SchemaError](err); !ok || !se.NoSchema {
		t.Errorf("OpenReadOnly after the refusal = %v, want a SchemaError: no schema", err)
	}
}

// TestOpenAsARoleThatMayOnlyReadAndWrite: a server may run as a PostgreSQL role that may read
// and write SMTP Desk's tables but not create or change them, once "web migrate" (or a first
// start) applied the migrations as another. Open created schema_migrations "IF NOT EXISTS",
// which needs the right to create in the schema even when the table is there, so such a role
// could not start at all ("permission denied for schema").
func TestOpenAsARoleThatMayOnlyReadAndWrite(t *testing.T) {
	owner := newPostgres(t) // migrated as the schema's owner
	rw := testpg.ReadWriteRole(t, owner.dsn)
	ctx := context.Background()
	db, err := Open(ctx, rw)
	if err != nil {
		t.Fatalf("Open as a role that may only read and write: %v", err)
	}
	defer db.Close()
	if len(db.applied) != 0 {
		t.Errorf("applied %v, want nothing: the owner applied every migration", db.applied)
	}
	// It works as the server needs: an audit entry written and the chain checked.
	if _, err := db.AppendAudit(ctx, entry(t0, "alice@corp.example", "credential.reset", "example.com", OutcomeOK, "a@example.com")); err != nil {
		t.Errorf("append an audit entry: %v", err)
	}
	if rep, err := db.VerifyAudit(ctx); err != nil || rep.BrokenAt != 0 || rep.Checked != 1 {
		t.Errorf("verify = %+v, %v; want one intact row", rep, err)
	}
}
