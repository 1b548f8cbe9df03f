package handlers_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/internal/testpg"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// deniedOf returns the access.denied entries of the actor with email, on domain, newest first.
func (e *env) deniedOf(t *testing.T, email, domain string) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	for _, a := range e.auditEntries(t, store.AuditFilter{Action: "access.denied"}) {
		if a.ActorEmail == email && a.Domain == domain {
			out = append(out, a)
		}
	}
	return out
}

// details lists the entries' details, for a failure message.
func details(entries []store.AuditEntry) []string {
	out := make([]string, len(entries))
	for i, a := range entries {
		out[i] = a.Detail
	}
	return out
}

// TestDeniedAuditBounded: a burst of refusals of one kind writes one access.denied entry, every
// request still gets its 403, and the entry written once the window has passed says how many
// refusals were not recorded. Another domain, action or user gets its own first entry.
func TestDeniedAuditBounded(t *testing.T) {
	e := newEnv(t, envOptions{})
	const rita, sam = "rita@smtpdesk.example", "sam@example.com"
	reviewer := e.signIn(t, "reviewer") // viewer of example.com and newsletter.example.org only
	burstAt := e.Clock.Now()

	const burst = 25 // more than DenialsPerMinute's default: one key spends one entry of it
	for i := range burst {
		if p := get(t, reviewer, "/d/acme.example"); p.Status != http.StatusForbidden {
			t.Fatalf("refusal %d: status %d, want 403", i+1, p.Status)
		}
	}
	got := e.deniedOf(t, rita, "acme.example")
	if len(got) != 1 || got[0].Detail != "view" || got[0].Outcome != "denied" {
		t.Fatalf("after %d refused views: entries %q, want one, \"view\"", burst, details(got))
	}
	if n, want := strings.Count(e.Logs.String(), `"msg":"access denied"`), burst; n != want {
		t.Errorf("%d \"access denied\" log lines, want one per refusal (%d)", n, want)
	}
	if rec, sup := e.Denied.get("view/recorded"), e.Denied.get("view/suppressed"); rec != 1 || sup != burst-1 {
		t.Errorf("OnDenied counted %d recorded and %d suppressed, want 1 and %d: every refusal counted", rec, sup, burst-1)
	}

	// Each of these is a first refusal of its kind: another action on the same domain, another
	// domain, another user.
	wantStatus(t, get(t, reviewer, "/d/acme.example/new"), http.StatusForbidden)
	wantStatus(t, get(t, reviewer, "/d/empty.example"), http.StatusForbidden)
	selfie := e.signIn(t, "selfie") // viewer of example.com
	wantStatus(t, get(t, selfie, "/d/acme.example"), http.StatusForbidden)
	if got := details(e.deniedOf(t, rita, "acme.example")); len(got) != 2 || got[0] != "create" {
		t.Errorf("reviewer's entries on acme.example = %q, want a first \"create\" after the \"view\"", got)
	}
	if got := details(e.deniedOf(t, rita, "empty.example")); len(got) != 1 || got[0] != "view" {
		t.Errorf("reviewer's entries on empty.example = %q, want one \"view\"", got)
	}
	if got := details(e.deniedOf(t, sam, "acme.example")); len(got) != 1 || got[0] != "view" {
		t.Errorf("another user's entries on acme.example = %q, want their own \"view\"", got)
	}

	// The refused integrity check is bounded the same way.
	for range 3 {
		wantStatus(t, submit(t, reviewer, "/audit", "/audit/verify", nil), http.StatusForbidden)
	}
	if got := details(e.deniedOf(t, rita, "")); len(got) != 1 || got[0] != "audit verify" {
		t.Errorf("entries of three refused checks = %q, want one \"audit verify\"", got)
	}
	if n := e.Denied.get("audit_verify/suppressed"); n != 2 {
		t.Errorf("OnDenied counted %d suppressed checks, want 2", n)
	}

	// A window later the next refusal is recorded, with the count of those in between.
	e.Clock.Add(time.Minute)
	wantStatus(t, get(t, reviewer, "/d/acme.example"), http.StatusForbidden)
	wantStatus(t, get(t, reviewer, "/d/acme.example"), http.StatusForbidden)
	got = e.deniedOf(t, rita, "acme.example")
	want := fmt.Sprintf("view; %d more refusals like it since %s, not recorded one by one", burst-1, burstAt.UTC().Format(time.RFC3339))
	if len(got) != 3 || got[0].Detail != want {
		t.Fatalf("entries after the window = %q, want a third: %q", details(got), want)
	}
	// The audit page says it in words.
	admin := e.signIn(t, "admin")
	p := get(t, admin, "/audit?action=access.denied&domain=acme.example")
	if text := p.Text(); !strings.Contains(text, fmt.Sprintf("Tried to view the logins; %d more refusals like it", burst-1)) {
		t.Errorf("the audit page does not show the count: %.800s", text)
	}
}

