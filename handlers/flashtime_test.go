package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestWayBackWarningTimeIsLocalised: the warning on the way back to the list ("Olga Owner reset
// the password of bob@acme.example again on 2026-12-06 at 04:07 UTC, …") gives its time as
// the lists and the trail give theirs: a <time> element that the page's script puts in the
// viewer's zone (data-local), its datetime the other reset's, the UTC text kept for a browser
// without the script. It was text in UTC only, beside times in the viewer's zone everywhere else.
func TestWayBackWarningTimeIsLocalised(t *testing.T) {
	const reset = "/d/acme.example/logins/bob/reset"
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	admin, owner := e.signIn(t, "admin"), e.signIn(t, "owner")
	p := submit(t, admin, reset, reset, map[string]string{"mode": "generate"})
	wantStatus(t, p, http.StatusOK)
	done := p.Find(`a[href*="changed="]`).Last().AttrOr("href", "")
	if done == "" {
		t.Fatalf("no way back from the passwords page: %.600s", p.Text())
	}
	wantStatus(t, submit(t, owner, reset, reset, map[string]string{"mode": "generate"}), http.StatusOK)
	entries := e.auditEntries(t, store.AuditFilter{Action: "credential.reset", Login: "bob@acme.example", Limit: 1})
	if len(entries) != 1 || entries[0].CompletedAt == nil {
		t.Fatalf("the owner's reset: entries %+v, want one completed", entries)
	}
	at := entries[0].CompletedAt.UTC()

	list := get(t, admin, done)
	wantStatus(t, list, http.StatusOK)
	warning := list.TestID("flash-warning")
	text := strings.Join(strings.Fields(warning.Text()), " ")
	tm := warning.Find("time[datetime]")
	if tm.Length() != 1 {
		t.Fatalf("the warning %q has %d <time> elements, want its time as one", text, tm.Length())
	}
	if got, want := tm.AttrOr("datetime", ""), at.Format("2006-01-02T15:04Z"); got != want {
		t.Errorf("the warning's time is %s, want the owner's reset's, %s", got, want)
	}
	if got := tm.AttrOr("data-local", ""); got != "at" {
		t.Errorf("the warning's time has data-local=%q, want \"at\": the script would leave it in UTC", got)
	}
	if got, want := tm.Text(), at.Format("2006-01-02 at 15:04 UTC"); got != want {
		t.Errorf("the warning's time reads %q without the script, want %q", got, want)
	}
	if want := "Olga Owner reset the password of bob@acme.example again on " + at.Format("2006-01-02 at 15:04 UTC") + ", after your change"; !strings.Contains(text, want) {
		t.Errorf("the warning reads %q, want it to say %q", text, want)
	}
}
