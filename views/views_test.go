package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

// render renders c and parses the result.
func render(t *testing.T, c templ.Component) (*goquery.Document, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	html := buf.String()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc, html
}

// testid selects elements by their data-testid.
func testid(doc *goquery.Document, id string) *goquery.Selection {
	return doc.Find(`[data-testid="` + id + `"]`)
}

// assertCSPClean fails on inline styles, inline event handlers, javascript: URLs and inline
// scripts without the nonce.
func assertCSPClean(t *testing.T, doc *goquery.Document) {
	t.Helper()
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			name := strings.ToLower(a.Key)
			if name == "style" {
				t.Errorf("<%s> has an inline style attribute %q", goquery.NodeName(s), a.Val)
			}
			if strings.HasPrefix(name, "on") {
				t.Errorf("<%s> has an inline event handler %s=%q", goquery.NodeName(s), a.Key, a.Val)
			}
			if (name == "href" || name == "action" || name == "src") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
				t.Errorf("<%s> has a javascript: URL", goquery.NodeName(s))
			}
		}
	})
	doc.Find("style").Each(func(_ int, s *goquery.Selection) {
		t.Errorf("inline <style> element: %q", s.Text())
	})
	doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		if _, ok := s.Attr("src"); !ok {
			t.Errorf("inline <script> element: %q", s.Text())
		}
	})
}

// pageCase is one page to render and the test hooks it must carry.
type pageCase struct {
	name    string
	comp    templ.Component
	present []string // data-testids that must exist
	absent  []string // data-testids that must not exist
	// presentCSS and absentCSS are CSS selectors, for the credential rows, which carry no
	// data-testid (every byte of a row repeats a hundred times): rowSel, resetSel, …
	presentCSS, absentCSS []string
	check                 func(t *testing.T, doc *goquery.Document)
}

// The credential rows' hooks (views/rows.go): a row is a <tr> with data-login, its actions are
// the links with class ar (reset), ad (delete) and ah (history).
const (
	rowSel     = "tr[data-login]"
	resetSel   = "tr[data-login] a.ar"
	deleteSel  = "tr[data-login] a.ad"
	historySel = "tr[data-login] a.ah"
)

