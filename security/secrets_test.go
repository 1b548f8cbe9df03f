package security_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

func TestSecurity18NoSecretsInLogsOrDatabase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	sid := e.sessionID(e.sessionCookie(admin).Value)
	if sid == "" {
		t.Fatal("could not read the session id from the cookie")
	}

	created := submit(t, admin, "/d/example.com/new", "/d/example.com/new", url.Values{"logins": {"leak-a\nleak-b"}, "mode": {"generate"}})
	reset := submit(t, admin, "/d/example.com/logins/user001@example.com/reset", "/d/example.com/logins/user001@example.com/reset", url.Values{"mode": {"generate"}})
	var passwords []string
	for name, pg := range map[string]struct {
		status int
		hdr    http.Header
		pw     []string
		url    *url.URL
	}{
		"create": {created.Status, created.Header, notePasswords(e, created), created.URL},
		"reset":  {reset.Status, reset.Header, notePasswords(e, reset), reset.URL},
	} {
		if pg.status != http.StatusOK || len(pg.pw) == 0 {
			t.Fatalf("%s = %d showing %d passwords, want 200 and the generated ones", name, pg.status, len(pg.pw))
		}
		if cc := pg.hdr.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("%s page Cache-Control = %q, want no-store", name, cc)
		}
		for _, pw := range pg.pw {
			if strings.Contains(pg.url.String(), pw) || strings.Contains(strings.Join(pg.hdr.Values("Set-Cookie"), "\n"), pw) ||
				strings.Contains(pg.hdr.Get("Location"), pw) {
				t.Errorf("%s: a generated password is in the URL or a cookie", name)
			}
		}
		passwords = append(passwords, pg.pw...)
	}
	if !sandboxAccepts(e, "example.com", "user001@example.com", passwords) {
		t.Error("none of the shown passwords is user001's new password: the scan would look for the wrong strings")
	}
	// The next page (with the success flash) no longer shows any password.
	next := get(t, admin, "/d/example.com")
	for _, pw := range passwords {
		if strings.Contains(string(next.Body), pw) {
			t.Error("a generated password is shown again on the next page (flash?)")
		}
	}
	for _, en := range e.audit(store.AuditFilter{}) {
		b, _ := json.Marshal(en)
		for _, pw := range passwords {
			if strings.Contains(string(b), pw) {
				t.Errorf("audit entry %d holds a generated password", en.ID)
			}
		}
	}
	logs := e.Logs.String()
	if !strings.Contains(logs, "/d/example.com/new") || !strings.Contains(logs, "/reset") {
		t.Fatalf("the log capture missed the create and reset requests:\n%s", logs)
	}
	// The log output and the database files: no password, no key, no session id.
	e.secret(sid, "session id")
	if leaks := e.leaks(); len(leaks) > 0 {
		t.Errorf("secrets leaked: %v", leaks)
	}
}

