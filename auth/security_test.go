package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/labstack/echo/v4"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/demoidp"
)

func TestSignInFlow(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	pg := b.signIn("operator")
	if !strings.Contains(pg.body, "hello omar@acme.example groups=1") {
		t.Errorf("protected page = %q", pg.body)
	}
	if got := h.events.last(auth.ActionSignIn); got.Subject != "demo-operator" || got.Issuer != h.idp.Issuer() || got.Email != "omar@acme.example" || got.ClientIP != "127.0.0.1" {
		t.Errorf("sign-in event = %+v", got)
	}
}

func TestSecurity01CookieFlags(t *testing.T) {
	many := make([]string, 500)
	for i := range many {
		many[i] = fmt.Sprintf("a-rather-long-group-name-for-size-testing-%03d", i)
	}
	personas := append(demoidp.DefaultPersonas(), demoidp.Persona{ID: "many", Name: "Many Groups", Email: "many@x.example", EmailVerified: true, Groups: many})
	h := newHarness(t, harnessOpts{personas: personas})
	b := h.browser()

	loginResp := b.get(auth.LoginPath + "?next=/protected")
	lc := findLoginCookie(loginResp.resp)
	if lc == nil {
		t.Fatal("no sign-in cookie set")
	}
	// The names themselves, not the constants that hold them: a browser keeps a __Host- cookie
	// only when it is Secure, has Path=/ and no Domain, so no subdomain can set or shadow it.
	if !strings.HasPrefix(lc.Name, "__Host-") || !strings.HasPrefix(auth.CookieName, "__Host-") {
		t.Errorf("cookie names %q and %q, want both with the __Host- prefix", lc.Name, auth.CookieName)
	}
	if !lc.Secure || !lc.HttpOnly || lc.SameSite != http.SameSiteLaxMode || lc.Path != "/" || lc.Domain != "" || lc.MaxAge <= 0 || lc.MaxAge > 15*60 {
		t.Errorf("sign-in cookie = %+v, want Secure HttpOnly Lax Path=/ no Domain, Max-Age <= 15 min", lc)
	}
	cbURL := location(t, b.choosePersona(location(t, loginResp), "many"))
	cb := b.get(cbURL)
	c := findSetCookie(cb.resp, auth.CookieName)
	if c == nil {
		t.Fatalf("callback set no %s cookie; Set-Cookie %v", auth.CookieName, cb.resp.Header["Set-Cookie"])
	}
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.MaxAge != 0 {
		t.Errorf("session cookie = %+v, want Secure HttpOnly Lax Path=/ no Domain, no Max-Age", c)
	}
	for _, raw := range cb.resp.Header["Set-Cookie"] {
		if strings.HasPrefix(raw, auth.CookieName+"=") && (strings.Contains(strings.ToLower(raw), "domain=") || strings.Contains(strings.ToLower(raw), "expires=")) {
			t.Errorf("session Set-Cookie %q has Domain or Expires", raw)
		}
	}
	if got := len(c.Name) + len(c.Value); got > 4096 {
		t.Errorf("cookie name+value = %d bytes, want <= 4096", got)
	}
	if lc2 := findSetCookie(cb.resp, lc.Name); lc2 == nil || lc2.MaxAge >= 0 {
		t.Errorf("callback did not clear the sign-in cookie: %+v", lc2)
	}
	pg := b.get("/protected")
	if !strings.Contains(pg.body, "groups=500") {
		t.Errorf("protected page = %q, want 500 groups from the server-side record", pg.body)
	}
}

func TestDemoCookiesWithoutHostPrefix(t *testing.T) {
	h := newHarness(t, harnessOpts{insecure: true})
	b := h.browser()
	loc := location(t, b.choosePersona(b.startLogin("/protected"), "admin"))
	cb := b.get(loc)
	c := findSetCookie(cb.resp, auth.InsecureCookieName)
	if c == nil || c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("demo cookie = %+v, want %s, not Secure, HttpOnly, Lax", c, auth.InsecureCookieName)
	}
	if findSetCookie(cb.resp, auth.CookieName) != nil {
		t.Error("demo mode set a __Host- cookie")
	}
	if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
		t.Errorf("protected = %d", pg.resp.StatusCode)
	}
}

// TestSignInValuesFreshEachTime: every sign-in sends the provider its own state, nonce and PKCE
// challenge (SECURITY.md items 6 and 7): a fixed value would let a code or an ID token taken from
// one sign-in be used in another. Three sign-ins, and every value differs from the others.
func TestSignInValuesFreshEachTime(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	seen := map[string]map[string]bool{"state": {}, "nonce": {}, "code_challenge": {}}
	for range 3 {
		u, err := url.Parse(h.browser().startLogin("/protected"))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if m := q.Get("code_challenge_method"); m != "S256" {
			t.Errorf("code_challenge_method = %q, want S256", m)
		}
		for name, values := range seen {
			v := q.Get(name)
			if len(v) < 22 || values[v] {
				t.Errorf("%s %q: empty, short or sent before", name, v)
			}
			values[v] = true
		}
	}
}

func TestSecurity02NewSessionAtSignIn(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	b.signIn("admin")
	before := b.sessionCookie()
	// Sign in again in the same browser, as someone else.
	cb := b.get(location(t, b.choosePersona(b.startLogin("/protected"), "reviewer")))
	location(t, cb)
	after := b.sessionCookie()
	if before == nil || after == nil || before.Value == after.Value {
		t.Fatalf("sign-in kept the session cookie: before %v after %v", before, after)
	}
	if pg := b.get("/protected"); !strings.Contains(pg.body, "rita@smtpdesk.example") {
		t.Errorf("protected = %q, want the new user", pg.body)
	}
	old := h.withCookie(before)
	if got := old.get("/protected"); got.resp.StatusCode != http.StatusFound {
		t.Errorf("pre-login cookie still works: %d %q", got.resp.StatusCode, got.body)
	}
}

