package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/internal/testpg"
)

func entry(at time.Time, email, action, domain, outcome string, logins ...string) AuditEntry {
	return AuditEntry{
		Time: at, ActorIssuer: "https://idp.example", ActorSubject: "sub-" + email, ActorEmail: email,
		ActorName: "Name " + email, Action: action, Domain: domain, Logins: logins, Outcome: outcome,
		RequestID: "req-1", ClientIP: "192.0.2.1", UserAgent: "test-agent",
	}
}

func mustAppend(t *testing.T, db testDB, e AuditEntry) int64 {
	t.Helper()
	id, err := db.AppendAudit(context.Background(), e)
	if err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	return id
}

func mustComplete(t *testing.T, db testDB, id int64, outcome string, status int, msg string, at time.Time) {
	t.Helper()
	if err := db.CompleteAudit(context.Background(), id, outcome, status, msg, at); err != nil {
		t.Fatalf("CompleteAudit(%d): %v", id, err)
	}
}

func mustVerify(t *testing.T, db testDB) VerifyReport {
	t.Helper()
	rep, err := db.VerifyAudit(context.Background())
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	return rep
}

func ids(es []AuditEntry) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func TestAuditAppendComplete(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		e := entry(t0, "alice@corp.example", "credential.create", "example.com", OutcomePending, "a@example.com", "b@example.com")
		id := mustAppend(t, db, e)
		got, err := db.ListAudit(ctx, AuditFilter{})
		if err != nil {
			t.Fatalf("ListAudit: %v", err)
		}
		if len(got) != 1 {
			t.Fatalf("ListAudit len = %d, want 1", len(got))
		}
		want := e
		want.ID = id
		if g := got[0]; g.ID != want.ID || !g.Time.Equal(want.Time) || g.ActorEmail != want.ActorEmail ||
			g.ActorIssuer != want.ActorIssuer || g.ActorSubject != want.ActorSubject || g.ActorName != want.ActorName ||
			g.Action != want.Action || g.Domain != want.Domain || !slices.Equal(g.Logins, want.Logins) ||
			g.Outcome != OutcomePending || g.CompletedAt != nil || g.RequestID != want.RequestID ||
			g.ClientIP != want.ClientIP || g.UserAgent != want.UserAgent {
			t.Errorf("pending entry = %+v, want %+v", g, want)
		}

		done := t0.Add(1500 * time.Millisecond)
		mustComplete(t, db, id, OutcomeFailed, 400, "Invalid password", done)
		got, err = db.ListAudit(ctx, AuditFilter{})
		if err != nil {
			t.Fatalf("ListAudit: %v", err)
		}
		if len(got) != 1 {
			t.Fatalf("ListAudit after complete len = %d, want 1 (completion rows are not entries)", len(got))
		}
		g := got[0]
		if g.Outcome != OutcomeFailed || g.UpstreamStatus != 400 || g.UpstreamMessage != "Invalid password" ||
			g.CompletedAt == nil || !g.CompletedAt.Equal(done) {
			t.Errorf("completed entry = %+v", g)
		}
		if err := db.CompleteAudit(ctx, id, OutcomeOK, 200, "", done); !errors.Is(err, ErrAlreadyCompleted) {
			t.Errorf("second CompleteAudit err = %v, want ErrAlreadyCompleted", err)
		}
		if err := db.CompleteAudit(ctx, id+100, OutcomeOK, 200, "", done); !errors.Is(err, ErrNotFound) {
			t.Errorf("CompleteAudit unknown id err = %v, want ErrNotFound", err)
		}
		if err := db.CompleteAudit(ctx, id+1, OutcomeOK, 200, "", done); !errors.Is(err, ErrNotFound) {
			t.Errorf("CompleteAudit of a completion row err = %v, want ErrNotFound", err)
		}
		if _, err := db.AppendAudit(ctx, AuditEntry{Action: "x"}); err == nil {
			t.Errorf("AppendAudit without time/outcome: got nil error")
		}
		if rep := mustVerify(t, db); rep.BrokenAt != 0 || rep.Checked != 2 {
			t.Errorf("VerifyAudit = %+v, want intact with 2 rows", rep)
		}
	})
}

// TestAuditAppendAgain: an entry appended again after an attempt whose commit was not answered
// is not written twice when the attempt was (the row with its id has its hash), and is written
// when it was not (no such row, or another entry's row with its id). The chain stays intact.
func TestAuditAppendAgain(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		e := entry(at, "alice@corp.example", "auth.sign_in", "", OutcomeOK)
		id := mustAppend(t, db, e)
		var hash string
		if err := db.sql.QueryRowContext(ctx, db.rebind("SELECT hash FROM audit_log WHERE id = ?"), id).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		// Written: the same id, no new row.
		got, err := db.AppendAuditAgain(ctx, e, &LostAnswerError{ID: id, hash: hash})
		if err != nil || got != id {
			t.Errorf("AppendAuditAgain after an attempt that was written = %d, %v; want %d", got, err, id)
		}
		// Not written: another entry holds that id, or no row does.
		for _, lost := range []*LostAnswerError{{ID: id, hash: "another entry's"}, {ID: id + 5, hash: hash}} {
			if got, err := db.AppendAuditAgain(ctx, e, lost); err != nil || got == id {
				t.Errorf("AppendAuditAgain after an attempt that was not written (%d, %q) = %d, %v; want a new id",
					lost.ID, lost.hash, got, err)
			}
		}
		if rep, err := db.VerifyAudit(ctx); err != nil || rep.BrokenAt != 0 || rep.Checked != 3 {
			t.Errorf("VerifyAudit = %+v, %v; want 3 rows, intact", rep, err)
		}
	})
}

// TestAuditAppendAgainWhoseCommitWasNotAnswered: an entry appended again whose earlier attempt
// was written is not written twice when the answer to this look's commit is lost too (a second
// cut in a row): AppendAuditAgain returns the attempt's id. It returned a LostAnswerError that
// named no row, and the attempt after it appended the entry again.
func TestAuditAppendAgainWhoseCommitWasNotAnswered(t *testing.T) {
	relay, dsn := testpg.WithOutage(t, testpg.Schema(t))
	db, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	e := entry(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), "alice@corp.example", "auth.sign_in", "", OutcomeOK)
	id, err := db.AppendAudit(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	var hash string
	if err := db.sql.QueryRowContext(ctx, db.rebind("SELECT hash FROM audit_log WHERE id = ?"), id).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	relay.LoseNextCommitAnswer()
	if got, err := db.AppendAuditAgain(ctx, e, &LostAnswerError{ID: id, hash: hash}); err != nil || got != id {
		t.Errorf("AppendAuditAgain after an attempt that was written, its own commit not answered = %d, %v; want %d", got, err, id)
	}
	if n := relay.CommitsLost(); n != 1 {
		t.Fatalf("the relay lost %d commits, want 1", n)
	}
	if rep, err := db.VerifyAudit(ctx); err != nil || rep.BrokenAt != 0 || rep.Checked != 1 {
		t.Errorf("VerifyAudit = %+v, %v; want 1 row, intact", rep, err)
	}
}

// TestAuditVerifyHead: an intact chain reports its newest row, which is what shows rows cut from
// the end, a cut the chain itself cannot see; a broken chain reports no head.
func TestAuditVerifyHead(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		if rep := mustVerify(t, db); rep.HeadID != 0 || rep.HeadHash != "" {
			t.Errorf("empty trail: head %d %q, want none", rep.HeadID, rep.HeadHash)
		}
		a := mustAppend(t, db, entry(t0, "alice@corp.example", "credential.create", "example.com", OutcomeOK, "x@example.com"))
		b := mustAppend(t, db, entry(t0.Add(time.Minute), "alice@corp.example", "credential.reset", "example.com", OutcomeOK, "x@example.com"))
		head := func() (int64, string) {
			var id int64
			var hash string
			if err := db.sql.QueryRowContext(ctx, "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").Scan(&id, &hash); err != nil {
				t.Fatal(err)
			}
			return id, hash
		}
		rep := mustVerify(t, db)
		if id, hash := head(); rep.BrokenAt != 0 || rep.HeadID != b || id != b || rep.HeadHash != hash || hash == "" {
			t.Errorf("VerifyAudit = %+v; want intact with head %d, hash %q", rep, id, hash)
		}
		if rep.OldestID != a || !rep.OldestAt.Equal(t0) || rep.Trimmed {
			t.Errorf("VerifyAudit = %+v; want oldest row %d at %v, nothing removed", rep, a, t0)
		}
		// Cutting the newest row leaves a chain that verifies, with an older head: the head
		// written down before is how the cut shows.
		if _, err := db.sql.ExecContext(ctx, db.rebind("DELETE FROM audit_log WHERE id = ?"), b); err != nil {
			t.Fatal(err)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != 0 || rep.HeadID != a {
			t.Errorf("after cutting the newest row: %+v, want intact with head %d", rep, a)
		}
		if _, err := db.sql.ExecContext(ctx, db.rebind("UPDATE audit_log SET actor_email = 'mallory@corp.example' WHERE id = ?"), a); err != nil {
			t.Fatal(err)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != a || rep.HeadID != 0 || rep.HeadHash != "" {
			t.Errorf("broken chain: %+v, want broken at %d and no head", rep, a)
		}
	})
}

