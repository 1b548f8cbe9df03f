package demoidp

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// otherRedirect is a second redirect URI registered for the client.
const otherRedirect = "http://127.0.0.1:9/other/callback"

// testClock is a clock the tests move.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// newClockProvider builds a provider for http://idp.test on a test clock, client "c" with secret
// "s" and two redirect URIs; mod may change the options first.
func newClockProvider(t *testing.T, mod func(*Options)) (*Provider, *testClock) {
	t.Helper()
	clk := &testClock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	opts := Options{Issuer: "http://idp.test", ClientID: "c", ClientSecret: "s",
		RedirectURIs: []string{redirect, otherRedirect}, Now: clk.now}
	if mod != nil {
		mod(&opts)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, clk
}

// serve sends one request to p's handler.
func serve(p *Provider, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	p.Handler().ServeHTTP(rec, req)
	return rec
}

func postForm(target string, f url.Values) *http.Request {
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// challengeOf is the S256 challenge of v.
func challengeOf(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// authorizeCode signs in as persona through POST /authorize with reqParams changed by mod and
// returns the code.
func authorizeCode(t *testing.T, p *Provider, persona string, mod func(url.Values)) string {
	t.Helper()
	f := reqParams(mod)
	f.Set("persona", persona)
	rec := serve(p, postForm("/authorize", f))
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize = %d to %q, want a code", rec.Code, rec.Header().Get("Location"))
	}
	return loc.Query().Get("code")
}

// tokenFor exchanges code at the token endpoint (client "c" and secret "s" in the form, the
// verifier, redirect), with the form changed by mod.
func tokenFor(t *testing.T, p *Provider, code string, mod func(url.Values)) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"code_verifier": {verifier}, "client_id": {"c"}, "client_secret": {"s"}}
	if mod != nil {
		mod(f)
	}
	rec := serve(p, postForm("/token", f))
	var m map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	return rec, m
}

// idClaims decodes an ID token's claims (the signature is the relying party's to check: auth's
// tests do).
func idClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("id_token %q is not a compact JWS", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCodeExpires: a code is good for CodeTTL (a minute by default) and no longer.
func TestCodeExpires(t *testing.T) {
	for _, tt := range []struct {
		name  string
		after time.Duration
		want  int
	}{
		{"at its expiry", time.Minute, http.StatusOK},
		{"a second past it", time.Minute + time.Second, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, clk := newClockProvider(t, nil)
			c := authorizeCode(t, p, "reviewer", nil)
			clk.add(tt.after)
			if rec, m := tokenFor(t, p, c, nil); rec.Code != tt.want || (tt.want != http.StatusOK && m["error"] != "invalid_grant") {
				t.Errorf("exchange %v after = %d %v, want %d", tt.after, rec.Code, m, tt.want)
			}
		})
	}
}

