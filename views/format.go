package views

import (
	"context"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
)

// Number formats n with thousands separators: 2431 → "2,431".
func Number(n int) string {
	var buf [32]byte
	return string(appendNumber(buf[:0], n))
}

// appendNumber appends Number(n) without building the string.
func appendNumber(b []byte, n int) []byte {
	var digits [24]byte
	s := strconv.AppendInt(digits[:0], int64(n), 10)
	if n < 0 {
		b = append(b, '-')
		s = s[1:]
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, c)
	}
	return b
}

// Relative says how long ago t was, seen from now: "just now", "5 minutes ago", "3 days ago",
// "2 years ago"; a time in the future gives "in 5 minutes".
func Relative(t, now time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 45*time.Second:
		return "just now"
	case d < 90*time.Second:
		s = "a minute"
	case d < 45*time.Minute:
		s = plural(int((d+30*time.Second)/time.Minute), "minute")
	case d < 90*time.Minute:
		s = "an hour"
	case d < 22*time.Hour:
		s = plural(int((d+30*time.Minute)/time.Hour), "hour")
	case d < 36*time.Hour:
		s = "a day"
	case d < 26*24*time.Hour:
		s = plural(int((d+12*time.Hour)/(24*time.Hour)), "day")
	case d < 45*24*time.Hour:
		s = "a month"
	case d < 320*24*time.Hour:
		s = plural(int((d+15*24*time.Hour)/(30*24*time.Hour)), "month")
	case d < 548*24*time.Hour:
		s = "a year"
	default:
		s = plural(int((d+182*24*time.Hour)/(365*24*time.Hour)), "year")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// exactUTC is the exact timestamp shown on hover (the script replaces it with the viewer's zone).
func exactUTC(t time.Time) string {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return exactFromMachine(machineTime(t))
}

// exactDay and exactClock are exactUTC's two halves, the day ("2006-01-02") and the time of day
// with its zone ("15:04:05 UTC"), for a column that shows them on two lines.
func exactDay(t time.Time) string {
	day, _, _ := strings.Cut(exactUTC(t), " ")
	return day
}

func exactClock(t time.Time) string {
	_, clock, _ := strings.Cut(exactUTC(t), " ")
	return clock
}

// exactFromMachine turns machineTime's "2006-01-02T15:04:05Z" into exactUTC's
// "2006-01-02 15:04:05 UTC" without formatting the time again.
func exactFromMachine(iso string) string {
	if len(iso) != len("2006-01-02T15:04:05Z") {
		return iso
	}
	var b [len("2006-01-02 15:04:05 UTC")]byte
	copy(b[:], iso[:10])
	b[10] = ' '
	copy(b[11:], iso[11:19])
	copy(b[19:], " UTC")
	return string(b[:])
}

// TrailTimeLayout is how a sentence gives an audit entry's time, in UTC ("on 2026-12-06 at 04:07
// UTC"): the handlers' notes write it so, and a page that shows one (appendTimedText) has it put
// in the viewer's zone by the page's script, as the lists' and the trail's times are.
const TrailTimeLayout = "2006-01-02 at 15:04 UTC"

// appendTimedText appends the sentence s (a flash, a line error, an error page's message)
// escaped, with each time in it written in TrailTimeLayout made a <time> element that the page's
// script rewrites in the viewer's zone (data-local="at": the day, "at", the time of day to the
// minute with the zone named). The UTC text stays as it is without the script, and in the title
// once it has run. The handlers build these sentences as text, so the time is found here rather
// than passed apart.
func appendTimedText(b []byte, s string) []byte {
	const n, zone = len(TrailTimeLayout), " UTC"
	for rest := 0; ; {
		i := strings.Index(s[rest:], zone)
		if i < 0 {
			break
		}
		end := rest + i + len(zone)
		start := end - n
		if start < 0 || (start > 0 && '0' <= s[start-1] && s[start-1] <= '9') {
			rest = end
			continue
		}
		t, err := time.Parse(TrailTimeLayout, s[start:end])
		if err != nil {
			rest = end
			continue
		}
		b = appendEscaped(b, s[:start])
		day, clock, _ := strings.Cut(s[start:end], " at ")
		b = append(b, `<time datetime="`...)
		b = append(b, t.Format("2006-01-02T15:04Z")...)
		b = append(b, `" title="`...)
		b = append(b, day+" "+clock...)
		b = append(b, `" data-local="at"><span class="whitespace-nowrap" data-local-day>`...)
		b = append(b, day...)
		b = append(b, `</span> at <span class="whitespace-nowrap" data-local-clock>`...)
		b = append(b, clock...)
		b = append(b, `</span></time>`...)
		s, rest = s[end:], 0
	}
	return appendEscaped(b, s)
}

// machineTime is the datetime attribute of a <time> element: RFC 3339 in UTC, to the second.
// Lists call it once per row, so it writes the digits itself rather than going through
// time.Format's layout parser; years outside 0..9999 fall back to time.Format.
func machineTime(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(time.RFC3339)
	}
	hour, minute, sec := t.Clock()
	var b [len("2006-01-02T15:04:05Z")]byte
	put := func(i, v, width int) {
		for k := i + width - 1; k >= i; k-- {
			b[k] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, year, 4)
	b[4] = '-'
	put(5, int(month), 2)
	b[7] = '-'
	put(8, day, 2)
	b[10] = 'T'
	put(11, hour, 2)
	b[13] = ':'
	put(14, minute, 2)
	b[16] = ':'
	put(17, sec, 2)
	b[19] = 'Z'
	return string(b[:])
}

// pageItems appends to dst the page numbers to show around cur, with 0 for an ellipsis:
// 1 … 4 5 [6] 7 8 … 20. A dst with room for 9 keeps it from allocating.
func pageItems(dst []int, cur, total int) []int {
	if total <= 0 {
		return dst
	}
	if total <= 7 {
		for i := 1; i <= total; i++ {
			dst = append(dst, i)
		}
		return dst
	}
	lo, hi := cur-1, cur+1
	if cur <= 4 {
		lo, hi = 2, 5
	}
	if cur >= total-3 {
		lo, hi = total-4, total-1
	}
	dst = append(dst, 1)
	if lo > 2 {
		dst = append(dst, 0)
	}
	for p := lo; p <= hi; p++ {
		dst = append(dst, p)
	}
	if hi < total-1 {
		dst = append(dst, 0)
	}
	return append(dst, total)
}

// pagerURL calls the pager's URL builder, or builds a plain query string when it has none.
func pagerURL(p Pager, page, perPage int) string {
	if p.URL != nil {
		return p.URL(page, perPage)
	}
	return "?page=" + strconv.Itoa(page) + "&per_page=" + strconv.Itoa(perPage)
}

// hiddenParam is a query parameter a GET form must carry along.
type hiddenParam struct{ Name, Value string }

// formTarget splits a pager URL into the form's action and the parameters to keep as hidden
// fields, leaving out the ones the form itself sets.
func formTarget(raw string, drop ...string) (action string, params []hiddenParam) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", nil
	}
	q := u.Query()
	for _, d := range drop {
		q.Del(d)
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range q[k] {
			params = append(params, hiddenParam{Name: k, Value: v})
		}
	}
	u.RawQuery = ""
	u.Fragment = ""
	return u.String(), params
}