// TestSecurity18TypedPasswordNotLogged: a password typed into the reset form is as secret as a
// generated one. When Mailgun refuses the change or fails, the log records the failure (the
// login, the error) and the form comes back, and neither holds the password. Mailgun's answer
// quotes what it was sent, the password and the Authorization header (a proxy's error page may),
// so that the error the log records could carry both: only their redaction keeps them out.
func TestSecurity18TypedPasswordNotLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	for _, status := range []int{http.StatusBadRequest, http.StatusInternalServerError} {
		pw := "Typed-" + randHex(t, 8) + "-Pw1"
		e.secret(pw, "typed password")
		e.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodPut {
				return false
			}
			if got := r.FormValue("password"); got != pw {
				t.Errorf("Mailgun %d: the reset sent the password %q, want the typed one: the echo below would quote the wrong string", status, got)
			}
			msg, _ := json.Marshal(map[string]string{"message": "password " + r.FormValue("password") + " not accepted now (" + r.Header.Get("Authorization") + ")"})
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write(msg)
			return true
		})
		before := len(e.Logs.Lines())
		resp, body := raw(t, admin, http.MethodPost, "/d/example.com/logins/user041@example.com/reset",
			url.Values{"_csrf": {csrf(t, admin)}, "mode": {"manual"}, "password": {pw}, "password2": {pw}},
			http.Header{"Sec-Fetch-Site": {"same-origin"}})
		e.Intercept(nil)
		if resp.StatusCode < 400 {
			t.Fatalf("reset with Mailgun answering %d = %d, want an error page", status, resp.StatusCode)
		}
		if strings.Contains(body, pw) {
			t.Errorf("Mailgun %d: the page shows the typed password", status)
		}
		if strings.Contains(body, e.APIKey) || strings.Contains(body, base64.RawStdEncoding.EncodeToString([]byte("api:"+e.APIKey))) {
			t.Errorf("Mailgun %d: the page shows the API key Mailgun's answer quoted", status)
		}
		if logged := strings.Join(e.Logs.Lines()[before:], "\n"); !strings.Contains(logged, "user041@example.com") {
			t.Fatalf("Mailgun %d: the failed reset was not logged; the scan below proves nothing", status)
		}
	}
	if leaks := e.leaks(); len(leaks) > 0 {
		t.Errorf("secrets leaked: %v", leaks)
	}
}

// sandboxAccepts reports whether one of passwords is login's password in the sandbox.
func sandboxAccepts(e *env, domain, login string, passwords []string) bool {
	for _, pw := range passwords {
		if e.Sandbox.CheckPassword(domain, login, pw) {
			return true
		}
	}
	return false
}

func TestSecurity19UpstreamErrorBodyHidden(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	marker := "MARKER-" + randHex(t, 6)
	for _, tc := range []struct {
		name   string
		method string
		path   string // the app's page
		status int    // what the fake upstream answers
		ctype  string
		body   string
		form   url.Values
	}{
		{"500 JSON on list", http.MethodGet, "/d/example.com", 500, "application/json", `{"message":"` + marker + ` at db-7 /internal/stack"}`, nil},
		{"502 HTML on list", http.MethodGet, "/d/acme.example", 502, "text/html", `<html><body>` + marker + ` upstream proxy</body></html>`, nil},
		{"400 JSON on create", http.MethodPost, "/d/example.com/new", 400, "application/json", `{"message":"` + marker + ` internal validation"}`, url.Values{"logins": {"marker-test"}, "mode": {"generate"}}},
		{"404 text on reset", http.MethodPost, "/d/example.com/logins/user010@example.com/reset", 404, "text/plain", marker, url.Values{"mode": {"generate"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == "/v4/domains" {
					return false
				}
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
				return true
			})
			defer e.Intercept(nil)
			var resp *http.Response
			var body string
			if tc.method == http.MethodGet {
				resp, body = raw(t, admin, tc.method, tc.path, nil, nil)
			} else {
				f := tc.form
				f.Set("_csrf", csrf(t, admin))
				resp, body = raw(t, admin, tc.method, tc.path, f, http.Header{"Sec-Fetch-Site": {"same-origin"}})
			}
			if resp.StatusCode < 400 {
				t.Fatalf("%s = %d, want an error page", tc.path, resp.StatusCode)
			}
			if strings.Contains(body, marker) {
				t.Errorf("%s (%d): the upstream body reached the page", tc.path, resp.StatusCode)
			}
			if rid := resp.Header.Get("X-Request-Id"); rid == "" || !strings.Contains(body, rid) {
				t.Errorf("%s: the page does not show the request id %q", tc.path, rid)
			}
		})
	}
	// The refused create and reset are in the audit trail, whose page and exports show SMTP
	// Desk's words for Mailgun's text too, to an administrator and to a viewer of the domain.
	reviewer := e.signIn("reviewer")
	for _, c := range []*testflow.Client{admin, reviewer} {
		for _, path := range []string{"/audit", "/audit?domain=example.com", "/audit/export.csv", "/audit/export.jsonl"} {
			resp, body := raw(t, c, http.MethodGet, path, nil, nil)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Mailgun refused the request") {
				t.Errorf("GET %s = %d, want 200 naming the refusal in SMTP Desk's words", path, resp.StatusCode)
			}
			if strings.Contains(body, marker) {
				t.Errorf("GET %s: Mailgun's text is shown as it is", path)
			}
		}
	}
}

