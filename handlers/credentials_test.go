package handlers_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// The credential rows' hooks (views/rows.go): rows carry no data-testid, because every byte of
// a row repeats a hundred times. A row is a <tr> with data-login, its login cell the span with an
// id, its actions the links with class ar (reset), ad (delete) and ah (history).
const (
	rowSel     = "tr[data-login]"
	loginSel   = "td > span[id]"
	resetSel   = "tr[data-login] a.ar"
	deleteSel  = "tr[data-login] a.ad"
	historySel = "tr[data-login] a.ah"
)

func loginsOn(p interface {
	Find(string) *goquery.Selection
}) []string {
	var out []string
	p.Find(rowSel).Each(func(_ int, s *goquery.Selection) {
		out = append(out, strings.TrimSpace(s.Find(loginSel).First().Text()))
	})
	return out
}

func summary(p interface {
	TestID(string) *goquery.Selection
}) string {
	return strings.Join(strings.Fields(p.TestID("pager-summary").Text()), " ")
}

func TestDomainPaging(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "reviewer")
	all := e.SB.Logins("example.com") // 250 users and postmaster, in list order
	if len(all) != 251 {
		t.Fatalf("seed has %d logins, want 251", len(all))
	}
	tests := []struct {
		name        string
		query       string
		wantLogins  []string
		wantSummary string
		wantCalls   int // list calls this request makes (nothing cached before it)
		wantNote    string
	}{
		{"default page", "", all[:100], "1–100 of 251", 1, ""},
		{"second page", "?page=2", all[100:200], "101–200 of 251", 1, ""},
		{"last page", "?page=3", all[200:], "201–251 of 251", 1, ""},
		{"deep link with a size", "?page=4&per_page=25", all[75:100], "76–100 of 251", 1, ""},
		{"500 per page", "?per_page=500", all, "1–251 of 251", 1, ""},
		{"past the end shows the last page", "?page=9&per_page=50", all[250:], "251 of 251", 2,
			"There is no page 9: this is the last page, 6."},
		{"far past the end", "?page=100000&per_page=25", all[250:], "251 of 251", 2,
			"There is no page 100000: this is the last page, 11."},
		{"invalid values fall back to defaults", "?page=x&per_page=7", all[:100], "1–100 of 251", 1,
			`The page size "7" was not used: the choices are 25, 50, 100 and 500, and this page shows 100 logins. The page number "x" was not used: this is the first page.`},
		{"page zero", "?page=0&per_page=50", all[:50], "1–50 of 251", 1, `The page number "0" was not used: this is the first page.`},
		{"empty values are no page", "?page=&per_page=", all[:100], "1–100 of 251", 1, ""},
		{"a filter's page past its matches", "?q=user00&page=3&per_page=25", all[1:10], "1–9 of 9", 1,
			"There is no page 3: this is the only page."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.Clock.Add(time.Hour) // nothing cached from the previous case
			e.SB.ResetCalls()
			p := get(t, c, "/d/example.com"+tt.query)
			wantStatus(t, p, http.StatusOK)
			if got := loginsOn(p); !reflect.DeepEqual(got, tt.wantLogins) {
				t.Errorf("logins = %d rows (%v…), want %d rows (%v…)", len(got), first(got), len(tt.wantLogins), first(tt.wantLogins))
			}
			if got := summary(p); got != tt.wantSummary {
				t.Errorf("summary = %q, want %q", got, tt.wantSummary)
			}
			if got := len(e.callsTo("list", "example.com")); got != tt.wantCalls {
				t.Errorf("list calls = %d, want %d", got, tt.wantCalls)
			}
			// A value that was not used, or a page past the end, is named in a warning.
			if got := strings.TrimSpace(p.TestID("flash-warning").Text()); got != tt.wantNote {
				t.Errorf("warning = %q, want %q", got, tt.wantNote)
			}
		})
	}

	t.Run("a page past the end of an empty domain", func(t *testing.T) {
		admin := e.signIn(t, "admin")
		p := get(t, admin, "/d/empty.example?page=4")
		wantStatus(t, p, http.StatusOK)
		if got, want := strings.TrimSpace(p.TestID("flash-warning").Text()), "There is no page 4: this is the only page."; got != want {
			t.Errorf("warning = %q, want %q", got, want)
		}
	})

	t.Run("the same page again comes from the cache", func(t *testing.T) {
		e.Clock.Add(time.Hour)
		get(t, c, "/d/example.com?page=2&per_page=25")
		e.SB.ResetCalls()
		p := get(t, c, "/d/example.com?page=2&per_page=25")
		if got := loginsOn(p); !reflect.DeepEqual(got, all[25:50]) {
			t.Errorf("cached page differs")
		}
		if got := len(e.callsTo("list", "")); got != 0 {
			t.Errorf("list calls = %d, want 0", got)
		}
	})

	t.Run("pager links are deep links", func(t *testing.T) {
		p := get(t, c, "/d/example.com?page=2&per_page=50")
		var hrefs []string
		p.Find(`nav[aria-label="Pagination"] a`).Each(func(_ int, s *goquery.Selection) {
			hrefs = append(hrefs, s.AttrOr("href", ""))
		})
		want := "/d/example.com?page=3&per_page=50"
		found := false
		for _, h := range hrefs {
			found = found || h == want
		}
		if !found {
			t.Errorf("pager links %q lack %q", hrefs, want)
		}
		p2 := get(t, c, want)
		if got := loginsOn(p2); !reflect.DeepEqual(got, all[100:150]) {
			t.Errorf("following the link shows the wrong rows")
		}
	})
}