// TestDeniedAuditWriteFails: when the entry cannot be written the user still gets the 403, and
// the log keeps how many refusals the lost entry stood for.
func TestDeniedAuditWriteFails(t *testing.T) {
	e := newEnv(t, envOptions{})
	reviewer := e.signIn(t, "reviewer")
	e.Auditor.failEvent.Store(true)
	wantStatus(t, get(t, reviewer, "/d/acme.example"), http.StatusForbidden)
	if n := e.Denied.get("view/failed"); n != 1 {
		t.Errorf("OnDenied counted %d failed writes, want 1", n)
	}
	if logs := e.Logs.String(); !strings.Contains(logs, `"msg":"audit access.denied"`) || !strings.Contains(logs, `"refusals":1`) {
		t.Errorf("no error line with the refusals the entry stood for:\n%s", logs)
	}
}

// TestDeniedAuditDistinctDomains: domain names in the URL are the user's to choose. Each gets a
// first entry only within the user's budget of entries a minute, and the limiter remembers at
// most DenialKeys of them, however many are asked for.
func TestDeniedAuditDistinctDomains(t *testing.T) {
	const rita = "rita@smtpdesk.example"
	t.Run("budget per user", func(t *testing.T) {
		e := newEnv(t, envOptions{Settings: handlers.Settings{DenialsPerMinute: 3}})
		reviewer := e.signIn(t, "reviewer")
		start := e.Clock.Now()
		const n = 10
		for i := range n {
			wantStatus(t, get(t, reviewer, fmt.Sprintf("/d/d%d.example", i)), http.StatusForbidden)
		}
		if got := e.auditEntries(t, store.AuditFilter{Action: "access.denied"}); len(got) != 3 {
			t.Errorf("%d refused domains wrote %d entries %q, want the budget's 3", n, len(got), details(got))
		}
		if rec, sup := e.Denied.get("view/recorded"), e.Denied.get("view/suppressed"); rec != 3 || sup != n-3 {
			t.Errorf("OnDenied counted %d recorded, %d suppressed; want 3 and %d", rec, sup, n-3)
		}
		// Once the budget has refilled, a domain whose first refusal was held back is recorded
		// with it.
		e.Clock.Add(time.Minute)
		wantStatus(t, get(t, reviewer, "/d/d9.example"), http.StatusForbidden)
		want := "view; 1 more refusal like it since " + start.UTC().Format(time.RFC3339) + ", not recorded one by one"
		if got := details(e.deniedOf(t, rita, "d9.example")); len(got) != 1 || got[0] != want {
			t.Errorf("d9.example's entries = %q, want %q", got, want)
		}
	})

	t.Run("keys bounded", func(t *testing.T) {
		const keys, n = 16, 200
		e := newEnv(t, envOptions{Settings: handlers.Settings{DenialKeys: keys, DenialsPerMinute: 1000}})
		reviewer := e.signIn(t, "reviewer")
		for i := range n {
			wantStatus(t, get(t, reviewer, fmt.Sprintf("/d/d%03d.example", i)), http.StatusForbidden)
		}
		if got := e.auditEntries(t, store.AuditFilter{Action: "access.denied"}); len(got) != n {
			t.Fatalf("%d refused domains wrote %d entries, want one each", n, len(got))
		}
		// Asked again within the window, newest first: a domain the limiter still remembers is
		// held back, one it dropped gets a first entry again. Only the last `keys` are
		// remembered.
		for i := n - 1; i >= 0; i-- {
			wantStatus(t, get(t, reviewer, fmt.Sprintf("/d/d%03d.example", i)), http.StatusForbidden)
		}
		if got := e.Denied.get("view/suppressed"); got != keys {
			t.Errorf("%d of %d domains remembered, want the bound, %d", got, n, keys)
		}
		if got := details(e.deniedOf(t, rita, fmt.Sprintf("d%03d.example", n-1))); len(got) != 1 {
			t.Errorf("the newest domain's entries = %q, want one: it is remembered", got)
		}
		if got := details(e.deniedOf(t, rita, "d000.example")); len(got) != 2 {
			t.Errorf("the oldest domain's entries = %q, want two: it was dropped", got)
		}
	})
}

