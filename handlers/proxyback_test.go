package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
)

// viaProxy sends one request (no redirect followed) as a browser's, with c's cookies, through a
// trusted proxy that passes the browser's host in X-Forwarded-Host and its own upstream name in
// Host, as the README allows ("Have the proxy pass the browser's Host header (or, from a trusted
// address, X-Forwarded-Host)").
func viaProxy(t *testing.T, e *env, c *testflow.Client, method, path, referer, body string) (*http.Response, *goquery.Document) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, e.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range c.HTTP.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	req.Host = "smtpdesk-backend.internal:8080"
	req.Header.Set("X-Forwarded-Host", strings.TrimPrefix(e.URL, "http://"))
	req.Header.Set("Referer", referer)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return resp, doc
}

// TestBackBehindForwardedHostProxy: behind a trusted proxy that sends X-Forwarded-Host (a set-up
// the README allows), the forms opened from a paged, filtered list go back to that view: the
// Referer's host (the browser's) was compared with the request's Host (the proxy's name for SMTP
// Desk), never equal, so Cancel, Done and the delete led to the domain's first page.
func TestBackBehindForwardedHostProxy(t *testing.T) {
	e := newEnv(t, envOptions{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Settings:       handlers.Settings{ActionsPerMinute: 1000},
	})
	c := e.signIn(t, "admin")
	const view = "/d/example.com?page=2&per_page=25&q=user1"

	// Without the proxy, the confirmation page's Cancel leads back to the view.
	direct := getFrom(t, e, c, "/d/example.com/logins/user131@example.com/delete", e.URL+view)
	wantStatus(t, direct, http.StatusOK)
	if got := direct.TestID("cancel-link").AttrOr("href", ""); got != view {
		t.Fatalf("direct: Cancel leads to %q, want %q", got, view)
	}

	for _, form := range []string{
		"/d/example.com/logins/user131@example.com/delete",
		"/d/example.com/logins/user131@example.com/reset",
		"/d/example.com/new",
	} {
		resp, doc := viaProxy(t, e, c, http.MethodGet, form, e.URL+view, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("behind the proxy, %s: status %d", form, resp.StatusCode)
		}
		if got := doc.Find(testid("cancel-link")).AttrOr("href", ""); got != view {
			t.Errorf("behind the proxy, %s: Cancel leads to %q, want %q (the list view it was opened from)", form, got, view)
		}
	}

	// The list's delete dialog without its back field falls back on the Referer: behind the
	// proxy the delete from page 2 of the filtered view lands on the domain's first page.
	list := get(t, c, view)
	form := dialogForm(t, list)
	form.Del("back")
	resp, _ := viaProxy(t, e, c, http.MethodPost, deleteLinkOf(t, list, "user132@example.com"), e.URL+view, form.Encode())
	if loc := withoutChangeIDs(t, resp.Header.Get("Location")); resp.StatusCode != http.StatusSeeOther || loc != view {
		t.Errorf("behind the proxy, the delete answered %d to %q, want 303 to %q", resp.StatusCode, loc, view)
	}
}
