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
// Mailgun 503, a timeout and a dropped connection, and checks that the page tells the user the
// same thing the audit trail records: "nothing was changed" with a failed entry when Mailgun
// answered with an error, "cannot tell" with an unknown entry when it did not answer. (Create is
// covered by TestCreateUpstreamErrors: every failure of its POST is unknown.)
func TestFaultsDuringEachActionMatchTheAuditTrail(t *testing.T) {
	e := newEnv(t, envOptions{HangTimeout: 300 * time.Millisecond, Settings: handlers.Settings{ActionsPerMinute: 1000}})
	admin := e.signIn(t, "admin")
	const domain, password = "newsletter.example.org", "Original-pw-1"

	faults := []struct {
		name       string
		faults     sandbox.Faults
		wantStatus int
		failed     bool // Mailgun answered with an error: the user is told nothing changed
	}{
		{"503", sandbox.Faults{Rate: 1, Status: http.StatusServiceUnavailable}, http.StatusBadGateway, true},
		{"timeout", sandbox.Faults{Latency: time.Hour}, http.StatusGatewayTimeout, false},
		{"dropped connection", sandbox.Faults{Rate: 1, Drop: true}, http.StatusBadGateway, false},
	}
	actions := []struct {
		name, route, audit    string
		failedText, unknownTx string
		do                    func(t *testing.T, login string) *testflow.Page
		// checkURL is where the panel's "Check the list" link leads when Mailgun did not
		// answer ("" for none: a reset's outcome does not show in the list).
		checkURL func(login string) string
	}{
		{
			name: "reset", route: sandbox.RouteUpdate, audit: "credential.reset",
			failedText: "nothing was changed", unknownTx: "cannot tell whether the password changed",
			do: func(t *testing.T, login string) *testflow.Page {
				path := "/d/" + domain + "/logins/" + login + "/reset"
				return submit(t, admin, path, path, map[string]string{"mode": "generate"})
			},
		},
		{
			name: "delete", route: sandbox.RouteDelete, audit: "credential.delete",
			failedText: "nothing was changed", unknownTx: "cannot tell whether it was deleted",
			do: func(t *testing.T, login string) *testflow.Page {
				path := "/d/" + domain + "/logins/" + login + "/delete"
				return submit(t, admin, path, path, nil)
			},
			checkURL: func(login string) string {
				local, _, _ := strings.Cut(login, "@")
				return "/d/" + domain + "?q=" + local
			},
		},
		{
			name: "delete all", route: sandbox.RouteDeleteAll, audit: "credential.delete_all",
			failedText: "nothing was changed", unknownTx: "cannot tell whether the logins were deleted",
			do: func(t *testing.T, _ string) *testflow.Page {
				path := "/d/" + domain + "/delete-all"
				return submit(t, admin, path, path, map[string]string{"confirm": domain})
			},
			checkURL: func(string) string { return "/d/" + domain },
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
				text := strings.Join(strings.Fields(p.TestID("upstream-error").Text()), " ")
				wantText, wantOutcome := a.unknownTx, "unknown"
				if f.failed {
					wantText, wantOutcome = a.failedText, "failed"
				}
				if !strings.Contains(text, wantText) {
					t.Errorf("page says %.400q, want it to say %q", text, wantText)
				}
				wantCheck := ""
				if !f.failed && a.checkURL != nil {
					wantCheck = a.checkURL(login)
				}
				if got := p.TestID("upstream-error").Find("a").AttrOr("href", ""); got != wantCheck {
					t.Errorf("the panel's link leads to %q, want %q", got, wantCheck)
				}
				// Nothing reached Mailgun's store: the faults here answer before applying.
				if got := e.SB.Logins(domain); !slices.Equal(got, before) {
					t.Errorf("logins changed under the fault: %v, want %v", got, before)
				}
				if !e.SB.CheckPassword(domain, login, password) {
					t.Error("the password changed under the fault")
				}
				e.waitCalls(t, a.route, 1)
				entries := e.auditEntries(t, store.AuditFilter{Action: a.audit, Domain: domain, Limit: 1})
				if len(entries) != 1 || entries[0].Outcome != wantOutcome {
					t.Errorf("newest %s audit entry = %+v, want outcome %q (what the page said)", a.audit, entries, wantOutcome)
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
