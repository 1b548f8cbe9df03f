package security_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // a second connection to the app's SQLite file

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/config"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/store"
)

// toCallback runs the sign-in up to the provider's redirect back and returns the callback URL
// without visiting it.
func toCallback(t *testing.T, c *testflow.Client, persona, next string) string {
	t.Helper()
	saved := c.HTTP.CheckRedirect
	c.HTTP.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == auth.CallbackPath {
			return http.ErrUseLastResponse
		}
		return nil
	}
	defer func() { c.HTTP.CheckRedirect = saved }()
	// Stopped before the callback, the flow has made no session yet: ErrNoSession is expected.
	p, err := c.SignInNext(ctxT(t), persona, next)
	if err != nil && !errors.Is(err, testflow.ErrNoSession) {
		t.Fatalf("sign-in to the callback: %v", err)
	}
	loc := p.Header.Get("Location")
	if p.Status != http.StatusFound || !strings.Contains(loc, auth.CallbackPath) {
		t.Fatalf("provider answered %d to %q, want a redirect to the callback", p.Status, loc)
	}
	return loc
}

// setCookies returns the response's Set-Cookie lines for name.
func setCookies(resp *http.Response, name string) []string {
	var out []string
	for _, l := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(l, name+"=") {
			out = append(out, l)
		}
	}
	return out
}

// signedOut reports whether the app treats the request with only this cookie as signed out.
func signedOut(t *testing.T, e *env, cookie string) bool {
	t.Helper()
	c := e.client()
	resp, _ := raw(t, c, http.MethodGet, "/", nil, http.Header{"Cookie": {auth.CookieName + "=" + cookie}})
	if resp.StatusCode == http.StatusOK {
		return false
	}
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), auth.LoginPath) {
		t.Fatalf("GET / with a cookie = %d to %q, want 200 or a redirect to sign-in", resp.StatusCode, resp.Header.Get("Location"))
	}
	return true
}

func TestSecurity01CookieFlags(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	for _, persona := range []string{"admin", "many"} {
		c := e.client()
		resp, _ := raw(t, c, http.MethodGet, auth.LoginPath, nil, nil)
		var login []string
		for _, l := range resp.Header.Values("Set-Cookie") {
			if strings.HasPrefix(l, auth.LoginCookieName+"-") {
				login = append(login, l)
			}
		}
		if len(login) != 1 {
			t.Fatalf("login set %d %s cookies", len(login), auth.LoginCookieName)
		}
		lc := parseSetCookie(t, login[0])
		if !lc.Secure || !lc.HttpOnly || lc.SameSite != http.SameSiteLaxMode || lc.Path != "/" || lc.Domain != "" || lc.MaxAge <= 0 || lc.MaxAge > 15*60 {
			t.Errorf("sign-in cookie %q: want Secure HttpOnly SameSite=Lax Path=/ no Domain, 0 < Max-Age <= 900", login[0])
		}
		cb := toCallback(t, c, persona, "")
		resp, _ = raw(t, c, http.MethodGet, cb, nil, nil)
		lines := setCookies(resp, auth.CookieName)
		if resp.StatusCode != http.StatusFound || len(lines) != 1 {
			t.Fatalf("%s callback = %d with %d session cookies", persona, resp.StatusCode, len(lines))
		}
		line := lines[0]
		sc := parseSetCookie(t, line)
		low := strings.ToLower(line)
		if !sc.Secure || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Domain != "" ||
			strings.Contains(low, "domain=") || strings.Contains(low, "max-age=") || strings.Contains(low, "expires=") {
			t.Errorf("%s session cookie %q: want Secure HttpOnly SameSite=Lax Path=/, no Domain, Max-Age or Expires", persona, line)
		}
		if n := len(sc.Name) + len(sc.Value); n > 4096 {
			t.Errorf("%s session cookie is %d bytes, want <= 4096", persona, n)
		}
		// The cookie carries a signed random id and nothing else: no token, no claim.
		id := e.sessionID(sc.Value)
		if len(id) != 43 {
			t.Errorf("%s cookie decodes to %q, want a 43-character random id", persona, id)
		}
		e.secret(id, "session id")
		if len(sc.Value) > 300 {
			t.Errorf("%s cookie value is %d bytes: more than a signed id", persona, len(sc.Value))
		}
		rec, err := e.App.DB().GetSession(context.Background(), id)
		if err != nil {
			t.Fatalf("the session record of %s is not in the database: %v", persona, err)
		}
		if !strings.Contains(string(rec.Data), `"Subject":"demo-`+persona+`"`) {
			t.Errorf("session record of %s lacks its subject: %.200s", persona, rec.Data)
		}
	}
}

