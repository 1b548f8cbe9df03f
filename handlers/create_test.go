package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// secretsOn returns login → password from a secrets page.
func secretsOn(p *testflow.Page) map[string]string {
	out := map[string]string{}
	p.TestID("secret-row").Each(func(_ int, s *goquery.Selection) {
		login := strings.TrimSpace(s.Find(`[data-testid="secret-login"]`).First().Text())
		out[login] = s.Find(`[data-testid="secret-password"]`).AttrOr("value", "")
	})
	return out
}

// assertSecretNowhere checks that a password shown once appears in no log line, URL, cookie
// or audit entry.
func assertSecretNowhere(t *testing.T, e *env, c *testflow.Client, p *testflow.Page, secret string) {
	t.Helper()
	if secret == "" {
		t.Fatal("no secret to look for")
	}
	if strings.Contains(e.Logs.String(), secret) {
		t.Error("the password is in the log")
	}
	for _, u := range append(p.Redirects, p.URL) {
		if strings.Contains(u.String(), secret) {
			t.Errorf("the password is in a URL: %s", u)
		}
	}
	for _, ck := range c.Cookies() {
		if strings.Contains(ck.Value, secret) {
			t.Errorf("the password is in cookie %s", ck.Name)
		}
	}
	for _, v := range p.Header {
		for _, h := range v {
			if strings.Contains(h, secret) {
				t.Error("the password is in a response header")
			}
		}
	}
	for _, a := range e.auditEntries(t, store.AuditFilter{}) {
		if strings.Contains(strings.Join(append(a.Logins, a.Detail, a.UpstreamMessage), " "), secret) {
			t.Errorf("the password is in audit entry %d", a.ID)
		}
	}
}

func TestCreateGenerated(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "operator")
	// The list is open (and kept) before the create: the one shown after it must be read again.
	if slices.Contains(loginsOn(get(t, c, "/d/acme.example")), "zed@acme.example") {
		t.Fatal("zed@acme.example is listed before the create")
	}
	e.SB.ResetCalls()
	p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{
		"logins": "zed\r\n\r\n  yara@acme.example \n", "mode": "generate"})
	wantStatus(t, p, http.StatusOK)
	if got := p.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := p.Header.Get("Pragma"); got != "no-cache" {
		t.Errorf("Pragma = %q, want no-cache", got)
	}
	if len(p.Redirects) != 0 {
		t.Errorf("the secrets page was redirected: %v", p.Redirects)
	}
	secrets := secretsOn(p)
	if len(secrets) != 2 {
		t.Fatalf("secrets = %v, want two", secrets)
	}
	for _, login := range []string{"zed@acme.example", "yara@acme.example"} {
		pw := secrets[login]
		if pw == "" {
			t.Fatalf("no password shown for %s", login)
		}
		if !e.SB.CheckPassword("acme.example", login, pw) {
			t.Errorf("the password shown for %s does not work", login)
		}
		assertSecretNowhere(t, e, c, p, pw)
	}
	if got := e.callsTo("create", "acme.example"); len(got) != 1 {
		t.Errorf("create calls = %d, want exactly 1", len(got))
	}

	// The list "Done" leads to shows the new logins, with a flash that carries no secret.
	list := get(t, c, p.TestID("done-link").AttrOr("href", ""))
	flash := list.TestID("flash").Text()
	if !strings.Contains(flash, "Created 2 logins") {
		t.Errorf("flash = %q", flash)
	}
	for _, pw := range secrets {
		if strings.Contains(string(list.Body), pw) {
			t.Error("the password reappears on the list page")
		}
	}
	logins := loginsOn(list)
	for _, want := range []string{"zed@acme.example", "yara@acme.example"} {
		if !slices.Contains(logins, want) {
			t.Errorf("list lacks %s after create", want)
		}
	}

	entries := e.auditEntries(t, store.AuditFilter{Action: "credential.create"})
	if len(entries) != 1 || entries[0].Outcome != "ok" || entries[0].Domain != "acme.example" ||
		!slices.Equal(entries[0].Logins, []string{"zed@acme.example", "yara@acme.example"}) {
		t.Errorf("audit = %+v", entries)
	}
	if len(entries) == 1 && entries[0].Detail != "Asked for generated passwords." {
		t.Errorf("audit detail = %q, want it to say the passwords were generated", entries[0].Detail)
	}
}

