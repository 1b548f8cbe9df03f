package views

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

// The hand-written helpers the templates call, each held to what it says to the user: the
// pages' own tests show only one or two of their cases.

// TestExactDayAndClock: an audit row's two-line time is the UTC day, then the UTC time of day
// with its zone, however the time was given.
func TestExactDayAndClock(t *testing.T) {
	tm := time.Date(2026, 3, 14, 0, 34, 56, 0, time.FixedZone("CET", 3600))
	if got, want := exactDay(tm), "2026-03-13"; got != want {
		t.Errorf("exactDay(%v) = %q, want %q", tm, got, want)
	}
	if got, want := exactClock(tm), "23:34:56 UTC"; got != want {
		t.Errorf("exactClock(%v) = %q, want %q", tm, got, want)
	}
}

// TestTimedTextAfterANonTime: text that ends in " UTC" without being a time does not stop the
// times after it from becoming <time> elements.
func TestTimedTextAfterANonTime(t *testing.T) {
	got := string(appendTimedText(nil, "at 2026-12-06 at 25:07 UTC, then on 2026-12-06 at 04:07 UTC."))
	if want := `then on <time datetime="2026-12-06T04:07Z"`; !strings.Contains(got, want) {
		t.Errorf("appendTimedText: %q\nwant it to hold %q", got, want)
	}
	if strings.Count(got, "<time") != 1 {
		t.Errorf("appendTimedText: %q\nwant one <time>, for the valid time only", got)
	}
}

func TestInitials(t *testing.T) {
	for _, tt := range []struct{ name, email, want string }{
		{"Ada Lovelace", "ada@corp.example", "AL"},
		{"", "john.smith@corp.example", "JS"},
		{"  ", "x_y-z@corp.example", "XY"},
		{"émile zola", "", "ÉZ"},
		{"Grace Brewster Hopper", "", "GB"},
		{"", "", "?"},
		{" ", "@.", "?"},
	} {
		if got := initials(&User{Name: tt.name, Email: tt.email}); got != tt.want {
			t.Errorf("initials(%q, %q) = %q, want %q", tt.name, tt.email, got, tt.want)
		}
	}
}

func TestStateBadge(t *testing.T) {
	for _, tt := range []struct{ state, want string }{
		{"active", "badge badge-green"},
		{"Active", "badge badge-green"},
		{"unverified", "badge badge-amber"},
		{"DISABLED", "badge badge-red"},
		{"", "badge badge-gray"},
		{"deleted", "badge badge-gray"},
	} {
		if got := stateBadge(tt.state); got != tt.want {
			t.Errorf("stateBadge(%q) = %q, want %q", tt.state, got, tt.want)
		}
	}
}

// TestStatusTone: a refusal (401, 403) is amber, not found gray, too many requests blue, any
// other failure red.
func TestStatusTone(t *testing.T) {
	for _, tt := range []struct {
		status int
		want   string
	}{
		{401, "bg-amber-100"}, {403, "bg-amber-100"}, {404, "bg-gray-100"}, {429, "bg-sky-100"},
		{400, "bg-red-100"}, {500, "bg-red-100"}, {503, "bg-red-100"},
	} {
		if got := statusTone(tt.status); !strings.HasPrefix(got, tt.want+" ") {
			t.Errorf("statusTone(%d) = %q, want it to start with %q", tt.status, got, tt.want)
		}
	}
}