// defaultPageSizes are the page sizes of a pager that names none.
var defaultPageSizes = [...]int{25, 50, 100, 500}

// pageSizes returns the sizes the pager offers, the defaults when it names none, and always
// includes the current size.
func pageSizes(p Pager) []int {
	sizes := p.Sizes
	if len(sizes) == 0 {
		sizes = defaultPageSizes[:]
	}
	for _, s := range sizes {
		if s == p.PerPage {
			return sizes
		}
	}
	if p.PerPage > 0 {
		out := append([]int(nil), sizes...)
		return append(out, p.PerPage)
	}
	return sizes
}

// initials gives up to two letters for the avatar in the user menu.
func initials(u *User) string {
	name := strings.TrimSpace(u.Name)
	if name == "" {
		name = u.Email
	}
	fields := strings.FieldsFunc(name, func(r rune) bool { return r == ' ' || r == '.' || r == '@' || r == '-' || r == '_' })
	var out []rune
	for _, f := range fields {
		r := []rune(f)
		if len(r) > 0 {
			out = append(out, r[0])
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return strings.ToUpper(string(out))
}

// displayName is the user's name, or their email when the provider gave no name.
func displayName(u *User) string {
	if strings.TrimSpace(u.Name) != "" {
		return u.Name
	}
	return u.Email
}

// stateBadge maps a Mailgun domain state to a badge colour.
func stateBadge(state string) string {
	switch strings.ToLower(state) {
	case "active":
		return "badge badge-green"
	case "unverified":
		return "badge badge-amber"
	case "disabled":
		return "badge badge-red"
	default:
		return "badge badge-gray"
	}
}

// roleBadge maps a role to a badge colour.
func roleBadge(role string) string {
	switch role {
	case "owner", "admin":
		return "badge badge-indigo"
	case "operator":
		return "badge badge-blue"
	default:
		return "badge badge-gray"
	}
}

// outcomeBadge maps an audit outcome to a badge colour.
func outcomeBadge(outcome string) string {
	switch outcome {
	case "ok":
		return "badge badge-green"
	case "failed":
		return "badge badge-red"
	case "unknown", "pending":
		return "badge badge-amber"
	default:
		return "badge badge-gray"
	}
}

// outcomeLabel names an audit outcome in plain words. A pending entry is one whose completion
// never came (a crash between the two steps), so its outcome is unknown too.
func outcomeLabel(outcome string) string {
	switch outcome {
	case "ok":
		return "Succeeded"
	case "failed":
		return "Failed"
	case "unknown":
		return "Outcome unknown"
	case "pending":
		// Begun, with no outcome recorded: still running, or cut short before it could be. The
		// audit filter lists it beside "unknown", so the two must read differently.
		return "Not completed"
	case "denied":
		return "Denied"
	default:
		return outcome
	}
}

// flashClass styles a flash by kind.
func flashClass(kind string) string {
	base := "flex items-start gap-3 rounded-lg px-4 py-3 text-sm shadow-sm ring-1 ring-inset "
	switch kind {
	case "success":
		return base + "bg-green-50 text-green-900 ring-green-600/30 dark:bg-green-950 dark:text-green-100 dark:ring-green-700/60"
	case "error":
		return base + "bg-red-50 text-red-900 ring-red-600/30 dark:bg-red-950 dark:text-red-100 dark:ring-red-700/60"
	case "warning":
		return base + "bg-amber-50 text-amber-900 ring-amber-600/40 dark:bg-amber-950 dark:text-amber-100 dark:ring-amber-700/60"
	default:
		return base + "bg-sky-50 text-sky-900 ring-sky-600/30 dark:bg-sky-950 dark:text-sky-100 dark:ring-sky-700/60"
	}
}

// flashKind normalises a flash kind for the data-testid hook.
func flashKind(kind string) string {
	switch kind {
	case "success", "error", "warning", "info":
		return kind
	default:
		return "info"
	}
}

// fieldID is the id of a form control.
func fieldID(name string) string { return "f-" + name }

// describedBy joins the ids of the hint and the error of a field.
func describedBy(name, hint, errMsg string) string {
	var ids []string
	if hint != "" {
		ids = append(ids, fieldID(name)+"-hint")
	}
	if errMsg != "" {
		ids = append(ids, fieldID(name)+"-error")
	}
	return strings.Join(ids, " ")
}

// lineErrorAttrs marks the logins field invalid and described by the summary of its refused
// lines (#line-errors) when there are any, so that a screen reader on the field hears why; and by
// its own error (errMsg, under it: too many lines) too when it has one, which the field's own
// description, replaced by this one, named.
func lineErrorAttrs(n int, name, errMsg string) templ.Attributes {
	if n == 0 {
		return nil
	}
	ids := "line-errors " + fieldID(name) + "-hint"
	if errMsg != "" {
		ids += " " + fieldID(name) + "-error"
	}
	return templ.Attributes{"aria-invalid": "true", "aria-describedby": ids}
}

// auditDateAttrs marks the audit filter's date field name ("from" or "to") invalid and described
// by its error (#a-from-error, under the field), as FormField marks a refused field, when the
// address gave it a date that was not applied or cannot match: the "Check the filters" alert
// above says so, but a screen reader on the field heard nothing of it. A from date after the to
// date is one error, under "from", of both fields. No autofocus: the alert takes the focus.
func auditDateAttrs(vm AuditVM, name string) templ.Attributes {
	switch {
	case errOf(vm.DateErrors, name) != "":
		return templ.Attributes{"aria-invalid": "true", "aria-describedby": "a-" + name + "-error"}
	case vm.DatesReversed && name == "to":
		return templ.Attributes{"aria-invalid": "true", "aria-describedby": "a-from-error"}
	}
	return nil
}

// errOf reads a field's message from a possibly nil map.
func errOf(m map[string]string, name string) string {
	if m == nil {
		return ""
	}
	return m[name]
}

// passwordHint is the hint under a create or reset form's password field. When the form comes
// back with a password chosen and typed (retype) for another reason than the password, the fields
// are empty: the hint says to type it again, since sending the form as it is would be refused
// for want of a password.
func passwordHint(mode string, errs map[string]string, retype bool) string {
	if retype && mode == "manual" && errOf(errs, "password") == "" && errOf(errs, "password2") == "" {
		return "Type your password again, in both fields: SMTP Desk does not fill it in again. 5 to 32 characters."
	}
	return "Used only when you choose a password: 5 to 32 characters."
}

// passwordAttrs are the extra attributes of the first password field of a create or reset form.
// When the two passwords did not match, both fields come back empty, so the first one, where
// typing the password again starts, asks for the focus (the script gives it to the first element
// asking, which is before "Repeat password", whose error it is) and is described by that error
// too (after its hint, which it always has: passwordHint), so that a screen reader says why the
// form came back.
func passwordAttrs(errs map[string]string) templ.Attributes {
	a := templ.Attributes{"minlength": "5"}
	if errOf(errs, "password") == "" && errOf(errs, "password2") != "" {
		a["data-autofocus"] = true
		a["aria-describedby"] = fieldID("password") + "-hint " + fieldID("password2") + "-error"
	}
	return a
}

// modeOr returns mode, or "generate" when empty.
func modeOr(mode string) string {
	if mode == "manual" {
		return "manual"
	}
	return "generate"
}

// statusTone picks the colour of the error page's icon.
func statusTone(status int) string {
	switch {
	case status == 401 || status == 403:
		return "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300"
	case status == 404:
		return "bg-gray-100 text-gray-700 dark:bg-gray-800 dark:text-gray-300"
	case status == 429:
		return "bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-300"
	default:
		return "bg-red-100 text-red-700 dark:bg-red-950 dark:text-red-300"
	}
}

// nowOr returns now, or the current time when the view model left it unset.
func nowOr(now time.Time) time.Time {
	if now.IsZero() {
		return time.Now()
	}
	return now
}

// signInURL is the sign-in link, carrying where to go afterwards.
func signInURL(vm SignedOutVM) string {
	u := vm.SignInURL
	if u == "" {
		u = "/auth/login"
	}
	if vm.Next != "" && !strings.Contains(u, "next=") {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "next=" + url.QueryEscape(vm.Next)
	}
	return u
}

// uncounted is the number of home page rows whose login count Mailgun did not give.
func uncounted(rows []DomainRow) int {
	n := 0
	for i := range rows {
		if !rows[i].LoginsKnown {
			n++
		}
	}
	return n
}

// countOf counts a noun: "1 domain", "2,431 domains".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "ch") || strings.HasSuffix(noun, "sh") || strings.HasSuffix(noun, "s") || strings.HasSuffix(noun, "x") {
		return Number(n) + " " + noun + "es"
	}
	return Number(n) + " " + noun + "s"
}