// seedFilters writes a small varied trail and returns the ids by name.
func seedFilters(t *testing.T, db testDB) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	m["create"] = mustAppend(t, db, entry(t0, "alice@corp.example", "credential.create", "example.com", OutcomePending, "x@example.com"))
	mustComplete(t, db, m["create"], OutcomeOK, 200, "Created", t0.Add(time.Second))
	m["reset"] = mustAppend(t, db, entry(t0.Add(time.Hour), "bob@corp.example", "credential.reset", "acme.example", OutcomePending, "y@acme.example"))
	mustComplete(t, db, m["reset"], OutcomeFailed, 503, "Service unavailable", t0.Add(time.Hour+time.Second))
	// The same login as "create", written in another case (Mailgun matches logins without
	// regard to case), and twice: the filter finds the entry once.
	m["delete"] = mustAppend(t, db, entry(t0.Add(2*time.Hour), "ALICE@corp.example", "credential.delete", "example.com", OutcomePending, "X@Example.com", "x@example.COM"))
	m["signin"] = mustAppend(t, db, entry(t0.Add(3*time.Hour), "carol@corp.example", "auth.sign_in", "", OutcomeOK, "émile@example.com"))
	e := entry(t0.Add(4*time.Hour), "dave@other.example", "access.denied", "secret.example", OutcomeDenied)
	e.ActorName = "Alicia Keys"
	m["denied"] = mustAppend(t, db, e)
	// A login whose JSON form contains another login's quoted form.
	m["tricky"] = mustAppend(t, db, entry(t0.Add(5*time.Hour), "erin@corp.example", "credential.create", "example.com", OutcomePending, `q"x@example.com`))
	return m
}

func TestAuditFilters(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		m := seedFilters(t, db)
		tests := []struct {
			name string
			f    AuditFilter
			want []string
		}{
			{"all newest first", AuditFilter{}, []string{"tricky", "denied", "signin", "delete", "reset", "create"}},
			{"domains allow-list", AuditFilter{Domains: []string{"example.com", "acme.example"}}, []string{"tricky", "delete", "reset", "create"}},
			{"domains empty non-nil", AuditFilter{Domains: []string{}}, nil},
			{"any domain, none of no domain", AuditFilter{AnyDomain: true}, []string{"tricky", "denied", "delete", "reset", "create"}},
			{"any domain and one domain", AuditFilter{AnyDomain: true, Domain: "acme.example"}, []string{"reset"}},
			{"domain exact", AuditFilter{Domain: "acme.example"}, []string{"reset"}},
			{"domain inside allow-list", AuditFilter{Domains: []string{"acme.example"}, Domain: "example.com"}, nil},
			{"actor email substring, case-insensitive", AuditFilter{Actor: "aLiCe@"}, []string{"delete", "create"}},
			{"actor name substring", AuditFilter{Actor: "alici"}, []string{"denied"}},
			{"actor wildcard is literal", AuditFilter{Actor: "%"}, nil},
			{"actor one-character wildcard is literal", AuditFilter{Actor: "alic_@"}, nil},
			{"actor backslash is literal", AuditFilter{Actor: `\alice@`}, nil},
			{"action", AuditFilter{Action: "credential.create"}, []string{"tricky", "create"}},
			{"action is not a pattern", AuditFilter{Action: "credential.%"}, nil},
			{"action in another case", AuditFilter{Action: "Credential.Create"}, nil},
			{"outcome final ok", AuditFilter{Outcome: OutcomeOK}, []string{"signin", "create"}},
			{"outcome failed", AuditFilter{Outcome: OutcomeFailed}, []string{"reset"}},
			{"outcome pending", AuditFilter{Outcome: OutcomePending}, []string{"tricky", "delete"}},
			{"outcome denied", AuditFilter{Outcome: OutcomeDenied}, []string{"denied"}},
			{"login exact", AuditFilter{Login: "x@example.com"}, []string{"delete", "create"}},
			{"login in another case", AuditFilter{Login: "X@EXAMPLE.com"}, []string{"delete", "create"}},
			{"login folded beyond ASCII", AuditFilter{Login: "ÉMILE@example.com"}, []string{"signin"}},
			{"login tricky", AuditFilter{Login: `q"x@example.com`}, []string{"tricky"}},
			{"login partial does not match", AuditFilter{Login: "x@example"}, nil},
			{"from", AuditFilter{From: t0.Add(3 * time.Hour)}, []string{"tricky", "denied", "signin"}},
			{"to exclusive", AuditFilter{To: t0.Add(time.Hour)}, []string{"create"}},
			{"from-to", AuditFilter{From: t0.Add(time.Hour), To: t0.Add(3 * time.Hour)}, []string{"delete", "reset"}},
			{"before cursor", AuditFilter{Before: m["signin"]}, []string{"delete", "reset", "create"}},
			{"limit", AuditFilter{Limit: 2}, []string{"tricky", "denied"}},
			{"combined", AuditFilter{Domain: "example.com", Action: "credential.create", Outcome: OutcomeOK}, []string{"create"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := db.ListAudit(context.Background(), tt.f)
				if err != nil {
					t.Fatalf("ListAudit: %v", err)
				}
				var want []int64
				for _, n := range tt.want {
					want = append(want, m[n])
				}
				if g := ids(got); !slices.Equal(g, want) && !(len(g) == 0 && len(want) == 0) {
					t.Errorf("ids = %v, want %v (%v)", g, want, tt.want)
				}
				var streamed []int64
				if err := db.EachAudit(context.Background(), tt.f, func(e AuditEntry) error {
					streamed = append(streamed, e.ID)
					return nil
				}); err != nil {
					t.Fatalf("EachAudit: %v", err)
				}
				if !slices.Equal(streamed, want) && !(len(streamed) == 0 && len(want) == 0) {
					t.Errorf("EachAudit ids = %v, want %v", streamed, want)
				}
			})
		}
	})
}

// TestAuditDomains: every domain an entry other than a refusal names, once, sorted; no empty
// domain, and nothing from completion rows. A name only refusals carry (the domain of a refused
// URL, which the user chooses) is not among them, and the refusals are still found by it.
func TestAuditDomains(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		if got, err := db.AuditDomains(ctx); err != nil || len(got) != 0 {
			t.Fatalf("empty trail: AuditDomains = %q, %v; want none", got, err)
		}
		m := seedFilters(t, db) // secret.example: a refusal only
		for i := range 3 {
			mustAppend(t, db, entry(t0.Add(time.Duration(6+i)*time.Hour), "dave@other.example", "access.denied",
				fmt.Sprintf("made-up-%d.example", i), OutcomeDenied))
		}
		mustAppend(t, db, entry(t0.Add(9*time.Hour), "dave@other.example", "access.denied", "acme.example", OutcomeDenied))
		// A refused name that sorts before every other: the walk's first step leaves it out too.
		mustAppend(t, db, entry(t0.Add(10*time.Hour), "dave@other.example", "access.denied", "0-first.example", OutcomeDenied))
		got, err := db.AuditDomains(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"acme.example", "example.com"}; !slices.Equal(got, want) {
			t.Errorf("AuditDomains = %q, want %q (the domains acted on, not those only refused)", got, want)
		}
		if es, err := db.ListAudit(ctx, AuditFilter{Domain: "secret.example"}); err != nil || !slices.Equal(ids(es), []int64{m["denied"]}) {
			t.Errorf("ListAudit of secret.example = %v, %v; want the refusal %d", ids(es), err, m["denied"])
		}
	})
}

// TestAuditManyLogins: an entry naming more logins than one INSERT writes (a delete-all of a
// large domain) keeps every one, in order, finds each by the login filter, and verifies.
func TestAuditManyLogins(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		logins := make([]string, 2*loginsPerInsert+1)
		for i := range logins {
			logins[i] = fmt.Sprintf("user%05d@example.com", i)
		}
		id := mustAppend(t, db, entry(t0, "alice@corp.example", "credential.delete_all", "example.com", OutcomePending, logins...))
		got, err := db.ListAudit(ctx, AuditFilter{})
		if err != nil || len(got) != 1 || !slices.Equal(got[0].Logins, logins) {
			t.Fatalf("ListAudit = %d entries (%v), want the one with all %d logins", len(got), err, len(logins))
		}
		for _, l := range []string{logins[0], logins[loginsPerInsert-1], logins[loginsPerInsert], logins[len(logins)-1]} {
			if got, err := db.ListAudit(ctx, AuditFilter{Login: l}); err != nil || len(got) != 1 || got[0].ID != id {
				t.Errorf("login filter %s: %d entries (%v), want entry %d", l, len(got), err, id)
			}
		}
		var indexed int
		if err := db.sql.QueryRowContext(ctx, db.rebind("SELECT COUNT(*) FROM audit_logins WHERE entry_id = ?"), id).Scan(&indexed); err != nil || indexed != len(logins) {
			t.Errorf("audit_logins holds %d rows of the entry (%v), want %d", indexed, err, len(logins))
		}
		if rep := mustVerify(t, db); rep.BrokenAt != 0 {
			t.Errorf("VerifyAudit = %+v, want intact", rep)
		}
	})
}

// TestAuditKeepsLoginsAsWritten: the filter folds letter case, the entry does not.
func TestAuditKeepsLoginsAsWritten(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		m := seedFilters(t, db)
		got, err := db.ListAudit(context.Background(), AuditFilter{Login: "x@example.com", Before: m["delete"] + 1, Limit: 1})
		if err != nil || len(got) != 1 {
			t.Fatalf("ListAudit = %v, %v; want the delete entry", got, err)
		}
		if want := []string{"X@Example.com", "x@example.COM"}; !slices.Equal(got[0].Logins, want) {
			t.Errorf("Logins = %q, want %q", got[0].Logins, want)
		}
	})
}

