package security_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestSecurity24ExportRateLimit: a script holding a user's session cookie could spend the
// company's Mailgun quota through the logins exports (each one reads every login of a domain, or
// of every domain, page by page) and keep the database busy with the audit exports and the
// trail's check. These heavy reads have a per-user budget of their own (RATE_LIMIT_EXPORTS): once
// it is spent, each of them is 429 with Retry-After and the wait in the page, and no list call
// reaches Mailgun. Another user still exports; the refusals are counted in the metrics as their
// routes' 429s, not as access denials.
func TestSecurity24ExportRateLimit(t *testing.T) {
	t.Parallel()
	// One a minute: the refusals below come well within the minute however slow the machine.
	e := newEnv(t, options{ExportsPerMinute: 1})
	admin := e.signIn("admin")
	if p := get(t, admin, "/export.csv"); p.Status != http.StatusOK {
		t.Fatalf("GET /export.csv within the budget = %d, want 200", p.Status)
	}
	tok := csrf(t, admin)
	same := http.Header{"Sec-Fetch-Site": {"same-origin"}}
	e.Sandbox.ResetCalls()
	for _, tc := range []struct {
		method, path string
		form         url.Values
	}{
		{http.MethodGet, "/export.csv", nil},
		{http.MethodGet, "/d/example.com/export.csv", nil},
		{http.MethodGet, "/audit/export.csv", nil},
		{http.MethodGet, "/audit/export.jsonl", nil},
		{http.MethodPost, "/audit/verify", url.Values{"_csrf": {tok}}},
	} {
		resp, body := raw(t, admin, tc.method, tc.path, tc.form, same)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("%s %s over the budget = %d, want 429", tc.method, tc.path, resp.StatusCode)
			continue
		}
		if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("%s: Retry-After = %q, want seconds", tc.path, ra)
		}
		if !strings.Contains(body, "You have reached the limit of 1 export or audit trail check a minute.") || !strings.Contains(body, "seconds") {
			t.Errorf("%s: the 429 page does not say what happened and how long to wait: %.300s", tc.path, body)
		}
	}
	if calls := e.Sandbox.Calls(); len(calls) != 0 {
		t.Errorf("the refused exports reached Mailgun: %+v", calls)
	}
	// The budget is per user.
	if p := get(t, e.signIn("operator"), "/d/acme.example/export.csv"); p.Status != http.StatusOK {
		t.Errorf("another user's export = %d, want 200", p.Status)
	}

	rec := httptest.NewRecorder()
	e.App.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	metrics := rec.Body.String()
	for _, want := range []string{
		`smtpdesk_http_requests_total{method="GET",route="/export.csv",status="200"} 1`,
		`smtpdesk_http_requests_total{method="GET",route="/export.csv",status="429"} 1`,
		`smtpdesk_http_requests_total{method="GET",route="/d/:domain/export.csv",status="429"} 1`,
		`smtpdesk_http_requests_total{method="POST",route="/audit/verify",status="429"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(metrics, "smtpdesk_access_denied_total{") {
		t.Error("the refusals were counted as access denials")
	}
}