func TestCreateManual(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "operator")
	const pw = "Manual-Pass-123"
	p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{
		"logins": "m1\nm2", "mode": "manual", "password": pw, "password2": pw})
	wantStatus(t, p, http.StatusOK)
	secrets := secretsOn(p)
	if len(secrets) != 2 {
		t.Fatalf("secrets = %v", secrets)
	}
	for login, shown := range secrets {
		if shown != "" {
			t.Errorf("%s: a chosen password is shown back", login)
		}
		if !e.SB.CheckPassword("acme.example", login, pw) {
			t.Errorf("%s: the chosen password does not work", login)
		}
	}
	if strings.Contains(string(p.Body), pw) {
		t.Error("the chosen password is echoed on the page")
	}
	assertSecretNowhere(t, e, c, p, pw)

	// The trail says the password was typed (never the password), and the audit page shows it.
	entries := e.auditEntries(t, store.AuditFilter{Action: "credential.create"})
	if len(entries) != 1 || entries[0].Detail != "Asked for the password typed in the form." {
		t.Errorf("audit = %+v, want one entry saying the password was typed", entries)
	}
	admin := e.signIn(t, "admin")
	a := get(t, admin, "/audit?action=credential.create")
	wantStatus(t, a, http.StatusOK)
	if got := a.TestID("audit-detail").First().Text(); got != "Asked for the password typed in the form." {
		t.Errorf("the audit page's detail = %q", got)
	}
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "operator")
	tests := []struct {
		name      string
		form      map[string]string
		wantLines []string // line numbers in the line errors
		wantField string   // a field error
	}{
		{"bad lines", map[string]string{"logins": "good\nbad one\nx@example.com\ngood"}, []string{"Line 2", "Line 3", "Line 4"}, ""},
		{"empty", map[string]string{"logins": "  \n"}, nil, "logins"},
		{"passwords differ", map[string]string{"logins": "ok", "mode": "manual", "password": "abcdef", "password2": "abcdeg"}, nil, "password2"},
		{"password too short", map[string]string{"logins": "ok", "mode": "manual", "password": "abc", "password2": "abc"}, nil, "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.SB.ResetCalls()
			p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", tt.form)
			wantStatus(t, p, http.StatusBadRequest)
			var lines []string
			p.TestID("line-error").Each(func(_ int, s *goquery.Selection) {
				lines = append(lines, strings.Fields(s.Text())[0]+" "+strings.Fields(s.Text())[1])
			})
			if !slices.Equal(lines, tt.wantLines) {
				t.Errorf("line errors = %q, want %q", lines, tt.wantLines)
			}
			if tt.wantField != "" && p.TestID("field-error-"+tt.wantField).Length() == 0 {
				t.Errorf("no error next to %s: %.400s", tt.wantField, p.Text())
			}
			if got := p.Find(`textarea[name="logins"]`).Text(); got != tt.form["logins"] && strings.TrimSpace(got) != strings.TrimSpace(tt.form["logins"]) {
				t.Errorf("textarea = %q, want the input kept", got)
			}
			if pw := tt.form["password"]; pw != "" && strings.Contains(string(p.Body), `value="`+pw+`"`) {
				t.Error("the password is kept in the form")
			}
			if n := len(e.callsTo("create", "")); n != 0 {
				t.Errorf("%d create calls for an invalid form", n)
			}
		})
	}
}

// TestPasswordMismatchSaysWhatToDo: a chosen password typed differently in its two fields comes
// back with both fields empty, and the error beside "Repeat password", on the create and the
// reset form alike, says what to do, not only that the two did not match.
func TestPasswordMismatchSaysWhatToDo(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "operator")
	for _, path := range []string{"/d/acme.example/new", resetUser} {
		form := map[string]string{"mode": "manual", "password": "chosen-pass-42", "password2": "chosen-pass-43"}
		if path == "/d/acme.example/new" {
			form["logins"] = "mismatch"
		}
		p := submit(t, c, path, path, form)
		wantStatus(t, p, http.StatusBadRequest)
		const want = "The two passwords you typed were different. Type the same password in both fields."
		if got := strings.TrimSpace(p.TestID("field-error-password2").Text()); got != want {
			t.Errorf("%s: the error beside the second field is %q, want %q", path, got, want)
		}
	}
}

