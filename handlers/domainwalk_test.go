package handlers_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// TestDomainWalkHasADeadline: a walk of Mailgun's domain list that Mailgun never answers ends
// at the walk's own deadline (Settings.DomainWalkTimeout) with the "did not answer in time"
// page, though each call's deadline is far off. The walk runs detached from the page views
// waiting for it, so nothing else bounded it: the page waited as long as Mailgun held it.
func TestDomainWalkHasADeadline(t *testing.T) {
	e := newEnv(t, envOptions{MailgunTimeout: 10 * time.Minute, Settings: handlers.Settings{DomainWalkTimeout: 50 * time.Millisecond}})
	c := e.signIn(t, "admin")   // the list is read once, and kept for a while
	hold := make(chan struct{}) // Mailgun does not answer until the client goes
	defer close(hold)
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDomains}, Hold: hold})
	e.Clock.Add(time.Hour) // the kept list has expired: the next page reads it again
	// The page's own bound only keeps the old code from holding the test for ten minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := c.Get(ctx, "/")
	if err != nil {
		t.Fatalf("the home page while Mailgun holds the domain list: %v", err)
	}
	wantStatus(t, p, http.StatusGatewayTimeout)
	if got := e.callsTo(sandbox.RouteDomains, ""); len(got) == 0 {
		t.Error("the domain list was not read again: the test did not reach the walk")
	}
}