// filterEmptyBody explains an empty filtered list.
func filterEmptyBody(vm CredentialsVM) string {
	body := "The filter looks for the text in the logins' names before the @ (in the whole login when it has an @), across every page of the domain."
	// Only for the domain's name, or an end of it with a dot (".com", "example.com"): "x" or
	// "com" is as likely the start of a login.
	if f, d := strings.ToLower(vm.Filter), strings.ToLower(vm.Domain); f != "" && !strings.Contains(f, "@") &&
		(f == d || (strings.HasSuffix(d, f) && strings.Contains(f, "."))) {
		// "example.com" typed on example.com's page found nothing, though every login ends in
		// it: say why, and what finds them.
		body += " Every login here ends in @" + vm.Domain + ", so the domain's name is not searched: to find logins by their whole address, type it with its @ (such as @" + vm.Domain + ")."
	}
	return body
}

// rotateNoneHeading and rotateNoneBody say that none of the logins a filter matches is due for
// rotation (the "To rotate" view of the filter is empty, FilterOnlyCount > 0).
func rotateNoneHeading(vm CredentialsVM) string {
	if vm.FilterOnlyCount == 1 {
		return "The login matching “" + vm.Filter + "” is not due for rotation"
	}
	return "None of the " + countOf(vm.FilterOnlyCount, "login") + " matching “" + vm.Filter + "” is due for rotation"
}

