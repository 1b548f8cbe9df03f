package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/handlers"
)

// TestMethodNotAllowed: a method a page does not answer is refused 405 with the page's methods
// in Allow, and says so, rather than "There is nothing at this address" (the group's catch-all
// answered first). The change's CSRF token is still checked before it, nothing reaches Mailgun,
// and an unknown address is still 404.
func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	tok := get(t, c, "/d/acme.example").CSRF()
	send := func(method, path, token string) *http.Response {
		t.Helper()
		form := url.Values{"_csrf": {token}, "logins": {"intruder"}, "mode": {"generate"}, "confirm": {"acme.example"}}
		req, err := http.NewRequestWithContext(context.Background(), method, e.URL+path, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if token != "" {
			// A DELETE's body is not a form to Go: a script sends the token as a header.
			req.Header.Set("X-CSRF-Token", token)
		}
		resp, err := c.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	e.SB.ResetCalls()
	for _, tt := range []struct{ method, path, allow string }{
		{http.MethodPut, "/d/acme.example/new", "GET, HEAD, POST"},
		{http.MethodPost, "/d/acme.example", "GET, HEAD"},
		{http.MethodDelete, "/d/acme.example/logins/alice@acme.example/delete", "GET, HEAD, POST"},
		{http.MethodPatch, "/d/acme.example/delete-all", "GET, HEAD, POST"},
		{http.MethodPost, "/audit", "GET, HEAD"},
		{http.MethodPost, "/", "GET, HEAD"},
	} {
		resp := send(tt.method, tt.path, tok)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tt.allow {
			t.Errorf("%s %s = %d, Allow %q; want 405, Allow %q", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Allow"), tt.allow)
		}
		if resp := send(tt.method, tt.path, ""); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s without its token = %d, want 403 from the CSRF check first", tt.method, tt.path, resp.StatusCode)
		}
	}
	if calls := e.SB.Calls(); len(calls) != 0 {
		t.Errorf("refused methods reached Mailgun: %+v", calls)
	}
	// What the page says: HTML, through the app's error page.
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.URL+"/d/acme.example", strings.NewReader("_csrf="+url.QueryEscape(tok)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	p, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, p, http.StatusMethodNotAllowed)
	if got := p.Text(); !strings.Contains(got, "This page does not accept that kind of request.") {
		t.Errorf("405 page says %.300q", got)
	}
	if p := get(t, c, "/d/acme.example/nothing-here"); p.Status != http.StatusNotFound {
		t.Errorf("an unknown address = %d, want 404", p.Status)
	}
	// The routes that refuse carry a name of their own, so that walks over the router
	// (security's) can tell them from pages.
	named := 0
	for _, r := range e.Echo.Routes() {
		if r.Name == handlers.NotAllowedRoute {
			named++
		}
	}
	if named == 0 {
		t.Error("no route is named handlers.NotAllowedRoute")
	}
}