// TestMigrationFoldsAuditLogins: a database written before migration 0002 keyed audit_logins
// by the login as written. Opening it folds those keys, so that the filter finds the old
// entries in any case; an entry that named two spellings of one login keeps one key.
func TestMigrationFoldsAuditLogins(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		a := mustAppend(t, db, entry(t0, "alice@corp.example", "credential.delete", "example.com", OutcomeOK, "x@example.com"))
		b := mustAppend(t, db, entry(t0.Add(time.Hour), "alice@corp.example", "credential.reset", "example.com", OutcomeOK, "x@example.com"))
		c := mustAppend(t, db, entry(t0.Add(2*time.Hour), "alice@corp.example", "credential.reset", "example.com", OutcomeOK, "ÿ@example.com"))
		// Back to how version 1 wrote the keys: as written, each spelling its own row.
		for _, q := range []string{
			"DELETE FROM audit_logins",
			fmt.Sprintf("INSERT INTO audit_logins (entry_id, login) VALUES (%d, 'X@Example.com'), (%d, 'x@example.COM'), (%d, 'x@example.com'), (%d, 'Ÿ@Example.com')", a, a, b, c),
			"ALTER TABLE audit_log DROP COLUMN actor_fold",  // added by 0003
			"DROP TABLE used_forms",                         // added by 0004
			"DROP INDEX audit_entry_domain_acted",           // added by 0005
			"DROP INDEX audit_entry_domain_action",          // added by 0006
			"DROP TABLE audit_retained",                     // added by 0007
			"ALTER TABLE audit_anchor DROP COLUMN retained", // added by 0007
			"DELETE FROM schema_migrations WHERE version >= 2",
		} {
			if _, err := db.sql.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if got, _ := db.ListAudit(ctx, AuditFilter{Login: "x@example.com"}); !slices.Equal(ids(got), []int64{b}) {
			t.Fatalf("before the migration the filter found %v, want only %d (the test's premise)", ids(got), b)
		}
		d, err := Open(ctx, db.dsn)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer d.Close()
		rows, err := d.sql.QueryContext(ctx, "SELECT entry_id, login FROM audit_logins ORDER BY entry_id, login")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var keys []string
		for rows.Next() {
			var id int64
			var l string
			if err := rows.Scan(&id, &l); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, fmt.Sprintf("%d %s", id-a, l))
		}
		if want := []string{"0 x@example.com", fmt.Sprintf("%d x@example.com", b-a), fmt.Sprintf("%d ÿ@example.com", c-a)}; !slices.Equal(keys, want) {
			t.Errorf("audit_logins after the migration = %q, want %q (entry ids relative to the first)", keys, want)
		}
		if got, err := d.ListAudit(ctx, AuditFilter{Login: "X@EXAMPLE.COM"}); err != nil || !slices.Equal(ids(got), []int64{b, a}) {
			t.Errorf("filter after the migration = %v, %v; want %v", ids(got), err, []int64{b, a})
		}
		if rep := mustVerify(t, testDB{DB: d}); rep.BrokenAt != 0 {
			t.Errorf("VerifyAudit after the migration = %+v, want intact", rep)
		}
	})
}

// TestAuditActorFilterFoldsUnicode: the actor filter finds a name or e-mail in any letter case
// on both databases, beyond ASCII (SQLite's LOWER folds only ASCII, so "Émile" was found by no
// spelling there, not even its own); migration 0003 folds the rows written before it, and the
// search column is checked by verification.
func TestAuditActorFilterFoldsUnicode(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		e := entry(t0, "Émile@Corp.Example", "auth.sign_in", "", OutcomeOK)
		e.ActorName = "Émile Ødegård"
		id := mustAppend(t, db, e)
		mustAppend(t, db, entry(t0, "other@corp.example", "auth.sign_in", "", OutcomeOK))
		check := func(d *DB, when string) {
			t.Helper()
			for _, q := range []string{"Émile Ødegård", "émile", "ØDEGÅRD", "émile@corp", "e Ø"} {
				if got, err := d.ListAudit(ctx, AuditFilter{Actor: q}); err != nil || !slices.Equal(ids(got), []int64{id}) {
					t.Errorf("%s: actor %q found %v, %v; want [%d]", when, q, ids(got), err, id)
				}
			}
			// The line break between e-mail and name is not part of either.
			if got, _ := d.ListAudit(ctx, AuditFilter{Actor: "example émile"}); len(got) != 0 {
				t.Errorf("%s: a filter across the e-mail and the name found %v", when, ids(got))
			}
		}
		check(db.DB, "new rows")

		if _, err := db.sql.ExecContext(ctx, db.rebind("UPDATE audit_log SET actor_fold = 'mallory' WHERE id = ?"), id); err != nil {
			t.Fatal(err)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != id {
			t.Errorf("VerifyAudit with the search column changed = %+v, want broken at %d", rep, id)
		}
		// Back to version 2: no search column; the migration adds and fills it.
		for _, q := range []string{"ALTER TABLE audit_log DROP COLUMN actor_fold", "DROP TABLE used_forms",
			"DROP INDEX audit_entry_domain_acted", "DROP INDEX audit_entry_domain_action", "DROP TABLE audit_retained",
			"ALTER TABLE audit_anchor DROP COLUMN retained",
			"DELETE FROM schema_migrations WHERE version >= 3"} {
			if _, err := db.sql.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		d, err := Open(ctx, db.dsn)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer d.Close()
		check(d, "after the migration")
		if rep := mustVerify(t, testDB{DB: d}); rep.BrokenAt != 0 {
			t.Errorf("VerifyAudit after the migration = %+v, want intact", rep)
		}
	})
}

func TestAuditEachStopsOnError(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		seedFilters(t, db)
		stop := errors.New("stop")
		n := 0
		err := db.EachAudit(context.Background(), AuditFilter{}, func(AuditEntry) error {
			n++
			return stop
		})
		if !errors.Is(err, stop) || n != 1 {
			t.Errorf("EachAudit err = %v after %d calls, want stop after 1", err, n)
		}
	})
}

func TestAuditKeysetPaging(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		const total = 23
		var all []int64
		for i := range total {
			id := mustAppend(t, db, entry(t0.Add(time.Duration(i)*time.Minute), "u@corp.example", "credential.reset", "example.com", OutcomePending))
			if i%3 == 0 {
				mustComplete(t, db, id, OutcomeOK, 200, "", t0.Add(time.Duration(i)*time.Minute+time.Second))
			}
			all = append(all, id)
		}
		slices.Reverse(all)
		var got []int64
		f := AuditFilter{Limit: 5}
		pages := 0
		for {
			page, err := db.ListAudit(context.Background(), f)
			if err != nil {
				t.Fatalf("ListAudit: %v", err)
			}
			if len(page) == 0 {
				break
			}
			pages++
			got = append(got, ids(page)...)
			f.Before = page[len(page)-1].ID
		}
		if !slices.Equal(got, all) {
			t.Errorf("paged ids = %v, want %v", got, all)
		}
		if pages != 5 {
			t.Errorf("pages = %d, want 5", pages)
		}
		big, err := db.ListAudit(context.Background(), AuditFilter{Limit: 5000})
		if err != nil || len(big) != total {
			t.Errorf("ListAudit(Limit 5000) = %d entries, %v; want %d", len(big), err, total)
		}
	})
}

// TestAuditListLimits: ListAudit's limit defaults to DefaultAuditLimit and is capped at
// MaxAuditLimit, whatever a caller asks for, with the cursor or without.
func TestAuditListLimits(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		const n = MaxAuditLimit + 2
		bulkAudit(t, db.DB, n) // ids 1..n
		for _, tt := range []struct {
			name string
			f    AuditFilter
			want int
		}{
			{"none asked for", AuditFilter{}, DefaultAuditLimit},
			{"more than the cap", AuditFilter{Limit: 5000}, MaxAuditLimit},
			{"the cap", AuditFilter{Limit: MaxAuditLimit}, MaxAuditLimit},
			{"more than the cap, back", AuditFilter{Limit: 5000, After: 1}, MaxAuditLimit},
		} {
			got, err := db.ListAudit(ctx, tt.f)
			if err != nil || len(got) != tt.want {
				t.Errorf("%s: ListAudit(%+v) = %d entries, %v; want %d", tt.name, tt.f, len(got), err, tt.want)
			}
		}
	})
}

// TestAuditKeysetPagingBack: After pages back towards the newest entries, through the same pages
// Before went through, each newest first; a filter holds on the way back too.
func TestAuditKeysetPagingBack(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		const total = 23
		for i := range total {
			domain := "example.com"
			if i%4 == 0 {
				domain = "other.example" // filtered out: the pages skip them both ways
			}
			mustAppend(t, db, entry(t0.Add(time.Duration(i)*time.Minute), "u@corp.example", "credential.reset", domain, OutcomeOK))
		}
		ctx := context.Background()
		f := AuditFilter{Domain: "example.com", Limit: 5}
		var older [][]int64
		for {
			page, err := db.ListAudit(ctx, f)
			if err != nil {
				t.Fatalf("ListAudit: %v", err)
			}
			if len(page) == 0 {
				break
			}
			older = append(older, ids(page))
			f.Before = page[len(page)-1].ID
		}
		if len(older) != 4 { // 17 entries of example.com: 5, 5, 5, 2
			t.Fatalf("older pages %v, want 4", older)
		}
		// Back from the last page: each page newer than the one shown is the one before it.
		f.Before = 0
		for i := len(older) - 1; i > 0; i-- {
			f.After = older[i][0]
			page, err := db.ListAudit(ctx, f)
			if err != nil {
				t.Fatalf("ListAudit(After %d): %v", f.After, err)
			}
			if got, want := ids(page), older[i-1]; !slices.Equal(got, want) {
				t.Errorf("the page after %d = %v, want %v", f.After, got, want)
			}
		}
		// Past the newest entry there is nothing; After with Before is the entries between.
		f.After = older[0][0]
		if page, err := db.ListAudit(ctx, f); err != nil || len(page) != 0 {
			t.Errorf("the page after the newest = %v, %v; want none", ids(page), err)
		}
		f.After, f.Before = older[2][0], older[0][0]
		page, err := db.ListAudit(ctx, f)
		if want := append(slices.Clone(older[0][1:]), older[1]...); err != nil || !slices.Equal(ids(page), want[len(want)-5:]) {
			t.Errorf("between %d and %d: %v, %v; want %v", f.After, f.Before, ids(page), err, want[len(want)-5:])
		}
	})
}

