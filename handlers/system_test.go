package handlers_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestSystemLoginsCreatedHereAreKept: Mailgun's list does not say which logins are system
// logins, and postmaster was the only one SMTP Desk knew. A login created here as a system login
// (which Mailgun will not delete, and its delete all keeps) was shown as an ordinary one: a
// Delete Mailgun refuses, and a delete-all page that named it among the logins it deletes, then
// an audit entry naming it as deleted. The audit trail says which logins were created as system
// logins; the pages now use it.
func TestSystemLoginsCreatedHereAreKept(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	const d = "empty.example"
	const sys, plain = "sys1@" + d, "plain1@" + d
	// The list read first: what the trail said of the domain then is kept for a few seconds,
	// and the create must not wait for it to lapse.
	wantStatus(t, get(t, c, "/d/"+d), http.StatusOK)
	wantStatus(t, submit(t, c, "/d/"+d+"/new", "/d/"+d+"/new", map[string]string{"logins": "sys1", "mode": "generate", "system": "on"}), http.StatusOK)
	wantStatus(t, submit(t, c, "/d/"+d+"/new", "/d/"+d+"/new", map[string]string{"logins": "plain1", "mode": "generate"}), http.StatusOK)

	// The list: sys1 has the system badge and no Delete, as postmaster; plain1 has a Delete.
	p := get(t, c, "/d/"+d)
	wantStatus(t, p, http.StatusOK)
	for login, system := range map[string]bool{sys: true, plain: false, "postmaster@" + d: true} {
		row := p.Find(`tr[data-login="` + login + `"]`)
		if row.Length() != 1 {
			t.Fatalf("no row for %s", login)
		}
		if got := row.Find(`[data-testid="system-badge"]`).Length() > 0; got != system {
			t.Errorf("%s: system badge %v, want %v", login, got, system)
		}
		if got := row.Find("a.ad").Length() > 0; got == system {
			t.Errorf("%s: delete link %v, want %v", login, got, !system)
		}
	}

	// Deleting it is refused before Mailgun hears of it, with the reason.
	e.SB.ResetCalls()
	del := "/d/" + d + "/logins/" + sys + "/delete"
	if p := get(t, c, del); p.TestID("delete-form").Length() != 0 || !strings.Contains(p.Text(), "is a system login of the domain") {
		t.Errorf("the delete page of %s offers the delete, or does not say why not: %.400s", sys, p.Text())
	}
	p = submit(t, c, del, del, nil)
	wantStatus(t, p, http.StatusBadRequest)
	if n := len(e.callsTo("delete", "")); n != 0 {
		t.Errorf("%d delete calls for a system login", n)
	}

	// Delete all names it among the logins that stay, counts only plain1, and the audit
	// entry names only what went.
	all := "/d/" + d + "/delete-all"
	p = get(t, c, all)
	if got := p.TestID("kept-row").Text(); !strings.Contains(got, sys) {
		t.Errorf("delete all keeps %q, want %s among them", got, sys)
	}
	if got := p.TestID("preview-row").Text(); strings.Contains(got, sys) || !strings.Contains(got, plain) {
		t.Errorf("delete all would delete %q, want %s and not %s", got, plain, sys)
	}
	p = sendForm(t, c, p, testid("delete-all-form"), map[string]string{"confirm": d})
	wantStatus(t, p, http.StatusOK)
	if got := e.SB.Logins(d); !slices.Contains(got, sys) || slices.Contains(got, plain) {
		t.Errorf("after delete all Mailgun has %v", got)
	}
	entries := e.auditEntries(t, store.AuditFilter{Action: "credential.delete_all", Limit: 1})
	if len(entries) != 1 || !slices.Equal(entries[0].Logins, []string{plain}) || entries[0].UpstreamMessage != "Mailgun deleted 1 login." {
		t.Errorf("delete-all entry = %+v, want it naming %s alone, Mailgun's count 1", entries, plain)
	}

	// The export says so too.
	csv := get(t, c, "/d/"+d+"/export.csv")
	for _, line := range strings.Split(string(csv.Body), "\n") {
		if strings.Contains(line, sys) && !strings.Contains(line, ",yes,") {
			t.Errorf("export line %q does not mark %s a system login", line, sys)
		}
	}
}

// TestSystemMarkIsTheCreatesOwn: the trail's "created as a system login" belongs to the login
// Mailgun created then, not to every later login of that name. ghost was created here as a
// system login a year ago, and the ghost Mailgun lists now was made last week, elsewhere, as an
// ordinary login (the domain removed and added again, say). Taken as a system login, the
// delete-all page kept it while Mailgun's delete all removed it, and the audit entry left it out.
func TestSystemMarkIsTheCreatesOwn(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	ctx := context.Background()
	const d = "empty.example"
	yearAgo := e.Clock.Now().AddDate(-1, 0, 0)
	id, err := e.DB.AppendAudit(ctx, store.AuditEntry{Time: yearAgo, ActorIssuer: "https://idp.example", ActorSubject: "ada",
		Action: "credential.create", Domain: d, Logins: []string{"ghost@" + d}, Outcome: store.OutcomePending,
		Detail: "Asked for as system logins."})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.DB.CompleteAudit(ctx, id, store.OutcomeOK, 200, "Created 1 credentials pair(s)", yearAgo.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := e.SB.AddCredential(d, "ghost", "Ghost-Pass-1", e.Clock.Now().AddDate(0, 0, -7)); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(t, "admin")
	row := get(t, c, "/d/"+d).Find(`tr[data-login="ghost@` + d + `"]`)
	if row.Find(`[data-testid="system-badge"]`).Length() != 0 || row.Find("a.ad").Length() != 1 {
		t.Error("the ghost made last week is shown as a system login, without its Delete")
	}
	p := get(t, c, "/d/"+d+"/delete-all")
	if kept := p.TestID("kept-row").Text(); strings.Contains(kept, "ghost") {
		t.Errorf("delete all keeps %q, the ghost among them", kept)
	}
	p = sendForm(t, c, p, testid("delete-all-form"), map[string]string{"confirm": d})
	wantStatus(t, p, http.StatusOK)
	entries := e.auditEntries(t, store.AuditFilter{Action: "credential.delete_all", Limit: 1})
	if len(entries) != 1 || !slices.Contains(entries[0].Logins, "ghost@"+d) {
		t.Errorf("the delete-all entry = %+v, want it naming the ghost Mailgun deleted", entries)
	}
}