func pageCases() []pageCase {
	return []pageCase{
		{
			name:    "home",
			comp:    Home(sampleHome()),
			present: []string{"domain-row", "filter-input", "user-menu", "sign-out", "domain-picker", "demo-banner", "flash", "flash-success", "request-id"},
			absent:  []string{"empty-state"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if got, want := testid(doc, "domain-row").Length(), 4; got != want {
					t.Errorf("domain rows: got %d, want %d", got, want)
				}
				row := doc.Find(`[data-testid="domain-row"][data-domain="example.com"]`)
				if got, want := strings.TrimSpace(row.Find(`[data-testid="login-count"]`).Text()), "2,431"; got != want {
					t.Errorf("login count: got %q, want %q", got, want)
				}
				unknown := doc.Find(`[data-testid="domain-row"][data-domain="newsletter.example.org"] [data-testid="login-count"]`)
				if !strings.Contains(unknown.Text(), "—") || unknown.Find(`[title*="couldn't be counted"]`).Length() != 1 {
					t.Errorf("unknown count: got %q, want — with a title", unknown.Text())
				}
				if got, want := doc.Find("title").Text(), "Domains · SMTP Desk"; got != want {
					t.Errorf("title: got %q, want %q", got, want)
				}
				form := testid(doc, "sign-out").Closest("form")
				if got, want := form.AttrOr("action", ""), "/auth/logout"; got != want {
					t.Errorf("sign-out action: got %q, want %q", got, want)
				}
				if got, want := form.Find(`input[name="_csrf"]`).AttrOr("value", ""), "csrf-token-123"; got != want {
					t.Errorf("sign-out csrf: got %q, want %q", got, want)
				}
				if doc.Find(`[data-testid="flash"][role="status"], [role="status"] [data-testid="flash"]`).Length() == 0 {
					t.Error("flash is not inside a role=status region")
				}
				if got := doc.Find(`script[src^="/static/app."]`).AttrOr("nonce", ""); got != "n0nce" {
					t.Errorf("script nonce: got %q, want %q", got, "n0nce")
				}
			},
		},
		{
			name:    "home empty",
			comp:    Home(HomeVM{Page: samplePage("Domains", "")}),
			present: []string{"empty-state"},
			absent:  []string{"domain-row", "filter-input"},
		},
		{
			name:       "credentials",
			comp:       Credentials(sampleCredentials()),
			present:    []string{"system-badge", "age-badge", "pager-summary", "pager-next", "pager-prev", "pager-first", "pager-last", "page-size", "filter-input", "create-button", "delete-all-button"},
			presentCSS: []string{rowSel, rowSel + " > td > span[id]", resetSel, deleteSel, historySel},
			absent:     []string{"filter-summary", "empty-state"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if got, want := strings.Join(strings.Fields(testid(doc, "pager-summary").Text()), " "), "201–300 of 2,431"; got != want {
					t.Errorf("pager summary: got %q, want %q", got, want)
				}
				if got, want := testid(doc, "pager-next").AttrOr("href", ""), "/domains/example.com?page=4&per_page=100"; got != want {
					t.Errorf("next: got %q, want %q", got, want)
				}
				if got, want := testid(doc, "pager-next").AttrOr("rel", ""), "next"; got != want {
					t.Errorf("next rel: got %q, want %q", got, want)
				}
				if got, want := testid(doc, "pager-prev").AttrOr("rel", ""), "prev"; got != want {
					t.Errorf("prev rel: got %q, want %q", got, want)
				}
				if got, want := doc.Find(`[aria-current="page"][aria-label^="Page"]`).Text(), "3"; got != want {
					t.Errorf("current page: got %q, want %q", got, want)
				}
				if got, want := testid(doc, "page-size").Find("option[selected]").AttrOr("value", ""), "100"; got != want {
					t.Errorf("page size: got %q, want %q", got, want)
				}
				if got, want := testid(doc, "page-size").AttrOr("name", ""), "per_page"; got != want {
					t.Errorf("page size name: got %q, want %q", got, want)
				}
				if got, want := testid(doc, "filter-input").AttrOr("name", ""), "q"; got != want {
					t.Errorf("filter name: got %q, want %q", got, want)
				}
				// Its name differs from the rows' History links for a screen reader's list of links.
				if got, want := strings.Join(strings.Fields(testid(doc, "domain-history-link").Text()), " "), "History of example.com"; got != want {
					t.Errorf("the domain's history link is named %q, want %q", got, want)
				}
				sys := doc.Find(`tr[data-login="postmaster@example.com"]`)
				if sys.Find(`[data-testid="system-badge"]`).Length() != 1 || sys.Find(deleteSel).Length() != 0 {
					t.Error("system row: want a system badge and no delete link")
				}
				alice := doc.Find(`tr[data-login="alice@example.com"]`)
				del := alice.Find(deleteSel)
				if got, want := del.AttrOr("href", ""), "/d/example.com/logins/alice@example.com/delete"; got != want {
					t.Errorf("delete link: got %q, want %q", got, want)
				}
				// The script confirms a row's delete in the dialog: it needs the table's domain and
				// the row's login, and the link must be described by the login cell.
				if got := del.Closest("table").AttrOr("data-confirm-domain", ""); got != "example.com" {
					t.Errorf("table data-confirm-domain = %q, want example.com", got)
				}
				if id := del.AttrOr("aria-describedby", ""); id == "" || strings.TrimSpace(alice.Find("#"+id).Text()) != "alice@example.com" {
					t.Errorf("delete link aria-describedby=%q does not name the login cell", id)
				}
				if doc.Find("dialog[data-confirm-dialog] form input[name=_csrf]").Length() != 1 {
					t.Error("confirm dialog has no CSRF field")
				}
				tm := alice.Find("time")
				if got, want := tm.AttrOr("datetime", ""), machineTime(sampleCredentials().Rows[1].CreatedAt); got != want || tm.Text() == "" {
					t.Errorf("created time: got datetime=%q text %q, want datetime=%q", got, tm.Text(), want)
				}
				// The whole list shown: "Delete all…" beside it is plain.
				if got, want := strings.Join(strings.Fields(testid(doc, "delete-all-button").Text()), " "), "Delete all…"; got != want {
					t.Errorf("delete all: got %q, want %q", got, want)
				}
			},
		},
		{
			name:       "credentials filtered",
			comp:       Credentials(sampleCredentialsFiltered()),
			present:    []string{"filter-summary", "delete-all-button"},
			presentCSS: []string{rowSel},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				// Beside the matches, "Delete all…" read as deleting them: it names the whole
				// domain, which it deletes.
				da := testid(doc, "delete-all-button")
				if got, want := strings.Join(strings.Fields(da.Text()), " "), "Delete all logins of the domain…"; got != want {
					t.Errorf("delete all beside a filter: got %q, want %q", got, want)
				}
				if got := da.AttrOr("title", ""); !strings.Contains(got, "every login of example.com") {
					t.Errorf("delete all beside a filter: title %q does not say it deletes every login of example.com", got)
				}
				if got, want := strings.Join(strings.Fields(testid(doc, "filter-summary").Text()), " "), "1 match for “app” across the domain"; got != want {
					t.Errorf("filter summary: got %q, want %q", got, want)
				}
				if got, want := testid(doc, "filter-input").AttrOr("value", ""), "app"; got != want {
					t.Errorf("filter value: got %q, want %q", got, want)
				}
				// The page-size form keeps the filter.
				if got, want := testid(doc, "page-size").Closest("form").Find(`input[name="q"]`).AttrOr("value", ""), "app"; got != want {
					t.Errorf("page-size form q: got %q, want %q", got, want)
				}
			},
		},
		{
			// The logins to rotate are part of the domain too: the button names the whole of it.
			name:    "credentials to rotate",
			comp:    Credentials(func() CredentialsVM { vm := sampleCredentials(); vm.Rotate = true; return vm }()),
			present: []string{"filter-summary", "delete-all-button"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if got, want := strings.Join(strings.Fields(testid(doc, "delete-all-button").Text()), " "), "Delete all logins of the domain…"; got != want {
					t.Errorf("delete all beside the logins to rotate: got %q, want %q", got, want)
				}
			},
		},
		{
			name:       "credentials viewer",
			comp:       Credentials(sampleCredentialsViewer()),
			presentCSS: []string{historySel},
			// A viewer is offered no create button at all, not one that does nothing.
			absent:    []string{"create-button", "delete-all-button"},
			absentCSS: []string{resetSel, deleteSel, `[aria-disabled="true"]`},
		},
		{
			name:      "credentials empty",
			comp:      Credentials(sampleCredentialsEmpty()),
			present:   []string{"empty-state"},
			absent:    []string{"pager-summary"},
			absentCSS: []string{rowSel},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if !strings.Contains(testid(doc, "empty-state").Text(), "No SMTP logins yet") {
					t.Errorf("empty state: got %q", testid(doc, "empty-state").Text())
				}
			},
		},
		{
			// A viewer is not told to "create the first one": there is no button to do it with.
			name:      "credentials empty viewer",
			comp:      Credentials(sampleCredentialsEmptyViewer()),
			present:   []string{"empty-state"},
			absent:    []string{"create-button"},
			absentCSS: []string{rowSel, `[data-testid="empty-state"] a`},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if got, want := testid(doc, "empty-state").Find("h2").Text(), "No SMTP logins yet"; got != want {
					t.Errorf("empty state heading: got %q, want %q", got, want)
				}
			},
		},
		{
			name:    "create",
			comp:    Create(sampleCreate()),
			present: []string{"logins-input", "mode-generate", "mode-manual", "password-input", "password2-input", "system-input", "line-error", "field-error-password2", "upstream-error", "cancel-link", "confirm-button"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if got, want := testid(doc, "line-error").Length(), 2; got != want {
					t.Errorf("line errors: got %d, want %d", got, want)
				}
				if got := strings.Join(strings.Fields(testid(doc, "line-error").First().Text()), " "); got != "Line 2 bob smith: contains a space" {
					t.Errorf("line error: got %q", got)
				}
				// The field is marked invalid and described by the summary of its refused lines.
				in := testid(doc, "logins-input")
				if in.AttrOr("aria-invalid", "") != "true" || !strings.Contains(" "+in.AttrOr("aria-describedby", "")+" ", " line-errors ") || doc.Find("#line-errors").Length() != 1 {
					t.Errorf("logins field: aria-invalid %q, aria-describedby %q; want invalid and described by #line-errors",
						in.AttrOr("aria-invalid", ""), in.AttrOr("aria-describedby", ""))
				}
				form := testid(doc, "logins-input").Closest("form")
				if got, want := form.AttrOr("method", ""), "post"; got != want {
					t.Errorf("method: got %q, want %q", got, want)
				}
				for name, tid := range map[string]string{"logins": "logins-input", "password": "password-input", "password2": "password2-input", "system": "system-input", "_csrf": ""} {
					if form.Find(`[name="`+name+`"]`).Length() == 0 {
						t.Errorf("no field named %q (%s)", name, tid)
					}
				}
				if got := testid(doc, "logins-input").Text(); !strings.Contains(got, "bob smith") {
					t.Errorf("logins kept: got %q", got)
				}
				// One login per line: a long address scrolls instead of wrapping into what looks
				// like a second login.
				if got := testid(doc, "logins-input").AttrOr("wrap", ""); got != "off" {
					t.Errorf("logins textarea wrap: got %q, want off", got)
				}
				if _, ok := testid(doc, "mode-manual").Attr("checked"); !ok {
					t.Error("manual mode not kept")
				}
				p2 := testid(doc, "password2-input")
				if p2.AttrOr("aria-invalid", "") != "true" || !strings.Contains(p2.AttrOr("aria-describedby", ""), "f-password2-error") {
					t.Errorf("password2 a11y: got %v", p2.Nodes[0].Attr)
				}
				if _, ok := testid(doc, "password-input").Attr("value"); ok {
					t.Error("password input carries a value")
				}
				if got, want := testid(doc, "system-input").AttrOr("value", ""), "on"; got != want {
					t.Errorf("system value: got %q, want %q", got, want)
				}
			},
		},
		{
			name:   "create without system",
			comp:   Create(CreateVM{Page: samplePage("New", ""), Domain: "example.com"}),
			absent: []string{"system-input", "upstream-error", "line-error"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if _, ok := testid(doc, "mode-generate").Attr("checked"); !ok {
					t.Error("generate is not the default")
				}
			},
		},
		{
			name:    "secrets",
			comp:    Secrets(sampleSecrets()),
			present: []string{"secret-row", "secret-password", "copy-button", "failed-row", "unknown-row"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if !strings.Contains(doc.Text(), "Copy these passwords now. They will not be shown again.") {
					t.Error("no shown-once warning")
				}
				row := doc.Find(`[data-testid="secret-row"][data-login="alice@example.com"]`)
				pw := row.Find(`[data-testid="secret-password"]`)
				if got, want := pw.AttrOr("value", ""), "q7Vx-2mLp-9sKd-4TzR"; got != want {
					t.Errorf("password: got %q, want %q", got, want)
				}
				if _, ok := pw.Attr("readonly"); !ok {
					t.Error("password input is not read-only")
				}
				if got, want := row.Find(`[data-testid="copy-button"]`).AttrOr("data-copy-target", ""), pw.AttrOr("id", "-"); got != want {
					t.Errorf("copy target: got %q, want %q", got, want)
				}
				chosen := doc.Find(`[data-testid="secret-row"][data-login="crm-sync@example.com"]`)
				if chosen.Find(`[data-testid="secret-password"]`).Length() != 0 || !strings.Contains(chosen.Text(), "the password you chose") {
					t.Errorf("chosen password row: got %q", chosen.Text())
				}
				if got := testid(doc, "failed-row").Text(); !strings.Contains(got, "not created: a login with this name already exists") {
					t.Errorf("failed row: got %q", got)
				}
				if got := testid(doc, "unknown-row").Text(); !strings.Contains(got, "outcome unknown") {
					t.Errorf("unknown row: got %q", got)
				}
			},
		},
		{
			name:    "reset",
			comp:    Reset(sampleReset()),
			present: []string{"mode-generate", "mode-manual", "password-input", "password2-input", "upstream-error", "cancel-link", "confirm-button", "login", "reset-caution"},
			absent:  []string{"logins-input", "system-input"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				// Below a panel, the standing caution is not a second amber box.
				if class := testid(doc, "reset-caution").AttrOr("class", ""); strings.Contains(class, "amber") {
					t.Errorf("the caution under an error panel is amber: %q", class)
				}
			},
		},
		{
			name:    "reset, nothing went wrong",
			comp:    Reset(func() ResetVM { vm := sampleReset(); vm.Upstream = nil; return vm }()),
			present: []string{"password-input", "reset-caution"},
			absent:  []string{"upstream-error"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if class := testid(doc, "reset-caution").AttrOr("class", ""); !strings.Contains(class, "bg-amber-50") {
					t.Errorf("the caution on a fresh form is not amber: %q", class)
				}
			},
		},
		{
			name:    "done, the list not shown",
			comp:    Done(sampleDone()),
			present: []string{"flash-success", "upstream-error", "upstream-request-id", "done-link"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if href := testid(doc, "done-link").AttrOr("href", ""); href != "/domains/example.com" {
					t.Errorf("the link leads to %q, want the list", href)
				}
				if !strings.Contains(testid(doc, "flash-success").Text(), "Deleted alice@example.com.") {
					t.Error("the message the list would have shown is not on the page")
				}
			},
		},
		{
			name:    "delete",
			comp:    Delete(sampleDelete()),
			present: []string{"confirm-button", "cancel-link"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				got := strings.Join(strings.Fields(testid(doc, "confirm-question").Text()), " ")
				if want := "Delete alice@example.com from example.com?"; got != want {
					t.Errorf("question: got %q, want %q", got, want)
				}
				if !strings.Contains(doc.Text(), "Apps using this login will stop sending immediately.") {
					t.Error("no consequence sentence")
				}
				form := testid(doc, "confirm-button").Closest("form")
				if form.AttrOr("action", "") != "/domains/example.com/credentials/alice/delete" || form.Find(`input[name="_csrf"]`).Length() != 1 {
					t.Error("delete form: wrong action or no CSRF field")
				}
			},
		},
		{
			name:    "delete all",
			comp:    DeleteAll(sampleDeleteAll()),
			present: []string{"confirm-input", "confirm-button", "cancel-link", "system-badge", "field-error-confirm"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				in := testid(doc, "confirm-input")
				if in.AttrOr("name", "") != "confirm" || in.AttrOr("data-confirm-match", "") != "example.com" || in.AttrOr("value", "") != "example" {
					t.Errorf("confirm input: got %v", in.Nodes[0].Attr)
				}
				if _, ok := testid(doc, "confirm-button").Attr("disabled"); ok {
					t.Error("confirm button is disabled without JS")
				}
				if got := strings.Join(strings.Fields(testid(doc, "delete-all-count").Text()), " "); got != "Delete 2,430 SMTP logins from example.com?" {
					t.Errorf("count: got %q", got)
				}
				if got := strings.TrimSpace(testid(doc, "preview-more").Text()); got != "and 2,420 more" {
					t.Errorf("more: got %q", got)
				}
				if !strings.Contains(doc.Find("label[for=f-confirm]").Text(), "Type example.com to confirm") {
					t.Error("no confirm label")
				}
			},
		},
		{
			name:    "audit",
			comp:    Audit(sampleAudit()),
			present: []string{"audit-row", "audit-outcome", "audit-next", "audit-first", "export-csv", "export-jsonl"},
			absent:  []string{"empty-state"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if got, want := testid(doc, "audit-row").Length(), 7; got != want {
					t.Errorf("rows: got %d, want %d", got, want)
				}
				want := map[string]string{"ok": "badge-green", "failed": "badge-red", "unknown": "badge-amber", "pending": "badge-amber", "denied": "badge-gray"}
				testid(doc, "audit-outcome").Each(func(_ int, s *goquery.Selection) {
					o := s.AttrOr("data-outcome", "")
					if !strings.Contains(s.AttrOr("class", ""), want[o]) {
						t.Errorf("outcome %s: class %q lacks %s", o, s.AttrOr("class", ""), want[o])
					}
				})
				if got := doc.Find(`[data-outcome="pending"]`).Text(); got != "Not completed" {
					t.Errorf("pending label: got %q", got)
				}
				// Each outcome reads differently in the filter, as it filters differently.
				seen := map[string]string{}
				doc.Find(`select[name="outcome"] option`).Each(func(_ int, s *goquery.Selection) {
					label := strings.TrimSpace(s.Text())
					if other, dup := seen[label]; dup {
						t.Errorf("outcome filter: %q and %q both read %q", other, s.AttrOr("value", ""), label)
					}
					seen[label] = s.AttrOr("value", "")
				})
				for _, name := range []string{"domain", "actor", "action", "outcome", "from", "to", "login"} {
					if doc.Find(`form[method="get"] [name="`+name+`"]`).Length() != 1 {
						t.Errorf("no audit filter named %q", name)
					}
				}
				if got, want := testid(doc, "audit-next").AttrOr("href", ""), "/audit?before=906"; got != want {
					t.Errorf("next: got %q, want %q", got, want)
				}
			},
		},
		{
			name:    "audit verify intact",
			comp:    AuditVerify(AuditVerifyVM{Page: samplePage("Audit trail check", ""), Checked: 1234, HeadID: 1234, HeadHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", OldestID: 57, OldestAt: sampleNow.AddDate(-1, 0, 0), Trimmed: true, At: sampleNow, Took: 42 * time.Millisecond}),
			present: []string{"verify-intact", "verify-checked", "verify-again", "verify-head-id", "verify-head-hash", "verify-oldest-id"},
			absent:  []string{"verify-broken"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if got := testid(doc, "verify-checked").Text(); got != "1,234 rows" {
					t.Errorf("checked: got %q", got)
				}
				if got := strings.Join(strings.Fields(testid(doc, "verify-oldest").Text()), " "); !strings.HasPrefix(got, "57, written ") || !strings.Contains(got, "removed by retention") {
					t.Errorf("oldest row: got %q", got)
				}
			},
		},
		{
			name:    "audit verify broken",
			comp:    AuditVerify(AuditVerifyVM{Page: samplePage("Audit trail check", ""), Checked: 17, BrokenAt: 17, Reason: "hash mismatch", At: sampleNow, Took: time.Millisecond}),
			present: []string{"verify-broken", "verify-broken-at", "verify-reason"},
			absent:  []string{"verify-intact", "verify-head"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if got := testid(doc, "verify-broken").AttrOr("role", ""); got != "alert" {
					t.Errorf("the break is not an alert (role %q)", got)
				}
				if got := testid(doc, "verify-broken-at").Text(); got != "17" {
					t.Errorf("broken at: got %q", got)
				}
			},
		},
		{
			name:    "audit empty",
			comp:    Audit(sampleAuditEmpty()),
			present: []string{"empty-state", "export-csv"},
			absent:  []string{"audit-row", "audit-next"},
		},
		{
			name:    "error 404",
			comp:    ErrorPage(sampleError(404)),
			present: []string{"error-status", "error-message", "request-id", "back-link"},
			absent:  []string{"sign-in"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if got, want := testid(doc, "error-status").Text(), "404"; got != want {
					t.Errorf("status: got %q, want %q", got, want)
				}
				if got, want := testid(doc, "request-id").Text(), "req-7f3a9c21b4"; got != want {
					t.Errorf("request id: got %q, want %q", got, want)
				}
			},
		},
		{
			name:    "error 429",
			comp:    ErrorPage(sampleError(429)),
			present: []string{"retry-after", "error-message"},
		},
		{
			name:    "error 401 signed out",
			comp:    ErrorPage(sampleError(401)),
			present: []string{"sign-in", "error-status"},
			absent:  []string{"user-menu", "domain-picker", "back-link"},
		},
		{
			name:    "no access",
			comp:    NoAccessPage(sampleNoAccess()),
			present: []string{"no-access", "sign-out", "group"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if !strings.Contains(testid(doc, "no-access").Text(), "newhire@corp.example") {
					t.Error("no-access page does not name the user")
				}
				if got, want := testid(doc, "group").Length(), 3; got != want {
					t.Errorf("groups: got %d, want %d", got, want)
				}
				// Whole sentences at any width: the address ends the first one (the line after a
				// wrapped address began ", but no access rule matches you") and wraps between its
				// parts; the way to another account is a sentence before the button, not "and sign
				// in with another account" on a line of its own under it.
				if got, want := strings.Join(strings.Fields(testid(doc, "error-message").Text()), " "),
					"You're signed in as newhire@corp.example. No access rule matches this account. Ask your administrator to add one of your groups, or your email address, to SMTP Desk's access policy."; got != want {
					t.Errorf("message:\ngot  %q\nwant %q", got, want)
				}
				if testid(doc, "no-access-email").Find("wbr").Length() == 0 {
					t.Error("the email has no line-break opportunity after its dots and @")
				}
				if got, want := strings.Join(strings.Fields(testid(doc, "no-access").Find(`[data-testid="sign-out"]`).Closest("form").Text()), " "),
					"To use another account, sign out, then sign in with it. Sign out"; got != want {
					t.Errorf("sign-out form: got %q, want %q", got, want)
				}
			},
		},
		{
			name:    "sign out",
			comp:    SignOutPage(samplePage("Sign out", "")),
			present: []string{"sign-out-page", "sign-out-email", "sign-out-confirm", "stay-signed-in", "user-menu"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				form := testid(doc, "sign-out-confirm").Closest("form")
				if form.AttrOr("method", "") != "post" || form.AttrOr("action", "") != "/auth/logout" {
					t.Errorf("the confirm button's form: %s %s, want post /auth/logout", form.AttrOr("method", ""), form.AttrOr("action", ""))
				}
				if form.Find(`input[name="_csrf"]`).AttrOr("value", "") == "" {
					t.Error("the sign-out form has no CSRF token")
				}
				if got := testid(doc, "sign-out-email").Text(); got == "" {
					t.Error("the page does not say who is signed in")
				}
			},
		},
		{
			name:    "signed out",
			comp:    SignedOutPage(sampleSignedOut()),
			present: []string{"sign-in", "signed-out"},
			absent:  []string{"user-menu", "sign-out"},
			check: func(t *testing.T, doc *goquery.Document) {
				t.Helper()
				if got, want := testid(doc, "sign-in").AttrOr("href", ""), "/auth/login?next=%2Fdomains%2Fexample.com"; got != want {
					t.Errorf("sign-in: got %q, want %q", got, want)
				}
			},
		},
	}
}

