package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/store"
	"github.com/smtpdesk/smtpdesk/views"
)

// Form limits.
const (
	// MaxCreateLines is the most logins one create form may hold.
	MaxCreateLines = 100
	// MaxLocalPart is the longest local part accepted (RFC 5321).
	MaxLocalPart = 64
	// MinPassword and MaxPassword bound a manual password (Mailgun's documented limits).
	MinPassword = 5
	MaxPassword = 32
	// DefaultPerPage is the domain page's page size when none (or a strange one) is asked for.
	DefaultPerPage = 100
	// HomePerPage is the home page's: each domain listed costs a Mailgun call for its login
	// count (cached for a minute), so an account of thousands of domains is shown a page at a
	// time.
	HomePerPage = 50
	// AuditPageSize is the number of audit entries per page.
	AuditPageSize = 50
)

// bodyForm returns the fields of a POST's body, never those of its URL's query (which echo's
// FormParams and Go's Request.Form mix in). SMTP Desk's forms send everything in the body, and a
// field in a URL is one that histories, logs and Referer headers keep: a password or a form
// token put in a link must not be acted on, as the CSRF token in one is not (auth's check reads
// the body too).
// A body that is not a form or cannot be read is auth.ReadForm's error (the CSRF check has
// refused it already, wherever the token came from), for the error handler: the page says so,
// never the parser's words.
func bodyForm(r *http.Request) (url.Values, error) {
	if err := auth.ReadForm(r); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

// PageSizes are the page sizes the domain page offers.
func PageSizes() []int { return []int{25, 50, 100, 500} }

// HomePageSizes are the page sizes the home page offers.
func HomePageSizes() []int { return []int{25, 50, 100} }

// Paging is a parsed ?page=&per_page= pair.
type Paging struct {
	Page    int // 1-based
	PerPage int
	// Note says, in a sentence for the page, which value was not usable and what is shown
	// instead; "" when both were usable or absent.
	Note string
}

// Skip is Mailgun's skip for this page.
func (p Paging) Skip() int { return (p.Page - 1) * p.PerPage }

// maxPage keeps skip far from overflow; Mailgun has nothing that far anyway.
const maxPage = 1_000_000

// ParsePaging reads the domain page's page and per_page. Anything invalid falls back to the
// default (page 1, DefaultPerPage) instead of failing, so a mangled link still shows a list, and
// Note says so.
func ParsePaging(q url.Values) Paging {
	return parsePaging(q, PageSizes(), DefaultPerPage, "logins")
}

// parsePaging reads page and per_page for a list of things (its noun, plural) offered in sizes,
// def when none is asked for.
func parsePaging(q url.Values, sizes []int, def int, things string) Paging {
	p := Paging{Page: 1, PerPage: def}
	var notes []string
	if raw := q.Get("per_page"); raw != "" {
		if n, err := strconv.Atoi(raw); err == nil && slices.Contains(sizes, n) {
			p.PerPage = n
		} else {
			notes = append(notes, fmt.Sprintf("The page size %q was not used: the choices are %s, and this page shows %d %s.", clip(raw, 24), sizeChoices(sizes), p.PerPage, things))
		}
	}
	if raw := q.Get("page"); raw != "" {
		if n, err := strconv.Atoi(raw); err == nil && n >= 1 && n <= maxPage {
			p.Page = n
		} else {
			notes = append(notes, fmt.Sprintf("The page number %q was not used: this is the first page.", clip(raw, 24)))
		}
	}
	p.Note = strings.Join(notes, " ")
	return p
}

// sizeChoices lists page sizes in words: "25, 50, 100 and 500".
func sizeChoices(sizes []int) string {
	words := make([]string, len(sizes))
	for i, n := range sizes {
		words[i] = strconv.Itoa(n)
	}
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// PastEnd moves p to last, the last page there is, when it asks for one after it, and says so in
// Note.
func (p *Paging) PastEnd(last int) {
	if p.Page <= last {
		return
	}
	note := fmt.Sprintf("There is no page %d: this is the last page, %d.", p.Page, last)
	if last == 1 {
		note = fmt.Sprintf("There is no page %d: this is the only page.", p.Page)
	}
	p.Page = last
	p.Note = strings.TrimSpace(p.Note + " " + note)
}

// LastPage is the number of the last page of total items (1 when empty). total is Mailgun's
// total_count, which nothing bounds: the sum a rounding-up division would take first overflows
// near the top of int, and gave a negative page count (no pager at all).
func LastPage(total, perPage int) int {
	if total <= 0 || perPage <= 0 {
		return 1
	}
	return (total-1)/perPage + 1
}

// FormErrors maps a form field name to what is wrong with it.
type FormErrors map[string]string

// CreateForm is the parsed create-credentials form.
type CreateForm struct {
	Raw        string   // the textarea as typed, kept on error
	Logins     []string // full addresses in the domain, in the order typed
	Lines      []int    // the line each of Logins was typed on
	Mode       string   // "generate" or "manual"
	Password   string   // manual mode only
	System     bool
	Errors     FormErrors
	LineErrors []views.LineError
}

// OK reports whether the form can be sent.
func (f *CreateForm) OK() bool { return len(f.Errors) == 0 && len(f.LineErrors) == 0 }

// ParseCreateForm reads and checks the create form for domain. Every problem is reported
// (each bad line by number) before anything is sent to Mailgun.
func ParseCreateForm(domain string, v url.Values) CreateForm {
	f := CreateForm{
		Raw:    v.Get("logins"),
		System: v.Get("system") == "on",
		Errors: FormErrors{},
	}
	f.Mode, f.Password = parsePassword(v, f.Errors)

	seen := map[string]int{} // lower-cased full login → line number
	count := 0
	for i, line := range strings.Split(f.Raw, "\n") {
		n := i + 1
		text := strings.TrimSpace(line)
		if text == "" {
			continue
		}
		count++
		if count > MaxCreateLines {
			continue
		}
		full, problem := normalizeLogin(domain, text)
		if problem == "" {
			if first, dup := seen[strings.ToLower(full)]; dup {
				problem = fmt.Sprintf("duplicate of line %d", first)
			}
		}
		if problem != "" {
			f.LineErrors = append(f.LineErrors, views.LineError{Line: n, Text: clip(text, 80), Problem: problem})
			continue
		}
		seen[strings.ToLower(full)] = n
		f.Logins = append(f.Logins, full)
		f.Lines = append(f.Lines, n)
	}
	switch {
	case count == 0:
		f.Errors["logins"] = "Enter at least one login, one per line."
	case count > MaxCreateLines:
		f.Errors["logins"] = fmt.Sprintf("At most %d logins at a time; you entered %d.", MaxCreateLines, count)
	}
	return f
}

// namedIn returns a line error for each of the form's logins that msg (Mailgun's refusal,
// "Credentials for alice@example.com already exist") names as a whole word, with problem. Only
// the login as typed is shown, never Mailgun's text.
func (f *CreateForm) namedIn(msg, problem string) []views.LineError {
	var out []views.LineError
	for _, i := range namedIndexes(msg, f.Logins) {
		out = append(out, views.LineError{Line: f.Lines[i], Text: clip(f.Logins[i], 80), Problem: problem})
	}
	return out
}

// namedIndexes returns the indexes of the logins that msg (Mailgun's text, never shown) names as
// a whole word, regardless of case.
func namedIndexes(msg string, logins []string) []int {
	words := strings.FieldsFunc(strings.ToLower(msg), func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune("\"'`()[]<>,;:", r)
	})
	var out []int
	for i, l := range logins {
		if slices.ContainsFunc(words, func(w string) bool { return strings.TrimRight(w, ".") == strings.ToLower(l) }) {
			out = append(out, i)
		}
	}
	return out
}

// normalizeLogin turns a line (a local part, or a full address in domain) into the full
// address, or says what is wrong with it.
func normalizeLogin(domain, text string) (string, string) {
	local := text
	if at := strings.LastIndexByte(text, '@'); at >= 0 {
		local = text[:at]
		if d := text[at+1:]; !strings.EqualFold(d, domain) {
			if d == "" {
				return "", "nothing after the @"
			}
			return "", fmt.Sprintf("not in this domain (%s)", clip(d, 60))
		}
	}
	if p := checkLocalPart(local); p != "" {
		return "", p
	}
	full := local + "@" + strings.ToLower(domain)
	if err := mailgun.ValidateSpec(full); err != nil {
		return "", "not a valid login"
	}
	return full, ""
}

// checkLocalPart is stricter than Mailgun's spec rule: the characters people actually use in
// SMTP logins, so a typo never becomes a strange credential. Dots go between other characters,
// as in an address (RFC 5321's dot-string): "a..b", ".a" or "a." is a typo, not a login.
func checkLocalPart(s string) string {
	if s == "" {
		return "the part before the @ is empty"
	}
	if strings.ContainsRune(s, '@') {
		return "more than one @"
	}
	if len(s) > MaxLocalPart {
		return fmt.Sprintf("longer than %d characters", MaxLocalPart)
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '.', r == '_', r == '+', r == '-':
		case r == ' ' || r == '\t':
			return "contains a space"
		default:
			return fmt.Sprintf("contains %q; use letters, digits and . _ + - only", r)
		}
	}
	switch {
	case strings.HasPrefix(s, "."):
		return "starts with a dot; a dot goes between two other characters"
	case strings.HasSuffix(s, "."):
		return "ends with a dot; a dot goes between two other characters"
	case strings.Contains(s, ".."):
		return "has two dots in a row"
	}
	return ""
}

