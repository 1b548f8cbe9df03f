package store

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRetentionKeepsWhatThePagesRead: retention removes old entries, and with them what the pages
// read from the trail (LastOK: when SMTP Desk last reset a login's password; NewestOKMarked: the
// logins it created as system logins). With AUDIT_RETENTION=180d a login reset 200 days ago was
// "consider rotating" again, and a system login lost its mark. Whatever prefix retention removes,
// both answer as they did before, failed, unknown and pending entries still not counting, and a
// login created again without the mark after a marked create still unmarked.
func TestRetentionKeepsWhatThePagesRead(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		const sys = "Asked for as system logins."
		add := func(at time.Time, action, domain, detail, outcome string, logins ...string) {
			e := entry(at, "alice@corp.example", action, domain, OutcomePending, logins...)
			e.Detail = detail
			id := mustAppend(t, db, e)
			if outcome != OutcomePending {
				mustComplete(t, db, id, outcome, 200, "", at.Add(time.Second))
			}
		}
		h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
		add(h(0), "credential.reset", "example.com", "", OutcomeOK, "a@example.com")
		add(h(1), "credential.reset", "example.com", "", OutcomeOK, "A@Example.com")
		add(h(2), "credential.reset", "example.com", "", OutcomeFailed, "a@example.com")
		add(h(3), "credential.reset", "example.com", "", OutcomeUnknown, "b@example.com")
		add(h(4), "credential.reset", "example.com", "", OutcomePending, "c@example.com")
		add(h(5), "credential.create", "example.com", sys, OutcomeOK, "s@example.com", "t@example.com", "u@example.com")
		add(h(6), "credential.create", "example.com", "", OutcomeOK, "T@example.com") // made again, not a system login
		add(h(7), "credential.create", "example.com", sys, OutcomeFailed, "v@example.com")
		add(h(8), "credential.reset", "acme.example", "", OutcomeOK, "e@acme.example")
		add(h(9), "credential.reset", "example.com", "", OutcomeOK, "f@example.com")
		add(h(10), "credential.create", "example.com", sys, OutcomeOK, "u@example.com") // made again, a system login
		add(h(11), "credential.reset", "example.com", "", OutcomeOK, "a@example.com")
		add(h(12), "auth.sign_in", "", "", OutcomeOK)

		read := func() (map[string]time.Time, map[string]MarkedOK) {
			t.Helper()
			resets, err := db.LastOK(ctx, "example.com", "credential.reset")
			if err != nil {
				t.Fatal(err)
			}
			marked, err := db.NewestOKMarked(ctx, "example.com", "credential.create", sys)
			if err != nil {
				t.Fatal(err)
			}
			return resets, marked
		}
		wantResets, wantMarked := read()
		if len(wantResets) != 2 || !wantResets["a@example.com"].Equal(h(11)) || len(wantMarked) != 2 {
			t.Fatalf("before retention: LastOK = %v, NewestOKMarked = %v", wantResets, wantMarked)
		}
		for cut := 1; cut <= 13; cut++ {
			if _, err := db.DeleteAuditBefore(ctx, h(cut).Add(-time.Minute)); err != nil {
				t.Fatal(err)
			}
			resets, marked := read()
			if !maps.EqualFunc(resets, wantResets, time.Time.Equal) {
				t.Errorf("retention before hour %d: LastOK = %v, want %v", cut, resets, wantResets)
			}
			if !maps.EqualFunc(marked, wantMarked, func(a, b MarkedOK) bool { return a.At.Equal(b.At) && a.Completed.Equal(b.Completed) }) {
				t.Errorf("retention before hour %d: NewestOKMarked = %v, want %v", cut, marked, wantMarked)
			}
		}
		if rep := mustVerify(t, db); rep.BrokenAt != 0 || rep.Checked != 0 {
			t.Errorf("after retention removed every entry: VerifyAudit = %+v", rep)
		}
	})
}