func TestPages(t *testing.T) {
	for _, tc := range pageCases() {
		t.Run(tc.name, func(t *testing.T) {
			doc, html := render(t, tc.comp)
			if !strings.HasPrefix(html, "<!doctype html>") {
				t.Errorf("no doctype: %.40q", html)
			}
			if got, want := doc.Find("html").AttrOr("lang", ""), "en"; got != want {
				t.Errorf("lang: got %q, want %q", got, want)
			}
			if doc.Find(`a[href="#main"]`).Length() != 1 || doc.Find("main#main").Length() != 1 {
				t.Error("no skip link to main")
			}
			for _, id := range tc.present {
				if testid(doc, id).Length() == 0 {
					t.Errorf("missing data-testid=%q", id)
				}
			}
			for _, id := range tc.absent {
				if n := testid(doc, id).Length(); n != 0 {
					t.Errorf("data-testid=%q present %d times, want none", id, n)
				}
			}
			for _, sel := range tc.presentCSS {
				if doc.Find(sel).Length() == 0 {
					t.Errorf("nothing matches %q", sel)
				}
			}
			for _, sel := range tc.absentCSS {
				if n := doc.Find(sel).Length(); n != 0 {
					t.Errorf("%q matches %d times, want none", sel, n)
				}
			}
			assertCSPClean(t, doc)
			// Every POST form carries the CSRF token.
			doc.Find(`form[method="post"]`).Each(func(_ int, f *goquery.Selection) {
				if f.Find(`input[name="_csrf"]`).Length() != 1 {
					t.Errorf("POST form %q has no _csrf field", f.AttrOr("action", ""))
				}
			})
			// Every labelled control has a label or an accessible name.
			doc.Find("input:not([type=hidden]), select, textarea").Each(func(_ int, s *goquery.Selection) {
				id := s.AttrOr("id", "")
				_, aria := s.Attr("aria-label")
				if !aria && (id == "" || doc.Find(`label[for="`+id+`"]`).Length() == 0) && s.Closest("label").Length() == 0 {
					t.Errorf("control %s name=%q has no label", goquery.NodeName(s), s.AttrOr("name", ""))
				}
			})
			if tc.check != nil {
				tc.check(t, doc)
			}
		})
	}
}