func TestAuditTamperDetected(t *testing.T) {
	tests := []struct {
		name   string
		target string // which seeded entry's id to report
		sql    string // %d = target id
	}{
		{"outcome of an event", "signin", "UPDATE audit_log SET outcome = 'failed' WHERE id = %d"},
		{"actor email", "create", "UPDATE audit_log SET actor_email = 'mallory@corp.example' WHERE id = %d"},
		{"logins", "delete", `UPDATE audit_log SET logins = '["z@example.com"]' WHERE id = %d`},
		{"time", "reset", "UPDATE audit_log SET time = time + 1 WHERE id = %d"},
		{"completion outcome", "create+1", "UPDATE audit_log SET outcome = 'failed' WHERE id = %d"},
		{"denormalized outcome of completed action", "reset", "UPDATE audit_log SET final_outcome = 'ok' WHERE id = %d"},
		{"denormalized status", "reset", "UPDATE audit_log SET final_status = 200 WHERE id = %d"},
		{"denormalized outcome of pending action", "delete", "UPDATE audit_log SET final_outcome = 'ok', completed_at = time WHERE id = %d"},
		{"row deleted", "denied", "DELETE FROM audit_log WHERE id = %d - 1"},
		{"oldest rows deleted outside retention", "create+1", "DELETE FROM audit_log WHERE id < %d"},
		{"hash column edited", "create", "UPDATE audit_log SET hash = 'ab' || hash WHERE id = %d"},
		// The hash reads a missing ref_id as 0: an entry's NULL turned into 0 hashes the same
		// (and held retention at the start of the trail).
		{"entry given a ref_id of 0", "signin", "UPDATE audit_log SET ref_id = 0 WHERE id = %d"},
		// Every other column the hash covers, each on its own.
		{"actor issuer", "create", "UPDATE audit_log SET actor_issuer = 'https://evil.example' WHERE id = %d"},
		{"actor subject", "create", "UPDATE audit_log SET actor_subject = 'sub-mallory' WHERE id = %d"},
		{"action", "reset", "UPDATE audit_log SET action = 'credential.create' WHERE id = %d"},
		{"domain", "reset", "UPDATE audit_log SET domain = 'example.com' WHERE id = %d"},
		{"request id", "signin", "UPDATE audit_log SET request_id = 'req-2' WHERE id = %d"},
		{"client IP", "signin", "UPDATE audit_log SET client_ip = '198.51.100.7' WHERE id = %d"},
		{"user agent", "signin", "UPDATE audit_log SET user_agent = 'other-agent' WHERE id = %d"},
		{"detail", "signin", "UPDATE audit_log SET detail = 'added later' WHERE id = %d"},
		{"completion status", "create+1", "UPDATE audit_log SET upstream_status = 500 WHERE id = %d"},
		{"completion message", "create+1", "UPDATE audit_log SET upstream_message = 'Forged' WHERE id = %d"},
		{"completion time", "create+1", "UPDATE audit_log SET time = time + 1 WHERE id = %d"},
		{"denormalized completion time", "reset", "UPDATE audit_log SET completed_at = completed_at + 1 WHERE id = %d"},
		{"denormalized message", "reset", "UPDATE audit_log SET final_message = 'OK' WHERE id = %d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, db testDB) {
				m := seedFilters(t, db)
				if rep := mustVerify(t, db); rep.BrokenAt != 0 {
					t.Fatalf("before tampering: %+v", rep)
				}
				target := m[tt.target]
				if tt.target == "create+1" {
					target = m["create"] + 1 // the completion row of create
				}
				if _, err := db.sql.Exec(db.rebind(fmt.Sprintf(tt.sql, target))); err != nil {
					t.Fatalf("tamper: %v", err)
				}
				rep := mustVerify(t, db)
				if rep.BrokenAt != target {
					t.Errorf("VerifyAudit = %+v, want BrokenAt %d", rep, target)
				}
				if rep.Reason == "" {
					t.Errorf("VerifyAudit gave no reason")
				}
			})
		})
	}
}

// TestAuditForgedAnchorDetected: the oldest rows deleted and an anchor written that links to
// the first kept row but says nothing was removed before it (last_id 0): the ids then do not
// follow the anchor, and the report must not read "intact, nothing trimmed".
func TestAuditForgedAnchorDetected(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		var ids []int64
		for i := range 6 {
			ids = append(ids, mustAppend(t, db, entry(t0.Add(time.Duration(i)*time.Hour), "alice@corp.example", "auth.sign_in", "", OutcomeOK)))
		}
		var hash string
		if err := db.sql.QueryRow(db.rebind("SELECT hash FROM audit_log WHERE id = ?"), ids[2]).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"DELETE FROM audit_log WHERE id <= ?", "DELETE FROM audit_logins WHERE entry_id <= ?"} {
			if _, err := db.sql.Exec(db.rebind(q), ids[2]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.sql.Exec(db.rebind("INSERT INTO audit_anchor (one, last_id, hash) VALUES (1, 0, ?)"), hash); err != nil {
			t.Fatal(err)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != ids[3] || rep.Reason == "" {
			t.Errorf("VerifyAudit = %+v, want broken at %d, the first kept row", rep, ids[3])
		}
	})
}

// TestAuditRetypedValueDetected (SQLite): a column keeps the type of the value stored in it,
// outside the hash. A text re-typed as a blob has the same bytes, so the same hash, but equals
// no text in SQL: the entry left every list, filter and export while the check said "intact".
func TestAuditRetypedValueDetected(t *testing.T) {
	tampers := []struct {
		name, sql string
		target    string // "denied" or "del"
	}{
		{"an event's kind", "UPDATE audit_log SET kind = CAST(kind AS BLOB) WHERE id = ?", "denied"},
		{"an entry's domain", "UPDATE audit_log SET domain = CAST(domain AS BLOB) WHERE id = ?", "del"},
		{"an entry's action", "UPDATE audit_log SET action = CAST(action AS BLOB) WHERE id = ?", "del"},
		{"an entry's time", "UPDATE audit_log SET time = CAST(time AS BLOB) WHERE id = ?", "denied"},
		{"a login in the index", "UPDATE audit_logins SET login = CAST(login AS BLOB) WHERE entry_id = ?", "del"},
	}
	for _, tt := range tampers {
		t.Run(tt.name, func(t *testing.T) {
			db := newSQLite(t)
			ctx := context.Background()
			mustAppend(t, db, entry(t0, "alice@corp.example", "auth.sign_in", "", OutcomeOK))
			del := mustAppend(t, db, entry(t0, "mallory@corp.example", "credential.delete", "example.com", OutcomePending, "victim@example.com"))
			mustComplete(t, db, del, OutcomeOK, 200, "", t0.Add(time.Second))
			denied := mustAppend(t, db, entry(t0, "mallory@corp.example", "access.denied", "other.example", OutcomeDenied))
			mustAppend(t, db, entry(t0, "alice@corp.example", "auth.sign_out", "", OutcomeOK))
			if rep := mustVerify(t, db); rep.BrokenAt != 0 {
				t.Fatalf("before: %+v", rep)
			}
			target := map[string]int64{"denied": denied, "del": del}[tt.target]
			if _, err := db.sql.ExecContext(ctx, tt.sql, target); err != nil {
				t.Fatal(err)
			}
			if rep := mustVerify(t, db); rep.BrokenAt != target || rep.Reason == "" {
				t.Errorf("VerifyAudit = %+v, want broken at %d", rep, target)
			}
		})
	}
}

// TestAuditRetentionNotHeldByAnEntrysRefID: retention keeps an action whose completion is
// kept, found by the completions' ref_id; an entry's ref_id (0, written outside SMTP Desk) held
// the cut at the start of the trail, and every run deleted nothing, silently.
func TestAuditRetentionNotHeldByAnEntrysRefID(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		day := 24 * time.Hour
		for i := range 5 {
			mustAppend(t, db, entry(t0.Add(time.Duration(i)*day), "alice@corp.example", "auth.sign_in", "", OutcomeOK))
		}
		last := mustAppend(t, db, entry(t0.Add(10*day), "alice@corp.example", "auth.sign_in", "", OutcomeOK))
		if _, err := db.sql.Exec(db.rebind("UPDATE audit_log SET ref_id = 0 WHERE id = ?"), last); err != nil {
			t.Fatal(err)
		}
		n, err := db.DeleteAuditBefore(context.Background(), t0.Add(5*day))
		if err != nil {
			t.Fatal(err)
		}
		if n != 5 {
			t.Errorf("deleted %d entries, want 5", n)
		}
	})
}

