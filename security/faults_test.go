package security_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// drillCreate creates login in acme.example under fault f and checks what the user sees, the
// audit trail and the sandbox; then the fault ends and the same create must succeed once.
func drillCreate(t *testing.T, e *env, f sandbox.Faults, wantStatus int, wantText, wantOutcome string) {
	t.Helper()
	admin := e.signIn("admin")
	login := "drill-" + randHex(t, 3)
	full := login + "@acme.example"
	e.Sandbox.ResetCalls()
	e.Sandbox.SetFaults(f)
	pg := submit(t, admin, "/d/acme.example/new", "/d/acme.example/new", url.Values{"logins": {login}, "mode": {"generate"}})
	e.Sandbox.SetFaults(sandbox.Faults{})
	notePasswords(e, pg)
	if pg.Status != wantStatus || !strings.Contains(strings.ToLower(pg.Text()), wantText) {
		t.Errorf("under the fault the page is %d %q; want %d saying %q", pg.Status, pg.Text(), wantStatus, wantText)
	}
	if n := len(e.calls(sandbox.RouteCreate)); n != 1 {
		t.Errorf("%d create calls under the fault, want 1", n)
	}
	es := e.audit(store.AuditFilter{Action: "credential.create", Login: full})
	if len(es) != 1 || es[0].Outcome != wantOutcome {
		t.Errorf("audit under the fault = %+v, want one %q entry", es, wantOutcome)
	}
	applied := count(e.Sandbox.Logins("acme.example"), full)
	// Recovery: the user re-checks the list and, if the login is missing, creates it again.
	list := get(t, admin, "/d/acme.example?q="+login)
	if list.Status != http.StatusOK {
		t.Fatalf("list after the fault = %d", list.Status)
	}
	if applied == 0 {
		pg = submit(t, admin, "/d/acme.example/new", "/d/acme.example/new", url.Values{"logins": {login}, "mode": {"generate"}})
		pws := notePasswords(e, pg)
		if pg.Status != http.StatusOK || !sandboxAccepts(e, "acme.example", full, pws) {
			t.Errorf("create after the fault ended = %d with %d passwords, want 200 and a working password", pg.Status, len(pws))
		}
		es = e.audit(store.AuditFilter{Action: "credential.create", Login: full})
		if len(es) != 2 || es[0].Outcome != "ok" {
			t.Errorf("audit after recovery = %+v, want the retry recorded ok", es)
		}
	}
	if n := count(e.Sandbox.Logins("acme.example"), full); n != 1 {
		t.Errorf("%s exists %d times after the drill, want exactly once", full, n)
	}
	for _, en := range e.audit(store.AuditFilter{Outcome: "pending"}) {
		t.Errorf("audit entry %d left pending", en.ID)
	}
}

func count(list []string, v string) int {
	n := 0
	for _, x := range list {
		if strings.EqualFold(x, v) {
			n++
		}
	}
	return n
}

func TestFaultSlowPastDeadline(t *testing.T) {
	t.Parallel()
	// The hang lasts until the client leaves, so only the deadline ends it, and this test
	// waits it out once. It is 3s, not 300ms: the calls that must succeed under the same
	// deadline (the sign-in's, the form's, the list's after recovery) could take longer than
	// 300ms on a loaded machine. (The default 10s would hold one of the package's parallel
	// slots for that long.)
	e := newEnv(t, options{MailgunTimeout: 3 * time.Second})
	drillCreate(t, e, sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Latency: time.Hour}, http.StatusGatewayTimeout, "cannot tell whether the login was created", "unknown")
}

