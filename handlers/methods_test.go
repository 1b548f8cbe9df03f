package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/static"
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
		form := url.Values{"logins": {"intruder"}, "mode": {"generate"}, "confirm": {"acme.example"}}
		return sendWithToken(t, c.HTTP, method, e.URL+path, form, token)
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

// TestPublicMethodNotAllowed: a method a public route (health, static files, the sign-in flow)
// does not answer is refused 405 with the route's methods in Allow, signed out or signed in,
// with or without a CSRF token. They fell through to the signed-in pages' catch-all: 401 or the
// CSRF check's 403 signed out, 404 signed in. What the public routes do answer is unchanged:
// the sign-out page's GET, the sign-out POST still needing its token, an unknown address.
func TestPublicMethodNotAllowed(t *testing.T) {
	e := newEnv(t, envOptions{})
	signedIn := e.signIn(t, "admin")
	tok := get(t, signedIn, "/d/acme.example").CSRF()
	noRedirects := func(c *http.Client) *http.Client {
		cc := *c
		cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return &cc
	}
	send := func(hc *http.Client, method, path, token string) *http.Response {
		t.Helper()
		return sendWithToken(t, noRedirects(hc), method, e.URL+path, url.Values{}, token)
	}
	staticPath := static.Prefix + "no-such-file.css"
	cases := []struct{ method, path, allow string }{
		{http.MethodPost, "/healthz", "GET, HEAD"},
		{http.MethodDelete, "/healthz", "GET, HEAD"},
		{http.MethodOptions, "/healthz", "GET, HEAD"},
		{http.MethodPut, "/readyz", "GET, HEAD"},
		{http.MethodPost, auth.LoginPath, "GET"},
		{http.MethodHead, auth.LoginPath, "GET"},
		{http.MethodPost, auth.CallbackPath, "GET"},
		{http.MethodPut, auth.LogoutPath, "GET, HEAD, POST"},
		{http.MethodDelete, auth.LogoutPath, "GET, HEAD, POST"},
		{http.MethodPost, auth.SignedOutPath, "GET, HEAD"},
		{http.MethodPost, staticPath, "GET, HEAD"},
	}
	for _, who := range []struct {
		name  string
		hc    *http.Client
		token string
	}{
		{"signed out", &http.Client{}, ""},
		{"signed in, no token", signedIn.HTTP, ""},
		{"signed in, with its token", signedIn.HTTP, tok},
	} {
		for _, tt := range cases {
			resp := send(who.hc, tt.method, tt.path, who.token)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tt.allow {
				t.Errorf("%s: %s %s = %d, Allow %q; want 405, Allow %q", who.name, tt.method, tt.path, resp.StatusCode, resp.Header.Get("Allow"), tt.allow)
			}
		}
	}

	// What these routes answer stays as it was.
	for _, tt := range []struct {
		name   string
		hc     *http.Client
		method string
		path   string
		token  string
		want   int
	}{
		{"health", &http.Client{}, http.MethodGet, "/healthz", "", http.StatusOK},
		{"health, HEAD", &http.Client{}, http.MethodHead, "/readyz", "", http.StatusOK},
		{"the sign-out page, signed in", signedIn.HTTP, http.MethodGet, auth.LogoutPath, "", http.StatusOK},
		{"the sign-out page, signed out", &http.Client{}, http.MethodGet, auth.LogoutPath, "", http.StatusSeeOther},
		{"a sign-out without its token", signedIn.HTTP, http.MethodPost, auth.LogoutPath, "", http.StatusForbidden},
		{"an unknown file", &http.Client{}, http.MethodGet, staticPath, "", http.StatusNotFound},
		{"an unknown address, signed out", &http.Client{}, http.MethodPost, "/no-such-page", "", http.StatusForbidden},
		{"an unknown address, signed in", signedIn.HTTP, http.MethodPost, "/no-such-page", tok, http.StatusNotFound},
	} {
		if resp := send(tt.hc, tt.method, tt.path, tt.token); resp.StatusCode != tt.want {
			t.Errorf("%s: %s %s = %d, want %d", tt.name, tt.method, tt.path, resp.StatusCode, tt.want)
		}
	}
	if p := get(t, signedIn, "/"); p.Status != http.StatusOK {
		t.Errorf("after the refused requests, the home page = %d: the refusals signed the user out", p.Status)
	}
}

// sendWithToken sends form by method to target through hc, as a same-origin script would, with
// token (when not empty) both in the form and in the X-CSRF-Token header: a DELETE's body is
// not a form to Go, so a script sends the token as a header. It closes the answer's body.
func sendWithToken(t *testing.T, hc *http.Client, method, target string, form url.Values, token string) *http.Response {
	t.Helper()
	if token != "" {
		form.Set("_csrf", token)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if token != "" {
		req.Header.Set("X-CSRF-Token", token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