func rotateNoneBody(vm CredentialsVM) string {
	who := "Each of them"
	if vm.FilterOnlyCount == 1 {
		who = "It"
	}
	return who + " had its password set, by its creation or a reset through SMTP Desk, in the last " + Number(vm.AgeDays) + " days."
}

// clearFilterURL is the list without a filter, keeping the page size (and the "To rotate"
// view).
func clearFilterURL(p Pager) string {
	u, err := url.Parse(pagerURL(p, 1, p.PerPage))
	if err != nil {
		return "?"
	}
	q := u.Query()
	q.Del("q")
	q.Del("page")
	u.RawQuery = q.Encode()
	return u.String()
}

// secretID is the id of the read-only input holding the i-th password.
func secretID(i int) string { return "secret-" + strconv.Itoa(i) }

// generatedCount says how many secrets carry a password to show.
func generatedCount(s []Secret) int {
	n := 0
	for _, x := range s {
		if x.Password != "" {
			n++
		}
	}
	return n
}

// notDone says what did not happen to a failed login.
func notDone(action string) string {
	if action == "reset" {
		return "not changed"
	}
	return "not created"
}

// secretsDoneHeading is the heading when every password was chosen by the user.
func secretsDoneHeading(vm SecretsVM) string {
	if vm.Action == "reset" {
		return "Password changed"
	}
	return countOf(len(vm.Secrets), "login") + " created"
}

