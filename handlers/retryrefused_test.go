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
// page must say SMTP Desk cannot tell (the amber panel), and also what the retry was told (the
// key refused: the administrator's to fix); the audit entry must be unknown, with the refusal's
// status, and the audit page say both. A delete answered so must not read as "already gone".
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
	for i, tt := range []struct {
		name, route, audit string
		do                 func(t *testing.T, login string) *testflow.Page
		first              sandbox.Faults // the first attempt's fault
		status             int            // the retry's refusal
		message            string         // its "message" ("" = the status's text)
		applied            bool           // the first attempt made the change
		// What the panel says: its heading, the action's "cannot tell" text and the refusal.
		heading, cannotTell, refusal string
		auditSays                    string
	}{
		{
			name: "delete, 503 after deleting, then Domain not found", route: sandbox.RouteDelete, audit: "credential.delete", do: del,
			first: sandbox.Faults{Status: http.StatusServiceUnavailable, AfterApply: true}, status: http.StatusNotFound, message: "Domain not found", applied: true,
			heading:    "Mailgun failed",
			cannotTell: "Mailgun answered with an error, so SMTP Desk cannot tell whether it was deleted. Check the list before trying again.",
			refusal:    "SMTP Desk asked again, and Mailgun refused. Mailgun has no such domain.",
			auditSays:  "404 An attempt got an error or no answer from Mailgun, so whether the change was made is unknown. Mailgun then refused the retry. Mailgun has no such domain.",
		},
		{
			name: "delete, dropped, then a proxy's 404", route: sandbox.RouteDelete, audit: "credential.delete", do: del,
			first: sandbox.Faults{Drop: true}, status: http.StatusNotFound,
			heading:    "Mailgun did not answer",
			cannotTell: "Mailgun did not answer, so SMTP Desk cannot tell whether it was deleted. Check the list before trying again.",
			refusal:    "SMTP Desk asked again, and Mailgun refused (HTTP 404). If this keeps happening, tell your administrator and quote request id",
			auditSays:  "404 An attempt got an error or no answer from Mailgun, so whether the change was made is unknown. Mailgun then refused the retry (HTTP 404).",
		},
		{
			name: "delete, 503 after deleting, then 403", route: sandbox.RouteDelete, audit: "credential.delete", do: del,
			first: sandbox.Faults{Status: http.StatusServiceUnavailable, AfterApply: true}, status: http.StatusForbidden, applied: true,
			heading:    "SMTP Desk could not sign in to Mailgun",
			cannotTell: "Mailgun answered with an error, so SMTP Desk cannot tell whether it was deleted. Check the list before trying again.",
			refusal:    "SMTP Desk asked again, and Mailgun refused its API key: tell your administrator.",
			auditSays:  "403 An attempt got an error or no answer from Mailgun, so whether the change was made is unknown. Mailgun then refused SMTP Desk's API key.",
		},
		{
			name: "reset, dropped after changing, then 401", route: sandbox.RouteUpdate, audit: "credential.reset", do: reset,
			first: sandbox.Faults{Drop: true, AfterApply: true}, status: http.StatusUnauthorized, message: "Forbidden", applied: true,
			heading:    "SMTP Desk could not sign in to Mailgun",
			cannotTell: "Mailgun did not answer, so SMTP Desk cannot tell whether the password changed. Reset it again to get a password you know.",
			refusal:    "SMTP Desk asked again, and Mailgun refused its API key: tell your administrator.",
			auditSays:  "401 An attempt got an error or no answer from Mailgun, so whether the change was made is unknown. Mailgun then refused SMTP Desk's API key.",
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
			text := strings.Join(strings.Fields(panel.Text()), " ")
			if heading != tt.heading || !strings.Contains(text, tt.cannotTell) || !strings.Contains(text, tt.refusal) {
				t.Errorf("the panel says %.600q\nwant heading %q, %q and %q", text, tt.heading, tt.cannotTell, tt.refusal)
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
