package handlers_test

import (
	"database/sql"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

const resetUser = "/d/acme.example/logins/alice@acme.example/reset"

func TestResetGenerated(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "operator")
	p := submit(t, c, resetUser, resetUser, map[string]string{"mode": "generate"})
	wantStatus(t, p, http.StatusOK)
	if got := p.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	pw := secretsOn(p)["alice@acme.example"]
	if pw == "" {
		t.Fatalf("no password shown: %.500s", p.Text())
	}
	if !e.SB.CheckPassword("acme.example", "alice", pw) {
		t.Error("the password shown does not work")
	}
	assertSecretNowhere(t, e, c, p, pw)
	entries := e.auditEntries(t, store.AuditFilter{Action: "credential.reset"})
	if len(entries) != 1 || entries[0].Outcome != "ok" || !slices.Equal(entries[0].Logins, []string{"alice@acme.example"}) {
		t.Errorf("audit = %+v", entries)
	}
	if len(entries) == 1 && entries[0].Detail != "Asked for a generated password." {
		t.Errorf("audit detail = %q, want it to say the password was generated", entries[0].Detail)
	}
}

// TestFlashOutlivesARefusal: the flash a generated reset leaves for the list is not used up by a
// refusal in between (here a 403 for another domain), nor by the list opened without it (another
// tab's); the list its passwords page's Done leads to shows it afterwards.
func TestFlashOutlivesARefusal(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "operator")
	p := submit(t, c, resetUser, resetUser, map[string]string{"mode": "generate"})
	wantStatus(t, p, http.StatusOK)
	if n := p.TestID("flash").Length(); n != 0 {
		t.Errorf("the secrets page shows %d flashes, want none (the flash is for the list)", n)
	}
	done := p.TestID("done-link").AttrOr("href", "")
	p = get(t, c, "/d/example.com")
	wantStatus(t, p, http.StatusForbidden)
	if f := p.TestID("flash").Text(); f != "" {
		t.Errorf("the 403 page used up the flash %q", f)
	}
	p = get(t, c, "/d/acme.example")
	wantStatus(t, p, http.StatusOK)
	if f := p.TestID("flash").Text(); f != "" {
		t.Errorf("the list opened without the message's id shows %q", f)
	}
	p = get(t, c, done)
	wantStatus(t, p, http.StatusOK)
	if f := p.TestID("flash").Text(); !strings.Contains(f, "Password for alice@acme.example changed") {
		t.Errorf("the list's flash = %q, want the reset's", f)
	}
}

func TestResetManualRedirectsWithAFlash(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "operator")
	const pw = "chosen-pass-42"
	p := submit(t, c, resetUser, resetUser, map[string]string{"mode": "manual", "password": pw, "password2": pw})
	wantStatus(t, p, http.StatusOK)
	if p.URL.Path != "/d/acme.example" || len(p.Redirects) == 0 {
		t.Errorf("ended at %s after %v, want a redirect to the list", p.URL, p.Redirects)
	}
	if flash := p.TestID("flash").Text(); !strings.Contains(flash, "Password for alice@acme.example changed") {
		t.Errorf("flash = %q", flash)
	}
	if !e.SB.CheckPassword("acme.example", "alice", pw) {
		t.Error("the chosen password does not work")
	}
	assertSecretNowhere(t, e, c, p, pw)

	// The same password again: Mailgun's "same as old" in plain words, next to the form.
	p = submit(t, c, resetUser, resetUser, map[string]string{"mode": "manual", "password": pw, "password2": pw})
	wantStatus(t, p, http.StatusBadRequest)
	if got := p.TestID("field-error-password").Text(); !strings.Contains(got, "The new password is the same as the current one") {
		t.Errorf("password error = %q", got)
	}
	if strings.Contains(string(p.Body), pw) {
		t.Error("the password is kept in the form")
	}

	// Both attempts are recorded as typed passwords, the password itself nowhere; the audit
	// page says so.
	entries := e.auditEntries(t, store.AuditFilter{Action: "credential.reset"})
	if len(entries) != 2 {
		t.Fatalf("audit = %+v, want the reset and the refused one", entries)
	}
	for _, en := range entries {
		if en.Detail != "Asked for the password typed in the form." {
			t.Errorf("audit detail of the %s entry = %q, want it to say the password was typed", en.Outcome, en.Detail)
		}
	}
	admin := e.signIn(t, "admin")
	a := get(t, admin, "/audit?action=credential.reset")
	wantStatus(t, a, http.StatusOK)
	if got := a.TestID("audit-detail").First().Text(); got != "Asked for the password typed in the form." {
		t.Errorf("the audit page's detail = %q", got)
	}
}

