package views

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
)

// longHost is the longest domain part of a login that a phone's login column shows on one line
// (in its monospace font); a longer one gets a line-break opportunity after each of its dots.
const longHost = 18

// rowsChunk is how many bytes of rows credentialRows gathers before it writes them out.
const rowsChunk = 16 << 10

// credentialRows renders the table rows of the domain page: one <tr> per login. It is the part
// of the page that repeats up to 1,000 times, so it is written by hand instead of by templ: each
// row is appended to one buffer (no per-value interface calls, attribute resolution or escaped
// copies), and every dynamic value goes through appendEscaped, which escapes exactly like
// templ.EscapeString (html.EscapeString). TestCredentialRowsGolden holds it to reviewed markup.
//
// A row carries its content and little else, because every byte is rendered, compressed and sent
// a hundred times per page: the cells have no classes (the table's .creds rules in
// static/src/app.css style them by position), the action links have one short class each (ar,
// ad, ah: reset, delete, history) whose icon CSS draws, and they are described by the login cell
// (aria-describedby) instead of repeating the login. The age badge's clock is drawn once in the
// page's sprite (iconSprite). The exact time on <time> is added by the script in the viewer's
// time zone (title); the delete dialog's question is built by the script from the row's
// data-login and the table's data-confirm-domain, and the dialog posts to the delete link's
// href (the confirmation page and its form share that URL). A login just changed (Changed) is
// found by the script through its row's one extra attribute, data-changed, never by its login.
func credentialRows(vm CredentialsVM) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		bp := getPageBuf()
		rw := rowWriter{vm: &vm, now: nowOr(vm.Now), buf: (*bp)[:0]}
		if vm.LoginURL != "" {
			rw.loginURL = appendEscaped(nil, string(rowURL(vm.LoginURL)))
		}
		if vm.LoginHistoryURL != "" {
			rw.historyURL = appendEscaped(nil, string(rowURL(vm.LoginHistoryURL)))
		}
		defer func() { *bp = rw.buf; putPageBuf(bp) }()
		for i := range vm.Rows {
			if err := rw.badges(ctx, &vm.Rows[i]); err != nil {
				return err
			}
			rw.row(i, &vm.Rows[i])
			if len(rw.buf) >= rowsChunk {
				if _, err := w.Write(rw.buf); err != nil {
					return err
				}
				rw.buf = rw.buf[:0]
			}
		}
		if len(rw.buf) > 0 {
			if _, err := w.Write(rw.buf); err != nil {
				return err
			}
		}
		return nil
	})
}

// rowWriter holds what the rows of one page share.
type rowWriter struct {
	vm  *CredentialsVM
	now time.Time
	buf []byte
	// system and age are the markup of SystemBadge and AgeBadge(vm.AgeDays), rendered by templ
	// once per page when a row first needs them.
	system, age []byte
	// loginURL and historyURL are vm.LoginURL and vm.LoginHistoryURL through rowURL, escaped
	// for an attribute: the rows' links begin with them.
	loginURL, historyURL []byte
}

// badges renders the badges row r needs and the page has not rendered yet.
func (rw *rowWriter) badges(ctx context.Context, r *CredentialRow) error {
	render := func(c templ.Component) ([]byte, error) {
		var b bytes.Buffer
		err := c.Render(ctx, &b)
		return b.Bytes(), err
	}
	var err error
	if r.System && rw.system == nil {
		rw.system, err = render(SystemBadge())
	}
	if err == nil && r.Old && rw.age == nil {
		rw.age, err = render(AgeBadge(rw.vm.AgeDays))
	}
	return err
}

