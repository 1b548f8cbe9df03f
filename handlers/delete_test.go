package handlers_test

import (
	"context"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

func TestDeleteOne(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "owner")
	const path = "/d/acme.example/logins/bob@acme.example/delete"

	confirm := get(t, c, path)
	wantStatus(t, confirm, http.StatusOK)
	if q := confirm.TestID("confirm-question").Text(); !strings.Contains(q, "bob@acme.example") || !strings.Contains(q, "acme.example") {
		t.Errorf("confirmation = %q, want the login and domain named", q)
	}

	p := submit(t, c, path, path, nil)
	wantStatus(t, p, http.StatusOK)
	if p.URL.Path != "/d/acme.example" {
		t.Errorf("ended at %s, want the list", p.URL)
	}
	if f := p.TestID("flash").Text(); !strings.Contains(f, "Deleted bob@acme.example") {
		t.Errorf("flash = %q", f)
	}
	if slices.Contains(e.SB.Logins("acme.example"), "bob@acme.example") {
		t.Error("bob is still in the sandbox")
	}
	if slices.Contains(loginsOn(p), "bob@acme.example") {
		t.Error("the list still shows bob")
	}

	// Again: already gone.
	p = submit(t, c, "/d/acme.example", path, nil)
	wantStatus(t, p, http.StatusOK)
	if f := p.TestID("flash").Text(); !strings.Contains(f, "already gone") {
		t.Errorf("flash = %q", f)
	}

	entries := e.auditEntries(t, store.AuditFilter{Action: "credential.delete"})
	if len(entries) != 2 || entries[1].Outcome != "ok" || entries[0].Outcome != "failed" || entries[0].UpstreamStatus != 404 {
		t.Errorf("audit = %+v", entries)
	}
}

// TestDeleteWithoutAnswerShowsMailgunsList: Mailgun deletes the login but the connection drops
// before its answer. The page says it cannot tell and to check the list; the list must then be
// Mailgun's, not the one cached when the page was opened (which still showed the login).
func TestDeleteWithoutAnswerShowsMailgunsList(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "owner")
	const path = "/d/acme.example/logins/bob@acme.example/delete"
	if !slices.Contains(loginsOn(get(t, c, "/d/acme.example")), "bob@acme.example") {
		t.Fatal("bob is not listed to begin with")
	}
	e.SB.SetFaults(sandbox.Faults{Rate: 1, Drop: true, AfterApply: true, Routes: []string{sandbox.RouteDelete}})
	p := submit(t, c, path, path, nil)
	e.SB.SetFaults(sandbox.Faults{})
	wantStatus(t, p, http.StatusBadGateway)
	if text := p.TestID("upstream-error").Text(); !strings.Contains(text, "Check the list") {
		t.Errorf("page says %.300q, want it to send the user to the list", text)
	}
	if slices.Contains(e.SB.Logins("acme.example"), "bob@acme.example") {
		t.Fatal("the fault did not delete bob first")
	}
	if slices.Contains(loginsOn(get(t, c, "/d/acme.example")), "bob@acme.example") {
		t.Error("the list still shows bob, whom Mailgun deleted")
	}
}

