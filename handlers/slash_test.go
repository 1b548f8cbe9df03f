package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
)

// send sends method to c's server at rawPath, taken as it is (no resolving against the base, so
// "//x/" stays a path), with c's cookies, not following redirects.
func send(t *testing.T, c *testflow.Client, method, rawPath string) *testflow.Page {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, c.Base.Scheme+"://"+c.Base.Host+rawPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTrailingSlashLeadsToThePage: a page's address typed, pasted or bookmarked with a "/" at
// the end answered "Page not found". A GET or HEAD of it is sent to the address without the
// slash, query and escapes kept, signed in or not; nothing that would read as another site's
// address is made, and a POST is left alone.
func TestTrailingSlashLeadsToThePage(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	noFollow := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	anon, err := testflow.New(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	anon.HTTP.CheckRedirect = noFollow
	if p := send(t, anon, http.MethodGet, "/d/acme.example/"); p.Status != http.StatusMovedPermanently || p.Header.Get("Location") != "/d/acme.example" {
		t.Errorf("GET /d/acme.example/ signed out = %d to %q, want 301 to /d/acme.example", p.Status, p.Header.Get("Location"))
	}

	c := e.signIn(t, "admin")
	c.HTTP.CheckRedirect = noFollow
	for _, tc := range []struct{ method, path, want string }{
		{http.MethodGet, "/d/acme.example/", "/d/acme.example"},
		{http.MethodGet, "/d/acme.example//?page=2&q=a%26b", "/d/acme.example?page=2&q=a%26b"},
		{http.MethodHead, "/audit/", "/audit"},
		{http.MethodGet, "/d/acme.example/logins/a%2Fb%3Fc@acme.example/reset/", "/d/acme.example/logins/a%2Fb%3Fc@acme.example/reset"},
	} {
		p := send(t, c, tc.method, tc.path)
		if p.Status != http.StatusMovedPermanently || p.Header.Get("Location") != tc.want {
			t.Errorf("%s %s = %d to %q, want 301 to %q", tc.method, tc.path, p.Status, p.Header.Get("Location"), tc.want)
		}
		// Like every answer, it has a request id and the site's security headers.
		if p.Header.Get("X-Request-Id") == "" || p.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: the redirect lacks the request id or the security headers: %v", tc.method, tc.path, p.Header)
		}
	}

	// The domain pages' prefix, trimmed to, leads up to the domain list.
	for _, path := range []string{"/d", "/d/"} {
		c.HTTP.CheckRedirect = nil
		p := send(t, c, http.MethodGet, path)
		c.HTTP.CheckRedirect = noFollow
		if p.Status != http.StatusOK || p.URL.Path != "/" || p.TestID("domain-row").Length() == 0 {
			t.Errorf("GET %s followed: %d at %s, want the domain list", path, p.Status, p.URL)
		}
	}

	// Followed, the redirect shows the page itself.
	c.HTTP.CheckRedirect = nil
	p, err := c.Get(context.Background(), "/d/acme.example/")
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusOK || p.URL.Path != "/d/acme.example" || p.Doc == nil ||
		!strings.Contains(p.Doc.Find("h1").Text(), "acme.example") {
		t.Errorf("GET /d/acme.example/ followed: %d at %s, want the domain's page", p.Status, p.URL)
	}
	c.HTTP.CheckRedirect = noFollow

	// The root stays itself, and "//host/" would read as another site's address when trimmed: a
	// redirect, if any, stays on this site (Go's client sends "\\" as "%5C", which no browser
	// reads as a separator).
	if p := send(t, c, http.MethodGet, "/"); p.Status != http.StatusOK {
		t.Errorf("GET / = %d, want 200", p.Status)
	}
	for _, path := range []string{"//evil.example/", `/\evil.example/`, "///evil.example//", "/%2F/evil.example/"} {
		p := send(t, c, http.MethodGet, path)
		loc := p.Header.Get("Location")
		if u, err := url.Parse(loc); p.Status == http.StatusMovedPermanently &&
			(err != nil || u.Host != "" || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`)) {
			t.Errorf("GET %s redirected to %q, off this site", path, loc)
		}
	}
	// A POST would lose its form: it is not redirected.
	form := url.Values{"login": {"x"}}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, e.URL+"/d/acme.example/new/", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p, err := c.Do(req); err != nil || p.Status == http.StatusMovedPermanently {
		t.Errorf("POST /d/acme.example/new/ = %v, %v; want no redirect", p, err)
	}
}
