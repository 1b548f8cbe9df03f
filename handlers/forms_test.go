package handlers

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/views"
)

func TestParsePaging(t *testing.T) {
	const (
		pageNote = "The page number %q was not used: this is the first page."
		sizeNote = "The page size %q was not used: the choices are 25, 50, 100 and 500, and this page shows 100 logins."
	)
	tests := []struct {
		query    string
		page     int
		perPage  int
		wantNote string
	}{
		{"", 1, 100, ""},
		{"page=&per_page=", 1, 100, ""},
		{"page=3&per_page=25", 3, 25, ""},
		{"page=2&per_page=500", 2, 500, ""},
		{"page=0&per_page=50", 1, 50, fmt.Sprintf(pageNote, "0")},
		{"page=-4", 1, 100, fmt.Sprintf(pageNote, "-4")},
		{"page=abc&per_page=xyz", 1, 100, fmt.Sprintf(sizeNote, "xyz") + " " + fmt.Sprintf(pageNote, "abc")},
		{"per_page=7", 1, 100, fmt.Sprintf(sizeNote, "7")},
		{"per_page=1000", 1, 100, fmt.Sprintf(sizeNote, "1000")},
		{"page=99999999999999999999", 1, 100, fmt.Sprintf(pageNote, "99999999999999999999")},
		{"page=1000000", 1000000, 100, ""},
		{"page=1000001", 1, 100, fmt.Sprintf(pageNote, "1000001")},
		{"page=" + strings.Repeat("x", 40), 1, 100, fmt.Sprintf(pageNote, strings.Repeat("x", 24)+"…")},
		{"page=%01%FF", 1, 100, `The page number "\x01\xff" was not used: this is the first page.`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			got := ParsePaging(q)
			if got.Page != tt.page || got.PerPage != tt.perPage || got.Note != tt.wantNote {
				t.Errorf("ParsePaging(%q) = %+v, want page %d, per_page %d, note %q", tt.query, got, tt.page, tt.perPage, tt.wantNote)
			}
		})
	}
	if got, want := (Paging{Page: 3, PerPage: 25}).Skip(), 50; got != want {
		t.Errorf("Skip = %d, want %d", got, want)
	}
}

func TestPagingPastEnd(t *testing.T) {
	tests := []struct {
		in       Paging
		last     int
		want     int
		wantNote string
	}{
		{Paging{Page: 3, PerPage: 25}, 3, 3, ""},
		{Paging{Page: 2, PerPage: 25}, 3, 2, ""},
		{Paging{Page: 9, PerPage: 50}, 6, 6, "There is no page 9: this is the last page, 6."},
		{Paging{Page: 5, PerPage: 100}, 1, 1, "There is no page 5: this is the only page."},
		{Paging{Page: 4, PerPage: 100, Note: "Earlier."}, 2, 2, "Earlier. There is no page 4: this is the last page, 2."},
	}
	for _, tt := range tests {
		p := tt.in
		p.PastEnd(tt.last)
		if p.Page != tt.want || p.Note != tt.wantNote {
			t.Errorf("%+v.PastEnd(%d) = page %d, note %q; want page %d, note %q", tt.in, tt.last, p.Page, p.Note, tt.want, tt.wantNote)
		}
	}
}

func TestLastPage(t *testing.T) {
	tests := []struct{ total, per, want int }{
		{0, 100, 1}, {1, 100, 1}, {100, 100, 1}, {101, 100, 2}, {250, 100, 3}, {250, 25, 10}, {251, 500, 1},
		// An absurd total_count from upstream: no overflow into a negative page count.
		{math.MaxInt, 100, math.MaxInt/100 + 1}, {math.MaxInt, 1, math.MaxInt}, {math.MaxInt - 50, 100, math.MaxInt / 100},
	}
	for _, tt := range tests {
		if got := LastPage(tt.total, tt.per); got != tt.want {
			t.Errorf("LastPage(%d, %d) = %d, want %d", tt.total, tt.per, got, tt.want)
		}
	}
}