func TestDeleteOneRefusals(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})

	t.Run("system login", func(t *testing.T) {
		c := e.signIn(t, "owner")
		e.SB.ResetCalls()
		const path = "/d/acme.example/logins/postmaster@acme.example/delete"
		// The confirmation page says why and offers no button that cannot work.
		form := get(t, c, path)
		wantStatus(t, form, http.StatusOK)
		if got := form.TestID("upstream-error").Text(); !strings.Contains(got, "Mailgun does not allow deleting it") {
			t.Errorf("confirmation page message = %q", got)
		}
		if n := form.TestID("delete-form").Length() + form.TestID("confirm-button").Length(); n != 0 {
			t.Error("the confirmation page of a system login has a delete form")
		}
		if href := form.TestID("cancel-link").AttrOr("href", ""); href != "/d/acme.example" {
			t.Errorf("back link = %q", href)
		}
		p := submit(t, c, "/d/acme.example", path, nil)
		wantStatus(t, p, http.StatusBadRequest)
		if got := p.TestID("upstream-error").Text(); !strings.Contains(got, "system login") {
			t.Errorf("message = %q", got)
		}
		if n := len(e.callsTo("delete", "")); n != 0 {
			t.Errorf("%d delete calls for the system login", n)
		}
	})

	t.Run("operator may not delete", func(t *testing.T) {
		c := e.signIn(t, "operator")
		e.SB.ResetCalls()
		p := submit(t, c, "/d/acme.example", "/d/acme.example/logins/carol@acme.example/delete", nil)
		wantStatus(t, p, http.StatusForbidden)
		if n := len(e.callsTo("delete", "")); n != 0 {
			t.Errorf("%d delete calls after a denial", n)
		}
		if !slices.Contains(e.SB.Logins("acme.example"), "carol@acme.example") {
			t.Error("carol was deleted")
		}
		// Nor is the confirmation page shown to them: its button could only be refused.
		wantStatus(t, get(t, c, "/d/acme.example/logins/carol@acme.example/delete"), http.StatusForbidden)
	})

	t.Run("Mailgun unavailable", func(t *testing.T) {
		c := e.signIn(t, "owner")
		e.SB.SetFaults(sandbox.Faults{Routes: []string{"delete"}, Rate: 1, Status: 503})
		defer e.SB.SetFaults(sandbox.Faults{})
		p := submit(t, c, "/d/acme.example", "/d/acme.example/logins/carol@acme.example/delete", nil)
		wantStatus(t, p, http.StatusBadGateway)
		// A 503 may come after Mailgun deleted the login: the page cannot say nothing changed.
		if got := strings.Join(strings.Fields(p.TestID("upstream-error").Text()), " "); !strings.Contains(got, "cannot tell whether it was deleted") {
			t.Errorf("message = %q", got)
		}
	})
}

func TestDeleteAll(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	const path = "/d/example.com/delete-all"

	p := get(t, c, path)
	wantStatus(t, p, http.StatusOK)
	if got := p.TestID("delete-all-count").Text(); !strings.Contains(got, "250") {
		t.Errorf("count = %q, want 250", got)
	}
	if got := p.TestID("preview-row").Length(); got != 10 {
		t.Errorf("preview rows = %d, want 10", got)
	}
	if got := p.TestID("preview-more").Text(); !strings.Contains(got, "240") {
		t.Errorf("more = %q, want 240", got)
	}
	// The 240 are named too, behind "and 240 more", so that the owner can read every login
	// that goes before confirming; none twice, postmaster not among them.
	rest := map[string]bool{}
	p.TestID("rest-row").Each(func(_ int, s *goquery.Selection) { rest[s.Text()] = true })
	p.TestID("preview-row").Each(func(_ int, s *goquery.Selection) { rest[s.Text()] = true })
	if len(rest) != 250 || rest["postmaster@example.com"] || !rest["user250@example.com"] || p.TestID("rest-beyond").Length() != 0 {
		t.Errorf("the page names %d distinct logins (postmaster among them: %v), want the 250 that go", len(rest), rest["postmaster@example.com"])
	}
	if got := p.TestID("kept-row").Text(); !strings.Contains(got, "postmaster@example.com") {
		t.Errorf("kept = %q", got)
	}

	e.SB.ResetCalls()
	for _, wrong := range []string{"example.co", "EXAMPLE.COM", "example.com.", ""} {
		p = submit(t, c, path, path, map[string]string{"confirm": wrong})
		wantStatus(t, p, http.StatusBadRequest)
		if p.TestID("field-error-confirm").Length() == 0 {
			t.Errorf("confirm %q: no error next to the confirmation: %.300s", wrong, p.Text())
		}
	}
	if n := len(e.callsTo("delete_all", "")); n != 0 {
		t.Errorf("%d delete-all calls without the right confirmation", n)
	}

	// Spaces around the name are not part of it (a phone keyboard adds one after a word); the
	// page's script, which enables the button, ignores them too.
	p = submit(t, c, path, path, map[string]string{"confirm": " example.com \t"})
	wantStatus(t, p, http.StatusOK)
	if p.URL.Path != "/d/example.com" {
		t.Errorf("ended at %s, want the list", p.URL)
	}
	if f := strings.Join(strings.Fields(p.TestID("flash").Text()), " "); !strings.Contains(f, "Deleted 250 logins; postmaster@example.com kept") {
		t.Errorf("flash = %q", f)
	}
	if got := e.SB.Logins("example.com"); !slices.Equal(got, []string{"postmaster@example.com"}) {
		t.Errorf("sandbox logins = %v", got)
	}
	if got := loginsOn(p); !slices.Equal(got, []string{"postmaster@example.com"}) {
		t.Errorf("list shows %v", got)
	}
	// The trail says how many logins went, as Mailgun counted them.
	entries := e.auditEntries(t, store.AuditFilter{Action: "credential.delete_all", Limit: 1})
	if len(entries) != 1 || entries[0].Outcome != "ok" || entries[0].UpstreamMessage != "Mailgun deleted 250 logins." {
		t.Errorf("audit = %+v, want ok with Mailgun's count", entries)
	}
	audit := get(t, c, "/audit?action=credential.delete_all")
	if got := audit.TestID("audit-upstream").First().Text(); !strings.Contains(got, "Mailgun deleted 250 logins.") {
		t.Errorf("audit page shows %q, want the count", got)
	}
	// ... and names every login it deleted, not the system login it kept, so that each
	// login's history shows who deleted it; the page lists 200 and says where the rest are.
	if len(entries) == 1 {
		if got := entries[0].Logins; len(got) != 250 || slices.Contains(got, "postmaster@example.com") || !slices.Contains(got, "user001@example.com") {
			t.Errorf("the entry names %d logins (%.3q), want the 250 deleted", len(got), got)
		}
	}
	if got := audit.Find(`[data-testid="audit-logins"] li`).Length(); got != 200 {
		t.Errorf("the audit page lists %d of the entry's logins, want 200", got)
	}
	if got := audit.TestID("audit-logins-cut").Text(); !strings.Contains(got, "and 50 more") {
		t.Errorf("the audit page's cut says %q, want \"and 50 more\"", got)
	}
	history := get(t, c, "/audit?domain=example.com&login=user001%40example.com")
	if got := history.Find(`[data-testid="audit-action"][data-action="credential.delete_all"]`).Length(); got != 1 {
		t.Errorf("user001's history shows %d delete-all entries, want 1: %.500s", got, history.Text())
	}
}

