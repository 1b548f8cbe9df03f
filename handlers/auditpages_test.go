package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// seedAudit writes finished entries straight into the audit store (test data, not a way
// around the pages).
func seedAudit(t *testing.T, e *env, n int, domain, action, login string) {
	t.Helper()
	for i := range n {
		_, err := e.DB.AppendAudit(context.Background(), store.AuditEntry{
			Time: time.Now().UTC(), ActorIssuer: "https://idp.test", ActorSubject: fmt.Sprintf("s%d", i),
			ActorEmail: "seed@test.example", ActorName: "Seed", Action: action, Domain: domain,
			Logins: []string{login}, Outcome: "ok", RequestID: fmt.Sprintf("r%d", i),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func auditDomains(p *testflow.Page) []string {
	var out []string
	p.TestID("audit-row").Each(func(_ int, s *goquery.Selection) {
		out = append(out, strings.TrimSpace(s.Find(`[data-testid="audit-domain"]`).Text()))
	})
	return out
}

func TestAuditPageVisibilityAndFilters(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	seedAudit(t, e, 3, "acme.example", "credential.create", "a@acme.example")
	seedAudit(t, e, 2, "example.com", "credential.reset", "user001@example.com")
	seedAudit(t, e, 1, "newsletter.example.org", "credential.delete", "news@newsletter.example.org")

	t.Run("a reviewer sees only the domains they can view", func(t *testing.T) {
		c := e.signIn(t, "reviewer")
		p := get(t, c, "/audit")
		wantStatus(t, p, http.StatusOK)
		got := auditDomains(p)
		for _, d := range got {
			if d != "example.com" && d != "newsletter.example.org" {
				t.Errorf("reviewer sees an entry of %q", d)
			}
		}
		if len(got) != 3 {
			t.Errorf("reviewer sees %d entries, want 3", len(got))
		}
		// Asking for another domain by URL shows nothing.
		if got := auditDomains(get(t, c, "/audit?domain=acme.example")); len(got) != 0 {
			t.Errorf("reviewer sees %d acme.example entries", len(got))
		}
	})

	t.Run("an admin sees everything, sign-ins included", func(t *testing.T) {
		c := e.signIn(t, "admin")
		p := get(t, c, "/audit")
		got := auditDomains(p)
		if len(got) < 7 { // six seeded entries plus sign-ins
			t.Errorf("admin sees %d entries, want at least 7", len(got))
		}
	})

	t.Run("filters are deep links", func(t *testing.T) {
		c := e.signIn(t, "admin")
		tests := []struct {
			query string
			want  int
		}{
			{"domain=acme.example", 3},
			{"action=credential.reset", 2},
			{"domain=example.com&login=user001%40example.com", 2},
			{"domain=example.com&login=user002%40example.com", 0},
			{"actor=seed&outcome=ok", 6},
			{"from=2000-01-01&to=2000-01-02", 0},
		}
		for _, tt := range tests {
			p := get(t, c, "/audit?"+tt.query)
			wantStatus(t, p, http.StatusOK)
			if got := p.TestID("audit-row").Length(); got != tt.want {
				t.Errorf("/audit?%s: %d rows, want %d", tt.query, got, tt.want)
			}
		}
		p := get(t, c, "/audit?domain=acme.example&action=credential.create")
		if v, _ := p.Find(`[data-testid="filter-domain"]`).Attr("value"); v != "acme.example" && p.Find(`[data-testid="filter-domain"] option[selected]`).AttrOr("value", "") != "acme.example" {
			t.Errorf("domain filter not kept in the form")
		}
		if href := p.TestID("export-csv").AttrOr("href", ""); href != "/audit/export.csv?action=credential.create&domain=acme.example" {
			t.Errorf("CSV link = %q", href)
		}
	})
}

// TestAuditTrailWithoutMailgun: the audit trail is the dashboard's own record, so a reviewer
// can read and export it while Mailgun is down (it used to answer 502: their domains came from
// Mailgun's list). The domain filter then offers the domains the policy lets them view.
func TestAuditTrailWithoutMailgun(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	seedAudit(t, e, 2, "example.com", "credential.reset", "user001@example.com")
	seedAudit(t, e, 1, "newsletter.example.org", "credential.delete", "news@newsletter.example.org")
	seedAudit(t, e, 1, "acme.example", "credential.create", "a@acme.example")
	e.SB.SetFaults(sandbox.Faults{Rate: 1, Status: http.StatusServiceUnavailable})
	t.Cleanup(func() { e.SB.SetFaults(sandbox.Faults{}) })
	c := e.signIn(t, "reviewer")

	p := get(t, c, "/audit")
	wantStatus(t, p, http.StatusOK)
	got := auditDomains(p)
	slices.Sort(got)
	if want := []string{"example.com", "example.com", "newsletter.example.org"}; !slices.Equal(got, want) {
		t.Errorf("with Mailgun down the reviewer sees entries of %q, want %q", got, want)
	}
	var choices []string
	p.Find(`[data-testid="filter-domain"] option`).Each(func(_ int, s *goquery.Selection) {
		if v := s.AttrOr("value", ""); v != "" {
			choices = append(choices, v)
		}
	})
	if want := []string{"example.com", "newsletter.example.org"}; !slices.Equal(choices, want) {
		t.Errorf("domain filter offers %q, want %q", choices, want)
	}
	csv := get(t, c, "/audit/export.csv")
	wantStatus(t, csv, http.StatusOK)
	if n := strings.Count(string(csv.Body), "credential."); n != 3 {
		t.Errorf("the CSV export holds %d entries, want 3:\n%s", n, csv.Body)
	}
}

func TestAuditKeysetPaging(t *testing.T) {
	e := newEnv(t, envOptions{})
	seedAudit(t, e, 120, "acme.example", "credential.reset", "alice@acme.example")
	c := e.signIn(t, "operator")
	var ids []string
	next := "/audit?domain=acme.example&action=credential.reset"
	pages := 0
	for next != "" {
		p := get(t, c, next)
		wantStatus(t, p, http.StatusOK)
		pages++
		p.TestID("audit-row").Each(func(_ int, s *goquery.Selection) {
			ids = append(ids, strings.TrimSpace(s.Find(`[data-testid="audit-request-id"]`).Text()))
		})
		next = p.TestID("audit-next").AttrOr("href", "")
		if pages > 1 && p.TestID("audit-first").Length() == 0 {
			t.Errorf("page %d has no link back to the newest", pages)
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if pages != 3 || len(ids) != 120 {
		t.Errorf("%d pages, %d rows; want 3 pages of 50, 50, 20", pages, len(ids))
	}
	if ids[0] != "r119" || ids[119] != "r0" {
		t.Errorf("order: first %q last %q, want newest first", ids[0], ids[119])
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("entry %s on two pages", id)
		}
		seen[id] = true
	}
}

// TestAuditNewerEntries: the pager had only "Older entries", so a user who went older could only
// start again from the newest. "Newer entries" goes back a page at a time, through the same
// pages, newest first, with the filters kept; the first page has none.
func TestAuditNewerEntries(t *testing.T) {
	e := newEnv(t, envOptions{})
	seedAudit(t, e, 60, "acme.example", "credential.reset", "alice@acme.example")
	seedAudit(t, e, 10, "acme.example", "credential.create", "bob@acme.example") // filtered out
	seedAudit(t, e, 60, "acme.example", "credential.reset", "alice@acme.example")
	c := e.signIn(t, "operator")
	rows := func(p *testflow.Page) []string {
		var out []string
		p.TestID("audit-row").Each(func(_ int, s *goquery.Selection) { out = append(out, s.AttrOr("data-id", "")) })
		return out
	}
	keepsFilters := func(href string) {
		t.Helper()
		u, err := url.Parse(href)
		if err != nil || u.Path != "/audit" || u.Query().Get("domain") != "acme.example" || u.Query().Get("action") != "credential.reset" {
			t.Errorf("pager link %q does not keep the filters", href)
		}
	}
	first := get(t, c, "/audit?domain=acme.example&action=credential.reset")
	wantStatus(t, first, http.StatusOK)
	if n := first.TestID("audit-newer").Length(); n != 0 {
		t.Errorf("the first page offers newer entries (%q)", first.TestID("audit-newer").AttrOr("href", ""))
	}
	pages := []*testflow.Page{first}
	for next := first.TestID("audit-next").AttrOr("href", ""); next != ""; next = pages[len(pages)-1].TestID("audit-next").AttrOr("href", "") {
		keepsFilters(next)
		p := get(t, c, next)
		wantStatus(t, p, http.StatusOK)
		pages = append(pages, p)
		if len(pages) > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(pages) != 3 {
		t.Fatalf("%d pages, want 3 (50, 50, 20)", len(pages))
	}
	// Back from the last page, one page at a time: each is the page it came from.
	p := pages[2]
	for i := 1; i >= 0; i-- {
		newer := p.TestID("audit-newer")
		if newer.Length() != 1 {
			t.Fatalf("page %d has no link to newer entries", i+2)
		}
		href := newer.AttrOr("href", "")
		keepsFilters(href)
		p = get(t, c, href)
		wantStatus(t, p, http.StatusOK)
		if got, want := rows(p), rows(pages[i]); !slices.Equal(got, want) {
			t.Errorf("newer than page %d: rows %v, want page %d's %v", i+2, got, i+1, want)
		}
		if got := p.TestID("audit-next").AttrOr("href", ""); got == "" {
			t.Errorf("page %d, reached back, has no link to older entries", i+1)
		}
	}
	if n := p.TestID("audit-newer").Length() + p.TestID("audit-first").Length(); n != 0 {
		t.Errorf("the first page, reached back, offers newer entries or the newest")
	}
	// Cursors past the newest entry (a hand-made link) show the first page, with nothing newer
	// to offer.
	for _, cursor := range []string{"before", "after"} {
		p := get(t, c, "/audit?domain=acme.example&action=credential.reset&"+cursor+"=99999999")
		if got, want := rows(p), rows(first); !slices.Equal(got, want) {
			t.Errorf("%s past the newest: rows %v, want the first page's", cursor, got)
		}
		if n := p.TestID("audit-newer").Length(); n != 0 {
			t.Errorf("%s past the newest offers newer entries", cursor)
		}
	}
}

func TestAuditRecordsActionsWithOutcome(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "operator")
	p := submit(t, c, resetUser, resetUser, map[string]string{"mode": "generate"})
	wantStatus(t, p, http.StatusOK)
	h := get(t, c, "/audit?domain=acme.example&login=alice%40acme.example")
	wantStatus(t, h, http.StatusOK)
	if got := h.TestID("audit-row").Length(); got != 1 {
		t.Fatalf("history rows = %d, want 1", got)
	}
	row := h.TestID("audit-row").First()
	if a := row.Find(`[data-testid="audit-action"]`).Text(); !strings.Contains(a, "Reset password") {
		t.Errorf("action = %q", a)
	}
	if a := row.Find(`[data-testid="audit-actor"]`).Text(); !strings.Contains(a, "Omar Operator") {
		t.Errorf("actor = %q", a)
	}
	if o := row.Find(`[data-testid="audit-outcome"]`).Text(); !strings.Contains(o, "Succeeded") {
		t.Errorf("outcome = %q", o)
	}
	// Where the request came from, as the exports have it: the test client is on loopback.
	if ip := row.Find(`[data-testid="audit-client-ip"]`).Text(); ip != "127.0.0.1" {
		t.Errorf("client IP = %q, want 127.0.0.1", ip)
	}
}

// TestAuditNamesTheActor: an entry's actor is never "system" when a person (or a service
// account) acted. A user whose provider sends neither name nor e-mail is named by the provider's
// subject, and a sign-in refused before anyone was known says that nobody was signed in; the
// page used to call both "system", as if SMTP Desk had acted on its own.
func TestAuditNamesTheActor(t *testing.T) {
	e := newEnv(t, envOptions{})
	svc := e.signIn(t, "service")
	wantStatus(t, submit(t, svc, resetUser, resetUser, map[string]string{"mode": "generate"}), http.StatusOK)
	// A callback with a state no sign-in started: refused, with no user to name.
	anon, err := testflow.New(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, get(t, anon, "/auth/callback?state=forged&code=x"), http.StatusBadRequest)

	p := get(t, e.signIn(t, "admin"), "/audit")
	wantStatus(t, p, http.StatusOK)
	actors := map[string]string{}
	p.TestID("audit-row").Each(func(_ int, s *goquery.Selection) {
		key := s.Find(`[data-testid="audit-action"]`).AttrOr("data-action", "")
		a := s.Find(`[data-testid="audit-actor"]`)
		actors[key] = strings.TrimSpace(a.Text()) + " | " + a.AttrOr("title", "")
	})
	want := map[string]string{
		"credential.reset":     "demo-service | Subject demo-service at " + e.IdP.Issuer(),
		"auth.sign_in_refused": "not signed in | No user was signed in",
	}
	for action, w := range want {
		if actors[action] != w {
			t.Errorf("%s: actor %q, want %q", action, actors[action], w)
		}
	}
	// The actor filter finds them by the name the page gives them: the subject, typed whole.
	admin := e.signIn(t, "admin")
	for path, want := range map[string]int{"/audit?actor=demo-service": 2, "/audit?actor=demo-service&action=credential.reset": 1} {
		if got := get(t, admin, path).TestID("audit-row").Length(); got != want {
			t.Errorf("%s: %d rows, want %d (the sign-in and the reset)", path, got, want)
		}
	}
}

// TestAuditUnknownIsNotAFailure: a reset that Mailgun answered with a server error may have
// been made (Mailgun can fail after the change), so its entry is "Outcome unknown", and its
// message, on the page and in the exports, must not say that Mailgun failed: it read "503
// Mailgun failed.", which a reviewer takes for "nothing changed".
func TestAuditUnknownIsNotAFailure(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "operator")
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteUpdate}, Rate: 1, Status: http.StatusServiceUnavailable})
	p := submit(t, c, resetUser, resetUser, map[string]string{"mode": "generate"})
	e.SB.SetFaults(sandbox.Faults{})
	wantStatus(t, p, http.StatusBadGateway)

	const want = "Mailgun answered with an error, so whether the change was made is unknown."
	page := get(t, c, "/audit?action=credential.reset")
	row := page.TestID("audit-row")
	if row.Length() != 1 || row.Find(`[data-testid="audit-outcome"]`).AttrOr("data-outcome", "") != "unknown" {
		t.Fatalf("%d reset entries, or not unknown: %.400s", row.Length(), row.Text())
	}
	if got := strings.Join(strings.Fields(row.Find(`[data-testid="audit-upstream"]`).Text()), " "); got != "503 "+want {
		t.Errorf("the page says %q, want %q", got, "503 "+want)
	}
	for _, rec := range jsonlRecords(t, get(t, c, "/audit/export.jsonl?action=credential.reset").Body) {
		if rec["upstream_message"] != want {
			t.Errorf("JSON Lines: %q, want %q", rec["upstream_message"], want)
		}
	}
}

// TestAuditKeepsSystemLoginsAsked: a create of system logins reads "Asked for as system logins."
// on the audit page and in both exports, exactly once, at the start of the entry's detail (then
// how the passwords were chosen), whatever the outcome (ok, refused, unknown) and while it is
// pending; beside it the message in SMTP Desk's words. Entries written by an earlier version,
// which had the sentence ahead of the completion's message instead, read it as their detail. (SMTP Desk's words for Mailgun's text once replaced the whole
// message, that sentence with it, so a reviewer saw a failed create of ordinary logins.)
func TestAuditKeepsSystemLoginsAsked(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}, MailgunTimeout: time.Minute})
	c := e.signIn(t, "owner")
	a := e.signIn(t, "admin")
	const asked = "Asked for as system logins."
	// wantDetail is the detail of the entry with request id id: this version's says how the
	// passwords were chosen after the sentence; the earlier version's (below) has the sentence only.
	wantDetail := func(id string) string {
		if strings.HasPrefix(id, "previous-") {
			return asked
		}
		return asked + " Asked for a generated password." // one login
	}
	want := map[string]string{"ok": "", "pending": "", "failed": "alice@acme.example already exists in this domain.",
		"unknown": "Mailgun answered with an error, so whether the change was made is unknown."}
	// check reads the create entries on the page and in both exports: n of them, each saying
	// asked once, in its detail, and its outcome's message.
	check := func(t *testing.T, n int) {
		t.Helper()
		page := get(t, a, "/audit?action=credential.create")
		wantStatus(t, page, http.StatusOK)
		rows := page.TestID("audit-row")
		if rows.Length() != n {
			t.Errorf("%d create entries on the page, want %d", rows.Length(), n)
		}
		rows.Each(func(_ int, s *goquery.Selection) {
			outcome := s.Find(`[data-testid="audit-outcome"]`).AttrOr("data-outcome", "")
			msg := strings.Join(strings.Fields(s.Find(`[data-testid="audit-upstream"]`).Text()), " ")
			detail := s.Find(`[data-testid="audit-detail"]`).Text()
			wd := wantDetail(s.Find(`[data-testid="audit-request-id"]`).Text())
			if detail != wd || !strings.HasSuffix(msg, want[outcome]) || strings.Count(s.Text(), asked) != 1 {
				t.Errorf("the %s entry reads %q, detail %q; want %q once, as the detail %q, and %q", outcome, msg, detail, asked, wd, want[outcome])
			}
		})
		records, err := csv.NewReader(bytes.NewReader(get(t, a, "/audit/export.csv?action=credential.create").Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := func(name string) int { return slices.Index(records[0], name) }
		if len(records)-1 != n {
			t.Errorf("the CSV holds %d entries, want %d", len(records)-1, n)
		}
		for _, r := range records[1:] {
			if msg, detail := r[col("upstream_message")], r[col("detail")]; detail != wantDetail(r[col("request_id")]) || msg != want[r[col("outcome")]] {
				t.Errorf("CSV: the %s entry's message is %q, detail %q", r[col("outcome")], msg, detail)
			}
		}
		recs := jsonlRecords(t, get(t, a, "/audit/export.jsonl?action=credential.create").Body)
		if len(recs) != n {
			t.Errorf("the JSON Lines hold %d entries, want %d", len(recs), n)
		}
		for _, rec := range recs {
			msg, _ := rec["upstream_message"].(string)
			id, _ := rec["request_id"].(string)
			if detail, _ := rec["detail"].(string); detail != wantDetail(id) || msg != want[rec["outcome"].(string)] {
				t.Errorf("JSON Lines: the %v entry's message is %q, detail %q", rec["outcome"], msg, detail)
			}
		}
	}

	// Pending: Mailgun holds the create while the trail is read; then it is made (ok).
	form := get(t, c, "/d/acme.example/new")
	hold := make(chan struct{})
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Hold: hold})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := c.Post(context.Background(), "/d/acme.example/new", url.Values{"_csrf": {form.CSRF()}, "logins": {"sys1"}, "system": {"on"}, "mode": {"generate"}}); err != nil {
			t.Error(err)
		}
	}()
	for len(e.callsTo(sandbox.RouteCreate, "")) == 0 {
		select {
		case <-done:
			t.Fatal("the create was answered before it reached Mailgun")
		default:
			runtime.Gosched()
		}
	}
	t.Run("pending", func(t *testing.T) { check(t, 1) })
	close(hold)
	<-done
	e.SB.SetFaults(sandbox.Faults{})

	// alice exists: Mailgun refuses (400). s1 meets a 503: the outcome is unknown.
	p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "alice", "system": "on"})
	wantStatus(t, p, http.StatusBadRequest)
	e.SB.SetFaults(sandbox.Faults{Routes: []string{"create"}, Rate: 1, Status: http.StatusServiceUnavailable})
	p = submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "s1", "system": "on"})
	e.SB.SetFaults(sandbox.Faults{})
	wantStatus(t, p, http.StatusBadGateway)
	t.Run("completed", func(t *testing.T) { check(t, 3) })

	// The same three as the previous version wrote them: no detail, the sentence ahead of the
	// completion's message (test data, straight into the store).
	ctx := context.Background()
	for _, old := range e.auditEntries(t, store.AuditFilter{Action: "credential.create"}) {
		outcome, status, msg := old.Outcome, old.UpstreamStatus, strings.TrimSpace(asked+" "+old.UpstreamMessage)
		old.ID, old.Detail, old.RequestID, old.CompletedAt = 0, "", "previous-"+old.RequestID, nil
		old.Outcome, old.UpstreamStatus, old.UpstreamMessage = store.OutcomePending, 0, ""
		id, err := e.DB.AppendAudit(ctx, old)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.DB.CompleteAudit(ctx, id, outcome, status, msg, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("previous version", func(t *testing.T) { check(t, 6) })
	if rep, err := e.DB.VerifyAudit(ctx); err != nil || rep.BrokenAt != 0 {
		t.Errorf("VerifyAudit = %+v, %v; want intact", rep, err)
	}
}

// TestAuditHistoryIgnoresLetterCase: Mailgun finds a login whatever its letter case, so a reset
// through a link that spells it differently is the same credential's history, and the row's
// History link (the login as Mailgun lists it) shows both resets.
func TestAuditHistoryIgnoresLetterCase(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "operator")
	wantStatus(t, submit(t, c, resetUser, resetUser, map[string]string{"mode": "generate"}), http.StatusOK)
	const shouted = "/d/acme.example/logins/ALICE@acme.example/reset"
	wantStatus(t, submit(t, c, shouted, shouted, map[string]string{"mode": "generate"}), http.StatusOK)
	for _, login := range []string{"alice%40acme.example", "Alice%40ACME.example"} {
		h := get(t, c, "/audit?domain=acme.example&login="+login)
		wantStatus(t, h, http.StatusOK)
		if got := h.TestID("audit-row").Length(); got != 2 {
			t.Errorf("history of %s: %d rows, want both resets", login, got)
		}
	}
}