func TestSecurity03IdleAndAbsoluteExpiry(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		b := h.browser()
		b.signIn("admin")
		h.clock.Add(29 * time.Minute)
		if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
			t.Fatalf("after 29 min idle = %d, want 200", pg.resp.StatusCode)
		}
		h.clock.Add(29 * time.Minute) // the request above renewed the idle window
		if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
			t.Fatalf("after 29 more min = %d, want 200", pg.resp.StatusCode)
		}
		h.clock.Add(31 * time.Minute)
		pg := b.get("/protected")
		if loc := location(t, pg); !strings.HasPrefix(loc, auth.LoginPath) {
			t.Errorf("after 31 min idle redirected to %q, want sign-in", loc)
		}
	})
	// A short idle timeout keeps an active user signed in: activity was written at most once a
	// minute and the timeout counts from the last write, so with 30 s a user active every 20 s
	// was signed out at 40 s.
	t.Run("short idle timeout", func(t *testing.T) {
		h := newHarness(t, harnessOpts{idle: 30 * time.Second})
		b := h.browser()
		b.signIn("admin")
		for elapsed := 20 * time.Second; elapsed <= 3*time.Minute; elapsed += 20 * time.Second {
			h.clock.Add(20 * time.Second)
			if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
				t.Fatalf("active every 20 s, refused at %v: %d", elapsed, pg.resp.StatusCode)
			}
		}
		h.clock.Add(33 * time.Second) // the 30 s and the 3 s between activity writes (auth.IdleLimit)
		if loc := location(t, b.get("/protected")); !strings.HasPrefix(loc, auth.LoginPath) {
			t.Errorf("after 33 s idle redirected to %q, want sign-in", loc)
		}
	})
	t.Run("absolute", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		b := h.browser()
		b.signIn("admin")
		for elapsed := time.Duration(0); elapsed < 11*time.Hour+40*time.Minute; elapsed += 20 * time.Minute {
			h.clock.Add(20 * time.Minute)
			if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
				t.Fatalf("active session refused after %v", elapsed+20*time.Minute)
			}
		}
		h.clock.Add(21 * time.Minute) // 12h01m
		if loc := location(t, b.get("/protected")); !strings.HasPrefix(loc, auth.LoginPath) {
			t.Errorf("after 12h redirected to %q, want sign-in", loc)
		}
	})
}

func TestSecurity04LogoutReplayRefused(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	tok := csrfOf(t, b.signIn("admin"))
	saved := b.sessionCookie()
	pg := b.do(http.MethodPost, auth.LogoutPath, url.Values{"_csrf": {tok}}, nil)
	location(t, pg)
	if c := findSetCookie(pg.resp, auth.CookieName); c == nil || c.MaxAge >= 0 {
		t.Errorf("logout did not clear the cookie: %+v", c)
	}
	if h.events.count(auth.ActionSignOut) != 1 {
		t.Error("no sign-out event")
	}
	replay := h.withCookie(saved)
	if got := replay.get("/protected"); got.resp.StatusCode != http.StatusFound {
		t.Errorf("replayed cookie after logout = %d %q, want a redirect to sign-in", got.resp.StatusCode, got.body)
	}
	if got := replay.do(http.MethodPost, "/protected", url.Values{"_csrf": {tok}}, nil); got.resp.StatusCode != http.StatusForbidden {
		t.Errorf("replayed POST after logout = %d, want 403", got.resp.StatusCode)
	}
}

// TestLogoutChecksItsOwnToken: the sign-out route checks the CSRF token itself, whether or not
// the app runs CSRF() on every request (docs/SECURITY.md item 14), so that another site cannot
// sign a user out of an app that mounts auth without it.
func TestLogoutChecksItsOwnToken(t *testing.T) {
	h := newHarness(t, harnessOpts{noGlobalCSRF: true})
	b := h.browser()
	tok := csrfOf(t, b.signIn("admin"))
	for _, form := range []url.Values{nil, {"_csrf": {"x" + tok}}} {
		if pg := b.do(http.MethodPost, auth.LogoutPath, form, nil); pg.resp.StatusCode != http.StatusForbidden {
			t.Errorf("sign-out with token %q = %d, want 403", form.Get("_csrf"), pg.resp.StatusCode)
		}
	}
	if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
		t.Errorf("after refused sign-outs /protected = %d, want still signed in", pg.resp.StatusCode)
	}
	if pg := b.do(http.MethodPost, auth.LogoutPath, url.Values{"_csrf": {tok}}, nil); pg.resp.StatusCode/100 != 3 || h.events.count(auth.ActionSignOut) != 1 {
		t.Errorf("sign-out with the token = %d, %d sign-out events; want a redirect and one", pg.resp.StatusCode, h.events.count(auth.ActionSignOut))
	}
}