func first(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

func TestDomainRows(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	p := get(t, c, "/d/example.com?per_page=500")
	wantStatus(t, p, http.StatusOK)
	var sawSystem, sawOld, sawNew bool
	p.Find(rowSel).Each(func(_ int, s *goquery.Selection) {
		login := strings.TrimSpace(s.Find(loginSel).Text())
		if dl := s.AttrOr("data-login", ""); dl != login {
			t.Errorf("row data-login %q, login cell %q", dl, login)
		}
		system := s.Find(`[data-testid="system-badge"]`).Length() > 0
		old := s.Find(`[data-testid="age-badge"]`).Length() > 0
		if system != (login == "postmaster@example.com") {
			t.Errorf("%s: system badge %v", login, system)
		}
		if system {
			sawSystem = true
			if s.Find("a.ad").Length() > 0 {
				t.Errorf("system login %s has a delete link", login)
			}
		}
		if old {
			sawOld = true
		} else {
			sawNew = true
		}
		if href, want := s.Find("a.ar").AttrOr("href", ""), "/d/example.com/logins/"+url.PathEscape(login)+"/reset"; href != want {
			t.Errorf("%s: reset link %q, want %q", login, href, want)
		}
		if href, want := s.Find("a.ad").AttrOr("href", ""), "/d/example.com/logins/"+url.PathEscape(login)+"/delete"; !system && href != want {
			t.Errorf("%s: delete link %q, want %q", login, href, want)
		}
		if href := s.Find("a.ah").AttrOr("href", ""); href != "/audit?domain=example.com&login="+strings.ReplaceAll(login, "@", "%40") {
			t.Errorf("%s: history link %q", login, href)
		}
	})
	if !sawSystem || !sawOld || !sawNew {
		t.Errorf("system %v, old %v, new %v: want all three", sawSystem, sawOld, sawNew)
	}
	// user250 is a few days old, user001 about three years (the seed's dates, against the
	// pages' clock set to the seed's base date).
	p1 := get(t, c, "/d/example.com?per_page=25")
	if p1.Find(rowSel).First().Find(`[data-testid="age-badge"]`).Length() == 0 {
		t.Error("user001 (three years old) has no age flag")
	}
}

func TestDomainRowsShowOnlyPermittedActions(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		persona, domain                           string
		wantCreate, wantReset, wantDelete, wantDA bool
	}{
		{"admin", "acme.example", true, true, true, true},
		{"owner", "acme.example", true, true, true, true},
		{"operator", "acme.example", true, true, false, false},
		{"reviewer", "example.com", false, false, false, false},
		// Only the system login: "delete all" would delete nothing, so it is not offered, in
		// the logins to rotate or a filter's matches either (which show part of the domain).
		{"admin", "empty.example", true, true, false, false},
		{"admin", "empty.example?rotate=1", true, false, false, false},
		{"admin", "empty.example?q=post", true, true, false, false},
		// A filter that matches only the system login still leaves others to delete.
		{"admin", "acme.example?q=postmaster", true, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.persona+" on "+tt.domain, func(t *testing.T) {
			c := e.signIn(t, tt.persona)
			p := get(t, c, "/d/"+tt.domain)
			wantStatus(t, p, http.StatusOK)
			got := [4]bool{
				p.Find(`a[data-testid="create-button"]`).Length() > 0,
				p.Find(resetSel).Length() > 0,
				p.Find(deleteSel).Length() > 0,
				p.Find(`a[data-testid="delete-all-button"]`).Length() > 0,
			}
			want := [4]bool{tt.wantCreate, tt.wantReset, tt.wantDelete, tt.wantDA}
			if got != want {
				t.Errorf("create, reset, delete, delete-all links = %v, want %v", got, want)
			}
		})
	}
}