// TestAuditHistoryShowsItsLogin: a login's history lists that login among the logins shown at
// once in each of its entries, however many the entry names. A delete-all of 250 logins showed
// the first five, listed 200 under "+245 more" and said "each login's history shows this
// entry" for the rest: in the history of user250@example.com, user250 was nowhere on the page.
func TestAuditHistoryShowsItsLogin(t *testing.T) {
	e := newEnv(t, envOptions{})
	logins := make([]string, 250)
	for i := range logins {
		logins[i] = fmt.Sprintf("user%03d@example.com", i+1)
	}
	if _, err := e.DB.AppendAudit(context.Background(), store.AuditEntry{
		Time: time.Now().UTC(), ActorIssuer: "https://idp.test", ActorSubject: "s1",
		ActorEmail: "ada@smtpdesk.example", ActorName: "Ada Admin", Action: "credential.delete_all",
		Domain: "example.com", Logins: logins, Outcome: "ok", RequestID: "r1",
	}); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(t, "reviewer")
	for _, login := range []string{"user250@example.com", "USER007@Example.com", "user003@example.com"} {
		p := get(t, c, "/audit?login="+url.QueryEscape(login))
		wantStatus(t, p, http.StatusOK)
		var shown []string
		p.Find(`[data-testid="audit-logins"] > ul > li`).Each(func(_ int, s *goquery.Selection) {
			shown = append(shown, s.Text())
		})
		if len(shown) == 0 || !strings.EqualFold(shown[0], login) {
			t.Errorf("history of %s: the entry shows %q at once, want %s first", login, shown, login)
		}
		// Still listed once, and the count of the others unchanged.
		all := p.Find(`[data-testid="audit-logins"] li`).Text()
		if n := strings.Count(strings.ToLower(all), strings.ToLower(login)); n != 1 {
			t.Errorf("history of %s: the login is listed %d times, want once", login, n)
		}
		if got := p.TestID("audit-logins-cut").Text(); !strings.Contains(got, "and 50 more") {
			t.Errorf("history of %s: the cut says %q, want \"and 50 more\"", login, got)
		}
	}
}