func TestSecurity05KeyRotationAndUndecodable(t *testing.T) {
	h := newHarness(t, harnessOpts{keys: testKeys(1)})
	b := h.browser()
	b.signIn("admin")
	old := b.sessionCookie()

	h.restart(append(testKeys(2), testKeys(1)...))
	if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
		t.Fatalf("old cookie after rotation = %d, want 200 (old keys still decode)", pg.resp.StatusCode)
	}
	b2 := h.browser()
	b2.signIn("reviewer")
	fresh := b2.sessionCookie()

	h.restart(testKeys(2))
	if pg := h.withCookie(fresh).get("/protected"); pg.resp.StatusCode != http.StatusOK {
		t.Errorf("cookie encoded with the new first key = %d, want 200", pg.resp.StatusCode)
	}
	for name, val := range map[string]string{"retired key": old.Value, "garbage": "not-a-cookie", "empty-ish": "====", "huge": strings.Repeat("A", 4000)} {
		pg := h.withCookie(&http.Cookie{Name: auth.CookieName, Value: val}).get("/protected")
		if pg.resp.StatusCode != http.StatusFound {
			t.Errorf("%s cookie = %d, want a redirect to sign-in (signed out, never 500)", name, pg.resp.StatusCode)
		}
		if home := h.withCookie(&http.Cookie{Name: auth.CookieName, Value: val}).get("/"); home.resp.StatusCode != http.StatusOK {
			t.Errorf("%s cookie on a public page = %d, want 200", name, home.resp.StatusCode)
		}
	}
}

func TestSecurity06StateReplayAndMismatch(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	t.Run("mismatch", func(t *testing.T) {
		b := h.browser()
		cb, _ := url.Parse(b.toCallback("/protected", "admin"))
		q := cb.Query()
		q.Set("state", "forged")
		cb.RawQuery = q.Encode()
		pg := b.get(cb.String())
		if pg.resp.StatusCode != http.StatusBadRequest || findSetCookie(pg.resp, auth.CookieName) != nil {
			t.Errorf("forged state = %d (session cookie %v), want 400 and no session", pg.resp.StatusCode, findSetCookie(pg.resp, auth.CookieName))
		}
		if got := b.get("/protected"); got.resp.StatusCode != http.StatusFound {
			t.Error("signed in after a forged state")
		}
	})
	t.Run("no cookie", func(t *testing.T) {
		b := h.browser()
		cb := b.toCallback("/protected", "admin")
		pg := h.browser().get(cb) // another browser: no sign-in cookie
		if pg.resp.StatusCode != http.StatusBadRequest || findSetCookie(pg.resp, auth.CookieName) != nil {
			t.Errorf("callback without cookie = %d, want 400 and no session", pg.resp.StatusCode)
		}
	})
	t.Run("replay", func(t *testing.T) {
		b := h.browser()
		loginURL := b.startLogin("/protected")
		u, _ := url.Parse(h.srv.URL)
		var loginCookie *http.Cookie
		for _, c := range b.jar.Cookies(u) {
			if strings.HasPrefix(c.Name, auth.LoginCookieName+"-") {
				loginCookie = c
			}
		}
		cb := location(t, b.choosePersona(loginURL, "admin"))
		location(t, b.get(cb)) // the legitimate callback
		if pg := b.get(cb); pg.resp.StatusCode != http.StatusBadRequest {
			t.Errorf("same-browser replay = %d, want 400", pg.resp.StatusCode)
		}
		// The state's refusal, not the provider's of a spent code, which would refuse the replay
		// (400 too) were the state not used up.
		if ev := h.events.last(auth.ActionSignInRefused); !strings.Contains(ev.Detail, "has this state") {
			t.Errorf("same-browser replay refused as %+v, want the state check's refusal", ev)
		}
		thief := h.withCookie(loginCookie)
		pg := thief.get(cb)
		if pg.resp.StatusCode != http.StatusBadRequest || findSetCookie(pg.resp, auth.CookieName) != nil {
			t.Errorf("replay with the copied sign-in cookie = %d, want 400 and no session", pg.resp.StatusCode)
		}
	})
	t.Run("another state's cookie name", func(t *testing.T) {
		// A state cookie is found by a hash of the callback's state (8 bytes of it), so the
		// state it holds must be the callback's too: the sign-in cookie of state A, signed by
		// the server, put under the name state B's would have, does not complete B's callback
		// with A's code.
		b := h.browser()
		cb, _ := url.Parse(b.toCallback("/protected", "admin"))
		u, _ := url.Parse(h.srv.URL)
		var own *http.Cookie
		for _, c := range b.jar.Cookies(u) {
			if strings.HasPrefix(c.Name, auth.LoginCookieName+"-") {
				own = c
			}
		}
		if own == nil {
			t.Fatal("no sign-in cookie in the browser")
		}
		codecs := securecookie.CodecsFromPairs(testKeys(1)...)
		for _, c := range codecs {
			c.(*securecookie.SecureCookie).SetSerializer(securecookie.JSONEncoder{})
		}
		var ls map[string]any
		if err := securecookie.DecodeMulti(own.Name, own.Value, &ls, codecs...); err != nil {
			t.Fatalf("decode the sign-in cookie: %v", err)
		}
		const other = "another-state"
		sum := sha256.Sum256([]byte(other))
		name := auth.LoginCookieName + "-" + hex.EncodeToString(sum[:8])
		forged, err := securecookie.EncodeMulti(name, ls, codecs...)
		if err != nil {
			t.Fatal(err)
		}
		b.jar.SetCookies(u, []*http.Cookie{{Name: name, Value: forged, Path: "/", Secure: true, HttpOnly: true}})
		q := cb.Query()
		q.Set("state", other)
		cb.RawQuery = q.Encode()
		pg := b.get(cb.String())
		if pg.resp.StatusCode != http.StatusBadRequest || findSetCookie(pg.resp, auth.CookieName) != nil {
			t.Errorf("callback whose cookie holds another state = %d (session cookie set: %v), want 400 and no session",
				pg.resp.StatusCode, findSetCookie(pg.resp, auth.CookieName) != nil)
		}
	})
	t.Run("provider error", func(t *testing.T) {
		b := h.browser()
		before := h.events.count(auth.ActionSignInRefused)
		cb := location(t, b.choosePersona(b.startLogin("/protected"), "cancel"))
		if !strings.Contains(cb, "error=access_denied") {
			t.Fatalf("cancel redirected to %q", cb)
		}
		// Not 400 "start again": a provider that refused the user refuses again.
		// (The page's advice, to sign in again or ask for access, is handlers' error page's.)
		if pg := b.get(cb); pg.resp.StatusCode != http.StatusForbidden || !strings.Contains(pg.body, "access_denied") {
			t.Errorf("provider error = %d %q, want 403 naming access_denied", pg.resp.StatusCode, pg.body)
		}
		if h.events.count(auth.ActionSignInRefused) != before+1 {
			t.Error("refused sign-in not recorded")
		}
	})
}

