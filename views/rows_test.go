package views

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// rowCases are domain pages whose rows cover every branch of a credential row: system, old,
// zero time, a password reset through SMTP Desk, the user's own login, reset or delete not allowed, a missing delete action, no
// history link, a login just changed (data-changed), a URL that is not root-relative (sanitized), and text that must be escaped.
func rowCases() map[string]CredentialsVM {
	rows := []CredentialRow{
		{
			Login: "postmaster@example.com", Mailbox: "postmaster@example.com", CreatedAt: sampleNow.AddDate(-3, 0, 0),
			System: true, Old: true, CanReset: true, CanDelete: false,
		},
		{
			Login: "alice@example.com", Mailbox: "alice@example.com", CreatedAt: sampleNow.Add(-2 * time.Hour),
			CanReset: true, CanDelete: true,
		},
		{
			Login: `a<b>&"c'd@example.com`, Mailbox: `<script>alert("x")</script>`, CreatedAt: sampleNow.AddDate(-2, 0, 0), Old: true,
			CanReset: true, CanDelete: true, Changed: true,
		},
		{
			Login: "zero@example.com", Mailbox: "", CanReset: false, CanDelete: false,
		},
		{
			Login: "future@example.com", Mailbox: "future@example.com", CreatedAt: sampleNow.Add(72 * time.Hour),
			CanReset: true, CanDelete: true,
		},
		{
			Login: "bob@example.com", Mailbox: "bob.mailbox@example.com", CreatedAt: time.Date(1999, 12, 31, 23, 59, 59, 0, time.FixedZone("x", 3600)),
			Old: true, CanReset: true, CanDelete: true,
		},
		{
			Login: "rotated@example.com", Mailbox: "rotated@example.com", CreatedAt: sampleNow.AddDate(-3, 0, 0),
			ResetAt: sampleNow.Add(-5 * 24 * time.Hour), CanReset: true, CanDelete: true,
		},
		{
			// A host longer than longHost: breaks after its dots too.
			Login: "bulk@transactional-mail.acme-corporation.example.com", Mailbox: "bulk@transactional-mail.acme-corporation.example.com",
			CreatedAt: sampleNow.Add(-48 * time.Hour), CanReset: true, CanDelete: true,
		},
		{
			Login: "Üñï©ødé+tag/x?y#z%@example.com", Mailbox: "Üñï©ødé@example.com", CreatedAt: sampleNow.Add(-30 * time.Second),
			CanReset: true, CanDelete: true,
		},
	}
	owner := CredentialsVM{
		Page: Page{Now: sampleNow}, Domain: "example.com", Role: "owner", AgeDays: 365, Rows: rows,
		Can:      Perms{Create: true, Reset: true, Delete: true, DeleteAll: true, System: true},
		LoginURL: "/d/example.com/logins/", LoginHistoryURL: "/audit?domain=example.com&login=",
	}
	viewer := owner
	viewer.Role, viewer.Can, viewer.AgeDays = "viewer", Perms{SelfLogin: "alice@example.com"}, 1234
	viewerRows := make([]CredentialRow, len(rows))
	for i, r := range rows {
		r.CanReset = r.Login == "alice@example.com"
		r.CanDelete = false
		viewerRows[i] = r
	}
	viewer.Rows = viewerRows
	operator := owner
	operator.Role, operator.Can = "operator", Perms{Create: true, Reset: true}
	opRows := make([]CredentialRow, len(rows))
	for i, r := range rows {
		r.CanDelete = false
		opRows[i] = r
	}
	operator.Rows = opRows
	// URL prefixes that are not root-relative paths go through templ's sanitizer; no links at
	// all without them.
	hostile := owner
	hostile.Rows = rows[1:3]
	hostile.LoginURL, hostile.LoginHistoryURL = "javascript:alert(1)//", "//evil.example/audit?a=1&b=<2>&login="
	nolinks := owner
	nolinks.Rows = rows[1:3]
	nolinks.LoginURL, nolinks.LoginHistoryURL = "", ""
	return map[string]CredentialsVM{"owner": owner, "viewer": viewer, "operator": operator, "hostile": hostile, "nolinks": nolinks}
}

// TestCredentialRowsGolden holds the hand-written row renderer to reviewed markup, byte for byte
// (testdata/credential_rows_*.html). With SMTPDESK_UPDATE_GOLDEN=1 it rewrites the files from
// the current renderer: review the diff before committing it.
func TestCredentialRowsGolden(t *testing.T) {
	for name, vm := range rowCases() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := credentialRows(vm).Render(context.Background(), &buf); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "credential_rows_"+name+".html")
			if os.Getenv("SMTPDESK_UPDATE_GOLDEN") == "1" {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != string(want) {
				t.Errorf("rows differ from %s:\ngot:  %s\nwant: %s", path, got, want)
			}
		})
	}
}

// TestCredentialRowsEscape checks that no raw markup from a login or URL reaches the page.
func TestCredentialRowsEscape(t *testing.T) {
	var buf bytes.Buffer
	if err := credentialRows(rowCases()["owner"]).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, bad := range []string{"<script>", `a<b>`, `"c'd`, "javascript:"} {
		if strings.Contains(got, bad) {
			t.Errorf("rows contain %q unescaped", bad)
		}
	}
}

// TestCredentialRowsCanceled stops on a canceled context, like a templ component.
func TestCredentialRowsCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var buf bytes.Buffer
	if err := credentialRows(rowCases()["owner"]).Render(ctx, &buf); err == nil {
		t.Fatal("got nil error, want the context's error")
	}
}