func TestParseCreateForm(t *testing.T) {
	const d = "example.com"
	tests := []struct {
		name       string
		form       url.Values
		wantLogins []string
		wantLines  []views.LineError
		wantErrs   FormErrors
		wantMode   string
		wantPW     string
		wantSystem bool
	}{
		{
			name:       "local parts and full addresses, blanks and spaces skipped",
			form:       url.Values{"logins": {"alice\r\n\n  bob@example.com  \r\nC.d+e_f-g@EXAMPLE.COM\n"}},
			wantLogins: []string{"alice@example.com", "bob@example.com", "C.d+e_f-g@example.com"},
			wantMode:   "generate",
		},
		{
			name: "invalid lines reported by number, valid ones kept",
			form: url.Values{"logins": {"ok1\nbad one\nx@other.org\n\nalice@\n@example.com\nfoo/bar\nok1\nä\n" + strings.Repeat("a", 65)}},
			wantLines: []views.LineError{
				{Line: 2, Text: "bad one", Problem: "contains a space"},
				{Line: 3, Text: "x@other.org", Problem: "not in this domain (other.org)"},
				{Line: 5, Text: "alice@", Problem: "nothing after the @"},
				{Line: 6, Text: "@example.com", Problem: "the part before the @ is empty"},
				{Line: 7, Text: "foo/bar", Problem: `contains '/'; use letters, digits and . _ + - only`},
				{Line: 8, Text: "ok1", Problem: "duplicate of line 1"},
				{Line: 9, Text: "ä", Problem: `contains 'ä'; use letters, digits and . _ + - only`},
				{Line: 10, Text: strings.Repeat("a", 65), Problem: "longer than 64 characters"},
			},
			wantLogins: []string{"ok1@example.com"},
			wantMode:   "generate",
		},
		{
			name: "dots only between other characters",
			form: url.Values{"logins": {"a.b.c\n.\n.lead\ntrail.\na..b\n...@example.com"}},
			wantLines: []views.LineError{
				{Line: 2, Text: ".", Problem: "starts with a dot; a dot goes between two other characters"},
				{Line: 3, Text: ".lead", Problem: "starts with a dot; a dot goes between two other characters"},
				{Line: 4, Text: "trail.", Problem: "ends with a dot; a dot goes between two other characters"},
				{Line: 5, Text: "a..b", Problem: "has two dots in a row"},
				{Line: 6, Text: "...@example.com", Problem: "starts with a dot; a dot goes between two other characters"},
			},
			wantLogins: []string{"a.b.c@example.com"},
			wantMode:   "generate",
		},
		{
			name:       "duplicates are case-insensitive",
			form:       url.Values{"logins": {"Bob\nbob@example.com"}},
			wantLogins: []string{"Bob@example.com"},
			wantLines:  []views.LineError{{Line: 2, Text: "bob@example.com", Problem: "duplicate of line 1"}},
			wantMode:   "generate",
		},
		{
			name:     "empty",
			form:     url.Values{"logins": {"\n  \n"}},
			wantErrs: FormErrors{"logins": "Enter at least one login, one per line."},
			wantMode: "generate",
		},
		{
			name:       "manual password ok, system flag",
			form:       url.Values{"logins": {"a"}, "mode": {"manual"}, "password": {"s3cret"}, "password2": {"s3cret"}, "system": {"on"}},
			wantLogins: []string{"a@example.com"},
			wantMode:   "manual",
			wantPW:     "s3cret",
			wantSystem: true,
		},
		{
			name:       "manual passwords differ",
			form:       url.Values{"logins": {"a"}, "mode": {"manual"}, "password": {"s3cret"}, "password2": {"s3creT"}},
			wantLogins: []string{"a@example.com"},
			wantErrs:   FormErrors{"password2": "The two passwords you typed were different. Type the same password in both fields."},
			wantMode:   "manual",
		},
		{
			name:       "manual password too short",
			form:       url.Values{"logins": {"a"}, "mode": {"manual"}, "password": {"abcd"}, "password2": {"abcd"}},
			wantLogins: []string{"a@example.com"},
			wantErrs:   FormErrors{"password": "Use 5 to 32 characters (you typed 4)."},
			wantMode:   "manual",
		},
		{
			name:       "manual password too long",
			form:       url.Values{"logins": {"a"}, "mode": {"manual"}, "password": {strings.Repeat("p", 33)}, "password2": {strings.Repeat("p", 33)}},
			wantLogins: []string{"a@example.com"},
			wantErrs:   FormErrors{"password": "Use 5 to 32 characters (you typed 33)."},
			wantMode:   "manual",
		},
		{
			// Only a page without the script sends both: its user may think the typed
			// password is the one set, so the form comes back rather than drop it.
			name:       "password typed in generate mode is refused, not dropped",
			form:       url.Values{"logins": {"a"}, "mode": {"generate"}, "password": {"chosen-1"}, "password2": {"chosen-1"}},
			wantLogins: []string{"a@example.com"},
			wantErrs:   FormErrors{"mode": ModeTypedPassword},
			wantMode:   "generate",
		},
		{
			name:       "no choice sent and a password typed: the page's default, refused the same",
			form:       url.Values{"logins": {"a"}, "password2": {"x"}},
			wantLogins: []string{"a@example.com"},
			wantErrs:   FormErrors{"mode": ModeTypedPassword},
			wantMode:   "generate",
		},
		{
			name:       "a choice the page does not offer",
			form:       url.Values{"logins": {"a"}, "mode": {"Manual"}, "password": {"chosen-1"}, "password2": {"chosen-1"}},
			wantLogins: []string{"a@example.com"},
			wantErrs:   FormErrors{"mode": `Choose "Generate" or "Choose a password".`},
			wantMode:   "generate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseCreateForm(d, tt.form)
			if !reflect.DeepEqual(got.Logins, tt.wantLogins) {
				t.Errorf("Logins = %q, want %q", got.Logins, tt.wantLogins)
			}
			if !reflect.DeepEqual(got.LineErrors, tt.wantLines) {
				t.Errorf("LineErrors = %+v, want %+v", got.LineErrors, tt.wantLines)
			}
			wantErrs := tt.wantErrs
			if wantErrs == nil {
				wantErrs = FormErrors{}
			}
			if !reflect.DeepEqual(got.Errors, wantErrs) {
				t.Errorf("Errors = %v, want %v", got.Errors, wantErrs)
			}
			if got.Mode != tt.wantMode || got.Password != tt.wantPW || got.System != tt.wantSystem {
				t.Errorf("Mode, Password, System = %q, %q, %v; want %q, %q, %v", got.Mode, got.Password, got.System, tt.wantMode, tt.wantPW, tt.wantSystem)
			}
			if got.Raw != tt.form.Get("logins") {
				t.Errorf("Raw not kept")
			}
			wantOK := len(tt.wantLines) == 0 && len(wantErrs) == 0
			if got.OK() != wantOK {
				t.Errorf("OK() = %v, want %v", got.OK(), wantOK)
			}
		})
	}
}