// TestFieldDescribedByExists: a field's aria-describedby names its hint and its error, in that
// order, by ids that are on the page.
func TestFieldDescribedByExists(t *testing.T) {
	for _, f := range []Field{
		{Name: "login", Label: "Login", Hint: "The part before the @.", Error: "Taken."},
		{Name: "login", Label: "Login", Hint: "The part before the @."},
		{Name: "login", Label: "Login", Error: "Taken."},
	} {
		for name, c := range map[string]templ.Component{"FormField": FormField(f), "TextareaField": TextareaField(f)} {
			doc, html := render(t, c)
			ids := strings.Fields(doc.Find("#f-login").AttrOr("aria-describedby", ""))
			var want []string
			if f.Hint != "" {
				want = append(want, "f-login-hint")
			}
			if f.Error != "" {
				want = append(want, "f-login-error")
			}
			if strings.Join(ids, " ") != strings.Join(want, " ") {
				t.Errorf("%s(hint %q, error %q): aria-describedby %q, want %q", name, f.Hint, f.Error, ids, want)
			}
			for _, id := range ids {
				if doc.Find("#"+id).Length() != 1 {
					t.Errorf("%s: aria-describedby names #%s, which the field's markup does not have:\n%s", name, id, html)
				}
			}
		}
	}
}

// TestLineErrorAttrs: one refused line marks the logins field invalid, as several do; the
// field's own error (too many lines), shown under it beside the refused lines, describes it too.
func TestLineErrorAttrs(t *testing.T) {
	if got := lineErrorAttrs(0, "logins", ""); got != nil {
		t.Errorf("lineErrorAttrs(0) = %v, want none", got)
	}
	for _, n := range []int{1, 2, 500} {
		got := lineErrorAttrs(n, "logins", "")
		if got["aria-invalid"] != "true" || got["aria-describedby"] != "line-errors f-logins-hint" {
			t.Errorf("lineErrorAttrs(%d) = %v, want aria-invalid and described by line-errors f-logins-hint", n, got)
		}
	}
	got := lineErrorAttrs(1, "logins", "At most 100 logins at a time; you entered 101.")
	if got["aria-invalid"] != "true" || got["aria-describedby"] != "line-errors f-logins-hint f-logins-error" {
		t.Errorf("lineErrorAttrs(1, with the field's error) = %v, want it described by line-errors f-logins-hint f-logins-error", got)
	}
}

// TestAuditDateAttrs: a reversed range marks the to field invalid, described by the from field's
// error; each field's own error marks that field.
func TestAuditDateAttrs(t *testing.T) {
	for _, tt := range []struct {
		name     string
		vm       AuditVM
		from, to string // the aria-describedby wanted, "" for no attributes
	}{
		{"none", AuditVM{}, "", ""},
		{"reversed", AuditVM{DatesReversed: true}, "", "a-from-error"},
		{"from refused", AuditVM{DateErrors: map[string]string{"from": "Not a date."}}, "a-from-error", ""},
		{"to refused", AuditVM{DateErrors: map[string]string{"to": "Not a date."}}, "", "a-to-error"},
	} {
		for field, want := range map[string]string{"from": tt.from, "to": tt.to} {
			got := auditDateAttrs(tt.vm, field)
			switch {
			case want == "" && got != nil:
				t.Errorf("%s: auditDateAttrs(%q) = %v, want none", tt.name, field, got)
			case want != "" && (got["aria-invalid"] != "true" || got["aria-describedby"] != want):
				t.Errorf("%s: auditDateAttrs(%q) = %v, want aria-invalid, described by %s", tt.name, field, got, want)
			}
		}
	}
}

// TestPasswordHint: the hint asks to type the password again only when a chosen password was
// typed and the form came back for another reason.
func TestPasswordHint(t *testing.T) {
	const again, usual = "Type your password again", "Used only when you choose a password"
	for _, tt := range []struct {
		mode   string
		errs   map[string]string
		retype bool
		want   string
	}{
		{"manual", nil, true, again},
		{"manual", map[string]string{"login": "Taken."}, true, again},
		{"manual", nil, false, usual},
		{"generate", nil, true, usual},
		{"", nil, true, usual},
		{"manual", map[string]string{"password": "Too short."}, true, usual},
		{"manual", map[string]string{"password2": "Does not match."}, true, usual},
	} {
		if got := passwordHint(tt.mode, tt.errs, tt.retype); !strings.HasPrefix(got, tt.want) {
			t.Errorf("passwordHint(%q, %v, %v) = %q, want it to start with %q", tt.mode, tt.errs, tt.retype, got, tt.want)
		}
	}
}

