package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/app"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/store"
)

// callbackWith is the callback of a sign-in b started, with the state the provider was given
// and the other parameters in q.
func (b *browser) callbackWith(q url.Values) page {
	b.t.Helper()
	authz, err := url.Parse(b.startLogin("/protected"))
	if err != nil {
		b.t.Fatal(err)
	}
	q.Set("state", authz.Query().Get("state"))
	return b.get(auth.CallbackPath + "?" + q.Encode())
}

// TestProviderErrorAnswers: how each kind of provider refusal is answered, and what the audit
// trail keeps (the code and the provider's description).
func TestProviderErrorAnswers(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, tc := range []struct {
		code   string
		status int
		body   string
	}{
		{"temporarily_unavailable", http.StatusServiceUnavailable, "identity provider cannot be reached"},
		{"login_required", http.StatusForbidden, "(it answered login_required)"},
		{"consent_required", http.StatusForbidden, "(it answered consent_required)"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			pg := h.browser().callbackWith(url.Values{"error": {tc.code}, "error_description": {"the provider's words"}})
			if pg.resp.StatusCode != tc.status || !strings.Contains(pg.body, tc.body) || findSetCookie(pg.resp, auth.CookieName) != nil {
				t.Errorf("callback with error=%s = %d %q, want %d with %q and no session", tc.code, pg.resp.StatusCode, pg.body, tc.status, tc.body)
			}
			if ev := h.events.last(auth.ActionSignInRefused); ev.Detail != "identity provider answered "+tc.code+": the provider's words" || ev.Outcome != "failed" {
				t.Errorf("refusal recorded as %+v", ev)
			}
		})
	}
	// An error answer to a sign-in this browser did not start is refused for its state, before
	// the provider's code is looked at: a link from another site cannot show the provider's page.
	t.Run("error with an unknown state", func(t *testing.T) {
		pg := h.browser().get(auth.CallbackPath + "?" + url.Values{"state": {"forged"}, "error": {"access_denied"}}.Encode())
		if pg.resp.StatusCode != http.StatusBadRequest || strings.Contains(pg.body, "access_denied") {
			t.Errorf("error callback with a forged state = %d %q, want 400 without the provider's code", pg.resp.StatusCode, pg.body)
		}
		if ev := h.events.last(auth.ActionSignInRefused); !strings.Contains(ev.Detail, "has this state") {
			t.Errorf("refusal recorded as %+v, want the state's", ev)
		}
	})
	t.Run("no code", func(t *testing.T) {
		pg := h.browser().callbackWith(url.Values{})
		if pg.resp.StatusCode != http.StatusBadRequest || !strings.Contains(pg.body, "Sign-in could not be completed.") {
			t.Errorf("callback without a code = %d %q, want 400", pg.resp.StatusCode, pg.body)
		}
		if ev := h.events.last(auth.ActionSignInRefused); ev.Detail != "no authorization code" {
			t.Errorf("refusal recorded as %+v", ev)
		}
	})
}

// tokenRewriting is an HTTP client for the provider whose token answers go through edit, which
// may replace them.
func tokenRewriting(edit func(resp *http.Response) *http.Response) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil || r.URL.Path != "/token" {
			return resp, err
		}
		return edit(resp), nil
	})}
}

// TestTokenEndpointAnswers: a token endpoint failing with 500 is the provider down (503); a
// token answer without an ID token is refused as such (400).
func TestTokenEndpointAnswers(t *testing.T) {
	t.Run("500", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		h.cfg.HTTPClient = tokenRewriting(func(resp *http.Response) *http.Response {
			resp.Body.Close()
			r := textResponse(http.StatusInternalServerError)
			r.Header.Set("Content-Type", "application/json")
			r.Body = io.NopCloser(strings.NewReader(`{"error":"server_error"}`))
			r.ContentLength = -1
			return r
		})
		h.restart(testKeys(1))
		b := h.browser()
		pg := b.get(b.toCallback("/protected", "admin"))
		if pg.resp.StatusCode != http.StatusServiceUnavailable || findSetCookie(pg.resp, auth.CookieName) != nil {
			t.Errorf("callback with the token endpoint answering 500 = %d %q, want 503 and no session", pg.resp.StatusCode, pg.body)
		}
	})
	t.Run("no id_token", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		h.cfg.HTTPClient = tokenRewriting(func(resp *http.Response) *http.Response {
			defer resp.Body.Close()
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			delete(m, "id_token")
			b, _ := json.Marshal(m)
			resp.Body = io.NopCloser(bytes.NewReader(b))
			resp.ContentLength = int64(len(b))
			resp.Header.Del("Content-Length")
			return resp
		})
		h.restart(testKeys(1))
		b := h.browser()
		pg := b.get(b.toCallback("/protected", "admin"))
		if pg.resp.StatusCode != http.StatusBadRequest || findSetCookie(pg.resp, auth.CookieName) != nil {
			t.Errorf("callback with no id_token = %d, want 400 and no session", pg.resp.StatusCode)
		}
		if ev := h.events.last(auth.ActionSignInRefused); ev.Detail != "token response has no id_token" {
			t.Errorf("refusal recorded as %+v", ev)
		}
	})
}

