package views

import (
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

// TestPasswordFieldsTakeLongPasswords: a chosen password longer than the limit must reach the
// server, which refuses it and says how many characters were typed; a maxlength would cut a
// pasted password short without a word, and the login would get another password.
func TestPasswordFieldsTakeLongPasswords(t *testing.T) {
	for name, c := range map[string]templ.Component{"create": Create(sampleCreate()), "reset": Reset(sampleReset())} {
		t.Run(name, func(t *testing.T) {
			doc, _ := render(t, c)
			pw := doc.Find(`input[type="password"]`)
			if pw.Length() != 2 {
				t.Fatalf("password inputs: got %d, want 2", pw.Length())
			}
			for i := range pw.Nodes {
				if v, ok := pw.Eq(i).Attr("maxlength"); ok {
					t.Errorf("password input %q has maxlength=%q", pw.Eq(i).AttrOr("name", ""), v)
				}
			}
			if got := testid(doc, "password-input").AttrOr("minlength", ""); got != "5" {
				t.Errorf("password minlength: got %q, want 5", got)
			}
			if hint := doc.Find("#f-password-hint").Text(); !strings.Contains(hint, "5 to 32 characters") {
				t.Errorf("password hint %q does not give the limits", hint)
			}
		})
	}
}

// wrapsAnywhere says whether long unbroken text in s (a hash, a long login) can wrap: s or an
// ancestor has overflow-wrap:anywhere or break-all. (break-words does not do: it leaves the
// word's full width as the minimum of a table cell or a flex or grid item, which then spills
// out of its box.)
func wrapsAnywhere(s *goquery.Selection) bool {
	for ; s.Length() > 0; s = s.Parent() {
		for _, c := range strings.Fields(s.AttrOr("class", "")) {
			if c == "[overflow-wrap:anywhere]" || c == "break-all" {
				return true
			}
		}
	}
	return false
}

// TestAuditDetailWraps: the integrity check's entry carries a 64-character hash in its detail;
// the audit table must wrap it rather than grow past its card (at 1366 pixels too, where the
// table is not in a scroll box of its own).
func TestAuditDetailWraps(t *testing.T) {
	vm := sampleAudit()
	hash := strings.Repeat("5ae2ef1c1f3c6dd5", 4)
	vm.Rows[0].Detail = "intact: 21 rows checked; newest row 21, hash " + hash + "; oldest row 1"
	vm.Rows[1].UpstreamMessage = "Credentials for a-very-long-login-name-without-any-breaks@acme.example already exist"
	doc, _ := render(t, Audit(vm))
	detail := doc.Find("td p").FilterFunction(func(_ int, s *goquery.Selection) bool {
		return strings.Contains(s.Text(), hash)
	})
	if detail.Length() != 1 {
		t.Fatalf("%d paragraphs hold the hash, want 1", detail.Length())
	}
	for name, s := range map[string]*goquery.Selection{
		"detail":   detail,
		"upstream": testid(doc, "audit-upstream").First(),
	} {
		if !wrapsAnywhere(s) {
			t.Errorf("the %s of an audit entry cannot wrap inside a word", name)
		}
	}
	if box := doc.Find("table").Parent(); strings.Contains(box.AttrOr("class", ""), "x-visible") {
		t.Errorf("the audit table's box lets it spill out of the card: class %q", box.AttrOr("class", ""))
	}
}

// long64 is a valid login with the longest local part Mailgun takes: one word, 77 characters
// with the domain, wider than a phone.
const long64 = "verylongloginverylongloginverylongloginverylongloginabcdefghijkl@example.com"

// TestLongLoginsWrap: wherever a page prints a login, a filter or a domain in running text, a
// long one wraps instead of pushing the page sideways on a phone.
func TestLongLoginsWrap(t *testing.T) {
	reset := sampleReset()
	reset.Login = long64
	reset.Page.Subtitle = "Give " + long64 + " a new SMTP password."
	del := sampleDelete()
	del.Login = long64
	del.Page.Subtitle = "Delete " + long64 + " from example.com."
	create := sampleCreate()
	create.LineErrors = append(create.LineErrors, LineError{Line: 5, Text: long64 + "x", Problem: "longer than 64 characters"})
	filtered := sampleCredentialsFiltered()
	filtered.Filter, filtered.Rows, filtered.FilterCount = long64, nil, 0
	deleteAll := sampleDeleteAll()
	badLogin := sampleError(400)
	badLogin.Message = `login "` + long64 + `" is not in domain acme.example`
	noAccess := sampleNoAccess()
	noAccess.Email, noAccess.Groups = long64, []string{long64}

	for _, tc := range []struct {
		name string
		comp templ.Component
		sel  string // the element with the long text
	}{
		{"reset subtitle", Reset(reset), `[data-testid="page-subtitle"]`},
		{"delete subtitle", Delete(del), `[data-testid="page-subtitle"]`},
		{"delete question, domain", Delete(del), `[data-testid="confirm-question"] span:last-child`},
		{"delete all question, domain", DeleteAll(deleteAll), `[data-testid="delete-all-count"] span`},
		{"create line error", Create(create), `[data-testid="line-error"]:last-child code`},
		{"filter summary", Credentials(filtered), `[data-testid="filter-summary"] .font-mono`},
		{"filter empty state", Credentials(filtered), `[data-testid="empty-state"] h2`},
		{"error message", ErrorPage(badLogin), `[data-testid="error-message"]`},
		{"no access, email", NoAccessPage(noAccess), `[data-testid="no-access-email"]`},
		{"no access, group", NoAccessPage(noAccess), `[data-testid="group"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, _ := render(t, tc.comp)
			s := doc.Find(tc.sel)
			if s.Length() == 0 {
				t.Fatalf("nothing matches %s", tc.sel)
			}
			if !wrapsAnywhere(s.First()) {
				t.Errorf("%s (%q) cannot wrap inside a word", tc.sel, s.First().Text())
			}
		})
	}
}

// TestDeleteAllSaysWhyDisabled: the script disables "Delete N logins" until the domain is typed;
// the button names an element that says so in words, which the page keeps hidden (without the
// script the button works, and the server refuses a wrong text).
func TestDeleteAllSaysWhyDisabled(t *testing.T) {
	doc, _ := render(t, DeleteAll(sampleDeleteAll()))
	btn := testid(doc, "confirm-button")
	id := btn.AttrOr("data-disabled-hint", "")
	if id == "" {
		t.Fatal("the confirm button names no data-disabled-hint")
	}
	hint := doc.Find("#" + id)
	if hint.Length() != 1 {
		t.Fatalf("data-disabled-hint=%q: %d elements with that id, want 1", id, hint.Length())
	}
	if got := strings.Join(strings.Fields(hint.Text()), " "); got != "Type example.com exactly to enable this button." {
		t.Errorf("hint: got %q", got)
	}
	if _, ok := hint.Attr("hidden"); !ok {
		t.Error("the hint shows without the script, whose button is never disabled")
	}
	if got := hint.AttrOr("aria-live", ""); got != "polite" {
		t.Errorf("hint aria-live=%q, want polite", got)
	}
	if hint.Closest("form").Length() != 1 || hint.Parent().Find(`[data-testid="confirm-button"]`).Length() != 1 {
		t.Error("the hint is not beside the button")
	}
}

// TestDocumentTitles: a tab's title says which domain, login or page it shows, so that several
// tabs of SMTP Desk can be told apart; the heading on the page stays short.
func TestDocumentTitles(t *testing.T) {
	resetOne := sampleSecrets()
	resetOne.Action, resetOne.Page.Title = "reset", "Save this password now"
	resetOne.Secrets, resetOne.Failed, resetOne.Unknown, resetOne.NoPassword = resetOne.Secrets[:1], nil, nil, nil
	history := sampleAudit()
	history.Login, history.FirstURL = "bob@acme.example", ""
	firstPage := sampleCredentials()
	firstPage.Pager = samplePager(1, 100, 2431, "/domains/example.com", nil)
	rotate := sampleCredentialsFiltered()
	rotate.Rotate = true
	hostile := sampleReset()
	hostile.Login = `<b>x</b>@example.com`

	for _, tc := range []struct {
		name        string
		comp        templ.Component
		title, head string
	}{
		{"reset", Reset(sampleReset()), "Reset alice@example.com · SMTP Desk", "Reset password"},
		{"reset, escaped", Reset(hostile), "Reset <b>x</b>@example.com · SMTP Desk", "Reset password"},
		{"delete", Delete(sampleDelete()), "Delete alice@example.com · SMTP Desk", "Delete SMTP login"},
		{"create", Create(sampleCreate()), "New SMTP logins · example.com · SMTP Desk", "New SMTP logins"},
		{"delete all", DeleteAll(sampleDeleteAll()), "Delete all SMTP logins · example.com · SMTP Desk", "Delete all SMTP logins"},
		{"created", Secrets(sampleSecrets()), "Logins created · example.com · SMTP Desk", "Logins created"},
		{"reset done", Secrets(resetOne), "Save this password now · alice@example.com · SMTP Desk", "Save this password now"},
		{"domain, page 3", Credentials(sampleCredentials()), "example.com · page 3 · SMTP Desk", "example.com"},
		{"domain, page 1", Credentials(firstPage), "example.com · SMTP Desk", "example.com"},
		{"domain, filtered", Credentials(sampleCredentialsFiltered()), "example.com · “app” · SMTP Desk", "example.com"},
		{"domain, to rotate", Credentials(rotate), "example.com · to rotate · “app” · SMTP Desk", "example.com"},
		{"audit, older", Audit(sampleAudit()), "Audit trail · older entries · SMTP Desk", "Audit trail"},
		{"audit, one login", Audit(history), "Audit trail · bob@acme.example · SMTP Desk", "Audit trail"},
		{"audit, one domain, failed", Audit(sampleAuditEmpty()), "Audit trail · example.com · Failed · SMTP Desk", "Audit trail"},
		{"home", Home(sampleHome()), "Domains · SMTP Desk", "Domains"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, html := render(t, tc.comp)
			if got := doc.Find("title").Text(); got != tc.title {
				t.Errorf("title: got %q, want %q", got, tc.title)
			}
			if got := strings.TrimSpace(testid(doc, "page-title").Text()); got != tc.head {
				t.Errorf("heading: got %q, want %q", got, tc.head)
			}
			if strings.Contains(html, "<b>x</b>") {
				t.Error("the login is not escaped")
			}
		})
	}
}

// TestExportLinkNamesWhatItDownloads: the CSV link's words for a screen reader ("CSV of …") say
// which logins the file holds, which is what the page shows across the domain: all of them, the
// filter's matches, or in the "To rotate" view only those to rotate, not "all".
func TestExportLinkNamesWhatItDownloads(t *testing.T) {
	for name, tc := range map[string]struct {
		filter string
		rotate bool
		want   string
	}{
		"all":              {want: "CSV of all example.com logins"},
		"filtered":         {filter: "user", want: "CSV of the matching logins"},
		"to rotate":        {rotate: true, want: "CSV of the example.com logins to rotate"},
		"rotate, filtered": {filter: "user", rotate: true, want: "CSV of the matching logins"},
	} {
		t.Run(name, func(t *testing.T) {
			vm := sampleCredentials()
			vm.Domain, vm.Filter, vm.Rotate = "example.com", tc.filter, tc.rotate
			vm.ExportURL = "/d/example.com/export.csv"
			doc, _ := render(t, Credentials(vm))
			link := testid(doc, "export-logins")
			if link.Length() != 1 {
				t.Fatalf("export links: got %d, want 1", link.Length())
			}
			if got := strings.Join(strings.Fields(link.Text()), " "); got != tc.want {
				t.Errorf("export link's text: got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAuditExportsSayWhatTheyHold: the audit trail's CSV and JSON Lines buttons say, in their
// tooltip and to a screen reader, that the file holds every page of the entries the filters
// match (or of every entry), not only the page shown.
func TestAuditExportsSayWhatTheyHold(t *testing.T) {
	for name, tc := range map[string]struct {
		filter          AuditFilter
		title, readsCSV string
	}{
		"unfiltered": {title: "Download every entry, all pages, as ", readsCSV: "CSV of every entry"},
		"filtered": {filter: AuditFilter{Domain: "acme.example"},
			title: "Download every entry these filters match, all pages, as ", readsCSV: "CSV of every entry these filters match"},
	} {
		t.Run(name, func(t *testing.T) {
			vm := sampleAudit()
			vm.Filter = tc.filter
			vm.CSVURL, vm.JSONLURL = "/audit/export.csv", "/audit/export.jsonl"
			doc, _ := render(t, Audit(vm))
			for id, format := range map[string]string{"export-csv": "CSV", "export-jsonl": "JSON Lines"} {
				link := testid(doc, id)
				if link.Length() != 1 {
					t.Fatalf("%s: got %d links, want 1", id, link.Length())
				}
				if got, want := link.AttrOr("title", ""), tc.title+format; got != want {
					t.Errorf("%s's title: got %q, want %q", id, got, want)
				}
				want := strings.Replace(tc.readsCSV, "CSV", format, 1)
				if got := strings.Join(strings.Fields(link.Text()), " "); got != want {
					t.Errorf("%s's text: got %q, want %q", id, got, want)
				}
			}
		})
	}
}

// TestAuditEmptySaysWhatToDo: an audit page whose filters match nothing says what to do about
// it in the terms of what was asked. A row's History link (the domain and the login, nothing
// else) that finds nothing says that nothing was recorded for that login, not "Widen the date
// range or clear a filter" to someone who set neither; other filters are told to widen the
// date range only when one is set.
func TestAuditEmptySaysWhatToDo(t *testing.T) {
	empty := func(f AuditFilter) *goquery.Selection {
		vm := sampleAuditEmpty()
		vm.Filter, vm.Login = f, f.Login
		doc, _ := render(t, Audit(vm))
		return testid(doc, "empty-state")
	}
	const login = "bob@acme.example"
	history := empty(AuditFilter{Domain: "acme.example", Login: login})
	if h := history.Find("h2").Text(); !strings.Contains(h, login) {
		t.Errorf("a login's empty history reads %q, which does not name %s", h, login)
	}
	if body := history.Text(); strings.Contains(body, "date range") || !strings.Contains(body, "outside SMTP Desk") {
		t.Errorf("a login's empty history says %q; want no date range, and that changes made outside SMTP Desk are not recorded", strings.Join(strings.Fields(body), " "))
	}
	if body := empty(AuditFilter{Actor: "nobody"}).Text(); strings.Contains(body, "date range") {
		t.Errorf("filters without dates are told %q", strings.Join(strings.Fields(body), " "))
	}
	for _, f := range []AuditFilter{{From: "2026-01-01"}, {Domain: "acme.example", Login: login, To: "2026-01-01"}} {
		if body := empty(f).Text(); !strings.Contains(body, "date range") {
			t.Errorf("filters with a date (%+v) are not told to widen it: %q", f, strings.Join(strings.Fields(body), " "))
		}
	}
}

// TestOneCurrentNavItem: the audit trail filtered by a domain names that domain in the header's
// picker, but only its own link, Audit, is highlighted as the current place.
func TestOneCurrentNavItem(t *testing.T) {
	vm := sampleAudit()
	vm.Page.CurrentDomain = "example.com"
	doc, _ := render(t, Audit(vm))
	picker := testid(doc, "domain-picker").Find("summary")
	if got := picker.Find(`[data-testid="current-domain"]`).Text(); got != "example.com" {
		t.Errorf("picker names %q, want example.com", got)
	}
	highlighted := func(s *goquery.Selection) bool {
		cls, _ := s.Attr("class")
		return slices.Contains(strings.Fields(cls), "bg-gray-100")
	}
	if highlighted(picker) {
		cls, _ := picker.Attr("class")
		t.Errorf("the domain picker is highlighted beside the current Audit link: class %q", cls)
	}
	if !highlighted(testid(doc, "nav-audit")) {
		t.Error("the Audit link is not highlighted")
	}
}