func TestFaultRateLimitedWithRetryAfter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	e.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Status: 429, RetryAfter: 30 * time.Second, Rate: 1})
	tok := csrf(t, admin)
	resp, body := raw(t, admin, http.MethodPost, "/d/acme.example/new", url.Values{"_csrf": {tok}, "logins": {"rl"}, "mode": {"generate"}}, http.Header{"Sec-Fetch-Site": {"same-origin"}})
	e.Sandbox.SetFaults(sandbox.Faults{})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "30" || !strings.Contains(body, "rate-limiting") {
		t.Errorf("create under Mailgun 429 = %d Retry-After %q; want 429, 30 and a rate-limit message", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if n := len(e.calls(sandbox.RouteCreate)); n != 1 {
		t.Errorf("%d create calls, want 1 (a POST is not retried)", n)
	}
	es := e.audit(store.AuditFilter{Action: "credential.create", Login: "rl@acme.example"})
	if len(es) != 1 || es[0].Outcome != "failed" || es[0].UpstreamStatus != 429 {
		t.Errorf("audit = %+v, want one failed entry with upstream 429", es)
	}
	drillCreate(t, e, sandbox.Faults{}, http.StatusOK, "", "ok") // recovered
}

func TestFaultServerErrorBursts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	// A domain per burst: the app caches list pages for a few seconds.
	for status, domain := range map[int]string{500: "newsletter.example.org", 503: "empty.example"} {
		// Reads: a burst longer than the retries gives a clear 502; it ends, the page works.
		e.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteList}, Status: status, Rate: 1})
		pg := get(t, admin, "/d/"+domain)
		if pg.Status != http.StatusBadGateway || !strings.Contains(pg.Text(), "Mailgun") {
			t.Errorf("list under a %d burst = %d %q, want 502 naming Mailgun", status, pg.Status, pg.Text())
		}
		e.Sandbox.SetFaults(sandbox.Faults{})
		if pg := get(t, admin, "/d/"+domain); pg.Status != http.StatusOK {
			t.Errorf("list after the burst = %d, want 200", pg.Status)
		}
		// A reset under the burst: Mailgun's 5xx may come after the change, so it is recorded
		// as unknown (with Mailgun's status) and the page does not claim that nothing changed;
		// then it works.
		e.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteUpdate}, Status: status, Rate: 1})
		pg = submit(t, admin, "/d/example.com/logins/user040@example.com/reset", "/d/example.com/logins/user040@example.com/reset", url.Values{"mode": {"generate"}})
		e.Sandbox.SetFaults(sandbox.Faults{})
		if pg.Status != http.StatusBadGateway || len(notePasswords(e, pg)) != 0 || strings.Contains(strings.ToLower(pg.Text()), "nothing was changed") {
			t.Errorf("reset under a %d burst = %d %q, want 502, no password and no claim that nothing changed", status, pg.Status, pg.Text())
		}
		pg = submit(t, admin, "/d/example.com/logins/user040@example.com/reset", "/d/example.com/logins/user040@example.com/reset", url.Values{"mode": {"generate"}})
		if pws := notePasswords(e, pg); pg.Status != http.StatusOK || !sandboxAccepts(e, "example.com", "user040@example.com", pws) {
			t.Errorf("reset after the burst = %d, want 200 with the new password", pg.Status)
		}
	}
	es := e.audit(store.AuditFilter{Action: "credential.reset", Login: "user040@example.com"})
	var outcomes []string
	for _, en := range es {
		if en.Outcome == "unknown" && en.UpstreamStatus < 500 {
			t.Errorf("unknown reset entry with upstream status %d, want the burst's 5xx", en.UpstreamStatus)
		}
		outcomes = append(outcomes, en.Outcome)
	}
	if got, want := strings.Join(outcomes, ","), "ok,unknown,ok,unknown"; got != want {
		t.Errorf("reset audit outcomes (newest first) = %s, want %s", got, want)
	}
}

