package demoidp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/policy"
)

const redirect = "http://127.0.0.1:9/auth/callback"

func newTestProvider(t *testing.T) (*Provider, *http.Client) {
	t.Helper()
	p, err := Start(context.Background(), Options{ClientID: "c", ClientSecret: "s", RedirectURIs: []string{redirect}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

const verifier = "0123456789012345678901234567890123456789abcdefgh"

func challenge() string {
	s := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func reqParams(mod func(url.Values)) url.Values {
	v := url.Values{"client_id": {"c"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid email"},
		"state": {"st"}, "nonce": {"nn"}, "code_challenge": {challenge()}, "code_challenge_method": {"S256"}}
	if mod != nil {
		mod(v)
	}
	return v
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func TestDiscoveryAndPage(t *testing.T) {
	p, hc := newTestProvider(t)
	resp, err := hc.Get(p.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, k := range []string{"issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "end_session_endpoint"} {
		if s, _ := doc[k].(string); !strings.HasPrefix(s, p.Issuer()) {
			t.Errorf("%s = %v", k, doc[k])
		}
	}
	resp, err = hc.Get(p.Issuer() + "/authorize?" + reqParams(nil).Encode())
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, resp)
	for _, want := range []string{`data-testid="persona-admin"`, `data-testid="persona-operator"`, `data-testid="persona-reviewer"`, `data-testid="persona-nobody"`,
		"SMTP Desk demo sign-in: this page stands in for your company's identity provider", `method="post"`} {
		if !strings.Contains(page, want) {
			t.Errorf("chooser page lacks %q", want)
		}
	}
}

func TestAuthorizeChecks(t *testing.T) {
	p, hc := newTestProvider(t)
	tests := []struct {
		name       string
		mod        func(url.Values)
		wantStatus int
		wantError  string // in the redirect
	}{
		{"unknown client", func(v url.Values) { v.Set("client_id", "x") }, 400, ""},
		{"unregistered redirect", func(v url.Values) { v.Set("redirect_uri", redirect+"/x") }, 400, ""},
		{"no pkce", func(v url.Values) { v.Del("code_challenge") }, 302, "invalid_request"},
		{"plain pkce", func(v url.Values) { v.Set("code_challenge_method", "plain") }, 302, "invalid_request"},
		{"token flow", func(v url.Values) { v.Set("response_type", "token") }, 302, "unsupported_response_type"},
		{"no openid", func(v url.Values) { v.Set("scope", "email") }, 302, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := hc.Get(p.Issuer() + "/authorize?" + reqParams(tt.mod).Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantError != "" && !strings.Contains(resp.Header.Get("Location"), "error="+tt.wantError) {
				t.Errorf("Location = %q, want error=%s", resp.Header.Get("Location"), tt.wantError)
			}
		})
	}
}

func code(t *testing.T, p *Provider, hc *http.Client) string {
	t.Helper()
	f := reqParams(nil)
	f.Set("persona", "reviewer")
	resp, err := hc.PostForm(p.Issuer()+"/authorize", f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("state") != "st" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect = %v", loc)
	}
	return loc.Query().Get("code")
}

func exchange(t *testing.T, p *Provider, hc *http.Client, code, verifier string, basic bool) (int, map[string]any) {
	t.Helper()
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
	if !basic {
		f.Set("client_id", "c")
		f.Set("client_secret", "s")
	}
	req, _ := http.NewRequest(http.MethodPost, p.Issuer()+"/token", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth("c", "s")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestTokenEndpoint(t *testing.T) {
	p, hc := newTestProvider(t)
	if st, m := exchange(t, p, hc, code(t, p, hc), verifier+"x", true); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("wrong verifier = %d %v, want invalid_grant", st, m)
	}
	c := code(t, p, hc)
	st, m := exchange(t, p, hc, c, verifier, false)
	if st != 200 || m["id_token"] == nil {
		t.Fatalf("exchange = %d %v", st, m)
	}
	if st, _ := exchange(t, p, hc, c, verifier, true); st != 400 {
		t.Errorf("second use of a code = %d, want 400", st)
	}
	parts := strings.Split(m["id_token"].(string), ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	if claims["iss"] != p.Issuer() || claims["aud"] != "c" || claims["nonce"] != "nn" || claims["email"] != "rita@smtpdesk.example" || claims["sub"] != "demo-reviewer" {
		t.Errorf("claims = %v", claims)
	}
	req, _ := http.NewRequest(http.MethodGet, p.Issuer()+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+m["access_token"].(string))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, resp); resp.StatusCode != 200 || !strings.Contains(got, "security-reviewers") {
		t.Errorf("userinfo = %d %s", resp.StatusCode, got)
	}
	resp, _ = hc.Get(p.Issuer() + "/userinfo")
	if resp.StatusCode != 401 {
		t.Errorf("userinfo without token = %d", resp.StatusCode)
	}
	resp.Body.Close()
}

func TestBadClientSecret(t *testing.T) {
	p, hc := newTestProvider(t)
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code(t, p, hc)}, "redirect_uri": {redirect}, "code_verifier": {verifier}, "client_id": {"c"}, "client_secret": {"wrong"}}
	resp, err := hc.PostForm(p.Issuer()+"/token", f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("wrong secret = %d, want 401", resp.StatusCode)
	}
}

func TestEndSession(t *testing.T) {
	p, err := New(Options{Issuer: "http://idp.test", PostLogoutRedirectURIs: []string{"http://app.test/auth/signed-out"}})
	if err != nil {
		t.Fatal(err)
	}
	// A registered address is followed at once, with the state the app sent.
	rec := httptest.NewRecorder()
	p.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/end_session?state=s1&post_logout_redirect_uri="+url.QueryEscape("http://app.test/auth/signed-out"), nil))
	if got, want := rec.Header().Get("Location"), "http://app.test/auth/signed-out?state=s1"; rec.Code != http.StatusSeeOther || got != want {
		t.Errorf("end session = %d to %q, want 303 to %q", rec.Code, got, want)
	}
	// Anything else gets the provider's own notice and is neither followed nor linked.
	for _, next := range []string{"http://evil.test/", "http://app.test/auth/signed-out/", ""} {
		rec = httptest.NewRecorder()
		p.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/end_session?post_logout_redirect_uri="+url.QueryEscape(next), nil))
		body := rec.Body.String()
		if rec.Code != http.StatusOK || rec.Header().Get("Location") != "" || !strings.Contains(body, "signed out of the demo provider") {
			t.Errorf("end session to %q = %d, Location %q, body %s", next, rec.Code, rec.Header().Get("Location"), body)
		}
		if next != "" && strings.Contains(body, next) {
			t.Errorf("unregistered post_logout_redirect_uri %q on the page", next)
		}
		if strings.Contains(body, "http-equiv") {
			t.Errorf("end session page refreshes itself: %s", body)
		}
	}
}

func TestDemoPolicyMatchesPersonas(t *testing.T) {
	pol, err := policy.Parse(DemoPolicy, "demo-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	subj := map[string]policy.Subject{}
	for _, pp := range DefaultPersonas() {
		subj[pp.ID] = policy.Subject{Email: pp.Email, EmailVerified: pp.EmailVerified, Groups: pp.Groups}
	}
	tests := []struct {
		persona, domain string
		want            policy.Role
	}{
		{"admin", "anything.example", policy.RoleAdmin},
		{"operator", "acme.example", policy.RoleOperator},
		{"operator", "example.com", policy.RoleNone},
		{"reviewer", "example.com", policy.RoleViewer},
		{"reviewer", "newsletter.example.org", policy.RoleViewer},
		{"reviewer", "acme.example", policy.RoleNone},
		{"nobody", "example.com", policy.RoleNone},
		{"self", "newsletter.example.org", policy.RoleViewer},
		{"self", "acme.example", policy.RoleNone},
	}
	for _, tt := range tests {
		if got := pol.Role(subj[tt.persona], tt.domain); got != tt.want {
			t.Errorf("%s on %s = %v, want %v", tt.persona, tt.domain, got, tt.want)
		}
	}
	if !pol.SelfService() {
		t.Error("demo policy has self-service off")
	}
	// The self-service persona resets her own login, and no other.
	self := subj["self"]
	if !pol.CanSelfReset(self, "newsletter.example.org", "news@newsletter.example.org") {
		t.Error("self cannot reset news@newsletter.example.org, her own login")
	}
	if pol.CanSelfReset(self, "newsletter.example.org", "digest@newsletter.example.org") || pol.Can(self, "newsletter.example.org", policy.ActReset) {
		t.Error("self may reset logins other than her own")
	}
}