// TestDeniedInLoginHistory: a refused reset or delete of a login is in that login's history (the
// audit page filtered by the login, as its row's History link opens it), where a reviewer looks
// for who tried to take it over. The entry named the login only in its detail, so the history
// left the attempt out.
func TestDeniedInLoginHistory(t *testing.T) {
	e := newEnv(t, envOptions{})
	// The operator of acme.example may reset but not delete; the reviewer may do neither there.
	wantStatus(t, get(t, e.signIn(t, "operator"), "/d/acme.example/logins/bob@acme.example/delete"), http.StatusForbidden)
	wantStatus(t, get(t, e.signIn(t, "reviewer"), "/d/acme.example/logins/Bob/reset"), http.StatusForbidden)

	admin := e.signIn(t, "admin")
	p := get(t, admin, "/audit?domain=acme.example&login=bob%40acme.example")
	wantStatus(t, p, http.StatusOK)
	var got []string
	p.TestID("audit-row").Each(func(_ int, s *goquery.Selection) {
		got = append(got, strings.TrimSpace(s.Find(`[data-testid="audit-actor"]`).Text())+": "+
			strings.TrimSpace(s.Find(`[data-testid="audit-detail"]`).Text())+" ["+
			strings.TrimSpace(s.Find(`[data-testid="audit-logins"]`).Text())+"]")
	})
	want := []string{
		"Rita Reviewer: Tried to reset the password of Bob@acme.example [Bob@acme.example]", // as the address wrote it
		"Omar Operator: Tried to delete bob@acme.example [bob@acme.example]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("bob@acme.example's history: %q, want %q", got, want)
	}
	// A refusal that names no login names none in the entry either.
	wantStatus(t, get(t, e.signIn(t, "reviewer"), "/d/acme.example/new"), http.StatusForbidden)
	for _, a := range e.auditEntries(t, store.AuditFilter{Action: "access.denied"}) {
		if a.Detail == "create" && len(a.Logins) != 0 {
			t.Errorf("the refused create names logins %q", a.Logins)
		}
	}
}

// domainChoices returns the audit page's domain filter choices.
func domainChoices(p *testflow.Page) []string {
	var out []string
	p.Find(`[data-testid="filter-domain"] option`).Each(func(_ int, s *goquery.Selection) {
		if v := s.AttrOr("value", ""); v != "" {
			out = append(out, v)
		}
	})
	return out
}