func parseSetCookie(t *testing.T, line string) *http.Cookie {
	t.Helper()
	c, err := http.ParseSetCookie(line)
	if err != nil {
		t.Fatalf("parse Set-Cookie %q: %v", line, err)
	}
	return c
}

func TestSecurity02NewSessionAtSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	c := e.signIn("reviewer")
	before := e.sessionCookie(c).Value
	beforeID := e.sessionID(before)
	// Signing in again in the same browser (with the old cookie) issues a new session...
	if _, err := c.SignIn(ctxT(t), "admin"); err != nil {
		t.Fatal(err)
	}
	after := e.sessionCookie(c).Value
	if after == before || e.sessionID(after) == beforeID {
		t.Fatal("sign-in kept the previous session")
	}
	// ...and the old one is gone on the server.
	if !signedOut(t, e, before) {
		t.Error("the pre-login cookie still works after sign-in")
	}
	if _, err := e.App.DB().GetSession(context.Background(), beforeID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old session record: %v, want ErrNotFound", err)
	}
	if signedOut(t, e, after) {
		t.Error("the new session does not work")
	}
}

// ageSession moves a session's timestamps back, as if that much time had passed.
func ageSession(t *testing.T, e *env, id string, createdAgo, lastSeenAgo time.Duration) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(e.DataDir, "smtpdesk.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sum := sha256.Sum256([]byte(id))
	now := time.Now()
	res, err := db.ExecContext(context.Background(),
		`UPDATE sessions SET created_at = ?, last_seen = ? WHERE id_hash = ?`,
		now.Add(-createdAgo).UnixNano(), now.Add(-lastSeenAgo).UnixNano(), hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatalf("age session: %v", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("age session: %d rows", n)
	}
}

func TestSecurity03IdleAndAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	for _, tc := range []struct {
		name          string
		created, seen time.Duration
		wantSignedOut bool
	}{
		{"fresh enough", 11 * time.Hour, 29 * time.Minute, false},
		{"idle", time.Hour, config.DefaultIdleTimeout + time.Minute, true},
		{"absolute", config.DefaultMaxAge + time.Minute, time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.signIn("reviewer")
			ck := e.sessionCookie(c).Value
			ageSession(t, e, e.sessionID(ck), tc.created, tc.seen)
			if got := signedOut(t, e, ck); got != tc.wantSignedOut {
				t.Errorf("signed out = %v, want %v", got, tc.wantSignedOut)
			}
		})
	}
}

func TestSecurity04LogoutReplayRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	c := e.signIn("admin")
	ck := e.sessionCookie(c).Value
	tok := csrf(t, c)
	resp, _ := raw(t, c, http.MethodPost, auth.LogoutPath, url.Values{"_csrf": {tok}}, http.Header{"Sec-Fetch-Site": {"same-origin"}})
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout = %d", resp.StatusCode)
	}
	if !signedOut(t, e, ck) {
		t.Fatal("the saved cookie still works after logout")
	}
	// Nor can it post: the replayed cookie with its old token is refused, nothing reaches Mailgun.
	e.Sandbox.ResetCalls()
	thief := e.client()
	resp, _ = raw(t, thief, http.MethodPost, "/d/example.com/new",
		url.Values{"_csrf": {tok}, "logins": {"thief"}, "mode": {"generate"}},
		http.Header{"Cookie": {auth.CookieName + "=" + ck}, "Sec-Fetch-Site": {"same-origin"}})
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST with the replayed cookie = %d, want 401 or 403", resp.StatusCode)
	}
	if n := len(e.Sandbox.Calls()); n != 0 {
		t.Errorf("the replayed cookie caused %d Mailgun calls", n)
	}
}