// auditLoginsShown is how many logins an audit row lists before "+N more".
const auditLoginsShown = 5

// auditLoginsListed is how many of an audit row's logins the page lists at most; a delete-all
// names every login of its domain, up to 100,000.
const auditLoginsListed = 200

// moreLogins is the part of an audit row's logins listed under "+N more".
func moreLogins(l []string) []string {
	if len(l) <= auditLoginsShown {
		return nil
	}
	return l[auditLoginsShown:min(len(l), auditLoginsListed)]
}

// headLogins is the part of an audit row's logins shown at once.
func headLogins(l []string) []string {
	if len(l) > auditLoginsShown {
		return l[:auditLoginsShown]
	}
	return l
}

// rowActionLabel is an audit row's action in plain words: actionLabel, with "Created logins"
// for a create that made several.
func rowActionLabel(r AuditRow) string {
	if r.ActionKey == "credential.create" && len(r.Logins) > 1 {
		return "Created logins"
	}
	return actionLabel(r.ActionKey)
}

// filterActionLabel is an action's choice in the audit trail's filter: actionLabel, but
// "Created logins" for creates, which the rows it finds say when they made several.
func filterActionLabel(key string) string {
	if key == "credential.create" {
		return "Created logins"
	}
	return actionLabel(key)
}

// actionLabel names an audit action key in plain words.
func actionLabel(key string) string {
	switch key {
	case "credential.create":
		return "Created login"
	case "credential.reset":
		return "Reset password"
	case "credential.delete":
		return "Deleted login"
	case "credential.delete_all":
		return "Deleted all logins"
	case "auth.sign_in":
		return "Signed in"
	case "auth.sign_out":
		return "Signed out"
	case "auth.sign_in_refused":
		return "Sign-in refused"
	case "auth.sessions_revoked":
		return "Sessions ended"
	case "access.denied":
		return "Access denied"
	case "audit.retention":
		return "Retention run"
	case "audit.verify":
		return "Checked integrity"
	case "credentials.export":
		return "Exported logins"
	case "audit.export":
		return "Exported audit trail"
	default:
		return key
	}
}