func reversed(s []int64) []int64 {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// TestAuditRehashDetected edits a row and recomputes its hash, as someone
// who knows the scheme would: the next row's link breaks.
// TestAuditLoginIndexVerified: the login index (audit_logins) is not in the hash, but the
// login filter and the password ages read it. Removing an entry's login from it (hiding a
// delete from the credential's history), adding one (making a login look freshly reset) or
// changing one must each show as a broken trail.
func TestAuditLoginIndexVerified(t *testing.T) {
	tampers := []struct {
		name string
		sql  func(del, reset int64) (string, []any)
		want func(del, reset int64) int64
	}{
		{"a login removed", func(del, _ int64) (string, []any) {
			return "DELETE FROM audit_logins WHERE entry_id = ?", []any{del}
		}, func(del, _ int64) int64 { return del }},
		{"a login added", func(_, reset int64) (string, []any) {
			return "INSERT INTO audit_logins (entry_id, login) VALUES (?, ?)", []any{reset, "never-reset@example.com"}
		}, func(_, reset int64) int64 { return reset }},
		{"a login changed", func(_, reset int64) (string, []any) {
			return "UPDATE audit_logins SET login = ? WHERE entry_id = ?", []any{"other@example.com", reset}
		}, func(_, reset int64) int64 { return reset }},
	}
	for _, tt := range tampers {
		t.Run(tt.name, func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, db testDB) {
				del := mustAppend(t, db, entry(t0, "mallory@corp.example", "credential.delete", "example.com", OutcomePending, "Victim@example.com"))
				mustComplete(t, db, del, OutcomeOK, 200, "", t0.Add(time.Second))
				reset := mustAppend(t, db, entry(t0, "alice@corp.example", "credential.reset", "example.com", OutcomePending, "old@example.com"))
				mustComplete(t, db, reset, OutcomeOK, 200, "", t0.Add(time.Second))
				mustAppend(t, db, entry(t0, "alice@corp.example", "auth.sign_in", "", OutcomeOK))
				if rep := mustVerify(t, db); rep.BrokenAt != 0 {
					t.Fatalf("before: %+v", rep)
				}
				q, args := tt.sql(del, reset)
				if _, err := db.sql.ExecContext(context.Background(), db.rebind(q), args...); err != nil {
					t.Fatal(err)
				}
				if rep, want := mustVerify(t, db), tt.want(del, reset); rep.BrokenAt != want {
					t.Errorf("VerifyAudit = %+v, want broken at %d", rep, want)
				}
			})
		})
	}
}

func TestAuditRehashDetected(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		m := seedFilters(t, db)
		id := m["reset"]
		var r auditRow
		var ref sql.NullInt64
		err := db.sql.QueryRow(db.rebind(`SELECT id, kind, time, actor_issuer, actor_subject, actor_email,
			actor_name, action, domain, logins, outcome, upstream_status, upstream_message, request_id, client_ip,
			user_agent, detail, ref_id, prev_hash FROM audit_log WHERE id = ?`), id).Scan(&r.id, &r.kind, &r.time,
			&r.actorIssuer, &r.actorSubject, &r.actorEmail, &r.actorName, &r.action, &r.domain, &r.logins,
			&r.outcome, &r.upstreamStatus, &r.upstreamMessage, &r.requestID, &r.clientIP, &r.userAgent,
			&r.detail, &ref, &r.prevHash)
		if err != nil {
			t.Fatal(err)
		}
		r.actorEmail = "someone-else@corp.example"
		if _, err := db.sql.Exec(db.rebind("UPDATE audit_log SET actor_email = ?, hash = ?, actor_fold = ? WHERE id = ?"),
			r.actorEmail, hashRow(&r), foldActor(r.actorEmail, r.actorName), id); err != nil {
			t.Fatal(err)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != id+1 {
			t.Errorf("VerifyAudit = %+v, want BrokenAt %d", rep, id+1)
		}
	})
}

func TestAuditRetention(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		day := 24 * time.Hour
		var idsByDay []int64
		for i := range 10 {
			id := mustAppend(t, db, entry(t0.Add(time.Duration(i)*day), "u@corp.example", "credential.create", "example.com", OutcomePending, fmt.Sprintf("l%d@example.com", i)))
			idsByDay = append(idsByDay, id)
			if i != 2 {
				mustComplete(t, db, id, OutcomeOK, 200, "", t0.Add(time.Duration(i)*day+time.Second))
			}
		}
		// Day 1's action is completed late, after day 5's entry: it must be
		// kept with its completion, and so must everything after it.
		// (Complete day 2 now, i.e. after all others.)
		mustComplete(t, db, idsByDay[2], OutcomeUnknown, 0, "", t0.Add(9*day))

		n, err := db.DeleteAuditBefore(ctx, t0.Add(4*day))
		if err != nil {
			t.Fatalf("DeleteAuditBefore: %v", err)
		}
		if got, want := n, int64(2); got != want {
			t.Errorf("deleted %d entries, want %d (days 0-1; day 2 is held by its late completion)", got, want)
		}
		rest, err := db.ListAudit(ctx, AuditFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(rest), reversed(idsByDay[2:]); !slices.Equal(got, want) {
			t.Errorf("kept ids = %v, want %v", got, want)
		}
		if got, err := db.ListAudit(ctx, AuditFilter{Login: "l0@example.com"}); err != nil || len(got) != 0 {
			t.Errorf("login filter for a deleted entry = %v, %v; want none", got, err)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != 0 || !rep.Trimmed || rep.OldestID != idsByDay[2] {
			t.Errorf("VerifyAudit after retention = %+v, want intact, trimmed, oldest row %d", rep, idsByDay[2])
		}
		// New appends link to the kept chain.
		mustAppend(t, db, entry(t0.Add(20*day), "u@corp.example", "audit.retention", "", OutcomeOK))
		// Deleting everything keeps the anchor, so the next row still links.
		n, err = db.DeleteAuditBefore(ctx, t0.Add(100*day))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := n, int64(9); got != want {
			t.Errorf("second retention deleted %d, want %d", got, want)
		}
		id := mustAppend(t, db, entry(t0.Add(101*day), "u@corp.example", "auth.sign_in", "", OutcomeOK))
		if rep := mustVerify(t, db); rep.BrokenAt != 0 || rep.Checked != 1 {
			t.Errorf("VerifyAudit after full retention = %+v, want intact, 1 row", rep)
		}
		if id <= idsByDay[9] {
			t.Errorf("id after full retention = %d, want > %d (ids never reused)", id, idsByDay[9])
		}
		if n, err := db.DeleteAuditBefore(ctx, t0); err != nil || n != 0 {
			t.Errorf("retention with nothing old = %d, %v; want 0", n, err)
		}
	})
}

// TestAuditRetentionInterleaved: actions whose completions interleave around the cut. B's late
// completion holds B, and A's completion, which comes after B's action, is then kept too, so A
// must be kept with it (retention used to lower the cut once, delete A and keep its completion,
// and verification then reported tampering).
func TestAuditRetentionInterleaved(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		old, recent := t0, t0.Add(30*24*time.Hour)
		a := mustAppend(t, db, entry(old, "a@corp.example", "credential.reset", "example.com", OutcomePending, "l@example.com"))
		b := mustAppend(t, db, entry(old, "b@corp.example", "credential.reset", "example.com", OutcomePending, "m@example.com"))
		mustComplete(t, db, a, OutcomeOK, 200, "", old.Add(time.Second))
		c := mustAppend(t, db, entry(recent, "c@corp.example", "auth.sign_in", "", OutcomeOK))
		mustComplete(t, db, b, OutcomeOK, 200, "", recent.Add(time.Second))

		n, err := db.DeleteAuditBefore(context.Background(), recent.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("deleted %d entries, want 0: A's completion is held with B, so A is too", n)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != 0 {
			t.Errorf("VerifyAudit after retention = %+v, want intact", rep)
		}
		rest, err := db.ListAudit(context.Background(), AuditFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(rest), []int64{c, b, a}; !slices.Equal(got, want) {
			t.Errorf("kept ids = %v, want %v", got, want)
		}
	})
}

// TestAuditVerifyDuringRetention verifies over and over while retention removes the oldest
// rows one by one. Verification reads one snapshot; when it read the anchor and the rows in
// separate statements, a retention run in between looked like rows removed by hand (a few
// times in every fifty runs).
func TestAuditVerifyDuringRetention(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		const n = 150
		for i := range n {
			mustAppend(t, db, entry(t0.Add(time.Duration(i)*time.Second), "u@corp.example", "auth.sign_in", "", OutcomeOK))
		}
		done := make(chan error, 1)
		go func() {
			for i := 1; i < n; i++ {
				if _, err := db.DeleteAuditBefore(ctx, t0.Add(time.Duration(i)*time.Second)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		runs, alarms := 0, 0
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("DeleteAuditBefore: %v", err)
				}
				if alarms > 0 {
					t.Errorf("%d of %d verifications during retention reported tampering", alarms, runs)
				}
				if runs == 0 {
					t.Error("no verification ran during retention")
				}
				return
			default:
			}
			rep := mustVerify(t, db)
			runs++
			if rep.BrokenAt != 0 {
				if alarms == 0 {
					t.Logf("first false alarm: %+v", rep)
				}
				alarms++
			}
		}
	})
}

