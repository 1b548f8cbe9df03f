package handlers_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// TestLoginExport: a reviewer downloads a domain's current logins as CSV, all of them or the
// filter's matches, with the same marks the domain page shows; a domain they cannot view gives
// 403 without a Mailgun call; a Mailgun failure gives the error page, not a cut-off file.
func TestLoginExport(t *testing.T) {
	e := newEnv(t, envOptions{})
	// A login a spreadsheet would run as a formula.
	if err := e.SB.AddCredential("example.com", "=1+1@example.com", "Formula-login-pw-1", e.Clock.Now().AddDate(0, 0, -3)); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(t, "reviewer")

	read := func(t *testing.T, path string) [][]string {
		t.Helper()
		p := get(t, c, path)
		wantStatus(t, p, http.StatusOK)
		if ct := p.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		if cd := p.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="smtpdesk-logins-example.com-`) || !strings.HasSuffix(cd, `.csv"`) {
			t.Errorf("Content-Disposition = %q", cd)
		}
		if cc := p.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q", cc)
		}
		records, err := csv.NewReader(bytes.NewReader(p.Body)).ReadAll()
		if err != nil {
			t.Fatalf("CSV: %v\n%.500s", err, p.Body)
		}
		if want := []string{"domain", "login", "mailbox", "created_at", "age_days", "system", "consider_rotating", "password_reset_at", "password_age_days"}; len(records) == 0 || !slices.Equal(records[0], want) {
			t.Fatalf("header = %q, want %q", records[:min(1, len(records))], want)
		}
		return records[1:]
	}

	t.Run("every login, with the page's marks", func(t *testing.T) {
		rows := read(t, "/d/example.com/export.csv")
		var logins []string
		old := 0
		now := e.Clock.Now()
		for _, r := range rows {
			login := strings.TrimPrefix(r[1], "'")
			logins = append(logins, login)
			if r[0] != "example.com" || r[2] != r[1] {
				t.Errorf("row %q: want domain example.com and the mailbox equal to the login", r)
			}
			created, err := time.Parse(time.RFC3339, r[3])
			if err != nil {
				t.Errorf("row %q: created_at: %v", r, err)
				continue
			}
			if want := strconv.Itoa(int(now.Sub(created).Hours() / 24)); r[4] != want {
				t.Errorf("row %q: age_days %s, want %s", r, r[4], want)
			}
			if want := map[bool]string{true: "yes", false: "no"}[strings.HasPrefix(login, "postmaster@")]; r[5] != want {
				t.Errorf("row %q: system %s, want %s", r, r[5], want)
			}
			if r[6] == "yes" {
				old++
			}
		}
		want := e.SB.Logins("example.com")
		slices.Sort(want)
		slices.Sort(logins)
		if !slices.Equal(logins, want) {
			t.Errorf("exported %d logins, Mailgun has %d; first difference in %q", len(logins), len(want), logins[:min(5, len(logins))])
		}
		if !slices.ContainsFunc(rows, func(r []string) bool { return r[1] == "'=1+1@example.com" }) {
			t.Errorf("the formula-like login is not neutralised with a leading quote")
		}
		page := get(t, c, "/d/example.com?per_page=500")
		if got := page.TestID("age-badge").Length(); got != old || old == 0 {
			t.Errorf("consider_rotating yes in %d rows; the domain page marks %d (and some must be)", old, got)
		}
		if href := page.TestID("export-logins").AttrOr("href", ""); href != "/d/example.com/export.csv" {
			t.Errorf("the domain page's export link = %q", href)
		}
	})

	t.Run("the filter's matches", func(t *testing.T) {
		rows := read(t, "/d/example.com/export.csv?q=USER01")
		page := get(t, c, "/d/example.com?q=USER01&per_page=500")
		if got := page.Find("tbody tr").Length(); len(rows) != got || got == 0 {
			t.Errorf("exported %d rows; the filtered page shows %d", len(rows), got)
		}
		for _, r := range rows {
			if !strings.Contains(r[1], "user01") {
				t.Errorf("row %q does not match the filter", r)
			}
		}
		if href := page.TestID("export-logins").AttrOr("href", ""); href != "/d/example.com/export.csv?q=USER01" {
			t.Errorf("the filtered page's export link = %q", href)
		}
	})

	t.Run("a domain the user cannot view", func(t *testing.T) {
		before := len(e.callsTo(sandbox.RouteList, "acme.example"))
		p := get(t, c, "/d/acme.example/export.csv")
		wantStatus(t, p, http.StatusForbidden)
		if n := len(e.callsTo(sandbox.RouteList, "acme.example")); n != before {
			t.Errorf("Mailgun was asked for acme.example's logins %d times", n-before)
		}
	})

	t.Run("Mailgun fails", func(t *testing.T) {
		e.SB.SetFaults(sandbox.Faults{Rate: 1, Status: http.StatusServiceUnavailable})
		defer e.SB.SetFaults(sandbox.Faults{})
		// A domain not exported yet, so that the list cache cannot answer.
		p := get(t, c, "/d/newsletter.example.org/export.csv")
		if p.Status != http.StatusBadGateway || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			t.Errorf("status %d, Content-Type %q; want the 502 error page", p.Status, p.Header.Get("Content-Type"))
		}
		if cd := p.Header.Get("Content-Disposition"); cd != "" {
			t.Errorf("an error page sent as a download: %q", cd)
		}
	})
}

// TestRotateView: "To rotate" shows, across the domain, only the logins the page marks "consider
// rotating", keeps the text filter and the page size, pages with its own links, exports the
// same logins, and says so when there is nothing to rotate.
func TestRotateView(t *testing.T) {
	e := newEnv(t, envOptions{})
	if err := e.SB.AddDomain("fresh.example"); err != nil {
		t.Fatal(err)
	}
	if err := e.SB.AddCredential("fresh.example", "new@fresh.example", "Fresh-login-pw-1", e.Clock.Now().AddDate(0, 0, -2)); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(t, "admin")
	loginsOf := func(p *testflow.Page) []string {
		var out []string
		p.Find("tbody tr[data-login]").Each(func(_ int, s *goquery.Selection) { out = append(out, s.AttrOr("data-login", "")) })
		return out
	}

	all := get(t, c, "/d/example.com?per_page=500")
	wantStatus(t, all, http.StatusOK)
	var old []string
	all.Find("tbody tr[data-login]").Each(func(_ int, s *goquery.Selection) {
		if s.Find(`[data-testid="age-badge"]`).Length() > 0 {
			old = append(old, s.AttrOr("data-login", ""))
		}
	})
	if len(old) == 0 || len(old) == all.Find("tbody tr[data-login]").Length() {
		t.Fatalf("%d of %d logins marked: the test needs some of each", len(old), all.Find("tbody tr[data-login]").Length())
	}
	if got := all.TestID("view-all").AttrOr("aria-current", ""); got != "page" {
		t.Errorf(`"All logins" aria-current = %q, want page`, got)
	}
	if href := all.TestID("view-rotate").AttrOr("href", ""); href != "/d/example.com?per_page=500&rotate=1" {
		t.Errorf(`"To rotate" links to %q`, href)
	}

	t.Run("only the marked logins, across the domain", func(t *testing.T) {
		p := get(t, c, "/d/example.com?per_page=500&rotate=1")
		wantStatus(t, p, http.StatusOK)
		if got := loginsOf(p); !slices.Equal(got, old) {
			t.Errorf("the rotate view shows %d logins, want the %d marked ones", len(got), len(old))
		}
		if got, want := p.TestID("filter-summary").Text(), strconv.Itoa(len(old))+" logins with a password older than 365 days across the domain"; strings.Join(strings.Fields(got), " ") != want {
			t.Errorf("summary %q, want %q", got, want)
		}
		if got := p.TestID("view-rotate").AttrOr("aria-current", ""); got != "page" {
			t.Errorf(`"To rotate" aria-current = %q, want page`, got)
		}
		if href := p.TestID("export-logins").AttrOr("href", ""); href != "/d/example.com/export.csv?rotate=1" {
			t.Errorf("export link %q", href)
		}
		if v := p.Find(`form[role="search"] input[name="rotate"]`).AttrOr("value", ""); v != "1" {
			t.Errorf("the filter form does not keep the rotate view (rotate=%q)", v)
		}
	})

	t.Run("paged with its own links", func(t *testing.T) {
		p := get(t, c, "/d/example.com?per_page=25&rotate=1&page=2")
		wantStatus(t, p, http.StatusOK)
		if got := loginsOf(p); !slices.Equal(got, old[25:min(50, len(old))]) {
			t.Errorf("page 2 shows %q…, want the marked logins 26 to 50", got[:min(3, len(got))])
		}
		links := p.Find(`nav[aria-label="Pagination"] a[href]`)
		if links.Length() < 2 {
			t.Fatalf("%d pager links; want several", links.Length())
		}
		links.Each(func(_ int, s *goquery.Selection) {
			if href := s.AttrOr("href", ""); !strings.Contains(href, "rotate=1") {
				t.Errorf("pager link %q leaves the rotate view", href)
			}
		})
		if v := p.Find(`[data-testid="page-size"]`).Closest("form").Find(`input[name="rotate"]`).AttrOr("value", ""); v != "1" {
			t.Errorf("the page-size form leaves the rotate view")
		}
	})

	t.Run("with the text filter", func(t *testing.T) {
		p := get(t, c, "/d/example.com?per_page=500&rotate=1&q=user01")
		var want []string
		for _, l := range old {
			if strings.Contains(l, "user01") {
				want = append(want, l)
			}
		}
		if got := loginsOf(p); !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("shows %q, want %q", got, want)
		}
		if href := p.TestID("view-all").AttrOr("href", ""); href != "/d/example.com?per_page=500&q=user01" {
			t.Errorf(`"All logins" links to %q; want the filter kept`, href)
		}
	})

	t.Run("the export has the same logins", func(t *testing.T) {
		p := get(t, c, "/d/example.com/export.csv?rotate=1")
		wantStatus(t, p, http.StatusOK)
		records, err := csv.NewReader(bytes.NewReader(p.Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range records[1:] {
			got = append(got, r[1])
			if r[6] != "yes" {
				t.Errorf("exported %q with consider_rotating %q", r[1], r[6])
			}
		}
		if !slices.Equal(got, old) {
			t.Errorf("exported %d logins, want the %d marked ones", len(got), len(old))
		}
	})

	t.Run("nothing to rotate", func(t *testing.T) {
		p := get(t, c, "/d/fresh.example?rotate=1")
		wantStatus(t, p, http.StatusOK)
		if title := p.TestID("empty-state").Find("h2").Text(); title != "Nothing to rotate" {
			t.Errorf("empty state %q", title)
		}
		if href := p.TestID("show-all").AttrOr("href", ""); href != "/d/fresh.example?per_page=100" {
			t.Errorf("show-all links to %q", href)
		}
	})
}

// TestUnreadableFilterIsSaid: a part of the address the query parser drops (a filter cut short
// inside a %-escape, "q=bo%4") was left out without a word: the domain page showed, and its
// export and the all-domains export wrote, every login instead of the few asked for. The page now
// says the part was not applied, and the exports refuse the address.
//
// A filter with control characters or bytes that are not UTF-8 (which the search box cannot
// type) is the same kind of mangled link: the pages said "0 matches for" it and printed it back
// raw, a NUL byte included, and the domain list ignored a part it could not read. Each page now
// says it was not applied, showing it escaped, and lists what it lists without it.
func TestUnreadableFilterIsSaid(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	for _, tt := range []struct{ path, said string }{
		{"/d/acme.example?q=bo%4", `"q=bo%4" of the address was not applied`},
		{"/d/acme.example?q=%00", `The filter "\x00" was not applied: it contains control characters or is not valid UTF-8.`},
		{"/d/acme.example?q=bo%C3%28", `The filter "bo\xc3(" was not applied`},
		{"/?q=acme%2", `"q=acme%2" of the address was not applied`},
		{"/?q=ac%07me", `The filter "ac\ame" was not applied`},
	} {
		p := get(t, c, tt.path)
		wantStatus(t, p, http.StatusOK)
		if f := p.TestID("flash").Text(); !strings.Contains(f, tt.said) {
			t.Errorf("%s: the page's flash = %q, want it to say %q", tt.path, f, tt.said)
		}
		if strings.ContainsAny(string(p.Body), "\x00\x07") || !utf8.Valid(p.Body) {
			t.Errorf("%s: the page holds the filter's raw bytes", tt.path)
		}
		rows := p.TestID("domain-row").Length() + p.Find("tbody tr[data-login]").Length()
		if rows == 0 || strings.Contains(p.Text(), "match") {
			t.Errorf("%s: %d rows shown, or a count of matches; want the unfiltered list: %.400s", tt.path, rows, p.Text())
		}
	}
	for _, path := range []string{"/d/acme.example/export.csv?q=bo%4", "/export.csv?q=acme%2", "/d/acme.example/export.csv?q=%00", "/export.csv?q=a%C3"} {
		p := get(t, c, path)
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Text(), "Nothing was exported") || !strings.Contains(p.Text(), "was not applied") {
			t.Errorf("GET %s = %d, want 400 saying nothing was exported and why: %.300s", path, p.Status, p.Text())
		}
	}
	// A readable address still exports, and the page says nothing.
	if p := get(t, c, "/d/acme.example/export.csv?q=bo"); p.Status != http.StatusOK {
		t.Errorf("a readable export = %d, want 200", p.Status)
	}
	if f := get(t, c, "/d/acme.example?q=bo").TestID("flash").Text(); strings.Contains(f, "not applied") {
		t.Errorf("a readable filter's page says %q", f)
	}
}

// TestFilterWithBidiOverrideIsSaid: a filter holding an invisible formatting character that
// filterText keeps, such as U+202E RIGHT-TO-LEFT OVERRIDE, can match no login and no domain
// name (neither ever holds one), and printed back raw it turned the text after it around: a
// link's "?q=\u202eecila" read "No logins match “alice”" on a domain that has alice, and the
// page's title and its "0 matches for" line read backwards. It is not applied, and said so
// escaped, like a control character.
func TestFilterWithBidiOverrideIsSaid(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	for _, tt := range []struct{ path, said string }{
		{"/d/acme.example?q=%E2%80%AEecila", `The filter "\u202eecila" was not applied`},
		{"/?q=%E2%81%A7acme%E2%81%A9", `The filter "\u2067acme\u2069" was not applied`},
		{"/d/acme.example?q=al%C2%ADice", `The filter "al\u00adice" was not applied`},
	} {
		p := get(t, c, tt.path)
		wantStatus(t, p, http.StatusOK)
		if f := p.TestID("flash").Text(); !strings.Contains(f, tt.said) {
			t.Errorf("%s: the page's flash = %q, want it to say %q", tt.path, f, tt.said)
		}
		if strings.ContainsAny(string(p.Body), "\u202e\u2067\u2069\u00ad") {
			t.Errorf("%s: the page holds the filter's formatting characters raw", tt.path)
		}
		rows := p.TestID("domain-row").Length() + p.Find("tbody tr[data-login]").Length()
		if rows == 0 || strings.Contains(p.Text(), "match") {
			t.Errorf("%s: %d rows shown, or a count of matches; want the unfiltered list: %.400s", tt.path, rows, p.Text())
		}
	}
	if p := get(t, c, "/d/acme.example/export.csv?q=%E2%80%AEecila"); p.Status != http.StatusBadRequest || !strings.Contains(p.Text(), "Nothing was exported") {
		t.Errorf("the export = %d, want 400 saying nothing was exported: %.300s", p.Status, p.Text())
	}
}