// auditDetail is a row's detail as the audit page shows it. An access.denied entry's detail is
// the refused action in the policy's words ("delete_all", "reset bob@acme.example", "audit
// verify"), said here in plain words; the exports keep it as recorded. What follows "; " (the
// refusals of the same kind the entry stands for: "; 12 more refusals like it since …") is
// shown as written: no login has white space, so it cannot start inside one.
func auditDetail(r AuditRow) string {
	if r.ActionKey != "access.denied" {
		return r.Detail
	}
	refused, more, found := strings.Cut(r.Detail, "; ")
	if !found {
		return deniedInWords(refused)
	}
	return deniedInWords(refused) + "; " + more
}

// deniedInWords is an access.denied entry's refused action in plain words.
func deniedInWords(detail string) string {
	verb, rest, _ := strings.Cut(detail, " ")
	switch {
	case verb == "view" && rest == "":
		return "Tried to view the logins"
	case verb == "create" && rest == "":
		return "Tried to create logins"
	case verb == "system" && rest == "":
		return "Tried to create a system login"
	case verb == "delete_all" && rest == "":
		return "Tried to delete all logins"
	case verb == "reset" && rest != "":
		return "Tried to reset the password of " + rest
	case verb == "delete" && rest != "":
		return "Tried to delete " + rest
	case detail == "audit verify":
		return "Tried to check the audit trail's integrity"
	}
	return detail
}

// actorName is the actor's display name: the row's Actor without the "<email>" part, else the
// e-mail, else the identity provider's subject (a user whose provider sends neither name nor
// e-mail: a service account, say). An entry with none of them is a sign-in that was refused
// before anyone was known. SMTP Desk's own jobs (retention, the command line) have a name.
func actorName(r AuditRow) string {
	a := strings.TrimSpace(r.Actor)
	if i := strings.Index(a, " <"); i > 0 && strings.HasSuffix(a, ">") {
		a = a[:i]
	}
	if a == "" {
		a = r.ActorEmail
	}
	if a == "" {
		a = r.ActorSubject
	}
	if a == "" {
		return "not signed in"
	}
	return a
}

// actorTitle is the tooltip of an entry's actor: who it is in full, and the provider's subject
// when nothing else names them.
func actorTitle(r AuditRow) string {
	switch {
	case r.Actor != "":
		return r.Actor
	case r.ActorEmail != "":
		return r.ActorEmail
	case r.ActorSubject != "":
		return "Subject " + r.ActorSubject + " at " + r.ActorIssuer
	}
	return "No user was signed in"
}

// zoneOrUTC is the name of the audit date filters' time zone: zone, or UTC when none is set.
func zoneOrUTC(zone string) string {
	if zone == "" {
		return "UTC"
	}
	return zone
}

// filtered says whether any audit filter is set.
func filtered(f AuditFilter) bool {
	return f != AuditFilter{}
}

// historyOnly says whether the audit filters ask for one login's history and nothing else (the
// domain aside, which a row's History link sets with it).
func historyOnly(f AuditFilter) bool {
	return f.Login != "" && f == AuditFilter{Domain: f.Domain, Login: f.Login}
}

// auditEmptyHint is what to do when the audit filters match nothing: widen the date range only
// when one is set.
func auditEmptyHint(f AuditFilter) string {
	if f.From != "" || f.To != "" {
		return "Widen the date range or clear a filter."
	}
	return "Change or clear a filter."
}

// failedExplain says what a failure means for the logins it names.
func failedExplain(action string, n int) string {
	switch {
	case action == "reset" && n == 1:
		return "Its password was not changed; the old one still works."
	case action == "reset":
		return "Their passwords were not changed; the old ones still work."
	// A create's only reason is Mailgun not creating what it was asked to (the list read
	// again does not have it): nothing the user can fix, but worth one more try, and the
	// administrator's to look into (failedQuotes) if it keeps happening.
	case n == 1:
		return "This login does not exist. Create it again; if Mailgun still does not create it, tell your administrator and quote the request ID below."
	}
	return "These logins do not exist. Create them again; if Mailgun still does not create them, tell your administrator and quote the request ID below."
}

// failedQuotes reports whether the failed panel asks to quote the request id (failedExplain),
// which it then shows.
func failedQuotes(action string) bool { return action != "reset" }

