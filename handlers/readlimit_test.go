package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// wantRefused checks the status and headers of a refusal of the export limit: 429 with
// Retry-After (seconds), and a page, not a download.
func wantRefused(t *testing.T, p *testflow.Page, retry string) {
	t.Helper()
	if p.Status != http.StatusTooManyRequests {
		t.Fatalf("%s = %d, want 429; page: %.300s", p.URL.RequestURI(), p.Status, p.Text())
	}
	if got := p.Header.Get("Retry-After"); got != retry {
		t.Errorf("%s: Retry-After = %q, want %q", p.URL.Path, got, retry)
	}
	if got := p.Header.Get("Content-Disposition"); got != "" || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
		t.Errorf("%s: the refusal is a download (%q, %q), want a page", p.URL.Path, got, p.Header.Get("Content-Type"))
	}
}

// wantSlowDown checks a refusal of the export limit (wantRefused) and its page: the words, the
// wait, and the link back (nextURL; "" for none but the way back to the domains).
func wantSlowDown(t *testing.T, p *testflow.Page, limit, retry, nextURL string) {
	t.Helper()
	wantRefused(t, p, retry)
	if got := p.TestID("error-heading").Text(); strings.TrimSpace(got) != "Slow down" {
		t.Errorf("%s: heading %q, want Slow down", p.URL.Path, got)
	}
	if got, want := p.TestID("error-message").Text(), "You have reached the limit of "+limit+" a minute."; got != want {
		t.Errorf("%s: message %q, want %q", p.URL.Path, got, want)
	}
	wait := "in " + retry + " seconds"
	if retry == "1" {
		wait = "in 1 second"
	}
	if got, want := strings.Join(strings.Fields(p.TestID("retry-after").Text()), " "), "Try again "+wait; got != want {
		t.Errorf("%s: retry hint %q, want %q", p.URL.Path, got, want)
	}
	// The page says how long to wait, and nothing else about when: not "wait a moment" too. It
	// says what was not done, in the words of what was asked: an export of the audit trail, or
	// its check, asks Mailgun nothing ("Nothing was sent to Mailgun" was beside the point).
	undone := "Nothing was exported."
	if p.URL.Path == "/audit/verify" {
		undone = "The check did not run."
	}
	if got := p.TestID("error-hint").Text(); strings.Contains(got, "moment") || strings.TrimSpace(got) != undone {
		t.Errorf("%s: hint %q, want %q, and no other wait", p.URL.Path, got, undone)
	}
	if got := p.TestID("next-link").AttrOr("href", ""); got != nextURL {
		t.Errorf("%s: next link %q, want %q", p.URL.Path, got, nextURL)
	}
	if nextURL == "" && p.TestID("back-link").AttrOr("href", "") != "/" {
		t.Errorf("%s: no way back to the domains", p.URL.Path)
	}
}

// TestExportRateLimit: the logins and audit exports share a per-user budget (Settings.
// ExportsPerMinute), apart from the actions': over it, each is 429 with Retry-After and the
// "Slow down" page, nothing is read from Mailgun, and nothing is written to the audit trail (the
// actions limit's refusals are not access denials either). A HEAD costs nothing; another user
// keeps their budget; the user's changes are not limited by their exports; and the budget comes
// back with time.
func TestExportRateLimit(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ExportsPerMinute: 2, ActionsPerMinute: 1}})
	c := e.signIn(t, "operator")

	// HEADs of every export, many times over, take nothing from the budget.
	for range 3 {
		for _, path := range []string{"/d/acme.example/export.csv", "/export.csv", "/audit/export.csv", "/audit/export.jsonl"} {
			if p := head(t, c, path); p.Status != http.StatusOK {
				t.Fatalf("HEAD %s within the budget = %d, want 200", path, p.Status)
			}
		}
	}
	// Two exports of any kind spend it.
	wantStatus(t, get(t, c, "/d/acme.example/export.csv"), http.StatusOK)
	wantStatus(t, get(t, c, "/audit/export.jsonl"), http.StatusOK)

	e.SB.ResetCalls()
	entries := len(e.auditEntries(t, store.AuditFilter{}))
	const limit = "2 exports and audit trail checks"
	wantSlowDown(t, get(t, c, "/d/acme.example/export.csv?q=bob"), limit, "30", "/d/acme.example")
	wantSlowDown(t, get(t, c, "/export.csv"), limit, "30", "")
	wantSlowDown(t, get(t, c, "/audit/export.csv?domain=acme.example"), limit, "30", "/audit?domain=acme.example")
	wantSlowDown(t, get(t, c, "/audit/export.jsonl"), limit, "30", "/audit")
	// A HEAD is answered as its GET would be, and takes nothing either.
	wantRefused(t, head(t, c, "/d/acme.example/export.csv"), "30")
	if n := len(e.callsTo(sandbox.RouteList, "")); n != 0 {
		t.Errorf("%d list calls to Mailgun over the budget, want none", n)
	}
	if got := len(e.auditEntries(t, store.AuditFilter{})); got != entries {
		t.Errorf("the refusals wrote %d audit entries, want none", got-entries)
	}
	if got := e.Denied.get("view/recorded") + e.Denied.get("view/suppressed"); got != 0 {
		t.Errorf("the refusals were counted as %d access denials, want none", got)
	}

	// Another user has a budget of their own.
	wantStatus(t, get(t, e.signIn(t, "admin"), "/d/acme.example/export.csv"), http.StatusOK)
	// The exports took none of the user's changes: their one reset goes through.
	wantStatus(t, submit(t, c, resetUser, resetUser, map[string]string{"mode": "generate"}), http.StatusOK)

	// Half a minute later, one export's worth has come back, and only one.
	e.Clock.Add(29 * time.Second)
	wantSlowDown(t, get(t, c, "/d/acme.example/export.csv"), limit, "1", "/d/acme.example")
	e.Clock.Add(time.Second)
	wantStatus(t, get(t, c, "/d/acme.example/export.csv"), http.StatusOK)
	wantSlowDown(t, get(t, c, "/audit/export.csv"), limit, "30", "/audit")
}

// TestAuditVerifyRateLimit: the audit trail's check takes from the administrator's export
// budget, as an unfiltered audit export (which reads as much) does. Over it, the check is 429
// with the "Slow down" page and a way back to the audit trail, it does not run, and it records
// neither an audit.verify entry nor an access denial.
func TestAuditVerifyRateLimit(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ExportsPerMinute: 1}})
	admin := e.signIn(t, "admin")
	wantStatus(t, submit(t, admin, "/audit", "/audit/verify", nil), http.StatusOK)
	entries := len(e.auditEntries(t, store.AuditFilter{}))

	const limit = "1 export or audit trail check"
	wantSlowDown(t, submit(t, admin, "/audit", "/audit/verify", nil), limit, "60", "/audit")
	// The check spent the one export too.
	wantSlowDown(t, get(t, admin, "/audit/export.csv"), limit, "60", "/audit")
	if got := len(e.auditEntries(t, store.AuditFilter{})); got != entries {
		t.Errorf("the refused check wrote %d audit entries, want none", got-entries)
	}
	if got := e.Denied.get("audit_verify/recorded") + e.Denied.get("audit_verify/suppressed"); got != 0 {
		t.Errorf("the refused check was counted as %d access denials, want none", got)
	}
	e.Clock.Add(time.Minute)
	wantStatus(t, submit(t, admin, "/audit", "/audit/verify", nil), http.StatusOK)
}
