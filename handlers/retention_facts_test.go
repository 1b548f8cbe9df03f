package handlers_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/audit"
)

// TestRetentionKeepsResets: README says a password's age counts from the login's
// creation or its last reset through SMTP Desk that succeeded, and AUDIT_RETENTION deletes old
// audit entries. The reset is read from the audit trail alone, so with AUDIT_RETENTION=180d and
// AGE_WARNING_DAYS=365 (nothing warns about the pair) a login reset 200 days ago is marked
// "consider rotating" and exported with its creation's age and no password_reset_at.
func TestRetentionKeepsResets(t *testing.T) {
	clock := &handlersClock{t: time.Now()}
	now0 := clock.Now()
	e := newEnv(t, envOptions{Now: clock.Now})
	if err := e.SB.AddCredential("acme.example", "rot@acme.example", "Rot-password-123", now0.AddDate(-3, 0, 0)); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(t, "operator")
	const reset = "/d/acme.example/logins/rot@acme.example/reset"
	wantStatus(t, submit(t, c, reset, reset, map[string]string{"mode": "generate"}), http.StatusOK)

	row := func(t *testing.T) []string {
		t.Helper()
		p := get(t, c, "/d/acme.example/export.csv")
		wantStatus(t, p, http.StatusOK)
		rows, err := csv.NewReader(bytes.NewReader(p.Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r[1] == "rot@acme.example" {
				return r
			}
		}
		t.Fatalf("login not exported: %q", rows)
		return nil
	}
	if r := row(t); r[6] != "no" || r[7] == "" {
		t.Fatalf("just after the reset: row %q, want consider_rotating no and password_reset_at set", r)
	}

	retainAfter(t, e, clock, now0.Add(200*24*time.Hour))
	if r := row(t); r[6] != "no" || r[7] == "" {
		t.Errorf("200 days after the reset (AGE_WARNING_DAYS=365, AUDIT_RETENTION=180d): row %q; want consider_rotating no, password_reset_at the reset, password_age_days 200", r)
	}
}

// TestRetentionKeepsSystemLogins: a login created through SMTP Desk as a system login is known as
// one from the audit trail alone (Mailgun's list has no such flag); once retention removed that
// entry, its row lost the badge and offered a Delete that Mailgun refuses.
func TestRetentionKeepsSystemLogins(t *testing.T) {
	clock := &handlersClock{t: time.Now()}
	now0 := clock.Now()
	e := newEnv(t, envOptions{Now: clock.Now})
	c := e.signIn(t, "admin")
	const d = "empty.example"
	wantStatus(t, submit(t, c, "/d/"+d+"/new", "/d/"+d+"/new", map[string]string{"logins": "sys1", "mode": "generate", "system": "on"}), http.StatusOK)

	retainAfter(t, e, clock, now0.Add(200*24*time.Hour))
	p := get(t, c, "/d/"+d)
	wantStatus(t, p, http.StatusOK)
	row := p.Find(`tr[data-login="sys1@` + d + `"]`)
	if row.Length() != 1 {
		t.Fatal("no row for sys1")
	}
	if row.Find(`[data-testid="system-badge"]`).Length() == 0 || row.Find("a.ad").Length() != 0 {
		t.Errorf("200 days after its create (AUDIT_RETENTION=180d), sys1's row has no system badge or offers a Delete: %s", row.Text())
	}
}

// handlersClock is a clock for the handlers alone (envOptions.Now) that a test sets: the
// harness's own clock ages the sessions too, which 200 days would end.
type handlersClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *handlersClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// retainAfter sets the handlers' clock to at and runs retention there with AUDIT_RETENTION=180d,
// which must remove some entries.
func retainAfter(t *testing.T, e *env, clock *handlersClock, at time.Time) {
	t.Helper()
	clock.mu.Lock()
	clock.t = at
	clock.mu.Unlock()
	if n, err := audit.RetainOnce(context.Background(), e.DB, 180*24*time.Hour, func() time.Time { return at }, nil); err != nil || n == 0 {
		t.Fatalf("retention removed %d entries, %v", n, err)
	}
}