// TestDeniedMadeUpDomainsNotListed: any signed-in user can ask for /d/<any name>, and each
// refusal is recorded naming it. The audit page read every name the trail held on each view, to
// offer them in the domain filter and scope the view: a user's made-up names (up to 28,800 a day
// within the denial budget) made it slower for everyone until it ran out of the store's deadline.
// The refusals are still recorded and found, by the name asked for too, but no longer offered;
// and a refusal on a real domain that has no other entry is still in that domain's trail for
// the users who may view it.
func TestDeniedMadeUpDomainsNotListed(t *testing.T) {
	run := func(t *testing.T, dsn string) {
		e := newEnv(t, envOptions{DatabaseURL: dsn})
		reviewer := e.signIn(t, "reviewer") // viewer of example.com and newsletter.example.org only
		const madeUp = 5
		for i := range madeUp {
			wantStatus(t, get(t, reviewer, fmt.Sprintf("/d/made-up-%d.example", i)), http.StatusForbidden)
		}
		// acme.example is real (Mailgun has it, the policy names it) and has no entry but this.
		wantStatus(t, get(t, reviewer, "/d/acme.example/new"), http.StatusForbidden)
		if got := e.auditEntries(t, store.AuditFilter{Action: "access.denied"}); len(got) != madeUp+1 {
			t.Fatalf("%d refusals wrote %d entries %q, want one each", madeUp+1, len(got), details(got))
		}

		admin, auditor := e.signIn(t, "admin"), e.signIn(t, "auditor")
		for who, c := range map[string]*testflow.Client{"admin": admin, "auditor (viewer of *)": auditor} {
			p := get(t, c, "/audit")
			wantStatus(t, p, http.StatusOK)
			for _, d := range domainChoices(p) {
				if strings.HasPrefix(d, "made-up-") {
					t.Errorf("%s: the domain filter offers %q, a name only a refused URL gave", who, d)
				}
			}
			// Still found, by the name asked for.
			p = get(t, c, "/audit?domain=made-up-3.example")
			wantStatus(t, p, http.StatusOK)
			if got := auditDomains(p); !slices.Equal(got, []string{"made-up-3.example"}) {
				t.Errorf("%s: entries of made-up-3.example: %q, want its refusal", who, got)
			}
		}
		p := get(t, admin, "/audit?action=access.denied")
		if got := p.TestID("audit-row").Length(); got != madeUp+1 {
			t.Errorf("admin: %d refusals listed, want %d", got, madeUp+1)
		}

		// The operator of acme.example sees the refusal on it, the only entry of the domain.
		p = get(t, e.signIn(t, "operator"), "/audit")
		wantStatus(t, p, http.StatusOK)
		if got := auditDomains(p); !slices.Equal(got, []string{"acme.example"}) {
			t.Errorf("operator of acme.example sees entries of %q, want the refusal on acme.example", got)
		}
		if got := p.TestID("audit-detail").Text(); !strings.Contains(got, "Tried to") {
			t.Errorf("operator's row detail = %q, want the refused action", got)
		}
		if got := domainChoices(p); !slices.Equal(got, []string{"acme.example"}) {
			t.Errorf("operator's domain filter offers %q, want [acme.example]", got)
		}

		// With Mailgun down (nothing from its domain list), an administrator is still offered
		// acme.example, which only a refusal names: the policy names it.
		e.SB.SetFaults(sandbox.Faults{Rate: 1, Status: http.StatusServiceUnavailable})
		defer e.SB.SetFaults(sandbox.Faults{})
		e.Clock.Add(2 * time.Minute) // past the domain list's cache
		p = get(t, admin, "/audit")
		wantStatus(t, p, http.StatusOK)
		if got, want := domainChoices(p), []string{"acme.example", "example.com", "newsletter.example.org"}; !slices.Equal(got, want) {
			t.Errorf("admin's domain filter with Mailgun down offers %q, want the policy's domains %q", got, want)
		}
	}
	t.Run("sqlite", func(t *testing.T) { run(t, "") })
	t.Run("postgres", func(t *testing.T) { run(t, testpg.Schema(t)) })
}