// unknownExplain is the line under "N logins not confirmed", in the singular for one. Mailgun
// answered the create, but neither sent a password for these logins nor counted them as made,
// and the list read again to check could not be read (handlers' recheck): the heading used to
// say "Mailgun did not answer", which it had.
func unknownExplain(n int) string {
	if n == 1 {
		return "Mailgun did not confirm it and the list could not be read, so it may or may not exist now. Check the list; if it is there, reset its password to get one you know."
	}
	return "Mailgun did not confirm them and the list could not be read, so they may or may not exist now. Check the list; if one is there, reset its password to get one you know."
}

// noPasswordExplain is the line under "Mailgun sent no password for N logins": after a reset,
// Mailgun set a password it did not send back; after a create, it made the logins without
// sending theirs (a create has no password to reset "again", nor did Mailgun "set a new" one).
func noPasswordExplain(action string, n int) string {
	switch {
	case action == "reset":
		return "Mailgun says it set a new password but did not send it back, so nobody knows it. Reset the password again to get one you can use."
	case n == 1:
		return "Mailgun created this login but did not send its password back, so nobody knows it. Reset its password to get one you can use."
	}
	return "Mailgun created these logins but did not send their passwords back, so nobody knows them. Reset each one's password to get one you can use."
}

// chosenExplain is the secrets panel's line when every login shown uses the password the user
// chose: "It" for one login, "They" for several.
func chosenExplain(n int) string {
	if n == 1 {
		return "It uses the password you chose. SMTP Desk does not keep it."
	}
	return "They use the password you chose. SMTP Desk does not keep it."
}

// TimedText writes a sentence escaped, each audit entry's time in it (TrailTimeLayout) put in
// the viewer's zone by the page's script, as a flash does (appendTimedText): the line errors and
// error pages that say who did what when ("your create of it on 2026-12-06 at 04:07 UTC").
func TimedText(s string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := w.Write(appendTimedText(nil, s))
		return err
	})
}

// Breakable writes a domain or a login (any dotted name) escaped, with a line-break
// opportunity after each dot and @, so that in a narrow column "newsletter.example.org" wraps
// between its labels ("newsletter.example." / "org") and a login after its @, instead of
// inside a word. The text is unchanged, and so is what a screen reader is told: each <wbr> is
// aria-hidden, because Chromium puts a space for it into the accessible name ("acme. example",
// read as two words with a full stop between them).
func Breakable(name string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := w.Write(appendBreakable(nil, name))
		return err
	})
}

// appendBreakable appends name as Breakable writes it: escaped, with a <wbr> after each dot and
// @ but the last character.
func appendBreakable(b []byte, name string) []byte {
	for {
		i := strings.IndexAny(name, ".@")
		if i < 0 || i == len(name)-1 {
			return appendEscaped(b, name)
		}
		b = appendEscaped(b, name[:i+1])
		b = append(b, breakHere...)
		name = name[i+1:]
	}
}

// breakHere is a line-break opportunity that a screen reader does not hear as a space
// (Breakable; the domain page's rows, after a login's @).
const breakHere = `<wbr aria-hidden="true">`

// auditExportTitle is the tooltip of an audit download button: what the file holds (every page
// of the entries the filters match, not only the one shown) and its format.
func auditExportTitle(f AuditFilter, format string) string {
	if filtered(f) {
		return "Download every entry these filters match, all pages, as " + format
	}
	return "Download every entry, all pages, as " + format
}

// namesExisting ends "Nothing was created: N lines …", after a count of lines.
func namesExisting(n int) string {
	if n == 1 {
		return "names a login the domain has already"
	}
	return "name logins the domain has already"
}

// outcomeFocus marks an outcome panel of the Secrets page (failed, unknown, no password) as one
// to take the focus when the page has no password to show: the page's script focuses the first
// element asking, so that a screen reader reads what became of the logins first, not the page
// from the top. With passwords, their panel takes it.
func outcomeFocus(vm SecretsVM) templ.Attributes {
	if len(vm.Secrets) > 0 {
		return nil
	}
	return templ.Attributes{"tabindex": "-1", "data-autofocus": true}
}

// byEmailInstead ends the no-access page's advice about groups: access by e-mail address is the
// other way, but not for an address the provider does not mark verified.
func byEmailInstead(vm NoAccessVM) string {
	if vm.EmailUnverified {
		return ""
	}
	return ", or grant access by email address instead"
}