func TestSecurity05KeyRotationAndUndecodable(t *testing.T) {
	t.Parallel()
	k1, k2 := newSessionKey(t), newSessionKey(t)
	old := newEnv(t, options{SessionKeys: []config.SessionKey{k1}})
	c := old.signIn("admin")
	ck := old.sessionCookie(c).Value

	// The same database, keys rotated: the new pair first, the old one still decodes.
	rotated := newEnv(t, options{DataDir: old.DataDir, SessionKeys: []config.SessionKey{k2, k1}})
	if signedOut(t, rotated, ck) {
		t.Error("after rotation the old key's cookie no longer decodes")
	}
	c2 := rotated.signIn("reviewer")
	ck2 := rotated.sessionCookie(c2).Value
	if old.sessionID(ck2) != "" {
		t.Error("a new cookie was encoded with the old key, want the first key")
	}
	// Old key dropped: its cookies mean "signed out", never a 500.
	dropped := newEnv(t, options{DataDir: old.DataDir, SessionKeys: []config.SessionKey{k2}})
	if !signedOut(t, dropped, ck) {
		t.Error("a cookie of a dropped key still works")
	}
	for _, v := range []string{"garbage", ck[:len(ck)/2], strings.Repeat("A", 3000), ck2 + "x"} {
		cl := dropped.client()
		resp, _ := raw(t, cl, http.MethodGet, "/", nil, http.Header{"Cookie": {auth.CookieName + "=" + v}})
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), auth.LoginPath) {
			t.Errorf("undecodable cookie %.20q: %d to %q, want a redirect to sign-in", v, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

// TestSecurity06StateReplayAndMismatch: each refusal below must be the state check's. A replayed
// callback carries a code the provider has already spent, so the provider refuses it too (400
// "code exchange failed"): a callback whose state was not used up would be refused all the same,
// and only the refusal's recorded reason tells the two apart.
func TestSecurity06StateReplayAndMismatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	c := e.client()
	cb := toCallback(t, c, "admin", "")
	forged, _ := url.Parse(cb)
	q := forged.Query()
	q.Set("state", "forged-"+q.Get("state"))
	forged.RawQuery = q.Encode()
	resp, _ := raw(t, c, http.MethodGet, forged.String(), nil, nil)
	if resp.StatusCode != http.StatusBadRequest || len(setCookies(resp, auth.CookieName)) != 0 {
		t.Errorf("forged state = %d with session cookie %v, want 400 and none", resp.StatusCode, setCookies(resp, auth.CookieName))
	}
	refusedForState(t, e, "forged state")
	// A state no sign-in in this browser has (forged, or from a stale tab or another site) is
	// refused without touching the one in progress: its genuine callback still works, once.
	if resp, _ := raw(t, c, http.MethodGet, cb, nil, nil); resp.StatusCode != http.StatusFound || len(setCookies(resp, auth.CookieName)) != 1 {
		t.Errorf("genuine callback after a forged attempt = %d, want 302 with a session", resp.StatusCode)
	}
	e.noteSession(c)
	if resp, _ := raw(t, c, http.MethodGet, cb, nil, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("callback replayed after use = %d, want 400 (state is single-use)", resp.StatusCode)
	}
	refusedForState(t, e, "callback replayed after use")
	// A fresh flow works once; its replay does not.
	c2 := e.client()
	cb2 := toCallback(t, c2, "admin", "")
	if resp, _ := raw(t, c2, http.MethodGet, cb2, nil, nil); resp.StatusCode != http.StatusFound || len(setCookies(resp, auth.CookieName)) != 1 {
		t.Fatalf("genuine callback = %d", resp.StatusCode)
	}
	e.noteSession(c2)
	thief := e.client()
	if resp, _ := raw(t, thief, http.MethodGet, cb2, nil, nil); resp.StatusCode != http.StatusBadRequest || len(setCookies(resp, auth.CookieName)) != 0 {
		t.Errorf("replayed callback in another browser = %d, want 400 and no session", resp.StatusCode)
	}
	refusedForState(t, e, "replayed callback in another browser")
	if resp, _ := raw(t, c2, http.MethodGet, cb2, nil, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed callback in the same browser = %d, want 400", resp.StatusCode)
	}
	refusedForState(t, e, "replayed callback in the same browser")
}

// refusedForState fails the test unless the newest refused sign-in in the audit trail was
// refused by the state check (no sign-in in progress in the browser has the callback's state),
// not by a later step such as the provider's refusal of a spent code.
func refusedForState(t *testing.T, e *env, what string) {
	t.Helper()
	es := e.audit(store.AuditFilter{Action: "auth.sign_in_refused", Limit: 1})
	if len(es) == 0 || !strings.Contains(es[0].Detail, "has this state") {
		t.Errorf("%s: newest refused sign-in %+v, want it refused by the state check", what, es)
	}
}

func TestSecurity07TokenValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	for _, tc := range []struct {
		name   string
		tamper func(claims, header map[string]any)
	}{
		{"wrong nonce", func(c, _ map[string]any) { c["nonce"] = "not-the-nonce" }},
		{"no nonce", func(c, _ map[string]any) { delete(c, "nonce") }},
		{"wrong issuer", func(c, _ map[string]any) { c["iss"] = "https://evil.example" }},
		{"wrong audience", func(c, _ map[string]any) { c["aud"] = "another-client" }},
		{"expired", func(c, _ map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }},
		{"alg none", func(_, h map[string]any) { h["alg"] = "none" }},
		{"unknown kid", func(_, h map[string]any) { h["kid"] = "no-such-key" }},
		{"honest", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.IdP.SetTamper(tc.tamper)
			c := e.client()
			cb := toCallback(t, c, "admin", "")
			resp, _ := raw(t, c, http.MethodGet, cb, nil, nil)
			if tc.tamper == nil {
				if resp.StatusCode != http.StatusFound || len(setCookies(resp, auth.CookieName)) != 1 {
					t.Errorf("honest token = %d, want 302 with a session", resp.StatusCode)
				}
				e.noteSession(c)
				return
			}
			if resp.StatusCode != http.StatusBadRequest || len(setCookies(resp, auth.CookieName)) != 0 {
				t.Errorf("%s = %d with session cookie %v, want 400 and none", tc.name, resp.StatusCode, setCookies(resp, auth.CookieName))
			}
		})
	}
	e.IdP.SetTamper(nil)
}