// TestPasswordAttrs: the first password field takes the focus and the repeat field's error only
// when that is the one error; with its own error it keeps its own description (FormField's).
func TestPasswordAttrs(t *testing.T) {
	for _, tt := range []struct {
		errs map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"password2": "Does not match."}, true},
		{map[string]string{"password": "Too short.", "password2": "Does not match."}, false},
		{map[string]string{"password": "Too short."}, false},
	} {
		a := passwordAttrs(tt.errs)
		_, focus := a["data-autofocus"]
		_, described := a["aria-describedby"]
		if focus != tt.want || described != tt.want || a["minlength"] != "5" {
			t.Errorf("passwordAttrs(%v) = %v, want focus and description %v, minlength 5", tt.errs, a, tt.want)
		}
	}
}

// TestSignInURL: the sign-in link carries where to go after, once, joined to a query it has.
func TestSignInURL(t *testing.T) {
	for _, tt := range []struct {
		vm   SignedOutVM
		want string
	}{
		{SignedOutVM{}, "/auth/login"},
		{SignedOutVM{Next: "/domains/a b?x=1"}, "/auth/login?next=%2Fdomains%2Fa+b%3Fx%3D1"},
		{SignedOutVM{SignInURL: "/auth/login?idp=corp", Next: "/audit"}, "/auth/login?idp=corp&next=%2Faudit"},
		{SignedOutVM{SignInURL: "/auth/login?next=%2Fhome", Next: "/audit"}, "/auth/login?next=%2Fhome"},
	} {
		if got := signInURL(tt.vm); got != tt.want {
			t.Errorf("signInURL(%+v) = %q, want %q", tt.vm, got, tt.want)
		}
	}
}

func TestUncounted(t *testing.T) {
	rows := []DomainRow{{LoginsKnown: true}, {}, {LoginsKnown: true}, {}, {}}
	if got, want := uncounted(rows), 3; got != want {
		t.Errorf("uncounted: got %d, want %d", got, want)
	}
}

// TestFilterEmptyBody: the note that the domain's name is not searched comes for the domain's
// name or an end of it with a dot, not for any end of it ("com" may start a login).
func TestFilterEmptyBody(t *testing.T) {
	const note = "so the domain's name is not searched"
	for _, tt := range []struct {
		filter string
		want   bool
	}{
		{"example.com", true}, {"EXAMPLE.com", true}, {".com", true}, {"mple.com", true},
		{"com", false}, {"m", false}, {"@example.com", false}, {"alice", false},
	} {
		got := strings.Contains(filterEmptyBody(CredentialsVM{Domain: "example.com", Filter: tt.filter}), note)
		if got != tt.want {
			t.Errorf("filterEmptyBody(filter %q): notes the domain's name %v, want %v", tt.filter, got, tt.want)
		}
	}
}

// TestClearFilterURL: clearing the filter goes back to the first page, keeping the page size
// and the "To rotate" view.
func TestClearFilterURL(t *testing.T) {
	p := Pager{Page: 3, PerPage: 50, URL: func(page, perPage int) string {
		return fmt.Sprintf("/domains/example.com?page=%d&per_page=%d&q=app&rotate=1", page, perPage)
	}}
	if got, want := clearFilterURL(p), "/domains/example.com?per_page=50&rotate=1"; got != want {
		t.Errorf("clearFilterURL: got %q, want %q", got, want)
	}
}

// TestMoreLogins: an audit row lists at most auditLoginsListed logins, the first
// auditLoginsShown at once and the rest under "+N more".
func TestMoreLogins(t *testing.T) {
	var l []string
	for i := range 250 {
		l = append(l, fmt.Sprintf("u%03d@acme.example", i))
	}
	head, more := headLogins(l), moreLogins(l)
	if len(head) != auditLoginsShown || head[0] != "u000@acme.example" {
		t.Errorf("headLogins of 250: %d from %q, want %d from u000", len(head), head[0], auditLoginsShown)
	}
	if len(more) != auditLoginsListed-auditLoginsShown || more[0] != "u005@acme.example" || more[len(more)-1] != "u199@acme.example" {
		t.Errorf("moreLogins of 250: %d, %q to %q; want %d, u005 to u199", len(more), more[0], more[len(more)-1], auditLoginsListed-auditLoginsShown)
	}
}