// TestAuditStoresAnyText: a User-Agent with a byte that is not UTF-8 and a name claim with a NUL
// are stored on both databases (PostgreSQL refused the entry, so the action went unrecorded),
// with the bytes marked, and the chain verifies what was stored.
func TestAuditStoresAnyText(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		e := entry(t0, "eve@corp.example", "access.denied", "example.com", OutcomeDenied, "x\x00@example.com")
		e.UserAgent = "Mozilla/5.0 \xff"
		e.ActorName = "Eve\x00"
		id := mustAppend(t, db, e)
		mustComplete(t, db, mustAppend(t, db, entry(t0, "eve@corp.example", "credential.reset", "example.com", OutcomePending, "y@example.com")),
			OutcomeFailed, 502, "bad gateway \xfe", t0.Add(time.Second))
		got, err := db.ListAudit(context.Background(), AuditFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		byID := map[int64]AuditEntry{}
		for _, g := range got {
			byID[g.ID] = g
		}
		if g := byID[id]; g.UserAgent != "Mozilla/5.0 \uFFFD" || g.ActorName != "Eve\uFFFD" || !slices.Equal(g.Logins, []string{"x\uFFFD@example.com"}) {
			t.Errorf("stored %q, %q, %q; want the bad bytes replaced by U+FFFD", g.UserAgent, g.ActorName, g.Logins)
		}
		if g := byID[id+1]; g.UpstreamMessage != "bad gateway \uFFFD" {
			t.Errorf("stored upstream message %q, want the bad byte replaced", g.UpstreamMessage)
		}
		if got, err := db.ListAudit(context.Background(), AuditFilter{Login: "x\uFFFD@example.com"}); err != nil || len(got) != 1 {
			t.Errorf("login filter on the stored form = %d entries, %v; want 1", len(got), err)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != 0 {
			t.Errorf("VerifyAudit = %+v, want intact", rep)
		}
	})
}

// TestAuditDatesOutOfRange: a date filter outside the years int64 nanoseconds can hold
// (1678-2262), from a typo such as 0202 or 9999, selects as far as the trail goes, where it used
// to wrap around and select nothing.
func TestAuditDatesOutOfRange(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		mustAppend(t, db, entry(t0, "u@corp.example", "auth.sign_in", "", OutcomeOK))
		for _, f := range []AuditFilter{
			{From: time.Date(202, 1, 1, 0, 0, 0, 0, time.UTC)},
			{To: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)},
			{From: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)},
		} {
			if got, err := db.ListAudit(context.Background(), f); err != nil || len(got) != 1 {
				t.Errorf("from %s to %s: %d entries, %v; want 1", f.From.Format(time.DateOnly), f.To.Format(time.DateOnly), len(got), err)
			}
		}
		if got, err := db.ListAudit(context.Background(), AuditFilter{From: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil || len(got) != 0 {
			t.Errorf("from 9999: %d entries, %v; want none", len(got), err)
		}
	})
}

// TestAuditConcurrent runs 100 actions (append then complete) from
// goroutines over several *DB handles, like replicas sharing a database.
//
// The 200 writes queue for the chain's one lock, so the last waits for all the others: on a
// loaded machine that took longer than the store's deadline (DefaultTimeout), which is not what
// this test is about (TestOperationsEndAtTheDeadline is), so its handles have none (go test's
// -timeout is the safety net). On PostgreSQL each handle keeps to a few connections: with the
// pool's maxIdleConns each, the four took 80 of the server's 100 (PostgreSQL's default
// max_connections), and a test package running meanwhile (go test -p 2) was refused with "too
// many clients already". A few each still have several replicas' transactions wait on the lock
// at once.
func TestAuditConcurrent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		db.timeout = 0
		handles := []*DB{db.DB}
		for range 3 {
			handles = append(handles, openTest(t, db.dsn, WithTimeout(0)))
		}
		if db.Dialect() == DialectPostgres {
			for _, h := range handles {
				h.sql.SetMaxOpenConns(4)
			}
		}
		const n = 100
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := handles[i%len(handles)]
				at := t0.Add(time.Duration(i) * time.Millisecond)
				id, err := h.AppendAudit(ctx, entry(at, fmt.Sprintf("u%d@corp.example", i), "credential.create", "example.com", OutcomePending, fmt.Sprintf("l%d@example.com", i)))
				if err != nil {
					errs <- err
					return
				}
				if err := h.CompleteAudit(ctx, id, OutcomeOK, 200, "Created", at.Add(time.Millisecond)); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent action: %v", err)
		}
		got, err := db.ListAudit(ctx, AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Errorf("entries = %d, want %d", len(got), n)
		}
		emails := map[string]bool{}
		for _, e := range got {
			emails[e.ActorEmail] = true
			if e.Outcome != OutcomeOK {
				t.Errorf("entry %d outcome %q, want ok", e.ID, e.Outcome)
			}
		}
		if len(emails) != n {
			t.Errorf("distinct actors = %d, want %d", len(emails), n)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != 0 || rep.Checked != 2*n {
			t.Errorf("VerifyAudit = %+v, want intact with %d rows", rep, 2*n)
		}
	})
}

// TestAuditLastOK: the newest successful entry of an action per login of a domain, with the
// login's case folded; failed, unknown and pending entries, other actions and other domains
// do not count.
func TestAuditLastOK(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		add := func(at time.Time, action, domain, outcome string, logins ...string) {
			id := mustAppend(t, db, entry(at, "alice@corp.example", action, domain, OutcomePending, logins...))
			if outcome != OutcomePending {
				mustComplete(t, db, id, outcome, 200, "", at.Add(time.Second))
			}
		}
		add(t0, "credential.reset", "example.com", OutcomeOK, "a@example.com")
		add(t0.Add(time.Hour), "credential.reset", "example.com", OutcomeOK, "A@Example.com")
		add(t0.Add(2*time.Hour), "credential.reset", "example.com", OutcomeFailed, "a@example.com")
		add(t0.Add(3*time.Hour), "credential.reset", "example.com", OutcomeUnknown, "b@example.com")
		add(t0.Add(4*time.Hour), "credential.reset", "example.com", OutcomePending, "c@example.com")
		add(t0.Add(5*time.Hour), "credential.create", "example.com", OutcomeOK, "d@example.com")
		add(t0.Add(6*time.Hour), "credential.reset", "acme.example", OutcomeOK, "e@acme.example")
		add(t0.Add(7*time.Hour), "credential.reset", "example.com", OutcomeOK, "f@example.com")

		got, err := db.LastOK(ctx, "Example.COM", "credential.reset")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]time.Time{"a@example.com": t0.Add(time.Hour), "f@example.com": t0.Add(7 * time.Hour)}
		if len(got) != len(want) {
			t.Fatalf("LastOK = %v, want %v", got, want)
		}
		for l, at := range want {
			if !got[l].Equal(at) {
				t.Errorf("LastOK[%s] = %v, want %v", l, got[l], at)
			}
		}
		if got, err := db.LastOK(ctx, "empty.example", "credential.reset"); err != nil || len(got) != 0 {
			t.Errorf("LastOK of a domain without entries = %v, %v", got, err)
		}
	})
}

// TestAuditNewestOKMarked: the logins of a domain whose newest successful entry of an action is
// marked (its detail, or an older entry's message, begins with the marker), with the login's case
// folded and that entry's times; a later unmarked entry unmarks the login, and failed, unknown
// and pending entries, other actions and other domains do not count.
func TestAuditNewestOKMarked(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		add := func(at time.Time, action, domain, detail, outcome, message string, logins ...string) {
			e := entry(at, "alice@corp.example", action, domain, OutcomePending, logins...)
			e.Detail = detail
			id := mustAppend(t, db, e)
			if outcome != OutcomePending {
				mustComplete(t, db, id, outcome, 200, message, at.Add(time.Second))
			}
		}
		const sys = "Asked for as system logins."
		add(t0, "credential.create", "example.com", sys, OutcomeOK, "Created 2", "a@example.com", "b@example.com")
		add(t0.Add(time.Hour), "credential.create", "example.com", "", OutcomeOK, "Created 1", "B@Example.com")
		add(t0.Add(2*time.Hour), "credential.create", "example.com", "", OutcomeFailed, "no", "a@example.com")
		add(t0.Add(3*time.Hour), "credential.create", "example.com", sys, OutcomeUnknown, "", "c@example.com")
		add(t0.Add(4*time.Hour), "credential.create", "example.com", sys, OutcomePending, "", "d@example.com")
		add(t0.Add(5*time.Hour), "credential.reset", "example.com", sys, OutcomeOK, "", "e@example.com")
		add(t0.Add(6*time.Hour), "credential.create", "acme.example", sys, OutcomeOK, "", "f@acme.example")
		// An entry of the previous version: the marker ahead of the completion's message.
		add(t0.Add(7*time.Hour), "credential.create", "example.com", "", OutcomeOK, sys+" Created 1", "g@example.com")
		// A marker with LIKE's wildcards matches only itself.
		add(t0.Add(8*time.Hour), "credential.create", "example.com", "", OutcomeOK, "Asked for as system logins_ Created 1", "h@example.com")
		// The marker and more after a space is marked; the marker run into other text is not.
		add(t0.Add(9*time.Hour), "credential.create", "example.com", sys+" Asked for generated passwords.", OutcomeOK, "Created 1", "i@example.com")
		add(t0.Add(10*time.Hour), "credential.create", "example.com", sys+"x", OutcomeOK, "Created 1", "j@example.com")
		add(t0.Add(11*time.Hour), "credential.create", "example.com", "Asked for as system logins_ more", OutcomeOK, "Created 1", "k@example.com")
		// An entry with a detail of its own is marked by its detail alone, whatever its completion's
		// message begins with.
		add(t0.Add(12*time.Hour), "credential.create", "example.com", "Asked for generated passwords.", OutcomeOK, sys+" Created 1", "l@example.com")

		got, err := db.NewestOKMarked(ctx, "Example.COM", "credential.create", sys)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]MarkedOK{
			"a@example.com": {At: t0, Completed: t0.Add(time.Second)},
			"g@example.com": {At: t0.Add(7 * time.Hour), Completed: t0.Add(7*time.Hour + time.Second)},
			"i@example.com": {At: t0.Add(9 * time.Hour), Completed: t0.Add(9*time.Hour + time.Second)},
		}
		if len(got) != len(want) {
			t.Fatalf("NewestOKMarked = %v, want %v", got, want)
		}
		for l, w := range want {
			if g := got[l]; !g.At.Equal(w.At) || !g.Completed.Equal(w.Completed) {
				t.Errorf("NewestOKMarked[%s] = %+v, want %+v", l, g, w)
			}
		}
	})
}

