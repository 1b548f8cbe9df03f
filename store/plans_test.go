package store

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// The tests in this file read SQLite's query plans (EXPLAIN QUERY PLAN). SMTP Desk never runs
// ANALYZE on SQLite, so its planner has no statistics and picks the same plan whatever the rows:
// the plan of an empty database is the plan of a trail of millions, where a wrong one reads the
// whole trail on a page view. PostgreSQL's plans follow its statistics and are not asserted,
// but for one that no statistics can change (TestAuditIDSpanReadsTheRange); docs/BENCHMARKS.md
// has what both did on a trail of 1,000,000 entries.

// sqlitePlan is SQLite's plan for q with args, one line per step.
func sqlitePlan(t *testing.T, db *DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.sql.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN: %v", err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestDomainActionQueriesUseTheirIndex: a domain's password ages (LastOK) and system logins
// (NewestOKMarked) read one action's entries of one domain. Through the index on the action
// alone, which SQLite picked, they read every domain's resets: 0.25 s per domain page on a trail
// of 1,000,000 entries, however few logins the domain had.
func TestDomainActionQueriesUseTheirIndex(t *testing.T) {
	db := newSQLite(t)
	for name, q := range map[string]string{"LastOK": sqlLastOK, "NewestOKMarked": sqlNewestOKMarked} {
		plan := sqlitePlan(t, db.DB, q, "example.com", "credential.reset", OutcomeOK, "m", "m %", "m%")
		if !strings.Contains(plan, "audit_entry_domain_action (domain=? AND action=?)") {
			t.Errorf("%s's plan does not read audit_entry_domain_action by domain and action:\n%s", name, plan)
		}
	}
}

// TestAuditWalkReadsByID: an export (EachAudit) of a date range reads each batch from its
// cursor down by id. Through audit_entry_time, each batch sorted every entry of the range below
// the cursor again to keep 500 of them: an export of 90 days of a trail of 1,000,000 entries
// took over 2 minutes on SQLite (after: 1.4 s).
func TestAuditWalkReadsByID(t *testing.T) {
	db := newSQLite(t)
	from, to := t0, t0.Add(24*time.Hour)
	for _, f := range []AuditFilter{
		{From: from, To: to, Before: 1000},
		{From: from, Before: 1000},
		{To: to, Before: 1000},
		{From: from, To: to, Actor: "alice", Before: 1000},
		{From: from, To: to, Domain: "example.com", Before: 1000},
		{From: from, To: to, Domains: []string{"example.com", "example.org"}, AnyDomain: true, Before: 1000},
	} {
		q, args, ok := db.auditQuery(f, eachAuditBatch, false, true)
		if !ok {
			t.Fatalf("%+v: no query", f)
		}
		plan := sqlitePlan(t, db.DB, q, args...)
		if strings.Contains(plan, "audit_entry_time") {
			t.Errorf("a walk's batch with from %v, to %v reads audit_entry_time:\n%s", !f.From.IsZero(), !f.To.IsZero(), plan)
		}
	}
}

// TestAuditWalkReadsOnlyItsRange: an export of a date range walks only the ids of the range's
// entries, which one read of audit_entry_time finds. Bounded by the cursor alone, its first
// batch read every entry newer than "to" and its last every entry older than "from", down to the
// trail's first: the whole trail whatever the range, those two batches one query each under the
// store's 10 s deadline (about 1 µs a row on SQLite: past some 8,000,000 entries, an export that
// stops half written).
func TestAuditWalkReadsOnlyItsRange(t *testing.T) {
	from, to := t0.Add(3*time.Hour), t0.Add(9*time.Hour)
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		var id []int64
		for i := range 12 {
			id = append(id, mustAppend(t, db, entry(t0.Add(time.Duration(i)*time.Hour), "alice@corp.example", "credential.reset", "example.com", OutcomeOK, "x@example.com")))
		}
		tests := []struct {
			f             AuditFilter
			before, after int64 // the walk's bounds
			found         bool
		}{
			{AuditFilter{From: from, To: to}, id[8] + 1, id[3] - 1, true},
			{AuditFilter{From: from}, id[11] + 1, id[3] - 1, true},
			{AuditFilter{To: to}, id[8] + 1, max(id[0]-1, 0), true},
			// A cursor inside the range is kept; one past it is not.
			{AuditFilter{From: from, To: to, Before: id[5]}, id[5], id[3] - 1, true},
			{AuditFilter{From: from, To: to, Before: id[11]}, id[8] + 1, id[3] - 1, true},
			{AuditFilter{From: t0.Add(100 * time.Hour)}, 0, 0, false},
			{AuditFilter{}, 0, 0, true},
		}
		for _, tt := range tests {
			got, found, err := db.walkRange(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if found != tt.found || found && (got.Before != tt.before || got.After != tt.after) {
				t.Errorf("walkRange(%+v) = before %d, after %d, found %v; want %d, %d, %v", tt.f, got.Before, got.After, found, tt.before, tt.after, tt.found)
			}
		}
	})
	db := newSQLite(t)
	// The batches read audit_entry_id between the two bounds, and the bounds the range's part of
	// audit_entry_time.
	q, args, _ := db.auditQuery(AuditFilter{From: from, To: to, Before: 1000, After: 10}, eachAuditBatch, false, true)
	if plan := sqlitePlan(t, db.DB, q, args...); !strings.Contains(plan, "audit_entry_id (id>? AND id<?)") {
		t.Errorf("a walk's batch does not read audit_entry_id between its bounds:\n%s", plan)
	}
	for _, r := range [][2]time.Time{{from, to}, {from, time.Time{}}, {time.Time{}, to}} {
		q, args := auditIDSpanQuery(r[0], r[1])
		if plan := sqlitePlan(t, db.DB, q, args...); !strings.Contains(plan, "USING COVERING INDEX audit_entry_time (time") {
			t.Errorf("the ids of the range from %v to %v are not read from audit_entry_time:\n%s", r[0], r[1], plan)
		}
	}
}

