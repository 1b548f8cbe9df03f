package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// sendAgain posts the form a page shows again (its one-time token and CSRF token) with fields.
func sendAgain(t *testing.T, c *testflow.Client, p *testflow.Page, action string, fields url.Values) *testflow.Page {
	t.Helper()
	fields.Set("_csrf", p.CSRF())
	fields.Set("_form", p.Find(`input[name="_form"]`).AttrOr("value", ""))
	got, err := c.Post(context.Background(), action, fields)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestCreateSentAgainAfterNoAnswer: a create whose answer was lost after Mailgun made the login,
// sent again from the form its page shows, is refused as "already exists": the line says that
// the first sending most likely made it and that nobody was shown its password, where it read
// "Pick another name", which hid that the login exists with a password nobody knows.
func TestCreateSentAgainAfterNoAnswer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults sandbox.Faults
	}{
		{"dropped", sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Rate: 1, Drop: true, AfterApply: true}},
		{"503", sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Rate: 1, Status: http.StatusServiceUnavailable, AfterApply: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
			c := e.signIn(t, "operator")
			const form = "/d/acme.example/new"
			e.SB.SetFaults(tc.faults)
			first := submit(t, c, form, form, map[string]string{"logins": "zed", "mode": "generate"})
			wantStatus(t, first, http.StatusBadGateway)
			e.SB.SetFaults(sandbox.Faults{})

			again := sendAgain(t, c, first, form, url.Values{"logins": {"zed"}, "mode": {"generate"}})
			wantStatus(t, again, http.StatusBadRequest)
			text := again.Text()
			for _, want := range []string{"your create of it on", "got no answer from Mailgun", "nobody was shown its password", "Reset its password to get one."} {
				if !strings.Contains(text, want) {
					t.Errorf("the form sent again does not say %q: %.1200s", want, text)
				}
			}
			if strings.Contains(text, "Pick another name") {
				t.Error("the form sent again asks for another name for the login its first sending made")
			}

			// Another user's create of the same login gets the same account, with their name.
			o := e.signIn(t, "admin")
			p := submit(t, o, form, form, map[string]string{"logins": "zed", "mode": "generate"})
			wantStatus(t, p, http.StatusBadRequest)
			if !strings.Contains(p.Text(), "Omar Operator's create of it on") {
				t.Errorf("another user is not told whose create made the login: %.1200s", p.Text())
			}

			// A login that exists for any other reason is "pick another name", as before.
			p = submit(t, c, form, form, map[string]string{"logins": "omar", "mode": "generate"})
			wantStatus(t, p, http.StatusBadRequest)
			if !strings.Contains(p.Text(), "Pick another name") || strings.Contains(p.Text(), "got no answer") {
				t.Errorf("an existing login: %.1200s", p.Text())
			}
			es := e.auditEntries(t, store.AuditFilter{Action: "credential.create", Login: "zed@acme.example"})
			if len(es) != 3 || es[2].Outcome != store.OutcomeUnknown || es[1].Outcome != store.OutcomeFailed || es[0].Outcome != store.OutcomeFailed {
				t.Errorf("audit trail of zed: %+v", es)
			}
		})
	}
}

// TestResetsAtTheSameMoment: two resets of one login at once (two users, or two tabs) each
// succeed, and Mailgun keeps only the password it set last. Each page says that another reset
// ran at the same moment and that its password may not be the login's, where both said "Save
// this password now" and one of the two passwords never worked. A reset alone says nothing.
func TestResetsAtTheSameMoment(t *testing.T) {
	for _, mode := range []string{"generate", "manual"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
			const path = "/d/acme.example/logins/omar/reset"
			users := map[string]*testflow.Client{"admin": e.signIn(t, "admin"), "owner": e.signIn(t, "owner")}
			forms := map[string]*testflow.Page{}
			for who, c := range users {
				forms[who] = get(t, c, path)
			}
			hold := make(chan struct{})
			e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteUpdate}, Hold: hold})
			var mu sync.Mutex
			pages := map[string]*testflow.Page{}
			var wg sync.WaitGroup
			for who, c := range users {
				wg.Go(func() {
					fields := url.Values{"mode": {mode}}
					if mode == "manual" {
						fields.Set("password", "Typed-by-"+who)
						fields.Set("password2", "Typed-by-"+who)
					}
					p := sendAgain(t, c, forms[who], path, fields)
					mu.Lock()
					pages[who] = p
					mu.Unlock()
				})
			}
			// Both are in flight (their pending entries written) before Mailgun answers either.
			deadline := time.Now().Add(5 * time.Second)
			for len(e.auditEntries(t, store.AuditFilter{Action: "credential.reset"})) < 2 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			close(hold)
			wg.Wait()
			works := 0
			for who, p := range pages {
				wantStatus(t, p, http.StatusOK)
				pw := "Typed-by-" + who
				if mode == "generate" {
					pw = p.TestID("secret-password").AttrOr("value", "")
				}
				if e.SB.CheckPassword("acme.example", "omar@acme.example", pw) {
					works++
				}
				flash := p.TestID("flash").Text()
				if !strings.Contains(flash, "reset it at the same moment") {
					t.Errorf("%s's page does not say another reset ran at the same moment; flashes %q", who, flash)
				}
			}
			if works != 1 {
				t.Errorf("%d of the two passwords work, want 1", works)
			}

			// A reset on its own, afterwards, says nothing of the kind.
			fields := map[string]string{"mode": mode}
			if mode == "manual" {
				fields["password"], fields["password2"] = "Typed-alone-1", "Typed-alone-1"
			}
			e.SB.SetFaults(sandbox.Faults{})
			p := submit(t, users["admin"], path, path, fields)
			wantStatus(t, p, http.StatusOK)
			if strings.Contains(p.Text(), "at the same moment") {
				t.Errorf("a reset alone says another ran at the same moment: %q", p.TestID("flash").Text())
			}
		})
	}
}
