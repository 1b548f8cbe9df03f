package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// lastWithoutPassword creates every login asked for, and answers without the generated password
// of the last one: a create Mailgun carries out whole, sending back only some passwords.
type lastWithoutPassword struct{ handlers.CredentialsAPI }

func (l lastWithoutPassword) CreateCredentials(ctx context.Context, domain string, req *mailgun.CreateCredentialsRequest) (*mailgun.CreateResult, error) {
	res, err := l.CredentialsAPI.CreateCredentials(ctx, domain, req)
	if err == nil && len(req.Logins) > 1 {
		last := strings.ToLower(req.Logins[len(req.Logins)-1])
		for login := range res.Passwords {
			if strings.ToLower(login) == last {
				delete(res.Passwords, login)
			}
		}
	}
	return res, err
}

// TestCreateWithoutPasswordSaysCreated: a create whose logins Mailgun made without sending their
// passwords back says so in a create's words, in the singular for one login. The page said
// "Mailgun says it set a new password" and "Reset the password again" (a reset's words: nothing
// had been reset), and "Mailgun created the logins" for one login.
func TestCreateWithoutPasswordSaysCreated(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "operator")
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Rate: 1, NoPasswords: true})
	defer e.SB.SetFaults(sandbox.Faults{})
	p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "nopw1"})
	wantStatus(t, p, http.StatusOK)
	if got := strings.TrimSpace(p.Find("h1").Text()); got != "No password received" {
		t.Errorf("heading %q, want \"No password received\"", got)
	}
	if got, want := strings.TrimSpace(p.TestID("page-subtitle").Text()), "Mailgun created the login without sending its password back."; got != want {
		t.Errorf("subtitle %q, want %q", got, want)
	}
	panel := strings.Join(strings.Fields(p.TestID("nopassword-panel").Text()), " ")
	if !strings.Contains(panel, "Mailgun created this login but did not send its password back") ||
		strings.Contains(panel, "set a new password") || strings.Contains(panel, "again") {
		t.Errorf("the panel says %q, want that Mailgun created the login, not a reset's words", panel)
	}
}

// TestCreateFlashCountsLoginsWithoutPassword: the list's message after a create counts every
// login Mailgun made, those it sent no password for too; it counted only the passwords shown
// ("Created 1 login" after a create that made two).
func TestCreateFlashCountsLoginsWithoutPassword(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000},
		Mailgun: func(mg handlers.CredentialsAPI) handlers.CredentialsAPI { return lastWithoutPassword{mg} }})
	c := e.signIn(t, "operator")
	p := submit(t, c, "/d/acme.example/new", "/d/acme.example/new", map[string]string{"logins": "half1\nhalf2"})
	wantStatus(t, p, http.StatusOK)
	if n := p.TestID("secret-row").Length(); n != 1 {
		t.Fatalf("%d passwords shown, want 1 (the fake sends back only the first)", n)
	}
	if n := p.TestID("nopassword-row").Length(); n != 1 {
		t.Fatalf("%d logins without a password, want 1", n)
	}
	list := get(t, c, p.TestID("done-link").AttrOr("href", ""))
	if got, want := strings.TrimSpace(list.TestID("flash-success").Text()), "Created 2 logins in acme.example."; got != want {
		t.Errorf("the list's message %q, want %q", got, want)
	}
}

// TestOwnResetSaysTheSame: a team member's one action, the reset of their own login, is named
// the same on the home page's card, on the domain page and on the refusal that leads to it; the
// home page said "Reset its password", the others "Reset your password".
func TestOwnResetSaysTheSame(t *testing.T) {
	e := newEnv(t, envOptions{})
	if err := e.SB.AddCredential("example.com", "sam", "Sam-Old-Pass-1", sandbox.SeedBase()); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(t, "selfie") // a viewer of example.com, whose login sam@example.com is there
	const want = "Reset your password"
	home := get(t, c, "/")
	domain := get(t, c, "/d/example.com")
	// The reset form of another login of the domain, which a viewer may not reset.
	other := ""
	for _, l := range e.SB.Logins("example.com") {
		if l != "sam@example.com" && !strings.HasPrefix(l, "postmaster@") {
			other = l
			break
		}
	}
	refusal := get(t, c, "/d/example.com/logins/"+other+"/reset")
	wantStatus(t, refusal, http.StatusForbidden)
	for name, got := range map[string]string{
		"home page":   home.TestID("own-login-reset").Text(),
		"domain page": domain.TestID("own-reset-button").Text(),
		"refusal":     refusal.TestID("next-link").Text(),
	} {
		if got = strings.TrimSpace(got); got != want {
			t.Errorf("the %s's button reads %q, want %q", name, got, want)
		}
	}
}
