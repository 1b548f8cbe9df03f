package handlers_test

import (
	"fmt"
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

// TestRetryRefusedAfterAnUnknownOutcome: a reset or delete whose first attempt got a 503 or no
// answer (after Mailgun made the change, or before) is retried by the client, and Mailgun refuses
// the retry: the key revoked meanwhile (401, 403), or a 404 that does not say the login is gone
// ("Domain not found", a proxy's "Not Found"). None of these says what the first attempt did: the
// page must say SMTP Desk cannot tell (the amber panel), then what the retry was told, then what
// to do: with the key refused, that the administrator must fix it first and only then the
// action's advice, and no link to the list, which would answer with the "key refused" page
// itself; with the domain gone ("Domain not found"), to pick a domain on the home page, and a
// link there instead of to the domain's list, which is its 404 page. The audit entry must be
// unknown, with the refusal's status, and the audit page say both. A delete answered so must not read as "already gone". Delete-all goes the same way.
func TestRetryRefusedAfterAnUnknownOutcome(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	admin := e.signIn(t, "admin")
	const domain = "newsletter.example.org"

	reset := func(t *testing.T, login string) *testflow.Page {
		path := "/d/" + domain + "/logins/" + login + "/reset"
		return submit(t, admin, path, path, map[string]string{"mode": "generate"})
	}
	del := func(t *testing.T, login string) *testflow.Page {
		path := "/d/" + domain + "/logins/" + login + "/delete"
		return submit(t, admin, path, path, nil)
	}
	delAll := func(t *testing.T, _ string) *testflow.Page {
		path := "/d/" + domain + "/delete-all"
		return submit(t, admin, path, path, map[string]string{"confirm": domain})
	}
	const listLink = "/d/" + domain + "?q="
	for i, tt := range []struct {
		name, route, audit string
		do                 func(t *testing.T, login string) *testflow.Page
		first              sandbox.Faults // the first attempt's fault
		status             int            // the retry's refusal
		message            string         // its "message" ("" = the status's text)
		applied            bool           // the first attempt made the change
		// What the panel says, in this order: its heading, the action's "cannot tell", the
		// refusal and the advice; and where its "Check the list of logins" link leads ("" for
		// none), or with home its "Pick a domain on the home page" link (the domain's list is
		// its 404 page, Mailgun having no such domain); and whether it asks to quote the
		// request id, which it then shows on a line of its own.
		heading, cannotTell, refusal, advice, check string
		home, quoted                                bool
		auditSays                                   string
	}{
		{
			name: "delete, 503 after deleting, then Domain not found", route: sandbox.RouteDelete, audit: "credential.delete", do: del,
			first: sandbox.Faults{Status: http.StatusServiceUnavailable, AfterApply: true}, status: http.StatusNotFound, message: "Domain not found", applied: true,
			heading:    "Mailgun failed: the login may be gone",
			cannotTell: "Mailgun answered with an error, so SMTP Desk cannot tell whether it was deleted.",
			refusal:    "SMTP Desk asked again, and Mailgun refused. Mailgun has no such domain.",
			advice:     "Pick a domain from the list on the home page.",
			check:      "/", home: true,
			auditSays: "404 An attempt got an error or no answer from Mailgun, so whether the change was made is unknown. Mailgun then refused the retry. Mailgun has no such domain.",
		},
		{
			name: "delete, dropped, then a proxy's 404", route: sandbox.RouteDelete, audit: "credential.delete", do: del,
			first: sandbox.Faults{Drop: true}, status: http.StatusNotFound,
			heading:    "Mailgun did not answer: the login may be gone",
			cannotTell: "Mailgun did not answer, so SMTP Desk cannot tell whether it was deleted.",
			refusal:    "SMTP Desk asked again, and Mailgun refused (HTTP 404).",
			advice:     "Check the list before trying again. If this keeps happening, tell your administrator and quote the request ID below.",
			quoted:     true,
			check:      listLink,
			auditSays:  "404 An attempt got an error or no answer from Mailgun, so whether the change was made is unknown. Mailgun then refused the retry (HTTP 404).",
		},
		{
			name: "delete, 503 after deleting, then 403", route: sandbox.RouteDelete, audit: "credential.delete", do: del,
			first: sandbox.Faults{Status: http.StatusServiceUnavailable, AfterApply: true}, status: http.StatusForbidden, applied: true,
			heading:    "SMTP Desk could not sign in to Mailgun",
			cannotTell: "Mailgun answered with an error, so SMTP Desk cannot tell whether it was deleted.",
			refusal:    "SMTP Desk asked again, and Mailgun refused its API key.",
			advice:     "Tell your administrator, who must fix the key first, and quote the request ID below. Then check the list before trying again.",
			quoted:     true,
			auditSays:  "403 An attempt got an error or no answer from Mailgun, so whether the change was made is unknown. Mailgun then refused SMTP Desk's API key.",
		},
		{
			name: "reset, dropped after changing, then 401", route: sandbox.RouteUpdate, audit: "credential.reset", do: reset,
			first: sandbox.Faults{Drop: true, AfterApply: true}, status: http.StatusUnauthorized, message: "Forbidden", applied: true,
			heading:    "SMTP Desk could not sign in to Mailgun",
			cannotTell: "Mailgun did not answer, so SMTP Desk cannot tell whether the password changed.",
			refusal:    "SMTP Desk asked again, and Mailgun refused its API key.",
			advice:     "Tell your administrator, who must fix the key first, and quote the request ID below. Then reset it again to get a password you know.",
			quoted:     true,
			auditSays:  "401 An attempt got an error or no answer from Mailgun, so whether the change was made is unknown. Mailgun then refused SMTP Desk's API key.",
		},
		// Delete-all, last: it empties the domain of the logins the cases before added.
		{
			name: "delete-all, 503 after deleting, then 401", route: sandbox.RouteDeleteAll, audit: "credential.delete_all", do: delAll,
			first: sandbox.Faults{Status: http.StatusServiceUnavailable, AfterApply: true}, status: http.StatusUnauthorized, message: "Forbidden", applied: true,
			heading:    "SMTP Desk could not sign in to Mailgun",
			cannotTell: "Mailgun answered with an error, so SMTP Desk cannot tell whether the logins were deleted.",
			refusal:    "SMTP Desk asked again, and Mailgun refused its API key.",
			advice:     "Tell your administrator, who must fix the key first, and quote the request ID below. Then check the list before trying again.",
			quoted:     true,
			auditSays:  "401 An attempt got an error or no answer from Mailgun, so whether the change was made is unknown. Mailgun then refused SMTP Desk's API key.",
		},
		{
			name: "delete-all, dropped, then Domain not found", route: sandbox.RouteDeleteAll, audit: "credential.delete_all", do: delAll,
			first: sandbox.Faults{Drop: true}, status: http.StatusNotFound, message: "Domain not found",
			heading:    "Mailgun did not answer: the logins may be gone",
			cannotTell: "Mailgun did not answer, so SMTP Desk cannot tell whether the logins were deleted.",
			refusal:    "SMTP Desk asked again, and Mailgun refused. Mailgun has no such domain.",
			advice:     "Pick a domain from the list on the home page.",
			check:      "/", home: true,
			auditSays: "404 An attempt got an error or no answer from Mailgun, so whether the change was made is unknown. Mailgun then refused the retry. Mailgun has no such domain.",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const password = "Original-pw-1"
			login := fmt.Sprintf("retried%d@%s", i, domain)
			if err := e.SB.AddCredential(domain, login, password, time.Now()); err != nil {
				t.Fatal(err)
			}
			e.SB.ResetCalls()
			first := tt.first
			first.Routes, first.Rate = []string{tt.route}, 1
			// The retry meets the refusal; then the faults are off.
			first.Then = &sandbox.Faults{Routes: []string{tt.route}, Rate: 1, Status: tt.status, Message: tt.message, Then: &sandbox.Faults{}}
			e.SB.SetFaults(first)
			p := tt.do(t, login)
			e.SB.SetFaults(sandbox.Faults{})

			wantStatus(t, p, http.StatusBadGateway)
			if calls := e.callsTo(tt.route, domain); len(calls) != 2 || calls[1].Status != tt.status {
				t.Fatalf("%s calls = %+v, want the first attempt and a retry answered %d", tt.route, calls, tt.status)
			}
			changed := !slices.Contains(e.SB.Logins(domain), login)
			if tt.route == sandbox.RouteUpdate {
				changed = !e.SB.CheckPassword(domain, login, password)
			}
			if changed != tt.applied {
				t.Fatalf("the first attempt changed Mailgun's store: %v, want %v", changed, tt.applied)
			}

			panel := p.TestID("upstream-error")
			if !strings.Contains(panel.AttrOr("class", ""), "bg-amber-50") {
				t.Errorf("the panel is not the amber \"outcome unknown\" one: class %q", panel.AttrOr("class", ""))
			}
			heading := strings.TrimSpace(panel.Find("p.font-semibold").Text())
			text := strings.Join(strings.Fields(panel.Find("p.mt-1").Text()), " ")
			want := tt.cannotTell + " " + tt.refusal + " " + tt.advice
			if got := panel.Find(`[data-testid="upstream-request-id"]`); tt.quoted != (got.Length() == 1) || tt.quoted && got.Text() != p.Header.Get("X-Request-ID") {
				t.Errorf("the panel's request id line: %d, %q; want it (%q) only when the panel asks to quote it (%v)", got.Length(), got.Text(), p.Header.Get("X-Request-ID"), tt.quoted)
			}
			if heading != tt.heading || text != want {
				t.Errorf("the panel says %q: %q\nwant %q: %q", heading, text, tt.heading, want)
			}
			link := panel.Find("a")
			if href := link.AttrOr("href", ""); tt.check == "" && link.Length() != 0 {
				t.Errorf("the panel links to %q (%q), want no link: the list answers with the key refused", href, link.Text())
			} else if tt.home && (link.Length() != 1 || href != "/" || strings.TrimSpace(link.Text()) != "Pick a domain on the home page") {
				t.Errorf("the panel's links: %d, %q to %q; want one, \"Pick a domain on the home page\" to /", link.Length(), link.Text(), href)
			} else if tt.check != "" && !tt.home && (link.Length() != 1 || !strings.HasPrefix(href, tt.check) || strings.TrimSpace(link.Text()) != "Check the list of logins") {
				t.Errorf("the panel's links: %d, %q to %q; want one, \"Check the list of logins\" to %s…", link.Length(), link.Text(), href, tt.check)
			}
			all := strings.Join(strings.Fields(p.Text()), " ")
			for _, wrong := range []string{"nothing was changed", "already gone", "Deleted ", "Login not found"} {
				if strings.Contains(strings.ToLower(all), strings.ToLower(wrong)) {
					t.Errorf("the page says %q: %.600q", wrong, all)
				}
			}

			entries := e.auditEntries(t, store.AuditFilter{Action: tt.audit, Login: login, Limit: 1})
			if len(entries) != 1 || entries[0].Outcome != "unknown" || entries[0].UpstreamStatus != tt.status {
				t.Fatalf("audit entry = %+v, want outcome unknown with status %d", entries, tt.status)
			}
			row := get(t, admin, "/audit?action="+tt.audit+"&login="+login).TestID("audit-row")
			if got := row.Find(`[data-testid="audit-outcome"]`).AttrOr("data-outcome", ""); row.Length() != 1 || got != "unknown" {
				t.Errorf("audit page: %d rows, outcome %q; want one, unknown", row.Length(), got)
			}
			if got := strings.Join(strings.Fields(row.Find(`[data-testid="audit-upstream"]`).Text()), " "); got != tt.auditSays {
				t.Errorf("the audit page says %q, want %q", got, tt.auditSays)
			}
		})
	}
}