func TestFaultDroppedConnections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	t.Run("create", func(t *testing.T) {
		drillCreate(t, e, sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Drop: true, Rate: 1}, http.StatusBadGateway, "cannot tell whether the login was created", "unknown")
	})
	t.Run("create applied, answer lost", func(t *testing.T) {
		drillCreate(t, e, sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Drop: true, AfterApply: true, Rate: 1}, http.StatusBadGateway, "cannot tell whether the login was created", "unknown")
	})
	t.Run("reset applied, answer lost", func(t *testing.T) {
		admin := e.signIn("admin")
		e.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteUpdate}, Drop: true, AfterApply: true, Rate: 1})
		pg := submit(t, admin, "/d/example.com/logins/user041@example.com/reset", "/d/example.com/logins/user041@example.com/reset", url.Values{"mode": {"generate"}})
		e.Sandbox.SetFaults(sandbox.Faults{})
		// Mailgun did change the password (nobody knows the new one): the page must not claim
		// that nothing changed.
		if txt := strings.ToLower(pg.Text()); pg.Status < 500 || strings.Contains(txt, "nothing was changed") {
			t.Errorf("reset whose answer was lost = %d %q; want a 5xx that does not claim nothing changed", pg.Status, pg.Text())
		}
		es := e.audit(store.AuditFilter{Action: "credential.reset", Login: "user041@example.com"})
		if len(es) != 1 || es[0].Outcome != "unknown" {
			t.Errorf("audit = %+v, want one unknown reset", es)
		}
	})
	t.Run("list", func(t *testing.T) {
		admin := e.signIn("admin")
		e.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteList}, Drop: true, Rate: 1})
		pg := get(t, admin, "/d/newsletter.example.org?drop=1")
		e.Sandbox.SetFaults(sandbox.Faults{})
		if pg.Status != http.StatusBadGateway {
			t.Errorf("list with dropped connections = %d, want 502", pg.Status)
		}
		if pg := get(t, admin, "/d/newsletter.example.org?drop=0"); pg.Status != http.StatusOK {
			t.Errorf("list after the drops = %d, want 200", pg.Status)
		}
	})
}

// TestFaultServerErrorAfterApply: Mailgun applies a reset, a delete or a delete-all and then
// answers 503 (and so do the client's retries). The 503 does not say that nothing changed: the
// page says SMTP Desk cannot tell (with a link to the list where the list shows the outcome),
// and the audit entry is unknown with Mailgun's status, not failed.
func TestFaultServerErrorAfterApply(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	const pw = "Known-Before-503"
	e.secret(pw, "a login's password before the reset")
	for _, login := range []string{"reset-503@acme.example", "delete-503@acme.example"} {
		if err := e.Sandbox.AddCredential("acme.example", login, pw, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	after503 := func(route string) {
		e.Sandbox.SetFaults(sandbox.Faults{Routes: []string{route}, Status: http.StatusServiceUnavailable, Rate: 1, AfterApply: true})
	}
	check := func(t *testing.T, pg *testflow.Page, text, link, action, login string) {
		t.Helper()
		e.Sandbox.SetFaults(sandbox.Faults{})
		txt := strings.Join(strings.Fields(pg.Text()), " ")
		if pg.Status != http.StatusBadGateway || !strings.Contains(txt, text) || strings.Contains(strings.ToLower(txt), "nothing was changed") {
			t.Errorf("page = %d %.600q, want 502 saying %q and not that nothing was changed", pg.Status, txt, text)
		}
		if got := pg.TestID("upstream-error").Find("a").AttrOr("href", ""); got != link {
			t.Errorf("the panel's link leads to %q, want %q", got, link)
		}
		es := e.audit(store.AuditFilter{Action: action, Login: login})
		if len(es) != 1 || es[0].Outcome != "unknown" || es[0].UpstreamStatus != http.StatusServiceUnavailable {
			t.Errorf("audit = %+v, want one entry with outcome unknown and upstream 503", es)
		}
	}
	t.Run("reset", func(t *testing.T) {
		const path = "/d/acme.example/logins/reset-503@acme.example/reset"
		after503(sandbox.RouteUpdate)
		pg := submit(t, admin, path, path, url.Values{"mode": {"generate"}})
		check(t, pg, "Mailgun answered with an error, so SMTP Desk cannot tell whether the password changed. Reset it again to get a password you know.",
			"", "credential.reset", "reset-503@acme.example")
		if n := len(notePasswords(e, pg)); n != 0 {
			t.Errorf("the page shows %d passwords", n)
		}
		if e.Sandbox.CheckPassword("acme.example", "reset-503@acme.example", pw) {
			t.Error("the fault did not change the password first")
		}
	})
	t.Run("delete", func(t *testing.T) {
		const path = "/d/acme.example/logins/delete-503@acme.example/delete"
		after503(sandbox.RouteDelete)
		pg := submit(t, admin, path, path, nil)
		check(t, pg, "Mailgun answered with an error, so SMTP Desk cannot tell whether it was deleted. Check the list before trying again.",
			"/d/acme.example?q=delete-503", "credential.delete", "delete-503@acme.example")
		if slices.Contains(e.Sandbox.Logins("acme.example"), "delete-503@acme.example") {
			t.Error("the fault did not delete the login first")
		}
		if list := get(t, admin, "/d/acme.example?q=delete-503"); list.Status != http.StatusOK || strings.Contains(list.Text(), "delete-503@acme.example") {
			t.Errorf("the list the panel leads to = %d, showing the deleted login: %v", list.Status, strings.Contains(list.Text(), "delete-503@acme.example"))
		}
	})
	t.Run("delete all", func(t *testing.T) {
		const path = "/d/newsletter.example.org/delete-all"
		after503(sandbox.RouteDeleteAll)
		pg := submit(t, admin, path, path, url.Values{"confirm": {"newsletter.example.org"}})
		check(t, pg, "Mailgun answered with an error, so SMTP Desk cannot tell whether the logins were deleted. Check the list before trying again.",
			"/d/newsletter.example.org", "credential.delete_all", "news@newsletter.example.org")
		if got := e.Sandbox.Logins("newsletter.example.org"); slices.Contains(got, "news@newsletter.example.org") {
			t.Errorf("the fault did not delete the logins first: %v", got)
		}
	})
}

func TestFaultMalformedJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	drillCreate(t, e, sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Malformed: true, Rate: 1}, http.StatusBadGateway, "cannot tell whether the login was created", "unknown")
	admin := e.signIn("admin")
	e.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteList}, Malformed: true, Rate: 1})
	pg := get(t, admin, "/d/newsletter.example.org?m=1")
	e.Sandbox.SetFaults(sandbox.Faults{})
	if pg.Status != http.StatusBadGateway {
		t.Errorf("list with malformed JSON = %d, want 502", pg.Status)
	}
	if pg := get(t, admin, "/d/newsletter.example.org?m=0"); pg.Status != http.StatusOK {
		t.Errorf("list after = %d, want 200", pg.Status)
	}
}