func TestSecurity07TokenValidation(t *testing.T) {
	h := newHarness(t, harnessOpts{signInPerMinute: 100}) // two attempts a case, more than 20 in all
	tests := []struct {
		name   string
		tamper func(claims, header map[string]any)
	}{
		{"wrong nonce", func(c, _ map[string]any) { c["nonce"] = "not-the-nonce" }},
		{"missing nonce", func(c, _ map[string]any) { delete(c, "nonce") }},
		{"wrong issuer", func(c, _ map[string]any) { c["iss"] = "http://evil.example" }},
		{"wrong audience", func(c, _ map[string]any) { c["aud"] = "someone-else" }},
		{"expired", func(c, _ map[string]any) { c["exp"] = h.clock.Now().Add(-time.Minute).Unix() }},
		{"alg none", func(_, hd map[string]any) { hd["alg"] = "none" }},
		{"unknown kid", func(_, hd map[string]any) { hd["kid"] = "unknown-key" }},
		// No subject, no user: a session without one reads as signed out, and the browser
		// would go round the sign-in flow for ever.
		{"missing sub", func(c, _ map[string]any) { delete(c, "sub") }},
		{"empty sub", func(c, _ map[string]any) { c["sub"] = "" }},
		// This client among the audiences, but issued to another (OpenID Connect Core 3.1.3.7).
		{"azp another client, several audiences", func(c, _ map[string]any) {
			c["aud"] = []string{"other-client", "smtpdesk-test"}
			c["azp"] = "other-client"
		}},
		{"azp another client, one audience", func(c, _ map[string]any) { c["azp"] = "other-client" }},
		{"azp not a string", func(c, _ map[string]any) { c["azp"] = []string{"smtpdesk-test"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.idp.SetTamper(tt.tamper)
			t.Cleanup(func() { h.idp.SetTamper(nil) })
			before := h.events.count(auth.ActionSignInRefused)
			b := h.browser()
			pg := b.get(b.toCallback("/protected", "admin"))
			if pg.resp.StatusCode != http.StatusBadRequest || findSetCookie(pg.resp, auth.CookieName) != nil {
				t.Errorf("callback = %d (session cookie %v), want 400 and no session", pg.resp.StatusCode, findSetCookie(pg.resp, auth.CookieName) != nil)
			}
			if got := b.get("/protected"); got.resp.StatusCode != http.StatusFound {
				t.Error("signed in with a bad token")
			}
			if h.events.count(auth.ActionSignInRefused) != before+1 {
				t.Error("refusal not recorded")
			}
		})
	}
	t.Run("honest token still accepted", func(t *testing.T) {
		h.browser().signIn("admin")
	})
	// go-oidc takes a token whose audiences include this client; azp, when given, must name it.
	for name, tamper := range map[string]func(c, _ map[string]any){
		"several audiences, azp this client": func(c, _ map[string]any) {
			c["aud"] = []string{"other-client", "smtpdesk-test"}
			c["azp"] = "smtpdesk-test"
		},
		"several audiences, no azp": func(c, _ map[string]any) {
			c["aud"] = []string{"other-client", "smtpdesk-test"}
			delete(c, "azp")
		},
		"one audience, azp this client": func(c, _ map[string]any) { c["azp"] = "smtpdesk-test" },
	} {
		t.Run(name+" accepted", func(t *testing.T) {
			h.idp.SetTamper(tamper)
			t.Cleanup(func() { h.idp.SetTamper(nil) })
			h.browser().signIn("admin")
		})
	}
}

func TestGroupsFromUserinfo(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.idp.SetTamper(func(c, _ map[string]any) { delete(c, "groups") })
	if pg := h.browser().signIn("reviewer"); !strings.Contains(pg.body, "groups=1") {
		t.Errorf("protected = %q, want the group from userinfo", pg.body)
	}
}

func TestSecurity08LocalRedirectOnly(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tests := []struct{ next, want string }{
		{"/protected?x=1", "/protected?x=1"},
		{"//evil.example", "/"},
		// Three slashes: url.Parse reads no host in it, but a browser's Location does (the
		// slash check, not the parse, refuses it).
		{"///evil.example", "/"},
		{"https://evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/%2F%2Fevil.example", "/%2F%2Fevil.example"},
		{"javascript:alert(1)", "/"},
		{"", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.next, func(t *testing.T) {
			b := h.browser()
			got := location(t, b.get(b.toCallback(tt.next, "admin")))
			if got != tt.want {
				t.Errorf("after sign-in with next=%q redirected to %q, want %q", tt.next, got, tt.want)
			}
			if auth.SafeNext(tt.next) != tt.want {
				t.Errorf("SafeNext(%q) = %q, want %q", tt.next, auth.SafeNext(tt.next), tt.want)
			}
		})
	}
}

func TestSecurity09IdPDownAtStart(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	// A provider whose listener exists but does not answer yet: discovery must time out, not hang.
	idpSrv := httptest.NewUnstartedServer(nil)
	t.Cleanup(idpSrv.Close)
	issuer := "http://" + idpSrv.Listener.Addr().String()
	idp, err := demoidp.New(demoidp.Options{
		Issuer: issuer, ClientID: "smtpdesk-test", ClientSecret: "test-secret",
		RedirectURIs: []string{h.srv.URL + auth.CallbackPath}, Now: h.clock.Now, Key: testRSAKey(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	idpSrv.Config.Handler = idp.Handler()
	cfg := h.cfg
	cfg.IssuerURL = issuer
	cfg.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond}
	cfg.DiscoveryRetryMin, cfg.DiscoveryRetryMax = 50*time.Millisecond, 200*time.Millisecond
	a := h.newApp(cfg)

	b := h.browser()
	pg := b.get(auth.LoginPath)
	if pg.resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(pg.body, "identity provider cannot be reached") {
		t.Fatalf("sign-in while the provider is down = %d %q, want 503 with a clear message", pg.resp.StatusCode, pg.body)
	}
	if home := b.get("/"); home.resp.StatusCode != http.StatusOK {
		t.Errorf("public page while the provider is down = %d", home.resp.StatusCode)
	}
	if a.Ready() {
		t.Fatal("Ready before the provider answered")
	}
	idpSrv.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if got := location(t, b.get(auth.LoginPath)); !strings.HasPrefix(got, issuer+"/authorize?") {
		t.Errorf("sign-in after the provider came up redirected to %q", got)
	}
}

func TestSecurity10EndSessionRedirect(t *testing.T) {
	t.Run("provider offers end_session", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		b := h.browser()
		tok := csrfOf(t, b.signIn("admin"))
		out := b.do(http.MethodPost, auth.LogoutPath, url.Values{"_csrf": {tok}}, nil)
		if out.resp.StatusCode != http.StatusSeeOther {
			t.Errorf("logout = %d, want 303 (a POST's redirect, followed by a GET)", out.resp.StatusCode)
		}
		loc := location(t, out)
		u, err := url.Parse(loc)
		if err != nil || !strings.HasPrefix(loc, h.idp.Issuer()+"/end_session?") {
			t.Fatalf("logout redirected to %q, want the provider's end_session_endpoint", loc)
		}
		if u.Query().Get("id_token_hint") == "" || u.Query().Get("post_logout_redirect_uri") != h.srv.URL+auth.SignedOutPath {
			t.Errorf("end_session query = %v", u.Query())
		}
		if back := location(t, b.get(loc)); back != h.srv.URL+auth.SignedOutPath {
			t.Errorf("provider sent the browser to %q, want %s", back, h.srv.URL+auth.SignedOutPath)
		}
		if h.idp.EndSessions() != 1 {
			t.Errorf("provider end-session calls = %d, want 1", h.idp.EndSessions())
		}
		if got := b.get(auth.SignedOutPath); got.body != "signed out page" {
			t.Errorf("signed-out page = %q", got.body)
		}
	})
	t.Run("provider without end_session", func(t *testing.T) {
		h := newHarness(t, harnessOpts{noEndSess: true})
		b := h.browser()
		tok := csrfOf(t, b.signIn("admin"))
		out := b.do(http.MethodPost, auth.LogoutPath, url.Values{"_csrf": {tok}}, nil)
		if out.resp.StatusCode != http.StatusSeeOther {
			t.Errorf("logout = %d, want 303 (a POST's redirect, followed by a GET)", out.resp.StatusCode)
		}
		if loc := location(t, out); loc != auth.SignedOutPath {
			t.Errorf("logout redirected to %q, want %s", loc, auth.SignedOutPath)
		}
	})
}

func TestSecurity14CSRF(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	tok := csrfOf(t, b.signIn("admin"))
	tests := []struct {
		name string
		form url.Values
		hdr  map[string]string
		want int
	}{
		{"missing token", url.Values{}, nil, http.StatusForbidden},
		{"missing token same-origin", url.Values{}, map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusForbidden},
		{"wrong token", url.Values{"_csrf": {tok + "x"}}, nil, http.StatusForbidden},
		{"cross-site with token", url.Values{"_csrf": {tok}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"form token", url.Values{"_csrf": {tok}}, map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusOK},
		{"header token", url.Values{}, map[string]string{"X-CSRF-Token": tok}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.do(http.MethodPost, "/protected", tt.form, tt.hdr).resp.StatusCode; got != tt.want {
				t.Errorf("POST = %d, want %d", got, tt.want)
			}
		})
	}
	t.Run("token in the query string", func(t *testing.T) {
		q := "/protected?" + url.Values{"_csrf": {tok}}.Encode()
		if got := b.do(http.MethodPost, q, url.Values{}, nil).resp.StatusCode; got != http.StatusForbidden {
			t.Errorf("POST with the token in the URL only = %d, want 403", got)
		}
	})
	t.Run("signed out cross-site", func(t *testing.T) {
		if got := h.browser().do(http.MethodPost, "/protected", url.Values{}, map[string]string{"Sec-Fetch-Site": "cross-site"}).resp.StatusCode; got != http.StatusForbidden {
			t.Errorf("POST = %d, want 403", got)
		}
	})
	t.Run("logout without token", func(t *testing.T) {
		if got := b.do(http.MethodPost, auth.LogoutPath, url.Values{}, nil).resp.StatusCode; got != http.StatusForbidden {
			t.Errorf("logout without token = %d, want 403", got)
		}
		if got := b.get("/protected").resp.StatusCode; got != http.StatusOK {
			t.Errorf("session ended by a logout without token: %d", got)
		}
	})
	// BREACH: pages are compressed and may reflect request input, so the token in a page must
	// differ on every page (masked afresh) while each one still works.
	t.Run("masked afresh on every page", func(t *testing.T) {
		again := csrfOf(t, b.get("/protected"))
		if again == tok {
			t.Fatalf("two pages carry the same token %q", tok)
		}
		if got := b.do(http.MethodPost, "/protected", url.Values{"_csrf": {again}}, nil).resp.StatusCode; got != http.StatusOK {
			t.Errorf("POST with the second page's token = %d, want 200", got)
		}
		// The same bytes with one masked byte changed must fail.
		raw, err := base64.RawURLEncoding.DecodeString(again)
		if err != nil {
			t.Fatal(err)
		}
		raw[len(raw)-1] ^= 1
		if got := b.do(http.MethodPost, "/protected", url.Values{"_csrf": {base64.RawURLEncoding.EncodeToString(raw)}}, nil).resp.StatusCode; got != http.StatusForbidden {
			t.Errorf("POST with a token one bit off = %d, want 403", got)
		}
	})
	t.Run("another session's token", func(t *testing.T) {
		other := csrfOf(t, h.browser().signIn("reviewer"))
		if got := b.do(http.MethodPost, "/protected", url.Values{"_csrf": {other}}, nil).resp.StatusCode; got != http.StatusForbidden {
			t.Errorf("POST with another session's token = %d, want 403", got)
		}
	})
}

func TestRequireUserNonGET(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	// A signed-out POST is refused by CSRF (no session, no token) before RequireUser runs.
	if got := h.browser().do(http.MethodPost, "/protected", url.Values{}, nil).resp.StatusCode; got != http.StatusForbidden {
		t.Errorf("signed-out POST = %d, want 403", got)
	}
	// RequireUser on its own, behind no CSRF check: a POST without a user is 401 "session ended",
	// and the handler does not run.
	e := echo.New()
	e.Use(h.auth.Session(nil))
	ran := false
	e.POST("/only-require-user", func(c echo.Context) error { ran = true; return c.NoContent(http.StatusNoContent) }, h.auth.RequireUser())
	var refused error
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		refused = err
		e.DefaultHTTPErrorHandler(err, c)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/only-require-user", nil))
	if rec.Code != http.StatusUnauthorized || !errors.Is(refused, auth.ErrSessionEnded) || ran {
		t.Errorf("POST without a user through RequireUser = %d (%v), handler ran %v; want 401 ErrSessionEnded, not run", rec.Code, refused, ran)
	}
	loc := location(t, h.browser().get("/protected?a=1&b=%2F"))
	if want := auth.LoginPath + "?next=" + url.QueryEscape("/protected?a=1&b=%2F"); loc != want {
		t.Errorf("redirect = %q, want %q", loc, want)
	}
}

// TestFlashesAndPrefs: a flash survives the redirect and shows once; a preference stays.
func TestFlashesAndPrefs(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	e := h.app.Load()
	e.POST("/d/:domain/create", func(c echo.Context) error {
		if err := auth.AddFlash(c, "success", "created on "+c.Param("domain")); err != nil {
			return err
		}
		if err := auth.SetPref(c, "last_domain", c.Param("domain")); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/flashes")
	}, h.auth.RequireUser())
	e.GET("/flashes", func(c echo.Context) error {
		return c.String(http.StatusOK, fmt.Sprintf("%v pref=%s", auth.Flashes(c), auth.Pref(c, "last_domain")))
	}, h.auth.RequireUser())
	b := h.browser()
	tok := csrfOf(t, b.signIn("operator"))
	if got := location(t, b.do(http.MethodPost, "/d/acme.example/create", url.Values{"_csrf": {tok}}, nil)); got != "/flashes" {
		t.Errorf("allowed create redirected to %q", got)
	}
	if got := b.get("/flashes").body; got != "[{success created on acme.example  }] pref=acme.example" {
		t.Errorf("first read = %q", got)
	}
	if got := b.get("/flashes").body; got != "[] pref=acme.example" {
		t.Errorf("second read = %q, want flashes gone and pref kept", got)
	}

	// A message for one page view (AddFlashFor) shows on the page whose address names it
	// (?flash=), there and below the path it is for, and nowhere else: another page, or the
	// same list opened without it (another tab's), neither shows it nor takes it.
	var id string
	e.POST("/scoped", func(c echo.Context) error {
		var err error
		if id, err = auth.AddFlashFor(c, "/d/acme.example", "success", "for acme"); err != nil {
			return err
		}
		if err := auth.AddFlash(c, "info", "for any page"); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/")
	}, h.auth.RequireUser())
	show := func(c echo.Context) error {
		var out []string
		for _, f := range auth.Flashes(c) {
			out = append(out, f.Kind+": "+f.Message)
		}
		return c.String(http.StatusOK, strings.Join(out, "; "))
	}
	e.GET("/d/:domain", show, h.auth.RequireUser())
	e.GET("/d/:domain/new", show, h.auth.RequireUser())
	for _, tc := range []struct{ path, want string }{
		{"/d/acme.example?flash=", "success: for acme; info: for any page"},
		{"/d/acme.example/new?flash=", "success: for acme; info: for any page"},
		{"/d/acme.example", "info: for any page"},
		{"/d/acme.example?flash=another", "info: for any page"},
		{"/d/acme.example.evil?flash=", "info: for any page"},
		{"/d/example.com?flash=", "info: for any page"},
	} {
		location(t, b.do(http.MethodPost, "/scoped", url.Values{"_csrf": {tok}}, nil))
		path := tc.path
		if strings.HasSuffix(path, "?flash=") {
			path += id
		}
		if got := b.get(path).body; got != tc.want {
			t.Errorf("%s after a message for /d/acme.example: flashes %q, want %q", path, got, tc.want)
		}
		if got := b.get(path).body; got != "" && tc.want == "success: for acme; info: for any page" {
			t.Errorf("%s read again: %q, want none (a message is shown once)", path, got)
		}
		// Whatever that page showed, the message stays for its own page view until it is shown.
		if got := b.get("/d/acme.example?flash=" + id).body; tc.want != "success: for acme; info: for any page" && got != "success: for acme" {
			t.Errorf("the page the message is for, after %s: %q, want it", path, got)
		}
	}
}

// TestSignInProviderFailsMidway: a provider that fails between the redirect to it and the
// callback (its token endpoint unreachable, or its answer server_error) is unavailable (503,
// ErrSignInUnavailable: the "Sign-in is unavailable" page), not a sign-in to start again (400);
// a provider answer that is not a standard code is refused without showing it. Each is
// recorded as a refused sign-in, and no session is made.
// roundTripFunc lets a test stand between the app and the provider.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestUserinfoOfAnotherSubjectRefused: the userinfo answer must be about the ID token's subject
// (OpenID Connect Core 5.3.2); one about somebody else (a mixed-up or malicious provider, a
// token substituted on the way) ends the sign-in, and its claims (groups) are never used.
func TestUserinfoOfAnotherSubjectRefused(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	// The groups come from userinfo, as with providers that leave them out of the ID token.
	h.idp.SetTamper(func(c, _ map[string]any) { delete(c, "groups") })
	h.cfg.HTTPClient = jsonRewriting("/userinfo", func(claims map[string]any) { claims["sub"] = "someone-else" })
	h.restart(testKeys(1))
	b := h.browser()
	pg := b.get(b.toCallback("/protected", "admin"))
	if findSetCookie(pg.resp, auth.CookieName) != nil || pg.resp.StatusCode < 400 {
		t.Errorf("callback with another subject's userinfo = %d, cookie set %v; want refused", pg.resp.StatusCode, findSetCookie(pg.resp, auth.CookieName) != nil)
	}
	if ev := h.events.last(auth.ActionSignInRefused); !strings.Contains(ev.Detail, "userinfo subject") {
		t.Errorf("refusal recorded as %+v, want the userinfo subject named", ev)
	}
}

// TestProviderCallsHaveADeadlineByDefault: an HTTP client given without a timeout (or none at
// all) still gets one for the calls to the provider (SECURITY.md item 9): a token endpoint that
// never answers ends the sign-in with 503 "Sign-in is unavailable", not a request that hangs
// with its user. The endpoint here hangs until the request is given up, or for a minute, when
// the test fails.
func TestProviderCallsHaveADeadlineByDefault(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	safety := time.After(time.Minute)
	hung := false
	var tokenCalls atomic.Int32
	h.cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path != "/token" {
			return http.DefaultTransport.RoundTrip(r)
		}
		tokenCalls.Add(1)
		select {
		case <-r.Context().Done():
			return nil, r.Context().Err()
		case <-safety:
			hung = true
			return nil, errors.New("the test's safety net: no deadline ended the call")
		}
	})}
	h.restart(testKeys(1))
	b := h.browser()
	pg := b.get(b.toCallback("/protected", "admin"))
	if hung {
		t.Fatal("the token call had no deadline: it waited for the test's minute")
	}
	if pg.resp.StatusCode != http.StatusServiceUnavailable || findSetCookie(pg.resp, auth.CookieName) != nil {
		t.Errorf("callback with a hanging token endpoint = %d %q, want 503 and no session", pg.resp.StatusCode, pg.body)
	}
	// Once: the client secret goes the way the provider's discovery document says, so a failed
	// exchange is not sent again the other way (which kept the user waiting twice as long).
	if n := tokenCalls.Load(); n != 1 {
		t.Errorf("the token endpoint was asked %d times, want 1", n)
	}
}