type fieldMsg struct{ field, text string }

// checkPassword checks a manual password typed twice. It never echoes the password.
func checkPassword(pw, again string) fieldMsg {
	n := utf8.RuneCountInString(pw)
	switch {
	case pw == "":
		return fieldMsg{"password", "Enter a password, or choose a generated one."}
	case !printable(pw):
		// Only a script, or a paste from a spreadsheet row (a tab), sends one: no mail app
		// can send a NUL (SMTP AUTH PLAIN separates its fields with it) or keep a line break
		// in its settings, and the login's old password would be gone for it.
		return fieldMsg{"password", "This password has a tab, a line break or another control character, which mail apps cannot send. Use letters, digits, spaces and symbols."}
	case strings.ContainsFunc(pw, pastedInvisible):
		// A zero-width space or a byte-order mark a paste brought along (from a chat, a
		// document, a password manager's note) is set as part of the password, and the mail app,
		// where nobody types it, is refused ever after. It is named, the password never.
		r := []rune(pw)[slices.IndexFunc([]rune(pw), pastedInvisible)]
		return fieldMsg{"password", fmt.Sprintf("This password has an invisible %s (%U), which a paste brings along and nobody could type into a mail app. Type the password, or paste it again from where it was written.", invisibleNames[r], r)}
	case n < MinPassword || n > MaxPassword:
		return fieldMsg{"password", fmt.Sprintf("Use %d to %d characters (you typed %d).", MinPassword, MaxPassword, n)}
	case pw != again:
		// What to do too, not only what was wrong: the form comes back with both fields empty
		// (a password is never sent back to the page), beside which "do not match" alone left
		// the user to guess.
		return fieldMsg{"password2", "The two passwords you typed were different. Type the same password in both fields."}
	}
	return fieldMsg{}
}

