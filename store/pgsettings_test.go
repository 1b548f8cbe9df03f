package store

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// The PostgreSQL settings a DBA may give the server, the database or the role, which change what
// the store's statements meet. Each is given here as a connection parameter of the test's DSN.

// TestServerTimeoutsAreUnavailable: a PostgreSQL lock_timeout or statement_timeout is the
// database not answering in time, as SQLite's busy timeout is: ErrUnavailable (a 503 page, and
// the audit recorder's retry), not a plain error (a 500, no retry).
func TestServerTimeoutsAreUnavailable(t *testing.T) {
	for _, p := range []string{"lock_timeout=200", "statement_timeout=200"} {
		t.Run(p, func(t *testing.T) {
			ctx := context.Background()
			dsn := newPostgresSchema(t)
			db := openTest(t, dsn+"&"+p)
			hold, err := openTest(t, dsn).sql.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer hold.Rollback()
			if _, err := hold.ExecContext(ctx, "LOCK TABLE audit_log, sessions IN ACCESS EXCLUSIVE MODE"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.GetSession(ctx, "x"); !errors.Is(err, ErrUnavailable) {
				t.Errorf("GetSession behind a lock = %v, want ErrUnavailable", err)
			}
			if _, err := db.AppendAudit(ctx, entry(t0, "a@corp.example", "auth.sign_in", "", OutcomeOK)); !errors.Is(err, ErrUnavailable) {
				t.Errorf("AppendAudit behind a lock = %v, want ErrUnavailable", err)
			}
		})
	}
}

// TestLikeWithoutStandardConformingStrings: with standard_conforming_strings off, the literal
// '\' of ESCAPE '\' opens a backslash escape, and the query is a syntax error: the actor filter
// and NewestOKMarked (every domain page's system logins) failed after Open had succeeded. The
// wildcards in the filter are still taken literally.
func TestLikeWithoutStandardConformingStrings(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, newPostgresSchema(t)+"&standard_conforming_strings=off")
	tdb := testDB{DB: db}
	id := mustAppend(t, tdb, entry(t0, "alice@corp.example", "auth.sign_in", "", OutcomeOK))
	odd := entry(t0, "a_b!%c@corp.example", "auth.sign_in", "", OutcomeOK)
	odd.ActorName = "A_b!%c"
	oddID := mustAppend(t, tdb, odd)
	for filter, want := range map[string][]int64{"alice": {id}, "a_b!%": {oddID}, "_": {oddID}, "!": {oddID}, "%": {oddID}, "a%c": nil} {
		if got, err := db.ListAudit(ctx, AuditFilter{Actor: filter}); err != nil || !slices.Equal(ids(got), want) {
			t.Errorf("actor filter %q = %v, %v; want %v", filter, ids(got), err, want)
		}
	}
	if _, err := db.NewestOKMarked(ctx, "example.com", "credential.create", "Asked for as system logins."); err != nil {
		t.Errorf("NewestOKMarked: %v", err)
	}
}

// TestActorFilterFindsEitherSigma: the actor filter lowers its text and the row's as
// strings.ToLower does, which is not a case fold: Σ lowers to σ, while the final form ς stays ς,
// so a Greek name was not found by its other case (ΜΑΡΚΟΣ by Μαρκος, and the reverse).
func TestActorFilterFindsEitherSigma(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		upper := entry(t0, "m@corp.example", "auth.sign_in", "", OutcomeOK)
		upper.ActorName = "ΜΑΡΚΟΣ ΠΑΠΑΔΟΠΟΥΛΟΣ"
		up := mustAppend(t, db, upper)
		mixed := entry(t0, "n@corp.example", "auth.sign_in", "", OutcomeOK)
		mixed.ActorName = "Νίκος Σταύρου"
		mi := mustAppend(t, db, mixed)
		many := entry(t0, "s@corp.example", "auth.sign_in", "", OutcomeOK)
		many.ActorName = "ΣΣΣΣΣΣ" // six sigmas: past maxSigmas, the last two match any letter
		ma := mustAppend(t, db, many)
		mustAppend(t, db, entry(t0, "other@corp.example", "auth.sign_in", "", OutcomeOK))
		for filter, want := range map[string][]int64{
			"Μαρκος": {up}, "μαρκοσ": {up}, "ΜΑΡΚΟΣ": {up}, "Παπαδόπουλος": nil, "Παπαδοπουλος": {up},
			"ΝΊΚΟΣ": {mi}, "νίκοσ": {mi}, "σταύρου": {mi}, "ς": {ma, mi, up}, "ςς": {ma},
			"ςςςςςς": {ma}, "σσσσσσ": {ma}, "ςςςςςςς": nil,
		} {
			got, err := db.ListAudit(context.Background(), AuditFilter{Actor: filter})
			if err != nil || !slices.Equal(ids(got), want) {
				t.Errorf("actor %q found %v, %v; want %v", filter, ids(got), err, want)
			}
		}
	})
}