func TestParseCreateFormLimit(t *testing.T) {
	var lines []string
	for i := range MaxCreateLines + 1 {
		lines = append(lines, fmt.Sprintf("u%d", i))
	}
	got := ParseCreateForm("example.com", url.Values{"logins": {strings.Join(lines, "\n")}})
	if got.OK() {
		t.Fatal("101 logins accepted")
	}
	if want := "At most 100 logins at a time; you entered 101."; got.Errors["logins"] != want {
		t.Errorf("Errors[logins] = %q, want %q", got.Errors["logins"], want)
	}
	got = ParseCreateForm("example.com", url.Values{"logins": {strings.Join(lines[:MaxCreateLines], "\n")}})
	if !got.OK() || len(got.Logins) != MaxCreateLines {
		t.Errorf("100 logins: OK=%v, %d logins", got.OK(), len(got.Logins))
	}
}

func TestParseResetForm(t *testing.T) {
	tests := []struct {
		form     url.Values
		wantMode string
		wantPW   string
		wantErrs FormErrors
	}{
		{url.Values{}, "generate", "", FormErrors{}},
		{url.Values{"mode": {"manual"}, "password": {"abcde"}, "password2": {"abcde"}}, "manual", "abcde", FormErrors{}},
		{url.Values{"mode": {"manual"}}, "manual", "", FormErrors{"password": "Enter a password, or choose a generated one."}},
		{url.Values{"mode": {"manual"}, "password": {"abcde"}, "password2": {"abcdf"}}, "manual", "", FormErrors{"password2": "The two passwords you typed were different. Type the same password in both fields."}},
	}
	for _, tt := range tests {
		got := ParseResetForm(tt.form)
		if got.Mode != tt.wantMode || got.Password != tt.wantPW || !reflect.DeepEqual(got.Errors, tt.wantErrs) {
			t.Errorf("ParseResetForm(%v) = %+v, want mode %q pw %q errs %v", tt.form, got, tt.wantMode, tt.wantPW, tt.wantErrs)
		}
	}
}