// pastedInvisible reports whether r is an invisible character a paste brings along and no keyboard
// types: a zero-width space, a word joiner, a byte-order mark, a soft hyphen. The other
// formatting characters are typed (the zero-width non-joiner on a Persian keyboard, the joiner
// of an emoji sequence, direction marks, an emoji flag's tags) and stay allowed.
func pastedInvisible(r rune) bool {
	_, ok := invisibleNames[r]
	return ok
}

// invisibleNames names the characters pastedInvisible reports, for the message.
var invisibleNames = map[rune]string{
	'\u200b': "zero-width space",
	'\u2060': "word joiner",
	'\ufeff': "byte-order mark",
	'\u00ad': "soft hyphen",
}

// parsePassword reads a create or reset form's password choice: the mode ("generate" or
// "manual"; "generate" when no choice was sent, as the page checks it first, and to show the form
// again with when the choice is one the page does not offer) and the password, which only a
// manual choice whose two fields agree and fit Mailgun's limits yields. What is wrong goes into
// errs. A password typed while "Generate" is chosen is refused rather than dropped: the script
// disables the password fields while "Generate" is chosen, so only a page without it sends
// both, and its user may believe the password typed is the one set.
func parsePassword(v url.Values, errs FormErrors) (mode, password string) {
	pw, again := v.Get("password"), v.Get("password2")
	switch m := v.Get("mode"); m {
	case "manual":
		if msg := checkPassword(pw, again); msg.field != "" {
			errs[msg.field] = msg.text
			return "manual", ""
		}
		return "manual", pw
	case "generate", "":
		if pw != "" || again != "" {
			errs["mode"] = ModeTypedPassword
		}
	default:
		errs["mode"] = `Choose "Generate" or "Choose a password".`
	}
	return "generate", ""
}