// lateLogin is Mailgun with a login made elsewhere (Mailgun's own panel, another replica) just
// before each delete-all reaches it: after SMTP Desk read the list, before Mailgun deletes.
type lateLogin struct {
	handlers.CredentialsAPI
	sb    **sandbox.Server // the env's, made after its client
	login string
}

func (l lateLogin) DeleteAllCredentials(ctx context.Context, domain string) (*mailgun.DeleteAllResult, error) {
	if err := (*l.sb).AddCredential(domain, l.login, "Late-password-1", time.Now()); err != nil {
		return nil, err
	}
	return l.CredentialsAPI.DeleteAllCredentials(ctx, domain)
}

// TestDeleteAllNamesTheListedLogins: a login made elsewhere (Mailgun's own panel, another
// replica) after the delete read the list is deleted by Mailgun but is not among the entry's
// names, which are the list's; the entry says so beside Mailgun's count.
func TestDeleteAllNamesTheListedLogins(t *testing.T) {
	var sb *sandbox.Server
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000},
		Mailgun: func(mg handlers.CredentialsAPI) handlers.CredentialsAPI {
			return lateLogin{CredentialsAPI: mg, sb: &sb, login: "late@example.com"}
		}})
	sb = e.SB
	c := e.signIn(t, "admin")
	const path = "/d/example.com/delete-all"
	confirm := get(t, c, path)
	wantStatus(t, confirm, http.StatusOK)
	p := sendForm(t, c, confirm, testid("delete-all-form"), map[string]string{"confirm": "example.com"})
	wantStatus(t, p, http.StatusOK)
	if got := e.SB.Logins("example.com"); !slices.Equal(got, []string{"postmaster@example.com"}) {
		t.Fatalf("sandbox logins = %v, want only the system login", got)
	}
	entries := e.auditEntries(t, store.AuditFilter{Action: "credential.delete_all", Limit: 1})
	if len(entries) != 1 {
		t.Fatalf("%d delete-all entries, want 1", len(entries))
	}
	if got := entries[0].Logins; len(got) != 250 || slices.Contains(got, "late@example.com") {
		t.Errorf("the entry names %d logins (late@ among them: %v), want the 250 listed", len(got), slices.Contains(got, "late@example.com"))
	}
	if got, want := entries[0].UpstreamMessage, "Mailgun deleted 251 logins. This entry names the 250 logins listed just before."; got != want {
		t.Errorf("the entry says %q, want %q", got, want)
	}
}

