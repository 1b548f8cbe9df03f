package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// rollBackTo puts db's schema back to how version's migration left it, as an older SMTP Desk
// had it: what each later migration added is removed, and so is its record.
func rollBackTo(t *testing.T, db testDB, version int) {
	t.Helper()
	undo := map[int][]string{
		3: {"ALTER TABLE audit_log DROP COLUMN actor_fold"},
		4: {"DROP TABLE used_forms"},
		5: {"DROP INDEX audit_entry_domain_acted"},
		6: {"DROP INDEX audit_entry_domain_action"},
		7: {"DROP TABLE audit_retained", "ALTER TABLE audit_anchor DROP COLUMN retained"},
	}
	for v := 7; v > version; v-- {
		for _, q := range undo[v] {
			if _, err := db.sql.ExecContext(context.Background(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	if _, err := db.sql.ExecContext(context.Background(), db.rebind("DELETE FROM schema_migrations WHERE version > ?"), version); err != nil {
		t.Fatal(err)
	}
}

// TestMigrationNotice: before Open applies migrations to a database an older SMTP Desk left, it
// says which, and which of them rewrite every row of the audit trail and how many rows that is,
// so that the server's log and "web migrate" can say so before the minutes a trail of millions
// takes (they said nothing until done, and an operator who stopped the silent start undid it).
// A new database says nothing.
func TestMigrationNotice(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		for i := range 3 {
			mustAppend(t, db, entry(t0.Add(time.Duration(i)*time.Minute), "alice@corp.example", "auth.sign_in", "", OutcomeOK))
		}
		rollBackTo(t, db, 1)
		var got []MigrationNotice
		d := openTest(t, db.dsn, WithMigrationNotice(func(n MigrationNotice) { got = append(got, n) }))
		want := MigrationNotice{
			Pending: []string{"0002_fold_audit_logins.sql", "0003_fold_audit_actors.sql", "0004_used_forms.sql",
				"0005_audit_acted_domains.sql", "0006_audit_domain_action.sql", "0007_audit_retained.sql"},
			Rewrite:   []string{"0002_fold_audit_logins.sql", "0003_fold_audit_actors.sql"},
			AuditRows: 3,
		}
		if len(got) != 1 || !noticesEqual(got[0], want) {
			t.Fatalf("notices = %+v, want one: %+v", got, want)
		}
		if !slices.Equal(d.Applied(), want.Pending) {
			t.Errorf("Applied = %q, want %q", d.Applied(), want.Pending)
		}
		const text = "applying 6 migrations (0002_fold_audit_logins.sql, 0003_fold_audit_actors.sql, 0004_used_forms.sql, " +
			"0005_audit_acted_domains.sql, 0006_audit_domain_action.sql, 0007_audit_retained.sql); 0002_fold_audit_logins.sql and " +
			"0003_fold_audit_actors.sql go through each of the audit trail's 3 rows, which takes minutes on a trail of " +
			"millions; stopping now undoes them all, and the next start applies them again"
		if s := got[0].String(); s != text {
			t.Errorf("String() = %q\nwant         %q", s, text)
		}

		// A migration that rewrites nothing says so by naming none.
		rollBackTo(t, db, 6)
		got = nil
		openTest(t, db.dsn, WithMigrationNotice(func(n MigrationNotice) { got = append(got, n) }))
		want = MigrationNotice{Pending: []string{"0007_audit_retained.sql"}}
		if len(got) != 1 || !noticesEqual(got[0], want) {
			t.Fatalf("notices = %+v, want one: %+v", got, want)
		}
		if s, text := got[0].String(), "applying 1 migration (0007_audit_retained.sql); stopping now undoes it, and the next start applies it again"; s != text {
			t.Errorf("String() = %q, want %q", s, text)
		}

		// Up to date, or new: nothing to say.
		got = nil
		openTest(t, db.dsn, WithMigrationNotice(func(n MigrationNotice) { got = append(got, n) }))
		fresh := newSQLite(t).dsn + ".new"
		if db.Dialect() == DialectPostgres {
			fresh = newPostgresSchema(t)
		}
		openTest(t, fresh, WithMigrationNotice(func(n MigrationNotice) { got = append(got, n) }))
		if len(got) != 0 {
			t.Errorf("an up-to-date and a new database gave notices %+v, want none", got)
		}
	})
}

func noticesEqual(a, b MigrationNotice) bool {
	return a.Waiting == b.Waiting && slices.Equal(a.Pending, b.Pending) && slices.Equal(a.Rewrite, b.Rewrite) && a.AuditRows == b.AuditRows
}

// TestMigrationWaitsForAnotherSaysSo: a replica that starts while another holds the migration
// lock of the PostgreSQL database (applying migrations that may take minutes) says that it waits
// for it, then goes on once the lock is released.
func TestMigrationWaitsForAnotherSaysSo(t *testing.T) {
	db := newPostgres(t)
	ctx := context.Background()
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1, hashtext(current_schema()))", lockMigrate); err != nil {
		t.Fatal(err)
	}
	notices := make(chan MigrationNotice, 1)
	opened := make(chan error, 1)
	go func() {
		d, err := Open(ctx, db.dsn, WithMigrationNotice(func(n MigrationNotice) { notices <- n }))
		if err == nil {
			d.Close()
		}
		opened <- err
	}()
	select {
	case n := <-notices:
		if !n.Waiting || n.String() != "another SMTP Desk is applying migrations to this database; waiting until it is done" {
			t.Errorf("notice = %+v (%q), want the wait", n, n.String())
		}
	case err := <-opened:
		t.Fatalf("Open returned (%v) while another held the migration lock, and said nothing", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1, hashtext(current_schema()))", lockMigrate); err != nil {
		t.Fatal(err)
	}
	if err := <-opened; err != nil {
		t.Errorf("Open once the lock was released: %v", err)
	}
}