// TestAuditIDSpanReadsTheRange: PostgreSQL reads the ids of a date range (walkRange) from the
// range's entries, not from a scan of audit_entry_id from each end that checks every entry's
// time on the way until one is in the range, which it chose for MIN(id) and MAX(id) on a few
// hundred entries as on a trail of 1,000,000 (there it read the trail from its first entry to a
// day near the newest, 0.27 s, and the whole trail twice for a range with no entry). The
// aggregates are of an expression, which no index has in order, so this plan of PostgreSQL's is
// asserted: an index scan of audit_entry_id or of the primary key is never it.
func TestAuditIDSpanReadsTheRange(t *testing.T) {
	db := newPostgres(t)
	ctx := context.Background()
	for i := range 400 {
		mustAppend(t, db, entry(t0.Add(time.Duration(i)*time.Hour), "alice@corp.example", "credential.reset", "example.com", OutcomeOK, "x@example.com"))
	}
	if _, err := db.sql.ExecContext(ctx, "ANALYZE audit_log"); err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]time.Time{{t0.Add(390 * time.Hour), t0.Add(391 * time.Hour)}, {t0.Add(190 * time.Hour), t0.Add(210 * time.Hour)}, {t0.Add(390 * time.Hour), time.Time{}}, {time.Time{}, t0.Add(time.Hour)}, {t0.Add(500 * time.Hour), time.Time{}}} {
		q, args := auditIDSpanQuery(r[0], r[1])
		plan := postgresPlan(t, db.DB, db.rebind(q), args...)
		if strings.Contains(plan, "audit_entry_id") || strings.Contains(plan, "audit_log_pkey") {
			t.Errorf("the ids of the range from %v to %v are read by scanning the ids:\n%s", r[0], r[1], plan)
		}
	}
}

// postgresPlan is PostgreSQL's plan for q with args (EXPLAIN, without costs), one line per step.
func postgresPlan(t *testing.T, db *DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.sql.QueryContext(context.Background(), "EXPLAIN (COSTS OFF) "+q, args...)
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestEachAuditDateRange: the walk's date bounds (written so that no index answers them) select
// what the page's do, on both databases: from inclusive, to exclusive.
func TestEachAuditDateRange(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		var want []int64
		for i := range 12 {
			at := t0.Add(time.Duration(i) * time.Hour)
			id := mustAppend(t, db, entry(at, "alice@corp.example", "credential.reset", "example.com", OutcomeOK, "x@example.com"))
			if i >= 3 && i < 9 {
				want = append([]int64{id}, want...)
			}
		}
		// Times out of the ids' order (a replica's clock behind): the range's ids span the
		// whole trail, and entries between them are outside the range.
		late := mustAppend(t, db, entry(t0.Add(4*time.Hour), "bob@corp.example", "credential.reset", "example.com", OutcomeOK, "x@example.com"))
		mustAppend(t, db, entry(t0.Add(time.Hour), "bob@corp.example", "credential.reset", "example.com", OutcomeOK, "x@example.com"))
		want = append([]int64{late}, want...)
		f := AuditFilter{From: t0.Add(3 * time.Hour), To: t0.Add(9 * time.Hour)}
		page, err := db.ListAudit(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var walked []int64
		if err := db.EachAudit(ctx, f, func(e AuditEntry) error { walked = append(walked, e.ID); return nil }); err != nil {
			t.Fatal(err)
		}
		if got := ids(page); !slices.Equal(got, want) || !slices.Equal(walked, want) {
			t.Errorf("ListAudit %v, EachAudit %v; want %v", got, walked, want)
		}
	})
}

// TestFoldLoginsBatchReadsFromItsKey: each batch of migration 0002 (foldAuditLogins) reads the
// primary key from the previous batch's last key. Spelt with OR, SQLite (and PostgreSQL) scanned
// the keys from the first at every batch: a migration whose time grew with the square of the
// trail's length.
func TestFoldLoginsBatchReadsFromItsKey(t *testing.T) {
	db := newSQLite(t)
	plan := sqlitePlan(t, db.DB, sqlFoldLoginsBatch, int64(7), "a@x.example", 5000)
	if !strings.Contains(plan, "SEARCH audit_logins USING COVERING INDEX sqlite_autoindex_audit_logins_1 ((entry_id,login)>(?,?))") {
		t.Errorf("a batch's read does not search the primary key from its key:\n%s", plan)
	}
}