func TestSecurity20LogInjection(t *testing.T) {
	t.Parallel()
	for _, text := range []bool{false, true} {
		t.Run(fmt.Sprintf("text=%v", text), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, options{TextLogs: text})
			admin := e.signIn("admin")
			tok := csrf(t, admin)
			forged := url.PathEscape("evil\r\n{\"level\":\"ERROR\",\"msg\":\"FORGED\"}\r\ntime=x level=ERROR msg=FORGED\n") + "@example.com"
			before := len(e.Logs.Lines())
			for _, path := range []string{
				"/d/example.com/logins/" + forged + "/reset",
				"/d/example.com/logins/" + forged + "/delete",
			} {
				resp, _ := raw(t, admin, http.MethodPost, path, url.Values{"_csrf": {tok}, "mode": {"generate"}}, http.Header{"Sec-Fetch-Site": {"same-origin"}})
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("POST with a CR/LF login = %d, want 400", resp.StatusCode)
				}
				raw(t, admin, http.MethodGet, path, nil, nil)
			}
			lines := e.Logs.Lines()[before:]
			if len(lines) == 0 {
				t.Fatal("nothing logged for the requests")
			}
			seen := false
			for _, l := range lines {
				if text {
					if !strings.HasPrefix(l, "time=") {
						t.Errorf("log line does not start a record: %q", l)
					}
				} else {
					var rec map[string]any
					if err := json.Unmarshal([]byte(l), &rec); err != nil {
						t.Errorf("log line is not one JSON record: %q", l)
						continue
					}
					if rec["msg"] == "FORGED" {
						t.Errorf("a forged record: %q", l)
					}
				}
				if strings.Contains(l, "evil") {
					seen = true
				}
			}
			if !seen {
				t.Error("the injected login was not logged at all: the test proves nothing")
			}
		})
	}
}

func TestSecurity21UpstreamDeadline(t *testing.T) {
	t.Parallel()
	// The hang lasts until the client leaves, so only the deadline ends it, and this test
	// waits it out once. It is 3s, not 300ms: the calls that must succeed under the same
	// deadline (the sign-in's, the form's, the list's after recovery) could take longer than
	// 300ms on a loaded machine. (The default 10s would hold one of the package's parallel
	// slots for that long.)
	e := newEnv(t, options{MailgunTimeout: 3 * time.Second})
	admin := e.signIn("admin")
	// An upstream that hangs far longer than the client waits: only the deadline can answer.
	// Two minutes, not an hour: without a deadline the list then answers 200 and the test fails,
	// where it hung until the package's timeout.
	e.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteList}, Latency: 2 * time.Minute})
	pg := get(t, admin, "/d/newsletter.example.org")
	if pg.Status != http.StatusGatewayTimeout {
		t.Fatalf("list with a hanging Mailgun = %d, want 504", pg.Status)
	}
	if txt := strings.ToLower(pg.Text()); !strings.Contains(txt, "in time") && !strings.Contains(txt, "too long") {
		t.Errorf("504 page does not say Mailgun did not answer in time: %q", pg.Text())
	}
	e.Sandbox.SetFaults(sandbox.Faults{})
	if pg := get(t, admin, "/d/newsletter.example.org"); pg.Status != http.StatusOK {
		t.Errorf("after the upstream recovered = %d, want 200", pg.Status)
	}
}

