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
			// The first create's time, in the viewer's zone once the page's script has run, as
			// every other time is (it was UTC text only).
			entries := e.auditEntries(t, store.AuditFilter{Action: "credential.create", Outcome: "unknown", Limit: 1})
			if len(entries) != 1 {
				t.Fatalf("the first create's entry: %+v, want one whose outcome is unknown", entries)
			}
			tm := again.TestID("line-error").Find(`time[data-local="at"]`)
			if got, want := tm.AttrOr("datetime", ""), entries[0].Time.UTC().Format("2006-01-02T15:04Z"); tm.Length() != 1 || got != want {
				t.Errorf("the line error has %d <time data-local=\"at\"> with datetime %q, want one at the first create's %s", tm.Length(), got, want)
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

// TestGoneLoginNamesWhoDeletedIt: an action on a login another user deleted meanwhile says who
// deleted it and when, however the entries interleave in the trail: a reset held at Mailgun
// while another user's delete went through (the delete's entry newer than the reset's), and a
// delete from a stale row after a third user's try on the same gone login failed (a failed
// entry newer than the delete). Both read "someone may have deleted it" or "already gone"
// alone, while the trail named who.
func TestGoneLoginNamesWhoDeletedIt(t *testing.T) {
	const (
		reset = "/d/acme.example/logins/bob/reset"
		del   = "/d/acme.example/logins/bob/delete"
		want  = "Olga Owner deleted it through SMTP Desk on "
	)
	t.Run("deleted while a reset was at Mailgun", func(t *testing.T) {
		e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
		admin, owner := e.signIn(t, "admin"), e.signIn(t, "owner")
		resetForm, deleteForm := get(t, admin, reset), get(t, owner, del)
		hold := make(chan struct{})
		e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteUpdate}, Hold: hold})
		answer := make(chan *testflow.Page, 1)
		go func() { answer <- sendAgain(t, admin, resetForm, reset, url.Values{"mode": {"generate"}}) }()
		// The reset's pending entry is written (its call at Mailgun) before the delete begins.
		deadline := time.Now().Add(5 * time.Second)
		for len(e.auditEntries(t, store.AuditFilter{Action: "credential.reset"})) < 1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		deleted := sendAgain(t, owner, deleteForm, del, url.Values{})
		wantStatus(t, deleted, http.StatusOK)
		close(hold)
		p := <-answer
		wantStatus(t, p, http.StatusNotFound)
		if !strings.Contains(p.Text(), want) {
			t.Errorf("the reset of a login deleted while it ran does not say who deleted it: %.600s", p.Text())
		}
	})
	t.Run("deleted, then another try failed", func(t *testing.T) {
		e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
		admin, owner, operator := e.signIn(t, "admin"), e.signIn(t, "owner"), e.signIn(t, "operator")
		// The admin's and the operator's forms are open from their lists before the delete.
		deleteForm, resetForm := get(t, admin, del), get(t, operator, reset)
		wantStatus(t, submit(t, owner, del, del, map[string]string{}), http.StatusOK)
		wantStatus(t, sendAgain(t, operator, resetForm, reset, url.Values{"mode": {"generate"}}), http.StatusNotFound)
		p := sendAgain(t, admin, deleteForm, del, url.Values{})
		wantStatus(t, p, http.StatusOK)
		if flash := p.TestID("flash").Text(); !strings.Contains(flash, "already gone") || !strings.Contains(flash, want) {
			t.Errorf("a delete from a stale row does not say who deleted the login: %q", flash)
		}
	})
}