// TestAuditEachHoldsNoConnection: EachAudit (the exports) calls fn, which writes to a browser
// that may be slow, while it holds no database connection, so a few slow downloads cannot take
// the pool (and, on SQLite, keep the WAL from being checkpointed); and its batches, read by
// keyset, neither skip nor repeat an entry, with or without a filter, a limit or a cursor.
func TestAuditEachHoldsNoConnection(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		const n = 2*eachAuditBatch + 7
		bulkAudit(t, db.DB, n) // ids 1..n; domain example.com for ids 1, 5, 9, ...
		walk := func(f AuditFilter) []int64 {
			t.Helper()
			var got []int64
			err := db.EachAudit(ctx, f, func(e AuditEntry) error {
				if inUse := db.sql.Stats().InUse; inUse != 0 {
					t.Fatalf("entry %d: fn called with %d database connections in use, want 0", e.ID, inUse)
				}
				got = append(got, e.ID)
				return nil
			})
			if err != nil {
				t.Fatalf("EachAudit(%+v): %v", f, err)
			}
			return got
		}
		want := func(from, to int64, keep func(int64) bool, limit int) []int64 {
			var out []int64
			for id := from; id >= to && (limit <= 0 || len(out) < limit); id-- {
				if keep(id) {
					out = append(out, id)
				}
			}
			return out
		}
		every := func(int64) bool { return true }
		exampleCom := func(id int64) bool { return (id-1)%4 == 0 }
		for _, tc := range []struct {
			name string
			f    AuditFilter
			want []int64
		}{
			{"everything", AuditFilter{}, want(n, 1, every, 0)},
			{"a batch exactly", AuditFilter{Limit: eachAuditBatch}, want(n, 1, every, eachAuditBatch)},
			{"limit across batches", AuditFilter{Limit: eachAuditBatch + 3}, want(n, 1, every, eachAuditBatch+3)},
			{"domain", AuditFilter{Domain: "example.com"}, want(n, 1, exampleCom, 0)},
			{"cursor", AuditFilter{Before: n - 10}, want(n-11, 1, every, 0)},
		} {
			if got := walk(tc.f); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %d ids %v…, want %d ids %v…", tc.name, len(got), got[:min(len(got), 5)], len(tc.want), tc.want[:min(len(tc.want), 5)])
			}
		}
	})
}

// TestAuditRetentionInBatches: retention removes a long prefix a batch of rows per transaction,
// each moving the anchor on, so it never holds the audit lock (and SQLite's write lock) for the
// whole prefix; a batch never ends between an action and its completion, and the trail is as
// one transaction would have left it. A trigger records every anchor written.
func TestAuditRetentionInBatches(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		trigger := []string{
			"CREATE TABLE anchor_log (last_id BIGINT NOT NULL)",
			"CREATE TRIGGER anchor_logged AFTER INSERT ON audit_anchor BEGIN INSERT INTO anchor_log VALUES (NEW.last_id); END",
		}
		if db.Dialect() == DialectPostgres {
			trigger = []string{
				"CREATE TABLE anchor_log (last_id BIGINT NOT NULL)",
				`CREATE FUNCTION log_anchor() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN INSERT INTO anchor_log VALUES (NEW.last_id); RETURN NEW; END $$`,
				"CREATE TRIGGER anchor_logged AFTER INSERT ON audit_anchor FOR EACH ROW EXECUTE FUNCTION log_anchor()",
			}
		}
		for _, q := range trigger {
			if _, err := db.sql.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		// Old events around an old action x whose completion comes after the first batch's
		// end; then an old action a completed after a recent entry, which holds it.
		bulkAudit(t, db.DB, retentionBatch-10)
		x := mustAppend(t, db, entry(t0, "x@corp.example", "credential.reset", "example.com", OutcomePending, "x@example.com"))
		bulkAudit(t, db.DB, 20)
		mustComplete(t, db, x, OutcomeOK, 200, "", t0.Add(time.Second))
		xDone := x + 21 // x's completion row
		bulkAudit(t, db.DB, retentionBatch+500)
		a := mustAppend(t, db, entry(t0, "a@corp.example", "credential.reset", "example.com", OutcomePending, "a@example.com"))
		recent := mustAppend(t, db, entry(t0.Add(48*time.Hour), "r@corp.example", "auth.sign_in", "", OutcomeOK))
		mustComplete(t, db, a, OutcomeOK, 200, "", t0.Add(48*time.Hour))

		n, err := db.DeleteAuditBefore(ctx, t0.Add(24*time.Hour))
		if err != nil {
			t.Fatalf("DeleteAuditBefore: %v", err)
		}
		if want := int64(a - 1 - 1); n != want { // every row before a, less x's completion
			t.Errorf("deleted %d entries, want %d", n, want)
		}
		rows, err := db.sql.QueryContext(ctx, "SELECT last_id FROM anchor_log")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var anchors []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			anchors = append(anchors, id)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(anchors)
		prev := int64(0)
		for _, id := range anchors {
			if id-prev > retentionBatch {
				t.Errorf("one transaction removed rows %d to %d, more than %d (anchors %v)", prev+1, id, retentionBatch, anchors)
			}
			if id >= x && id < xDone {
				t.Errorf("a batch ended at row %d, between action %d and its completion (anchors %v)", id, x, anchors)
			}
			prev = id
		}
		if len(anchors) == 0 || anchors[len(anchors)-1] != a-1 {
			t.Errorf("anchors %v, want the last at row %d", anchors, a-1)
		}
		rest, err := db.ListAudit(ctx, AuditFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(rest), []int64{recent, a}; !slices.Equal(got, want) {
			t.Errorf("kept ids = %v, want %v", got, want)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != 0 || !rep.Trimmed || rep.OldestID != a {
			t.Errorf("VerifyAudit after retention = %+v, want intact, trimmed, oldest row %d", rep, a)
		}
	})
}

// TestAuditTextMovedBetweenFieldsDetected: text moved from the end of one hashed field to the
// start of the next (request id "req;" and client IP "1" made "req" and ";1") changes the hash:
// each field is hashed with its length, so no two rows hash the same content however their
// fields are cut.
func TestAuditTextMovedBetweenFieldsDetected(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		e := entry(t0, "alice@corp.example", "auth.sign_in", "", OutcomeOK)
		e.RequestID, e.ClientIP = "req;", "1"
		id := mustAppend(t, db, e)
		mustAppend(t, db, entry(t0.Add(time.Minute), "bob@corp.example", "auth.sign_in", "", OutcomeOK))
		if rep := mustVerify(t, db); rep.BrokenAt != 0 {
			t.Fatalf("before tampering: %+v", rep)
		}
		if _, err := db.sql.Exec(db.rebind("UPDATE audit_log SET request_id = 'req', client_ip = ';1' WHERE id = ?"), id); err != nil {
			t.Fatal(err)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != id || rep.Reason == "" {
			t.Errorf("VerifyAudit = %+v, want BrokenAt %d with a reason", rep, id)
		}
	})
}

// TestAuditCompletionMovedDetected: a completion row pointed at another action (ref_id changed),
// with both actions' final outcome columns changed to agree (the first's cleared, as if still
// pending, the second's filled in), is reported at the completion row: the hash covers ref_id.
func TestAuditCompletionMovedDetected(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		m := seedFilters(t, db)
		done := m["create"] + 1 // create's completion row
		for _, c := range []struct {
			q    string
			args []any
		}{
			{"UPDATE audit_log SET ref_id = ? WHERE id = ?", []any{m["delete"], done}},
			{"UPDATE audit_log SET (final_outcome, final_status, final_message, completed_at) = " +
				"(SELECT final_outcome, final_status, final_message, completed_at FROM audit_log WHERE id = ?) WHERE id = ?",
				[]any{m["create"], m["delete"]}},
			{"UPDATE audit_log SET final_outcome = NULL, final_status = NULL, final_message = NULL, completed_at = NULL WHERE id = ?",
				[]any{m["create"]}},
		} {
			if _, err := db.sql.Exec(db.rebind(c.q), c.args...); err != nil {
				t.Fatalf("tamper %q: %v", c.q, err)
			}
		}
		if es, err := db.ListAudit(context.Background(), AuditFilter{Outcome: OutcomeOK, Action: "credential.delete"}); err != nil || len(es) != 1 {
			t.Fatalf("after the move the delete reads as done: %v, %v; want it so, to check the move took", ids(es), err)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != done || rep.Reason == "" {
			t.Errorf("VerifyAudit = %+v, want BrokenAt %d (the moved completion) with a reason", rep, done)
		}
	})
}