// TestDeleteAllKeyStillRefused: delete-all's first attempt deletes the logins and answers 503,
// and from then on Mailgun refuses SMTP Desk's key (revoked meanwhile): the retry gets a 401, and
// so does the list the page reads again to draw itself. The error page must still say what the
// panel would: SMTP Desk cannot tell whether the logins were deleted, Mailgun refused the key on
// the retry, and the administrator must fix the key before the list can be checked; not only
// that the key was refused, which reads as "nothing was changed". The audit entry is unknown.
func TestDeleteAllKeyStillRefused(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	admin := e.signIn(t, "admin")
	const domain = "newsletter.example.org"
	path := "/d/" + domain + "/delete-all"
	e.SB.ResetCalls()
	// The 401 has no Then: every call after the first attempt, on any route, meets it.
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDeleteAll}, Rate: 1, Status: http.StatusServiceUnavailable, AfterApply: true,
		Then: &sandbox.Faults{Rate: 1, Status: http.StatusUnauthorized, Message: "Forbidden"}})
	p := submit(t, admin, path, path, map[string]string{"confirm": domain})
	e.SB.SetFaults(sandbox.Faults{})

	wantStatus(t, p, http.StatusBadGateway)
	if calls := e.callsTo(sandbox.RouteDeleteAll, domain); len(calls) != 2 || calls[1].Status != http.StatusUnauthorized {
		t.Fatalf("delete_all calls = %+v, want the first attempt and a retry answered 401", calls)
	}
	if got := e.SB.Logins(domain); !slices.Equal(got, []string{"postmaster@" + domain}) {
		t.Fatalf("the first attempt left %v, want only the system login", got)
	}
	text := func(id string) string { return strings.Join(strings.Fields(p.TestID(id).Text()), " ") }
	for _, c := range []struct{ id, want string }{
		{"error-heading", "SMTP Desk could not sign in to Mailgun"},
		{"error-message", "Mailgun answered with an error, so SMTP Desk cannot tell whether the logins were deleted. SMTP Desk asked again, and Mailgun refused its API key."},
		{"error-hint", "Tell your administrator, who must fix the key first, and quote the request ID below. Then check the list before trying again."},
	} {
		if got := text(c.id); got != c.want {
			t.Errorf("%s = %q, want %q", c.id, got, c.want)
		}
	}
	if p.Find(`a:contains("Try again")`).Length() != 0 {
		t.Error("the error page offers \"Try again\"")
	}
	entries := e.auditEntries(t, store.AuditFilter{Action: "credential.delete_all", Limit: 1})
	if len(entries) != 1 || entries[0].Outcome != "unknown" || entries[0].UpstreamStatus != http.StatusUnauthorized {
		t.Fatalf("audit entry = %+v, want outcome unknown with status 401", entries)
	}
}

