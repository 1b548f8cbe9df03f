package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
)

// TestFormAfterSessionEnded: a form sent after its session ended (signed out in another tab, or
// timed out) changes nothing, and its page says so and offers to sign in again and come back to
// the form's page, through the real flow.
func TestFormAfterSessionEnded(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	c := e.signIn(t, "operator")
	const formPage = "/d/acme.example/new"
	tok := get(t, c, formPage).CSRF()
	if tok == "" {
		t.Fatal("the create page has no CSRF token")
	}
	// Signing out in another tab ends the session on the server and clears the cookie.
	if p, err := c.Post(ctx, auth.LogoutPath, url.Values{"_csrf": {tok}}); err != nil || p.Status != http.StatusOK {
		t.Fatalf("sign out: %v, %v", p, err)
	}
	e.SB.ResetCalls()

	p := sendFromForm(t, c, e.URL+formPage, tok)
	wantStatus(t, p, http.StatusForbidden)
	if got := p.TestID("error-heading").Text(); got != "Your session has ended" {
		t.Errorf("heading = %q", got)
	}
	if got := p.TestID("error-message").Text(); !strings.Contains(got, "Nothing was changed") {
		t.Errorf("message = %q, want it to say nothing was changed", got)
	}
	if n := len(e.callsTo("create", "")); n != 0 {
		t.Errorf("%d create calls after the session ended", n)
	}
	wantDraftNotes(t, "session ended", p)
	href := p.TestID("sign-in").AttrOr("href", "")
	if want := auth.LoginPath + "?next=" + url.QueryEscape(formPage); href != want {
		t.Fatalf("sign-in link = %q, want %q", href, want)
	}

	// Signing in again from that link leads back to the form.
	u, err := url.Parse(href)
	if err != nil {
		t.Fatal(err)
	}
	back, err := c.SignInNext(ctx, "operator", u.Query().Get("next"))
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, back, http.StatusOK)
	if back.URL.Path != formPage || back.TestID("create-form").Length() == 0 {
		t.Errorf("after signing in again: %s, create form shown: %v", back.URL, back.TestID("create-form").Length() > 0)
	}

	// A form from before signing in again belongs to the old session: it has expired, and
	// nothing is created either.
	p = sendFromForm(t, c, e.URL+formPage, tok)
	wantStatus(t, p, http.StatusForbidden)
	if got := p.TestID("error-heading").Text(); got != "This form has expired" {
		t.Errorf("heading = %q", got)
	}
	wantDraftNotes(t, "form expired", p)
	// "Go back, reload the page" was the way to the form again, and Back showed it empty.
	if next := p.TestID("next-link"); next.Text() != "Open the form again" || next.AttrOr("href", "") != formPage {
		t.Errorf("the expired form's page leads on with %q to %q, want \"Open the form again\" to %s",
			next.Text(), next.AttrOr("href", ""), formPage)
	}
	if p.TestID("sign-in").Length() != 0 {
		t.Error("a signed-in user is offered to sign in")
	}
	if n := len(e.callsTo("create", "")); n != 0 {
		t.Errorf("%d create calls with an old form", n)
	}
}

// wantDraftNotes: the page of a form refused before anything was done says whether what was
// typed into it is kept: "not kept" as the page comes (no script, or nothing kept), and the
// script's "kept in this tab" note hidden until it has kept something (e2e
// TestFormAfterSignOutElsewhere). Before, it said the Back button might still show what was
// typed, which it did not: Back fetched the form again, empty, or the sign-in.
func wantDraftNotes(t *testing.T, step string, p *testflow.Page) {
	t.Helper()
	lost, kept := p.TestID("draft-lost"), p.TestID("draft-kept")
	if lost.Length() != 1 || lost.Is("[hidden]") || !strings.Contains(lost.Text(), "not kept") {
		t.Errorf("%s: the page does not say what was typed was not kept (%d notes)", step, lost.Length())
	}
	if kept.Length() != 1 || !kept.Is("[hidden]") {
		t.Errorf("%s: the script's \"kept\" note is missing or shown without the script (%d notes)", step, kept.Length())
	}
	if strings.Contains(p.Text(), "Back button may still show") {
		t.Errorf("%s: the page still says the Back button may show what was typed", step)
	}
}

// sendFromForm sends the create form at formURL with CSRF token tok, as a browser does from that
// page: same-origin, with the page as its Referer (where the error page's way back comes from).
func sendFromForm(t *testing.T, c *testflow.Client, formURL, tok string) *testflow.Page {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, formURL,
		strings.NewReader(url.Values{"_csrf": {tok}, "logins": {"zed"}, "mode": {"generate"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Referer", formURL)
	p, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