func TestDomainFilterSearchesTheWholeDomain(t *testing.T) {
	e := newEnv(t, envOptions{})
	if err := e.SB.AddDomain("big.example"); err != nil {
		t.Fatal(err)
	}
	if err := e.SB.AddGeneratedLogins("big.example", 10000); err != nil {
		t.Fatal(err)
	}
	total := len(e.SB.Logins("big.example")) // 10,000 and postmaster
	c := e.signIn(t, "admin")
	e.SB.ResetCalls()

	p := get(t, c, "/d/big.example?q=gen0099")
	wantStatus(t, p, http.StatusOK)
	// gen009900…gen009999: 100 matches, spread over the domain's last pages.
	got := loginsOn(p)
	if len(got) != 100 || got[0] != "gen009900@big.example" || got[99] != "gen009999@big.example" {
		t.Errorf("matches = %d (%v…)", len(got), first(got))
	}
	if s := summary(p); s != "1–100 of 100" {
		t.Errorf("summary = %q", s)
	}
	calls := e.callsTo("list", "big.example")
	if want := (total + 999) / 1000; len(calls) != want {
		t.Errorf("list calls = %d, want %d (pages of 1000)", len(calls), want)
	}

	t.Run("filtered results page too", func(t *testing.T) {
		p := get(t, c, "/d/big.example?q=gen00&per_page=25&page=3")
		if got := loginsOn(p); len(got) != 25 || got[0] != "gen000051@big.example" {
			t.Errorf("page 3 of matches: %d rows starting %v", len(got), first(got))
		}
		// gen000001…gen009999 match "gen00": 9,999 matches.
		if s := summary(p); s != "51–75 of 9,999" {
			t.Errorf("summary = %q", s)
		}
		// The pager keeps the filter, keys in url.Values order.
		if got, want := p.TestID("pager-next").AttrOr("href", ""), "/d/big.example?page=4&per_page=25&q=gen00"; got != want {
			t.Errorf("next page link = %q, want %q", got, want)
		}
	})

	t.Run("a second filter is served from the cache", func(t *testing.T) {
		e.SB.ResetCalls()
		p := get(t, c, "/d/big.example?q=gen00123")
		if got := loginsOn(p); len(got) != 10 {
			t.Errorf("matches = %d, want 10", len(got))
		}
		if n := len(e.callsTo("list", "")); n != 0 {
			t.Errorf("list calls = %d, want 0", n)
		}
	})

	t.Run("the domain part only with an @", func(t *testing.T) {
		// Every login ends in @big.example: without an @ the filter looks before it, or "big"
		// and "example" would match all 10,001; with one, in the whole login.
		for q, want := range map[string]string{"big": "0 matches", "EXAMPLE": "0 matches", "@big.example": "10,001 matches", "gen000123@big": "1 match", "GEN000123@": "1 match"} {
			p := get(t, c, "/d/big.example?per_page=25&q="+url.QueryEscape(q))
			wantStatus(t, p, http.StatusOK)
			if got := strings.Join(strings.Fields(p.TestID("filter-summary").Text()), " "); !strings.HasPrefix(got, want+" for") {
				t.Errorf("q=%q: summary %q, want %s", q, got, want)
			}
		}
	})

	t.Run("this instance's write drops the cache", func(t *testing.T) {
		p := submit(t, c, "/d/big.example/new", "/d/big.example/new", map[string]string{"logins": "gen0099zz"})
		wantStatus(t, p, http.StatusOK)
		e.SB.ResetCalls()
		p = get(t, c, "/d/big.example?q=gen0099")
		if got := summary(p); got != "1–100 of 101" {
			t.Errorf("summary after create = %q, want 1–100 of 101", got)
		}
		if n := len(e.callsTo("list", "big.example")); n != (total+1+999)/1000 {
			t.Errorf("list calls = %d, want %d", n, (total+1+999)/1000)
		}
	})

	t.Run("no match", func(t *testing.T) {
		p := get(t, c, "/d/big.example?q=nothing-like-this")
		wantStatus(t, p, http.StatusOK)
		if got := loginsOn(p); len(got) != 0 {
			t.Errorf("rows = %d, want 0", len(got))
		}
	})
}

