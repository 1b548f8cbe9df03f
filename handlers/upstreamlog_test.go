package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// logLevelsOf returns the level of each line e logged with msg as its message, for the request
// id ("" for any request).
func (e *env) logLevelsOf(t *testing.T, id, msg string) []string {
	t.Helper()
	var levels []string
	for _, line := range e.Logs.Lines() {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg && (id == "" || rec["request_id"] == id) {
			levels = append(levels, rec["level"].(string))
		}
	}
	return levels
}

// TestChangeFailuresLogAtTheLevelOfTheirStatus: a change (create, reset, delete, delete-all)
// whose Mailgun call fails answers its own form with a panel, not through the error handler, and
// logs the failure itself. It logs it as the error handler would a page with that status: at
// Error when the page is a 5xx (Mailgun failed, did not answer, refused the key: what an alert
// on errors must see, as it sees a list that fails so), at Warn when it is a 4xx (Mailgun
// rate-limited the call). All were Warn, so a Mailgun outage seen only by changes, the case
// whose outcome is unknown, raised no error at all.
func TestChangeFailuresLogAtTheLevelOfTheirStatus(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	admin := e.signIn(t, "admin")
	const domain = "acme.example"

	faults := []struct {
		name       string
		faults     sandbox.Faults
		wantStatus int
		wantLevel  string
	}{
		{"503", sandbox.Faults{Rate: 1, Status: http.StatusServiceUnavailable}, http.StatusBadGateway, "ERROR"},
		{"dropped connection", sandbox.Faults{Rate: 1, Drop: true}, http.StatusBadGateway, "ERROR"},
		{"key refused", sandbox.Faults{Rate: 1, Status: http.StatusUnauthorized}, http.StatusBadGateway, "ERROR"},
		{"429", sandbox.Faults{Rate: 1, Status: http.StatusTooManyRequests}, http.StatusTooManyRequests, "WARN"},
	}
	actions := []struct {
		name, route, msg string
		do               func(t *testing.T, login string) *testflow.Page
	}{
		{"create", sandbox.RouteCreate, "create credentials", func(t *testing.T, login string) *testflow.Page {
			path := "/d/" + domain + "/new"
			return submit(t, admin, path, path, map[string]string{"logins": login, "mode": "generate"})
		}},
		{"reset", sandbox.RouteUpdate, "reset password", func(t *testing.T, login string) *testflow.Page {
			path := "/d/" + domain + "/logins/" + login + "/reset"
			return submit(t, admin, path, path, map[string]string{"mode": "generate"})
		}},
		{"delete", sandbox.RouteDelete, "delete credential", func(t *testing.T, login string) *testflow.Page {
			path := "/d/" + domain + "/logins/" + login + "/delete"
			return submit(t, admin, path, path, nil)
		}},
		{"delete all", sandbox.RouteDeleteAll, "delete all credentials", func(t *testing.T, _ string) *testflow.Page {
			path := "/d/" + domain + "/delete-all"
			return submit(t, admin, path, path, map[string]string{"confirm": domain})
		}},
	}
	for _, a := range actions {
		for _, f := range faults {
			t.Run(a.name+"/"+f.name, func(t *testing.T) {
				login := strings.ReplaceAll(a.name+"-"+f.name, " ", "-") + "@" + domain
				if a.name != "create" {
					if err := e.SB.AddCredential(domain, login, "Original-pw-1", time.Now()); err != nil {
						t.Fatal(err)
					}
				}
				fl := f.faults
				fl.Routes = []string{a.route}
				e.SB.SetFaults(fl)
				p := a.do(t, login)
				e.SB.SetFaults(sandbox.Faults{})
				wantStatus(t, p, f.wantStatus)
				id := p.Header.Get("X-Request-ID")
				if got := e.logLevelsOf(t, id, a.msg); len(got) != 1 || got[0] != f.wantLevel {
					t.Errorf("%q lines of request %s at levels %v, want one at %s\n%s", a.msg, id, got, f.wantLevel, e.Logs.String())
				}
			})
		}
	}
}

// TestListRateLimitedIsLogged: a page that reads a domain's list and meets Mailgun's rate
// limit answers 429 with its own page, not through the error handler, and logs it at Warn (as
// the error handler logs a 4xx) with Mailgun's words and the request id: the access log line
// alone said 429 without saying it was Mailgun's limit and not the user's.
func TestListRateLimitedIsLogged(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := e.signIn(t, "admin")
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteList}, Rate: 1, Status: http.StatusTooManyRequests, RetryAfter: 30 * time.Second})
	defer e.SB.SetFaults(sandbox.Faults{})
	p := get(t, admin, "/d/example.com?page=2")
	wantStatus(t, p, http.StatusTooManyRequests)
	id := p.Header.Get("X-Request-ID")
	if got := e.logLevelsOf(t, id, "Mailgun is rate-limiting SMTP Desk"); len(got) != 1 || got[0] != "WARN" {
		t.Errorf("\"Mailgun is rate-limiting SMTP Desk\" lines of request %s at levels %v, want one at WARN\n%s", id, got, e.Logs.String())
	}
}

// TestChangeLeftByItsBrowserIsNoError: a create whose browser leaves while Mailgun holds the
// call logs its failure at Warn, not at Error as a Mailgun failure: the browser's leaving says
// nothing about Mailgun, and ErrorHandler logs a page left so below Error too.
func TestChangeLeftByItsBrowserIsNoError(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	form := get(t, c, "/d/acme.example/new")
	hold := make(chan struct{})
	defer close(hold)
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Hold: hold})
	defer e.SB.SetFaults(sandbox.Faults{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Post(ctx, "/d/acme.example/new", url.Values{"_csrf": {form.CSRF()}, "logins": {"left1"}, "mode": {"generate"}})
	}()
	e.waitCalls(t, sandbox.RouteCreate, 1)
	cancel()
	<-done
	deadline := time.Now().Add(10 * time.Second) // a fail-safe, not a timing assertion
	for {
		// The browser got no answer, so no request id: the env serves this one request.
		if levels := e.logLevelsOf(t, "", "create credentials"); len(levels) > 0 {
			if len(levels) != 1 || levels[0] != "WARN" {
				t.Errorf("\"create credentials\" lines at levels %v, want one at WARN\n%s", levels, e.Logs.String())
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"create credentials\" line after the browser left\n%s", e.Logs.String())
		}
		runtime.Gosched()
	}
}
