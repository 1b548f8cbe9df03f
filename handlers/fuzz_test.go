package handlers

import (
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/smtpdesk/smtpdesk/mailgun"
)

// Fuzz targets for the parsers of outside input (issue 9). Each has a committed seed corpus
// under testdata/fuzz/<name>; run one with
//
//	go test -run '^$' -fuzz FuzzParsePaging -fuzztime 20s ./handlers

func FuzzParsePaging(f *testing.F) {
	f.Add("2", "50", "")
	f.Add("0", "7", "page=3&per_page=500")
	f.Add("-1", "", "page=1000001")
	f.Add("9223372036854775807", "100", "")
	f.Add(" 3", "+25", "page=%zz")
	f.Fuzz(func(t *testing.T, page, perPage, raw string) {
		inputs := []url.Values{{"page": {page}, "per_page": {perPage}}}
		if q, err := url.ParseQuery(raw); err == nil {
			inputs = append(inputs, q)
		}
		for _, q := range inputs {
			p := ParsePaging(q)
			if p.Page < 1 || p.Page > 1_000_000 {
				t.Fatalf("ParsePaging(%v).Page = %d, want 1 to 1000000", q, p.Page)
			}
			if !slices.Contains(PageSizes(), p.PerPage) {
				t.Fatalf("ParsePaging(%v).PerPage = %d, want one of %v", q, p.PerPage, PageSizes())
			}
			if s := p.Skip(); s < 0 || s != (p.Page-1)*p.PerPage {
				t.Fatalf("ParsePaging(%v).Skip() = %d", q, s)
			}
			// What was asked for is kept when it is valid, and the default used otherwise.
			wantPage := 1
			if n, err := strconv.Atoi(q.Get("page")); err == nil && n >= 1 && n <= 1_000_000 {
				wantPage = n
			}
			wantPer := DefaultPerPage
			if n, err := strconv.Atoi(q.Get("per_page")); err == nil && slices.Contains(PageSizes(), n) {
				wantPer = n
			}
			if p.Page != wantPage || p.PerPage != wantPer {
				t.Fatalf("ParsePaging(%v) = %+v, want page %d per_page %d", q, p, wantPage, wantPer)
			}
			if last := LastPage(p.Skip()+1, p.PerPage); last != p.Page {
				t.Fatalf("LastPage(%d, %d) = %d, want %d", p.Skip()+1, p.PerPage, last, p.Page)
			}
		}
	})
}

// resetMessages are the only texts the reset form may answer with: none echoes the password.
var resetMessages = regexp.MustCompile(`^(Enter a password, or choose a generated one\.|The two passwords you typed were different\. Type the same password in both fields\.|Use 5 to 32 characters \(you typed \d+\)\.|This password has a tab, a line break or another control character, which mail apps cannot send\. Use letters, digits, spaces and symbols\.|This password has an invisible (zero-width space|word joiner|byte-order mark|soft hyphen) \(U\+[0-9A-F]{4,6}\), which a paste brings along and nobody could type into a mail app\. Type the password, or paste it again from where it was written\.)$`)

func FuzzParseResetForm(f *testing.F) {
	f.Add("manual", "hunter22", "hunter22")
	f.Add("manual", "abcd", "abcd")
	f.Add("manual", "abcdef", "abcdeg")
	f.Add("generate", "whatever", "")
	f.Add("MANUAL", "héllo wörld", "héllo wörld")
	f.Add("manual", strings.Repeat("é", 32), strings.Repeat("é", 32))
	f.Fuzz(func(t *testing.T, mode, pw, pw2 string) {
		form := ParseResetForm(url.Values{"mode": {mode}, "password": {pw}, "password2": {pw2}})
		switch form.Mode {
		case "manual":
			if mode != "manual" {
				t.Fatalf("mode %q parsed as manual", mode)
			}
		case "generate":
			if mode == "manual" {
				t.Fatal("mode manual parsed as generate")
			}
			if form.Password != "" {
				t.Fatalf("generate mode kept password %q", form.Password)
			}
			// A generated password, unless a password was typed or the choice is one the
			// page does not offer: then the mode is what the form says, and nothing else.
			var want FormErrors
			switch {
			case mode != "generate" && mode != "":
				want = FormErrors{"mode": `Choose "Generate" or "Choose a password".`}
			case pw != "" || pw2 != "":
				want = FormErrors{"mode": ModeTypedPassword}
			}
			if len(want) != len(form.Errors) || form.Errors["mode"] != want["mode"] {
				t.Fatalf("mode %q with passwords typed %v: errors %v, want %v", mode, pw != "" || pw2 != "", form.Errors, want)
			}
			return
		default:
			t.Fatalf("mode %q parsed as %q", mode, form.Mode)
		}
		if len(form.Errors) == 0 {
			n := utf8.RuneCountInString(pw)
			if n < MinPassword || n > MaxPassword || pw != pw2 || form.Password != pw || !printable(pw) || strings.ContainsFunc(pw, pastedInvisible) {
				t.Fatalf("accepted a manual password of %d characters (match %v, kept %v, printable %v)", n, pw == pw2, form.Password == pw, printable(pw))
			}
			return
		}
		if form.Password != "" {
			t.Fatal("a refused password was kept")
		}
		for field, msg := range form.Errors {
			if field != "password" && field != "password2" {
				t.Fatalf("error on field %q", field)
			}
			if !resetMessages.MatchString(msg) {
				t.Fatalf("unexpected message %q", msg)
			}
		}
	})
}