func TestSignInProviderFailsMidway(t *testing.T) {
	t.Run("server_error", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		b := h.browser()
		authz, _ := url.Parse(b.startLogin("/protected"))
		cb := h.srv.URL + auth.CallbackPath + "?" + url.Values{"state": {authz.Query().Get("state")}, "error": {"server_error"}}.Encode()
		pg := b.get(cb)
		if pg.resp.StatusCode != http.StatusServiceUnavailable || findSetCookie(pg.resp, auth.CookieName) != nil {
			t.Errorf("server_error callback = %d %q, want 503 and no session", pg.resp.StatusCode, pg.body)
		}
		if h.events.count(auth.ActionSignInRefused) != 1 {
			t.Error("refused sign-in not recorded")
		}
	})
	t.Run("unknown error code", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		b := h.browser()
		authz, _ := url.Parse(b.startLogin("/protected"))
		cb := h.srv.URL + auth.CallbackPath + "?" + url.Values{"state": {authz.Query().Get("state")}, "error": {"<b>made-up</b>"}}.Encode()
		pg := b.get(cb)
		if pg.resp.StatusCode != http.StatusForbidden || strings.Contains(pg.body, "made-up") {
			t.Errorf("made-up error callback = %d %q, want 403 without the code", pg.resp.StatusCode, pg.body)
		}
	})
	t.Run("token endpoint down", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		b := h.browser()
		cb := b.toCallback("/protected", "admin")
		if err := h.idp.Close(); err != nil {
			t.Fatal(err)
		}
		pg := b.get(cb)
		if pg.resp.StatusCode != http.StatusServiceUnavailable || findSetCookie(pg.resp, auth.CookieName) != nil {
			t.Errorf("callback with the token endpoint down = %d %q, want 503 and no session", pg.resp.StatusCode, pg.body)
		}
		if h.events.count(auth.ActionSignInRefused) != 1 || !strings.Contains(h.events.last(auth.ActionSignInRefused).Detail, "code exchange failed") {
			t.Errorf("refusal not recorded as a failed code exchange: %+v", h.events.last(auth.ActionSignInRefused))
		}
	})
	// The token endpoint answers, but the signing keys or userinfo (asked when the ID token has
	// no groups claim, as with some providers always) do not: the provider is down too, and
	// "sign in again" would fail the same way (503). They were 400 "could not be completed". A
	// userinfo that refuses the token (401) is the sign-in's fault, not the provider's: 400.
	for _, tc := range []struct {
		name, path string
		fail       func() (*http.Response, error)
		status     int
		detail     string
	}{
		{"signing keys unreachable", "/jwks", func() (*http.Response, error) { return nil, errors.New("connection refused") }, http.StatusServiceUnavailable, "signing keys could not be fetched"},
		{"signing keys 503", "/jwks", func() (*http.Response, error) { return textResponse(http.StatusServiceUnavailable), nil }, http.StatusServiceUnavailable, "signing keys could not be fetched"},
		{"userinfo unreachable", "/userinfo", func() (*http.Response, error) { return nil, errors.New("connection refused") }, http.StatusServiceUnavailable, "reading the user's claims failed"},
		{"userinfo 502", "/userinfo", func() (*http.Response, error) { return textResponse(http.StatusBadGateway), nil }, http.StatusServiceUnavailable, "reading the user's claims failed"},
		{"userinfo 401", "/userinfo", func() (*http.Response, error) { return textResponse(http.StatusUnauthorized), nil }, http.StatusBadRequest, "reading the user's claims failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.idp.SetTamper(func(c, _ map[string]any) { delete(c, "groups") })
			h.cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if r.URL.Path == tc.path {
					return tc.fail()
				}
				return http.DefaultTransport.RoundTrip(r)
			})}
			h.restart(testKeys(1))
			b := h.browser()
			pg := b.get(b.toCallback("/protected", "admin"))
			if pg.resp.StatusCode != tc.status || findSetCookie(pg.resp, auth.CookieName) != nil {
				t.Errorf("callback = %d %q, want %d and no session", pg.resp.StatusCode, pg.body, tc.status)
			}
			if ev := h.events.last(auth.ActionSignInRefused); !strings.Contains(ev.Detail, tc.detail) {
				t.Errorf("refusal recorded as %+v, want %q in it", ev, tc.detail)
			}
		})
	}
}