func TestCreateAuthorization(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	tests := []struct {
		name, persona, domain string
		form                  map[string]string
	}{
		// The operator of acme.example posts to example.com, where they have no role.
		{"operator to another domain", "operator", "example.com", map[string]string{"logins": "intruder"}},
		{"viewer", "reviewer", "example.com", map[string]string{"logins": "peek"}},
		{"system flag needs an owner", "operator", "acme.example", map[string]string{"logins": "sys", "system": "on"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.signIn(t, tt.persona)
			e.SB.ResetCalls()
			// The form page of a domain the user can use gives the CSRF token; the post names
			// the other domain.
			formPage := "/d/acme.example/new"
			if tt.persona == "reviewer" {
				formPage = "/d/example.com"
			}
			p := submit(t, c, formPage, "/d/"+tt.domain+"/new", tt.form)
			wantStatus(t, p, http.StatusForbidden)
			if n := len(e.callsTo("create", "")); n != 0 {
				t.Errorf("%d create calls after a denial", n)
			}
			if slices.Contains(e.SB.Logins(tt.domain), tt.form["logins"]+"@"+tt.domain) {
				t.Error("the login was created")
			}
		})
	}
	denied := e.auditEntries(t, store.AuditFilter{Action: "access.denied"})
	if len(denied) != len(tests) {
		t.Errorf("access.denied entries = %d, want %d", len(denied), len(tests))
	}
	// Nor is the form shown to those who may not create there (the posts above name the domain
	// of a form they may open).
	// The refusal says which: no access to the domain at all, or access without this action.
	for i, want := range []string{"You don't have access to example.com.", "Your access to example.com does not include creating SMTP logins."} {
		p := get(t, e.signIn(t, tests[i].persona), "/d/"+tests[i].domain+"/new")
		wantStatus(t, p, http.StatusForbidden)
		if got := strings.TrimSpace(p.TestID("error-message").Text()); got != want {
			t.Errorf("%s: the refusal says %q, want %q", tests[i].name, got, want)
		}
	}
	// The owner may create a system credential.
	c := e.signIn(t, "owner")
	p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "sys", "system": "on"})
	wantStatus(t, p, http.StatusOK)
	// The trail says the login was asked for as a system one (delete all keeps those), once.
	made := e.auditEntries(t, store.AuditFilter{Action: "credential.create"})
	if len(made) != 1 || made[0].Outcome != "ok" || made[0].Detail != "Asked for as system logins. Asked for a generated password." || strings.Contains(made[0].UpstreamMessage, "system logins") {
		t.Errorf("create entries %+v, want one ok entry whose detail (only) says system logins", made)
	}
	// And Mailgun made it a system login, not only the trail says so: it refuses to delete it
	// (the create's form field "system" reached Mailgun).
	if status, msg := sandboxDelete(e, "acme.example", "sys@acme.example"); status != http.StatusBadRequest || !strings.Contains(msg, "system") {
		t.Errorf("Mailgun's answer to deleting sys@acme.example = %d %q, want it refused as a system login", status, msg)
	}
}

// sandboxDelete deletes login of domain in the sandbox directly (as Mailgun's own panel or API
// would, not through SMTP Desk) and returns its answer: what Mailgun holds, whatever SMTP Desk
// says about it.
func sandboxDelete(e *env, domain, login string) (int, string) {
	r := httptest.NewRequest(http.MethodDelete, "/v3/domains/"+domain+"/credentials/"+login, nil)
	r.SetBasicAuth("api", e.APIKey)
	w := httptest.NewRecorder()
	e.SB.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// TestCreateSystemLoginsSaysSoWhilePending: a create of system logins says so in its audit
// entry from the moment it is begun, while Mailgun has not answered yet: an entry whose
// completion is never written (the database gone meanwhile) keeps saying it. It used to say it
// only once completed.
func TestCreateSystemLoginsSaysSoWhilePending(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}, MailgunTimeout: time.Minute})
	c := e.signIn(t, "owner")
	const path = "/d/acme.example/new"
	form := get(t, c, path)
	wantStatus(t, form, http.StatusOK)
	hold := make(chan struct{})
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Hold: hold})
	done := make(chan int, 1)
	go func() {
		p, err := c.Post(context.Background(), path, url.Values{"_csrf": {form.CSRF()}, "logins": {"sys-wait"}, "system": {"on"}, "mode": {"generate"}})
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		done <- p.Status
	}()
	answered := false
	var status int
	for len(e.callsTo(sandbox.RouteCreate, "")) == 0 && !answered {
		select {
		case status = <-done:
			answered = true
		default:
			runtime.Gosched()
		}
	}
	if answered {
		close(hold)
		t.Fatalf("the create was answered (%d) before it reached Mailgun", status)
	}
	pending := e.auditEntries(t, store.AuditFilter{Action: "credential.create"})
	close(hold)
	if status = <-done; status != http.StatusOK {
		t.Errorf("the create = %d, want 200", status)
	}
	if len(pending) != 1 || pending[0].Outcome != store.OutcomePending || pending[0].Detail != "Asked for as system logins. Asked for a generated password." {
		t.Errorf("while Mailgun had the create, the trail held %+v, want one pending entry saying system logins were asked for", pending)
	}
}