// failFirst answers the first n calls matching method and path prefix with status (and
// Retry-After), then lets calls through. When apply is set the failing calls still reach the
// sandbox (the change is made, the answer lost).
type failFirst struct {
	method, prefix string
	n              int32
	status         int
	retryAfter     string
	apply          bool
	seen           atomic.Int32
	e              *env
}

func (f *failFirst) handle(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != f.method || !strings.HasPrefix(r.URL.Path, f.prefix) {
		return false
	}
	if f.seen.Add(1) > f.n {
		return false
	}
	if f.apply {
		f.e.Sandbox.ServeHTTP(discard{h: http.Header{}}, r)
	}
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.status)
	fmt.Fprintf(w, `{"message":%q}`, http.StatusText(f.status))
	return true
}

type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

func TestSecurity22ReadsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	t.Run("GET on 503 then 429", func(t *testing.T) {
		f := &failFirst{method: http.MethodGet, prefix: "/v3/domains/newsletter.example.org/credentials", n: 1, status: 503, e: e}
		g := &failFirst{method: http.MethodGet, prefix: "/v3/domains/newsletter.example.org/credentials", n: 1, status: 429, retryAfter: "1", e: e}
		e.Intercept(func(w http.ResponseWriter, r *http.Request) bool { return f.handle(w, r) || g.handle(w, r) })
		defer e.Intercept(nil)
		if pg := get(t, admin, "/d/newsletter.example.org"); pg.Status != http.StatusOK {
			t.Errorf("list after a 503 and a 429 = %d, want 200 (retried)", pg.Status)
		}
		if f.seen.Load() < 2 || g.seen.Load() < 2 {
			t.Errorf("attempts: %d, %d; want the list retried past both faults", f.seen.Load(), g.seen.Load())
		}
	})
	t.Run("PUT on 500", func(t *testing.T) {
		f := &failFirst{method: http.MethodPut, prefix: "/v3/domains/example.com/credentials/user020@example.com", n: 1, status: 500, e: e}
		e.Intercept(f.handle)
		defer e.Intercept(nil)
		pg := submit(t, admin, "/d/example.com/logins/user020@example.com/reset", "/d/example.com/logins/user020@example.com/reset", url.Values{"mode": {"generate"}})
		pws := notePasswords(e, pg)
		if pg.Status != http.StatusOK || !sandboxAccepts(e, "example.com", "user020@example.com", pws) {
			t.Errorf("reset after one 500 = %d with %d passwords; want 200 and the new password", pg.Status, len(pws))
		}
	})
	t.Run("DELETE retried after 404 counts as done", func(t *testing.T) {
		f := &failFirst{method: http.MethodDelete, prefix: "/v3/domains/example.com/credentials/user021@example.com", n: 1, status: 503, apply: true, e: e}
		e.Intercept(f.handle)
		defer e.Intercept(nil)
		pg := submit(t, admin, "/d/example.com/logins/user021@example.com/delete", "/d/example.com/logins/user021@example.com/delete", url.Values{})
		if pg.Status != http.StatusOK || pg.URL.Path != "/d/example.com" {
			t.Errorf("delete whose first answer was lost = %d at %s, want the list", pg.Status, pg.URL)
		}
		for _, l := range e.Sandbox.Logins("example.com") {
			if l == "user021@example.com" {
				t.Error("user021 still exists")
			}
		}
		es := e.audit(store.AuditFilter{Action: "credential.delete", Login: "user021@example.com"})
		if len(es) != 1 || es[0].Outcome != "ok" {
			t.Errorf("audit = %+v, want one ok delete", es)
		}
	})
}