// TestFaultDatabaseUnavailable: while another connection holds the SQLite write lock, the
// audit entry cannot be written, so the action is refused with 503 and nothing reaches
// Mailgun; once the lock is released the same action works. (Waits out the store's busy
// timeout, 10 s.)
func TestFaultDatabaseUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the SQLite busy timeout")
	}
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	tok := csrf(t, admin)

	db, err := sql.Open("sqlite", filepath.Join(e.DataDir, "smtpdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatalf("lock: %v", err)
	}
	e.Sandbox.ResetCalls()
	resp, body := raw(t, admin, http.MethodPost, "/d/acme.example/new", url.Values{"_csrf": {tok}, "logins": {"db-down"}, "mode": {"generate"}}, http.Header{"Sec-Fetch-Site": {"same-origin"}})
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "could not be recorded") {
		t.Errorf("create with the database locked = %d, want 503 saying the action could not be recorded", resp.StatusCode)
	}
	if n := len(e.Sandbox.Calls()); n != 0 {
		t.Errorf("%d Mailgun calls while the audit trail was unavailable, want 0", n)
	}
	if count(e.Sandbox.Logins("acme.example"), "db-down@acme.example") != 0 {
		t.Error("the login was created although the action was refused")
	}
	pg := submit(t, admin, "/d/acme.example/new", "/d/acme.example/new", url.Values{"logins": {"db-down"}, "mode": {"generate"}})
	if pws := notePasswords(e, pg); pg.Status != http.StatusOK || !sandboxAccepts(e, "acme.example", "db-down@acme.example", pws) {
		t.Errorf("create after the lock was released = %d, want 200", pg.Status)
	}
	es := e.audit(store.AuditFilter{Action: "credential.create", Login: "db-down@acme.example"})
	if len(es) != 1 || es[0].Outcome != "ok" {
		t.Errorf("audit = %+v, want exactly the successful create", es)
	}
}