// ModeTypedPassword is the form's answer to a password typed while "Generate" is chosen.
const ModeTypedPassword = `You typed a password, but "Generate" is chosen. To set the password you typed, choose "Choose a password" and type it again; to have one generated, leave both password fields empty.`

// ResetForm is the parsed reset-password form.
type ResetForm struct {
	Mode     string
	Password string // manual mode only
	Errors   FormErrors
}

// ParseResetForm reads and checks the reset form.
func ParseResetForm(v url.Values) ResetForm {
	f := ResetForm{Errors: FormErrors{}}
	f.Mode, f.Password = parsePassword(v, f.Errors)
	return f
}

// LoginSpec checks a login named in a URL for domain and returns its full address. A local
// part is completed with the domain; a full address must be in the domain.
func LoginSpec(domain, login string) (string, error) {
	if err := mailgun.ValidateSpec(login); err != nil {
		return "", fmt.Errorf("the login %q is not valid: %w", clip(login, 80), err)
	}
	local, d, found := strings.Cut(login, "@")
	// ValidateSpec has refused control characters, so the login can be named as it is.
	if found && !strings.EqualFold(d, domain) {
		return "", fmt.Errorf("the login %s is not in %s: the logins of %s end in @%s: %w", clip(login, 80), domain, domain, domain, mailgun.ErrInvalidInput)
	}
	if local == "" {
		return "", fmt.Errorf("the login has nothing before the @: %w", mailgun.ErrInvalidInput)
	}
	full := local + "@" + strings.ToLower(domain)
	if err := mailgun.ValidateSpec(full); err != nil {
		// A local part that is valid alone can still make the full address too long.
		return "", fmt.Errorf("the login %q is not valid: %w", clip(login, 80), err)
	}
	return full, nil
}

// IsSystemLogin reports whether a login is Mailgun's own system credential. Mailgun's list has no
// system flag; every domain gets postmaster@<domain> as its system login and it cannot be
// deleted, so the local part is the signal (an inference, not documented). The logins SMTP Desk
// created as system logins are known from the audit trail instead (rotation.isSystem).
func IsSystemLogin(login string) bool {
	local, _, _ := strings.Cut(login, "@")
	return strings.EqualFold(local, "postmaster")
}