func TestSecurity23CreateNeverRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.signIn("admin")
	for _, f := range []sandbox.Faults{
		{Routes: []string{sandbox.RouteCreate}, Status: 503, Rate: 1},
		{Routes: []string{sandbox.RouteCreate}, Status: 503, Rate: 1, AfterApply: true},
		{Routes: []string{sandbox.RouteCreate}, Drop: true, Rate: 1, AfterApply: true},
	} {
		login := "never-twice-" + randHex(t, 3)
		e.Sandbox.ResetCalls()
		e.Sandbox.SetFaults(f)
		pg := submit(t, admin, "/d/acme.example/new", "/d/acme.example/new", url.Values{"logins": {login}, "mode": {"generate"}})
		e.Sandbox.SetFaults(sandbox.Faults{})
		if n := len(e.calls(sandbox.RouteCreate)); n != 1 {
			t.Errorf("fault %+v: %d create calls, want exactly 1 (never retried)", f, n)
		}
		txt := strings.ToLower(pg.Text())
		if pg.Status < 500 || !strings.Contains(txt, "cannot tell whether the login was created") {
			t.Errorf("fault %+v: page %d %q, want a 5xx saying the outcome is unknown", f, pg.Status, pg.Text())
		}
		if pg.Find(`a[href*="/d/acme.example"]`).Length() == 0 {
			t.Errorf("fault %+v: no link to re-check the list", f)
		}
		es := e.audit(store.AuditFilter{Action: "credential.create", Login: login + "@acme.example"})
		if len(es) != 1 || es[0].Outcome != "unknown" {
			t.Errorf("fault %+v: audit %+v, want one entry with outcome unknown", f, es)
		}
	}
}

// TestSecurity24ActionRateLimit: once a user has spent the minute's budget, each mutating
// action that sends Mailgun a change (create and reset here; the deletes in
// TestSecurity24DeleteRateLimited) is refused with 429, a Retry-After and the wait in the page,
// and sends nothing; another user still acts.
func TestSecurity24ActionRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{ActionsPerMinute: 2})
	admin := e.signIn("admin")
	for i := range 2 {
		pg := submit(t, admin, "/d/example.com/logins/user030@example.com/reset", "/d/example.com/logins/user030@example.com/reset", url.Values{"mode": {"generate"}})
		notePasswords(e, pg)
		if pg.Status != http.StatusOK {
			t.Fatalf("reset %d within the budget = %d", i+1, pg.Status)
		}
	}
	tok := csrf(t, admin)
	e.secret("Over-Budget-1", "typed password")
	e.Sandbox.ResetCalls()
	for _, tc := range []struct {
		name, path string
		form       url.Values
	}{
		{"create", "/d/example.com/new", url.Values{"logins": {"over-budget"}, "mode": {"generate"}}},
		{"reset", "/d/example.com/logins/user031@example.com/reset", url.Values{"mode": {"generate"}}},
		{"manual reset", "/d/example.com/logins/user031@example.com/reset", url.Values{"mode": {"manual"}, "password": {"Over-Budget-1"}, "password2": {"Over-Budget-1"}}},
	} {
		tc.form.Set("_csrf", tok)
		resp, body := raw(t, admin, http.MethodPost, tc.path, tc.form, http.Header{"Sec-Fetch-Site": {"same-origin"}})
		noteBody(t, e, body)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("%s over the budget = %d, want 429", tc.name, resp.StatusCode)
			continue
		}
		if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("%s: Retry-After = %q, want seconds", tc.name, ra)
		}
		if !strings.Contains(body, "seconds") {
			t.Errorf("%s: the 429 page gives no retry hint", tc.name)
		}
	}
	if calls := e.Sandbox.Calls(); len(calls) != 0 {
		t.Errorf("the refused actions reached Mailgun: %+v", calls)
	}
	// The budget is per user: another user still acts.
	op := e.signIn("operator")
	pg := submit(t, op, "/d/acme.example/new", "/d/acme.example/new", url.Values{"logins": {"other-user"}, "mode": {"generate"}})
	notePasswords(e, pg)
	if pg.Status != http.StatusOK {
		t.Errorf("another user's action = %d, want 200", pg.Status)
	}
}
