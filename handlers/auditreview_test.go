package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestDeniedOtherLoginInItsHistory (by a review helper): an operator of acme.example (who may not delete) is
// refused the delete of alice, then, a moment later, of bob. Bob's history must show the refused
// delete of bob: the entry of the first refusal names alice only, and the held count "1 more
// refusal like it" would be carried by a later entry that names some other login.
func TestDeniedOtherLoginInItsHistory(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(t, "operator")
	wantStatus(t, get(t, op, "/d/acme.example/logins/alice@acme.example/delete"), http.StatusForbidden)
	wantStatus(t, get(t, op, "/d/acme.example/logins/bob@acme.example/delete"), http.StatusForbidden)

	admin := e.signIn(t, "admin")
	p := get(t, admin, "/audit?domain=acme.example&login=bob%40acme.example")
	wantStatus(t, p, http.StatusOK)
	var rows []string
	p.TestID("audit-row").Each(func(_ int, s *goquery.Selection) {
		rows = append(rows, strings.TrimSpace(s.Find(`[data-testid="audit-detail"]`).Text()))
	})
	if len(rows) != 1 || !strings.Contains(rows[0], "Tried to delete bob@acme.example") {
		t.Errorf("bob@acme.example's history after a refused delete of it: %q, want the refusal", rows)
	}
	// A window later, a refused delete of carol carries bob's refusal as "1 more like it",
	// naming carol alone: the reviewer reads two refused deletes of carol.
	e.Clock.Add(time.Minute)
	wantStatus(t, get(t, op, "/d/acme.example/logins/carol@acme.example/delete"), http.StatusForbidden)
	for _, a := range e.auditEntries(t, accessDenied()) {
		if strings.Contains(a.Detail, "more refusal") && !strings.Contains(a.Detail, "bob@acme.example") {
			t.Errorf("entry %d %q (logins %q) stands for the refused delete of bob without naming bob", a.ID, a.Detail, a.Logins)
		}
	}
	// And the trail as a whole: what the entries say of the second refusal.
	for _, a := range e.auditEntries(t, accessDenied()) {
		t.Logf("entry %d: detail %q logins %q", a.ID, a.Detail, a.Logins)
	}
}

func accessDenied() store.AuditFilter { return store.AuditFilter{Action: "access.denied"} }

// TestResetWithoutPasswordSaysSo (by a review helper): Mailgun applies a generated-password reset but sends no
// password back: the page says "No password received" (nobody knows the login's password now).
// The create's entry says so in its message ("Created without a password sent back: …"); the
// reset's entry must say it too, or the trail reads as an ordinary successful reset.
func TestResetWithoutPasswordSaysSo(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "owner")
	for _, tt := range []struct {
		name, route, action, form, formAction string
		fields                                map[string]string
	}{
		{"create", sandbox.RouteCreate, "credential.create", "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "nopw", "mode": "generate"}},
		{"reset", sandbox.RouteUpdate, "credential.reset", resetUser, resetUser, map[string]string{"mode": "generate"}},
	} {
		e.SB.SetFaults(sandbox.Faults{Routes: []string{tt.route}, Rate: 1, NoPasswords: true})
		p := submit(t, c, tt.form, tt.formAction, tt.fields)
		e.SB.SetFaults(sandbox.Faults{})
		wantStatus(t, p, http.StatusOK)
		if p.TestID("nopassword-row").Length() != 1 {
			t.Fatalf("%s: the page shows no no-password row", tt.name)
		}
		es := e.auditEntries(t, store.AuditFilter{Action: tt.action, Limit: 1})
		if len(es) != 1 || es[0].Outcome != "ok" {
			t.Fatalf("%s: entries %+v", tt.name, es)
		}
		if !strings.Contains(strings.ToLower(es[0].UpstreamMessage), "without a password") {
			t.Errorf("%s: entry message %q: says nothing of the password Mailgun did not send back (nobody knows it)", tt.name, es[0].UpstreamMessage)
		}
	}
}

// TestEveryEntryNamesRequestAndClient (by a review helper): a sweep of actions and events; each entry carries
// the actor's issuer, a request id, the client IP and a time near now.
func TestEveryEntryNamesRequestAndClient(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	own := e.signIn(t, "owner")
	wantStatus(t, submit(t, own, resetUser, resetUser, map[string]string{"mode": "generate"}), http.StatusOK)
	wantStatus(t, submit(t, own, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "n1\nn2", "mode": "generate"}), http.StatusOK)
	wantStatus(t, get(t, own, "/d/acme.example/export.csv"), http.StatusOK)
	wantStatus(t, get(t, own, "/export.csv"), http.StatusOK)
	wantStatus(t, get(t, own, "/d/example.com"), http.StatusForbidden)
	p := submit(t, own, "/d/acme.example", "/auth/logout", nil)
	t.Logf("logout: %d %s", p.Status, p.URL)
	admin := e.signIn(t, "admin")
	wantStatus(t, get(t, admin, "/audit/export.csv"), http.StatusOK)
	wantStatus(t, submit(t, admin, "/audit", "/audit/verify", nil), http.StatusOK)
	seen := map[string]bool{}
	for _, a := range e.auditEntries(t, store.AuditFilter{}) {
		seen[a.Action] = true
		if a.RequestID == "" || a.ClientIP == "" || a.ActorIssuer == "" || a.ActorSubject == "" || a.UserAgent == "" {
			t.Errorf("entry %d %s: request id %q, client IP %q, issuer %q, subject %q, UA %q", a.ID, a.Action, a.RequestID, a.ClientIP, a.ActorIssuer, a.ActorSubject, a.UserAgent)
		}
		if d := time.Since(a.Time); d < 0 || d > time.Minute {
			t.Errorf("entry %d %s: time %s", a.ID, a.Action, a.Time)
		}
	}
	t.Logf("actions: %v", seen)
}