func FuzzParseAuditQuery(f *testing.F) {
	f.Add("acme.example", "ada@smtpdesk.example", "credential.create", "ok", "alice", "2026-01-01", "2026-01-31", "42")
	f.Add("", "", "credential.nope", "OK", "", "2026-02-30", "yesterday", "-5")
	f.Add("  ", "\t", "", "", " ", "", "", "0")
	f.Add(strings.Repeat("é", 200), "", "auth.sign_in", "denied", "", "0001-01-01", "9999-12-31", "9223372036854775807")
	f.Fuzz(func(t *testing.T, domain, actor, action, outcome, login, from, to, before string) {
		q := url.Values{"domain": {domain}, "actor": {actor}, "action": {action}, "outcome": {outcome},
			"login": {login}, "from": {from}, "to": {to}, "before": {before}}
		a := ParseAuditQuery(q)
		// A text filter is what was typed, trimmed (and clipped; the domain lower-cased), or it is
		// left out and named among the problems: never one the user did not ask for, never
		// dropped in silence.
		dropped := 0
		for _, fld := range []struct {
			name, in, got string
			valid         func(string) bool
		}{
			{"domain", strings.ToLower(domain), a.Form.Domain, func(s string) bool { return printable(s) && mailgun.ValidateDomain(s) == nil }},
			{"actor", actor, a.Form.Actor, printable},
			{"login", login, a.Form.Login, printable},
		} {
			in := strings.TrimSpace(fld.in)
			kept := cut(in, 255)
			switch {
			case in == "" && fld.got != "":
				t.Fatalf("%s %q gave the filter %q", fld.name, fld.in, fld.got)
			case in != "" && !fld.valid(kept):
				if fld.got != "" {
					t.Fatalf("%s %q (malformed) gave the filter %q", fld.name, fld.in, fld.got)
				}
				dropped++
			case len(in) <= 255 && fld.got != in:
				t.Fatalf("%s %q gave the filter %q, want it as typed", fld.name, fld.in, fld.got)
			case len(in) > 255 && (!strings.HasPrefix(in, fld.got) || len(fld.got) > 255 || len(fld.got) < 252):
				t.Fatalf("%s of %d bytes gave %q, want its first 252 to 255 bytes", fld.name, len(in), fld.got)
			case !utf8.ValidString(fld.got):
				t.Fatalf("%s %q gave invalid UTF-8 %q", fld.name, fld.in, fld.got)
			}
		}
		for _, c := range []struct {
			in      string
			allowed []string
		}{{action, AuditActions()}, {outcome, AuditOutcomes()}} {
			if c.in != "" && !slices.Contains(c.allowed, c.in) {
				dropped++
			}
		}
		for _, in := range []string{from, to} {
			if v := strings.TrimSpace(in); v != "" {
				if _, err := time.Parse(time.DateOnly, v); err != nil {
					dropped++
				}
			}
		}
		if !a.From.IsZero() && !a.To.IsZero() && !a.From.Before(a.To) {
			dropped++ // not dropped: named because it cannot match
		}
		if a.Form.Login != "" && !strings.Contains(a.Form.Login, "@") {
			dropped++ // not dropped either: a login without its domain matches no entry
		}
		if len(a.Problems) != dropped {
			t.Fatalf("%d problems %q, want %d", len(a.Problems), a.Problems, dropped)
		}
		// The problems go into the page as text: no control character or invalid UTF-8 of the
		// address gets through.
		for _, p := range a.Problems {
			if !printable(p) {
				t.Fatalf("problem %q is not printable", p)
			}
		}
		if a.Form.Action != "" && (a.Form.Action != action || !slices.Contains(AuditActions(), action)) {
			t.Fatalf("action %q gave %q", action, a.Form.Action)
		}
		if slices.Contains(AuditActions(), action) && a.Form.Action != action {
			t.Fatalf("known action %q dropped", action)
		}
		if a.Form.Outcome != "" && (a.Form.Outcome != outcome || !slices.Contains(AuditOutcomes(), outcome)) {
			t.Fatalf("outcome %q gave %q", outcome, a.Form.Outcome)
		}
		checkDate := func(name, in, form string, got time.Time, plusDay bool) {
			t.Helper()
			in = strings.TrimSpace(in)
			d, err := time.Parse(time.DateOnly, in)
			if err != nil {
				if form != "" || !got.IsZero() {
					t.Fatalf("%s %q (invalid) gave %q / %v", name, in, form, got)
				}
				return
			}
			if plusDay {
				d = d.AddDate(0, 0, 1)
			}
			if form != in || !got.Equal(d) {
				t.Fatalf("%s %q gave %q / %v, want %v", name, in, form, got, d)
			}
		}
		checkDate("from", from, a.Form.From, a.From, false)
		checkDate("to", to, a.Form.To, a.To, true)
		if n, err := strconv.ParseInt(before, 10, 64); err == nil && n > 0 {
			if a.Before != n {
				t.Fatalf("before %q gave %d", before, a.Before)
			}
		} else if a.Before != 0 {
			t.Fatalf("before %q gave %d, want none", before, a.Before)
		}
		sf := a.StoreFilter()
		if sf.Domain != a.Form.Domain || sf.Actor != a.Form.Actor || sf.Action != a.Form.Action || sf.Outcome != a.Form.Outcome ||
			sf.Login != a.Form.Login || !sf.From.Equal(a.From) || !sf.To.Equal(a.To) || sf.Before != a.Before {
			t.Fatalf("StoreFilter %+v differs from the form %+v", sf, a)
		}
		// The links the page builds from the filter (Values) keep it as it is, even when a long
		// text filter had to be cut: clicking through the pages must not change it.
		again := ParseAuditQuery(a.Values())
		again.Before = a.Before
		if again.Form != a.Form || !again.From.Equal(a.From) || !again.To.Equal(a.To) {
			t.Fatalf("filter %+v became %+v after a round trip through its link", a.Form, again.Form)
		}
	})
}

