package views

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"time"

	"github.com/a-h/templ"
)

// rowsChunk is how many bytes of rows credentialRows gathers before it writes them out.
const rowsChunk = 16 << 10

// credentialRows renders the table rows of the domain page: one <tr> per login. It is the part
// of the page that repeats up to 1,000 times, so it is written by hand instead of by templ: each
// row is appended to one buffer (no per-value interface calls, attribute resolution or escaped
// copies), and every dynamic value goes through appendEscaped, which escapes exactly like
// templ.EscapeString (html.EscapeString). The markup is byte for byte what the templ version of
// the row produced (TestCredentialRowsGolden): short component classes (static/src/app.css),
// action icons drawn by CSS (.row-action's mask), the age badge's clock drawn once in the page's
// sprite (iconSprite), server-built URLs through rowURL, one relative-time string per row, and
// no per-row copies of the login: the action links are described by the login cell
// (aria-describedby) and the script builds the delete dialog's question from the row's
// data-login and the table's data-confirm-domain.
func credentialRows(vm CredentialsVM) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		rw := rowWriter{vm: &vm, now: nowOr(vm.Now), buf: make([]byte, 0, rowsChunk+4<<10)}
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
	b = append(b, `<tr class="row" data-testid="credential-row" data-login="`...)
	b = appendEscaped(b, r.Login)
	b = append(b, `"><td class="td td-login"><div class="login-line"><span class="cell-login" id="`...)
	b = appendRowID(b, i)
	b = append(b, `" data-testid="login">`...)
	b = appendEscaped(b, r.Login)
	b = append(b, `</span> `...)
	if r.System {
		b = append(b, rw.system...)
	}
	if r.Old {
		b = append(b, rw.age...)
	}
	if vm.Can.SelfLogin != "" && r.Login == vm.Can.SelfLogin {
		b = append(b, `<span class="badge badge-indigo" data-testid="self-badge">your login</span>`...)
	}
	b = append(b, `</div><p class="created-sm">Created `...)
	relStart := len(b)
	b = appendRelative(b, r.CreatedAt, rw.now)
	relEnd := len(b)
	b = append(b, `</p></td><td class="td cell-mailbox">`...)
	b = appendEscaped(b, r.Mailbox)
	b = append(b, `</td><td class="td cell-created">`...)
	if r.CreatedAt.IsZero() {
		b = append(b, `<span class="text-gray-500 dark:text-gray-400">—</span>`...)
	} else {
		b = append(b, `<time datetime="`...)
		isoStart := len(b)
		b = appendMachineTime(b, r.CreatedAt)
		iso := b[isoStart:len(b)]
		b = append(b, `" title="`...)
		b = appendExactFromMachine(b, iso)
		b = append(b, `">`...)
		b = append(b, b[relStart:relEnd]...)
		b = append(b, `</time>`...)
	}
	b = append(b, `</td><td class="td td-actions"><div class="row-actions">`...)
	if r.CanReset && r.ResetURL != "" {
		b = append(b, `<a href="`...)
		b = appendEscaped(b, string(rowURL(r.ResetURL)))
		b = append(b, `" class="row-action act-reset" data-testid="reset-link" aria-describedby="`...)
		b = appendRowID(b, i)
		b = append(b, `"><span class="row-label">Reset</span></a> `...)
	} else if vm.Can.Reset {
		b = append(b, `<span class="row-action act-reset invisible" aria-hidden="true"><span class="row-label">Reset</span></span> `...)
	}
	if r.CanDelete && !r.System && r.DeleteURL != "" {
		b = append(b, `<a href="`...)
		b = appendEscaped(b, string(rowURL(r.DeleteURL)))
		b = append(b, `" class="row-action act-delete" data-testid="delete-link" aria-describedby="`...)
		b = appendRowID(b, i)
		if r.DeleteActionURL != "" {
			b = append(b, `" data-confirm-action="`...)
			b = appendEscaped(b, r.DeleteActionURL)
		}
		b = append(b, `"><span class="row-label">Delete</span></a> `...)
	} else if vm.Can.Delete {
		b = append(b, `<span class="row-action act-delete invisible" aria-hidden="true"><span class="row-label">Delete</span></span> `...)
	}
	if r.HistoryURL != "" {
		b = append(b, `<a href="`...)
		b = appendEscaped(b, string(rowURL(r.HistoryURL)))
		b = append(b, `" class="row-action act-history" data-testid="history-link" aria-describedby="`...)
		b = appendRowID(b, i)
		b = append(b, `"><span class="row-label">History</span></a>`...)
	}
	rw.buf = append(b, `</div></td></tr>`...)
}

// appendRowID appends rowLoginID(i).
func appendRowID(b []byte, i int) []byte {
	return strconv.AppendInt(append(b, "login-"...), int64(i), 10)
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

// appendExactFromMachine appends exactFromMachine(iso), escaped.
func appendExactFromMachine(b []byte, iso []byte) []byte {
	if len(iso) != len("2006-01-02T15:04:05Z") {
		return appendEscaped(b, string(iso))
	}
	b = append(b, iso[:10]...)
	b = append(b, ' ')
	b = append(b, iso[11:19]...)
	return append(b, " UTC"...)
}