func TestSecurity08LocalRedirectOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	for _, tc := range []struct{ next, wantPath string }{
		{"/audit", "/audit"},
		{"//evil.example/x", "/"},
		{"///evil.example/x", "/"}, // no host to url.Parse, evil.example's to a browser
		{"https://evil.example/x", "/"},
		{"/\\evil.example", "/"},
		{"http:evil.example", "/"},
	} {
		c := e.client()
		p, err := c.SignInNext(ctxT(t), "admin", tc.next)
		if err != nil {
			t.Fatalf("next=%q: %v", tc.next, err)
		}
		e.noteSession(c)
		if p.URL.Host != c.Base.Host || p.URL.Path != tc.wantPath {
			t.Errorf("next=%q landed on %s, want %s%s", tc.next, p.URL, c.Base.Host, tc.wantPath)
		}
	}
}

func TestSecurity09IdPDownAtStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{IdPAddr: freePort(t)})
	c := e.client()
	if p := get(t, c, "/healthz"); p.Status != http.StatusOK {
		t.Errorf("/healthz with the provider down = %d, want 200", p.Status)
	}
	p := get(t, c, auth.LoginPath)
	if text := strings.ToLower(p.Text()); p.Status != http.StatusServiceUnavailable ||
		!(strings.Contains(text, "identity provider") || strings.Contains(text, "sign-in is unavailable")) {
		t.Errorf("sign-in with the provider down = %d %q, want 503 saying sign-in (the identity provider) is unavailable", p.Status, p.Text())
	}
	e.startIdP()
	get(t, c, auth.LoginPath) // a sign-in attempt prompts a new discovery at once
	e.waitReady()
	if _, err := c.SignIn(ctxT(t), "admin"); err != nil {
		t.Fatalf("sign-in after the provider came up: %v", err)
	}
	e.noteSession(c)
}