// TestLoginCookieLifetime: a sign-in's state cookie is good for ten minutes from when the
// sign-in started (and not for one dated in the future, a minute of clock skew aside): a
// callback after that is refused for its state, whatever the provider's code.
func TestLoginCookieLifetime(t *testing.T) {
	for _, tc := range []struct {
		name string
		move time.Duration
	}{{"after ten minutes", 10*time.Minute + time.Second}, {"from the future", -2 * time.Minute}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			b := h.browser()
			cb := b.toCallback("/protected", "admin")
			h.clock.Add(tc.move)
			pg := b.get(cb)
			if pg.resp.StatusCode != http.StatusBadRequest || findSetCookie(pg.resp, auth.CookieName) != nil {
				t.Errorf("callback = %d, want 400 and no session", pg.resp.StatusCode)
			}
			if ev := h.events.last(auth.ActionSignInRefused); !strings.Contains(ev.Detail, "has this state") {
				t.Errorf("refusal recorded as %+v, want the state's", ev)
			}
			// The user is told why, not only that it failed.
			if !strings.Contains(pg.body, "started more than 10 minutes ago") {
				t.Errorf("callback answered %q, want the likely reasons", pg.body)
			}
		})
	}
}

// TestLogoutEndSessionURL: the provider's end_session_endpoint is kept as discovery gives it,
// query included, and a sign-out without a session (nothing to hint) stays here.
func TestLogoutEndSessionURL(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.cfg.HTTPClient = jsonRewriting("/.well-known/openid-configuration", func(m map[string]any) {
		m["end_session_endpoint"] = m["end_session_endpoint"].(string) + "?tenant=acme"
	})
	h.restart(testKeys(1))
	b := h.browser()
	tok := csrfOf(t, b.signIn("admin"))
	loc := location(t, b.do(http.MethodPost, auth.LogoutPath, url.Values{"_csrf": {tok}}, nil))
	u, err := url.Parse(loc)
	if err != nil || u.Path != "/end_session" {
		t.Fatalf("sign-out redirected to %q, want the provider's end_session", loc)
	}
	if q := u.Query(); q.Get("tenant") != "acme" || q.Get("id_token_hint") == "" || q.Get("client_id") != "smtpdesk-test" {
		t.Errorf("end_session query = %v, want tenant kept, id_token_hint and client_id", q)
	}
	if loc := location(t, h.browser().do(http.MethodPost, auth.LogoutPath, url.Values{}, nil)); loc != auth.SignedOutPath {
		t.Errorf("sign-out without a session redirected to %q, want %s", loc, auth.SignedOutPath)
	}
}

// TestSignInMovedToTheBaseURLHost: a sign-in started at another name of the server goes to
// RedirectURL's host first, with its path to come back to; the host is compared without case
// and without the port the scheme implies.
func TestSignInMovedToTheBaseURLHost(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.cfg.RequestHost = func(r *http.Request) string {
		if host := r.Header.Get("X-Test-Host"); host != "" {
			return host
		}
		return r.Host
	}
	h.restart(testKeys(1))
	pg := h.browser().do(http.MethodGet, auth.LoginPath+"?next="+url.QueryEscape("/protected?a=1"), nil, map[string]string{"X-Test-Host": "alias.example"})
	u, err := url.Parse(location(t, pg))
	if err != nil || u.Scheme+"://"+u.Host != h.srv.URL || u.Path != auth.LoginPath {
		t.Fatalf("sign-in at another host redirected to %q, want %s%s", u, h.srv.URL, auth.LoginPath)
	}
	if q := u.Query(); q.Get("moved") != "1" || q.Get("next") != "/protected?a=1" {
		t.Errorf("moved sign-in's query = %v, want moved=1 and the next path", q)
	}

	h.cfg.RedirectURL = "https://app.example/auth/callback"
	h.restart(testKeys(1))
	pg = h.browser().do(http.MethodGet, auth.LoginPath, nil, map[string]string{"X-Test-Host": "APP.example:443"})
	if loc := location(t, pg); !strings.HasPrefix(loc, h.idp.Issuer()+"/authorize?") {
		t.Errorf("sign-in at APP.example:443 for https://app.example redirected to %q, want the provider", loc)
	}
}

