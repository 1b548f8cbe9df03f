package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/labstack/echo/v4"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/demoidp"
)

// whoami adds GET /whoami, which shows every field of the signed-in user as the session record
// gives them back on a later request.
func (h *harness) whoami() {
	h.app.Load().GET("/whoami", func(c echo.Context) error {
		u := auth.UserFrom(c)
		return c.String(http.StatusOK, fmt.Sprintf("iss=%s sub=%s email=%s name=%s verified=%v groups=%q problem=%q",
			u.Issuer, u.Subject, u.Email, u.Name, u.EmailVerified, u.Groups, u.GroupsProblem))
	}, h.auth.RequireUser())
}

// sessionID is the session id the browser's session cookie carries, decoded with the test keys.
func (b *browser) sessionID() string {
	b.t.Helper()
	c := b.sessionCookie()
	if c == nil {
		b.t.Fatal("no session cookie in the browser")
	}
	codecs := securecookie.CodecsFromPairs(testKeys(1)...)
	for _, cd := range codecs {
		cd.(*securecookie.SecureCookie).SetSerializer(securecookie.JSONEncoder{})
	}
	var id string
	if err := securecookie.DecodeMulti(c.Name, c.Value, &id, codecs...); err != nil || id == "" {
		b.t.Fatalf("decode the session cookie: %v", err)
	}
	return id
}

// TestSessionRecordRoundTrip: what a sign-in reads from the provider (issuer, subject, e-mail,
// name, whether the e-mail is verified, the groups in their order) comes back whole from the
// session record on the next request, on SQLite and on PostgreSQL; and SessionsOf, which
// "web sessions revoke" uses, finds the record by e-mail (ASCII case ignored) or subject.
func TestSessionRecordRoundTrip(t *testing.T) {
	persona := demoidp.Persona{ID: "full", Name: "Fay Full", Email: "Fay.Full@acme.example", EmailVerified: true,
		Groups: []string{"zeta-ops", "alpha-ops", "smtp-admins"}}
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) {
			h := newHarness(t, harnessOpts{postgres: pg, personas: append(demoidp.DefaultPersonas(), persona)})
			h.whoami()
			b := h.browser()
			b.signIn("full")
			want := fmt.Sprintf(`iss=%s sub=demo-full email=Fay.Full@acme.example name=Fay Full verified=true groups=["zeta-ops" "alpha-ops" "smtp-admins"] problem=""`, h.idp.Issuer())
			if got := b.get("/whoami").body; got != want {
				t.Errorf("user read back from the record:\n got %s\nwant %s", got, want)
			}
			rec, err := h.db.GetSession(context.Background(), b.sessionID())
			if err != nil {
				t.Fatal(err)
			}
			if !rec.ExpiresAt.Equal(rec.CreatedAt.Add(12*time.Hour)) || !rec.LastSeen.Equal(rec.CreatedAt) || !rec.CreatedAt.Equal(h.clock.Now()) {
				t.Errorf("record times created %v last seen %v expires %v, want created now (%v), last seen then, expiring 12 h later",
					rec.CreatedAt, rec.LastSeen, rec.ExpiresAt, h.clock.Now())
			}
			for who, want := range map[string]bool{"fay.full@ACME.example": true, "demo-full": true, "Demo-Full": false, "ada@smtpdesk.example": false, "": false} {
				if got := auth.SessionsOf(who)(rec.Data); got != want {
					t.Errorf("SessionsOf(%q) on the record = %v, want %v", who, got, want)
				}
			}
		})
	}
}

// TestEmailVerifiedClaim: email_verified is read as a boolean, or as the string "true" in any
// case (some providers send strings); anything else is not verified.
func TestEmailVerifiedClaim(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.whoami()
	for _, tt := range []struct {
		claim any
		want  string
	}{{false, "verified=false"}, {"false", "verified=false"}, {"yes", "verified=false"}, {"True", "verified=true"}, {true, "verified=true"}} {
		h.idp.SetTamper(func(c, _ map[string]any) { c["email_verified"] = tt.claim })
		b := h.browser()
		b.signIn("admin")
		if got := b.get("/whoami").body; !strings.Contains(got, tt.want) {
			t.Errorf("email_verified %#v: user %s, want %s", tt.claim, got, tt.want)
		}
	}
}

// jsonRewriting is an HTTP client for the provider whose JSON answers at path (the userinfo
// endpoint, the discovery document) are decoded and go through edit before the app reads them.
func jsonRewriting(path string, edit func(claims map[string]any)) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil || r.URL.Path != path || resp.StatusCode != http.StatusOK {
			return resp, err
		}
		defer resp.Body.Close()
		var claims map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&claims); err != nil {
			return nil, err
		}
		edit(claims)
		b, _ := json.Marshal(claims)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Del("Content-Length")
		return resp, nil
	})}
}

// TestUserinfoForVerificationAloneRefusesNobody: a token with the e-mail and the groups but no
// email_verified signed in without userinfo; userinfo is now asked for email_verified, and its
// answer for another subject (or no answer) leaves the e-mail unverified instead of refusing a
// sign-in the token let in before.
func TestUserinfoForVerificationAloneRefusesNobody(t *testing.T) {
	for name, edit := range map[string]func(c map[string]any){
		"another subject": func(c map[string]any) { c["sub"] = "another-subject" },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.idp.SetTamper(func(c, _ map[string]any) { delete(c, "email_verified") })
			h.cfg.HTTPClient = jsonRewriting("/userinfo", edit)
			h.restart(testKeys(1))
			h.whoami()
			b := h.browser()
			b.signIn("operator")
			if got := b.get("/whoami").body; !strings.Contains(got, "email=omar@acme.example") || !strings.Contains(got, "verified=false") {
				t.Errorf("user = %s, want the token's e-mail, unverified", got)
			}
		})
	}
}

