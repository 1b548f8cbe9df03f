package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestCreateInADomainMailgunNoLongerHas (by a review helper): the create POST is answered 404 "Domain not found"
// (the domain was removed from Mailgun after the kept domain list was read). Reset and delete
// answer that with the "Domain not found" page, which says what to do (pick another domain on the
// home page: TestActionsInAnUnknownDomain); the create's form comes back saying only "Mailgun has
// no such domain." with no way on: the user is not told what to do.
func TestCreateInADomainMailgunNoLongerHas(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Rate: 1, Status: http.StatusNotFound, Message: "Domain not found"})
	defer e.SB.SetFaults(sandbox.Faults{})
	p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "gone1\ngone2", "mode": "generate"})
	wantStatus(t, p, http.StatusNotFound)
	text := oneLine(p.Text())
	if !strings.Contains(text, "Pick a domain from the list on the home page") {
		t.Errorf("the create refused with \"Domain not found\" does not say what to do (reset and delete say \"Pick a domain from the list on the home page.\"); its panel: %q",
			oneLine(p.TestID("upstream-error").Text()))
	}
	if got := e.auditEntries(t, store.AuditFilter{Action: "credential.create"}); len(got) != 1 || got[0].Outcome != "failed" {
		t.Errorf("audit = %+v, want one failed entry", got)
	}
}

// TestDomainListNotFound (by a review helper): Mailgun's domain list (GET /v4/domains) answers 404, as a
// MAILGUN_BASE_URL that points at the wrong place, or a proxy, does. The home page answers 404
// "Not found in Mailgun: Mailgun has no such domain or login. Check the address, or start again
// from the domain list." on the domain list itself: no domain or login was asked for, the
// address is right, the domain list is this page, and there is nothing to try and nobody to tell.
// A 404 of a call that names no domain or login is a broken upstream (502, tell the
// administrator with the request id), as a refused key is.
func TestDomainListNotFound(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	e.Clock.Add(time.Hour) // the domain list read at sign-in is no longer kept
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDomains}, Rate: 1, Status: http.StatusNotFound})
	defer e.SB.SetFaults(sandbox.Faults{})
	p := get(t, c, "/")
	text := oneLine(p.Text())
	if p.Status == http.StatusNotFound {
		t.Errorf("the home page answers 404 for Mailgun's 404 to the domain list, want a 502 (the page exists; Mailgun's answer is unusable)")
	}
	if strings.Contains(text, "no such domain or login") || strings.Contains(text, "start again from the domain list") || strings.Contains(text, "Check the address") {
		t.Errorf("the domain list page says %q / %q: no domain or login was asked for, and this is the domain list",
			oneLine(p.TestID("error-message").Text()), oneLine(p.TestID("error-hint").Text()))
	}
	if !strings.Contains(text, "administrator") {
		t.Errorf("the page does not say to tell the administrator: %.400q", text)
	}
}

// TestRateLimitedReadPagesSayNothingChanged (by a review helper): Mailgun's 429 with Retry-After on a page that
// only reads. The domain's list says the wait and offers "Try again", without a hint that
// "Nothing was changed" (TestListRateLimitedSaysWhen: a list changes nothing). The home page and
// the export of every domain, answered by ErrorHandler's 429 case, still add "Nothing was
// changed." under the wait.
func TestRateLimitedReadPagesSayNothingChanged(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ExportsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	for _, tt := range []struct{ path, route string }{
		{"/", sandbox.RouteDomains},
		{"/export.csv", sandbox.RouteList},
	} {
		e.Clock.Add(time.Hour)
		e.SB.SetFaults(sandbox.Faults{Routes: []string{tt.route}, Rate: 1, Status: http.StatusTooManyRequests, RetryAfter: 42 * time.Second})
		p := get(t, c, tt.path)
		e.SB.SetFaults(sandbox.Faults{})
		wantStatus(t, p, http.StatusTooManyRequests)
		if got := oneLine(p.TestID("retry-after").Text()); got != "Try again in 42 seconds" {
			t.Errorf("%s: the wait = %q", tt.path, got)
		}
		if got := p.TestID("error-hint"); got.Length() != 0 {
			t.Errorf("%s: a page that only reads also hints %q (the domain's list does not)", tt.path, oneLine(got.Text()))
		}
	}
}