func TestEscaping(t *testing.T) {
	vm := sampleCredentials()
	vm.Rows[1].Login = `<script>alert(1)</script>@example.com`
	vm.Filter = `"><img src=x onerror=alert(1)>`
	doc, html := render(t, Credentials(vm))
	if strings.Contains(html, "<script>alert(1)") || strings.Contains(html, "<img src=x") {
		t.Error("user data is not escaped")
	}
	assertCSPClean(t, doc)
}

func TestNumber(t *testing.T) {
	tests := []struct {
		in   int
		want string
	}{
		{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1,000"}, {2431, "2,431"}, {12345, "12,345"},
		{1000000, "1,000,000"}, {-1234, "-1,234"}, {-12, "-12"},
	}
	for _, tc := range tests {
		if got := Number(tc.in); got != tc.want {
			t.Errorf("Number(%d): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSecretsWording: one generated password is spoken of in the singular, several in the
// plural, and none (only chosen passwords) without a shown-once warning; one chosen-password
// login, one failure or one unknown outcome is "it", not "they".
func TestSecretsWording(t *testing.T) {
	one := sampleSecrets()
	one.Secrets = one.Secrets[:1]
	chosen := sampleSecrets()
	chosen.Secrets = chosen.Secrets[2:]
	chosenSeveral := sampleSecrets()
	chosenSeveral.Secrets = []Secret{{Login: "a@example.com"}, {Login: "b@example.com"}}
	chosenSeveral.Failed = append(chosenSeveral.Failed, Failed{Login: "c@example.com", Reason: "refused"})
	chosenSeveral.Unknown = append(chosenSeveral.Unknown, "d@example.com")
	resetFailed := sampleSecrets()
	resetFailed.Action, resetFailed.Secrets, resetFailed.Unknown = "reset", nil, nil
	tests := []struct {
		name        string
		vm          SecretsVM
		want, never []string
	}{
		{"one", one,
			[]string{"Copy this password now. It will not be shown again.", "hides the password for good"},
			[]string{"these passwords", "hides the passwords"}},
		{"several", sampleSecrets(),
			[]string{"Copy these passwords now. They will not be shown again.", "hides the passwords for good"},
			[]string{"this password now"}},
		{"chosen only", chosen,
			// One chosen login, one failure, one unknown outcome: each said in the singular.
			[]string{"It uses the password you chose.", "This login does not exist. Create it again; if Mailgun still does not create it, tell your administrator and quote the request ID below.",
				"1 login not confirmed", "Mailgun did not confirm it and the list could not be read, so it may or may not exist now. Check the list; if it is there,"},
			[]string{"will not be shown again", "hides the password", "They use", "These logins", "they may", "did not answer"}},
		{"chosen, several", chosenSeveral,
			[]string{"They use the password you chose.", "These logins do not exist. Create them again; if Mailgun still does not create them, tell your administrator and quote the request ID below.",
				"Mailgun did not confirm them and the list could not be read, so they may or may not exist now. Check the list; if one is there,"},
			[]string{"It uses", "This login does", "it may"}},
		{"reset, one failed", resetFailed,
			[]string{"Its password was not changed; the old one still works."},
			[]string{"Their passwords"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, _ := render(t, Secrets(tc.vm))
			text := strings.Join(strings.Fields(doc.Find("main").Text()), " ")
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, n := range tc.never {
				if strings.Contains(text, n) {
					t.Errorf("page says %q", n)
				}
			}
			// The request id a create's failure asks to quote is in its panel, not only in the
			// footer; a reset's failure asks for none.
			got := doc.Find(`[data-testid="failed-panel"] [data-testid="failed-request-id"]`)
			if want := tc.vm.Action != "reset"; want != (got.Length() == 1) || want && got.Text() != tc.vm.RequestID {
				t.Errorf("the failed panel's request id: %d, %q; want it (%q): %v", got.Length(), got.Text(), tc.vm.RequestID, want)
			}
		})
	}
}

// TestEmptyDomainSaysWhatLoginsAreFor: a domain without logins says what they are for without
// promising what the list never shows: it said apps sign in "with a login and password from this
// list", and no password is ever in the list.
func TestEmptyDomainSaysWhatLoginsAreFor(t *testing.T) {
	creator := sampleCredentials()
	creator.Rows, creator.Pager = nil, Pager{}
	reader := creator
	reader.Can, reader.CreateURL, reader.DeleteAllURL = Perms{}, "", ""
	for name, vm := range map[string]CredentialsVM{"may create": creator, "may not create": reader} {
		doc, _ := render(t, Credentials(vm))
		got := strings.Join(strings.Fields(doc.Find(`[data-testid="empty-state"] p`).First().Text()), " ")
		if !strings.HasPrefix(got, "Apps and devices sign in to Mailgun's SMTP server with an SMTP login and its password.") || strings.Contains(got, "from this list") {
			t.Errorf("%s: the empty list says %q", name, got)
		}
	}
}

// TestNoPasswordPanelSaysWhatHappened: the panel of logins Mailgun sent no password for says what
// Mailgun did. After a create it said "Mailgun says it set a new password" and "Reset the password
// again", words of a reset: Mailgun had created the logins, and nobody had reset anything.
func TestNoPasswordPanelSaysWhatHappened(t *testing.T) {
	noPassword := func(action string, logins ...string) SecretsVM {
		vm := sampleSecrets()
		vm.Action, vm.Secrets, vm.Failed, vm.Unknown, vm.NoPassword = action, nil, nil, nil, nil
		for _, l := range logins {
			vm.NoPassword = append(vm.NoPassword, Link{Label: l, URL: templ.SafeURL("/d/example.com/logins/" + l + "/reset")})
		}
		return vm
	}
	for _, tc := range []struct {
		name  string
		vm    SecretsVM
		want  string
		never []string
	}{
		{"create, one", noPassword("created", "relay@example.com"),
			"Mailgun sent no password for 1 login Mailgun created this login but did not send its password back, so nobody knows it. Reset its password to get one you can use.",
			[]string{"set a new password", "again"}},
		{"create, several", noPassword("created", "relay@example.com", "crm@example.com"),
			"Mailgun sent no password for 2 logins Mailgun created these logins but did not send their passwords back, so nobody knows them. Reset each one's password to get one you can use.",
			[]string{"set a new password", "again"}},
		{"reset", noPassword("reset", "relay@example.com"),
			"Mailgun sent no password for 1 login Mailgun says it set a new password but did not send it back, so nobody knows it. Reset the password again to get one you can use.",
			[]string{"created"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, _ := render(t, Secrets(tc.vm))
			panel := doc.Find(`[data-testid="nopassword-panel"]`)
			text := strings.Join(strings.Fields(panel.Find("h2").Text()+" "+panel.Find("h2 + p").Text()), " ")
			if text != tc.want {
				t.Errorf("the panel says %q, want %q", text, tc.want)
			}
			for _, n := range tc.never {
				if strings.Contains(text, n) {
					t.Errorf("the panel says %q", n)
				}
			}
		})
	}
}

// TestHomeOnAPhone: the State column is hidden below the sm breakpoint, so a domain that is
// not active carries its state next to its name there (and only there); an active one does not.
func TestHomeOnAPhone(t *testing.T) {
	doc, _ := render(t, Home(sampleHome()))
	if n := doc.Find(`th.max-sm\:hidden`).Length(); n != 1 {
		t.Errorf("%d hidden-on-phone header cells, want 1 (State)", n)
	}
	rows := doc.Find(`tr[data-testid="domain-row"]`)
	if n, want := rows.Length(), len(sampleHome().Rows); n != want {
		t.Fatalf("%d domain rows, want %d", n, want)
	}
	rows.Each(func(_ int, row *goquery.Selection) {
		name, _ := row.Attr("data-domain")
		first := row.Find("td").First()
		phone := first.Find(`span.sm\:hidden [data-testid="state-badge"]`)
		column := row.Find(`td.max-sm\:hidden [data-testid="state-badge"]`)
		state := strings.TrimSpace(column.Text())
		if column.Length() != 1 || state == "" {
			t.Fatalf("%s: no state in the State column", name)
		}
		want := 1
		if state == "active" {
			want = 0
		}
		if phone.Length() != want {
			t.Errorf("%s (%s): %d state badges by the name, want %d", name, state, phone.Length(), want)
		}
		if phone.Length() == 1 && strings.TrimSpace(phone.Text()) != state {
			t.Errorf("%s: the name's badge says %q, the column %q", name, phone.Text(), state)
		}
		if got := strings.TrimSpace(first.Find("a").Text()); got != name {
			t.Errorf("link text %q, want %q", got, name)
		}
	})
}

// TestBreakable: a line-break opportunity after every dot and @ but a trailing one, the text escaped
// and otherwise unchanged.
func TestBreakable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"localhost", "localhost"},
		{"example.com", `example.<wbr aria-hidden="true">com`},
		{"newsletter.example.org", `newsletter.<wbr aria-hidden="true">example.<wbr aria-hidden="true">org`},
		{"trailing.", "trailing."},
		{"a..b", `a.<wbr aria-hidden="true">.<wbr aria-hidden="true">b`},
		{`x<y>&"'.z`, `x&lt;y&gt;&amp;&#34;&#39;.<wbr aria-hidden="true">z`},
		{"news@newsletter.example.org", `news@<wbr aria-hidden="true">newsletter.<wbr aria-hidden="true">example.<wbr aria-hidden="true">org`},
		{"trailing@", "trailing@"},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		if err := Breakable(tc.in).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("Breakable(%q) = %q, want %q", tc.in, b.String(), tc.want)
		}
		// The text a reader (or a test) sees is the name itself.
		doc, err := goquery.NewDocumentFromReader(strings.NewReader("<p>" + b.String() + "</p>"))
		if err != nil {
			t.Fatal(err)
		}
		if got := doc.Find("p").Text(); got != tc.in {
			t.Errorf("Breakable(%q) reads as %q", tc.in, got)
		}
	}
}

func TestRelative(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ago  time.Duration
		want string
	}{
		{10 * time.Second, "just now"},
		{time.Minute, "a minute ago"},
		{5 * time.Minute, "5 minutes ago"},
		{time.Hour, "an hour ago"},
		{5 * time.Hour, "5 hours ago"},
		{30 * time.Hour, "a day ago"},
		{3 * 24 * time.Hour, "3 days ago"},
		{40 * 24 * time.Hour, "a month ago"},
		{100 * 24 * time.Hour, "3 months ago"},
		{400 * 24 * time.Hour, "a year ago"},
		{3 * 365 * 24 * time.Hour, "3 years ago"},
		{-5 * time.Minute, "in 5 minutes"},
	}
	for _, tc := range tests {
		if got := Relative(now.Add(-tc.ago), now); got != tc.want {
			t.Errorf("Relative(-%v): got %q, want %q", tc.ago, got, tc.want)
		}
	}
}