// TestMigrationFoldsAcrossBatches: migrations 0002 and 0003 read the trail a batch at a time (so
// that their memory does not grow with it); with batches of 2, an entry's logins fall in two
// batches, the folded key written back sorts after its spelling, and every row is folded once,
// as a single batch folds them.
func TestMigrationFoldsAcrossBatches(t *testing.T) {
	defer func(n int) { foldBatch = n }(foldBatch)
	foldBatch = 2
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		var entryIDs []int64
		for i, logins := range [][]string{{"A@x.example", "b@x.example", "C@x.example"}, {"d@x.example"}, {"E@x.example", "e@x.example"}} {
			e := entry(t0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("User%d@Corp.Example", i), "credential.delete", "x.example", OutcomePending, logins...)
			e.ActorName = "Émile Ødegård"
			id := mustAppend(t, db, e)
			mustComplete(t, db, id, OutcomeOK, 200, "", e.Time.Add(time.Second))
			entryIDs = append(entryIDs, id)
		}
		rollBackTo(t, db, 1)
		// Back to how version 1 wrote the keys: as written.
		if _, err := db.sql.ExecContext(ctx, "DELETE FROM audit_logins"); err != nil {
			t.Fatal(err)
		}
		for i, logins := range [][]string{{"A@x.example", "b@x.example", "C@x.example"}, {"d@x.example"}, {"E@x.example", "e@x.example"}} {
			for _, l := range logins {
				if _, err := db.sql.ExecContext(ctx, db.rebind("INSERT INTO audit_logins (entry_id, login) VALUES (?, ?)"), entryIDs[i], l); err != nil {
					t.Fatal(err)
				}
			}
		}
		d := openTest(t, db.dsn)
		rows, err := d.sql.QueryContext(ctx, "SELECT entry_id, login FROM audit_logins ORDER BY entry_id, login")
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for rows.Next() {
			var id int64
			var l string
			if err := rows.Scan(&id, &l); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, fmt.Sprintf("%d %s", slices.Index(entryIDs, id), l))
		}
		rows.Close()
		want := []string{"0 a@x.example", "0 b@x.example", "0 c@x.example", "1 d@x.example", "2 e@x.example"}
		if !slices.Equal(keys, want) {
			t.Errorf("audit_logins after the migration = %q, want %q", keys, want)
		}
		if got, err := d.ListAudit(ctx, AuditFilter{Actor: "user2@corp.example"}); err != nil || !slices.Equal(ids(got), []int64{entryIDs[2]}) {
			t.Errorf("actor filter after the migration = %v, %v; want [%d]", ids(got), err, entryIDs[2])
		}
		if rep := mustVerify(t, testDB{DB: d}); rep.BrokenAt != 0 || rep.Checked != 6 {
			t.Errorf("VerifyAudit after the migration = %+v, want 6 rows intact", rep)
		}
	})
}

// TestAuditVerifyNamesARowAnOldVersionWrote: a version from before migration 0003, started on a
// database a newer one migrated (it does not refuse, as versions from 0006 on do), writes its
// rows without actor_fold, which the column's default leaves empty. The check reports the row
// as changed, as it must, and says what may have written it, where it said only "actor_fold was
// changed".
func TestAuditVerifyNamesARowAnOldVersionWrote(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		mustAppend(t, db, entry(t0, "alice@corp.example", "auth.sign_in", "", OutcomeOK))
		id := mustAppend(t, db, entry(t0.Add(time.Minute), "bob@corp.example", "auth.sign_in", "", OutcomeOK))
		if _, err := db.sql.ExecContext(context.Background(), db.rebind("UPDATE audit_log SET actor_fold = '' WHERE id = ?"), id); err != nil {
			t.Fatal(err)
		}
		rep := mustVerify(t, db)
		const want = "actor search column is empty (actor_fold was changed, or the row was written by an SMTP Desk " +
			"older than migration 0003 started on this database after a newer one migrated it)"
		if rep.BrokenAt != id || rep.Reason != want {
			t.Errorf("VerifyAudit = broken at %d: %q; want %d: %q", rep.BrokenAt, rep.Reason, id, want)
		}
	})
}