// AuditQuery is the parsed filter of the audit page and exports.
type AuditQuery struct {
	Form   views.AuditFilter // what the form shows and the query applies (malformed values left out)
	Before int64             // "Older entries": the entries older than this id
	After  int64             // "Newer entries": the page of entries just newer than this id
	From   time.Time
	To     time.Time // exclusive: the start of the day after the "to" date
	// Zone is the time zone the dates are days of: the viewer's, which the page's script puts
	// in the form ("tz"), so that "to" a day keeps that day's evening as the rows show it. Zone
	// is nil (UTC) when none was given or it could not be read; ZoneName is "tz" as applied.
	Zone     *time.Location
	ZoneName string
	// Problems names, one sentence each, the filter values that were malformed (and so not
	// applied) or cannot match anything: a hand-edited or truncated link, or a login typed
	// without its domain. The page shows them;
	// the exports refuse the request rather than export something other than what was asked.
	Problems []string
	// DateErrors says, by field ("from", "to"), in a few words for under the field, why a date
	// of the address was not applied or cannot match (Problems has the whole sentence), so that
	// the page marks the field invalid and describes it by its error, as a refused form does.
	// DatesReversed: the from date is after the to date, one error (under "from") of both fields.
	DateErrors    map[string]string
	DatesReversed bool
}

// ParseAuditQuery reads the audit filters. A malformed value is left out of the filter, so the
// page still answers, and named in Problems, so the user learns that it was not applied. Values
// are quoted with %q there, which shows control characters and invalid UTF-8 as escapes. The
// domain is compared without regard to case, as domains are, so it is lower-cased (the audit
// records domains in lower case). The text and date values are read through filterText, which
// drops the invisible characters a paste brings. A malformed "before" or "after" cursor is only ever
// a mangled "Older entries" or "Newer entries" link, and falls back to the newest entries like a
// malformed page number; a link never carries both, and "before" wins.
func ParseAuditQuery(q url.Values) AuditQuery {
	var a AuditQuery
	problem := func(format string, args ...any) { a.Problems = append(a.Problems, fmt.Sprintf(format, args...)) }
	text := func(key string) string {
		v := cut(filterText(q.Get(key)), 255)
		if v != "" && !printable(v) {
			problem("The %s filter %q was not applied: it contains control characters or is not valid UTF-8.", key, clip(v, 64))
			return ""
		}
		return v
	}
	a.Form.Domain = strings.ToLower(text("domain"))
	if d := a.Form.Domain; d != "" && mailgun.ValidateDomain(d) != nil {
		problem("The domain filter %q was not applied: a domain name has only letters, digits, '-', '_' and dots between them.", clip(d, 64))
		a.Form.Domain = ""
	}
	a.Form.Actor = text("actor")
	a.Form.Login = text("login")
	if l := a.Form.Login; l != "" && !strings.Contains(l, "@") {
		// The trail names every login whole, so a local part alone matches nothing, and the
		// empty history would read "nobody touched alice".
		example := "alice@acme.example"
		if a.Form.Domain != "" {
			example = l + "@" + a.Form.Domain
		}
		problem("The login filter %q has no @, so no entry can match: write the whole login, such as %s.", clip(l, 64), clip(example, 128))
	} else if l != "" {
		// A login copied with its sentence's end ("alice@acme.example."), or typed into the
		// address with a '+' (which reads as a space), names no login Mailgun can have: its
		// empty history would read "nobody touched alice" too.
		_, dom, _ := strings.Cut(l, "@")
		if mailgun.ValidateSpec(l) != nil || mailgun.ValidateDomain(dom) != nil {
			problem("The login filter %q cannot match any login: a login has no white space (a + typed in an address reads as one: write %%2B) and ends with its domain's name, such as alice@acme.example.", clip(l, 64))
		}
	}
	choice := func(key string, allowed []string) string {
		v := q.Get(key)
		if v != "" && !slices.Contains(allowed, v) {
			problem("The %s filter %q was not applied: it is not one of the choices the form offers.", key, clip(v, 64))
			return ""
		}
		return v
	}
	a.Form.Action = choice("action", AuditActions())
	a.Form.Outcome = choice("outcome", AuditOutcomes())
	if v := filterText(q.Get("tz")); v != "" && v != "UTC" {
		// The zone is named only when a date would be read in it: the page's script puts the
		// viewer's in every search, and one this server cannot read (Chromium's "Etc/Unknown"
		// where the system has none) named on a search by action alone was about nothing.
		loc, err := loadZone(v)
		switch {
		case err == nil:
			a.Zone, a.ZoneName = loc, v
		case filterText(q.Get("from")) != "" || filterText(q.Get("to")) != "":
			problem("The time zone %q was not applied: the dates are read as days in UTC.", clip(v, 64))
		}
	}
	dateError := func(key, msg string) {
		if a.DateErrors == nil {
			a.DateErrors = map[string]string{}
		}
		a.DateErrors[key] = msg
	}
	// date is the day the field names (midnight UTC: a civil date, before any zone) and its
	// text, or "" when it is empty or not applied.
	date := func(key string) (time.Time, string) {
		v := filterText(q.Get(key))
		if v == "" {
			return time.Time{}, ""
		}
		t, err := time.Parse(time.DateOnly, v)
		switch {
		case err != nil && dateShaped(v):
			problem("The %s date %s was not applied: there is no such day.", key, v)
			dateError(key, fmt.Sprintf("Not applied: there is no day %s.", v))
			return time.Time{}, ""
		case err != nil:
			problem("The %s date %q was not applied: write it as YYYY-MM-DD, e.g. 2026-01-31.", key, clip(v, 64))
			dateError(key, fmt.Sprintf("Not applied: %q is not a date (YYYY-MM-DD).", clip(v, 32)))
			return time.Time{}, ""
		}
		return t, v
	}
	from, fromText := date("from")
	if fromText != "" {
		a.From, a.Form.From = dayStart(from.Year(), from.Month(), from.Day(), a.Location()), fromText
	}
	// Set or not by its text: 0001-01-01 is a day, Go's zero time, and "to" it is a filter
	// that matches nothing, not one left out.
	to, toText := date("to")
	if toText != "" {
		// The next day's start in the zone, 23 or 25 hours on when the clocks change in between.
		// From the day's name, not from its start: a day the clocks skip whole (Samoa's 30
		// December 2011) starts when the next one does, and "to" it ends there.
		a.To, a.Form.To = dayStart(to.Year(), to.Month(), to.Day()+1, a.Location()), toText
		if a.To.IsZero() {
			// "to 0000-12-31" in UTC ends at 0001-01-01 00:00 UTC, Go's zero time, which the
			// store reads as no bound: every entry matched. A nanosecond on, nothing does.
			a.To = a.To.Add(time.Nanosecond)
		}
	}
	if fromText != "" && toText != "" && from.After(to) {
		problem("The from date %s is after the to date %s, so no entry can match: swap them to see that period.", a.Form.From, a.Form.To)
		dateError("from", "After the to date, so no entry can match.")
		a.DatesReversed = true
	}
	if n, err := strconv.ParseInt(q.Get("before"), 10, 64); err == nil && n > 0 {
		a.Before = n
	} else if n, err := strconv.ParseInt(q.Get("after"), 10, 64); err == nil && n > 0 {
		a.After = n
	}
	return a
}

