package store

import (
	"context"
	"maps"
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