// TestListRefusedSaysTryAgain (by a review helper): Mailgun refuses the list with a 400 (the same request gets
// the same answer: the page offers no "Try again", classifyError's again=false), yet its hint says
// "Try again in a few minutes.", the words of a 502 that may pass.
func TestListRefusedSaysTryAgain(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteList}, Rate: 1, Status: http.StatusBadRequest, Message: "Invalid skip"})
	defer e.SB.SetFaults(sandbox.Faults{})
	p := get(t, c, "/d/acme.example?page=2&per_page=25")
	wantStatus(t, p, http.StatusBadGateway)
	hint := oneLine(p.TestID("error-hint").Text())
	if next := p.TestID("next-link"); next.Length() != 0 && strings.Contains(next.Text(), "Try again") {
		t.Errorf("the page offers %q for a refusal the same request meets again", oneLine(next.Text()))
	}
	if strings.Contains(hint, "Try again") || !strings.Contains(hint, "Tell your administrator") {
		t.Errorf("the hint of a refusal the same request meets again says %q, want to tell the administrator and nothing of trying again", hint)
	}
}

// TestChangeMeets503WithRetryAfter: Mailgun answers a change 503 with Retry-After: 42 (it
// says when to come back). A page that only reads says so ("Try again in 42 seconds", and the
// Retry-After header: classifyError's 5xx case); the panel of a change drops it, and tells the
// user to check the list (or reset again) at once, which Mailgun will refuse for the next 42
// seconds too.
func TestChangeMeets503WithRetryAfter(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	const domain = "newsletter.example.org"
	for _, tt := range []struct{ name, route, path string }{
		{"create", sandbox.RouteCreate, "/d/" + domain + "/new"},
		{"reset", sandbox.RouteUpdate, "/d/" + domain + "/logins/news@" + domain + "/reset"},
		{"delete", sandbox.RouteDelete, "/d/" + domain + "/logins/digest@" + domain + "/delete"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.SB.SetFaults(sandbox.Faults{Routes: []string{tt.route}, Rate: 1, Status: http.StatusServiceUnavailable, RetryAfter: 42 * time.Second})
			defer e.SB.SetFaults(sandbox.Faults{})
			p := submit(t, c, tt.path, tt.path, map[string]string{"logins": "ra1", "mode": "generate"})
			wantStatus(t, p, http.StatusBadGateway)
			panel := oneLine(p.TestID("upstream-error").Text())
			if !strings.Contains(panel, "42 seconds") || p.Header.Get("Retry-After") != "42" {
				t.Errorf("Mailgun asked to come back in 42 seconds; the page's Retry-After = %q, its panel: %q", p.Header.Get("Retry-After"), panel)
			}
		})
	}
}

// oneLine is s with its runs of white space made one space, as a page's text reads.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestResetRetryDomainGoneHasWayHome (by a review helper): a reset whose first attempt got a 503 (after
// changing) and whose retry Mailgun answers "Domain not found": the panel says "Pick a domain
// from the list on the home page." (retryRefused) and, as delete's and delete-all's do, must
// offer the link there (views.UpstreamError.Home). Reset does not call markUnknown, the only
// place that sets Home for upRetryRefused.
func TestResetRetryDomainGoneHasWayHome(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	admin := e.signIn(t, "admin")
	const domain = "newsletter.example.org"
	login := "retried-r3@" + domain
	if err := e.SB.AddCredential(domain, login, "Original-pw-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteUpdate}, Rate: 1, Status: http.StatusServiceUnavailable, AfterApply: true,
		Then: &sandbox.Faults{Routes: []string{sandbox.RouteUpdate}, Rate: 1, Status: http.StatusNotFound, Message: "Domain not found", Then: &sandbox.Faults{}}})
	path := "/d/" + domain + "/logins/" + login + "/reset"
	p := submit(t, admin, path, path, map[string]string{"mode": "generate"})
	e.SB.SetFaults(sandbox.Faults{})
	wantStatus(t, p, http.StatusBadGateway)
	panel := p.TestID("upstream-error")
	t.Logf("panel: %q", oneLine(panel.Text()))
	if !strings.Contains(oneLine(panel.Text()), "Pick a domain from the list on the home page.") {
		t.Fatalf("panel does not send home at all")
	}
	if panel.Find(`a[href="/"]`).Length() != 1 {
		t.Errorf("the reset's panel says to pick a domain on the home page but has no link there (delete's and create's have one)")
	}
}
