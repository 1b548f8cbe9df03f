package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/internal/testflow"
)

// TestBadLoginInTheAddressReadsPlainly: a login of another domain, or a malformed one, in a
// hand-edited address gets a page in sentences that says where to go, not Go-quoted developer
// text.
func TestBadLoginInTheAddressReadsPlainly(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	for path, want := range map[string]string{
		"/d/acme.example/logins/bob@other.example/reset": "The login bob@other.example is not in acme.example: the logins of acme.example end in @acme.example.",
		"/d/acme.example/logins/a%20b/delete":            `The login "a b" is not valid: it has white space`,
		"/d/bad_domain!/new":                             `The domain "bad_domain!" in the address is not valid: it has '!'`,
	} {
		p := get(t, c, path)
		wantStatus(t, p, http.StatusBadRequest)
		text := strings.Join(strings.Fields(p.Find("main").Text()), " ")
		if !strings.Contains(text, want) || strings.Contains(text, "spec") {
			t.Errorf("%s: page %q, want %q", path, text, want)
		}
	}
	p := get(t, c, "/d/acme.example/logins/bob@other.example/reset")
	if !strings.Contains(p.Text(), "Open acme.example from your domains") {
		t.Errorf("the page does not say where to go: %.400s", p.Text())
	}
}

// TestFormOfAMissingLogin: the reset and delete forms of a login the domain does not have (an
// old link) answer 404 "Login not found" instead of a form that can only fail. A domain above
// loginCheckLimit logins is not read whole for it: the form shows, and its answer tells.
func TestFormOfAMissingLogin(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	for _, action := range []string{"reset", "delete"} {
		p := get(t, c, "/d/acme.example/logins/nosuch@acme.example/"+action)
		wantStatus(t, p, http.StatusNotFound)
		if !strings.Contains(p.Text(), "Login not found") || !strings.Contains(p.Text(), "acme.example has no login nosuch@acme.example") {
			t.Errorf("%s form of a missing login: %.400s", action, p.Text())
		}
		wantStatus(t, get(t, c, "/d/acme.example/logins/alice@acme.example/"+action), http.StatusOK)
	}
	if err := e.SB.AddDomain("big.example"); err != nil {
		t.Fatal(err)
	}
	if err := e.SB.AddGeneratedLogins("big.example", 1500); err != nil {
		t.Fatal(err)
	}
	e.SB.ResetCalls()
	wantStatus(t, get(t, c, "/d/big.example/logins/nosuch@big.example/reset"), http.StatusOK)
	if n := len(e.callsTo("list", "big.example")); n > 1 {
		t.Errorf("the form of a login in a domain of 1,500 made %d list calls, want at most 1 (the count)", n)
	}
}

// TestFormOfALoginMadeElsewhere: a login made outside this instance after its list was kept
// (Mailgun's own panel, another replica) has a reset form, not "Login not found".
func TestFormOfALoginMadeElsewhere(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	wantStatus(t, get(t, c, resetUser), http.StatusOK) // keeps acme.example's whole list
	if err := e.SB.AddCredential("acme.example", "zed", "zed-password-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, get(t, c, "/d/acme.example/logins/zed@acme.example/reset"), http.StatusOK)
	wantStatus(t, get(t, c, "/d/acme.example/logins/nosuch@acme.example/reset"), http.StatusNotFound)
}

// TestErrorPagesLinkToTheDomain: an error page about something in a domain the user may open
// (a login it does not have, a malformed login, an action their role does not include) links to
// that domain's page, which its hint names, besides "Back to domains". A refusal of the domain
// itself does not link to it: that link would only be refused again.
func TestErrorPagesLinkToTheDomain(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin, operator, reviewer := e.signIn(t, "admin"), e.signIn(t, "operator"), e.signIn(t, "reviewer")
	for _, tt := range []struct {
		name   string
		c      *testflow.Client
		path   string
		status int
		want   string // the link's address, "" for none
	}{
		{"missing login", admin, "/d/acme.example/logins/nosuch@acme.example/reset", http.StatusNotFound, "/d/acme.example"},
		{"missing login, delete", admin, "/d/acme.example/logins/nosuch@acme.example/delete", http.StatusNotFound, "/d/acme.example"},
		{"malformed login", admin, "/d/acme.example/logins/a%20b/reset", http.StatusBadRequest, "/d/acme.example"},
		{"action not in the role", operator, "/d/acme.example/delete-all", http.StatusForbidden, "/d/acme.example"},
		{"reviewer creating", reviewer, "/d/example.com/new", http.StatusForbidden, "/d/example.com"},
		{"domain not in the policy", operator, "/d/example.com", http.StatusForbidden, ""},
		{"malformed login, domain not in the policy", operator, "/d/example.com/logins/a%20b/reset", http.StatusBadRequest, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := get(t, tt.c, tt.path)
			wantStatus(t, p, tt.status)
			if p.Find(`[data-testid="back-link"]`).Length() != 1 {
				t.Error("no Back to domains link")
			}
			next := p.Find(`[data-testid="next-link"]`)
			if tt.want == "" {
				if next.Length() != 0 {
					t.Errorf("a link to %q, want none", next.AttrOr("href", ""))
				}
				return
			}
			if got := next.AttrOr("href", ""); got != tt.want {
				t.Errorf("link to %q, want %q", got, tt.want)
			}
			if got, want := strings.TrimSpace(next.Text()), "Open "+strings.TrimPrefix(tt.want, "/d/"); got != want {
				t.Errorf("link text %q, want %q", got, want)
			}
		})
	}
}