// TestAuditVerify: an administrator checks the audit trail's hash chain from the browser and
// gets the store's own verdict; an entry edited in the database behind the app's back shows as
// the break; nobody else sees the link or may run the check.
func TestAuditVerify(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	seedAudit(t, e, 3, "acme.example", "credential.create", "a@acme.example")
	admin := e.signIn(t, "admin")

	t.Run("intact", func(t *testing.T) {
		if form := get(t, admin, "/audit").TestID("verify-link").Closest("form"); form.AttrOr("action", "") != "/audit/verify" || form.AttrOr("method", "") != "post" {
			t.Errorf("the admin's check button is in a form to %q by %q, want a POST to /audit/verify", form.AttrOr("action", ""), form.AttrOr("method", ""))
		}
		// An address typed or followed from elsewhere runs nothing: it goes to the trail.
		if p := get(t, admin, "/audit/verify"); p.URL.Path != "/audit" || len(e.auditEntries(t, store.AuditFilter{Action: "audit.verify"})) != 0 {
			t.Errorf("GET /audit/verify ended at %s and recorded a check", p.URL)
		}
		// The store's own check first: it writes nothing, so the page then sees the same rows.
		rep, err := e.DB.VerifyAudit(context.Background())
		if err != nil || rep.BrokenAt != 0 {
			t.Fatalf("the store's own check: %+v, %v", rep, err)
		}
		p := submit(t, admin, "/audit", "/audit/verify", nil)
		wantStatus(t, p, http.StatusOK)
		if p.TestID("verify-intact").Length() != 1 || p.TestID("verify-broken").Length() != 0 {
			t.Errorf("the page does not say the trail is intact: %.300s", p.Text())
		}
		// The page counts what the store counted: the three seeded entries and the admin's
		// sign-in.
		if got, want := p.TestID("verify-checked").Text(), strconv.FormatInt(rep.Checked, 10)+" rows"; got != want || rep.Checked < 4 {
			t.Errorf("checked %q, want %q (at least 4)", got, want)
		}
		// A reviewer counting the entries finds fewer than the rows, numbered with gaps: the
		// page says why, so that the gaps do not read as removed entries.
		if got := p.TestID("verify-rows-explained").Text(); !strings.Contains(got, "not removed entries") {
			t.Errorf("the page does not explain rows against entries: %q", got)
		}
		if id, hash := p.TestID("verify-head-id").Text(), p.TestID("verify-head-hash").Text(); id != strconv.FormatInt(rep.HeadID, 10) || hash != rep.HeadHash || hash == "" {
			t.Errorf("newest row %q, hash %q; the store says %d, %q", id, hash, rep.HeadID, rep.HeadHash)
		}
		if id, all := p.TestID("verify-oldest-id").Text(), p.TestID("verify-oldest").Text(); id != strconv.FormatInt(rep.OldestID, 10) || rep.OldestID == 0 || strings.Contains(all, "retention") {
			t.Errorf("oldest row %q (%q); the store says %d, nothing removed", id, all, rep.OldestID)
		}
		// The check is recorded after it ran, with the head it saw.
		got := e.auditEntries(t, store.AuditFilter{Action: "audit.verify"})
		if len(got) != 1 || got[0].ActorEmail != "ada@smtpdesk.example" || got[0].Outcome != "ok" ||
			!strings.Contains(got[0].Detail, "newest row "+strconv.FormatInt(rep.HeadID, 10)+", hash "+rep.HeadHash) {
			t.Errorf("audit.verify entries = %+v; want one by the admin, ok, naming the head it saw", got)
		}
	})

	t.Run("not for reviewers", func(t *testing.T) {
		c := e.signIn(t, "reviewer")
		if get(t, c, "/audit").TestID("verify-link").Length() != 0 {
			t.Error("a reviewer's audit page links to the check")
		}
		wantStatus(t, submit(t, c, "/audit", "/audit/verify", nil), http.StatusForbidden)
		denied := e.auditEntries(t, store.AuditFilter{Action: "access.denied"})
		if len(denied) == 0 || denied[0].Detail != "audit verify" || denied[0].ActorEmail == "ada@smtpdesk.example" {
			t.Errorf("the refused check is not recorded: %+v", denied)
		}
	})

	t.Run("altered", func(t *testing.T) {
		db, err := sql.Open("sqlite", e.DBPath)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var id int64
		if err := db.QueryRow("SELECT MIN(id) FROM audit_log WHERE kind = 'entry' AND action = 'credential.create'").Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("UPDATE audit_log SET actor_email = 'mallory@corp.example' WHERE id = ?", id); err != nil {
			t.Fatal(err)
		}
		p := submit(t, admin, "/audit", "/audit/verify", nil)
		wantStatus(t, p, http.StatusOK)
		if p.TestID("verify-broken").Length() != 1 {
			t.Fatalf("the page does not report the break: %.300s", p.Text())
		}
		// It asks for the focus, as the intact outcome does (e2e TestAuditOutcomesTakeTheFocus):
		// an alert that comes with the page is not read out.
		if _, ok := p.TestID("verify-broken").Attr("data-autofocus"); !ok {
			t.Error("the report of the break does not ask for the focus (data-autofocus)")
		}
		if at := p.TestID("verify-broken-at").Text(); at != strconv.FormatInt(id, 10) {
			t.Errorf("broken at %q, want the edited row %d", at, id)
		}
		if reason := p.TestID("verify-reason").Text(); reason == "" {
			t.Error("no reason given")
		}
		// The trail is paged from the newest entry, 50 at a time, with no way to jump to a row
		// but by editing the address: the result links to the trail from the broken row on.
		href := p.TestID("verify-broken-link").AttrOr("href", "")
		if href == "" {
			t.Fatal("the result does not link to the broken row in the trail")
		}
		trail := get(t, admin, href)
		wantStatus(t, trail, http.StatusOK)
		if got := trail.TestID("audit-row").First().AttrOr("data-id", ""); got != strconv.FormatInt(id, 10) {
			t.Errorf("%s starts at entry %q, want the broken row %d", href, got, id)
		}
		if p.TestID("verify-head").Length() != 0 {
			t.Error("a broken chain shows a newest row to note down")
		}
		if got := e.auditEntries(t, store.AuditFilter{Action: "audit.verify"}); len(got) == 0 || got[0].Outcome != "failed" ||
			!strings.Contains(got[0].Detail, "broken at row "+strconv.FormatInt(id, 10)) {
			t.Errorf("the failed check is not recorded as such: %+v", got[:min(1, len(got))])
		}
		if !strings.Contains(e.Logs.String(), `"level":"ERROR","msg":"audit trail broken"`) {
			t.Errorf("the break was not logged at Error:\n%s", e.Logs.String())
		}
	})
}