// TestDeniedInWordsNeedsTheLogin: "delete" or "reset" without a login is not said as an attempt
// on one ("Tried to delete ").
func TestDeniedInWordsNeedsTheLogin(t *testing.T) {
	for _, d := range []string{"delete", "reset", "view x", "delete_all x"} {
		if got := deniedInWords(d); got != d {
			t.Errorf("deniedInWords(%q) = %q, want it as recorded", d, got)
		}
	}
}

func TestActorNameAndTitle(t *testing.T) {
	for _, tt := range []struct {
		row         AuditRow
		name, title string
	}{
		{AuditRow{Actor: "Ann Lee <ann@corp.example>", ActorEmail: "ann@corp.example"}, "Ann Lee", "Ann Lee <ann@corp.example>"},
		{AuditRow{Actor: "Ann <ann@corp.example"}, "Ann <ann@corp.example", "Ann <ann@corp.example"},
		{AuditRow{Actor: "<ann@corp.example>"}, "<ann@corp.example>", "<ann@corp.example>"},
		{AuditRow{ActorEmail: "bob@corp.example"}, "bob@corp.example", "bob@corp.example"},
		{AuditRow{ActorSubject: "svc-42", ActorIssuer: "https://idp.example"}, "svc-42", "Subject svc-42 at https://idp.example"},
		{AuditRow{}, "not signed in", "No user was signed in"},
	} {
		if got := actorName(tt.row); got != tt.name {
			t.Errorf("actorName(%+v) = %q, want %q", tt.row, got, tt.name)
		}
		if got := actorTitle(tt.row); got != tt.title {
			t.Errorf("actorTitle(%+v) = %q, want %q", tt.row, got, tt.title)
		}
	}
}

func TestHistoryOnly(t *testing.T) {
	for _, tt := range []struct {
		f    AuditFilter
		want bool
	}{
		{AuditFilter{}, false},
		{AuditFilter{Domain: "acme.example"}, false},
		{AuditFilter{Login: "bob@acme.example"}, true},
		{AuditFilter{Domain: "acme.example", Login: "bob@acme.example"}, true},
		{AuditFilter{Login: "bob@acme.example", From: "2026-01-01"}, false},
	} {
		if got := historyOnly(tt.f); got != tt.want {
			t.Errorf("historyOnly(%+v) = %v, want %v", tt.f, got, tt.want)
		}
	}
}

// TestOutcomeFocus: an outcome panel takes the focus only on a page without passwords to show.
func TestOutcomeFocus(t *testing.T) {
	for n, want := range map[int]bool{0: true, 1: false, 2: false} {
		vm := SecretsVM{Secrets: make([]Secret, n)}
		if got := outcomeFocus(vm)["data-autofocus"] == true; got != want {
			t.Errorf("outcomeFocus with %d passwords: asks for the focus %v, want %v", n, got, want)
		}
	}
}

func TestNamesExisting(t *testing.T) {
	for n, want := range map[int]string{1: "names a login the domain has already", 2: "name logins the domain has already", 7: "name logins the domain has already"} {
		if got := namesExisting(n); got != want {
			t.Errorf("namesExisting(%d) = %q, want %q", n, got, want)
		}
	}
}

// loginCells renders the rows of vm and returns each row's login cell (its first span): its text
// and its inner markup.
func loginCells(t *testing.T, vm CredentialsVM) (texts, inner []string) {
	t.Helper()
	var buf bytes.Buffer
	if err := credentialRows(vm).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader("<table><tbody>" + buf.String() + "</tbody></table>"))
	if err != nil {
		t.Fatal(err)
	}
	doc.Find("tr").Each(func(_ int, tr *goquery.Selection) {
		span := tr.Find("td span").First()
		h, _ := span.Html()
		texts = append(texts, span.Text())
		inner = append(inner, h)
	})
	return texts, inner
}

