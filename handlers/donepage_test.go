package handlers_test

import (
	"context"
	"database/sql"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/internal/testpg"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestChangeDoneWhileSessionsCannotBeWritten: a change Mailgun made, whose message for the list
// the session cannot keep (the sessions table locked against writes past the store's deadline),
// is shown on a page of its own, 200, with the message, why the list is not shown, the request id
// and a link to the list. It redirected to the list instead, which showed no message (nothing
// said the change was made) or, with the database down (TestDeleteWhileTheDatabaseIsDown), was a
// 503 page reading as if the change had failed.
func TestChangeDoneWhileSessionsCannotBeWritten(t *testing.T) {
	const bob = "/d/acme.example/logins/bob@acme.example/delete"
	tests := []struct {
		name string
		// prepare loads the form page (and does what must happen before the lock); send posts it.
		prepare func(t *testing.T, c *testflow.Client) *testflow.Page
		form    string
		fields  map[string]string
		flash   string // what the message says
		changed func(e *env) bool
	}{
		{"delete", func(t *testing.T, c *testflow.Client) *testflow.Page { return get(t, c, bob) },
			"delete-form", nil, "Deleted bob@acme.example.",
			func(e *env) bool { return !slices.Contains(e.SB.Logins("acme.example"), "bob@acme.example") }},
		{"delete of a login already gone", func(t *testing.T, c *testflow.Client) *testflow.Page {
			page := get(t, c, bob)
			wantStatus(t, sendForm(t, c, get(t, c, bob), testid("delete-form"), nil), http.StatusOK)
			return page
		}, "delete-form", nil, "bob@acme.example was already gone from acme.example",
			// bob was gone before the lock: the change to check is the second delete, which
			// Mailgun answered "not found".
			func(e *env) bool { return len(e.callsTo(sandbox.RouteDelete, "acme.example")) == 2 }},
		{"delete all", func(t *testing.T, c *testflow.Client) *testflow.Page {
			return get(t, c, "/d/newsletter.example.org/delete-all")
		}, "delete-all-form", map[string]string{"confirm": "newsletter.example.org"}, "Deleted ",
			func(e *env) bool { return len(e.callsTo(sandbox.RouteDeleteAll, "newsletter.example.org")) == 1 }},
		{"manual reset", func(t *testing.T, c *testflow.Client) *testflow.Page { return get(t, c, resetUser) },
			"reset-form", map[string]string{"mode": "manual", "password": "chosen-pass-42", "password2": "chosen-pass-42"},
			"Password for alice@acme.example changed.",
			func(e *env) bool { return e.SB.CheckPassword("acme.example", "alice", "chosen-pass-42") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dsn := testpg.Schema(t)
			// Short for the test, long against any query the sign-in makes.
			e := newEnv(t, envOptions{DatabaseURL: dsn, StoreOptions: []store.Option{store.WithTimeout(3 * time.Second)}})
			c := e.signIn(t, "admin")
			page := tt.prepare(t, c)
			wantStatus(t, page, http.StatusOK)

			// Reads go on (the session is found), writes wait past the store's deadline.
			unlock := lockTable(t, dsn, "sessions", "EXCLUSIVE")
			p := sendForm(t, c, page, testid(tt.form), tt.fields)
			unlock()

			if !tt.changed(e) {
				t.Fatalf("Mailgun did not make the change (the test's premise)")
			}
			wantStatus(t, p, http.StatusOK)
			if len(p.Redirects) != 0 {
				t.Errorf("redirected through %v to %s, want the page of its own", p.Redirects, p.URL)
			}
			if got := p.TestID("flash").Text(); !strings.Contains(got, tt.flash) {
				t.Errorf("flash = %q, want %q", got, tt.flash)
			}
			// Once: the message the session could not keep is not also read back from it.
			if n := strings.Count(p.TestID("flash").Text(), tt.flash); n != 1 {
				t.Errorf("the message is shown %d times, want once", n)
			}
			panel := p.TestID("upstream-error").Text()
			if !strings.Contains(panel, "The list cannot be shown now") || !strings.Contains(panel, "database did not answer") {
				t.Errorf("panel = %q, want it to say why the list is not shown", panel)
			}
			// The change was made: the panel says to open the list again, never to "try again",
			// which read as doing the change again.
			if !strings.Contains(panel, "open the list again in a moment") || strings.Contains(strings.ToLower(panel), "try again") {
				t.Errorf("panel = %q, want it to say to open the list again, not to try again", panel)
			}
			// Only the sessions table was locked: the audit trail took the outcome, and the page
			// does not say it may not have.
			if strings.Contains(panel, "audit trail") {
				t.Errorf("panel = %q, says the audit trail may not have the outcome, which it has", panel)
			}
			if id := p.Header.Get("X-Request-ID"); id == "" || p.TestID("upstream-request-id").Text() != id {
				t.Errorf("request id shown %q, header %q", p.TestID("upstream-request-id").Text(), id)
			}
			link := p.TestID("done-link")
			if href := link.AttrOr("href", ""); !strings.HasPrefix(href, "/d/") || !strings.Contains(link.Text(), "Back to ") {
				t.Errorf("link %q to %q, want one back to the list", strings.TrimSpace(link.Text()), href)
			}
			// Its history entry takes the list's address (the script reads it from the body): a
			// reload of the form's address showed the delete page of a login that is gone (a 404).
			if got, want := p.Find("body").AttrOr("data-post-answer", ""), link.AttrOr("href", ""); got != want {
				t.Errorf("the page's history address %q, want the list's %q", got, want)
			}
			// Once the database answers, the list opens.
			wantStatus(t, get(t, c, link.AttrOr("href", "")), http.StatusOK)
		})
	}
}

// TestDeleteWhileTheDatabaseIsDown: PostgreSQL stops answering while Mailgun deletes a login
// and stays down past the audit completion's 5 seconds. The page says the login was deleted (the
// redirect landed on a 503 page), and the entry, pending meanwhile, is completed once the
// database is back (it stayed pending for good).
func TestDeleteWhileTheDatabaseIsDown(t *testing.T) {
	relay, dsn := testpg.WithOutage(t, testpg.Schema(t))
	e := newEnv(t, envOptions{DatabaseURL: dsn, StoreOptions: []store.Option{store.WithTimeout(3 * time.Second)}})
	p := deleteBobWhile(t, e, relay.Down)
	wantStatus(t, p, http.StatusOK)
	if got := p.TestID("flash").Text(); !strings.Contains(got, "Deleted bob@acme.example.") {
		t.Errorf("flash = %q, want the delete's", got)
	}
	if panel := p.TestID("upstream-error").Text(); !strings.Contains(panel, "the audit trail shows this change as pending: SMTP Desk records its outcome then") {
		t.Errorf("panel = %q, want it to say the trail shows the change pending until the database answers", panel)
	}
	relay.Up()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.Auditor.Close(ctx) // waits for the late completion
	es := e.auditEntries(t, store.AuditFilter{Action: audit.ActionCredentialDelete})
	if len(es) != 1 || es[0].Outcome != audit.OutcomeOK {
		t.Errorf("delete entries %+v, want one, ok", es)
	}
	if !strings.Contains(e.Logs.String(), "written late") {
		t.Errorf("the late completion is not logged:\n%s", e.Logs.String())
	}
}

// deleteBobWhile signs in as an administrator and deletes bob@acme.example through its
// confirmation page, running meanwhile while Mailgun holds the DELETE, and returns the answer.
func deleteBobWhile(t *testing.T, e *env, meanwhile func()) *testflow.Page {
	t.Helper()
	c := e.signIn(t, "admin")
	page := get(t, c, "/d/acme.example/logins/bob@acme.example/delete")
	wantStatus(t, page, http.StatusOK)
	hold := make(chan struct{})
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDelete}, Hold: hold})
	answered := make(chan *testflow.Page, 1)
	go func() {
		var p *testflow.Page
		defer func() { answered <- p }() // nil when sendForm failed the test (runtime.Goexit)
		p = sendForm(t, c, page, testid("delete-form"), nil)
	}()
	e.waitCalls(t, sandbox.RouteDelete, 1)
	meanwhile()
	close(hold)
	p := <-answered
	if p == nil {
		t.FailNow()
	}
	return p
}

