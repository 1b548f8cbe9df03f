package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/internal/testflow"
)

// crumbsOf is page p's breadcrumb trail: each item's label and link ("" for the current page's,
// which must say so with aria-current).
func crumbsOf(t *testing.T, p *testflow.Page) [][2]string {
	t.Helper()
	var out [][2]string
	p.Find(`nav[aria-label="Breadcrumb"] li`).Each(func(_ int, li *goquery.Selection) {
		if a := li.Find("a"); a.Length() > 0 {
			out = append(out, [2]string{a.Text(), a.AttrOr("href", "")})
			return
		}
		if cur := li.Find(`[aria-current="page"]`); cur.Length() > 0 {
			out = append(out, [2]string{cur.Text(), ""})
		}
	})
	return out
}

// TestSubPagesLeadBack: the pages under a domain's list (create, reset, delete, delete all and
// the password shown once) carry breadcrumbs at the top, Domains › the domain › the page, whose
// domain link leads to the list view the page was opened from, where its Cancel leads too.
func TestSubPagesLeadBack(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	const view = "/d/example.com?page=2&per_page=25"
	var login string
	for _, l := range e.SB.Logins("example.com") {
		if !strings.HasPrefix(l, "postmaster@") {
			login = l
			break
		}
	}
	open := func(path string) *testflow.Page {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, e.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Referer", e.URL+view)
		p, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, p, http.StatusOK)
		return p
	}
	for _, tc := range []struct{ path, crumb string }{
		{"/d/example.com/new", "New SMTP logins"},
		{"/d/example.com/logins/" + login + "/reset", "Reset password"},
		{"/d/example.com/logins/" + login + "/delete", "Delete SMTP login"},
		{"/d/example.com/delete-all", "Delete all SMTP logins"},
	} {
		p := open(tc.path)
		want := [][2]string{{"Domains", "/"}, {"example.com", view}, {tc.crumb, ""}}
		if got := crumbsOf(t, p); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Errorf("%s: breadcrumbs %q, want %q", tc.path, got, want)
		}
	}

	// The password shown once: its domain crumb leads where its Done does.
	reset := "/d/example.com/logins/" + login + "/reset"
	p := submit(t, c, reset, reset, map[string]string{"mode": "generate"})
	wantStatus(t, p, http.StatusOK)
	got := crumbsOf(t, p)
	if done := p.TestID("done-link").AttrOr("href", ""); len(got) != 3 || got[1][1] == "" || got[1][1] != done || got[2][0] != "Reset password" {
		t.Errorf("the password page's breadcrumbs %q, want the domain's to lead where Done does (%q)", got, done)
	}
}