// parseAuditURL is ParseAuditQuery of u's query, with the parts of it that cannot be read named
// in Problems too (unreadableQuery): the query parser drops them without a word, so a link cut
// short inside "login=bob%40acme.example" showed, and exported, every login's entries as if
// they were bob's.
func parseAuditURL(u *url.URL) AuditQuery {
	a := ParseAuditQuery(u.Query())
	a.Problems = append(a.Problems, unreadableProblems(u.RawQuery)...)
	return a
}

// unreadableProblems says, for each part of a raw query string that cannot be read
// (unreadableQuery), that it was not applied and why.
func unreadableProblems(raw string) []string {
	var out []string
	for _, part := range unreadableQuery(raw) {
		out = append(out, fmt.Sprintf("The part %q of the address was not applied: it cannot be read (a '%%' must be followed by two hexadecimal digits, and a ';' does not separate filters). The link may have been cut short or mistyped.", clip(part, 64)))
	}
	return out
}

// unreadableQuery returns the parts of a raw query string (between '&') that url.ParseQuery
// drops: one with a ';', or with a '%' not followed by two hexadecimal digits.
func unreadableQuery(raw string) []string {
	if !strings.ContainsAny(raw, "%;") {
		return nil // the usual query (page=2&per_page=100): nothing to unescape, nothing dropped
	}
	var out []string
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		_, kerr := url.QueryUnescape(k)
		_, verr := url.QueryUnescape(v)
		if strings.Contains(part, ";") || kerr != nil || verr != nil {
			out = append(out, part)
		}
	}
	return out
}