// lockTable locks table in mode from another connection until the returned func is called.
func lockTable(t *testing.T, dsn, table, mode string) (unlock func()) {
	t.Helper()
	other, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("LOCK TABLE " + table + " IN " + mode + " MODE"); err != nil {
		t.Fatal(err)
	}
	return func() {
		_ = tx.Rollback()
		other.Close()
	}
}

// TestChangeDoneAfterTheSessionEnded: a delete whose session ended while Mailgun made it (signed
// out in another tab, or every session revoked) is shown on the page of its own, which says so:
// it said the database did not answer, which it did.
func TestChangeDoneAfterTheSessionEnded(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := deleteBobWhile(t, e, func() {
		if n, err := e.DB.DeleteSessionsMatching(context.Background(), func([]byte) bool { return true }); err != nil || n != 1 {
			t.Errorf("sessions revoked: %d, %v; want 1", n, err)
		}
	})
	wantStatus(t, p, http.StatusOK)
	if got := p.TestID("flash").Text(); strings.Count(got, "Deleted bob@acme.example.") != 1 {
		t.Errorf("flash = %q, want the delete's, once", got)
	}
	panel := p.TestID("upstream-error").Text()
	if strings.Contains(panel, "database did not answer") || !strings.Contains(panel, "signed out") {
		t.Errorf("panel = %q, want it to say the session ended, not that the database did not answer", panel)
	}
}