// TestTokenAnswer: the ID token's iat is now and its exp TokenTTL later (an hour by default),
// expires_in says the same in seconds, and the answer is not to be cached (RFC 6749 5.1).
func TestTokenAnswer(t *testing.T) {
	p, clk := newClockProvider(t, nil)
	now := clk.now()
	rec, m := tokenFor(t, p, authorizeCode(t, p, "reviewer", nil), nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("exchange = %d %v", rec.Code, m)
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := m["expires_in"]; got != float64(3600) {
		t.Errorf("expires_in = %v, want 3600", got)
	}
	c := idClaims(t, m["id_token"].(string))
	if got, want := c["iat"], float64(now.Unix()); got != want {
		t.Errorf("iat = %v, want %v", got, want)
	}
	if got, want := c["exp"], float64(now.Add(time.Hour).Unix()); got != want {
		t.Errorf("exp = %v, want %v", got, want)
	}
}

// TestAccessToken: userinfo answers a Bearer access token, by GET or POST (OpenID Connect Core
// 5.3.1), with the scheme in any letter case, until TokenTTL has passed; not a token sent
// without its scheme or with another, nor an expired one.
func TestAccessToken(t *testing.T) {
	p, clk := newClockProvider(t, nil)
	_, m := tokenFor(t, p, authorizeCode(t, p, "reviewer", nil), nil)
	access, _ := m["access_token"].(string)
	if access == "" {
		t.Fatalf("no access token: %v", m)
	}
	ask := func(method, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/userinfo", nil)
		req.Header.Set("Authorization", auth)
		return serve(p, req)
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		if rec := ask(method, "Bearer "+access); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "rita@smtpdesk.example") {
			t.Errorf("%s userinfo = %d %s", method, rec.Code, rec.Body)
		}
	}
	// The scheme's name is case-insensitive (RFC 9110 11.1), one or more spaces before the token.
	for _, scheme := range []string{"bearer ", "BEARER ", "Bearer  "} {
		if rec := ask(http.MethodGet, scheme+access); rec.Code != http.StatusOK {
			t.Errorf("userinfo with %q = %d, want 200", scheme+"<token>", rec.Code)
		}
	}
	for _, auth := range []string{access, "Basic " + access, "Bearer", "Bearer ", "Bearertoken" + access} {
		if rec := ask(http.MethodGet, auth); rec.Code != http.StatusUnauthorized {
			t.Errorf("userinfo with Authorization %q = %d, want 401", auth, rec.Code)
		}
	}
	clk.add(time.Hour)
	if rec := ask(http.MethodGet, "Bearer "+access); rec.Code != http.StatusOK {
		t.Errorf("userinfo at the token's expiry = %d, want 200", rec.Code)
	}
	clk.add(time.Second)
	if rec := ask(http.MethodGet, "Bearer "+access); rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("userinfo past the token's expiry = %d (WWW-Authenticate %q), want 401 with the header", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

// TestCodeSpentByAFailedExchange: a code is single use even when the exchange fails, so a
// guessed verifier cannot be tried again with it.
func TestCodeSpentByAFailedExchange(t *testing.T) {
	p, _ := newClockProvider(t, nil)
	c := authorizeCode(t, p, "reviewer", nil)
	if rec, _ := tokenFor(t, p, c, func(f url.Values) { f.Set("code_verifier", verifier+"x") }); rec.Code != http.StatusBadRequest {
		t.Fatalf("wrong verifier = %d, want 400", rec.Code)
	}
	if rec, m := tokenFor(t, p, c, nil); rec.Code != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("the right verifier after a wrong one = %d %v, want invalid_grant", rec.Code, m)
	}
}

// TestTokenRequestChecks: each part of a token request a real provider checks is checked.
func TestTokenRequestChecks(t *testing.T) {
	short, long := verifier[:42], strings.Repeat("v", 129)
	tests := []struct {
		name      string
		challenge string // the authorization's code_challenge; verifier's when empty
		mod       func(url.Values)
		wantCode  int
		wantError string
	}{
		{"another client id with the secret", "", func(f url.Values) { f.Set("client_id", "other") }, http.StatusUnauthorized, "invalid_client"},
		{"another grant type", "", func(f url.Values) { f.Set("grant_type", "refresh_token") }, http.StatusBadRequest, "unsupported_grant_type"},
		// RFC 6749 5.2: a required parameter missing is invalid_request (a review helper's
		// finding: they were unsupported_grant_type and invalid_grant).
		{"no grant_type", "", func(f url.Values) { f.Del("grant_type") }, http.StatusBadRequest, "invalid_request"},
		{"no code", "", func(f url.Values) { f.Del("code") }, http.StatusBadRequest, "invalid_request"},
		{"another grant type without a code", "", func(f url.Values) { f.Set("grant_type", "client_credentials"); f.Del("code") }, http.StatusBadRequest, "unsupported_grant_type"},
		{"another registered redirect_uri", "", func(f url.Values) { f.Set("redirect_uri", otherRedirect) }, http.StatusBadRequest, "invalid_grant"},
		{"no redirect_uri", "", func(f url.Values) { f.Del("redirect_uri") }, http.StatusBadRequest, "invalid_grant"},
		{"a 42-character verifier", challengeOf(short), func(f url.Values) { f.Set("code_verifier", short) }, http.StatusBadRequest, "invalid_grant"},
		{"a 129-character verifier", challengeOf(long), func(f url.Values) { f.Set("code_verifier", long) }, http.StatusBadRequest, "invalid_grant"},
		{"a 43-character verifier", challengeOf(verifier[:43]), func(f url.Values) { f.Set("code_verifier", verifier[:43]) }, http.StatusOK, ""},
		{"a 128-character verifier", challengeOf(long[:128]), func(f url.Values) { f.Set("code_verifier", long[:128]) }, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newClockProvider(t, nil)
			c := authorizeCode(t, p, "reviewer", func(v url.Values) {
				if tt.challenge != "" {
					v.Set("code_challenge", tt.challenge)
				}
			})
			rec, m := tokenFor(t, p, c, tt.mod)
			if rec.Code != tt.wantCode || (tt.wantError != "" && m["error"] != tt.wantError) {
				t.Errorf("token = %d %v, want %d %s", rec.Code, m, tt.wantCode, tt.wantError)
			}
		})
	}
}

// TestBasicCredentialsAreFormEncoded: client_secret_basic credentials are form-urlencoded before
// they are joined (RFC 6749 2.3.1), as golang.org/x/oauth2 sends them; the provider decodes them.
func TestBasicCredentialsAreFormEncoded(t *testing.T) {
	secret := "s+/:%é x"
	p, _ := newClockProvider(t, func(o *Options) { o.ClientID = "c:1"; o.ClientSecret = secret })
	c := authorizeCode(t, p, "reviewer", func(v url.Values) { v.Set("client_id", "c:1") })
	f := url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
	req := postForm("/token", f)
	req.SetBasicAuth(url.QueryEscape("c:1"), url.QueryEscape(secret))
	if rec := serve(p, req); rec.Code != http.StatusOK {
		t.Errorf("token with encoded basic credentials = %d %s", rec.Code, rec.Body)
	}
}