func TestAuditExports(t *testing.T) {
	e := newEnv(t, envOptions{})
	// A login and a detail a spreadsheet would run as formulas.
	for _, evil := range []string{"=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2", "@SUM(A1)", "\tTAB"} {
		_, err := e.DB.AppendAudit(context.Background(), store.AuditEntry{
			Time: time.Now().UTC(), ActorIssuer: "iss", ActorSubject: "sub", ActorEmail: "x@test.example", ActorName: evil,
			Action: "credential.create", Domain: "acme.example", Logins: []string{evil}, Outcome: "ok", Detail: evil,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	seedAudit(t, e, 2, "example.com", "credential.reset", "user001@example.com")
	c := e.signIn(t, "operator")

	t.Run("csv", func(t *testing.T) {
		p := get(t, c, "/audit/export.csv")
		wantStatus(t, p, http.StatusOK)
		if cd := p.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".csv") {
			t.Errorf("Content-Disposition = %q", cd)
		}
		records, err := csv.NewReader(bytes.NewReader(p.Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		header := records[0]
		col := func(name string) int { return slices.Index(header, name) }
		if len(records) != 6 {
			t.Fatalf("%d records, want header + 5 (the operator cannot see example.com)", len(records))
		}
		for _, r := range records[1:] {
			if r[col("domain")] != "acme.example" {
				t.Errorf("exported an entry of %q", r[col("domain")])
			}
			for _, name := range []string{"logins", "detail", "actor_name"} {
				v := r[col(name)]
				if v == "" || strings.ContainsAny(v[:1], "=+-@\t\r") {
					t.Errorf("%s cell %q is not neutralised", name, v)
				}
				if !strings.HasPrefix(v, "'") {
					t.Errorf("%s cell %q lacks the quote prefix", name, v)
				}
			}
		}
	})

	t.Run("jsonl holds only the domains the user can view", func(t *testing.T) {
		// Without a filter: the scoping alone keeps example.com's entries out (the case below
		// filters by an actor who has none there, so it cannot tell).
		p := get(t, c, "/audit/export.jsonl")
		wantStatus(t, p, http.StatusOK)
		recs := jsonlRecords(t, p.Body)
		for _, rec := range recs {
			if rec["domain"] != "acme.example" {
				t.Errorf("exported an entry of %v", rec["domain"])
			}
		}
		if n := len(recs); n != 5 {
			t.Errorf("%d lines, want 5 (the operator cannot see example.com)", n)
		}
	})

	t.Run("jsonl with the page's filters", func(t *testing.T) {
		p := get(t, c, "/audit/export.jsonl?actor=x%40test")
		wantStatus(t, p, http.StatusOK)
		if cd := p.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".jsonl") {
			t.Errorf("Content-Disposition = %q", cd)
		}
		recs := jsonlRecords(t, p.Body)
		for _, rec := range recs {
			if rec["domain"] != "acme.example" || rec["actor_email"] != "x@test.example" {
				t.Errorf("record %v", rec)
			}
		}
		if n := len(recs); n != 5 {
			t.Errorf("%d lines, want 5", n)
		}
	})

	t.Run("a user who sees no domain exports nothing", func(t *testing.T) {
		nc := e.signIn(t, "nobody")
		for _, path := range []string{"/audit/export.jsonl", "/audit/export.csv"} {
			p := get(t, nc, path)
			wantStatus(t, p, http.StatusForbidden)
			if strings.Contains(p.Text(), "acme.example") || p.Header.Get("Content-Disposition") != "" {
				t.Errorf("%s for a user without access exported something: %.300s", path, p.Text())
			}
			if got, want := strings.TrimSpace(p.TestID("error-message").Text()), "You have no access to any domain, so there is no audit trail to export."; got != want {
				t.Errorf("%s: message %q, want %q", path, got, want)
			}
		}
		// The page says they have no access, not "no entries yet".
		p := get(t, nc, "/audit")
		wantStatus(t, p, http.StatusForbidden)
		if !strings.Contains(p.Text(), "No access yet") || p.TestID("audit-row").Length() != 0 {
			t.Errorf("/audit for a user without access: %.300s", p.Text())
		}
	})
}

// TestAuditFilterProblems: a hand-edited or truncated filter link gets the page with the
// malformed values named and left out, never a filter the form does not show; the exports refuse
// such a link instead of exporting something else.
func TestAuditFilterProblems(t *testing.T) {
	e := newEnv(t, envOptions{})
	seedAudit(t, e, 3, "acme.example", "credential.create", "a@acme.example")
	seedAudit(t, e, 1, "gone.example", "credential.delete", "old@gone.example") // no longer in Mailgun
	admin := e.signIn(t, "admin")
	selected := func(p *testflow.Page) string {
		return p.Find(`[data-testid="filter-domain"] option[selected]`).AttrOr("value", "")
	}

	t.Run("malformed values are named and not applied", func(t *testing.T) {
		p := get(t, admin, "/audit?domain=acme%00.example&action=drop+table&from=2026-02-30&actor=seed")
		wantStatus(t, p, http.StatusOK)
		if bytes.ContainsRune(p.Body, 0) {
			t.Error("the page echoes a NUL byte")
		}
		var problems []string
		p.TestID("filter-problems").Find("li").Each(func(_ int, s *goquery.Selection) { problems = append(problems, s.Text()) })
		want := []string{`The domain filter "acme\x00.example" was not applied`, `The action filter "drop table" was not applied`, `The from date 2026-02-30 was not applied: there is no such day`}
		if len(problems) != len(want) {
			t.Fatalf("problems %q, want %d", problems, len(want))
		}
		for i, w := range want {
			if !strings.HasPrefix(problems[i], w) {
				t.Errorf("problem %d = %q, want it to start with %q", i, problems[i], w)
			}
		}
		// The rest of the filter applies (the seeded entries' actor), and the form and the
		// export links show only what was applied.
		if got := p.TestID("audit-row").Length(); got != 4 {
			t.Errorf("%d rows, want the 4 seeded entries", got)
		}
		if got := selected(p); got != "" {
			t.Errorf("domain filter shows %q selected", got)
		}
		if got := p.TestID("current-domain").Length(); got != 0 {
			t.Errorf("the header shows a current domain: %q", p.TestID("current-domain").Text())
		}
		if href := p.TestID("export-csv").AttrOr("href", ""); href != "/audit/export.csv?actor=seed" {
			t.Errorf("CSV link = %q", href)
		}
	})

	t.Run("a part of the address that cannot be read is named, and the export refused", func(t *testing.T) {
		// A link cut short inside an escape ("bob%40acme.example"), and a ';' typed for '&': the
		// query parser drops both without a word, and the page showed (and the exports wrote)
		// every login's entries as if they were bob's.
		p := get(t, admin, "/audit?domain=acme.example&login=bob%4&actor=seed;action=credential.reset")
		wantStatus(t, p, http.StatusOK)
		var problems []string
		p.TestID("filter-problems").Find("li").Each(func(_ int, s *goquery.Selection) { problems = append(problems, s.Text()) })
		want := []string{`The part "login=bob%4" of the address was not applied`, `The part "actor=seed;action=credential.reset" of the address was not applied`}
		if len(problems) != len(want) {
			t.Fatalf("problems %q, want %d", problems, len(want))
		}
		for i, w := range want {
			if !strings.HasPrefix(problems[i], w) {
				t.Errorf("problem %d = %q, want it to start with %q", i, problems[i], w)
			}
		}
		for _, path := range []string{"/audit/export.csv", "/audit/export.jsonl"} {
			x := get(t, admin, path+"?domain=acme.example&login=bob%4")
			wantStatus(t, x, http.StatusBadRequest)
			if x.Header.Get("Content-Disposition") != "" || !strings.Contains(x.Text(), `"login=bob%4"`) {
				t.Errorf("%s of a cut link: %.300s", path, x.Text())
			}
		}
	})

	t.Run("a login without its domain is named, and the export refused", func(t *testing.T) {
		// "History of a" with no entries read as "nobody touched a": the trail names logins whole.
		p := get(t, admin, "/audit?domain=acme.example&login=a")
		wantStatus(t, p, http.StatusOK)
		if got := strings.TrimSpace(p.TestID("filter-problems").Find("li").Text()); !strings.Contains(got, "such as a@acme.example") {
			t.Errorf("problems %q, want the login named with its domain", got)
		}
		x := get(t, admin, "/audit/export.csv?domain=acme.example&login=a")
		wantStatus(t, x, http.StatusBadRequest)
		// Whole, it finds the seeded entries.
		if got := get(t, admin, "/audit?domain=acme.example&login=a%40acme.example").TestID("audit-row").Length(); got != 3 {
			t.Errorf("%d rows for a@acme.example, want 3", got)
		}
	})

	t.Run("the domain is matched whatever its case", func(t *testing.T) {
		p := get(t, admin, "/audit?domain=ACME.Example")
		if got := p.TestID("audit-row").Length(); got != 3 {
			t.Errorf("%d rows, want 3", got)
		}
		if got := selected(p); got != "acme.example" {
			t.Errorf("selected domain %q, want acme.example", got)
		}
		if got := strings.TrimSpace(p.TestID("current-domain").Text()); got != "acme.example" {
			t.Errorf("header's current domain %q, want acme.example", got)
		}
		if p.TestID("filter-problems").Length() != 0 {
			t.Errorf("problems shown: %q", p.TestID("filter-problems").Text())
		}
	})

	t.Run("a domain Mailgun no longer lists keeps its history and shows in the form", func(t *testing.T) {
		p := get(t, admin, "/audit?domain=gone.example")
		if got := auditDomains(p); len(got) != 1 || got[0] != "gone.example" {
			t.Errorf("rows of %q, want one of gone.example", got)
		}
		if got := selected(p); got != "gone.example" {
			t.Errorf("selected domain %q, want gone.example", got)
		}
		if got := p.TestID("current-domain").Length(); got != 0 {
			t.Errorf("the header offers gone.example as the current domain")
		}
	})

	t.Run("from after to is pointed out", func(t *testing.T) {
		p := get(t, admin, "/audit?from=2026-02-01&to=2026-01-01")
		if got := p.TestID("filter-problems").Text(); !strings.Contains(got, "is after the to date") {
			t.Errorf("problems %q", got)
		}
		if got := p.TestID("audit-row").Length(); got != 0 {
			t.Errorf("%d rows, want none", got)
		}
	})

	t.Run("exports refuse a malformed filter", func(t *testing.T) {
		for _, path := range []string{"/audit/export.csv?to=tomorrow&domain=acme.example", "/audit/export.jsonl?outcome=%0A"} {
			p := get(t, admin, path)
			wantStatus(t, p, http.StatusBadRequest)
			if txt := p.Text(); !strings.Contains(txt, "Nothing was exported") || !strings.Contains(txt, "was not applied") || !strings.Contains(txt, "Back to the audit trail") {
				t.Errorf("%s: the error page does not say why: %q", path, txt)
			}
			if cd := p.Header.Get("Content-Disposition"); cd != "" {
				t.Errorf("%s: Content-Disposition %q on an error", path, cd)
			}
		}
		p := get(t, admin, "/audit/export.jsonl?domain=ACME.example")
		wantStatus(t, p, http.StatusOK)
		if n := bytes.Count(p.Body, []byte("\n")); n != 3 {
			t.Errorf("exported %d entries, want 3", n)
		}
	})
}

// TestAuditDateFieldsMarkedInvalid: a date filter that was not applied, or a from date after the
// to date, was named in the "Check the filters" alert while its field was neither marked invalid
// nor described by its error, as the create and reset forms mark theirs: a screen reader on the
// field heard nothing of it. The reversed range is one error, under "from", of both fields.
func TestAuditDateFieldsMarkedInvalid(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := e.signIn(t, "admin")
	for _, tc := range []struct {
		query   string
		invalid map[string]string // field id → the error's id describing it
		errText string            // in the error under the field
	}{
		{"from=2026-02-30", map[string]string{"a-from": "a-from-error"}, "there is no day 2026-02-30"},
		{"to=tomorrow&from=2026-01-01", map[string]string{"a-to": "a-to-error"}, `"tomorrow" is not a date`},
		{"from=2026-02-01&to=2026-01-01", map[string]string{"a-from": "a-from-error", "a-to": "a-from-error"}, "After the to date"},
		{"from=2026-01-01&to=2026-02-01", nil, ""},
	} {
		t.Run(tc.query, func(t *testing.T) {
			p := get(t, admin, "/audit?"+tc.query)
			wantStatus(t, p, http.StatusOK)
			for _, id := range []string{"a-from", "a-to"} {
				in := p.Find("input#" + id)
				errID, want := tc.invalid[id]
				invalid, described := in.AttrOr("aria-invalid", ""), in.AttrOr("aria-describedby", "")
				if !want {
					if invalid != "" || described != "" {
						t.Errorf("#%s: aria-invalid %q, aria-describedby %q; want neither", id, invalid, described)
					}
					continue
				}
				if invalid != "true" || !slices.Contains(strings.Fields(described), errID) {
					t.Errorf("#%s: aria-invalid %q, aria-describedby %q; want invalid and described by #%s", id, invalid, described, errID)
				}
				msg := p.Find("#" + errID)
				if msg.Length() != 1 || !msg.HasClass("field-error") || !strings.Contains(msg.Text(), tc.errText) {
					t.Errorf("#%s: its error #%s is %d element(s) %q, want one field-error saying %q", id, errID, msg.Length(), msg.Text(), tc.errText)
				}
			}
		})
	}
}

// TestAuditExportAbortsOnFailure: when the store fails half-way through an export, the
// download is aborted; it used to end cleanly with status 200, a well-formed file holding two
// thirds of the entries, which would pass for the whole trail in a review.
func TestAuditExportAbortsOnFailure(t *testing.T) {
	e := newEnv(t, envOptions{})
	seedAudit(t, e, 1200, "acme.example", "credential.create", "a@acme.example")
	db, err := sql.Open("sqlite", e.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A row the store cannot read stands in for a failure half-way (a dropped connection, say).
	if _, err := db.Exec(`UPDATE audit_log SET logins = '{broken' WHERE id = (
		SELECT id FROM audit_log WHERE kind = 'entry' ORDER BY id LIMIT 1 OFFSET 400)`); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(t, "operator")
	for _, path := range []string{"/audit/export.jsonl", "/audit/export.csv"} {
		if p, err := c.Get(context.Background(), path); err == nil {
			t.Errorf("%s: a complete download (status %d, %d bytes), want it aborted", path, p.Status, len(p.Body))
		}
	}
}

// TestAuditExportFailsBeforeFirstEntry: when the trail cannot be read at all (the database
// unavailable, say), nothing has been sent yet, so the user gets the error page with the
// request id rather than a download that fails with no word of why.
func TestAuditExportFailsBeforeFirstEntry(t *testing.T) {
	e := newEnv(t, envOptions{})
	seedAudit(t, e, 3, "acme.example", "credential.create", "a@acme.example")
	c := e.signIn(t, "operator")
	db, err := sql.Open("sqlite", e.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`ALTER TABLE audit_log RENAME TO audit_log_gone`); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/audit/export.csv", "/audit/export.jsonl"} {
		p, err := c.Get(context.Background(), path)
		if err != nil {
			t.Fatalf("%s: %v (the download was aborted before anything was sent)", path, err)
		}
		wantStatus(t, p, http.StatusInternalServerError)
		if cd := p.Header.Get("Content-Disposition"); cd != "" {
			t.Errorf("%s: Content-Disposition %q on the error page", path, cd)
		}
		if rid := p.Header.Get("X-Request-ID"); rid == "" || strings.TrimSpace(p.TestID("request-id").Text()) != rid {
			t.Errorf("%s: the error page does not name the request id %q", path, rid)
		}
	}
}

// TestAuditDateFilterIsUTC: without a time zone (no script, or a link without "tz"), the date
// filter selects UTC days (an entry at 23:30 UTC belongs to that day), while the rows show
// their exact times in the viewer's zone; the form must say which days it means.
func TestAuditDateFilterIsUTC(t *testing.T) {
	e := newEnv(t, envOptions{})
	late := time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC)
	if _, err := e.DB.AppendAudit(context.Background(), store.AuditEntry{Time: late, ActorEmail: "seed@test.example",
		Action: "credential.reset", Domain: "acme.example", Logins: []string{"a@acme.example"}, Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	admin := e.signIn(t, "admin")
	p := get(t, admin, "/audit?from=2026-03-10&to=2026-03-10")
	wantStatus(t, p, http.StatusOK)
	if got := p.TestID("audit-row").Length(); got != 1 {
		t.Errorf("%d rows for the UTC day 2026-03-10, want the entry at 23:30 UTC", got)
	}
	// The row says when, exactly and in the filter's zone, without a hover: "9 months ago" does
	// not tell a reviewer which day, and a phone has no hover for the title.
	if got := strings.Join(strings.Fields(p.TestID("audit-time").Text()), " "); got != "2026-03-10 23:30:00 UTC" {
		t.Errorf("the row's time reads %q, want 2026-03-10 23:30:00 UTC", got)
	}
	for _, id := range []string{"a-from", "a-to"} {
		if label := p.Find(`label[for="` + id + `"]`).Text(); !strings.Contains(label, "UTC") {
			t.Errorf("label of #%s = %q: it does not say the day is a UTC day", id, label)
		}
	}
}

// TestAuditDateFilterInTheViewersZone: with the page's time zone ("tz", which the script fills
// with the viewer's), the dates are that zone's days, so that "to" a day keeps the evening the
// rows show as that day's; a day when the clocks change is 23 or 25 hours long; the pager and
// the exports keep the zone; and a zone that cannot be read is named and the days read as UTC
// days (the dates were UTC days whatever the viewer's zone, which a reviewer in India filtering
// one day saw begin at 05:30).
func TestAuditDateFilterInTheViewersZone(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, at := range []time.Time{
		time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC),  // 10 March 15:30 in India
		time.Date(2026, 3, 10, 20, 0, 0, 0, time.UTC),  // 11 March 01:30 in India
		time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC), // 11 March 05:00 in India
		time.Date(2026, 3, 9, 3, 30, 0, 0, time.UTC),   // 8 March 23:30 in New York (EDT, since 07:00 UTC on the 8th)
		time.Date(2026, 3, 9, 4, 30, 0, 0, time.UTC),   // 9 March 00:30 in New York
	} {
		if _, err := e.DB.AppendAudit(context.Background(), store.AuditEntry{Time: at, ActorEmail: "seed@test.example",
			Action: "credential.reset", Domain: "acme.example", Logins: []string{"a@acme.example"}, Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	admin := e.signIn(t, "admin")
	tests := []struct {
		query   string
		want    int
		zone    string // the labels' zone
		problem string
	}{
		{"from=2026-03-11&to=2026-03-11&tz=Asia%2FKolkata", 2, "Asia/Kolkata", ""},
		{"from=2026-03-10&to=2026-03-10&tz=Asia%2FKolkata", 1, "Asia/Kolkata", ""},
		{"from=2026-03-10&to=2026-03-10", 3, "UTC", ""},
		{"from=2026-03-08&to=2026-03-08&tz=America%2FNew_York", 1, "America/New_York", ""},
		{"from=2026-03-10&to=2026-03-10&tz=UTC", 3, "UTC", ""},
		{"from=2026-03-10&to=2026-03-10&tz=Mars%2FOlympus", 3, "UTC", `The time zone "Mars/Olympus" was not applied`},
		{"from=2026-03-10&to=2026-03-10&tz=Local", 3, "UTC", `The time zone "Local" was not applied`},
		{"from=2026-03-10&to=2026-03-10&tz=..%2F..%2Fetc%2Fpasswd", 3, "UTC", `The time zone "../../etc/passwd" was not applied`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			p := get(t, admin, "/audit?"+tt.query)
			wantStatus(t, p, http.StatusOK)
			if got := p.TestID("audit-row").Length(); got != tt.want {
				t.Errorf("%d rows, want %d", got, tt.want)
			}
			for _, id := range []string{"a-from", "a-to"} {
				if label := p.Find(`label[for="` + id + `"]`).Text(); !strings.Contains(label, "("+tt.zone+")") {
					t.Errorf("label of #%s = %q, want it to name %s", id, label, tt.zone)
				}
			}
			if got := p.TestID("filter-problems").Text(); !strings.Contains(got, tt.problem) || (tt.problem == "" && got != "") {
				t.Errorf("problems %q, want %q", got, tt.problem)
			}
			// The next search keeps the zone the dates were read in; the script does not change
			// it (it fills only a form without dates).
			tz := p.TestID("filter-tz")
			if got, want := tz.AttrOr("value", "?"), strings.TrimSuffix(tt.zone, "UTC"); got != want {
				t.Errorf("the form's tz = %q, want %q", got, want)
			}
			if _, auto := tz.Attr("data-tz-auto"); auto {
				t.Error("the script may change the zone of dates already set")
			}
			csv := p.TestID("export-csv").AttrOr("href", "")
			if u, err := url.Parse(csv); err != nil || u.Query().Get("tz") != strings.TrimSuffix(tt.zone, "UTC") {
				t.Errorf("the CSV export %q does not keep the zone %s", csv, tt.zone)
			}
			if got := strings.Count(string(get(t, admin, csv).Body), "credential.reset"); got != tt.want {
				t.Errorf("the CSV export has %d entries, want the page's %d", got, tt.want)
			}
		})
	}
	// Without dates the script may put the viewer's zone in, and a zone with no dates is no
	// filter of its own: the pager's and the exports' addresses leave it out.
	p := get(t, admin, "/audit?tz=Asia%2FKolkata&action=credential.reset")
	if _, auto := p.TestID("filter-tz").Attr("data-tz-auto"); auto {
		t.Error("a zone given is replaced by the script's")
	}
	if csv := p.TestID("export-csv").AttrOr("href", ""); strings.Contains(csv, "tz=") {
		t.Errorf("the CSV export %q names a zone without dates", csv)
	}
	p = get(t, admin, "/audit")
	if _, auto := p.TestID("filter-tz").Attr("data-tz-auto"); !auto {
		t.Error("the page without dates or zone does not let the script put the viewer's zone in")
	}
}

// jsonlRecords decodes a JSON Lines export, failing t on a line that is not a JSON object.
func jsonlRecords(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %d: %v", len(recs)+1, err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// TestAuditAdminOnlyActions: the entries of sign-ins, sessions, retention and integrity checks
// name no domain, so only administrators see them. Another user's action filter does not offer
// them (a choice that can only answer "No entries match" reads as "nobody signed in"), and a
// link that names one gets the filter named and left out, or, for an export, a refusal.
func TestAuditAdminOnlyActions(t *testing.T) {
	e := newEnv(t, envOptions{})
	seedAudit(t, e, 2, "example.com", "credential.create", "a@example.com")
	reviewer := e.signIn(t, "reviewer") // viewer of example.com: signing in records auth.sign_in
	admin := e.signIn(t, "admin")
	choices := func(p *testflow.Page) []string {
		var out []string
		p.Find(`[data-testid="filter-action"] option`).Each(func(_ int, s *goquery.Selection) {
			if v := s.AttrOr("value", ""); v != "" {
				out = append(out, v)
			}
		})
		return out
	}

	p := get(t, reviewer, "/audit")
	wantStatus(t, p, http.StatusOK)
	got := choices(p)
	if want := []string{"credential.create", "credential.reset", "credential.delete", "credential.delete_all", "credentials.export", "access.denied"}; !slices.Equal(got, want) {
		t.Errorf("reviewer's action choices = %q, want %q", got, want)
	}

	p = get(t, reviewer, "/audit?action=auth.sign_in")
	wantStatus(t, p, http.StatusOK)
	const problem = `The action filter "auth.sign_in" was not applied: sign-in, session, retention, integrity-check and audit-export entries name no domain, and only administrators see them.`
	if got := p.TestID("filter-problems").Text(); !strings.Contains(got, problem) {
		t.Errorf("problems = %q, want %q", got, problem)
	}
	if got := p.TestID("audit-row").Length(); got != 2 {
		t.Errorf("%d rows, want the 2 entries of example.com (the filter left out)", got)
	}
	for _, path := range []string{"/audit/export.csv?action=audit.verify", "/audit/export.jsonl?action=auth.sign_in"} {
		p := get(t, reviewer, path)
		wantStatus(t, p, http.StatusBadRequest)
		if !strings.Contains(p.Text(), "only administrators see them") {
			t.Errorf("%s: %.300s", path, p.Text())
		}
	}

	// An administrator is offered every action and gets what it matches.
	p = get(t, admin, "/audit?action=auth.sign_in")
	wantStatus(t, p, http.StatusOK)
	if got := choices(p); !slices.Equal(got, handlers.AuditActions()) {
		t.Errorf("admin's action choices = %q, want every action", got)
	}
	if p.TestID("filter-problems").Length() != 0 || p.TestID("audit-row").Length() < 2 {
		t.Errorf("admin's sign-ins: %d rows, problems %q", p.TestID("audit-row").Length(), p.TestID("filter-problems").Text())
	}
}

// manyDomains is the trail as the audit pages read it, naming n more domains than it holds
// entries of: a large Mailgun account's history. (Refusals on made-up domains were among them,
// before store.AuditDomains left out the names only refusals carry.)
type manyDomains struct {
	handlers.AuditLog
	n int
}

func (m manyDomains) AuditDomains(ctx context.Context) ([]string, error) {
	ds, err := m.AuditLog.AuditDomains(ctx)
	for i := range m.n {
		ds = append(ds, fmt.Sprintf("made-up-%05d.example", i))
	}
	return ds, err
}

// TestAuditViewerOfEveryDomain: a user who may view every domain ("*") without being an
// administrator sees every domain's entries, and not the entries of no domain (sign-ins, the
// integrity checks), however many domains the trail names. The page and the exports listed them
// one query parameter each, and past SQLite's 32,766 parameters (PostgreSQL's 65,535) answered
// 500.
func TestAuditViewerOfEveryDomain(t *testing.T) {
	e := newEnv(t, envOptions{AuditLog: func(l handlers.AuditLog) handlers.AuditLog { return manyDomains{l, 40000} }})
	seedAudit(t, e, 2, "acme.example", "credential.create", "a@acme.example")
	seedAudit(t, e, 1, "example.com", "credential.reset", "user001@example.com")
	seedAudit(t, e, 1, "", "auth.sign_in", "")
	c := e.signIn(t, "auditor")

	p := get(t, c, "/audit")
	wantStatus(t, p, http.StatusOK)
	got := auditDomains(p)
	slices.Sort(got)
	if want := []string{"acme.example", "acme.example", "example.com"}; !slices.Equal(got, want) {
		t.Errorf("rows of domains %v, want %v (every domain's entries, no sign-in)", got, want)
	}
	p = get(t, c, "/audit?domain=example.com")
	wantStatus(t, p, http.StatusOK)
	if got := auditDomains(p); !slices.Equal(got, []string{"example.com"}) {
		t.Errorf("filtered to example.com: rows of domains %v", got)
	}
	p = get(t, c, "/audit/export.jsonl")
	wantStatus(t, p, http.StatusOK)
	recs := jsonlRecords(t, p.Body)
	if len(recs) != 3 {
		t.Errorf("export: %d entries, want 3: %v", len(recs), recs)
	}
	for _, r := range recs {
		if r["domain"] == "" {
			t.Errorf("export: an entry of no domain: %v", r)
		}
	}
}

// TestAuditFiltersDropInvisibleCharacters: a login and a domain pasted into the audit filters
// with zero-width characters in them find the login's entry, and the form and the export links
// show the filters without them.
func TestAuditFiltersDropInvisibleCharacters(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	const reset = "/d/acme.example/logins/bob@acme.example/reset"
	wantStatus(t, submit(t, c, reset, reset, map[string]string{"mode": "generate"}), http.StatusOK)

	p := get(t, c, "/audit?domain=acme.example%E2%80%8C&login="+url.QueryEscape("bob\u200b@acme.example\ufeff"))
	wantStatus(t, p, http.StatusOK)
	rows := p.TestID("audit-row")
	if rows.Length() != 1 || !strings.Contains(rows.Find(`[data-testid="audit-logins"]`).Text(), "bob@acme.example") {
		t.Errorf("the pasted filter shows %d rows (%q), want bob's reset", rows.Length(), strings.Join(strings.Fields(rows.Text()), " "))
	}
	if got := p.TestID("filter-login").AttrOr("value", ""); got != "bob@acme.example" {
		t.Errorf("the login box shows %q, want bob@acme.example", got)
	}
	if got := p.Find(`[data-testid="filter-domain"] option[selected]`).AttrOr("value", ""); got != "acme.example" {
		t.Errorf("the domain filter shows %q, want acme.example", got)
	}
	if p.TestID("filter-problems").Length() != 0 {
		t.Errorf("the page names problems: %q", p.TestID("filter-problems").Text())
	}
	if got, want := p.TestID("export-csv").AttrOr("href", ""), "/audit/export.csv?domain=acme.example&login=bob%40acme.example"; got != want {
		t.Errorf("the export link is %q, want %q", got, want)
	}
	if got := p.TestID("history-of").Text(); !strings.Contains(got, "bob@acme.example") || strings.Contains(got, "\u200b") {
		t.Errorf("the page says %q", got)
	}
}

// TestAuditNamesTheLoginThatExists: a create of several logins that Mailgun refused because one
// exists is in each login's history; it said "A login with that name already exists" in all of
// them, so a reviewer reading a new login's history was told that login had existed. The entry
// names the login Mailgun named (from the entry's own logins: Mailgun's text is never shown) and
// that none of them was created.
func TestAuditNamesTheLoginThatExists(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	const path = "/d/acme.example/new"
	p := submit(t, c, path, path, map[string]string{"logins": "fresh-one\nalice\nfresh-two", "mode": "generate"})
	if p.Status < 400 {
		t.Fatalf("create with an existing login = %d, want a refusal", p.Status)
	}
	const want = "alice@acme.example already exists in this domain, so Mailgun created none of the 3 logins."
	history := get(t, c, "/audit?domain=acme.example&login=fresh-one%40acme.example")
	row := history.TestID("audit-row")
	if row.Length() != 1 {
		t.Fatalf("fresh-one's history has %d entries, want the refused create", row.Length())
	}
	if got := strings.Join(strings.Fields(row.Find(`[data-testid="audit-upstream"]`).Text()), " "); got != "400 "+want {
		t.Errorf("fresh-one's history says %q, want %q", got, "400 "+want)
	}
	for _, rec := range jsonlRecords(t, get(t, c, "/audit/export.jsonl?action=credential.create").Body) {
		if rec["upstream_message"] != want {
			t.Errorf("JSON Lines: %q, want %q", rec["upstream_message"], want)
		}
	}
}

// TestAuditPastTheLastPage: an "Older entries" link followed after the entries past it were
// removed (retention), or a cursor typed by hand, finds nothing. The page said "No audit entries
// yet", which tells a reviewer that nothing was ever recorded, while the newest page is full.
func TestAuditPastTheLastPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	seedAudit(t, e, 3, "acme.example", "credential.reset", "alice@acme.example")
	c := e.signIn(t, "admin")
	for _, path := range []string{"/audit?before=1", "/audit?domain=acme.example&before=1"} {
		p := get(t, c, path)
		wantStatus(t, p, http.StatusOK)
		title := strings.TrimSpace(p.TestID("empty-state").Find("h2").Text())
		if title != "No older entries" {
			t.Errorf("%s: empty state %q, want %q", path, title, "No older entries")
		}
		if href := p.TestID("empty-state").Find("a").AttrOr("href", ""); !strings.HasPrefix(href, "/audit") || strings.Contains(href, "before=") {
			t.Errorf("%s: the empty state links to %q, want the newest entries", path, href)
		}
	}
}

// TestAuditDomainOutsideScope: a reviewer who follows a link to the trail of a domain they may
// not view (a colleague's "History" link, say) saw "Nothing recorded for alice@acme.example yet"
// or "No entries match these filters", which reads as "nobody touched it" while the trail holds
// its creates and resets. The page now says why nothing is shown, and the exports refuse the
// link rather than send an empty file.
func TestAuditDomainOutsideScope(t *testing.T) {
	e := newEnv(t, envOptions{})
	seedAudit(t, e, 2, "acme.example", "credential.reset", "alice@acme.example")
	seedAudit(t, e, 1, "example.com", "credential.reset", "user001@example.com")
	c := e.signIn(t, "reviewer") // views example.com and newsletter.example.org
	for _, path := range []string{"/audit?domain=acme.example", "/audit?domain=acme.example&login=alice%40acme.example"} {
		p := get(t, c, path)
		wantStatus(t, p, http.StatusOK)
		if n := p.TestID("audit-row").Length(); n != 0 {
			t.Errorf("%s: the reviewer sees %d entries of acme.example", path, n)
		}
		if got := p.TestID("filter-problems").Text(); !strings.Contains(got, "acme.example") || !strings.Contains(got, "may not view") {
			t.Errorf("%s: the page does not say that acme.example is outside the reviewer's view: problems %q, page %.200q",
				path, got, p.TestID("empty-state").Text())
		}
		if got := p.TestID("empty-state").Text(); strings.Contains(got, "Nothing recorded") {
			t.Errorf("%s: the empty state says %q", path, got)
		}
		// The exports would refuse these filters: the page offers none.
		if n := p.TestID("export-csv").Length() + p.TestID("export-jsonl").Length(); n != 0 {
			t.Errorf("%s: %d export links offered for filters the exports refuse", path, n)
		}
	}
	for _, path := range []string{"/audit/export.csv?domain=acme.example", "/audit/export.jsonl?domain=acme.example"} {
		p := get(t, c, path)
		wantStatus(t, p, http.StatusBadRequest)
	}
	// A login's history alone, of a domain the reviewer may not view: the same, not "Nothing
	// recorded for alice@acme.example yet".
	p := get(t, c, "/audit?login=alice%40acme.example")
	if got := p.TestID("filter-problems").Text(); !strings.Contains(got, "may not view acme.example") {
		t.Errorf("a login of acme.example for its non-reviewer: problems %q", got)
	}
	if got := p.TestID("empty-state").Text(); strings.Contains(got, "Nothing recorded") {
		t.Errorf("a login of acme.example for its non-reviewer: the empty state says %q", got)
	}
	wantStatus(t, get(t, c, "/audit/export.csv?login=alice%40acme.example"), http.StatusBadRequest)
	// A domain they may view, and every domain for an administrator, are filtered as before.
	if p := get(t, c, "/audit?domain=example.com"); p.TestID("filter-problems").Length() != 0 || p.TestID("audit-row").Length() != 1 {
		t.Errorf("example.com for its reviewer: problems %q, %d rows", p.TestID("filter-problems").Text(), p.TestID("audit-row").Length())
	}
	a := e.signIn(t, "admin")
	// A login of another domain than the domain filter's: no entry can match both, and the page
	// says so instead of "Nothing recorded" for the login.
	if p := get(t, a, "/audit?domain=example.com&login=alice%40acme.example"); !strings.Contains(p.TestID("filter-problems").Text(), "alice@acme.example is not in example.com") ||
		strings.Contains(p.TestID("empty-state").Text(), "Nothing recorded") {
		t.Errorf("a login of another domain: problems %q, empty state %q", p.TestID("filter-problems").Text(), p.TestID("empty-state").Text())
	}
	if p := get(t, a, "/audit?domain=acme.example&login=alice%40acme.example"); p.TestID("filter-problems").Length() != 0 || p.TestID("audit-row").Length() != 2 {
		t.Errorf("alice's history for the admin: problems %q, %d rows, want none and 2", p.TestID("filter-problems").Text(), p.TestID("audit-row").Length())
	}
	if p := get(t, a, "/audit?domain=acme.example"); p.TestID("filter-problems").Length() != 0 || p.TestID("audit-row").Length() != 2 {
		t.Errorf("acme.example for an administrator: problems %q, %d rows", p.TestID("filter-problems").Text(), p.TestID("audit-row").Length())
	}
}

// TestAuditPageSaysItsScope: the audit page tells a user who is not an administrator which
// entries it shows them. A reviewer asking "what did this user do?" of someone who acted only on
// a domain outside the reviewer's view got "No entries match these filters", and an unfiltered
// trail without one sign-in, with nothing to say that entries were left out: both read as
// answers ("nothing", "nobody signed in") when they were the reviewer's scope.
func TestAuditPageSaysItsScope(t *testing.T) {
	e := newEnv(t, envOptions{})
	seedAudit(t, e, 2, "acme.example", "credential.reset", "alice@acme.example") // by seed@test.example
	tests := []struct {
		persona string
		want    []string // in the scope note; nil: no note
	}{
		{"reviewer", []string{"only the entries of example.com and newsletter.example.org, the domains you may view.",
			"Sign-ins, sign-outs,", "the integrity check are for administrators only"}},
		{"operator", []string{"only the entries of acme.example, the one domain you may view."}},
		{"auditor", []string{"You see the entries of every domain.", "Sign-ins, sign-outs,", "for administrators only"}},
		{"admin", nil},
	}
	for _, tt := range tests {
		t.Run(tt.persona, func(t *testing.T) {
			c := e.signIn(t, tt.persona)
			p := get(t, c, "/audit?actor=seed")
			wantStatus(t, p, http.StatusOK)
			note := strings.Join(strings.Fields(p.TestID("audit-scope").Text()), " ")
			if tt.want == nil {
				if note != "" {
					t.Errorf("an administrator sees every entry, yet the page says %q", note)
				}
				return
			}
			for _, w := range tt.want {
				if !strings.Contains(note, w) {
					t.Errorf("scope note %q lacks %q (rows: %d, empty state %q)", note, w,
						p.TestID("audit-row").Length(), p.TestID("empty-state").Text())
				}
			}
			// One sentence shows; what only administrators see is under a disclosure whose
			// summary names sign-ins (six lines on a phone pushed the filters out of sight).
			more := p.Find(`[data-testid="audit-scope"] details`)
			if summary := more.Find("summary").Text(); !strings.Contains(summary, "sign-ins") {
				t.Errorf("the scope note's disclosure is %q, want a summary naming sign-ins", summary)
			}
			if hidden := strings.Join(strings.Fields(more.Find("p").Text()), " "); !strings.Contains(hidden, "for administrators only") {
				t.Errorf("the scope note's disclosure holds %q, want what only administrators see", hidden)
			}
		})
	}
	// The reviewer's trail is empty (the entries are acme.example's): its empty state does not
	// promise sign-ins, which it never shows them.
	p := get(t, e.signIn(t, "reviewer"), "/audit")
	if got := p.TestID("empty-state").Text(); !strings.Contains(got, "of your domains") || strings.Contains(got, "sign-in") {
		t.Errorf("the reviewer's empty trail says %q", strings.Join(strings.Fields(got), " "))
	}
}
