package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// longDomain is a valid domain of 65 characters whose labels have no hyphen (so no line-break
// opportunity inside them), the kind of name a relay sub-domain gets. The pages below ran past a
// phone's screen with it (the buttons are whitespace-nowrap, the sentences had no overflow-wrap).
const longDomain = "notificationsmailrelay.transactionalmailservice.acmeholdings.com"

func longDomainOnAPhone(t *testing.T, persona string) (*server, *tab) {
	t.Helper()
	srv := startServer(t)
	if err := srv.Sandbox.AddDomain(longDomain); err != nil {
		t.Fatal(err)
	}
	if err := srv.Sandbox.AddCredential(longDomain, "billing", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	tb := srv.tab("long-domain-" + persona)
	tb.signIn(persona)
	tb.do("phone screen", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	return srv, tb
}

// TestBackToALongDomainFitsThePhone: the delete page of a system login (postmaster) offers
// "Back to <domain>" as a .btn (whitespace-nowrap): with a long domain the button, and the page,
// ran past a phone's screen; it now wraps.
func TestBackToALongDomainFitsThePhone(t *testing.T) {
	t.Parallel()
	_, tb := longDomainOnAPhone(t, "admin")
	tb.wantStatus("delete page of postmaster", tb.open("/d/"+longDomain+"/logins/postmaster@"+longDomain+"/delete"), http.StatusOK)
	tb.wait(testid("cancel-link"))
	tb.fitsWidth("the system login's delete page", phoneWidth)
}

// TestAuditFilterProblemsFitThePhone: the audit trail's "Check the filters" list names the login
// and the domain filter in a sentence that had no overflow-wrap: a long login ran the page past a
// phone's screen.
func TestAuditFilterProblemsFitThePhone(t *testing.T) {
	t.Parallel()
	_, tb := longDomainOnAPhone(t, "admin")
	tb.wantStatus("audit with a login of another domain",
		tb.open("/audit?domain=acme.example&login="+url.QueryEscape("billing@"+longDomain)), http.StatusOK)
	tb.wait(testid("filter-problems"))
	tb.fitsWidth("the audit trail's filter problems", phoneWidth)
}

// TestHomeSearchSummaryShowsALongQuery: the home page's "1 of N domains match “…”" line under a
// search had no overflow-wrap and sits in a card with overflow-hidden: a long search (a long
// domain's name) was cut off unseen.
func TestHomeSearchSummaryShowsALongQuery(t *testing.T) {
	t.Parallel()
	_, tb := longDomainOnAPhone(t, "admin")
	tb.wantStatus("search", tb.open("/?q="+url.QueryEscape(longDomain)), http.StatusOK)
	tb.wait(testid("filter-summary"))
	cut := run(tb, "measure the summary", chromedp.Evaluate[int](`(() => { const p = document.querySelector('[data-testid="filter-summary"]'); return p.scrollWidth - p.clientWidth; })()`))
	if cut > 0 {
		t.Errorf("the search summary is %d pixels wider than its box, its end hidden by the card: %q", cut, tb.text(testid("filter-summary")))
	}
}