func TestResetErrors(t *testing.T) {
	e := newEnv(t, envOptions{HangTimeout: 300 * time.Millisecond, Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "operator")
	tests := []struct {
		name       string
		path       string
		faults     sandbox.Faults
		wantStatus int
		wantText   string
		wantCalls  int
	}{
		{"rate limited (429)", resetUser, sandbox.Faults{Routes: []string{"update"}, Rate: 1, Status: 429, RetryAfter: 20 * time.Second},
			http.StatusTooManyRequests, "Try again in 20 seconds.", 1},
		{"server error (503), retried", resetUser, sandbox.Faults{Routes: []string{"update"}, Rate: 1, Status: 503},
			http.StatusBadGateway, "Mailgun answered with an error, so SMTP Desk cannot tell whether the password changed.", 2},
		{"timeout", resetUser, sandbox.Faults{Routes: []string{"update"}, Latency: time.Hour},
			http.StatusGatewayTimeout, "cannot tell whether the password changed", 1},
	}
	// A login deleted since its form was opened: the answer is not the form again, which can
	// only fail the same way, but the page a link to a missing login gives, with the way to the
	// domain's list.
	t.Run("unknown login (404)", func(t *testing.T) {
		e.SB.ResetCalls()
		path := "/d/acme.example/logins/ghost@acme.example/reset"
		p := submit(t, c, resetUser, path, map[string]string{"mode": "generate"})
		wantStatus(t, p, http.StatusNotFound)
		if got := p.TestID("error-heading").Text(); !strings.Contains(got, "Login not found") {
			t.Errorf("heading = %q, want Login not found", got)
		}
		if got := p.TestID("error-message").Text(); !strings.Contains(got, "ghost@acme.example no longer exists in acme.example") || !strings.Contains(got, "no password was changed") {
			t.Errorf("message = %q", got)
		}
		if p.TestID("reset-form").Length() != 0 {
			t.Error("the form is shown again, though sending it can only fail the same way")
		}
		if got := p.TestID("next-link").AttrOr("href", ""); got != "/d/acme.example" {
			t.Errorf("next link = %q, want the domain's list", got)
		}
		if n := len(e.waitCalls(t, "update", 1)); n != 1 {
			t.Errorf("update calls = %d, want 1", n)
		}
	})
	// A refusal SMTP Desk has no words for: its panel asks to quote the request ID, and shows it
	// on a line of its own to copy, not inside the sentence.
	t.Run("refused, in words SMTP Desk does not know (400)", func(t *testing.T) {
		e.SB.SetFaults(sandbox.Faults{Routes: []string{"update"}, Rate: 1, Status: http.StatusBadRequest, Message: "Quota exhausted for xyz"})
		defer e.SB.SetFaults(sandbox.Faults{})
		p := submit(t, c, resetUser, resetUser, map[string]string{"mode": "generate"})
		panel := p.TestID("upstream-error")
		if got := strings.TrimSpace(panel.Find("p.font-semibold").Text()); got != "Mailgun refused the request" {
			t.Errorf("heading = %q", got)
		}
		want := "Nothing was changed: Mailgun did not accept what SMTP Desk sent (HTTP 400). If this keeps happening, tell your administrator and quote the request ID below."
		if got := strings.Join(strings.Fields(panel.Find("p.mt-1").Text()), " "); got != want {
			t.Errorf("message = %q, want %q", got, want)
		}
		if got, rid := panel.Find(`[data-testid="upstream-request-id"]`).Text(), p.Header.Get("X-Request-ID"); got != rid || rid == "" {
			t.Errorf("the panel's request id = %q, want %q", got, rid)
		}
		if strings.Contains(panel.Text(), "Quota exhausted") {
			t.Error("Mailgun's own words reached the page")
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.SB.SetFaults(tt.faults)
			defer e.SB.SetFaults(sandbox.Faults{})
			e.SB.ResetCalls()
			p := submit(t, c, tt.path, tt.path, map[string]string{"mode": "generate"})
			wantStatus(t, p, tt.wantStatus)
			if got := strings.Join(strings.Fields(p.TestID("upstream-error").Text()), " "); !strings.Contains(got, tt.wantText) {
				t.Errorf("upstream error = %q, want %q", got, tt.wantText)
			}
			if p.TestID("reset-form").Length() == 0 {
				t.Error("the form is not shown again")
			}
			if n := len(e.waitCalls(t, "update", tt.wantCalls)); n != tt.wantCalls {
				t.Errorf("update calls = %d, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestResetAuthorization(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	if err := e.SB.AddCredential("example.com", "sam", "Sam-Old-Pass-1", sandbox.SeedBase()); err != nil {
		t.Fatal(err)
	}

	t.Run("reviewer gets 403 posting a reset", func(t *testing.T) {
		c := e.signIn(t, "reviewer")
		e.SB.ResetCalls()
		p := submit(t, c, "/d/example.com", "/d/example.com/logins/user001@example.com/reset", map[string]string{"mode": "generate"})
		wantStatus(t, p, http.StatusForbidden)
		if n := len(e.callsTo("update", "")); n != 0 {
			t.Errorf("%d update calls after a denial", n)
		}
		wantStatus(t, get(t, c, "/d/example.com/logins/user001@example.com/reset"), http.StatusForbidden)
		denied := e.auditEntries(t, store.AuditFilter{Action: "access.denied", Domain: "example.com"})
		if len(denied) == 0 || denied[0].Outcome != "denied" || !strings.Contains(denied[0].Detail, "user001@example.com") {
			t.Errorf("access.denied entries = %+v", denied)
		}
	})

	t.Run("operator of acme.example gets 403 on example.com", func(t *testing.T) {
		c := e.signIn(t, "operator")
		e.SB.ResetCalls()
		p := submit(t, c, "/d/acme.example", "/d/example.com/logins/user001@example.com/reset", map[string]string{"mode": "generate"})
		wantStatus(t, p, http.StatusForbidden)
		if n := len(e.SB.Calls()); n > 1 { // at most the domain list of the error page's picker
			t.Errorf("sandbox calls after a denial: %+v", e.SB.Calls())
		}
	})

	t.Run("self-service: a viewer resets their own login only", func(t *testing.T) {
		c := e.signIn(t, "selfie")
		// The whole domain on one page (252 logins), so that the other rows are there to be
		// offered a reset or not: a filter on "sam" showed sam's row alone, where one reset link
		// was all there could be, whoever's rows got one.
		list := get(t, c, "/d/example.com?per_page=500")
		if n := list.Find(rowSel).Length(); n < 100 {
			t.Fatalf("the domain page shows %d rows, want the whole domain", n)
		}
		if got := list.Find(resetSel).Length(); got != 1 {
			t.Errorf("reset links on the domain page = %d, want 1 (their own)", got)
		}
		if got := list.Find(resetSel).AttrOr("href", ""); got != "/d/example.com/logins/sam@example.com/reset" {
			t.Errorf("the one reset link leads to %q, want their own login's reset", got)
		}
		if list.TestID("self-badge").Length() == 0 {
			t.Error("own login not marked")
		}
		// The form marks it as their own too (a reset allowed by self-service, not by a role).
		form := get(t, c, "/d/example.com/logins/sam@example.com/reset")
		wantStatus(t, form, http.StatusOK)
		if form.Find(`[data-testid="reset-form"] [data-testid="self-badge"]`).Length() != 1 {
			t.Error("the reset form of their own login does not say it is theirs")
		}
		if n := get(t, e.signIn(t, "operator"), resetUser).TestID("self-badge").Length(); n != 0 {
			t.Error("an operator's reset form of someone else's login says it is theirs")
		}
		p := submit(t, c, "/d/example.com/logins/sam@example.com/reset", "/d/example.com/logins/sam@example.com/reset", map[string]string{"mode": "generate"})
		wantStatus(t, p, http.StatusOK)
		pw := secretsOn(p)["sam@example.com"]
		if pw == "" || !e.SB.CheckPassword("example.com", "sam", pw) {
			t.Errorf("self-service reset did not work: %.300s", p.Text())
		}
		e.SB.ResetCalls()
		p = submit(t, c, "/d/example.com", "/d/example.com/logins/user001@example.com/reset", map[string]string{"mode": "generate"})
		wantStatus(t, p, http.StatusForbidden)
		if n := len(e.callsTo("update", "")); n != 0 {
			t.Errorf("%d update calls for someone else's login", n)
		}
		// The refusal says what self-service allows (their own login, named), not that their
		// access includes no reset at all; whether the other login exists, it does not say.
		const own = "You can reset the password of your own login, sam@example.com, and of no other login in example.com."
		for _, path := range []string{"/d/example.com/logins/user001@example.com/reset", "/d/example.com/logins/no-such-login/reset", "/d/example.com/logins/Sam+x/reset"} {
			p := get(t, c, path)
			wantStatus(t, p, http.StatusForbidden)
			if got := p.TestID("error-message").Text(); !strings.Contains(got, own) {
				t.Errorf("GET %s: message %q, want %q", path, got, own)
			}
			// The way on is the one reset they may make, a press away: a wrong link (a
			// colleague's, a mistyped login) led to the domain, where their row was to find.
			if got, want := p.TestID("next-link").AttrOr("href", ""), "/d/example.com/logins/sam@example.com/reset"; got != want {
				t.Errorf("GET %s: next link %q, want their own login's reset %s", path, got, want)
			}
		}
		// A viewer with no login of their own there reads the usual refusal.
		p = get(t, e.signIn(t, "reviewer"), "/d/example.com/logins/sam@example.com/reset")
		wantStatus(t, p, http.StatusForbidden)
		if got := p.TestID("error-message").Text(); !strings.Contains(got, "does not include resetting passwords") {
			t.Errorf("reviewer's refusal = %q, want the usual one", got)
		}
	})
}

// TestGeneratedPasswordNotSent: Mailgun applies a generated-password reset or create but its
// answer carries no password. The page must say that the login now has a password nobody knows
// and link to resetting it, not that Mailgun did not answer (it did, and the trail says ok).
func TestGeneratedPasswordNotSent(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "owner")
	for _, tt := range []struct {
		name, route, action, login string
		do                         func() *testflow.Page
	}{
		{"reset", sandbox.RouteUpdate, "credential.reset", "alice@acme.example", func() *testflow.Page {
			return submit(t, c, resetUser, resetUser, map[string]string{"mode": "generate"})
		}},
		{"create", sandbox.RouteCreate, "credential.create", "nopw@acme.example", func() *testflow.Page {
			return submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "nopw", "mode": "generate"})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.SB.SetFaults(sandbox.Faults{Routes: []string{tt.route}, Rate: 1, NoPasswords: true})
			p := tt.do()
			e.SB.SetFaults(sandbox.Faults{})
			wantStatus(t, p, http.StatusOK)
			if n := p.TestID("secret-row").Length() + p.TestID("unknown-panel").Length(); n != 0 {
				t.Errorf("page shows %d password or outcome-unknown panels, want none", n)
			}
			row := p.TestID("nopassword-row")
			if row.AttrOr("data-login", "") != tt.login {
				t.Fatalf("no-password rows = %q, want %s: %.500s", row.Text(), tt.login, p.Text())
			}
			if href, want := row.Find("a").AttrOr("href", ""), "/d/acme.example/logins/"+tt.login+"/reset"; href != want {
				t.Errorf("link = %q, want %q", href, want)
			}
			if h := p.Find("h1").Text(); strings.Contains(h, "Save") {
				t.Errorf("heading %q asks to save a password the page does not have", h)
			}
			entries := e.auditEntries(t, store.AuditFilter{Action: tt.action, Limit: 1})
			if len(entries) != 1 || entries[0].Outcome != "ok" {
				t.Errorf("audit = %+v, want ok", entries)
			}
		})
	}
}

// TestFlashOutlivesTheNextAction: a flash waiting for the list (a generated reset's) is not used
// up by the next action's own page being prepared, nor shown there: after a delete, a create and
// a manual reset sent from another tab, each of which goes on to the list, that list shows its
// own message, and the reset's passwords page's Done the waiting one.
func TestFlashOutlivesTheNextAction(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "owner")
	const waiting = "Password for alice@acme.example changed"
	// The forms are sent from a page that leaves the flashes alone (a 403 of another domain),
	// as from a tab opened before the reset: a form page opened after it shows the flash itself.
	const otherTab = "/d/example.com"
	flashesOf := func(p *testflow.Page) string {
		t.Helper()
		wantStatus(t, p, http.StatusOK)
		if p.URL.Path != "/d/acme.example" {
			t.Errorf("ended at %s, want the list", p.URL)
		}
		return p.TestID("flash").Text()
	}
	for _, tt := range []struct {
		name, want string
		do         func() string // the flashes shown on the way back to the list
	}{
		{"delete", "Deleted bob@acme.example", func() string {
			const path = "/d/acme.example/logins/bob@acme.example/delete"
			return flashesOf(submit(t, c, otherTab, path, nil))
		}},
		{"create", "Created 1 login", func() string {
			// The passwords page is the next page: it may show the waiting message itself.
			secrets := submit(t, c, otherTab, "/d/acme.example/new", map[string]string{"logins": "flash-kept", "mode": "generate"})
			return secrets.TestID("flash").Text() + flashesOf(get(t, c, secrets.TestID("done-link").AttrOr("href", "")))
		}},
		{"manual reset", "Password for carol@acme.example changed", func() string {
			const path = "/d/acme.example/logins/carol@acme.example/reset"
			return flashesOf(submit(t, c, otherTab, path, map[string]string{"mode": "manual", "password": "chosen-pass-42", "password2": "chosen-pass-42"}))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := submit(t, c, resetUser, resetUser, map[string]string{"mode": "generate"})
			wantStatus(t, p, http.StatusOK)
			flashes := tt.do()
			if strings.Contains(flashes, waiting) || !strings.Contains(flashes, tt.want) {
				t.Errorf("the list's flashes = %q, want %q alone (not %q, another tab's)", flashes, tt.want, waiting)
			}
			if got := flashesOf(get(t, c, p.TestID("done-link").AttrOr("href", ""))); !strings.Contains(got, waiting) {
				t.Errorf("the reset's Done afterwards shows %q, want %q", got, waiting)
			}
		})
	}
}

// TestChangeMessageOnTheListsErrorPage (a persona review's): a change made, then the list it
// leads to failing (Mailgun's list unavailable): the error page says the change was made, and
// the message is not kept for whatever page comes next. It was left for the next page: the
// error said only "Mailgun is unavailable … Try again" (a user would make the change again) and
// the audit trail opened afterwards said "Password … changed.".
func TestChangeMessageOnTheListsErrorPage(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "owner")
	for _, tt := range []struct {
		name, want string
		send       func() *testflow.Page
	}{
		{"typed reset", "Password for alice@acme.example changed.", func() *testflow.Page {
			return submit(t, c, resetUser, resetUser, map[string]string{"mode": "manual", "password": "chosen-pass-42", "password2": "chosen-pass-42"})
		}},
		{"delete", "Deleted bob@acme.example.", func() *testflow.Page {
			const path = "/d/acme.example/logins/bob@acme.example/delete"
			return submit(t, c, path, path, nil)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteList}, Rate: 1, Status: http.StatusServiceUnavailable})
			p := tt.send()
			e.SB.SetFaults(sandbox.Faults{})
			if p.Status < 500 || p.URL.Path != "/d/acme.example" {
				t.Fatalf("ended at %s with %d, want the list's error page", p.URL, p.Status)
			}
			if f := p.TestID("flash").Text(); !strings.Contains(f, tt.want) {
				t.Errorf("the list's error page shows the flashes %q, want %q", f, tt.want)
			}
			for _, next := range []string{"/audit", "/d/acme.example"} {
				if f := get(t, c, next).TestID("flash").Text(); f != "" {
					t.Errorf("%s, opened next, shows %q", next, f)
				}
			}
		})
	}
}

// TestAddressedFlashShownOnceWhenSessionWritesFail (a review's): a page takes its flashes once.
// PageBase took the addressed one (pageBase, auth.AddressedFlashes) and then the session's
// (auth.Flashes): when the session record could not be written, each returned what it would have
// cleared, and the Done's list showed its message twice.
func TestAddressedFlashShownOnceWhenSessionWritesFail(t *testing.T) {
	const reset = "/d/acme.example/logins/bob/reset"
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	admin := e.signIn(t, "admin")
	p := submit(t, admin, reset, reset, map[string]string{"mode": "generate"})
	wantStatus(t, p, http.StatusOK)
	done := p.TestID("done-link").AttrOr("href", "")
	if !strings.Contains(done, "flash=") {
		t.Fatalf("Done names no flash: %q", done)
	}
	db, err := sql.Open("sqlite", e.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER review_no_session_writes BEFORE UPDATE ON sessions BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`); err != nil {
		t.Fatal(err)
	}
	list := get(t, admin, done)
	wantStatus(t, list, http.StatusOK)
	text := list.TestID("flash").Text()
	if n := strings.Count(text, "bob@acme.example"); n != 1 {
		t.Errorf("the Done's message is shown %d times: %q", n, text)
	}
}