// TestConfigChecked: New refuses a configuration it cannot sign in with or keep sessions safe
// with, and takes each size of AES key for the block key.
func TestConfigChecked(t *testing.T) {
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "config.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	good := auth.Config{IssuerURL: "https://idp.example", ClientID: "smtpdesk", RedirectURL: "https://app.example/auth/callback", SessionKeys: testKeys(1)}
	for _, tc := range []struct {
		name   string
		change func(*auth.Config)
		ok     bool
	}{
		{"good", func(*auth.Config) {}, true},
		{"16-byte block key", func(c *auth.Config) { c.SessionKeys = [][]byte{testKeys(1)[0], make([]byte, 16)} }, true},
		{"24-byte block key", func(c *auth.Config) { c.SessionKeys = [][]byte{testKeys(1)[0], make([]byte, 24)} }, true},
		{"20-byte block key", func(c *auth.Config) { c.SessionKeys = [][]byte{testKeys(1)[0], make([]byte, 20)} }, false},
		{"empty block key", func(c *auth.Config) { c.SessionKeys = [][]byte{testKeys(1)[0], nil} }, false},
		{"no block key", func(c *auth.Config) { c.SessionKeys = [][]byte{testKeys(1)[0]} }, false},
		{"second pair without its block key", func(c *auth.Config) { c.SessionKeys = append(testKeys(1), testKeys(1)[0]) }, false},
		{"31-byte hash key", func(c *auth.Config) { c.SessionKeys = [][]byte{make([]byte, 31), testKeys(1)[1]} }, false},
		{"16-byte hash key", func(c *auth.Config) { c.SessionKeys = [][]byte{make([]byte, 16), testKeys(1)[1]} }, false},
		{"no client id", func(c *auth.Config) { c.ClientID = "" }, false},
		{"ftp redirect", func(c *auth.Config) { c.RedirectURL = "ftp://app.example/auth/callback" }, false},
		{"relative redirect", func(c *auth.Config) { c.RedirectURL = "/auth/callback" }, false},
	} {
		cfg := good
		tc.change(&cfg)
		_, err := auth.New(cfg, app.SessionRepo(db), nil, nil)
		if (err == nil) != tc.ok {
			t.Errorf("%s: New err = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	if _, err := auth.New(good, nil, nil, nil); err == nil {
		t.Error("New without a session repository: no error")
	}
}

// TestNextPathOver2048Bytes: a path to come back to longer than 2048 bytes is not kept (the
// sign-in comes back home), whether given to the sign-in or taken from the page asked for.
func TestNextPathOver2048Bytes(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	long := "/protected?" + strings.Repeat("a", 2038) // 2049 bytes
	if got := auth.SafeNext(long); got != "/" {
		t.Errorf("SafeNext of %d bytes = %q, want /", len(long), got)
	}
	if got := auth.SafeNext(long[:2048]); got != long[:2048] {
		t.Errorf("SafeNext of 2048 bytes refused it")
	}
	b := h.browser()
	if got := location(t, b.get(b.toCallback(long, "admin"))); got != "/" {
		t.Errorf("after sign-in with a %d-byte next, redirected to %q, want /", len(long), got)
	}
	if got := location(t, h.browser().get(long)); got != auth.LoginPath+"?next=%2F" {
		t.Errorf("GET of a %d-byte path signed out redirected to %q, want sign-in coming back home", len(long), got)
	}
}

// TestSignInRateLimitKeyNotAnAddress: a client "address" that is not an IP address (what a
// TrustedClientIP rule may give for a Unix socket peer or a name) is its own budget, not one
// shared by everything that is not an address.
func TestSignInRateLimitKeyNotAnAddress(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.cfg.SignInPerMinute = 1
	h.cfg.TrustedClientIP = func(r *http.Request) string { return r.Header.Get("X-Test-Client") }
	h.restart(testKeys(1))
	b := h.browser()
	for _, tc := range []struct {
		client string
		want   int
	}{{"peer-a", http.StatusFound}, {"peer-a", http.StatusTooManyRequests}, {"peer-b", http.StatusFound}} {
		if got := b.do(http.MethodGet, auth.LoginPath, nil, map[string]string{"X-Test-Client": tc.client}).resp.StatusCode; got != tc.want {
			t.Errorf("login from %q = %d, want %d", tc.client, got, tc.want)
		}
	}
}
