package handlers_test

import (
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

// TestFaultsDuringEachActionMatchTheAuditTrail drives reset, delete and delete-all through a
// Mailgun 503 (before and after Mailgun applied the change), a timeout, a dropped connection and
// a 200 whose body is broken JSON, and checks that the page tells the user the same thing the
// audit trail records: none of them says that nothing changed, each names its own cause (an
// unreadable answer is not "Mailgun did not answer", which the trail does not say either), so the page says SMTP Desk cannot tell (the amber
// panel, with a link to the list where the list shows the outcome) and the entry is unknown,
// with Mailgun's status when it answered. (Create is covered by TestCreateUpstreamErrors.)
func TestFaultsDuringEachActionMatchTheAuditTrail(t *testing.T) {
	e := newEnv(t, envOptions{HangTimeout: 300 * time.Millisecond, Settings: handlers.Settings{ActionsPerMinute: 1000}})
	admin := e.signIn(t, "admin")
	const domain, password = "newsletter.example.org", "Original-pw-1"

	faults := []struct {
		name       string
		faults     sandbox.Faults
		wantStatus int
		upstream   int  // Mailgun's status the entry keeps (0: no answer)
		applied    bool // Mailgun applied the change before failing
		unreadable bool // Mailgun answered 200 with a body SMTP Desk cannot read
	}{
		{"503", sandbox.Faults{Rate: 1, Status: http.StatusServiceUnavailable}, http.StatusBadGateway, 503, false, false},
		{"503 after applying", sandbox.Faults{Rate: 1, Status: http.StatusServiceUnavailable, AfterApply: true}, http.StatusBadGateway, 503, true, false},
		{"timeout", sandbox.Faults{Latency: time.Hour}, http.StatusGatewayTimeout, 0, false, false},
		{"dropped connection", sandbox.Faults{Rate: 1, Drop: true}, http.StatusBadGateway, 0, false, false},
		{"unreadable answer", sandbox.Faults{Rate: 1, Malformed: true, AfterApply: true}, http.StatusBadGateway, 0, true, true},
	}
	actions := []struct {
		name, route, audit   string
		serverTx, noAnswerTx string
		maybe                string // what the heading says may have happened, after its cause
		do                   func(t *testing.T, login string) *testflow.Page
		// checkURL is where the panel's "Check the list" link leads (nil for none: a reset's
		// outcome does not show in the list).
		checkURL func(login string) string
		// changed reports whether the action's change reached Mailgun's store.
		changed func(login string, before []string) bool
	}{
		{
			name: "reset", route: sandbox.RouteUpdate, audit: "credential.reset",
			serverTx:   "Mailgun answered with an error, so SMTP Desk cannot tell whether the password changed. Reset it again to get a password you know.",
			noAnswerTx: "Mailgun did not answer, so SMTP Desk cannot tell whether the password changed. Reset it again to get a password you know.",
			maybe:      "the password may have changed",
			do: func(t *testing.T, login string) *testflow.Page {
				path := "/d/" + domain + "/logins/" + login + "/reset"
				return submit(t, admin, path, path, map[string]string{"mode": "generate"})
			},
			changed: func(login string, _ []string) bool { return !e.SB.CheckPassword(domain, login, password) },
		},
		{
			name: "delete", route: sandbox.RouteDelete, audit: "credential.delete",
			serverTx:   "Mailgun answered with an error, so SMTP Desk cannot tell whether it was deleted. Check the list before trying again.",
			noAnswerTx: "Mailgun did not answer, so SMTP Desk cannot tell whether it was deleted. Check the list before trying again.",
			maybe:      "the login may be gone",
			do: func(t *testing.T, login string) *testflow.Page {
				path := "/d/" + domain + "/logins/" + login + "/delete"
				return submit(t, admin, path, path, nil)
			},
			checkURL: func(login string) string {
				local, _, _ := strings.Cut(login, "@")
				return "/d/" + domain + "?q=" + local
			},
			changed: func(login string, _ []string) bool { return !slices.Contains(e.SB.Logins(domain), login) },
		},
		{
			name: "delete all", route: sandbox.RouteDeleteAll, audit: "credential.delete_all",
			serverTx:   "Mailgun answered with an error, so SMTP Desk cannot tell whether the logins were deleted. Check the list before trying again.",
			noAnswerTx: "Mailgun did not answer, so SMTP Desk cannot tell whether the logins were deleted. Check the list before trying again.",
			maybe:      "the logins may be gone",
			do: func(t *testing.T, _ string) *testflow.Page {
				path := "/d/" + domain + "/delete-all"
				return submit(t, admin, path, path, map[string]string{"confirm": domain})
			},
			checkURL: func(string) string { return "/d/" + domain },
			changed:  func(_ string, before []string) bool { return !slices.Equal(e.SB.Logins(domain), before) },
		},
	}
	for _, a := range actions {
		for _, f := range faults {
			t.Run(a.name+"/"+f.name, func(t *testing.T) {
				login := strings.ReplaceAll(a.name+"-"+f.name, " ", "-") + "@" + domain
				if err := e.SB.AddCredential(domain, login, password, time.Now()); err != nil {
					t.Fatal(err)
				}
				before := e.SB.Logins(domain)
				fl := f.faults
				fl.Routes = []string{a.route}
				e.SB.SetFaults(fl)
				p := a.do(t, login)
				e.SB.SetFaults(sandbox.Faults{})

				if p.Status != f.wantStatus {
					t.Errorf("status = %d, want %d", p.Status, f.wantStatus)
				}
				panel := p.TestID("upstream-error")
				text := strings.Join(strings.Fields(panel.Text()), " ")
				wantText, wantHead := a.noAnswerTx, "Mailgun did not answer: "+a.maybe
				switch {
				case f.upstream != 0:
					wantText, wantHead = a.serverTx, "Mailgun failed: "+a.maybe
				case f.unreadable:
					// The heading says the answer was unreadable; the sentence says what that
					// means, not the same again ("Mailgun's answer could not be read").
					wantText = strings.Replace(a.serverTx, "Mailgun answered with an error", "Mailgun answered with something SMTP Desk did not expect", 1)
					wantHead = "Mailgun's answer was unreadable: " + a.maybe
				}
				// The panel asks to quote the request ID, and shows it: as the error page of the
				// same outcome does, not only in the footer.
				wantText += " If this keeps happening, tell your administrator and quote the request ID below."
				if got, rid := panel.Find(`[data-testid="upstream-request-id"]`).Text(), p.Header.Get("X-Request-ID"); got != rid || rid == "" {
					t.Errorf("the panel's request id = %q, want this request's, %q", got, rid)
				}
				if head := strings.TrimSpace(panel.Find("p.font-semibold").Text()); head != wantHead {
					t.Errorf("the panel's heading = %q, want %q", head, wantHead)
				}
				if !strings.Contains(text, wantText) {
					t.Errorf("page says %.400q, want it to say %q", text, wantText)
				}
				if strings.Contains(strings.ToLower(text), "nothing was changed") {
					t.Errorf("page says nothing was changed: %.400q", text)
				}
				if !strings.Contains(panel.AttrOr("class", ""), "bg-amber-50") {
					t.Errorf("the panel is not the amber \"outcome unknown\" one: class %q", panel.AttrOr("class", ""))
				}
				wantCheck := ""
				if a.checkURL != nil {
					wantCheck = a.checkURL(login)
				}
				if got := panel.Find("a").AttrOr("href", ""); got != wantCheck {
					t.Errorf("the panel's link leads to %q, want %q", got, wantCheck)
				}
				if a.name == "delete all" && f.applied {
					// The list read again after the lost answer is empty: the page says none are
					// left, not that there is nothing to delete.
					if got := strings.TrimSpace(p.TestID("empty-state").Find("h2").Text()); got != "No logins are left" {
						t.Errorf("the page below the panel says %q, want \"No logins are left\"", got)
					}
				}
				if got := a.changed(login, before); got != f.applied {
					t.Errorf("Mailgun's store changed under the fault: %v, want %v", got, f.applied)
				}
				if wantCheck != "" {
					// The list the panel leads to is Mailgun's, not the one cached before.
					if listed := slices.Contains(loginsOn(get(t, admin, wantCheck)), login); listed == f.applied {
						t.Errorf("the list the panel leads to shows %s: %v, but Mailgun deleted it: %v", login, listed, f.applied)
					}
				}
				e.waitCalls(t, a.route, 1)
				entries := e.auditEntries(t, store.AuditFilter{Action: a.audit, Domain: domain, Limit: 1})
				if len(entries) != 1 || entries[0].Outcome != "unknown" || entries[0].UpstreamStatus != f.upstream {
					t.Errorf("newest %s audit entry = %+v, want outcome \"unknown\" (what the page said) with status %d", a.audit, entries, f.upstream)
				} else if f.unreadable && entries[0].UpstreamMessage != "Mailgun's answer could not be read" {
					t.Errorf("newest %s audit entry says %q, want the cause the page gives", a.audit, entries[0].UpstreamMessage)
				}
			})
		}
	}
}

// TestPageThatTimesOutSaysNothingChanged: a page that only reads (the list, the delete-all
// question) and whose Mailgun call times out says that Mailgun did not
// answer and to reload; it does not warn that "a change may or may not have been made", which
// only a change that was sent can cause.
func TestPageThatTimesOutSaysNothingChanged(t *testing.T) {
	e := newEnv(t, envOptions{HangTimeout: 300 * time.Millisecond})
	admin := e.signIn(t, "admin")
	e.SB.SetFaults(sandbox.Faults{Latency: time.Hour, Routes: []string{sandbox.RouteList}})
	defer e.SB.SetFaults(sandbox.Faults{})
	for _, path := range []string{"/d/acme.example", "/d/newsletter.example.org/delete-all"} {
		p := get(t, admin, path)
		wantStatus(t, p, http.StatusGatewayTimeout)
		text := strings.Join(strings.Fields(p.Text()), " ")
		if strings.Contains(text, "may or may not") || strings.Contains(text, "Check the list before trying again") {
			t.Errorf("%s: a page that only reads warns of a change: %.400q", path, text)
		}
		if !strings.Contains(text, "Nothing was changed") || !strings.Contains(text, "Reload the page") {
			t.Errorf("%s: page does not say nothing changed and to reload: %.400q", path, text)
		}
	}
}

// TestListRateLimitedSaysWhen: Mailgun rate-limits the list with a Retry-After: the page says
// when to try again, and does not also say to wait "a moment".
func TestListRateLimitedSaysWhen(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := e.signIn(t, "admin")
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteList}, Rate: 1, Status: http.StatusTooManyRequests, RetryAfter: 90 * time.Second})
	defer e.SB.SetFaults(sandbox.Faults{})
	// A later page of a filtered view, at another page size: what "Try again" must not lose.
	const view = "/d/example.com?page=2&per_page=25&q=user1"
	p := get(t, admin, view)
	wantStatus(t, p, http.StatusTooManyRequests)
	if got := strings.Join(strings.Fields(p.TestID("retry-after").Text()), " "); got != "Try again in 90 seconds" {
		t.Errorf("the wait = %q, want \"Try again in 90 seconds\"", got)
	}
	// Said once, by the wait and the button: not also "Nothing was changed. Try again once the
	// wait below is over." (a list changes nothing). Mailgun's words are those of every 429.
	if got := p.TestID("error-hint"); got.Length() != 0 {
		t.Errorf("the page also hints %q", got.Text())
	}
	if got, want := p.TestID("error-message").Text(), "Mailgun asked SMTP Desk to slow down."; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	// The way on is the same view again, as on the other error pages of a page that only reads,
	// not only "Back to domains", which loses the page, the filter and the page size.
	again := p.TestID("next-link")
	if got := strings.TrimSpace(again.Text()); got != "Try again" {
		t.Fatalf("the page's link = %q, want \"Try again\"", got)
	}
	href := again.AttrOr("href", "")
	if href != view {
		t.Errorf("\"Try again\" leads to %q, want %q", href, view)
	}
	e.SB.SetFaults(sandbox.Faults{})
	p = get(t, admin, href)
	wantStatus(t, p, http.StatusOK)
	if got := p.TestID("filter-input").AttrOr("value", ""); got != "user1" {
		t.Errorf("after \"Try again\" the filter is %q, want \"user1\"", got)
	}
}