// TestAuditRetentionRemovesLoginIndex: retention removes the login index rows of the entries it
// removes, not only the entries: the logins a removed entry named are past the retention
// period too, and no longer in the database, while those of the kept entries stay.
func TestAuditRetentionRemovesLoginIndex(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		old := mustAppend(t, db, entry(t0, "u@corp.example", "credential.delete", "example.com", OutcomePending, "gone@example.com"))
		mustComplete(t, db, old, OutcomeOK, 200, "", t0.Add(time.Second))
		kept := mustAppend(t, db, entry(t0.Add(48*time.Hour), "u@corp.example", "credential.create", "example.com", OutcomePending, "kept@example.com"))
		if n, err := db.DeleteAuditBefore(ctx, t0.Add(24*time.Hour)); err != nil || n != 1 {
			t.Fatalf("DeleteAuditBefore = %d, %v; want 1", n, err)
		}
		rows, err := db.sql.QueryContext(ctx, "SELECT entry_id, login FROM audit_logins ORDER BY entry_id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var id int64
			var login string
			if err := rows.Scan(&id, &login); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%d %s", id, login))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if want := []string{fmt.Sprintf("%d kept@example.com", kept)}; !slices.Equal(got, want) {
			t.Errorf("audit_logins after retention = %q, want %q", got, want)
		}
	})
}

// TestAuditVerifyReportsTheFirstBrokenRow: of two rows broken, VerifyAudit reports the older
// one even when the check that finds it runs after the one that finds the newer: here the
// chain walk finds the newer (a detail changed) and the final outcome check the older.
func TestAuditVerifyReportsTheFirstBrokenRow(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		m := seedFilters(t, db)
		for _, q := range []string{
			fmt.Sprintf("UPDATE audit_log SET final_status = 200 WHERE id = %d", m["reset"]),
			fmt.Sprintf("UPDATE audit_log SET detail = 'changed' WHERE id = %d", m["tricky"]),
		} {
			if _, err := db.sql.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		if rep := mustVerify(t, db); rep.BrokenAt != m["reset"] || !strings.Contains(rep.Reason, "final outcome") {
			t.Errorf("VerifyAudit = %+v, want BrokenAt %d (the reset's final outcome), the older of the two", rep, m["reset"])
		}
	})
}

// TestAuditRehashedRowChangesTheHead: a row changed and hashed again (the chain is not keyed:
// anyone can compute a row's hash), with the next row's prev_hash set to match, breaks that next
// row: each row's hash covers the link to the one before, so no change before the head leaves
// the head's hash, written down earlier, as it was.
func TestAuditRehashedRowChangesTheHead(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		m := seedFilters(t, db)
		before := mustVerify(t, db)
		target := m["signin"]
		var r auditRow
		var ref sql.NullInt64
		if err := db.sql.QueryRowContext(ctx, db.rebind(`SELECT id, kind, time, actor_issuer, actor_subject, actor_email,
			actor_name, action, domain, logins, outcome, upstream_status, upstream_message, request_id, client_ip,
			user_agent, detail, ref_id, prev_hash FROM audit_log WHERE id = ?`), target).Scan(&r.id, &r.kind, &r.time,
			&r.actorIssuer, &r.actorSubject, &r.actorEmail, &r.actorName, &r.action, &r.domain, &r.logins, &r.outcome,
			&r.upstreamStatus, &r.upstreamMessage, &r.requestID, &r.clientIP, &r.userAgent, &r.detail, &ref, &r.prevHash); err != nil {
			t.Fatal(err)
		}
		r.refID = ref.Int64
		r.outcome = OutcomeFailed
		hash := hashRow(&r)
		for _, q := range []struct {
			q    string
			args []any
		}{
			{"UPDATE audit_log SET outcome = ?, hash = ? WHERE id = ?", []any{r.outcome, hash, target}},
			{"UPDATE audit_log SET prev_hash = ? WHERE id = ?", []any{hash, target + 1}},
		} {
			if _, err := db.sql.ExecContext(ctx, db.rebind(q.q), q.args...); err != nil {
				t.Fatal(err)
			}
		}
		rep := mustVerify(t, db)
		if rep.BrokenAt == 0 && rep.HeadHash == before.HeadHash {
			t.Fatalf("VerifyAudit = %+v: intact with the head's hash of before the change", rep)
		}
		if rep.BrokenAt != target+1 {
			t.Errorf("VerifyAudit = %+v, want BrokenAt %d (the row whose link was changed)", rep, target+1)
		}
	})
}

// TestEachAuditDateRangeKeepsItsCursor: EachAudit with a date range keeps the caller's After
// (and Before) bound inside the range's ids: only the entries of the range between them.
func TestEachAuditDateRangeKeepsItsCursor(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		m := seedFilters(t, db)
		for _, tc := range []struct {
			name string
			f    AuditFilter
			want []int64
		}{
			{"after", AuditFilter{From: t0, To: t0.Add(3 * time.Hour), After: m["reset"]}, []int64{m["delete"]}},
			{"before", AuditFilter{From: t0.Add(time.Hour), To: t0.Add(6 * time.Hour), Before: m["delete"]}, []int64{m["reset"]}},
		} {
			var got []int64
			if err := db.EachAudit(context.Background(), tc.f, func(e AuditEntry) error {
				got = append(got, e.ID)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: EachAudit ids = %v, want %v", tc.name, got, tc.want)
			}
		}
	})
}

// TestAuditRetentionBound: retention removes the entries before its time and keeps one written
// at that very time, with everything after it.
func TestAuditRetentionBound(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		var all []int64
		for _, at := range []time.Time{t0.Add(-time.Nanosecond), t0, t0.Add(time.Nanosecond)} {
			all = append(all, mustAppend(t, db, entry(at, "u@corp.example", "auth.sign_in", "", OutcomeOK)))
		}
		if n, err := db.DeleteAuditBefore(ctx, t0); err != nil || n != 1 {
			t.Fatalf("DeleteAuditBefore(t0) = %d, %v; want 1 (the entry before t0)", n, err)
		}
		got, err := db.ListAudit(ctx, AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{all[2], all[1]}; !slices.Equal(ids(got), want) {
			t.Errorf("after retention ListAudit ids = %v, want %v (the entries at and after t0)", ids(got), want)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != 0 || rep.OldestID != all[1] || !rep.Trimmed {
			t.Errorf("VerifyAudit = %+v, want intact, trimmed, oldest %d", rep, all[1])
		}
	})
}

// TestAuditRetentionOldestActionCompletedFarOn: the trail's oldest row is an action completed more
// than a retention batch further on; no batch can end before that completion, so the whole
// prefix goes at once rather than nothing (a run that removed nothing, and every run after it).
func TestAuditRetentionOldestActionCompletedFarOn(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		o := mustAppend(t, db, entry(t0, "o@corp.example", "credential.reset", "example.com", OutcomePending, "o@example.com"))
		bulkAudit(t, db.DB, retentionBatch+10)
		mustComplete(t, db, o, OutcomeOK, 200, "", t0.Add(time.Hour))
		recent := mustAppend(t, db, entry(t0.Add(48*time.Hour), "r@corp.example", "auth.sign_in", "", OutcomeOK))
		n, err := db.DeleteAuditBefore(ctx, t0.Add(24*time.Hour))
		if err != nil || n != retentionBatch+11 {
			t.Fatalf("DeleteAuditBefore = %d, %v; want %d (every entry before the recent one)", n, err, retentionBatch+11)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != 0 || rep.OldestID != recent || rep.Checked != 1 {
			t.Errorf("VerifyAudit = %+v, want intact with the recent entry %d alone", rep, recent)
		}
	})
}

// TestAuditIDsAreUnique: the trail refuses a second row under an id it holds, whatever writes
// it (the chain's order is its ids; the audit lock keeps SMTP Desk's own writers apart).
func TestAuditIDsAreUnique(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		id := mustAppend(t, db, entry(t0, "alice@corp.example", "auth.sign_in", "", OutcomeOK))
		_, err := db.sql.Exec(db.rebind(`INSERT INTO audit_log (id, kind, time, action, outcome, prev_hash, hash)
			SELECT id, kind, time, action, outcome, prev_hash, hash FROM audit_log WHERE id = ?`), id)
		if err == nil {
			t.Errorf("a second row with id %d was taken", id)
		}
	})
}

// TestAuditLoginIndexOfTheNewestEntryVerified: the login index of the trail's newest entry is
// checked as every other's (the walk through the index ends with it).
func TestAuditLoginIndexOfTheNewestEntryVerified(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		mustAppend(t, db, entry(t0, "alice@corp.example", "credential.reset", "example.com", OutcomePending, "a@example.com"))
		newest := mustAppend(t, db, entry(t0.Add(time.Minute), "alice@corp.example", "credential.reset", "example.com", OutcomePending, "b@example.com"))
		if _, err := db.sql.Exec(db.rebind("UPDATE audit_logins SET login = ? WHERE entry_id = ?"), "other@example.com", newest); err != nil {
			t.Fatal(err)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != newest || !strings.Contains(rep.Reason, "login index") {
			t.Errorf("VerifyAudit = %+v, want BrokenAt %d (its login index)", rep, newest)
		}
	})
}

// TestAuditAnchorHashChecked: after retention, the oldest kept row must link to the retention
// anchor's hash, not only follow its id: an anchor whose hash was changed is reported at that
// row.
func TestAuditAnchorHashChecked(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		mustAppend(t, db, entry(t0, "u@corp.example", "auth.sign_in", "", OutcomeOK))
		kept := mustAppend(t, db, entry(t0.Add(48*time.Hour), "u@corp.example", "auth.sign_in", "", OutcomeOK))
		if n, err := db.DeleteAuditBefore(ctx, t0.Add(24*time.Hour)); err != nil || n != 1 {
			t.Fatalf("DeleteAuditBefore = %d, %v; want 1", n, err)
		}
		if _, err := db.sql.ExecContext(ctx, "UPDATE audit_anchor SET hash = 'forged' WHERE one = 1"); err != nil {
			t.Fatal(err)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != kept || !strings.Contains(rep.Reason, "anchor") {
			t.Errorf("VerifyAudit = %+v, want BrokenAt %d, not linked to the anchor", rep, kept)
		}
	})
}