// TestDeleteAllListStillFailing: delete-all's first attempt deletes the logins and then fails
// (a 503, or the connection dropped), and Mailgun goes on failing: the retries of the delete, and
// the list the page reads again to draw itself. The error page must say what the panel would:
// SMTP Desk cannot tell whether the logins were deleted, and to check the list once Mailgun
// answers, with the delete's status; not only that the list could not be read ("Mailgun is
// unavailable, try again"), which hides that every login may be gone. The audit entry is unknown.
func TestDeleteAllListStillFailing(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	admin := e.signIn(t, "admin")
	const domain = "newsletter.example.org"
	path := "/d/" + domain + "/delete-all"
	for i, tt := range []struct {
		name             string
		fault            sandbox.Faults // the first attempt's, and every call's after it
		heading, message string
	}{
		{"503", sandbox.Faults{Status: http.StatusServiceUnavailable},
			"Mailgun failed: the logins may be gone", "Mailgun answered with an error, so SMTP Desk cannot tell whether the logins were deleted."},
		{"dropped", sandbox.Faults{Drop: true},
			"Mailgun did not answer: the logins may be gone", "Mailgun did not answer, so SMTP Desk cannot tell whether the logins were deleted."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			login := fmt.Sprintf("doomed%d@%s", i, domain)
			if err := e.SB.AddCredential(domain, login, "Original-pw-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			e.SB.ResetCalls()
			// The Then has no routes and no Then: every call after the first attempt fails so.
			first, then := tt.fault, tt.fault
			first.Routes, first.Rate, first.AfterApply, first.Then = []string{sandbox.RouteDeleteAll}, 1, true, &then
			then.Rate = 1
			e.SB.SetFaults(first)
			p := submit(t, admin, path, path, map[string]string{"confirm": domain})
			e.SB.SetFaults(sandbox.Faults{})

			wantStatus(t, p, http.StatusBadGateway)
			if calls := e.callsTo(sandbox.RouteDeleteAll, domain); len(calls) < 2 {
				t.Fatalf("delete_all calls = %+v, want the first attempt and its retries", calls)
			}
			if calls := e.callsTo(sandbox.RouteList, domain); len(calls) == 0 {
				t.Fatal("the list was not read again after the delete failed")
			}
			if got := e.SB.Logins(domain); slices.Contains(got, login) {
				t.Fatalf("the first attempt left %v, want %s deleted", got, login)
			}
			text := func(id string) string { return strings.Join(strings.Fields(p.TestID(id).Text()), " ") }
			for _, c := range []struct{ id, want string }{
				{"error-heading", tt.heading},
				{"error-message", tt.message},
				{"error-hint", "Check the list once Mailgun answers, before trying again. If this keeps happening, tell your administrator and quote the request ID below."},
			} {
				if got := text(c.id); got != c.want {
					t.Errorf("%s = %q, want %q", c.id, got, c.want)
				}
			}
			if p.Find(`a:contains("Try again")`).Length() != 0 {
				t.Error("the error page offers \"Try again\"")
			}
			entries := e.auditEntries(t, store.AuditFilter{Action: "credential.delete_all", Login: login, Limit: 1})
			if len(entries) != 1 || entries[0].Outcome != "unknown" {
				t.Fatalf("audit entry = %+v, want outcome unknown", entries)
			}
		})
	}
}