func TestLoginSpec(t *testing.T) {
	tests := []struct {
		login   string
		want    string
		wantErr bool
	}{
		{"alice", "alice@example.com", false},
		{"alice@example.com", "alice@example.com", false},
		{"alice@EXAMPLE.com", "alice@example.com", false},
		{"alice@other.com", "", true},
		{"", "", true},
		{"a/b", "", true},
		{"a\r\nb", "", true},
		{"a@b@example.com", "", true},
		{"@example.com", "", true},
	}
	for _, tt := range tests {
		got, err := LoginSpec("example.com", tt.login)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("LoginSpec(%q) = %q, %v; want %q, err %v", tt.login, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, mailgun.ErrInvalidInput) {
			t.Errorf("LoginSpec(%q) error %v does not wrap ErrInvalidInput", tt.login, err)
		}
	}
}

func TestIsSystemLogin(t *testing.T) {
	for login, want := range map[string]bool{
		"postmaster@example.com": true, "Postmaster@example.com": true, "postmaster": true,
		"postmaster2@example.com": false, "alice@example.com": false, "": false,
	} {
		if got := IsSystemLogin(login); got != want {
			t.Errorf("IsSystemLogin(%q) = %v, want %v", login, got, want)
		}
	}
}

// TestFilterText: a filter loses the invisible characters a paste brings and the white space
// around it, and keeps every other character as it came.
func TestFilterText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bob@acme.example", "bob@acme.example"},
		{"  bob  ", "bob"},
		{"bob\u200b@acme.example", "bob@acme.example"},
		{"\ufeffbob\u200c\u200d@acme.example\u2060", "bob@acme.example"},
		{"\u200b bob \u200b", "bob"},
		{"\u200b\u2060\ufeff", ""},
		// Everything else stays: letters with accents, a space inside, a soft hyphen (visible
		// where a word breaks), a LEFT-TO-RIGHT MARK (not on the list: the filter removes only
		// the five), and bytes that are not UTF-8 (for the audit filters' check, which names
		// them). A HAIR SPACE at the start is white space, trimmed with the rest.
		{"zoë o'brien", "zoë o'brien"},
		{"a\u00adb\u200b", "a\u00adb"},
		{"\u200a\u200bx\u200e", "x\u200e"},
		{"b\xff\u200bob", "b\xffob"},
		{"\xe2\x80", "\xe2\x80"}, // a cut-off sequence, not U+200B
	}
	for _, tt := range tests {
		if got := filterText(tt.in); got != tt.want {
			t.Errorf("filterText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestAuditQueryValuesKeepTheZone: the filter's links and exports name the viewer's time zone
// whenever a date is set, "to" alone included, so that the day is read in the same zone again.
func TestAuditQueryValuesKeepTheZone(t *testing.T) {
	for _, tt := range []struct{ query, want string }{
		{"from=2026-01-02&tz=Asia/Kolkata", "from=2026-01-02&tz=Asia%2FKolkata"},
		{"to=2026-01-05&tz=Asia/Kolkata", "to=2026-01-05&tz=Asia%2FKolkata"},
		{"action=credential.reset&tz=Asia/Kolkata", "action=credential.reset"},
	} {
		q, _ := url.ParseQuery(tt.query)
		if got := ParseAuditQuery(q).Values().Encode(); got != tt.want {
			t.Errorf("ParseAuditQuery(%q).Values() = %q, want %q", tt.query, got, tt.want)
		}
	}
}

func TestParseAuditQuery(t *testing.T) {
	q, _ := url.ParseQuery("domain=example.com&actor=ada&action=credential.reset&outcome=ok&from=2026-01-02&to=2026-01-05&login=user001%40example.com&before=42&after=7")
	got := ParseAuditQuery(q) // a link never carries both cursors: "before" wins
	want := AuditQuery{
		Form: views.AuditFilter{Domain: "example.com", Actor: "ada", Action: "credential.reset", Outcome: "ok",
			From: "2026-01-02", To: "2026-01-05", Login: "user001@example.com"},
		Before: 42,
		From:   time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		To:     time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseAuditQuery = %+v, want %+v", got, want)
	}
	if got, want := got.Values().Encode(), "action=credential.reset&actor=ada&domain=example.com&from=2026-01-02&login=user001%40example.com&outcome=ok&to=2026-01-05"; got != want {
		t.Errorf("Values = %q, want %q", got, want)
	}

	// Each malformed value is left out of the filter and named, quoted so that control
	// characters show as escapes; the rest of the filter still applies.
	tests := []struct {
		query   string
		want    views.AuditFilter
		problem string // a part of the one problem expected, "" for none
	}{
		{"domain=EXAMPLE.com", views.AuditFilter{Domain: "example.com"}, ""},
		// Pasted with invisible characters: applied without them.
		{"domain=%E2%80%8Bexample.com&actor=%EF%BB%BFada+&login=bob%E2%80%8B%40acme.example&from=2026-01-02%E2%81%A0",
			views.AuditFilter{Domain: "example.com", Actor: "ada", Login: "bob@acme.example", From: "2026-01-02"}, ""},
		{"domain=exa%00mple.com&actor=ada", views.AuditFilter{Actor: "ada"}, `domain filter "exa\x00mple.com" was not applied: it contains control characters`},
		{"domain=a%2Fb.example", views.AuditFilter{}, `domain filter "a/b.example" was not applied: a domain name has only`},
		{"domain=..", views.AuditFilter{}, `domain filter ".." was not applied`},
		{"actor=%FF", views.AuditFilter{}, `actor filter "\xff" was not applied: it contains control characters or is not valid UTF-8`},
		{"login=a%0D%0Ab%40example.com&outcome=ok", views.AuditFilter{Outcome: "ok"}, `login filter "a\r\nb@example.com" was not applied`},
		{"action=drop+table", views.AuditFilter{}, `action filter "drop table" was not applied: it is not one of the choices`},
		{"outcome=maybe", views.AuditFilter{}, `outcome filter "maybe" was not applied`},
		{"from=yesterday&to=2026-01-05", views.AuditFilter{To: "2026-01-05"}, `from date "yesterday" was not applied: write it as YYYY-MM-DD`},
		{"to=2026-13-01", views.AuditFilter{}, `to date 2026-13-01 was not applied: there is no such day`},
		{"to=2026-1-5", views.AuditFilter{}, `to date "2026-1-5" was not applied: write it as YYYY-MM-DD`},
		{"from=2026-02-01&to=2026-01-31", views.AuditFilter{From: "2026-02-01", To: "2026-01-31"}, "from date 2026-02-01 is after the to date 2026-01-31, so no entry can match"},
		{"from=2026-01-31&to=2026-01-31", views.AuditFilter{From: "2026-01-31", To: "2026-01-31"}, ""},
		{"before=-3&before=x", views.AuditFilter{}, ""},
		// A zone is read only for the dates: without any, one this server cannot read is no
		// problem of the search (the page's script puts the browser's in every search).
		{"tz=Etc%2FUnknown&action=credential.reset", views.AuditFilter{Action: "credential.reset"}, ""},
		{"tz=Etc%2FUnknown&from=2026-01-02", views.AuditFilter{From: "2026-01-02"}, `time zone "Etc/Unknown" was not applied: the dates are read as days in UTC`},
		// The first day Go can name is its zero time, and still a day: nothing is that old.
		{"to=0001-01-01", views.AuditFilter{To: "0001-01-01"}, ""},
		{"from=2026-01-01&to=0001-01-01", views.AuditFilter{From: "2026-01-01", To: "0001-01-01"}, "from date 2026-01-01 is after the to date 0001-01-01"},
		// The trail names logins whole: a local part alone is kept (the form shows it) and named.
		{"domain=acme.example&login=alice", views.AuditFilter{Domain: "acme.example", Login: "alice"}, `login filter "alice" has no @, so no entry can match: write the whole login, such as alice@acme.example.`},
		{"login=bob", views.AuditFilter{Login: "bob"}, `login filter "bob" has no @, so no entry can match`},
	}
	for _, tt := range tests {
		q, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		got := ParseAuditQuery(q)
		if got.Form != tt.want {
			t.Errorf("%s: filter %+v, want %+v", tt.query, got.Form, tt.want)
		}
		if got.Before != 0 {
			t.Errorf("%s: before = %d, want 0", tt.query, got.Before)
		}
		switch {
		case tt.problem == "" && len(got.Problems) > 0:
			t.Errorf("%s: problems %q, want none", tt.query, got.Problems)
		case tt.problem != "" && (len(got.Problems) != 1 || !strings.Contains(got.Problems[0], tt.problem)):
			t.Errorf("%s: problems %q, want one containing %q", tt.query, got.Problems, tt.problem)
		}
	}
	all, _ := url.ParseQuery("domain=%01&actor=%02&login=%03&action=x&outcome=y&from=z&to=w")
	if got := ParseAuditQuery(all); len(got.Problems) != 7 || got.Form != (views.AuditFilter{}) || !got.From.IsZero() || !got.To.IsZero() {
		t.Errorf("every filter malformed: %+v, want 7 problems and no filter", got)
	}
}

// TestAuditDatesAreWholeDaysInTheZone: a date filter covers its day in the viewer's zone, from
// the day's first instant to the next day's, including a day whose midnight the clocks skip
// (Santiago, Havana and Beirut go forward at 00:00). Read as midnight there, the day began at
// 23:00 the day before (Santiago, Havana) or "to" it ran on to 01:00 of the next day (Beirut).
func TestAuditDatesAreWholeDaysInTheZone(t *testing.T) {
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		zone, day    string
		from, before time.Time // the day's first instant, and the next day's
	}{
		{"UTC", "2026-03-08", utc("2026-03-08T00:00:00Z"), utc("2026-03-09T00:00:00Z")},
		{"Asia/Kolkata", "2026-03-10", utc("2026-03-09T18:30:00Z"), utc("2026-03-10T18:30:00Z")},
		// 02:00 becomes 03:00: a 23-hour day that begins at midnight.
		{"America/New_York", "2026-03-08", utc("2026-03-08T05:00:00Z"), utc("2026-03-09T04:00:00Z")},
		// 00:00 becomes 01:00: the day begins at 01:00 -03, and the day before ends there.
		{"America/Santiago", "2026-09-06", utc("2026-09-06T04:00:00Z"), utc("2026-09-07T03:00:00Z")},
		{"America/Santiago", "2026-09-05", utc("2026-09-05T04:00:00Z"), utc("2026-09-06T04:00:00Z")},
		{"America/Havana", "2026-03-08", utc("2026-03-08T05:00:00Z"), utc("2026-03-09T04:00:00Z")},
		{"Asia/Beirut", "2026-03-29", utc("2026-03-28T22:00:00Z"), utc("2026-03-29T21:00:00Z")},
		// Samoa skipped 30 December 2011 whole: that day is empty, not the day after.
		{"Pacific/Apia", "2011-12-30", utc("2011-12-30T10:00:00Z"), utc("2011-12-30T10:00:00Z")},
		// 24:00 becomes 23:00 the day before (Santiago going back): a 25-hour day.
		{"America/Santiago", "2026-04-04", utc("2026-04-04T03:00:00Z"), utc("2026-04-05T04:00:00Z")},
	}
	for _, tt := range tests {
		q := url.Values{"from": {tt.day}, "to": {tt.day}, "tz": {tt.zone}}
		got := ParseAuditQuery(q)
		if len(got.Problems) > 0 {
			t.Errorf("%s in %s: problems %q", tt.day, tt.zone, got.Problems)
		}
		if !got.From.Equal(tt.from) || !got.To.Equal(tt.before) {
			t.Errorf("%s in %s: from %s to %s, want from %s to %s", tt.day, tt.zone,
				got.From.UTC().Format(time.RFC3339), got.To.UTC().Format(time.RFC3339), tt.from.Format(time.RFC3339), tt.before.Format(time.RFC3339))
		}
	}
}

func TestCSVSafe(t *testing.T) {
	tests := map[string]string{
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
		"+1":                "'+1",
		"-2+3":              "'-2+3",
		"@SUM(A1)":          "'@SUM(A1)",
		"\tx":               "'\tx",
		"\rx":               "'\rx",
		"alice@example.com": "alice@example.com",
		"":                  "",
		"a=b":               "a=b",
		// Leading white space that a spreadsheet may trim on import.
		" =HYPERLINK(\"x\")":      "' =HYPERLINK(\"x\")",
		"  +1":                    "'  +1",
		"\n-2":                    "'\n-2",
		"\u00a0@SUM(A1)":          "'\u00a0@SUM(A1)",
		" \tx":                    "' \tx",
		"   ":                     "   ",
		" alice@example.com":      " alice@example.com",
		"Alice Example (support)": "Alice Example (support)",
	}
	for in, want := range tests {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClip(t *testing.T) {
	if got, want := clip("abc", 5), "abc"; got != want {
		t.Errorf("clip = %q, want %q", got, want)
	}
	if got, want := clip("aé", 2), "a…"; got != want {
		t.Errorf("clip = %q, want %q", got, want)
	}
}

func TestCreatedCount(t *testing.T) {
	tests := []struct {
		msg  string
		n    int
		okay bool
	}{
		{"Created 3 credentials pair(s)", 3, true},
		{"created 1 credentials pair(s)", 1, true},
		{"Password changed", 0, false},
		{"Created many", 0, false},
	}
	for _, tt := range tests {
		n, ok := createdCount(tt.msg)
		if n != tt.n || ok != tt.okay {
			t.Errorf("createdCount(%q) = %d, %v; want %d, %v", tt.msg, n, ok, tt.n, tt.okay)
		}
	}
}

func FuzzParseCreateForm(f *testing.F) {
	f.Add("alice\nbob@example.com\n")
	f.Add("a b\n@\n\r\n")
	f.Add("x@other.org\nä/ö")
	f.Fuzz(func(t *testing.T, text string) {
		got := ParseCreateForm("example.com", url.Values{"logins": {text}})
		for _, l := range got.Logins {
			if err := mailgun.ValidateSpec(l); err != nil {
				t.Fatalf("accepted login %q fails ValidateSpec: %v", l, err)
			}
			if !strings.HasSuffix(l, "@example.com") || strings.Count(l, "@") != 1 {
				t.Fatalf("accepted login %q is not a single address in the domain", l)
			}
		}
		if len(got.Logins) > MaxCreateLines {
			t.Fatalf("%d logins accepted", len(got.Logins))
		}
	})
}
