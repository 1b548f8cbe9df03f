package handlers_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// TestMailgunErrorPageKeepsTheNavigation: while Mailgun fails, its error page (from the error
// handler) shows the navigation of every other page, the Audit link and the domain picker from
// the domain list already read, as the site's own refusals do. Without it, with the home page
// failing too, nothing on screen led to the audit trail, which needs no Mailgun. The error page
// asks Mailgun nothing for it.
func TestMailgunErrorPageKeepsTheNavigation(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "reviewer")
	wantStatus(t, get(t, c, "/"), http.StatusOK) // reads the domain list

	e.SB.SetFaults(sandbox.Faults{Rate: 1, Status: http.StatusServiceUnavailable})
	e.Clock.Add(time.Hour) // the domain list is out of date: the home page asks Mailgun again
	for _, path := range []string{"/", "/d/example.com?q=user"} {
		e.SB.ResetCalls()
		p := get(t, c, path)
		wantStatus(t, p, http.StatusBadGateway)
		if p.TestID("nav-audit").Length() != 1 {
			t.Errorf("%s: the Mailgun error page has no Audit link", path)
		}
		picker := p.TestID("domain-picker-item").Map(func(_ int, s *goquery.Selection) string {
			return strings.TrimSpace(s.Find("span").First().Text())
		})
		if want := []string{"example.com", "newsletter.example.org"}; !slices.Equal(picker, want) {
			t.Errorf("%s: the Mailgun error page's domain picker lists %v, want %v", path, picker, want)
		}
		if path != "/" {
			// The domain list is out of date, but the error page does not ask Mailgun for it.
			if n := len(e.callsTo(sandbox.RouteDomains, "")); n != 0 {
				t.Errorf("%s: %d calls for the domain list, want none", path, n)
			}
		}
	}

}