// TestLoginCellBreaks: a login cell reads as the login; it may break after the last @ (not
// before a leading one), and between the host's labels when the host is longer than longHost.
func TestLoginCellBreaks(t *testing.T) {
	const wbr = `<wbr aria-hidden="true"/>`
	for _, tt := range []struct{ login, want string }{
		{"alice@example.com", "alice@" + wbr + "example.com"},
		{"a@abcdefghijklmn.com", "a@" + wbr + "abcdefghijklmn.com"},              // a host of longHost bytes
		{"a@abcdefghijklmno.com", "a@" + wbr + "abcdefghijklmno." + wbr + "com"}, // one more
		{"a@b@newsletter-corp.example", "a@b@" + wbr + "newsletter-corp." + wbr + "example"},
		{"@example.com", "@example.com"},
		{"nohost", "nohost"},
		{"trailing@", "trailing@"},
	} {
		vm := CredentialsVM{Page: Page{Now: sampleNow}, Domain: "example.com", Rows: []CredentialRow{{Login: tt.login}}}
		texts, inner := loginCells(t, vm)
		if len(texts) != 1 || texts[0] != tt.login || inner[0] != tt.want {
			t.Errorf("login %q: cell reads %q as %q, want %q as %q", tt.login, texts, inner, tt.login, tt.want)
		}
	}
}

// TestSelfBadgeOnlyForSelfService: a user who may reset every login of the domain sees no "your
// login" badge on their own.
func TestSelfBadgeOnlyForSelfService(t *testing.T) {
	vm := CredentialsVM{
		Page: Page{Now: sampleNow}, Domain: "example.com", Role: "operator",
		Can:      Perms{SelfLogin: "news@example.com", Reset: true},
		LoginURL: "/d/example.com/logins/",
		Rows:     []CredentialRow{{Login: "news@example.com", CanReset: true}},
	}
	var buf bytes.Buffer
	if err := credentialRows(vm).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `data-testid="self-badge"`) {
		t.Errorf("a user who may reset every login has a self badge:\n%s", buf.String())
	}
}

// TestPickerOfExactlyTheLimit: a picker listing every domain (PickerLimit of them) does not count
// them in its last link; one more does.
func TestPickerOfExactlyTheLimit(t *testing.T) {
	for n, want := range map[int]string{PickerLimit: "All domains", PickerLimit + 1: fmt.Sprintf("All %d domains", PickerLimit+1)} {
		p := samplePage("Domains", "")
		p.Domains = nil
		for i := range n {
			d := fmt.Sprintf("d%03d.example", i)
			p.Domains = append(p.Domains, NavItem{Label: d, URL: "/d/" + d})
		}
		doc, _ := render(t, Home(HomeVM{Page: p}))
		if got := strings.TrimSpace(testid(doc, "picker-all").Text()); got != want {
			t.Errorf("picker of %d domains: last link %q, want %q", n, got, want)
		}
	}
}

