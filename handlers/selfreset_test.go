package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// TestDomainPageOffersTheOwnReset: on the domain page, a team member who may reset only their
// own login (self-service) gets the way to it whatever page of the list their row is on, and is
// told when the domain has no such login instead of being promised a reset they cannot find.
func TestDomainPageOffersTheOwnReset(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "selfie") // a viewer of example.com as sam@example.com; 250 logins, 100 a page, sam's (added below) last
	p := get(t, c, "/d/example.com")
	wantStatus(t, p, http.StatusOK)
	if n := p.TestID("own-reset-button").Length(); n != 0 {
		t.Error("a reset is offered for a login the domain does not have")
	}
	if got := strings.Join(strings.Fields(p.Find("main").Text()), " "); !strings.Contains(got, "Your own login, sam@example.com, is not one of them") {
		t.Errorf("the page does not say the domain has no sam@example.com: %.300s", got)
	}

	if err := e.SB.AddCredential("example.com", "sam", "Sam-Old-Pass-1", sandbox.SeedBase()); err != nil {
		t.Fatal(err)
	}
	e.Clock.Add(time.Minute) // past what the instance keeps of the list
	p = get(t, c, "/d/example.com")
	wantStatus(t, p, http.StatusOK)
	if got := p.TestID("own-reset-button").AttrOr("href", ""); got != "/d/example.com/logins/sam@example.com/reset" {
		t.Errorf("the own reset leads to %q", got)
	}
	op := get(t, e.signIn(t, "operator"), "/d/acme.example")
	if n := op.TestID("own-reset-button").Length(); n != 0 {
		t.Error("an operator, who may reset any login, is offered the own reset")
	}
	if got := strings.Join(strings.Fields(op.Find("main").Text()), " "); strings.Contains(got, "Your own login") {
		t.Errorf("an operator's page speaks of their own login: %.300s", got)
	}
}