// dateShaped reports whether s is written as YYYY-MM-DD (digits and dashes), whatever the day.
func dateShaped(s string) bool {
	if len(s) != len(time.DateOnly) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 4 || i == 7 {
			if s[i] != '-' {
				return false
			}
		} else if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// printable reports whether s is valid UTF-8 without control characters, so that it can be
// shown back in the form as typed.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

// pageFilter reads the ?q= filter of the domain list or the domain page through filterText.
// One with control characters or bytes that are not UTF-8 (a mangled link: the search box
// cannot type them) is not applied, and problem says so, as the audit trail's filters do, so
// that the page neither lists "0 matches" for it nor prints it back raw. So is one with an
// invisible formatting character that filterText keeps.
func pageFilter(q string) (filter, problem string) {
	filter = filterText(q)
	if filter != "" && !printable(filter) {
		return "", fmt.Sprintf("The filter %q was not applied: it contains control characters or is not valid UTF-8.", clip(filter, 64))
	}
	// An invisible formatting character filterText keeps (a bidi override, a soft hyphen) is
	// in no login and no domain name (mailgun.ValidateSpec, ValidateDomain), and printed back
	// raw, an override turned the text after it around: "?q=\u202eecila" read "No logins
	// match “alice”".
	if i := strings.IndexFunc(filter, func(r rune) bool { return unicode.Is(unicode.Cf, r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(filter[i:])
		return "", fmt.Sprintf("The filter %q was not applied: it contains an invisible formatting character (%U), which no login or domain name has.", clip(filter, 64), r)
	}
	return filter, ""
}

// StoreFilter is the store query for this filter (visibility is added by the caller).
func (a AuditQuery) StoreFilter() store.AuditFilter {
	return store.AuditFilter{
		Domain:  a.Form.Domain,
		Actor:   a.Form.Actor,
		Action:  a.Form.Action,
		Outcome: a.Form.Outcome,
		Login:   a.Form.Login,
		From:    a.From,
		To:      a.To,
		Before:  a.Before,
		After:   a.After,
	}
}

// Values is the filter as query parameters (without the cursors), for links and exports.
func (a AuditQuery) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("domain", a.Form.Domain)
	set("actor", a.Form.Actor)
	set("action", a.Form.Action)
	set("outcome", a.Form.Outcome)
	set("from", a.Form.From)
	set("to", a.Form.To)
	set("login", a.Form.Login)
	if a.Form.From != "" || a.Form.To != "" {
		// Only the dates read it; the form sends it whatever the filters.
		set("tz", a.ZoneName)
	}
	return v
}

// dayStart is the first instant of the day y-m-d in loc (d may overflow its month, as in
// time.Date). It is midnight, but for a day whose midnight the clocks skip (Santiago, Havana,
// Beirut go forward at 00:00): time.Date then answers an instant of the day before (23:00) or
// the hour after (01:00 of that day), and the day begins when the new offset does. A day whose
// midnight comes twice (Amman's clocks went back from 01:00 to 00:00 on 29 October 2021) begins
// at the first: time.Date answers the second, an hour late.
func dayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	y, m, d = time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Date() // normalized: 32 January is 1 February
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if ty, tm, td := t.Date(); ty != y || tm != m || td != d {
		// Still the day before: the day begins where this offset ends.
		if _, end := t.ZoneBounds(); !end.IsZero() {
			t = end
		}
	}
	if start, _ := t.ZoneBounds(); !start.IsZero() {
		// The offset before this one: when its last instant is still of this day, the day
		// began at midnight under that offset.
		before := start.Add(-time.Nanosecond).In(loc)
		if by, bm, bd := before.Date(); by == y && bm == m && bd == d {
			_, off := before.Zone()
			t = time.Date(y, m, d, 0, 0, 0, 0, time.FixedZone("", off)).In(loc)
		}
	}
	return t
}

// Location is the time zone the query's dates are days of: Zone, or UTC.
func (a AuditQuery) Location() *time.Location {
	if a.Zone == nil {
		return time.UTC
	}
	return a.Zone
}

// zones caches the time zones loadZone has read, by name: a few hundred exist, and reading one
// opens a file on every audit page view otherwise.
var zones sync.Map

// loadZone reads the IANA time zone name (Asia/Kolkata), as a browser's Intl API gives it. It
// refuses "Local", which would be the server's zone, and anything but the characters zone names
// are made of, so that a hand-edited link never names a file.
func loadZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if len(name) > 64 || name == "Local" || strings.Contains(name, "..") || strings.HasPrefix(name, "/") ||
		strings.IndexFunc(name, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_-+", r))
		}) >= 0 {
		return nil, fmt.Errorf("time zone %q: not a zone name", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	zones.Store(name, loc)
	return loc, nil
}

// AuditActions are the action keys the audit trail holds.
func AuditActions() []string {
	return []string{"credential.create", "credential.reset", "credential.delete", "credential.delete_all", "credentials.export",
		"auth.sign_in", "auth.sign_out", "auth.sign_in_refused", "auth.sessions_revoked", "access.denied", "audit.retention", "audit.verify", "audit.export"}
}

// AuditOutcomes are the outcomes an audit entry may have.
func AuditOutcomes() []string { return []string{"pending", "ok", "failed", "unknown", "denied"} }

// clip shortens s to at most n bytes on a rune boundary, for echoing user input safely.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// invisibleInFilters are the characters filterText removes: U+200B ZERO WIDTH SPACE, U+200C ZERO
// WIDTH NON-JOINER, U+200D ZERO WIDTH JOINER, U+2060 WORD JOINER and U+FEFF ZERO WIDTH NO-BREAK
// SPACE (a byte order mark).
const invisibleInFilters = "\u200b\u200c\u200d\u2060\ufeff"

// filterText is a filter's value as typed or pasted into a search box, as the handlers apply it
// and show it back in the box: without the characters that take no room on the screen, which
// text copied from a chat or a document often carries (invisibleInFilters), and without the
// white space around it. An invisible character in "bob\u200b@acme.example" made the filter
// match nothing, and the box showed the user nothing wrong. Every other byte, invalid UTF-8
// included, is kept as it came, so the checks after this one see what was typed.
func filterText(s string) string {
	if !strings.ContainsAny(s, invisibleInFilters) {
		return strings.TrimSpace(s)
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !strings.ContainsRune(invisibleInFilters, r) {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return strings.TrimSpace(string(b))
}

// cut shortens s to at most n bytes without breaking a UTF-8 sequence and without a marker, so
// that a filter carried in the page's links reads back the same on the next click.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// csvSafe neutralises a cell a spreadsheet would read as a formula (CSV injection): a cell
// whose first character is =, +, -, @, a tab or a carriage return, or whose first character
// after leading white space (spaces, line breaks, no-break spaces) is one of those, gets a single
// quote in front. Spreadsheets that trim a cell on import (LibreOffice's "Trim spaces", some
// import paths of Sheets) would otherwise run " =HYPERLINK(…)", which an IdP display name or a
// Mailgun message can hold.
func csvSafe(s string) string {
	t := strings.TrimLeftFunc(s, func(r rune) bool { return r != '\t' && r != '\r' && unicode.IsSpace(r) })
	if t == "" {
		return s
	}
	switch t[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