func TestDomainURLValidation(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	e.SB.ResetCalls()
	tests := []struct {
		path string
		want int
	}{
		{"/d/exa%20mple.com", http.StatusBadRequest},
		{"/d/exa%0Dmple.com", http.StatusBadRequest},
		{"/d/.example.com", http.StatusBadRequest},
		{"/d/" + strings.Repeat("a", 254), http.StatusBadRequest},
		{"/d/example.com/logins/a%2Fb/reset", http.StatusBadRequest},
		{"/d/example.com/logins/alice@other.org/reset", http.StatusBadRequest},
		{"/d/example.com/logins/a%0D%0Ab/delete", http.StatusBadRequest},
		{"/d/unknown.example", http.StatusNotFound},
	}
	for _, tt := range tests {
		p := get(t, c, tt.path)
		if p.Status != tt.want {
			t.Errorf("GET %s = %d, want %d", tt.path, p.Status, tt.want)
		}
	}
	for _, call := range e.SB.Calls() {
		if call.Route != "list" && call.Route != "domains" {
			t.Errorf("unexpected call %s %s", call.Method, call.Path)
		}
		if call.Route == "list" && call.Domain != "unknown.example" {
			t.Errorf("list call for %q after a validation failure", call.Domain)
		}
	}
}

// TestFormsForAnUnknownDomain: the form pages of a domain Mailgun does not know answer 404, as
// the domain page and delete-all do, instead of a working form.
func TestFormsForAnUnknownDomain(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	for _, path := range []string{
		"/d/nope.example/new",
		"/d/nope.example/logins/a@nope.example/reset",
		"/d/nope.example/logins/a@nope.example/delete",
	} {
		p := get(t, c, path)
		wantStatus(t, p, http.StatusNotFound)
		if !strings.Contains(p.Text(), "Mailgun does not know the domain nope.example") {
			t.Errorf("%s: %.300s", path, p.Text())
		}
	}
}

// TestActionsInAnUnknownDomain: a reset or delete that Mailgun answers "Domain not found" (a
// domain removed from Mailgun after this instance read the domain list, which still names it)
// answers as the forms do, "Domain not found", and not as if the login alone were missing: the
// reset form said the login "no longer exists", and the delete left the flash "… was already
// gone" for whatever page came next. (A domain the list does not name never gets this far:
// TestChangesOnADomainMailgunDoesNotHave.)
func TestActionsInAnUnknownDomain(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	e.SB.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteUpdate, sandbox.RouteDelete}, Rate: 1,
		Status: http.StatusNotFound, Message: "Domain not found"})
	for _, action := range []string{"reset", "delete"} {
		p := submit(t, c, "/d/acme.example", "/d/acme.example/logins/alice@acme.example/"+action, map[string]string{"mode": "generate"})
		wantStatus(t, p, http.StatusNotFound)
		if len(p.Redirects) > 0 {
			t.Errorf("%s: redirected to %s", action, p.URL.Path)
		}
		if text := p.Text(); !strings.Contains(text, "Mailgun does not know the domain acme.example") || strings.Contains(text, "no longer exists") {
			t.Errorf("%s: %.400s", action, text)
		}
		// Mailgun was asked, so the attempt is in the trail.
		if got := e.auditEntries(t, store.AuditFilter{Domain: "acme.example", Action: "credential." + action}); len(got) != 1 || got[0].Outcome != "failed" {
			t.Errorf("%s: audit entries %+v, want one failed", action, got)
		}
	}
	next := get(t, c, "/d/acme.example")
	wantStatus(t, next, http.StatusOK)
	if strings.Contains(next.Text(), "already gone") {
		t.Errorf("the next page shows a flash about the unknown domain: %.300s", next.Find("[role=status]").Text())
	}
}