// row appends row i.
func (rw *rowWriter) row(i int, r *CredentialRow) {
	vm, b := rw.vm, rw.buf
	b = append(b, `<tr data-login="`...)
	loginStart := len(b)
	b = appendEscaped(b, r.Login)
	loginEnd := len(b) // b[loginStart:loginEnd] is the escaped login, copied where it repeats
	if r.Changed {
		// Only the row a "Done" link came back to carries this (the page's style and script
		// find it), so the usual row pays nothing for it.
		b = append(b, `" data-changed><td><span id="`...)
	} else {
		b = append(b, `"><td><span id="`...)
	}
	b = appendRowID(b, i)
	b = append(b, `">`...)
	// A long login wraps after its @ on a phone (postmaster@ / newsletter.example.org) rather
	// than inside a word; escaping never makes an @. The <wbr> is aria-hidden, as Breakable's
	// are: Chromium put a space for it into the row actions' description ("user001@ example.com").
	// A domain too long for the column also wraps between its labels (…corporation.example. /
	// com), not inside one: it was cut at the column's edge ("example.c" / "om"). A short one
	// gets no more <wbr>s, which every row of the page would carry for nothing.
	if at := bytes.LastIndexByte(b[loginStart:loginEnd], '@'); at > 0 && loginStart+at+1 < loginEnd {
		b = append(b, b[loginStart:loginStart+at+1]...)
		b = append(b, breakHere...)
		if host := r.Login[strings.LastIndexByte(r.Login, '@')+1:]; len(host) > longHost {
			b = appendBreakable(b, host)
		} else {
			b = append(b, b[loginStart+at+1:loginEnd]...)
		}
	} else {
		b = append(b, b[loginStart:loginEnd]...)
	}
	b = append(b, `</span>`...)
	if r.System {
		b = append(b, rw.system...)
	}
	if r.Old {
		b = append(b, rw.age...)
	}
	if !r.ResetAt.IsZero() {
		// Only a login whose password SMTP Desk reset carries this, so the usual row pays
		// nothing for it. It is why an old login has no "consider rotating" badge.
		b = append(b, `<span class="badge badge-green" data-testid="reset-at" title="Password last reset through SMTP Desk">password reset <time datetime="`...)
		b = appendMachineTime(b, r.ResetAt)
		b = append(b, `">`...)
		b = appendRelative(b, r.ResetAt, rw.now)
		b = append(b, `</time></span>`...)
	}
	// The user's own login, where self-service is all they may reset: the one row the handler let
	// them reset. Its login may differ from SelfLogin in the case of its letters, which the
	// handler's check ignores (policy.SameEmail) and a comparison here would not.
	if vm.Can.SelfLogin != "" && !vm.Can.Reset && r.CanReset {
		b = append(b, `<span class="badge badge-indigo" data-testid="self-badge">your login</span>`...)
	}
	b = append(b, `<p>Created `...)
	relStart := len(b)
	b = appendRelative(b, r.CreatedAt, rw.now)
	relEnd := len(b)
	b = append(b, `</p></td><td>`...)
	if r.Mailbox == r.Login {
		b = append(b, b[loginStart:loginEnd]...)
	} else {
		b = appendEscaped(b, r.Mailbox)
	}
	b = append(b, `</td><td>`...)
	if r.CreatedAt.IsZero() {
		b = append(b, `<span class="text-gray-500 dark:text-gray-400">—</span>`...)
	} else {
		b = append(b, `<time datetime="`...)
		b = appendMachineTime(b, r.CreatedAt)
		b = append(b, `">`...)
		b = append(b, b[relStart:relEnd]...)
		b = append(b, `</time>`...)
	}
	b = append(b, `</td><td>`...)
	// The login in a path: url.PathEscape, then escaped for the attribute. The usual login needs
	// neither, and is the escaped login already in the row.
	var pathLogin []byte
	if rw.loginURL != nil {
		if p := url.PathEscape(r.Login); len(p) == len(r.Login) && loginEnd-loginStart == len(r.Login) {
			pathLogin = b[loginStart:loginEnd:loginEnd]
		} else {
			pathLogin = appendEscaped(nil, p)
		}
	}
	if r.CanReset && rw.loginURL != nil {
		b = actionStart(b, rw.loginURL, pathLogin, "/reset")
		b = actionEnd(b, i, `ar`, `Reset`)
		b = append(b, ' ')
	} else if vm.Can.Reset {
		b = append(b, `<span class="ar invisible" aria-hidden="true">Reset</span> `...)
	}
	if r.CanDelete && !r.System && rw.loginURL != nil {
		b = actionStart(b, rw.loginURL, pathLogin, "/delete")
		b = actionEnd(b, i, `ad`, `Delete`)
		b = append(b, ' ')
	} else if vm.Can.Delete {
		b = append(b, `<span class="ad invisible" aria-hidden="true">Delete</span> `...)
	}
	if rw.historyURL != nil {
		b = append(b, `<a href="`...)
		b = append(b, rw.historyURL...)
		b = appendQueryEscaped(b, r.Login) // needs no HTML escaping: only [A-Za-z0-9-_.~+%]
		b = actionEnd(b, i, `ah`, `History`)
	}
	rw.buf = append(b, `</td></tr>`...)
}

