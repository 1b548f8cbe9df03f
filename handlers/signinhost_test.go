package handlers_test

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/static"
)

// otherHost returns base (http://127.0.0.1:port) as another name of the same listener
// (http://localhost:port), as a user who typed localhost reaches it.
func otherHost(t *testing.T, base string) *url.URL {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = "localhost:" + u.Port()
	return u
}

// TestSignInStartedAtAnotherHost: a sign-in started at another name of the same server than the
// base URL's (localhost for 127.0.0.1, an internal alias) set its state cookie for that name,
// the provider sent the browser back to the base URL's callback, which found no sign-in in
// progress: the first try ended on "Sign-in did not complete", the second (now on the base
// host) worked. The sign-in is now sent to the base URL's host before any cookie is set, with
// its path to come back to, and completes there the first time.
func TestSignInStartedAtAnotherHost(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	alias := otherHost(t, e.URL)
	base, _ := url.Parse(e.URL)

	t.Run("login link", func(t *testing.T) {
		c, err := testflow.New(alias.String())
		if err != nil {
			t.Fatal(err)
		}
		const next = "/d/acme.example?q=a"
		p, err := c.SignInNext(ctx, "admin", next)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != http.StatusOK || p.URL.Host != base.Host || p.URL.RequestURI() != next {
			t.Fatalf("sign-in started at %s ended at %s with %d, want %s%s with 200; page: %.300s",
				alias.Host, p.URL, p.Status, base.Host, next, p.Text())
		}
		if cks := c.HTTP.Jar.Cookies(alias); len(cks) != 0 {
			t.Errorf("%d cookies set for %s (%s first), want none: the sign-in belongs to the base URL's host", len(cks), alias.Host, cks[0].Name)
		}
		// The session is the base host's: its pages open signed in.
		wantStatus(t, get(t, c, e.URL+"/audit"), http.StatusOK)
	})

	t.Run("signed-out page", func(t *testing.T) {
		c, err := testflow.New(alias.String())
		if err != nil {
			t.Fatal(err)
		}
		p := get(t, c, "/audit?action=auth.sign_in")
		if p.URL.Host == alias.Host || p.TestID("persona-admin").Length() == 0 {
			t.Fatalf("signed-out GET at %s ended at %s (%d), want the provider's chooser", alias.Host, p.URL, p.Status)
		}
		var viaBase bool
		for _, r := range p.Redirects {
			viaBase = viaBase || (r.Host == base.Host && r.Path == auth.LoginPath && r.Query().Get("next") == "/audit?action=auth.sign_in")
		}
		if !viaBase {
			t.Errorf("redirects %v, want the sign-in at %s with next=/audit?action=auth.sign_in", p.Redirects, base.Host)
		}
		if cks := c.HTTP.Jar.Cookies(alias); len(cks) != 0 {
			t.Errorf("%d cookies set for %s (%s first), want none", len(cks), alias.Host, cks[0].Name)
		}
	})

	t.Run("next kept, and kept safe", func(t *testing.T) {
		for next, want := range map[string]string{
			"/d/acme.example?q=a&page=2": "/d/acme.example?q=a&page=2",
			"//evil.example/x":           "/",
			"https://evil.example/x":     "/",
		} {
			p := noFollow(t, http.MethodGet, alias.String()+auth.LoginPath+"?next="+url.QueryEscape(next), "", nil)
			loc, _ := url.Parse(p.Header.Get("Location"))
			if p.StatusCode != http.StatusFound || loc.Scheme+"://"+loc.Host+loc.Path != e.URL+auth.LoginPath || loc.Query().Get("next") != want {
				t.Errorf("login with next=%s at %s = %d to %s, want 302 to %s%s with next=%s", next, alias.Host, p.StatusCode, loc, e.URL, auth.LoginPath, want)
			}
			if cks := p.Cookies(); len(cks) != 0 {
				t.Errorf("login at %s set %d cookies (%s first) before sending the browser to %s", alias.Host, len(cks), cks[0].Name, base.Host)
			}
		}
	})

	t.Run("health and static files answer at any host", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz", static.URL("app.css")} {
			p := noFollow(t, http.MethodGet, alias.String()+path, "", nil)
			if p.StatusCode != http.StatusOK {
				t.Errorf("GET %s at %s = %d (Location %q), want 200", path, alias.Host, p.StatusCode, p.Header.Get("Location"))
			}
		}
	})

	t.Run("a missing sign-in says to sign in again", func(t *testing.T) {
		c, err := testflow.New(e.URL)
		if err != nil {
			t.Fatal(err)
		}
		p := get(t, c, auth.CallbackPath+"?state=from-another-host&code=x")
		wantStatus(t, p, http.StatusBadRequest)
		if href := p.TestID("sign-in").AttrOr("href", ""); href != auth.LoginPath || !strings.Contains(p.Text(), "Sign in again") {
			t.Errorf("callback without its sign-in: sign-in link %q, text %.300q; want %s and a hint to sign in again", href, p.Text(), auth.LoginPath)
		}
	})
}

// TestSignInHostBehindProxy: the host a sign-in starts at is the one the browser asked for. A
// trusted proxy's X-Forwarded-Host says which (the Host may be the proxy's upstream name); an
// untrusted peer's is not read; and a proxy that passes its own Host and no X-Forwarded-Host
// gets one redirect, not an endless loop.
func TestSignInHostBehindProxy(t *testing.T) {
	trusted := newEnv(t, envOptions{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	untrusted := newEnv(t, envOptions{})
	toProvider := func(e *env) func(string) bool {
		return func(loc string) bool { return strings.HasPrefix(loc, e.IdP.Issuer()+"/authorize?") }
	}
	toBase := func(e *env) func(string) bool {
		return func(loc string) bool { return strings.HasPrefix(loc, e.URL+auth.LoginPath+"?") }
	}
	tests := []struct {
		name  string
		e     *env
		path  string
		host  string
		xfh   string
		check func(*env) func(string) bool
	}{
		{"trusted proxy, browser at the base host", trusted, "/auth/login?next=%2Faudit", "backend.internal:8080", strings.TrimPrefix(trusted.URL, "http://"), toProvider},
		{"trusted proxy, browser at an alias", trusted, "/auth/login?next=%2Faudit", strings.TrimPrefix(trusted.URL, "http://"), "desk.internal", toBase},
		{"untrusted peer's X-Forwarded-Host ignored", untrusted, "/auth/login?next=%2Faudit", strings.TrimPrefix(untrusted.URL, "http://"), "desk.internal", toProvider},
		{"a proxy's own Host: sent once", untrusted, "/auth/login?next=%2Faudit", "backend.internal:8080", "", toBase},
		{"a proxy's own Host: not sent again", untrusted, "/auth/login?moved=1&next=%2Faudit", "backend.internal:8080", "", toProvider},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.xfh != "" {
				hdr["X-Forwarded-Host"] = tt.xfh
			}
			resp := noFollow(t, http.MethodGet, tt.e.URL+tt.path, tt.host, hdr)
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !tt.check(tt.e)(loc) {
				t.Errorf("GET %s (Host %s, X-Forwarded-Host %q) = %d to %q", tt.path, tt.host, tt.xfh, resp.StatusCode, loc)
			}
		})
	}
	if !strings.Contains(untrusted.Logs.String(), "even after a redirect there") {
		t.Error("a sign-in whose host stays wrong after the redirect is not logged")
	}
}

// noFollow sends one request (Host host when not "") without following redirects or keeping
// cookies, and returns the answer with its body closed.
func noFollow(t *testing.T, method, u, host string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
