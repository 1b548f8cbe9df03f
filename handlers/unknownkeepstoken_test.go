package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// TestUnknownOutcomeAfterARefusedRetryKeepsTheFormSpent: a reset or delete-all whose first
// attempt Mailgun applied and then failed (503, or no answer), and whose retry Mailgun refused
// (the key revoked meanwhile: 401), has an unknown outcome (upRetryRefused). The form's one-time
// token stays spent, as after any unknown outcome: the same form sent again (a reload, the back
// button) is "already sent" (409) and sends nothing to Mailgun. Counting that refusal among the
// answers that changed nothing (changedNothing) released the token, and the form sent again
// reset the password once more, or deleted every login again, those made in between included.
func TestUnknownOutcomeAfterARefusedRetryKeepsTheFormSpent(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	admin := e.signIn(t, "admin")
	ctx := context.Background()
	const domain = "newsletter.example.org"
	formOf := func(t *testing.T, path string) url.Values {
		t.Helper()
		p := get(t, admin, path)
		wantStatus(t, p, http.StatusOK)
		tok := p.Find(`input[name="_form"]`).AttrOr("value", "")
		if tok == "" {
			t.Fatalf("%s has no form token", path)
		}
		return url.Values{"_csrf": {p.CSRF()}, "_form": {tok}}
	}
	for _, tt := range []struct {
		name, route, path string
		first             sandbox.Faults
		fields            url.Values
	}{
		{
			name: "reset", route: sandbox.RouteUpdate, path: "/d/" + domain + "/logins/kept@" + domain + "/reset",
			first:  sandbox.Faults{Drop: true, AfterApply: true},
			fields: url.Values{"mode": {"generate"}},
		},
		{
			name: "delete-all", route: sandbox.RouteDeleteAll, path: "/d/" + domain + "/delete-all",
			first:  sandbox.Faults{Status: http.StatusServiceUnavailable, AfterApply: true},
			fields: url.Values{"confirm": {domain}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.SB.AddCredential(domain, "kept@"+domain, "Original-pw-1", time.Now()); err != nil && !strings.Contains(err.Error(), "exist") {
				t.Fatal(err)
			}
			v := formOf(t, tt.path)
			for k, vs := range tt.fields {
				v[k] = vs
			}
			first := tt.first
			first.Routes, first.Rate = []string{tt.route}, 1
			first.Then = &sandbox.Faults{Routes: []string{tt.route}, Rate: 1, Status: http.StatusUnauthorized, Message: "Forbidden", Then: &sandbox.Faults{}}
			e.SB.ResetCalls()
			e.SB.SetFaults(first)
			p, err := admin.Post(ctx, tt.path, v)
			e.SB.SetFaults(sandbox.Faults{})
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, p, http.StatusBadGateway)
			if calls := e.callsTo(tt.route, domain); len(calls) != 2 || calls[1].Status != http.StatusUnauthorized {
				t.Fatalf("%s calls = %+v, want the first attempt and a retry refused 401", tt.route, calls)
			}

			// The same form again, Mailgun well now: nothing is sent.
			if err := e.SB.AddCredential(domain, "madesince@"+domain, "Original-pw-2", time.Now()); err != nil && !strings.Contains(err.Error(), "exist") {
				t.Fatal(err)
			}
			e.SB.ResetCalls()
			again, err := admin.Post(ctx, tt.path, v)
			if err != nil {
				t.Fatal(err)
			}
			if again.Status != http.StatusConflict || !strings.Contains(again.Text(), "already sent") {
				t.Errorf("the same form sent again after an unknown outcome = %d, want 409 \"already sent\"; page: %.300s", again.Status, again.Text())
			}
			if calls := e.callsTo(tt.route, domain); len(calls) != 0 {
				t.Errorf("the form sent again reached Mailgun: %+v", calls)
			}
		})
	}
}