func TestCreateUpstreamErrors(t *testing.T) {
	e := newEnv(t, envOptions{HangTimeout: 300 * time.Millisecond, Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "operator")
	tests := []struct {
		name       string
		faults     sandbox.Faults
		logins     string
		wantStatus int
		wantText   string
		wantHead   string // the panel's heading, when it says what is unknown
		wantCheck  bool   // offers to re-check the list
		wantAudit  string
	}{
		// Mailgun's refusal names the login: the form says it on its line (TestCreateNamesTheLoginThatExists).
		{"existing login (400)", sandbox.Faults{}, "alice", http.StatusBadRequest, "alice@acme.example: already exists in this domain", "", false, "failed"},
		{"rate limited (429)", sandbox.Faults{Routes: []string{"create"}, Rate: 1, Status: 429, RetryAfter: 7 * time.Second},
			"r1", http.StatusTooManyRequests, "Try again in 7 seconds.", "", false, "failed"},
		{"server error (503)", sandbox.Faults{Routes: []string{"create"}, Rate: 1, Status: 503},
			"s1", http.StatusBadGateway, "Mailgun answered with an error, so SMTP Desk cannot tell whether the login was created.", "Mailgun failed: the login may have been created", true, "unknown"},
		{"timeout", sandbox.Faults{Routes: []string{"create"}, Latency: time.Hour},
			"t1", http.StatusGatewayTimeout, "Mailgun did not answer, so SMTP Desk cannot tell whether the login was created.", "Mailgun did not answer: the login may have been created", true, "unknown"},
		{"dropped connection, two logins", sandbox.Faults{Routes: []string{"create"}, Rate: 1, Drop: true},
			"d1\nd2", http.StatusBadGateway, "Mailgun did not answer, so SMTP Desk cannot tell whether the logins were created.", "Mailgun did not answer: the logins may have been created", true, "unknown"},
		// Mailgun answered, with a body that is not the JSON it sends: not "did not answer".
		{"unreadable answer", sandbox.Faults{Routes: []string{"create"}, Rate: 1, Malformed: true},
			"u1", http.StatusBadGateway, "Mailgun answered with something SMTP Desk did not expect, so SMTP Desk cannot tell whether the login was created.", "Mailgun's answer was unreadable: the login may have been created", true, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.SB.SetFaults(tt.faults)
			defer e.SB.SetFaults(sandbox.Faults{})
			e.SB.ResetCalls()
			p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": tt.logins})
			wantStatus(t, p, tt.wantStatus)
			up := strings.Join(strings.Fields(p.TestID("upstream-error").Text()+" "+p.TestID("line-errors").Text()), " ")
			if n := strings.Count(strings.ToLower(up), "try again"); n > 1 {
				t.Errorf("the panel says \"try again\" %d times: %s", n, up)
			}
			if !strings.Contains(up, tt.wantText) {
				t.Errorf("upstream error = %q, want %q", up, tt.wantText)
			}
			if head := strings.TrimSpace(p.TestID("upstream-error").Find("p.font-semibold").Text()); tt.wantHead != "" && head != tt.wantHead {
				t.Errorf("the panel's heading = %q, want %q", head, tt.wantHead)
			}
			if got := p.Find(`textarea[name="logins"]`).Text(); strings.TrimSpace(got) != tt.logins {
				t.Errorf("textarea = %q, want the input kept", got)
			}
			hasCheck := p.TestID("upstream-error").Find(`a[href^="/d/acme.example"]`).Length() > 0
			if hasCheck != tt.wantCheck {
				t.Errorf("re-check link shown = %v, want %v", hasCheck, tt.wantCheck)
			}
			// A call that timed out is logged by the sandbox once it notices the client left.
			if n := len(e.waitCalls(t, "create", 1)); n != 1 {
				t.Errorf("create calls = %d, want 1 (POST is never retried)", n)
			}
			entries := e.auditEntries(t, store.AuditFilter{Action: "credential.create", Login: strings.Split(tt.logins, "\n")[0] + "@acme.example"})
			if len(entries) != 1 || entries[0].Outcome != tt.wantAudit {
				t.Errorf("audit entries = %+v, want one %q", entries, tt.wantAudit)
			}
		})
	}
}