// actionStart appends the start of a row action: <a href=" prefix, the login and suffix, all
// three already escaped for the attribute.
func actionStart(b, prefix, login []byte, suffix string) []byte {
	b = append(b, `<a href="`...)
	b = append(b, prefix...)
	b = append(b, login...)
	return append(b, suffix...)
}

// appendQueryEscaped appends url.QueryEscape(s) without building the string: letters, digits
// and -_.~ stay, a space becomes +, every other byte %XX (TestAppendQueryEscaped holds it to
// url.QueryEscape).
func appendQueryEscaped(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b = append(b, c)
		case c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

// actionEnd appends the rest of a row action: its class and label, described by row i's login.
func actionEnd(b []byte, i int, class, label string) []byte {
	b = append(b, `" class="`...)
	b = append(b, class...)
	b = append(b, `" aria-describedby="`...)
	b = appendRowID(b, i)
	b = append(b, `">`...)
	b = append(b, label...)
	return append(b, `</a>`...)
}

// appendRowID appends the id of row i's login cell, which its action links point at.
func appendRowID(b []byte, i int) []byte {
	return strconv.AppendInt(append(b, 'l'), int64(i), 10)
}

// appendEscaped appends s escaped as html.EscapeString (and so templ.EscapeString) does it:
// the five characters & ' < > " and nothing else.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '\'':
			esc = "&#39;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&#34;"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		last = i + 1
	}
	return append(b, s[last:]...)
}

// appendRelative appends Relative(t, now) without building the string.
func appendRelative(b []byte, t, now time.Time) []byte {
	if t.IsZero() {
		return append(b, "—"...)
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	if d < 45*time.Second {
		return append(b, "just now"...)
	}
	if future {
		b = append(b, "in "...)
	}
	const day = 24 * time.Hour
	switch {
	case d < 90*time.Second:
		b = append(b, "a minute"...)
	case d < 45*time.Minute:
		b = appendPlural(b, int((d+30*time.Second)/time.Minute), "minute")
	case d < 90*time.Minute:
		b = append(b, "an hour"...)
	case d < 22*time.Hour:
		b = appendPlural(b, int((d+30*time.Minute)/time.Hour), "hour")
	case d < 36*time.Hour:
		b = append(b, "a day"...)
	case d < 26*day:
		b = appendPlural(b, int((d+12*time.Hour)/day), "day")
	case d < 45*day:
		b = append(b, "a month"...)
	case d < 320*day:
		b = appendPlural(b, int((d+15*day)/(30*day)), "month")
	case d < 548*day:
		b = append(b, "a year"...)
	default:
		b = appendPlural(b, int((d+182*day)/(365*day)), "year")
	}
	if !future {
		b = append(b, " ago"...)
	}
	return b
}

// appendPlural appends plural(n, unit).
func appendPlural(b []byte, n int, unit string) []byte {
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, ' ')
	b = append(b, unit...)
	if n != 1 {
		b = append(b, 's')
	}
	return b
}

// appendMachineTime appends machineTime(t) (which needs no escaping).
func appendMachineTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return appendEscaped(b, machineTime(t))
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = appendDigits(append(b, '-'), int(month), 2)
	b = appendDigits(append(b, '-'), day, 2)
	b = appendDigits(append(b, 'T'), hour, 2)
	b = appendDigits(append(b, ':'), minute, 2)
	b = appendDigits(append(b, ':'), sec, 2)
	return append(b, 'Z')
}

// appendDigits appends v as exactly width decimal digits.
func appendDigits(b []byte, v, width int) []byte {
	n := len(b)
	for range width {
		b = append(b, '0')
	}
	for k := n + width - 1; k >= n; k-- {
		b[k] = byte('0' + v%10)
		v /= 10
	}
	return b
}