func TestPageItems(t *testing.T) {
	tests := []struct {
		cur, total int
		want       []int
	}{
		{1, 1, []int{1}},
		{3, 7, []int{1, 2, 3, 4, 5, 6, 7}},
		{1, 20, []int{1, 2, 3, 4, 5, 0, 20}},
		{4, 20, []int{1, 2, 3, 4, 5, 0, 20}},
		{10, 20, []int{1, 0, 9, 10, 11, 0, 20}},
		{18, 20, []int{1, 0, 16, 17, 18, 19, 20}},
		{20, 20, []int{1, 0, 16, 17, 18, 19, 20}},
		{1, 0, nil},
	}
	for _, tc := range tests {
		got := pageItems(nil, tc.cur, tc.total)
		if len(got) != len(tc.want) {
			t.Errorf("pageItems(%d, %d): got %v, want %v", tc.cur, tc.total, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("pageItems(%d, %d): got %v, want %v", tc.cur, tc.total, got, tc.want)
				break
			}
		}
	}
}

func TestFormTarget(t *testing.T) {
	action, params := formTarget("/domains/example.com?q=app&page=3&per_page=50", "page", "per_page")
	if got, want := action, "/domains/example.com"; got != want {
		t.Errorf("action: got %q, want %q", got, want)
	}
	if len(params) != 1 || params[0] != (hiddenParam{Name: "q", Value: "app"}) {
		t.Errorf("params: got %v, want [q=app]", params)
	}
}

