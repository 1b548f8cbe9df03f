package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// TestKeyRefusedPanelQuotesTheRequestID: Mailgun refusing SMTP Desk's key on a change's first
// attempt is the administrator's to fix, as the error page for it says ("Quote the request id
// below"): the panel above the form asks the same and shows the id, as the panels of a retry
// refused for the key do. It said only "tell your administrator", the id in the footer alone.
func TestKeyRefusedPanelQuotesTheRequestID(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	admin := e.signIn(t, "admin")
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteUpdate}, Rate: 1, Status: http.StatusUnauthorized})
	path := "/d/acme.example/logins/alice@acme.example/reset"
	p := submit(t, admin, path, path, map[string]string{"mode": "generate"})
	panel := p.TestID("upstream-error")
	if p.Status != http.StatusBadGateway || panel.Length() != 1 {
		t.Fatalf("reset with the key refused = %d with %d panels, want 502 with one", p.Status, panel.Length())
	}
	text := strings.Join(strings.Fields(panel.Text()), " ")
	if !strings.Contains(text, "Nothing was changed. Tell your administrator and quote the request ID below.") {
		t.Errorf("the panel says %q, want it to ask to quote the request ID", text)
	}
	if got, rid := panel.Find(`[data-testid="upstream-request-id"]`).Text(), p.Header.Get("X-Request-ID"); got != rid || rid == "" {
		t.Errorf("the panel's request id = %q, want this request's, %q", got, rid)
	}
}
