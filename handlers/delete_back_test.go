package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// postFrom posts form to path as a browser does from a page of this site at referer ("" for
// none), following the redirect.
func postFrom(t *testing.T, e *env, c *testflow.Client, path, referer string, form url.Values) *testflow.Page {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, e.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if referer != "" {
		req.Header.Set("Referer", referer)
	}
	p, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// deleteLinkOf is the href of login's Delete link on list page p.
func deleteLinkOf(t *testing.T, p *testflow.Page, login string) string {
	t.Helper()
	var href string
	p.Find(rowSel).Each(func(_ int, s *goquery.Selection) {
		if s.AttrOr("data-login", "") == login {
			href = s.Find("a.ad").AttrOr("href", "")
		}
	})
	if href == "" {
		t.Fatalf("%s shows no Delete link for %s; it shows %q", p.URL, login, loginsOn(p))
	}
	return href
}

// dialogForm is what the list page's confirmation dialog sends: its hidden fields (the CSRF
// token, the way back).
func dialogForm(t *testing.T, p *testflow.Page) url.Values {
	t.Helper()
	form := p.Find("dialog[data-confirm-dialog] form")
	if form.Length() != 1 {
		t.Fatalf("%s: %d dialog forms, want one", p.URL, form.Length())
	}
	v := url.Values{}
	form.Find(`input[type="hidden"]`).Each(func(_ int, in *goquery.Selection) {
		v.Add(in.AttrOr("name", ""), in.AttrOr("value", ""))
	})
	return v
}

// pagerText is the list's "26–50 of 99".
func pagerText(p *testflow.Page) string {
	return strings.Join(strings.Fields(p.TestID("pager-summary").Text()), " ")
}

// withoutChangeIDs is the address u (a path and query) without the ?flash= a change's redirect
// adds (auth.FlashParam, a new random id each time) and the ?entry= naming its audit entry, for
// comparing where the redirect led.
func withoutChangeIDs(t *testing.T, u string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := parsed.Query()
	if !q.Has(auth.FlashParam) && !q.Has("entry") {
		return u
	}
	q.Del(auth.FlashParam)
	q.Del("entry")
	parsed.RawQuery = q.Encode()
	return parsed.RequestURI()
}

// wantListAt fails the test unless p is this site's list at path (and query) want, with the
// flash of a delete and the pager at page, and no note about a page that does not exist.
func wantListAt(t *testing.T, e *env, p *testflow.Page, want, flash, page string) {
	t.Helper()
	wantStatus(t, p, http.StatusOK)
	if got := withoutChangeIDs(t, p.URL.RequestURI()); got != want || p.URL.Host != strings.TrimPrefix(e.URL, "http://") {
		t.Errorf("ended at %s, want %s on this site", p.URL, want)
	}
	if got := p.TestID("flash").Text(); !strings.Contains(got, flash) {
		t.Errorf("flash = %q, want %q", got, flash)
	}
	if got := pagerText(p); got != page {
		t.Errorf("the list shows %q, want %q", got, page)
	}
	if strings.Contains(p.Text(), "There is no page") {
		t.Error("the list says the page asked for does not exist")
	}
}

// TestDeleteGoesBackToTheView: a delete from a paged, filtered list (through the list's dialog,
// or the confirmation page without scripts) returns to that view, page, page size and filter
// kept, with the flash; the confirmation page's Cancel leads there too. A back field or a
// Referer that is not this domain's list on this site leads to the domain page.
func TestDeleteGoesBackToTheView(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	// example.com has postmaster@ and user001..user250: user1 matches user100..user199, and page
	// 2 of 25 holds user125..user149.
	const view = "/d/example.com?page=2&per_page=25&q=user1"
	const after = "26–50 of 99"

	t.Run("dialog", func(t *testing.T) {
		list := get(t, c, view)
		wantStatus(t, list, http.StatusOK)
		other := get(t, c, view) // the same view in another tab
		const login = "user130@example.com"
		p := postFrom(t, e, c, deleteLinkOf(t, list, login), list.URL.String(), dialogForm(t, list))
		wantListAt(t, e, p, view, "Deleted "+login+".", after)
		if slices.Contains(loginsOn(p), login) {
			t.Errorf("the list still shows %s", login)
		}
		// Again from the other tab (this one did it first): already gone, and back to the view
		// all the same. (The same tab's form sent again is "already sent": TestDeleteSentTwice.)
		p = postFrom(t, e, c, deleteLinkOf(t, other, login), other.URL.String(), dialogForm(t, other))
		wantListAt(t, e, p, view, login+" was already gone", "26–50 of 99")
	})

	t.Run("confirmation page", func(t *testing.T) {
		list := get(t, c, view)
		const login = "user131@example.com"
		confirm := getFrom(t, e, c, deleteLinkOf(t, list, login), list.URL.String())
		wantStatus(t, confirm, http.StatusOK)
		if got := confirm.TestID("cancel-link").AttrOr("href", ""); got != view {
			t.Errorf("Cancel leads to %q, want %q", got, view)
		}
		p := sendForm(t, c, confirm, testid("delete-form"), nil)
		wantListAt(t, e, p, view, "Deleted "+login+".", "26–50 of 98")
	})

	t.Run("the view shown, not the address", func(t *testing.T) {
		// The list opened at page 2 shows the page holding a login just changed (page 5 of
		// 25): the dialog carries that view, while the address (the Referer) still says page 2.
		list := get(t, c, "/d/example.com?page=2&per_page=25&changed=user110%40example.com")
		if got := pagerText(list); got != "101–125 of 249" {
			t.Fatalf("the list shows %q, want page 5", got)
		}
		const login = "user111@example.com"
		p := postFrom(t, e, c, deleteLinkOf(t, list, login), e.URL+"/d/example.com?page=2&per_page=25", dialogForm(t, list))
		wantListAt(t, e, p, "/d/example.com?page=5&per_page=25", "Deleted "+login+".", "101–125 of 248")
	})

	t.Run("no back field: the Referer", func(t *testing.T) {
		list := get(t, c, view)
		const login = "user132@example.com"
		form := dialogForm(t, list)
		form.Del("back")
		p := postFrom(t, e, c, deleteLinkOf(t, list, login), list.URL.String(), form)
		wantListAt(t, e, p, view, "Deleted "+login+".", "26–50 of 96")
	})

	for _, tt := range []struct {
		name, back, referer string
	}{
		{"a back field to another site", "//evil.example/d/example.com?page=2&per_page=25", ""},
		{"a back field with a scheme", "https://evil.example/d/example.com?page=2", e.URL + view},
		{"a back field to another domain", "/d/acme.example?page=2", e.URL + view},
		{"a Referer from another site", "", "http://evil.example/d/example.com?page=2&per_page=25&q=user1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			list := get(t, c, view)
			login := loginsOn(list)[0]
			form := dialogForm(t, list)
			form.Del("back")
			if tt.back != "" {
				form.Set("back", tt.back)
			}
			p := postFrom(t, e, c, deleteLinkOf(t, list, login), tt.referer, form)
			wantStatus(t, p, http.StatusOK)
			if got := withoutChangeIDs(t, p.URL.RequestURI()); got != "/d/example.com" || p.URL.Host != strings.TrimPrefix(e.URL, "http://") {
				t.Errorf("ended at %s, want /d/example.com on this site", p.URL)
			}
			if got := p.TestID("flash").Text(); !strings.Contains(got, "Deleted "+login+".") {
				t.Errorf("flash = %q", got)
			}
		})
	}
}