func TestMachineTime(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 3, 14, 15, 4, 5, 999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("x", -7*3600)),
		time.Date(2024, 2, 29, 9, 8, 7, 0, time.FixedZone("y", 5*3600+1800)),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, want := machineTime(tm), tm.UTC().Format(time.RFC3339); got != want {
			t.Errorf("machineTime(%v) = %q, want %q", tm, got, want)
		}
		if got, want := exactUTC(tm), tm.UTC().Format("2006-01-02 15:04:05 UTC"); got != want {
			t.Errorf("exactUTC(%v) = %q, want %q", tm, got, want)
		}
	}
}

func TestCountOf(t *testing.T) {
	tests := []struct {
		n    int
		noun string
		want string
	}{
		{1, "match", "1 match"},
		{10, "match", "10 matches"},
		{0, "login", "0 logins"},
		{2431, "login", "2,431 logins"},
		{3, "box", "3 boxes"},
	}
	for _, tt := range tests {
		if got := countOf(tt.n, tt.noun); got != tt.want {
			t.Errorf("countOf(%d, %q) = %q, want %q", tt.n, tt.noun, got, tt.want)
		}
	}
}

// TestFieldErrorTakesFocus: a field the server refused asks for focus (the page's script gives
// it to the first such element), so that a screen reader announces the error after the reload;
// a field without an error does not.
func TestFieldErrorTakesFocus(t *testing.T) {
	doc, _ := render(t, FormField(Field{Name: "password", Label: "Password", Type: "password", Error: "Too short."}))
	if in := doc.Find("input#" + fieldID("password")); in.AttrOr("aria-invalid", "") != "true" || in.AttrOr("data-autofocus", "no") == "no" {
		t.Errorf("refused field: want aria-invalid and data-autofocus")
	}
	doc, _ = render(t, FormField(Field{Name: "password", Label: "Password", Type: "password"}))
	if _, ok := doc.Find("input").Attr("data-autofocus"); ok {
		t.Error("a field without an error asks for focus")
	}
}