// TestChangesRefusedWhenTheAuditCannotBeWritten: when the pending audit entry cannot be written,
// a create, a reset, a delete and a delete-all send nothing to Mailgun, and each comes back as
// the user filled it in (a create's hundred logins are not lost to an error page), with the
// refusal above it and 503; the same form sent again once the trail takes it goes through.
func TestChangesRefusedWhenTheAuditCannotBeWritten(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	logins := e.SB.Logins("acme.example")
	var victim string
	for _, l := range logins {
		if !strings.HasPrefix(l, "postmaster@") {
			victim = strings.TrimSuffix(l, "@acme.example")
			break
		}
	}
	if victim == "" {
		t.Fatalf("acme.example has no login to reset or delete: %v", logins)
	}
	cases := []struct {
		name, page, testID string
		typed              map[string]string
		route              string
		kept               func(p *testflow.Page) string // what the refused page shows of what was typed
		want               string
	}{
		{"create", "/d/acme.example/new", "create-form", map[string]string{"logins": "nope\nnope2\nnope3", "mode": "generate"}, "create",
			func(p *testflow.Page) string { return p.Find("textarea[name=logins]").Text() }, "nope\nnope2\nnope3"},
		{"reset", "/d/acme.example/logins/" + victim + "/reset", "reset-form", map[string]string{"mode": "generate"}, "update",
			func(p *testflow.Page) string {
				return p.Find(`input[name=mode][value=generate]`).AttrOr("checked", "unchecked")
			}, ""},
		{"delete", "/d/acme.example/logins/" + victim + "/delete", "delete-form", map[string]string{}, "delete",
			func(p *testflow.Page) string {
				return p.TestID("delete-form").Find("button[type=submit]").AttrOr("disabled", "enabled")
			}, "enabled"},
		{"delete all", "/d/acme.example/delete-all", "delete-all-form", map[string]string{"confirm": "acme.example"}, "delete_all",
			func(p *testflow.Page) string { return p.Find("input[name=confirm]").AttrOr("value", "") }, "acme.example"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := get(t, c, tc.page)
			wantStatus(t, form, http.StatusOK)
			fields := formOf(t, form, tc.testID)
			for k, v := range tc.typed {
				fields.Set(k, v)
			}
			e.Auditor.failBegin.Store(true)
			e.SB.ResetCalls()
			p, err := c.Post(context.Background(), tc.page, fields)
			e.Auditor.failBegin.Store(false)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, p, http.StatusServiceUnavailable)
			if got := p.TestID("upstream-error").Text(); !strings.Contains(got, "could not be recorded") || !strings.Contains(got, "nothing was sent to Mailgun") {
				t.Errorf("refusal = %q, want it to say the action was not recorded and nothing was sent", got)
			}
			if p.TestID(tc.testID).Length() != 1 {
				t.Fatalf("the refusal does not show the form again: %.400s", p.Text())
			}
			if got := tc.kept(p); got != tc.want {
				t.Errorf("the form shows %q of what was typed, want %q", got, tc.want)
			}
			if n := len(e.callsTo(tc.route, "")); n != 0 {
				t.Errorf("%d %s calls although the audit entry failed", n, tc.route)
			}
			// The refused page's form, sent again once the trail takes entries, goes through.
			again := formOf(t, p, tc.testID)
			for k, v := range tc.typed {
				again.Set(k, v)
			}
			done, err := c.Post(context.Background(), tc.page, again)
			if err != nil {
				t.Fatal(err)
			}
			if done.Status != http.StatusOK {
				t.Fatalf("sent again: status %d: %.400s", done.Status, done.Text())
			}
			if n := len(e.callsTo(tc.route, "")); n != 1 {
				t.Errorf("sent again: %d %s calls, want 1", n, tc.route)
			}
		})
	}
	if slices.Contains(e.SB.Logins("acme.example"), victim+"@acme.example") {
		t.Errorf("%s is still there after the delete sent again", victim)
	}
}

// formOf is what the page's form (by its data-testid) sends as it stands: its hidden fields
// (CSRF, one-time token, the way back, the listed digest) and its checked radios.
func formOf(t *testing.T, p *testflow.Page, testID string) url.Values {
	t.Helper()
	form := p.TestID(testID)
	if form.Length() != 1 {
		t.Fatalf("%s: %d forms %q, want one", p.URL, form.Length(), testID)
	}
	v := url.Values{}
	form.Find(`input[type="hidden"], input[type="radio"][checked]`).Each(func(_ int, in *goquery.Selection) {
		v.Add(in.AttrOr("name", ""), in.AttrOr("value", ""))
	})
	return v
}

