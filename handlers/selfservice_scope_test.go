package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestSelfServiceIsOnlyAReset: self-service lets a viewer reset the login equal to their own
// verified e-mail, and nothing else on it. Their own login's delete form and delete POST are
// 403 like any other login's, nothing reaches Mailgun, the login is still there, and the
// refusal is recorded as an access denial (not a credential.delete). A check of self-service
// that is not tied to the reset action (authorize) would let a viewer delete their own login.
func TestSelfServiceIsOnlyAReset(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	if err := e.SB.AddCredential("example.com", "sam", "Sam-Old-Pass-1", sandbox.SeedBase()); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(t, "selfie")
	const own = "/d/example.com/logins/sam@example.com"

	// The reset is theirs (the rule this test leaves alone).
	wantStatus(t, get(t, c, own+"/reset"), http.StatusOK)

	e.SB.ResetCalls()
	wantStatus(t, get(t, c, own+"/delete"), http.StatusForbidden)
	p := submit(t, c, "/d/example.com", own+"/delete", map[string]string{})
	wantStatus(t, p, http.StatusForbidden)
	if n := len(e.callsTo("delete", "")); n != 0 {
		t.Errorf("%d delete calls reached Mailgun for a self-service viewer", n)
	}
	if got := e.auditEntries(t, store.AuditFilter{Action: "credential.delete", Domain: "example.com"}); len(got) != 0 {
		t.Errorf("credential.delete entries = %+v, want none", got)
	}
	denied := e.auditEntries(t, store.AuditFilter{Action: "access.denied", Domain: "example.com"})
	if len(denied) == 0 || !strings.Contains(denied[0].Detail, "delete sam@example.com") {
		t.Errorf("access.denied entries = %+v, want the refused delete of sam@example.com", denied)
	}
	list := get(t, c, "/d/example.com?q=sam")
	if !strings.Contains(list.Text(), "sam@example.com") {
		t.Error("sam@example.com is no longer listed after a refused delete")
	}
}