// TestDeleteAllOnlyWhatWasConfirmed: the owner confirms the logins the page names ("Delete 250
// SMTP logins"). When the list is no longer those when the form comes (a login made elsewhere
// since: Mailgun's own panel, another replica; or the form sent again after the delete: the back
// button, a second click), nothing is deleted: the page comes back naming the list as it is now,
// and only a confirmation of that list deletes. Without the check, the delete removed 251 logins
// under a confirmation of 250, and the form sent again deleted whatever had been made since.
func TestDeleteAllOnlyWhatWasConfirmed(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	const path = "/d/example.com/delete-all"
	page := get(t, c, path)
	wantStatus(t, page, http.StatusOK)
	if got := page.TestID("delete-all-count").Text(); !strings.Contains(got, "250") {
		t.Fatalf("count = %q, want 250", got)
	}
	// Made in Mailgun's panel: this instance's list cache does not know it.
	if err := e.SB.AddCredential("example.com", "late@example.com", "Late-password-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	e.SB.ResetCalls()
	changed := sendForm(t, c, page, testid("delete-all-form"), map[string]string{"confirm": "example.com"})
	wantStatus(t, changed, http.StatusConflict)
	if n := len(e.callsTo("delete_all", "")); n != 0 {
		t.Errorf("%d delete-all calls for a list that is not the one confirmed", n)
	}
	if got := len(e.SB.Logins("example.com")); got != 252 {
		t.Errorf("example.com has %d logins, want 252 (none deleted)", got)
	}
	if got := strings.Join(strings.Fields(changed.TestID("upstream-error").Text()), " "); !strings.Contains(got, "so nothing was deleted") {
		t.Errorf("the page says %q, want it to say nothing was deleted", got)
	}
	if got := changed.TestID("delete-all-count").Text(); !strings.Contains(got, "251") {
		t.Errorf("the page sent back asks %q, want the 251 logins there are now", got)
	}
	if n := len(e.auditEntries(t, store.AuditFilter{Action: "credential.delete_all"})); n != 0 {
		t.Errorf("%d delete-all entries for a delete not done", n)
	}

	// Confirmed as it is now, the delete goes through.
	done := sendForm(t, c, changed, testid("delete-all-form"), map[string]string{"confirm": "example.com"})
	wantStatus(t, done, http.StatusOK)
	if got := e.SB.Logins("example.com"); !slices.Equal(got, []string{"postmaster@example.com"}) {
		t.Fatalf("sandbox logins = %v, want only the system login", got)
	}

	// The first page's form sent again (back, then the button): another login made since is
	// not deleted under that old confirmation.
	if err := e.SB.AddCredential("example.com", "newer@example.com", "Newer-password-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	e.SB.ResetCalls()
	again := sendForm(t, c, page, testid("delete-all-form"), map[string]string{"confirm": "example.com"})
	wantStatus(t, again, http.StatusConflict)
	if n := len(e.callsTo("delete_all", "")); n != 0 {
		t.Errorf("the form sent again made %d delete-all calls", n)
	}
	if !slices.Contains(e.SB.Logins("example.com"), "newer@example.com") {
		t.Error("the form sent again deleted a login made after it was confirmed")
	}
}

// TestDeleteAllRetriedAfterAnUnknownOutcome: Mailgun deletes the logins but answers 503, and
// the client's retry finds nothing left to delete and counts 0. The page and the audit trail
// must not say that no logins were deleted: 250 went.
func TestDeleteAllRetriedAfterAnUnknownOutcome(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000},
		Sandbox: []sandbox.Option{sandbox.WithFaultChooser(sandbox.Draws(0, 0.9))}}) // the first delete-all fails (after applying), the retry not
	c := e.signIn(t, "admin")
	const path = "/d/example.com/delete-all"
	e.SB.SetFaults(sandbox.Faults{Rate: 0.5, Status: http.StatusServiceUnavailable, AfterApply: true,
		Routes: []string{sandbox.RouteDeleteAll}})

	p := submit(t, c, path, path, map[string]string{"confirm": "example.com"})
	wantStatus(t, p, http.StatusOK)
	if got := e.SB.Logins("example.com"); !slices.Equal(got, []string{"postmaster@example.com"}) {
		t.Fatalf("sandbox logins = %v", got)
	}
	if calls := e.callsTo("delete_all", ""); len(calls) != 2 || calls[0].Status != 503 || calls[1].Status != 200 {
		t.Fatalf("delete-all calls = %+v, want a 503 then a 200", calls)
	}
	if f := strings.Join(strings.Fields(p.TestID("flash").Text()), " "); strings.Contains(f, "0 logins") || !strings.Contains(f, "Deleted") {
		t.Errorf("flash = %q, want it to say the logins were deleted without claiming 0", f)
	}
	entries := e.auditEntries(t, store.AuditFilter{Action: "credential.delete_all", Limit: 1})
	if len(entries) != 1 || entries[0].Outcome != "ok" || strings.Contains(entries[0].UpstreamMessage, "deleted 0 logins") {
		t.Errorf("audit = %+v, want ok without a count of 0 deleted", entries)
	}
}