func TestActionRateLimit(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 2}})
	c := e.signIn(t, "operator")
	for i := range 2 {
		p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "rl" + string(rune('a'+i))})
		wantStatus(t, p, http.StatusOK)
	}
	e.SB.ResetCalls()
	// A form sent back for a fix costs no action: the limit still answers this one with the form.
	wantStatus(t, submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "bad login"}), http.StatusBadRequest)
	p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "rlc\nrlc2"})
	wantStatus(t, p, http.StatusTooManyRequests)
	if got := p.Header.Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After = %q, want 30", got)
	}
	// The form comes back as typed, with the refusal above it.
	if got := p.Find("textarea[name=logins]").Text(); got != "rlc\nrlc2" {
		t.Errorf("logins field = %q, want what was typed", got)
	}
	if got := p.TestID("upstream-error").Text(); !strings.Contains(got, "Slow down") || !strings.Contains(got, "in 30 seconds") {
		t.Errorf("refusal = %q, want Slow down and the wait", got)
	}
	// A wait, not a failure: the sky-blue panel, not the red one.
	if class := p.TestID("upstream-error").AttrOr("class", ""); !strings.Contains(class, "bg-sky-50") || strings.Contains(class, "bg-red-50") {
		t.Errorf("the rate-limit panel's class = %q, want the sky-blue one", class)
	}
	if n := len(e.SB.Calls()); n > 1 { // the form page may refresh the domain list
		t.Errorf("calls after the limit: %v", e.SB.Calls())
	}
	if n := len(e.callsTo("create", "")); n != 0 {
		t.Errorf("%d create calls over the limit", n)
	}
	// The budget is the user's, not the session's: signing in again (a new session, in another
	// browser) does not refill it.
	again := submit(t, e.signIn(t, "operator"), "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "rlf"})
	wantStatus(t, again, http.StatusTooManyRequests)
	// Another user is not affected; the same user may act again once the minute has moved on.
	wantStatus(t, submit(t, e.signIn(t, "admin"), "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "rld"}), http.StatusOK)
	e.Clock.Add(30 * time.Second)
	wantStatus(t, submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "rle"}), http.StatusOK)
}

// TestCreatedPageHeading: the page after a create is headed by what it shows: a password to
// save, several, or none (the user chose the password: "Login created" for one login, "Logins
// created" for several), not always "Save these passwords now".
func TestCreatedPageHeading(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "owner")
	const pw = "chosen-pass-42"
	for _, tt := range []struct {
		form map[string]string
		want string
	}{
		{map[string]string{"logins": "head1", "mode": "generate"}, "Save this password now"},
		{map[string]string{"logins": "head2\nhead3", "mode": "generate"}, "Save these passwords now"},
		{map[string]string{"logins": "head4", "mode": "manual", "password": pw, "password2": pw}, "Login created"},
		{map[string]string{"logins": "head5\nhead6", "mode": "manual", "password": pw, "password2": pw}, "Logins created"},
	} {
		p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", tt.form)
		wantStatus(t, p, http.StatusOK)
		if got := strings.TrimSpace(p.Find("h1").Text()); got != tt.want {
			t.Errorf("%v: heading %q, want %q", tt.form["logins"], got, tt.want)
		}
		if got := p.Find("title").Text(); !strings.HasPrefix(got, tt.want) {
			t.Errorf("%v: title %q, want it to start %q", tt.form["logins"], got, tt.want)
		}
		// The panel says the passwords will not be shown again; the subtitle said it too, one
		// line above. It says whose they are instead.
		if sub := p.TestID("page-subtitle").Text(); strings.Contains(sub, "shown again") || (tt.form["mode"] == "generate" && !strings.Contains(sub, "acme.example")) {
			t.Errorf("%v: subtitle %q, want the domain and not the panel's warning again", tt.form["logins"], sub)
		}
	}
}

// firstOnly creates only the first login of each create it is asked for, and answers as Mailgun
// would for that one: a create Mailgun carries out in part.
type firstOnly struct{ handlers.CredentialsAPI }

func (f firstOnly) CreateCredentials(ctx context.Context, domain string, req *mailgun.CreateCredentialsRequest) (*mailgun.CreateResult, error) {
	one := *req
	one.Logins = req.Logins[:1]
	if len(req.Passwords) > 0 {
		one.Passwords = req.Passwords[:1]
	}
	return f.CredentialsAPI.CreateCredentials(ctx, domain, &one)
}