// FuzzLoginSpec fuzzes the login path segment of /d/:domain/logins/:login/….
func FuzzLoginSpec(f *testing.F) {
	f.Add(uint8(0), "alice")
	f.Add(uint8(1), "alice@ACME.example")
	f.Add(uint8(0), "alice@other.org")
	f.Add(uint8(0), "@example.com")
	f.Add(uint8(1), "a/b")
	f.Add(uint8(0), "..")
	f.Add(uint8(0), "a@b@example.com")
	domains := []string{"example.com", "Acme.Example"}
	f.Fuzz(func(t *testing.T, which uint8, login string) {
		domain := domains[int(which)%len(domains)]
		full, err := LoginSpec(domain, login)
		if err != nil {
			if !errors.Is(err, mailgun.ErrInvalidInput) {
				t.Fatalf("LoginSpec(%q, %q) error %v does not wrap ErrInvalidInput", domain, login, err)
			}
			if full != "" {
				t.Fatalf("LoginSpec(%q, %q) returned %q with an error", domain, login, full)
			}
			return
		}
		local, d, ok := strings.Cut(full, "@")
		switch {
		case !ok || local == "" || strings.Contains(d, "@"):
			t.Fatalf("LoginSpec(%q, %q) = %q, want one address with a local part", domain, login, full)
		case d != strings.ToLower(domain):
			t.Fatalf("LoginSpec(%q, %q) = %q, not in the domain", domain, login, full)
		case mailgun.ValidateSpec(full) != nil:
			t.Fatalf("LoginSpec(%q, %q) = %q, which ValidateSpec refuses: %v", domain, login, full, mailgun.ValidateSpec(full))
		}
		if again, err := LoginSpec(domain, full); err == nil && again != full {
			t.Fatalf("LoginSpec is not stable: %q → %q → %q", login, full, again)
		} else if err != nil {
			t.Fatalf("LoginSpec(%q, %q) refuses its own result: %v", domain, full, err)
		}
	})
}