// BenchmarkCredentialRows renders only the 100 rows of the benchmark page.
func BenchmarkCredentialRows(b *testing.B) {
	vm := benchCredentials(100)
	vm.Now = sampleNow
	b.ReportAllocs()
	for b.Loop() {
		var cw countingWriter
		if err := credentialRows(vm).Render(context.Background(), &cw); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAppendRelative holds appendRelative to Relative at the edges of every unit, both ways.
func TestAppendRelative(t *testing.T) {
	edges := []time.Duration{0, 44 * time.Second, 45 * time.Second, 89 * time.Second, 90 * time.Second,
		44 * time.Minute, 45 * time.Minute, 89 * time.Minute, 90 * time.Minute, 21 * time.Hour, 22 * time.Hour,
		35 * time.Hour, 36 * time.Hour, 25 * 24 * time.Hour, 26 * 24 * time.Hour, 44 * 24 * time.Hour,
		45 * 24 * time.Hour, 319 * 24 * time.Hour, 320 * 24 * time.Hour, 547 * 24 * time.Hour,
		548 * 24 * time.Hour, 3000 * 24 * time.Hour}
	for _, e := range edges {
		for _, d := range []time.Duration{e - time.Nanosecond, e, e + 37*time.Second, -e, -e - time.Minute} {
			for _, ct := range []time.Time{sampleNow.Add(-d), {}} {
				got, want := string(appendRelative(nil, ct, sampleNow)), Relative(ct, sampleNow)
				if got != want {
					t.Errorf("appendRelative(now-%v) = %q, want %q", d, got, want)
				}
			}
		}
	}
}

// TestAppendMachineTime holds appendMachineTime to machineTime, in and out of the four-digit
// years.
func TestAppendMachineTime(t *testing.T) {
	for _, tm := range []time.Time{sampleNow, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("w", -3600)), time.Date(12000, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(-5, 1, 2, 3, 4, 5, 0, time.UTC)} {
		iso := appendMachineTime(nil, tm)
		if got, want := string(iso), machineTime(tm); got != want {
			t.Errorf("appendMachineTime(%v) = %q, want %q", tm, got, want)
		}
	}
}

// TestAppendQueryEscaped holds appendQueryEscaped to url.QueryEscape.
func TestAppendQueryEscaped(t *testing.T) {
	for _, s := range []string{"", "alice@example.com", "a b+c&d=e/f?g#h%i", `a<b>&"c'd`, "Üñï©ødé", "\x00\x1f\x7f\xff", "-_.~AZaz09"} {
		if got, want := string(appendQueryEscaped([]byte("x"), s)), "x"+url.QueryEscape(s); got != want {
			t.Errorf("appendQueryEscaped(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzAppendQueryEscaped(f *testing.F) {
	f.Add("alice@example.com")
	f.Add("a b+c&d=e/f?g#h%i")
	f.Add("Üñï©ødé\x00\xff")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendQueryEscaped(nil, s)), url.QueryEscape(s); got != want {
			t.Errorf("appendQueryEscaped(%q) = %q, want %q", s, got, want)
		}
	})
}

// TestSelfBadgeIgnoresCase: a self-service user's own login gets its "your login" badge when
// Mailgun spells it with capitals (News@…) and their e-mail does not, as the handler lets them
// reset it; no other row gets one.
func TestSelfBadgeIgnoresCase(t *testing.T) {
	vm := CredentialsVM{
		Page: Page{Now: sampleNow}, Domain: "example.com", Role: "viewer",
		Can:      Perms{SelfLogin: "news@example.com"},
		LoginURL: "/d/example.com/logins/", LoginHistoryURL: "/audit?domain=example.com&login=",
		Rows: []CredentialRow{
			{Login: "News@Example.com", CanReset: true},
			{Login: "other@example.com"},
		},
	}
	var buf bytes.Buffer
	if err := credentialRows(vm).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(buf.String(), "</tr>")
	if !strings.Contains(rows[0], `data-testid="self-badge"`) || strings.Contains(rows[1], `data-testid="self-badge"`) {
		t.Errorf("self badges: own row %v, other row %v; want only the own row's:\n%s",
			strings.Contains(rows[0], "self-badge"), strings.Contains(rows[1], "self-badge"), buf.String())
	}
}

// TestSelfBadgeSaysTheSame: the badge that marks a self-service user's own login reads the same
// in the domain's list and on its reset form; the form said "your own login", the list "your
// login".
func TestSelfBadgeSaysTheSame(t *testing.T) {
	vm := CredentialsVM{
		Page: Page{Now: sampleNow}, Domain: "example.com", Role: "viewer",
		Can:      Perms{SelfLogin: "news@example.com"},
		LoginURL: "/d/example.com/logins/", LoginHistoryURL: "/audit?domain=example.com&login=",
		Rows: []CredentialRow{{Login: "news@example.com", CanReset: true}},
	}
	var buf bytes.Buffer
	if err := credentialRows(vm).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	list, err := goquery.NewDocumentFromReader(strings.NewReader("<table><tbody>" + buf.String() + "</tbody></table>"))
	if err != nil {
		t.Fatal(err)
	}
	reset := sampleReset()
	reset.Self = true
	form, _ := render(t, Reset(reset))
	inList := list.Find(`[data-testid="self-badge"]`).Text()
	onForm := form.Find(`[data-testid="self-badge"]`).Text()
	if inList != "your login" || onForm != inList {
		t.Errorf("the self badge reads %q in the list and %q on the reset form, want \"your login\" in both", inList, onForm)
	}
}