// TestCreateAuditSaysWhatWasNotCreated: the audit entry of a create names every login asked for
// and, when Mailgun made only some of them (or made them without sending their passwords), says
// which, as the page does; it said "ok" and nothing more, as if all had been created.
func TestCreateAuditSaysWhatWasNotCreated(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000},
		Mailgun: func(mg handlers.CredentialsAPI) handlers.CredentialsAPI { return firstOnly{mg} }})
	c := e.signIn(t, "operator")
	const pw = "Chosen-pass-77"
	tests := []struct {
		name       string
		form       map[string]string
		faults     sandbox.Faults
		wantFailed []string
		wantNote   string
	}{
		{"generated, one of two made", map[string]string{"logins": "part1\npart2"}, sandbox.Faults{},
			[]string{"part2@acme.example"}, "Mailgun did not create part2@acme.example."},
		{"chosen, one of three made", map[string]string{"logins": "part3\npart4\npart5", "mode": "manual", "password": pw, "password2": pw}, sandbox.Faults{},
			[]string{"part4@acme.example", "part5@acme.example"}, "Mailgun did not create part4@acme.example, part5@acme.example."},
		{"generated, no password sent back", map[string]string{"logins": "part6"},
			sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Rate: 1, NoPasswords: true},
			nil, "Created without a password sent back: part6@acme.example."},
		{"one of two made, the list unreadable", map[string]string{"logins": "part8\npart9"},
			sandbox.Faults{Routes: []string{sandbox.RouteList}, Rate: 1, Status: 503},
			nil, "Not confirmed (the list could not be read): part9@acme.example."},
		{"one login, all made", map[string]string{"logins": "part7"}, sandbox.Faults{}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.SB.SetFaults(tt.faults)
			defer e.SB.SetFaults(sandbox.Faults{})
			p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", tt.form)
			wantStatus(t, p, http.StatusOK)
			var failed []string
			p.TestID("failed-row").Each(func(_ int, s *goquery.Selection) { failed = append(failed, s.AttrOr("data-login", "")) })
			if !slices.Equal(failed, tt.wantFailed) {
				t.Errorf("the page says not created: %q, want %q", failed, tt.wantFailed)
			}
			first, _, _ := strings.Cut(tt.form["logins"], "\n")
			entries := e.auditEntries(t, store.AuditFilter{Action: "credential.create", Login: first + "@acme.example"})
			if len(entries) != 1 {
				t.Fatalf("audit entries = %+v, want one", entries)
			}
			if got := entries[0]; got.Outcome != "ok" || got.UpstreamMessage != tt.wantNote {
				t.Errorf("audit entry: outcome %q, message %q; want ok, %q", got.Outcome, got.UpstreamMessage, tt.wantNote)
			}
		})
	}
}

// noneMade answers every create as Mailgun's success without making anything: a 200 none of
// whose logins the list then has.
type noneMade struct{ handlers.CredentialsAPI }

func (noneMade) CreateCredentials(context.Context, string, *mailgun.CreateCredentialsRequest) (*mailgun.CreateResult, error) {
	return &mailgun.CreateResult{Message: "Created 0 credentials pair(s)"}, nil
}

// TestCreateNoneMadeIsFailedInTheTrail: when Mailgun answers a create as done and the list read
// again has none of its logins, the page says "No logins created" and the audit entry is failed
// (with the note naming them), so that the trail's "failed" filter finds it; it was "ok", a
// success beside a page saying nothing was created. Each login's line gives the reason once.
func TestCreateNoneMadeIsFailedInTheTrail(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000},
		Mailgun: func(mg handlers.CredentialsAPI) handlers.CredentialsAPI { return noneMade{mg} }})
	c := e.signIn(t, "operator")
	const pw = "Chosen-pass-77"
	for _, tt := range []struct {
		name string
		form map[string]string
		want []string
	}{
		{"generated", map[string]string{"logins": "none1\nnone2"}, []string{"none1@acme.example", "none2@acme.example"}},
		{"chosen", map[string]string{"logins": "none3", "mode": "manual", "password": pw, "password2": pw}, []string{"none3@acme.example"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", tt.form)
			wantStatus(t, p, http.StatusOK)
			if got := strings.TrimSpace(p.Find("h1").Text()); got != "No logins created" {
				t.Errorf("heading %q, want \"No logins created\"", got)
			}
			// What happened, under the heading (it said "The reasons are below."); the panel says
			// what to do: create them again, and if Mailgun still does not, tell the
			// administrator, quoting the request id it shows.
			wantSub := "Mailgun answered, but did not create any of the logins."
			if len(tt.want) == 1 {
				wantSub = "Mailgun answered, but did not create the login."
			}
			if got := strings.TrimSpace(p.TestID("page-subtitle").Text()); got != wantSub {
				t.Errorf("subtitle %q, want %q", got, wantSub)
			}
			panel := p.TestID("failed-panel")
			if text := strings.Join(strings.Fields(panel.Text()), " "); !strings.Contains(text, "again; if Mailgun still does not create") ||
				!strings.Contains(text, "tell your administrator and quote the request ID below.") {
				t.Errorf("the panel does not say to create again, then tell the administrator: %q", text)
			}
			if got, rid := panel.Find(`[data-testid="failed-request-id"]`).Text(), p.Header.Get("X-Request-ID"); got != rid || rid == "" {
				t.Errorf("the panel's request id = %q, want this request's, %q", got, rid)
			}
			var failed []string
			p.TestID("failed-row").Each(func(_ int, s *goquery.Selection) {
				failed = append(failed, s.AttrOr("data-login", ""))
				if row := strings.ToLower(strings.Join(strings.Fields(s.Text()), " ")); strings.Count(row, "not created") > 1 {
					t.Errorf("the row says \"not created\" twice: %q", row)
				}
			})
			if !slices.Equal(failed, tt.want) {
				t.Errorf("the page says not created: %q, want %q", failed, tt.want)
			}
			entries := e.auditEntries(t, store.AuditFilter{Action: "credential.create", Login: tt.want[0]})
			if len(entries) != 1 {
				t.Fatalf("audit entries = %+v, want one", entries)
			}
			wantNote := "Mailgun did not create " + strings.Join(tt.want, ", ") + "."
			if got := entries[0]; got.Outcome != "failed" || got.UpstreamMessage != wantNote {
				t.Errorf("audit entry: outcome %q, message %q; want failed, %q", got.Outcome, got.UpstreamMessage, wantNote)
			}
		})
	}
}

