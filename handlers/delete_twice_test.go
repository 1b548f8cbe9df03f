package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// wantAlreadySent fails the test unless p is the answer to a delete form sent again: 409, saying
// it was already sent and nothing was deleted twice, with no form to send again and a way to
// the list (list: the Back link's target).
func wantAlreadySent(t *testing.T, p *testflow.Page, list string) {
	t.Helper()
	wantStatus(t, p, http.StatusConflict)
	got := strings.Join(strings.Fields(p.TestID("upstream-error").Text()), " ")
	if !strings.Contains(got, "This form was already sent") || !strings.Contains(got, "nothing was deleted twice") {
		t.Errorf("the form sent again says %.300q, want it already sent and nothing deleted twice", got)
	}
	if n := p.Find(`form[method="post"] input[name="_form"]`).Length(); n != 0 {
		t.Errorf("the page asks again: %d forms with a one-time token", n)
	}
	if got := p.TestID("cancel-link").AttrOr("href", ""); got != list {
		t.Errorf("the page leads to %q, want %q", got, list)
	}
}

// TestDeleteSentTwice: a delete form sent again (a double click, a retried POST, the back button
// then the button) is refused with 409 and reaches Mailgun only once, with one audit entry. The
// domain page's dialog has one token for the page: the same row's delete is refused the second
// time, another row's goes ahead. A delete-all sent again is told so before the list is read, not
// that the logins have changed.
func TestDeleteSentTwice(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")

	t.Run("dialog", func(t *testing.T) {
		const view = "/d/acme.example"
		list := get(t, c, view)
		wantStatus(t, list, http.StatusOK)
		form := dialogForm(t, list)
		if form.Get("_form") == "" {
			t.Fatalf("the dialog's form has no one-time token: %v", form)
		}
		const login = "bob@acme.example"
		link := deleteLinkOf(t, list, login)
		p := postFrom(t, e, c, link, list.URL.String(), form)
		wantListAt(t, e, p, view, "Deleted "+login+".", pagerText(p))
		wantAlreadySent(t, postFrom(t, e, c, link, list.URL.String(), form), view)
		if n := len(e.callsTo(sandbox.RouteDelete, "acme.example")); n != 1 {
			t.Errorf("%d delete calls, want 1", n)
		}
		if n := len(e.auditEntries(t, store.AuditFilter{Action: "credential.delete", Login: login})); n != 1 {
			t.Errorf("%d audit entries for %s, want 1", n, login)
		}
		// The same page (the back button after the delete) still deletes another row.
		const other = "carol@acme.example"
		p = postFrom(t, e, c, deleteLinkOf(t, list, other), list.URL.String(), form)
		wantListAt(t, e, p, view, "Deleted "+other+".", pagerText(p))
	})

	t.Run("confirmation page", func(t *testing.T) {
		const path = "/d/acme.example/logins/dave@acme.example/delete"
		confirm := get(t, c, path)
		wantStatus(t, confirm, http.StatusOK)
		e.SB.ResetCalls()
		wantStatus(t, sendForm(t, c, confirm, testid("delete-form"), nil), http.StatusOK)
		wantAlreadySent(t, sendForm(t, c, confirm, testid("delete-form"), nil), "/d/acme.example")
		if n := len(e.callsTo(sandbox.RouteDelete, "")); n != 1 {
			t.Errorf("%d delete calls, want 1", n)
		}
	})

	t.Run("delete all", func(t *testing.T) {
		const path = "/d/newsletter.example.org/delete-all"
		page := get(t, c, path)
		wantStatus(t, page, http.StatusOK)
		e.SB.ResetCalls()
		done := sendForm(t, c, page, testid("delete-all-form"), map[string]string{"confirm": "newsletter.example.org"})
		wantStatus(t, done, http.StatusOK)
		// A login made since: the form sent again must not delete it, nor read the list.
		if err := e.SB.AddCredential("newsletter.example.org", "later@newsletter.example.org", "Later-password-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		if n := len(e.callsTo(sandbox.RouteDeleteAll, "")); n != 1 {
			t.Fatalf("%d delete-all calls, want 1", n)
		}
		e.SB.ResetCalls()
		again := sendForm(t, c, page, testid("delete-all-form"), map[string]string{"confirm": "newsletter.example.org"})
		wantAlreadySent(t, again, "/d/newsletter.example.org")
		if calls := e.SB.Calls(); len(calls) != 0 {
			t.Errorf("the form sent again made Mailgun calls %+v, want none", calls)
		}
		if got := e.SB.Logins("newsletter.example.org"); !slices.Contains(got, "later@newsletter.example.org") {
			t.Errorf("the form sent again deleted the login made since: %v", got)
		}
		if n := len(e.auditEntries(t, store.AuditFilter{Action: "credential.delete_all"})); n != 1 {
			t.Errorf("%d delete-all entries, want 1", n)
		}
	})
}