func TestDeleteAllOwnersOnly(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "operator")
	token := get(t, c, "/d/acme.example").CSRF()
	e.SB.ResetCalls()
	wantStatus(t, get(t, c, "/d/acme.example/delete-all"), http.StatusForbidden)
	p, err := c.Post(context.Background(), "/d/acme.example/delete-all", url.Values{"confirm": {"acme.example"}, "_csrf": {token}})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, p, http.StatusForbidden)
	if n := len(e.callsTo("delete_all", "")) + len(e.callsTo("list", "")); n != 0 {
		t.Errorf("%d Mailgun calls after a denial", n)
	}
	if got := len(e.SB.Logins("acme.example")); got != 13 {
		t.Errorf("acme.example has %d logins, want 13", got)
	}
}

// TestDeleteAllRetypedCostsNoAction: a delete-all whose confirmation goes back for a fix
// changed nothing, so it costs none of the user's actions, as a create or reset form sent back
// does not; the delete typed right still goes through within the limit.
func TestDeleteAllRetypedCostsNoAction(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1}})
	c := e.signIn(t, "admin")
	const path = "/d/example.com/delete-all"
	for _, wrong := range []string{"example.co", "exampel.com"} {
		wantStatus(t, submit(t, c, path, path, map[string]string{"confirm": wrong}), http.StatusBadRequest)
	}
	p := submit(t, c, path, path, map[string]string{"confirm": "example.com"})
	wantStatus(t, p, http.StatusOK)
	if n := len(e.callsTo("delete_all", "")); n != 1 {
		t.Errorf("%d delete-all calls, want 1", n)
	}
	// The action was spent by the delete itself: the next is over the limit.
	p = submit(t, c, path, path, map[string]string{"confirm": "example.com"})
	wantStatus(t, p, http.StatusTooManyRequests)
	if got := strings.Join(strings.Fields(p.Text()), " "); !strings.Contains(got, "You have reached the limit of 1 change a minute.") {
		t.Errorf("refusal = %.400q, want the limit in words", got)
	}
}

// TestDeletedLoginsPageSaysWhoDeletedIt: the back button after a delete returns to the login's
// confirmation page, which is gone: the page says that the user deleted it, and when, from the
// audit trail (it said "Someone may have deleted it"); another user reads who did. A login the
// trail has no delete of gets the general words.
func TestDeletedLoginsPageSaysWhoDeletedIt(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	owner := e.signIn(t, "owner")
	const path = "/d/acme.example/logins/bob@acme.example/delete"
	wantStatus(t, submit(t, owner, path, path, nil), http.StatusOK)

	text := func(p *testflow.Page) string { return strings.Join(strings.Fields(p.Text()), " ") }
	p := get(t, owner, path)
	wantStatus(t, p, http.StatusNotFound)
	deleted := regexp.MustCompile(`has no login bob@acme\.example: (you|Olga Owner) deleted it through SMTP Desk on \d{4}-\d\d-\d\d at \d\d:\d\d UTC\.`)
	if m := deleted.FindStringSubmatch(text(p)); m == nil || m[1] != "you" {
		t.Errorf("back to the deleted login's page: %q, want that you deleted it, and when", p.TestID("error-message").Text())
	}
	op := e.signIn(t, "operator")
	p = get(t, op, "/d/acme.example/logins/bob@acme.example/reset")
	wantStatus(t, p, http.StatusNotFound)
	if m := deleted.FindStringSubmatch(text(p)); m == nil || m[1] != "Olga Owner" {
		t.Errorf("another user on the deleted login's reset page: %q, want that Olga Owner deleted it, and when", p.TestID("error-message").Text())
	}
	p = get(t, op, "/d/acme.example/logins/never-here@acme.example/reset")
	wantStatus(t, p, http.StatusNotFound)
	if got := text(p); !strings.Contains(got, "acme.example has no login never-here@acme.example. It may have been deleted, or the link is old.") {
		t.Errorf("a login the trail knows nothing of: %.400q", got)
	}
}