// TestCreateLongPasteComesBack: a paste of far more logins than a create takes (2,000 addresses,
// 58 KB, over the 64 KB body limit of the other forms once encoded) comes back in the form with
// the count, instead of a 413 page that lost it; nothing is sent to Mailgun. A body past the
// create form's own limit is still refused, and the page says how many logins a create takes.
func TestCreateLongPasteComesBack(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "operator")
	var b strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&b, "user.number%04d@acme.example\n", i)
	}
	paste := strings.TrimSuffix(b.String(), "\n")
	if n := len(url.Values{"logins": {paste}}.Encode()); n <= 64<<10 {
		t.Fatalf("the paste is %d bytes encoded: not over the default limit, so it tests nothing", n)
	}
	e.SB.ResetCalls()
	p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": paste, "mode": "generate"})
	wantStatus(t, p, http.StatusBadRequest)
	if got := p.TestID("field-error-logins").Text(); !strings.Contains(got, "At most 100 logins at a time; you entered 2000.") {
		t.Errorf("error next to the logins = %q", got)
	}
	if got := p.Find("textarea[name=logins]").Text(); got != paste {
		t.Errorf("the form came back with %d bytes of the %d pasted", len(got), len(paste))
	}
	if n := len(e.callsTo("create", "")); n != 0 {
		t.Errorf("%d create calls for a form over the line limit", n)
	}

	huge := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": strings.Repeat(paste+"\n", 40), "mode": "generate"})
	wantStatus(t, huge, http.StatusRequestEntityTooLarge)
	if !strings.Contains(huge.Text(), "at most 100 logins at a time") {
		t.Errorf("the 413 page does not say how many logins a create takes: %.400s", huge.Text())
	}
	if !strings.Contains(huge.TestID("error-message").Text(), "nothing was changed") {
		t.Errorf("the 413 page does not say that nothing was changed: %q", huge.TestID("error-message").Text())
	}
	// A browser sends the form's page as the Referer (Referrer-Policy: same-origin): the page
	// links back to that form.
	form, err := c.Get(context.Background(), "/d/acme.example/new")
	if err != nil {
		t.Fatal(err)
	}
	body := url.Values{"_csrf": {form.Find(`input[name=_csrf]`).AttrOr("value", "")}, "logins": {strings.Repeat(paste+"\n", 40)}}
	req, err := http.NewRequest(http.MethodPost, e.URL+"/d/acme.example/new", strings.NewReader(body.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.URL)
	req.Header.Set("Referer", e.URL+"/d/acme.example/new?back=%2Fd%2Facme.example%3Fpage%3D2")
	withRef, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, withRef, http.StatusRequestEntityTooLarge)
	if got := withRef.TestID("next-link"); got.AttrOr("href", "") != "/d/acme.example/new?back=%2Fd%2Facme.example%3Fpage%3D2" || strings.TrimSpace(got.Text()) != "Open the form again" {
		t.Errorf("the 413 page's link: %q to %q, want \"Open the form again\" to the form", got.Text(), got.AttrOr("href", ""))
	}
	if huge.TestID("next-link").Length() != 0 {
		t.Errorf("without a Referer, the 413 page links to %q", huge.TestID("next-link").AttrOr("href", ""))
	}
	// Every other form keeps the default limit.
	big := submit(t, c, "/d/acme.example/logins/postmaster/reset", "/d/acme.example/logins/postmaster/reset", map[string]string{"mode": "generate", "pad": paste})
	wantStatus(t, big, http.StatusRequestEntityTooLarge)
}