// TestAuthorizePost: the chooser's POST checks the request again (it is a form anyone can
// send), refuses a persona it does not offer, and a cancel goes back with access_denied and the
// state.
func TestAuthorizePost(t *testing.T) {
	p, _ := newClockProvider(t, nil)
	for _, tt := range []struct {
		name string
		mod  func(url.Values)
	}{
		{"unregistered redirect_uri", func(v url.Values) { v.Set("redirect_uri", "http://evil.test/cb") }},
		{"unknown client", func(v url.Values) { v.Set("client_id", "x") }},
		{"unknown persona", func(v url.Values) { v.Set("persona", "mallory") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := reqParams(nil)
			f.Set("persona", "admin")
			tt.mod(f)
			rec := serve(p, postForm("/authorize", f))
			if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" || !strings.Contains(rec.Body.String(), `data-testid="idp-error"`) {
				t.Errorf("POST /authorize = %d to %q, want the 400 error page", rec.Code, rec.Header().Get("Location"))
			}
		})
	}
	f := reqParams(nil)
	f.Set("cancel", "1")
	rec := serve(p, postForm("/authorize", f))
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || loc == nil || loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "st" || loc.Query().Get("code") != "" {
		t.Errorf("cancel = %d to %q, want 302 with error=access_denied&state=st", rec.Code, rec.Header().Get("Location"))
	}
	// An error sent back to the client from GET /authorize carries the state too.
	rec = serve(p, httptest.NewRequest(http.MethodGet, "/authorize?"+reqParams(func(v url.Values) { v.Set("scope", "email") }).Encode(), nil))
	if loc, _ := url.Parse(rec.Header().Get("Location")); loc == nil || loc.Query().Get("error") != "invalid_scope" || loc.Query().Get("state") != "st" {
		t.Errorf("error redirect = %q, want error=invalid_scope&state=st", rec.Header().Get("Location"))
	}
}

// TestUnverifiedEmail: a persona whose address is not verified gets email_verified false, in the
// ID token and from userinfo (the policy matches e-mails only when verified).
func TestUnverifiedEmail(t *testing.T) {
	p, _ := newClockProvider(t, func(o *Options) {
		o.Personas = []Persona{{ID: "u", Name: "Una", Email: "una@example.com", Groups: []string{"g"}}}
	})
	_, m := tokenFor(t, p, authorizeCode(t, p, "u", nil), nil)
	if c := idClaims(t, m["id_token"].(string)); c["email_verified"] != false {
		t.Errorf("ID token email_verified = %v, want false", c["email_verified"])
	}
	req := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+m["access_token"].(string))
	var info map[string]any
	_ = json.Unmarshal(serve(p, req).Body.Bytes(), &info)
	if info["email_verified"] != false || info["email"] != "una@example.com" {
		t.Errorf("userinfo = %v, want email_verified false", info)
	}
}

// TestIssuerAndDiscovery: the issuer loses a trailing slash (the endpoints are under it), must be
// an http(s) URL with a host, and DisableEndSession leaves end_session_endpoint out.
func TestIssuerAndDiscovery(t *testing.T) {
	p, err := New(Options{Issuer: "http://idp.test/", DisableEndSession: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Issuer(); got != "http://idp.test" {
		t.Errorf("Issuer() = %q, want http://idp.test", got)
	}
	var doc map[string]any
	_ = json.Unmarshal(serve(p, httptest.NewRequest(http.MethodGet, "/.well-known/openid-configuration", nil)).Body.Bytes(), &doc)
	if doc["issuer"] != "http://idp.test" || doc["authorization_endpoint"] != "http://idp.test/authorize" {
		t.Errorf("discovery = %v", doc)
	}
	if _, ok := doc["end_session_endpoint"]; ok {
		t.Errorf("end_session_endpoint = %v with DisableEndSession", doc["end_session_endpoint"])
	}
	for _, iss := range []string{"ftp://idp.test", "idp.test", "http://", "http:///x"} {
		if _, err := New(Options{Issuer: iss}); err == nil {
			t.Errorf("New accepted the issuer %q", iss)
		}
	}
}

// TestEndSessionsCounted: EndSessions counts every call of end_session, followed or not.
func TestEndSessionsCounted(t *testing.T) {
	p, _ := newClockProvider(t, func(o *Options) { o.PostLogoutRedirectURIs = []string{"http://app.test/out"} })
	serve(p, httptest.NewRequest(http.MethodGet, "/end_session?post_logout_redirect_uri="+url.QueryEscape("http://app.test/out"), nil))
	serve(p, httptest.NewRequest(http.MethodGet, "/end_session", nil))
	if got := p.EndSessions(); got != 2 {
		t.Errorf("EndSessions() = %d, want 2", got)
	}
}