// TestUserinfoFillsWhatTheIDTokenLacks: userinfo is asked when the ID token has no e-mail, no
// email_verified or no groups, and fills only what the token lacks: the token's own e-mail and
// name win.
func TestUserinfoFillsWhatTheIDTokenLacks(t *testing.T) {
	t.Run("no e-mail in the token", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		h.whoami()
		h.idp.SetTamper(func(c, _ map[string]any) { delete(c, "email"); delete(c, "email_verified") })
		b := h.browser()
		b.signIn("reviewer")
		if got := b.get("/whoami").body; !strings.Contains(got, "email=rita@smtpdesk.example name=") || !strings.Contains(got, "verified=true") {
			t.Errorf("user = %s, want the e-mail (verified) from userinfo", got)
		}
	})
	t.Run("no name and no groups in the token", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		h.whoami()
		h.idp.SetTamper(func(c, _ map[string]any) { delete(c, "name"); delete(c, "groups") })
		b := h.browser()
		b.signIn("admin")
		if got := b.get("/whoami").body; !strings.Contains(got, `name=Ada Admin verified=true groups=["smtp-admins"]`) {
			t.Errorf("user = %s, want the name and groups from userinfo", got)
		}
	})
	t.Run("the token's e-mail and name win", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		h.idp.SetTamper(func(c, _ map[string]any) { delete(c, "groups") })
		h.cfg.HTTPClient = jsonRewriting("/userinfo", func(c map[string]any) {
			c["email"], c["email_verified"], c["name"] = "other@evil.example", false, "Someone Else"
		})
		h.restart(testKeys(1))
		h.whoami()
		b := h.browser()
		b.signIn("admin")
		if got := b.get("/whoami").body; !strings.Contains(got, `email=ada@smtpdesk.example name=Ada Admin verified=true groups=["smtp-admins"]`) {
			t.Errorf("user = %s, want the ID token's e-mail and name, the groups from userinfo", got)
		}
	})
	// A provider that sends the e-mail in the ID token and says it is verified in userinfo
	// alone: the user's e-mail rules and self-service matched nothing. Userinfo is asked for it
	// (the token has the groups, here), and its word counts for the token's address only.
	for _, tc := range []struct {
		name, email string
		groups      bool // the token keeps its groups: userinfo is asked for email_verified alone
		want        string
	}{
		{"verified in userinfo alone", "omar@acme.example", false, "verified=true"},
		{"verified in userinfo alone, groups in the token", "omar@acme.example", true, "verified=true"},
		{"userinfo verifies another address", "other@acme.example", true, "verified=false"},
		// The same address in another case: the policy ignores ASCII case, and so does this.
		{"userinfo spells the address in another case", "Omar@Acme.example", true, "verified=true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.idp.SetTamper(func(c, _ map[string]any) {
				delete(c, "email_verified")
				if !tc.groups {
					delete(c, "groups")
				}
			})
			h.cfg.HTTPClient = jsonRewriting("/userinfo", func(c map[string]any) { c["email"] = tc.email })
			h.restart(testKeys(1))
			h.whoami()
			b := h.browser()
			b.signIn("operator")
			if got := b.get("/whoami").body; !strings.Contains(got, "email=omar@acme.example") || !strings.Contains(got, tc.want) {
				t.Errorf("user = %s, want the token's e-mail with %s", got, tc.want)
			}
		})
	}
}

// TestUserinfoFailureWithGroupsInTheToken: when the ID token has the groups and lacks only the
// e-mail, a userinfo that fails (down, or refusing the token) does not stop the sign-in: the
// user signs in with what the token gave. (Without the groups it does: TestSignInProviderFailsMidway.)
func TestUserinfoFailureWithGroupsInTheToken(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
	}{{"userinfo 502", http.StatusBadGateway}, {"userinfo 401", http.StatusUnauthorized}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.idp.SetTamper(func(c, _ map[string]any) { delete(c, "email") })
			asked := 0
			h.cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if r.URL.Path == "/userinfo" {
					asked++
					return textResponse(tc.status), nil
				}
				return http.DefaultTransport.RoundTrip(r)
			})}
			h.restart(testKeys(1))
			h.whoami()
			b := h.browser()
			b.signIn("admin")
			if got := b.get("/whoami").body; asked != 1 || !strings.Contains(got, `email= name=Ada Admin`) || !strings.Contains(got, `groups=["smtp-admins"]`) {
				t.Errorf("userinfo asked %d times; user %s, want asked once and signed in with the token's name and groups", asked, got)
			}
		})
	}
}

// TestAuthEventsCarryTheUser: the sign-in's audit entry names the user (e-mail and name) and
// the browser (User-Agent), the sign-out's too.
func TestAuthEventsCarryTheUser(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	tok := csrfOf(t, b.signIn("admin"))
	in := h.events.last(auth.ActionSignIn)
	if in.Name != "Ada Admin" || in.Email != "ada@smtpdesk.example" || !strings.HasPrefix(in.UserAgent, "Go-http-client/") || in.Detail != "1 group" {
		t.Errorf("sign-in event = %+v, want name, e-mail, User-Agent and \"1 group\"", in)
	}
	location(t, b.do(http.MethodPost, auth.LogoutPath, map[string][]string{"_csrf": {tok}}, nil))
	if out := h.events.last(auth.ActionSignOut); out.Subject != "demo-admin" || out.Name != "Ada Admin" || out.Outcome != "ok" {
		t.Errorf("sign-out event = %+v", out)
	}
}