// TestFilterDropsInvisibleCharacters: a login pasted into the filter with a zero-width space in
// it (as chat and documents carry them) finds the login, and the page shows the filter without
// it, in the box, in its summary and in the links it builds from it.
func TestFilterDropsInvisibleCharacters(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	const pasted = "\ufeff bob\u200b@acme.example\u2060 "
	p := get(t, c, "/d/acme.example?q="+url.QueryEscape(pasted))
	wantStatus(t, p, http.StatusOK)
	if got := loginsOn(p); !reflect.DeepEqual(got, []string{"bob@acme.example"}) {
		t.Errorf("the filter %q shows %v, want bob@acme.example", pasted, got)
	}
	if got := p.TestID("filter-input").AttrOr("value", ""); got != "bob@acme.example" {
		t.Errorf("the filter box shows %q, want bob@acme.example", got)
	}
	if got := strings.Join(strings.Fields(p.TestID("filter-summary").Text()), " "); !strings.HasPrefix(got, "1 match for “bob@acme.example”") {
		t.Errorf("the filter summary reads %q", got)
	}
	if got, want := p.TestID("export-logins").AttrOr("href", ""), "/d/acme.example/export.csv?q=bob%40acme.example"; got != want {
		t.Errorf("the export link is %q, want %q", got, want)
	}
	for _, r := range []string{"\u200b", "\u2060", "\ufeff"} {
		if strings.Contains(string(p.Body), r) {
			t.Errorf("the page still holds %U", []rune(r)[0])
		}
	}
	// The export, asked with the pasted filter, finds bob too.
	x := get(t, c, "/d/acme.example/export.csv?q="+url.QueryEscape(pasted))
	wantStatus(t, x, http.StatusOK)
	rows, err := csv.NewReader(bytes.NewReader(x.Body)).ReadAll()
	if err != nil {
		t.Fatalf("the export: %v", err)
	}
	if len(rows) != 2 || rows[1][1] != "bob@acme.example" {
		t.Errorf("the export of the pasted filter holds %q, want the header and bob", rows)
	}
	// The home page's search too.
	h := get(t, c, "/?q="+url.QueryEscape("\u200bacme\u200d"))
	wantStatus(t, h, http.StatusOK)
	if got := h.TestID("domain-row").Map(func(_ int, s *goquery.Selection) string { return s.AttrOr("data-domain", "") }); !reflect.DeepEqual(got, []string{"acme.example"}) {
		t.Errorf("the home page's search for a pasted acme shows %v, want acme.example", got)
	}
}

// TestFilterByTheDomainSaysWhy: the filter looks before the @ unless it has one, so the domain's
// own name typed on its page found nothing, though every login ends in it, and the page said
// only "No logins match". It says why and what finds them, and that does.
func TestFilterByTheDomainSaysWhy(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	p := get(t, c, "/d/acme.example?q=acme.example")
	wantStatus(t, p, http.StatusOK)
	text := strings.Join(strings.Fields(p.Text()), " ")
	if !strings.Contains(text, "No logins match") || !strings.Contains(text, "type it with its @ (such as @acme.example)") {
		t.Errorf("the page does not say why the domain's name finds nothing: %.600s", text)
	}
	all := get(t, c, "/d/acme.example")
	if n, m := len(loginsOn(get(t, c, "/d/acme.example?q=%40acme.example"))), len(loginsOn(all)); n == 0 || n != m {
		t.Errorf("@acme.example finds %d logins, want all %d", n, m)
	}
	// A filter that is not the domain's name, or an end of it with a dot, gets no such advice:
	// "x" or "example" is as likely the start of a login.
	for _, q := range []string{"zzz", "x", "example", "ac"} {
		if strings.Contains(get(t, c, "/d/acme.example?q="+q).Text(), "type it with its @") {
			t.Errorf("the advice shows for %q, which is not the domain's name", q)
		}
	}
	if !strings.Contains(get(t, c, "/d/acme.example?q=.example").Text(), "type it with its @") {
		t.Error("the advice does not show for .example, the end of the domain's name")
	}
}