// TestDeleteSentTwiceAtOnce: the second sending of a delete form arrives while the first one's
// DELETE is at Mailgun (held there by the sandbox until the second is answered). Both passed
// every check before the form carried a token (delete-all's list was still the one the page
// showed), so Mailgun got two DELETEs and the trail two entries; now exactly one reaches Mailgun.
func TestDeleteSentTwiceAtOnce(t *testing.T) {
	tests := []struct {
		name, route, page, sel, want string
		fields                       map[string]string
	}{
		{"delete", sandbox.RouteDelete, "/d/acme.example/logins/bob@acme.example/delete", "delete-form", "credential.delete", nil},
		{"delete all", sandbox.RouteDeleteAll, "/d/newsletter.example.org/delete-all", "delete-all-form", "credential.delete_all",
			map[string]string{"confirm": "newsletter.example.org"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}, MailgunTimeout: time.Minute})
			c := e.signIn(t, "admin")
			page := get(t, c, tt.page)
			wantStatus(t, page, http.StatusOK)
			form := page.Find(testid(tt.sel))
			v := url.Values{}
			form.Find(`input[type="hidden"]`).Each(func(_ int, in *goquery.Selection) {
				v.Add(in.AttrOr("name", ""), in.AttrOr("value", ""))
			})
			for k, s := range tt.fields {
				v.Set(k, s)
			}
			action := form.AttrOr("action", "")
			hold := make(chan struct{})
			e.SB.SetFaults(sandbox.Faults{Routes: []string{tt.route}, Hold: hold})
			send := func() <-chan int {
				status := make(chan int, 1)
				go func() {
					p, err := c.Post(context.Background(), action, v)
					if err != nil {
						t.Error(err)
						status <- 0
						return
					}
					status <- p.Status
				}()
				return status
			}

			first := send()
			var firstStatus int
			firstDone := false
			for len(e.callsTo(tt.route, "")) == 0 && !firstDone {
				select {
				case firstStatus = <-first:
					firstDone = true
				default:
					runtime.Gosched()
				}
			}
			if firstDone {
				close(hold)
				t.Fatalf("the first sending was answered (%d) before its DELETE reached Mailgun", firstStatus)
			}
			// The second sending, while the first one's DELETE is at Mailgun: it is answered
			// without a DELETE, or its DELETE reaches Mailgun too.
			second := send()
			var secondStatus int
			secondDone := false
			for len(e.callsTo(tt.route, "")) < 2 && !secondDone {
				select {
				case secondStatus = <-second:
					secondDone = true
				default:
					runtime.Gosched()
				}
			}
			close(hold)
			firstStatus = <-first
			if !secondDone {
				secondStatus = <-second
			}
			if n := len(e.callsTo(tt.route, "")); n != 1 {
				t.Errorf("%d %s calls reached Mailgun, want 1", n, tt.route)
			}
			if firstStatus != http.StatusOK || secondStatus != http.StatusConflict {
				t.Errorf("answers %d and %d, want 200 (the delete) and 409 (already sent)", firstStatus, secondStatus)
			}
			if n := len(e.auditEntries(t, store.AuditFilter{Action: tt.want})); n != 1 {
				t.Errorf("%d %s audit entries, want 1", n, tt.want)
			}
		})
	}
}