// TestResetFormOfADeletedLoginSaysWhoDeletedIt: a reset form opened before its login was deleted
// and sent after says who deleted it and when, as the form's own address says now; it said
// "someone may have deleted it", though the trail knew, because the newest entry about the
// login was by then the refused reset itself.
func TestResetFormOfADeletedLoginSaysWhoDeletedIt(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	const login = "carol@acme.example"
	const reset, del = "/d/acme.example/logins/" + login + "/reset", "/d/acme.example/logins/" + login + "/delete"
	// The operator opens the form, the owner deletes the login, and the form, as it was loaded,
	// is sent.
	op := e.signIn(t, "operator")
	form := get(t, op, reset)
	wantStatus(t, form, http.StatusOK)
	owner := e.signIn(t, "owner")
	wantStatus(t, submit(t, owner, del, del, nil), http.StatusOK)
	sent := url.Values{"mode": {"generate"}}
	form.Find(`[data-testid="reset-form"] input[type="hidden"]`).Each(func(_ int, s *goquery.Selection) {
		sent.Set(s.AttrOr("name", ""), s.AttrOr("value", ""))
	})
	p, err := op.Post(context.Background(), reset, sent)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, p, http.StatusNotFound)
	got := strings.Join(strings.Fields(p.TestID("error-message").Text()), " ")
	want := regexp.MustCompile(`^carol@acme\.example no longer exists in acme\.example: Olga Owner deleted it through SMTP Desk on \d{4}-\d\d-\d\d at \d\d:\d\d UTC, so no password was changed\.$`)
	if !want.MatchString(got) {
		t.Errorf("the stale form's answer says %q, want who deleted the login, and when", got)
	}
	// When, in the viewer's zone once the page's script has run, as every other time is.
	if tm := p.TestID("error-message").Find(`time[data-local="at"][datetime]`); tm.Length() != 1 {
		t.Errorf("the error message has %d <time data-local=\"at\">, want the delete's time as one", tm.Length())
	}
}

// TestDeleteOfADeletedLoginSaysWhoDeletedIt: a confirmation page opened before a colleague
// deleted the login, then sent, said only that the login "was already gone", where the reset form
// of a deleted login (TestResetFormOfADeletedLoginSaysWhoDeletedIt) names who deleted it and when.
func TestDeleteOfADeletedLoginSaysWhoDeletedIt(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	const del = "/d/acme.example/logins/carol@acme.example/delete"
	// The owner opens the confirmation, an administrator deletes the login, and the confirmation,
	// as it was loaded, is sent.
	owner := e.signIn(t, "owner")
	confirm := get(t, owner, del)
	wantStatus(t, confirm, http.StatusOK)
	admin := e.signIn(t, "admin")
	wantStatus(t, submit(t, admin, del, del, nil), http.StatusOK)
	p := sendForm(t, owner, confirm, testid("delete-form"), nil)
	wantStatus(t, p, http.StatusOK)
	got := strings.Join(strings.Fields(p.TestID("flash").Text()), " ")
	want := regexp.MustCompile(`carol@acme\.example was already gone from acme\.example: Ada Admin deleted it through SMTP Desk on \d{4}-\d\d-\d\d at \d\d:\d\d UTC\.`)
	if !want.MatchString(got) {
		t.Errorf("the stale delete's answer says %q, want who deleted the login, and when", got)
	}
}