func TestSecurity10EndSessionRedirect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	c := e.signIn("admin")
	tok := csrf(t, c)
	resp, _ := raw(t, c, http.MethodPost, auth.LogoutPath, url.Values{"_csrf": {tok}}, http.Header{"Sec-Fetch-Site": {"same-origin"}})
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), e.IdP.Issuer()) || loc.Query().Get("id_token_hint") == "" ||
		loc.Query().Get("post_logout_redirect_uri") != e.URL+auth.SignedOutPath {
		t.Fatalf("logout redirected to %q, want the provider's end_session endpoint with id_token_hint and post_logout_redirect_uri", resp.Header.Get("Location"))
	}
	if p := get(t, c, loc.String()); p.Status != http.StatusOK || e.IdP.EndSessions() != 1 {
		t.Errorf("the provider's end-session endpoint = %d after %d calls, want 200 after 1", p.Status, e.IdP.EndSessions())
	}
}

// TestSecurity01ChangedCookie: the answer to a change sets __Host-smtpdesk-changed to a new random
// value (auth.AfterChange), which evicts the pages Chromium keeps in its back/forward cache
// though they were served no-store: without a script, Back after a delete showed the list with
// the login still in it. The cookie has the session cookie's flags and holds nothing: a random
// token, new at each change, which no request reads.
func TestSecurity01ChangedCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	c := e.signIn("admin")
	var values []string
	for _, login := range []string{"user001@example.com", "user002@example.com"} {
		path := "/d/example.com/logins/" + login + "/delete"
		form := get(t, c, path)
		tok := form.Find(`input[name="_form"]`).AttrOr("value", "")
		if form.Status != http.StatusOK || tok == "" {
			t.Fatalf("%s = %d, form token %q", path, form.Status, tok)
		}
		resp, _ := raw(t, c, http.MethodPost, path, url.Values{"_csrf": {form.CSRF()}, "_form": {tok}},
			http.Header{"Origin": {c.Base.Scheme + "://" + c.Base.Host}})
		lines := setCookies(resp, auth.ChangedCookieName)
		if resp.StatusCode != http.StatusSeeOther || len(lines) != 1 {
			t.Fatalf("delete of %s = %d with Set-Cookie %q, want 303 and one %s", login, resp.StatusCode, resp.Header.Values("Set-Cookie"), auth.ChangedCookieName)
		}
		ck := parseSetCookie(t, lines[0])
		low := strings.ToLower(lines[0])
		if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || strings.Contains(low, "domain=") || len(ck.Value) < 20 {
			t.Errorf("%q: want Secure HttpOnly SameSite=Lax Path=/, no Domain, a random value", lines[0])
		}
		values = append(values, ck.Value)
	}
	if values[0] == values[1] {
		t.Errorf("two changes set the same value %q: the second evicts nothing", values[0])
	}
	// A page that changes nothing does not set it.
	resp, _ := raw(t, c, http.MethodGet, "/d/example.com", nil, nil)
	if lines := setCookies(resp, auth.ChangedCookieName); len(lines) != 0 {
		t.Errorf("GET of a list set %q", lines)
	}
}