// TestDeleteTheLastOfTheLastPage: deleting the only login of a view's last page lands on the
// view's new last page (the first, without a page number, when that is the only one), not on
// a page that no longer exists.
func TestDeleteTheLastOfTheLastPage(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	// 51 logins in this order: postmaster@, gen000001..gen000023, xtra01..xtra26, zlast.
	const domain = "pages.example"
	if err := e.SB.AddDomain(domain); err != nil {
		t.Fatal(err)
	}
	if err := e.SB.AddGeneratedLogins(domain, 23); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 26; i++ {
		if err := e.SB.AddCredential(domain, fmt.Sprintf("xtra%02d", i), "", sandbox.SeedBase()); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.SB.AddCredential(domain, "zlast", "", sandbox.SeedBase()); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(t, "admin")
	tests := []struct {
		name, view, login, want, page string
	}{
		{"the domain's page 3 of 25 goes", "/d/pages.example?page=3&per_page=25", "zlast@pages.example",
			"/d/pages.example?page=2&per_page=25", "26–50 of 50"},
		{"the filter's page 2 goes: its only page is left", "/d/pages.example?page=2&per_page=25&q=xtra", "xtra26@pages.example",
			"/d/pages.example?per_page=25&q=xtra", "1–25 of 25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list := get(t, c, tt.view)
			wantStatus(t, list, http.StatusOK)
			if got := loginsOn(list); !slices.Equal(got, []string{tt.login}) {
				t.Fatalf("%s shows %q, want %s alone", tt.view, got, tt.login)
			}
			p := postFrom(t, e, c, deleteLinkOf(t, list, tt.login), list.URL.String(), dialogForm(t, list))
			wantListAt(t, e, p, tt.want, "Deleted "+tt.login+".", tt.page)
		})
	}
}

// TestDeleteAllCancelKeepsThePlace: the delete-all page's Cancel leads to the list view it was
// opened from, also when the page comes back for a mistyped confirmation; the delete itself
// leads to the domain's first page, where only the system logins are left.
func TestDeleteAllCancelKeepsThePlace(t *testing.T) {
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000}})
	c := e.signIn(t, "admin")
	const view = "/d/example.com?page=3&per_page=25&q=user"
	page := getFrom(t, e, c, "/d/example.com/delete-all", e.URL+view)
	wantStatus(t, page, http.StatusOK)
	if got := page.TestID("cancel-link").AttrOr("href", ""); got != view {
		t.Errorf("Cancel leads to %q, want %q", got, view)
	}
	again := sendForm(t, c, page, testid("delete-all-form"), map[string]string{"confirm": "example.co"})
	wantStatus(t, again, http.StatusBadRequest)
	if got := again.TestID("cancel-link").AttrOr("href", ""); got != view {
		t.Errorf("sent back for a fix, Cancel leads to %q, want %q", got, view)
	}
	done := sendForm(t, c, again, testid("delete-all-form"), map[string]string{"confirm": "example.com"})
	wantStatus(t, done, http.StatusOK)
	if got := withoutChangeIDs(t, done.URL.RequestURI()); got != "/d/example.com" {
		t.Errorf("the delete led to %s, want the domain's first page", got)
	}
	if got := loginsOn(done); !slices.Equal(got, []string{"postmaster@example.com"}) {
		t.Errorf("the list shows %q, want the system login alone", got)
	}
}