// TestChangeWhileDeletedSaysSo: a create or a reset that went through while another user's
// delete of the login, or delete all of the domain, was at Mailgun says so on its page: Mailgun
// may delete the login right after, and the page said "Save this password now" for a login gone
// a moment later. A delete all that ended before the change began, or a delete of another login,
// says nothing.
func TestChangeWhileDeletedSaysSo(t *testing.T) {
	const (
		reset = "/d/acme.example/logins/bob/reset"
		form  = "/d/acme.example/new"
	)
	tests := []struct {
		name          string
		deletePage    string // the owner's delete, held at Mailgun ("" for none)
		route         string
		fields        url.Values
		before        string // the owner's delete all, done before the change ("" for none)
		path          string // the admin's change
		change        map[string]string
		want, wantSel string
	}{
		{name: "create during delete all", deletePage: "/d/acme.example/delete-all", route: sandbox.RouteDeleteAll,
			fields: url.Values{"confirm": {"acme.example"}}, path: form, change: map[string]string{"logins": "zed", "mode": "generate"},
			want: "Olga Owner is deleting every login of acme.example at the same moment, so Mailgun may have deleted it", wantSel: "flash"},
		{name: "reset during its delete", deletePage: "/d/acme.example/logins/bob/delete", route: sandbox.RouteDelete,
			fields: url.Values{}, path: reset, change: map[string]string{"mode": "generate"},
			want: "Olga Owner is deleting bob@acme.example at the same moment", wantSel: "flash"},
		{name: "typed reset during its delete", deletePage: "/d/acme.example/logins/bob/delete", route: sandbox.RouteDelete,
			fields: url.Values{}, path: reset, change: map[string]string{"mode": "manual", "password": "Typed-during-delete-1", "password2": "Typed-during-delete-1"},
			want: "Password for bob@acme.example changed, but Olga Owner is deleting bob@acme.example at the same moment", wantSel: "flash"},
		{name: "reset during another's delete", deletePage: "/d/acme.example/logins/alice/delete", route: sandbox.RouteDelete,
			fields: url.Values{}, path: reset, change: map[string]string{"mode": "generate"}},
		{name: "create after delete all", before: "/d/acme.example/delete-all", path: form,
			change: map[string]string{"logins": "zed", "mode": "generate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
			admin, owner := e.signIn(t, "admin"), e.signIn(t, "owner")
			if tt.before != "" {
				wantStatus(t, submit(t, owner, tt.before, tt.before, map[string]string{"confirm": "acme.example"}), http.StatusOK)
			}
			hold := make(chan struct{})
			var deleted chan *testflow.Page
			if tt.deletePage != "" {
				confirm := get(t, owner, tt.deletePage)
				if l := confirm.Find(`input[name="listed"]`); l.Length() > 0 {
					tt.fields.Set("listed", l.AttrOr("value", ""))
				}
				e.SB.SetFaults(sandbox.Faults{Routes: []string{tt.route}, Hold: hold})
				deleted = make(chan *testflow.Page, 1)
				go func() { deleted <- sendAgain(t, owner, confirm, tt.deletePage, tt.fields) }()
				// The delete's entry is written, its call at Mailgun, before the change begins.
				deadline := time.Now().Add(5 * time.Second)
				action := "credential.delete"
				if tt.route == sandbox.RouteDeleteAll {
					action = "credential.delete_all"
				}
				for len(e.auditEntries(t, store.AuditFilter{Action: action})) < 1 && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
			}
			p := submit(t, admin, tt.path, tt.path, tt.change)
			close(hold)
			if deleted != nil {
				wantStatus(t, <-deleted, http.StatusOK)
			}
			wantStatus(t, p, http.StatusOK)
			flash := p.TestID("flash").Text()
			if tt.want == "" {
				if strings.Contains(flash, "at the same moment") {
					t.Errorf("a change no delete ran with warns: %q", flash)
				}
				return
			}
			if !strings.Contains(flash, tt.want) {
				t.Errorf("the change's page does not say %q; flashes %q", tt.want, flash)
			}
		})
	}
}

// TestChangeWhileYourOwnDeleteAllRuns: a create made in one tab while the same user's delete all
// of the domain was at Mailgun in another says that "you (in another tab or window)" are
// deleting every login, as a colleague's would name the colleague: the user's own delete all is
// no less a reason to check the list before using the password.
func TestChangeWhileYourOwnDeleteAllRuns(t *testing.T) {
	const (
		deleteAll = "/d/acme.example/delete-all"
		form      = "/d/acme.example/new"
	)
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	owner := e.signIn(t, "owner")
	confirm := get(t, owner, deleteAll)
	fields := url.Values{"confirm": {"acme.example"}}
	if l := confirm.Find(`input[name="listed"]`); l.Length() > 0 {
		fields.Set("listed", l.AttrOr("value", ""))
	}
	hold := make(chan struct{})
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDeleteAll}, Hold: hold})
	deleted := make(chan *testflow.Page, 1)
	go func() { deleted <- sendAgain(t, owner, confirm, deleteAll, fields) }()
	// The delete all's entry is written, its call at Mailgun, before the create begins.
	deadline := time.Now().Add(5 * time.Second)
	for len(e.auditEntries(t, store.AuditFilter{Action: "credential.delete_all"})) < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p := submit(t, owner, form, form, map[string]string{"logins": "zed", "mode": "generate"})
	close(hold)
	wantStatus(t, <-deleted, http.StatusOK)
	wantStatus(t, p, http.StatusOK)
	const want = "You (in another tab or window) are deleting every login of acme.example at the same moment, so Mailgun may have deleted it"
	if flash := p.TestID("flash").Text(); !strings.Contains(flash, want) {
		t.Errorf("the create's page does not say %q; flashes %q", want, flash)
	}
}