// TestRetentionKeepsOnlyWhatThePagesRead: audit_retained keeps only what the pages read
// (credential.reset for LastOK, credential.create for NewestOKMarked): entries of other actions
// (a delete, a delete all) kept their logins in it for good, read by nothing; and what it kept of
// a login a successful delete removed since is forgotten with that delete's entry.
func TestRetentionKeepsOnlyWhatThePagesRead(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		add := func(at time.Time, action string, logins ...string) {
			id := mustAppend(t, db, entry(at, "alice@corp.example", action, "example.com", OutcomePending, logins...))
			mustComplete(t, db, id, OutcomeOK, 200, "", at.Add(time.Second))
		}
		add(t0.Add(-2*time.Hour), "credential.reset", "gone@example.com", "kept@example.com")
		add(t0.Add(-time.Hour), "credential.create", "bob.personal@example.com")
		for i, action := range []string{"credential.delete", "credential.delete_all"} {
			add(t0.Add(time.Duration(i)*time.Hour), action, "gone@example.com", "bob.personal@example.com")
		}
		if _, err := db.DeleteAuditBefore(ctx, t0.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		rows, err := db.sql.QueryContext(ctx, `SELECT action, login FROM audit_retained ORDER BY action, login`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var kept []string
		for rows.Next() {
			var action, login string
			if err := rows.Scan(&action, &login); err != nil {
				t.Fatal(err)
			}
			kept = append(kept, action+" "+login)
		}
		if want := []string{"credential.reset kept@example.com"}; !slices.Equal(kept, want) {
			t.Errorf("after retention removed every entry, audit_retained keeps %q, want %q alone (no delete, nothing of a deleted login)", kept, want)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != 0 {
			t.Errorf("VerifyAudit after retention = %+v, want intact", rep)
		}
	})
}

// TestForgedRetainedRowDetected: audit_retained is outside the hash chain, as audit_logins is;
// unchecked, a forged row marks any login a system login (its Delete then refused) or
// hides a password's age, and the integrity check says the trail is intact.
func TestForgedRetainedRowDetected(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		id, later := trailWithAKeptReset(t, db)
		forgeSystemLogin(t, db, "'example.com'")
		if rep := mustVerify(t, db); rep.BrokenAt == 0 {
			t.Errorf("a forged audit_retained row makes victim@example.com a system login, yet VerifyAudit = %+v (intact)", rep)
		}
		// A kept row changed (a password reset made to look recent), or one naming an entry
		// still in the trail, is found too.
		for _, q := range []string{
			"DELETE FROM audit_retained WHERE login = 'victim@example.com'",
			"UPDATE audit_retained SET time = time + 1 WHERE login = 'a@example.com'",
		} {
			if _, err := db.sql.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if rep := mustVerify(t, db); rep.BrokenAt == 0 || !strings.Contains(rep.Reason, "does not match the digest") {
			t.Errorf("a kept reset's time changed: VerifyAudit = %+v, want it found", rep)
		}
		if _, err := db.sql.ExecContext(ctx, db.rebind("UPDATE audit_retained SET time = time - 1, entry_id = ? WHERE login = 'a@example.com'"), later); err != nil {
			t.Fatal(err)
		}
		if rep := mustVerify(t, db); rep.BrokenAt == 0 || !strings.Contains(rep.Reason, "which retention has not removed") {
			t.Errorf("a kept row naming an entry still in the trail: VerifyAudit = %+v, want it found", rep)
		}
		// Put back as retention left it, then changed again (a reset made to look recent): the
		// next retention run, which changes what is kept, does not make that right.
		if _, err := db.sql.ExecContext(ctx, db.rebind("UPDATE audit_retained SET entry_id = ?, time = time + 1 WHERE login = 'a@example.com'"), id); err != nil {
			t.Fatal(err)
		}
		third := mustAppend(t, db, entry(t0.Add(96*time.Hour), "alice@corp.example", "credential.reset", "example.com", OutcomePending, "c@example.com"))
		mustComplete(t, db, third, OutcomeOK, 200, "", t0.Add(96*time.Hour+time.Second))
		if _, err := db.DeleteAuditBefore(ctx, t0.Add(72*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if rep := mustVerify(t, db); rep.BrokenAt == 0 || !strings.Contains(rep.Reason, "does not match the digest") {
			t.Errorf("a kept row changed before a retention run: VerifyAudit after the run = %+v, want it still found", rep)
		}
		if _, err := db.sql.ExecContext(ctx, "UPDATE audit_retained SET time = time - 1 WHERE login = 'a@example.com'"); err != nil {
			t.Fatal(err)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != 0 {
			t.Errorf("the row put back as retention left it: VerifyAudit = %+v, want intact", rep)
		}
	})
}

// TestRetentionKeepsTheNewestTime: LastOK reads MAX(time) of a login's OK entries; retention keeps the entry of MAX(id).
// Entry times are taken before the append (two replicas, two requests), so ids and times can
// disagree: retention keeps the newest time, and the answer does not change when it removes the entries.
func TestRetentionKeepsTheNewestTime(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		first := mustAppend(t, db, entry(t0.Add(5*time.Second), "alice@corp.example", "credential.reset", "example.com", OutcomePending, "a@example.com"))
		second := mustAppend(t, db, entry(t0, "bob@corp.example", "credential.reset", "example.com", OutcomePending, "a@example.com"))
		mustComplete(t, db, second, OutcomeOK, 200, "", t0.Add(6*time.Second))
		mustComplete(t, db, first, OutcomeOK, 200, "", t0.Add(7*time.Second))
		before, err := db.LastOK(ctx, "example.com", "credential.reset")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.DeleteAuditBefore(ctx, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		after, err := db.LastOK(ctx, "example.com", "credential.reset")
		if err != nil {
			t.Fatal(err)
		}
		if !after["a@example.com"].Equal(before["a@example.com"]) {
			t.Errorf("LastOK before retention %v, after %v", before["a@example.com"], after["a@example.com"])
		}
	})
}

// TestVerifyWhileRetentionRuns: VerifyAudit, run while retention removes the trail batch by
// batch and actions are appended, never reports the healthy trail broken: the digest of what retention kept
// goes into the anchor in the batch's transaction, and the check reads both from one snapshot
// (a review's test; non-ASCII logins, deletes and creates among the entries).
func TestVerifyWhileRetentionRuns(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		logins := []string{"a@example.com", "b@example.com", "ömer@example.com", "Ça@example.com"}
		actions := []string{"credential.reset", "credential.create", "credential.delete", "credential.reset"}
		for i := 0; i < 400; i++ {
			at := t0.Add(time.Duration(i) * time.Minute)
			id := mustAppend(t, db, entry(at, "alice@corp.example", actions[i%4], "example.com", OutcomePending, logins[(i/4)%4]))
			mustComplete(t, db, id, OutcomeOK, 200, "", at.Add(time.Second))
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= 400 && !stop.Load(); i += 3 {
				if _, err := db.DeleteAuditBefore(ctx, t0.Add(time.Duration(i)*time.Minute)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		for k := 0; k < 40; k++ {
			rep, err := db.VerifyAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.BrokenAt != 0 {
				stop.Store(true)
				t.Fatalf("verify %d during retention: %+v", k, rep)
			}
		}
		stop.Store(true)
		wg.Wait()
		if rep := mustVerify(t, db); rep.BrokenAt != 0 {
			t.Errorf("after: %+v", rep)
		}
	})
}

// as it was and VerifyAudit reports the trail intact.
func TestBlobTwinOfAKeptRowIsFound(t *testing.T) {
	db := newSQLite(t)
	trailWithAKeptReset(t, db)
	if rep := mustVerify(t, db); rep.BrokenAt != 0 {
		t.Fatalf("after retention: %+v", rep)
	}
	forgeSystemLogin(t, db, "'example.com'", "CAST('example.com' AS BLOB)")
	if rep := mustVerify(t, db); rep.BrokenAt == 0 {
		t.Errorf("a forged row makes victim@example.com a system login (its twin's domain a blob), yet VerifyAudit = %+v (intact)", rep)
	}
}

// trailWithAKeptReset appends a reset of a@example.com and, 48 hours later, one of b@example.com,
// both completed OK, and runs retention between them: a@'s is kept, b@'s is in the trail.
func trailWithAKeptReset(t *testing.T, db testDB) (first, later int64) {
	t.Helper()
	first = mustAppend(t, db, entry(t0, "alice@corp.example", "credential.reset", "example.com", OutcomePending, "a@example.com"))
	mustComplete(t, db, first, OutcomeOK, 200, "", t0.Add(time.Second))
	later = mustAppend(t, db, entry(t0.Add(48*time.Hour), "alice@corp.example", "credential.reset", "example.com", OutcomePending, "b@example.com"))
	mustComplete(t, db, later, OutcomeOK, 200, "", t0.Add(48*time.Hour+time.Second))
	if _, err := db.DeleteAuditBefore(context.Background(), t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	return first, later
}

// forgeSystemLogin adds, outside retention, a kept create of victim@example.com as a system
// login for each SQL expression of its domain, and checks that the pages would read it.
func forgeSystemLogin(t *testing.T, db testDB, domains ...string) {
	t.Helper()
	ctx := context.Background()
	forged := nanos(t0.Add(1000 * time.Hour))
	for _, domain := range domains {
		if _, err := db.sql.ExecContext(ctx, db.rebind(`INSERT INTO audit_retained (domain, action, login, entry_id, time, detail, final_message, completed_at)
			VALUES (`+domain+`, 'credential.create', 'victim@example.com', 1, ?, 'Asked for as system logins.', '', ?)`), forged, forged); err != nil {
			t.Fatal(err)
		}
	}
	marked, err := db.NewestOKMarked(ctx, "example.com", "credential.create", "Asked for as system logins.")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := marked["victim@example.com"]; !ok {
		t.Fatalf("forged row not read: %v", marked)
	}
}