// TestDeleteNotSentIsNotAlreadySent: a delete form that changed nothing (the list no longer the
// one confirmed, the rate limit, Mailgun's refusal) can be sent again as a new attempt, never
// "already sent"; one whose outcome is unknown (Mailgun's 5xx after applying) cannot. A form
// without the token (a client that sends none) is not told apart, as a create's is not.
func TestDeleteNotSentIsNotAlreadySent(t *testing.T) {
	t.Run("list changed", func(t *testing.T) {
		e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
		c := e.signIn(t, "admin")
		const path = "/d/newsletter.example.org/delete-all"
		page := get(t, c, path)
		if err := e.SB.AddCredential("newsletter.example.org", "late@newsletter.example.org", "Late-password-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		confirm := map[string]string{"confirm": "newsletter.example.org"}
		changed := sendForm(t, c, page, testid("delete-all-form"), confirm)
		wantStatus(t, changed, http.StatusConflict)
		if got := changed.TestID("upstream-error").Text(); !strings.Contains(got, "have changed") {
			t.Fatalf("the first sending says %.300q, want the logins changed", got)
		}
		const late = "/d/newsletter.example.org/logins/late@newsletter.example.org/delete"
		wantStatus(t, submit(t, c, "/d/newsletter.example.org", late, nil), http.StatusOK)
		// The list is the confirmed one again: the same form deletes.
		wantStatus(t, sendForm(t, c, page, testid("delete-all-form"), confirm), http.StatusOK)
		if n := len(e.callsTo(sandbox.RouteDeleteAll, "")); n != 1 {
			t.Errorf("%d delete-all calls, want 1", n)
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1}})
		c := e.signIn(t, "admin")
		page := get(t, c, "/d/newsletter.example.org/delete-all")
		wantStatus(t, submit(t, c, "/d/acme.example", "/d/acme.example/logins/bob@acme.example/delete", nil), http.StatusOK)
		confirm := map[string]string{"confirm": "newsletter.example.org"}
		wantStatus(t, sendForm(t, c, page, testid("delete-all-form"), confirm), http.StatusTooManyRequests)
		e.Clock.Add(2 * time.Minute)
		wantStatus(t, sendForm(t, c, page, testid("delete-all-form"), confirm), http.StatusOK)
	})
	t.Run("Mailgun refused", func(t *testing.T) {
		e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
		c := e.signIn(t, "admin")
		confirm := get(t, c, "/d/acme.example/logins/bob@acme.example/delete")
		e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDelete}, Rate: 1, Status: http.StatusTooManyRequests})
		wantStatus(t, sendForm(t, c, confirm, testid("delete-form"), nil), http.StatusTooManyRequests)
		e.SB.SetFaults(sandbox.Faults{})
		wantStatus(t, sendForm(t, c, confirm, testid("delete-form"), nil), http.StatusOK)
	})
	t.Run("Mailgun 503 after applying", func(t *testing.T) {
		e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
		c := e.signIn(t, "admin")
		page := get(t, c, "/d/newsletter.example.org/delete-all")
		confirm := map[string]string{"confirm": "newsletter.example.org"}
		e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDeleteAll}, Rate: 1, Status: http.StatusServiceUnavailable, AfterApply: true})
		wantStatus(t, sendForm(t, c, page, testid("delete-all-form"), confirm), http.StatusBadGateway)
		e.SB.SetFaults(sandbox.Faults{})
		e.SB.ResetCalls()
		wantAlreadySent(t, sendForm(t, c, page, testid("delete-all-form"), confirm), "/d/newsletter.example.org")
		if n := len(e.callsTo(sandbox.RouteDeleteAll, "")); n != 0 {
			t.Errorf("%d delete-all calls for the form sent again, want none", n)
		}
	})
	t.Run("no token", func(t *testing.T) {
		e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
		c := e.signIn(t, "admin")
		const path = "/d/acme.example/logins/bob@acme.example/delete"
		wantStatus(t, submit(t, c, path, path, nil), http.StatusOK)
		p := submit(t, c, path, path, nil)
		wantStatus(t, p, http.StatusOK)
		if got := p.TestID("flash").Text(); !strings.Contains(got, "already gone") {
			t.Errorf("a delete without a token sent again: flash %q, want Mailgun's \"already gone\"", got)
		}
		if n := len(e.callsTo(sandbox.RouteDelete, "")); n != 2 {
			t.Errorf("%d delete calls, want 2", n)
		}
	})
}