// TestTitled: a <title> names each part once, never the title twice, and a page without a title
// (or with a handler's own DocTitle) keeps what it has; a page about one login names the login,
// and a reset of several names the domain.
func TestTitled(t *testing.T) {
	for _, tt := range []struct {
		name string
		got  Page
		want string
	}{
		{"parts", titled(Page{Title: "Audit trail"}, "", "bob@acme.example", "older entries"), "Audit trail · bob@acme.example · older entries"},
		{"part equal to the title", titled(Page{Title: "acme.example"}, "acme.example", "page 2"), "acme.example · page 2"},
		{"no title", titled(Page{}, "acme.example"), ""},
		{"own DocTitle", titled(Page{Title: "Domains", DocTitle: "Mine"}, "x"), "Mine"},
		{"login", titledLogin(Page{Title: "Reset password"}, "Reset", "bob@acme.example"), "Reset bob@acme.example"},
		{"no login", titledLogin(Page{Title: "Reset password"}, "Reset", ""), ""},
		{"no title, login", titledLogin(Page{}, "Reset", "bob@acme.example"), ""},
		{"reset of one", titledSecrets(SecretsVM{Page: Page{Title: "Saved"}, Domain: "acme.example", Action: "reset",
			Secrets: []Secret{{Login: "bob@acme.example"}}}), "Saved · bob@acme.example"},
		{"reset of one without password", titledSecrets(SecretsVM{Page: Page{Title: "Saved"}, Domain: "acme.example", Action: "reset",
			NoPassword: []Link{{Label: "bob@acme.example"}}}), "Saved · bob@acme.example"},
		{"reset of two", titledSecrets(SecretsVM{Page: Page{Title: "Saved"}, Domain: "acme.example", Action: "reset",
			Secrets: []Secret{{Login: "bob@acme.example"}}, NoPassword: []Link{{Label: "ann@acme.example"}}}), "Saved · acme.example"},
		{"domain list", titledHome(HomeVM{Page: Page{Title: "Domains"}, Pager: Pager{Page: 1}}), "Domains"},
		{"domain list, page 2", titledHome(HomeVM{Page: Page{Title: "Domains"}, Pager: Pager{Page: 2}}), "Domains · page 2"},
		{"domain list searched", titledHome(HomeVM{Page: Page{Title: "Domains"}, Query: "acme", Pager: Pager{Page: 3}}), "Domains · “acme” · page 3"},
		{"audit trail", titledAudit(AuditVM{Page: Page{Title: "Audit trail"}}), "Audit trail"},
		{"audit trail of a login", titledAudit(AuditVM{Page: Page{Title: "Audit trail"}, Login: "bob@acme.example", FirstURL: "/audit"}), "Audit trail · bob@acme.example · older entries"},
		{"audit trail filtered", titledAudit(AuditVM{Page: Page{Title: "Audit trail"}, Filter: AuditFilter{Domain: "acme.example",
			Actor: "alice", Action: "credential.reset", Outcome: "failed", From: "2026-01-01", To: "2026-01-31"}}),
			"Audit trail · acme.example · by “alice” · Reset password · Failed · from 2026-01-01 · to 2026-01-31"},
		{"audit trail, a date not applied", titledAudit(AuditVM{Page: Page{Title: "Audit trail"}, Filter: AuditFilter{From: "2026-02-30", To: "2026-03-01"},
			DateErrors: map[string]string{"from": "No such day."}}), "Audit trail · to 2026-03-01"},
		{"create of one", titledSecrets(SecretsVM{Page: Page{Title: "Created"}, Domain: "acme.example", Action: "created",
			Secrets: []Secret{{Login: "bob@acme.example"}}}), "Created · acme.example"},
	} {
		if got := tt.got.DocTitle; got != tt.want {
			t.Errorf("%s: DocTitle %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestAnyConfirm: the delete dialog is on a page with a row it can delete: not for a system
// login, whose delete is refused, nor without row links.
func TestAnyConfirm(t *testing.T) {
	for _, tt := range []struct {
		name string
		vm   CredentialsVM
		want bool
	}{
		{"deletable", CredentialsVM{LoginURL: "/l/", Rows: []CredentialRow{{CanDelete: true}}}, true},
		{"system only", CredentialsVM{LoginURL: "/l/", Rows: []CredentialRow{{CanDelete: true, System: true}, {}}}, false},
		{"system and another", CredentialsVM{LoginURL: "/l/", Rows: []CredentialRow{{CanDelete: true, System: true}, {CanDelete: true}}}, true},
		{"no links", CredentialsVM{Rows: []CredentialRow{{CanDelete: true}}}, false},
	} {
		if got := anyConfirm(tt.vm); got != tt.want {
			t.Errorf("anyConfirm(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
