package store

import (
	"context"
	"testing"
	"time"
)

// TestAuditSecondCompletionDetected: someone with write access appends, at the end of the trail,
// a second completion of an action already completed, with the same outcome, status, message
// and time as the first, and with prev_hash and hash computed as SMTP Desk computes them (the
// algorithm holds no key). The chain is intact and the entry's final columns match both
// completions, so only the check for a second completion of the same action sees it:
// VerifyAudit must report that row.
func TestAuditSecondCompletionDetected(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		id, err := db.AppendAudit(ctx, AuditEntry{Time: at, ActorIssuer: "https://idp.example", ActorSubject: "sub-1",
			ActorEmail: "olga@acme.example", Action: "credential.delete", Domain: "acme.example",
			Logins: []string{"alice@acme.example"}, Outcome: OutcomePending})
		if err != nil {
			t.Fatal(err)
		}
		done := at.Add(time.Second)
		if err := db.CompleteAudit(ctx, id, OutcomeOK, 200, "Credentials have been deleted", done); err != nil {
			t.Fatal(err)
		}
		if rep := mustVerify(t, db); rep.BrokenAt != 0 {
			t.Fatalf("before tampering: %+v", rep)
		}
		var forged int64
		err = db.writeTx(ctx, func(tx *tx) error {
			r := &auditRow{kind: kindCompletion, time: nanos(done), action: actionComplete, logins: "[]",
				outcome: OutcomeOK, upstreamStatus: 200, upstreamMessage: "Credentials have been deleted", refID: id}
			if err := tx.appendRow(ctx, r); err != nil {
				return err
			}
			forged = r.id
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rep := mustVerify(t, db)
		if rep.BrokenAt != forged || rep.Reason == "" {
			t.Errorf("VerifyAudit = %+v, want BrokenAt %d (a second completion of entry %d)", rep, forged, id)
		}
	})
}