// TestAuditCreateLabelCountsLogins: a create entry that made several logins reads "Created
// logins", one that made one "Created login".
func TestAuditCreateLabelCountsLogins(t *testing.T) {
	for _, tt := range []struct {
		logins []string
		want   string
	}{
		{[]string{"a@acme.example"}, "Created login"},
		{[]string{"a@acme.example", "b@acme.example"}, "Created logins"},
	} {
		vm := sampleAudit()
		vm.Rows = []AuditRow{{ID: 1, Time: sampleNow, Actor: "Ada", ActionKey: "credential.create",
			Domain: "acme.example", Logins: tt.logins, Outcome: "ok"}}
		doc, _ := render(t, Audit(vm))
		if got := strings.TrimSpace(testid(doc, "audit-action").Text()); got != tt.want {
			t.Errorf("%d logins: %q, want %q", len(tt.logins), got, tt.want)
		}
		// The filter's choice finds both, so it reads as the rows of several do; it said
		// "Created login" above rows that said "Created logins".
		if got := strings.TrimSpace(doc.Find(`option[value="credential.create"]`).Text()); got != "Created logins" {
			t.Errorf("the action filter offers creates as %q, want \"Created logins\"", got)
		}
	}
}

// TestAuditDeniedDetailInWords: an access.denied entry's detail (the refused action in the
// policy's words: "delete_all", "reset bob@…") reads as a sentence on the audit page, followed by
// the count of refusals it stands for as recorded; any other entry's detail, and a detail of an
// unknown shape, shows as recorded.
func TestAuditDeniedDetailInWords(t *testing.T) {
	for _, tt := range []struct{ action, detail, want string }{
		{"access.denied", "view", "Tried to view the logins"},
		{"access.denied", "create", "Tried to create logins"},
		{"access.denied", "system", "Tried to create a system login"},
		{"access.denied", "delete_all", "Tried to delete all logins"},
		{"access.denied", "reset bob@acme.example", "Tried to reset the password of bob@acme.example"},
		{"access.denied", "delete bob@acme.example", "Tried to delete bob@acme.example"},
		{"access.denied", "audit verify", "Tried to check the audit trail's integrity"},
		{"access.denied", "something new", "something new"},
		// The refusals an entry stands for follow "; " as recorded.
		{"access.denied", "view; 12 more refusals like it since 2026-01-01T10:00:05Z, not recorded one by one",
			"Tried to view the logins; 12 more refusals like it since 2026-01-01T10:00:05Z, not recorded one by one"},
		{"access.denied", "reset bob@acme.example; 1 more refusal like it since 2026-01-01T10:00:05Z, not recorded one by one",
			"Tried to reset the password of bob@acme.example; 1 more refusal like it since 2026-01-01T10:00:05Z, not recorded one by one"},
		{"access.denied", "audit verify; 3 more refusals like it since 2026-01-01T10:00:05Z, not recorded one by one",
			"Tried to check the audit trail's integrity; 3 more refusals like it since 2026-01-01T10:00:05Z, not recorded one by one"},
		{"credential.delete_all", "Mailgun deleted 3 logins.", "Mailgun deleted 3 logins."},
		{"auth.sign_in", "delete_all", "delete_all"},
	} {
		vm := sampleAudit()
		vm.Rows = []AuditRow{{ID: 1, Time: sampleNow, Actor: "Mallory <mallory@corp.example>", ActionKey: tt.action,
			Domain: "acme.example", Outcome: "denied", Detail: tt.detail}}
		doc, _ := render(t, Audit(vm))
		if got := strings.TrimSpace(testid(doc, "audit-detail").Text()); got != tt.want {
			t.Errorf("%s %q: shown as %q, want %q", tt.action, tt.detail, got, tt.want)
		}
	}
}
