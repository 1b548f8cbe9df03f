package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// head sends HEAD path with c's cookies, not following redirects.
func head(t *testing.T, c *testflow.Client, path string) *testflow.Page {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodHead, c.Base.String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHEADAnswersAsGETDoes: uptime monitors and link checkers send HEAD. The health checks and
// every page a GET reads answer it with the GET's status and headers and no body; unrouted, a
// HEAD fell through to the pages' catch-all and was sent to sign-in (a monitor following the
// redirect saw the sign-in page, whatever the database's state).
func TestHEADAnswersAsGETDoes(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})

	anon, err := testflow.New(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	anon.HTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, path := range []string{"/healthz", "/readyz"} {
		if p := head(t, anon, path); p.Status != http.StatusOK || len(p.Body) != 0 {
			t.Errorf("HEAD %s = %d with %d body bytes, want 200 and none", path, p.Status, len(p.Body))
		}
	}
	// The signed-out page is a page too; the sign-in steps have side effects (a sign-in begun, a
	// code spent) and refuse a HEAD, naming GET.
	if p := head(t, anon, "/auth/signed-out"); p.Status != http.StatusOK || len(p.Body) != 0 {
		t.Errorf("HEAD /auth/signed-out = %d with %d body bytes, want 200 and none", p.Status, len(p.Body))
	}
	for _, path := range []string{"/auth/login", "/auth/callback?code=x&state=y"} {
		if p := head(t, anon, path); p.Status != http.StatusMethodNotAllowed || p.Header.Get("Allow") != "GET" {
			t.Errorf("HEAD %s = %d, Allow %q; want 405, Allow GET", path, p.Status, p.Header.Get("Allow"))
		}
	}
	// Signed out, a page's HEAD is sent to sign-in, as its GET is.
	if p := head(t, anon, "/d/acme.example"); p.Status != http.StatusFound || !strings.HasPrefix(p.Header.Get("Location"), "/auth/login") {
		t.Errorf("HEAD of a page signed out = %d to %q, want a redirect to sign-in", p.Status, p.Header.Get("Location"))
	}

	c := e.signIn(t, "admin")
	c.HTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// A HEAD of every domain's logins reads the first domain's list, which decides the status,
	// and no other: the rest would be read from Mailgun for a body a HEAD does not get.
	e.SB.ResetCalls()
	if h := head(t, c, "/export.csv"); h.Status != http.StatusOK {
		t.Fatalf("HEAD /export.csv = %d", h.Status)
	}
	listed := map[string]bool{}
	for _, call := range e.callsTo(sandbox.RouteList, "") {
		listed[call.Domain] = true
	}
	if len(listed) != 1 {
		t.Errorf("HEAD /export.csv read the lists of %d domains (%v), want the first one's only", len(listed), listed)
	}
	for _, path := range []string{"/", "/d/acme.example", "/d/acme.example/new", "/d/acme.example/logins/bob@acme.example/reset", "/audit",
		"/d/acme.example/export.csv", "/export.csv", "/audit/export.csv", "/audit/export.jsonl"} {
		g, h := get(t, c, path), head(t, c, path)
		if h.Status != g.Status || g.Status != http.StatusOK {
			t.Errorf("%s: HEAD %d, GET %d, want both 200", path, h.Status, g.Status)
		}
		if len(h.Body) != 0 {
			t.Errorf("HEAD %s sent %d body bytes", path, len(h.Body))
		}
		for _, k := range []string{"Content-Type", "Cache-Control"} {
			if h.Header.Get(k) != g.Header.Get(k) {
				t.Errorf("%s: HEAD's %s %q, GET's %q", path, k, h.Header.Get(k), g.Header.Get(k))
			}
		}
	}
	// A HEAD is for a page nobody sees: it keeps the flash for the GET that shows the page, and
	// does not make its domain the home page's "last used".
	p := submit(t, c, "/d/acme.example", "/d/acme.example/logins/bob@acme.example/delete", nil)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("delete = %d, want a redirect to the list", p.Status)
	}
	next := p.Header.Get("Location")
	if h := head(t, c, next); h.Status != http.StatusOK {
		t.Fatalf("HEAD %s = %d", next, h.Status)
	}
	if f := get(t, c, next).TestID("flash").Text(); !strings.Contains(f, "Deleted bob@acme.example") {
		t.Errorf("after a HEAD, the list's flash = %q, want the delete's", f)
	}
	head(t, c, "/d/newsletter.example.org")
	if last := get(t, c, "/").TestID("last-used").Closest(`[data-testid="domain-row"]`).AttrOr("data-domain", ""); last != "acme.example" {
		t.Errorf("last used after a HEAD of another domain = %q, want acme.example", last)
	}
}

// TestSignOutAddressAsksFirst: a GET of /auth/logout (typed or bookmarked) answered "Page not
// found" to a signed-in user. It now asks, with the button that signs out; signed out, it goes to
// the signed-out page.
func TestSignOutAddressAsksFirst(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	p := get(t, c, "/auth/logout")
	wantStatus(t, p, http.StatusOK)
	if p.TestID("sign-out-page").Length() == 0 || p.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /auth/logout: no confirmation page, or it may be cached (%q): %.300s", p.Header.Get("Cache-Control"), p.Text())
	}
	if got := p.TestID("sign-out-email").Text(); got != "ada@smtpdesk.example" {
		t.Errorf("the page names %q, want the signed-in user", got)
	}
	// The GET signed nobody out.
	wantStatus(t, get(t, c, "/"), http.StatusOK)
	if get(t, c, "/").TestID("user-menu").Length() == 0 {
		t.Error("signed out by the GET")
	}
	// The button signs out (and goes on to the provider's end-session endpoint, which this
	// harness's provider offers); then the address leads to the signed-out page.
	submit(t, c, "/auth/logout", "/auth/logout", nil)
	if p := get(t, c, "/auth/logout"); p.URL.Path != "/auth/signed-out" {
		t.Errorf("GET /auth/logout signed out ended at %s, want the signed-out page", p.URL)
	}
}