// textResponse is a provider's answer with status and a short text body.
func textResponse(status int) *http.Response {
	body := http.StatusText(status)
	return &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, body), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

// TestRefusedSignInKeepsTheClientSecretOut (after a review helper's suspicion): a token endpoint
// whose refusal quotes the request it got (the form, with client_secret in it when the secret
// goes in the body, or the secret in its own words) has its answer kept in the refused sign-in's
// entry and log line (300 bytes of it); the client secret, as typed and as form-encoded, is
// replaced there.
func TestRefusedSignInKeepsTheClientSecretOut(t *testing.T) {
	const secret = "s3cr3t/with+chars&more"
	h := newHarness(t, harnessOpts{})
	h.cfg.ClientSecret = secret
	h.cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if !strings.HasSuffix(r.URL.Path, "/token") {
			return http.DefaultTransport.RoundTrip(r)
		}
		body, _ := io.ReadAll(r.Body)
		echo := fmt.Sprintf("invalid_client: the secret %s does not match; request was %s", secret, "client_secret="+url.QueryEscape(secret)+"&"+string(body))
		return &http.Response{StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"text/plain"}}, Body: io.NopCloser(strings.NewReader(echo)), ContentLength: int64(len(echo))}, nil
	})}
	h.restart(testKeys(1))
	b := h.browser()
	pg := b.get(b.toCallback("/protected", "admin"))
	if pg.resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("callback = %d, want 400", pg.resp.StatusCode)
	}
	ev := h.events.last(auth.ActionSignInRefused)
	if !strings.Contains(ev.Detail, "code exchange failed") || !strings.Contains(ev.Detail, "[client secret]") {
		t.Fatalf("refusal recorded as %q, want the exchange's failure with the secret replaced", ev.Detail)
	}
	for _, s := range []string{secret, url.QueryEscape(secret)} {
		if strings.Contains(ev.Detail, s) || strings.Contains(pg.body, s) {
			t.Errorf("the client secret (%q) is in the refused sign-in's entry %q or page", s, ev.Detail)
		}
	}
}
