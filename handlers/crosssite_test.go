package handlers_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestCrossSiteFormSaysSo: a form another website sends to SMTP Desk (Sec-Fetch-Site:
// cross-site), even with a signed-in user's valid token, is refused, and its page says that it
// came from another site and to use SMTP Desk's own pages. It was the generic "You don't have
// access … ask your administrator", which sent the user to someone who cannot help.
func TestCrossSiteFormSaysSo(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	page := get(t, c, "/d/acme.example/logins/bob@acme.example/delete")
	wantStatus(t, page, http.StatusOK)
	form := url.Values{"_csrf": {page.CSRF()}}
	req, err := http.NewRequest(http.MethodPost, e.URL+"/d/acme.example/logins/bob@acme.example/delete", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	p, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, p, http.StatusForbidden)
	if got := p.TestID("error-heading").Text(); !strings.Contains(got, "Sent from another site") {
		t.Errorf("heading = %q, want it to say the request came from another site", got)
	}
	if got := p.TestID("error-hint").Text(); strings.Contains(got, "administrator") || !strings.Contains(got, "its own pages") {
		t.Errorf("hint = %q, want SMTP Desk's own pages, not the administrator", got)
	}
	if !slices.Contains(e.SB.Logins("acme.example"), "bob@acme.example") {
		t.Error("bob@acme.example was deleted by a form from another site")
	}
}
