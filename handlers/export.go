package handlers

import (
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/policy"
)

// exportHeader names the columns of a domain's login export. password_reset_at is the last
// successful reset through SMTP Desk that the audit trail holds (empty when none).
var exportHeader = []string{"domain", "login", "mailbox", "created_at", "age_days", "system", "consider_rotating", "password_reset_at", "password_age_days"}

// ExportCSV sends a domain's current SMTP logins as CSV, for a review outside the dashboard:
// every login Mailgun lists, or those the domain page shows with ?q= (the filter) and
// ?rotate=1 (only the logins to rotate), in Mailgun's order, each with its age and the marks
// the page shows. Anyone who may view the domain may export it; the file holds no secret.
// Cells that a spreadsheet would run as a formula are neutralised as in the audit export.
// Mailgun's failures are the domain page's error pages, and nothing is sent before the whole
// list has arrived, so a failed export is never a truncated file; an audit trail that cannot
// be read refuses the export (503), as its password ages and marks would be wrong. Each export
// takes one of the user's heavy reads (Settings.ExportsPerMinute; a HEAD takes none).
func (h *CredentialPages) ExportCSV(c echo.Context) error {
	sc, err := h.authorize(c, policy.ActView, false)
	if sc == nil {
		return err
	}
	if err := refuseUnreadableExport(c); err != nil {
		return err
	}
	if ok, err := h.limitRead(c, sc.user, domainLink(sc)); !ok {
		return err
	}
	ctx := c.Request().Context()
	all, err := h.lists.All(ctx, sc.domain)
	if err != nil {
		return h.listError(c, sc, err)
	}
	now := h.now()
	rot := h.rotation(ctx, sc.domain)
	if rot.unread {
		return h.agesUnread(c, domainLink(sc))
	}
	all = selectLogins(all, filterText(c.QueryParam("q")), c.QueryParam("rotate") == "1", rot)
	cw := newLoginsCSV(c, "smtpdesk-logins-"+sc.domain, now, false)
	writeLoginRows(cw, sc.domain, all, now, rot)
	cw.Flush()
	if err := cw.Error(); err != nil {
		h.log.InfoContext(ctx, "login export: writing the file failed", "domain", sc.domain, "err", err)
	}
	return nil
}

// ExportCSV sends the current SMTP logins of every domain the home page lists (those the user
// may view, narrowed by its search ?q=), domain by domain in name order, as the domain export
// does for one; ?rotate=1 keeps only the logins to rotate. The domains are fetched one at a
// time, each with the list's own bounded fan-out, and written as each arrives, so memory holds
// one domain's list. Nothing is sent before the first domain's list and password ages have
// arrived, so a failure there (Mailgun's, or the audit trail's) is an error page; a failure on a
// later domain aborts the connection, so the browser reports a failed download and never keeps a file that looks whole but lacks domains. Each
// export takes one of the user's heavy reads (Settings.ExportsPerMinute; a HEAD takes none).
func (h *HomePages) ExportCSV(c echo.Context) error {
	ctx := c.Request().Context()
	u := auth.UserFrom(c)
	pol, subj := h.policy.Current(), u.PolicySubject()
	if !pol.HasAnyAccess(subj) {
		return echo.NewHTTPError(http.StatusForbidden, "No domain is shared with you, so there is nothing to export.")
	}
	if err := refuseUnreadableExport(c); err != nil {
		return err
	}
	if ok, err := h.limitRead(c, u, nil); !ok { // the error page leads back to the domains
		return err
	}
	visible, err := h.visibleDomains(ctx, pol, subj)
	if err != nil {
		return fmt.Errorf("export all logins: %w", err)
	}
	q := filterText(c.QueryParam("q"))
	var domains []string
	for _, d := range visible {
		if domainMatches(d.Name, q) {
			domains = append(domains, d.Name)
		}
	}
	slices.Sort(domains)
	now := h.now()
	rotate := c.QueryParam("rotate") == "1"

	var cw *csv.Writer
	for i, d := range domains {
		all, err := h.lists.All(ctx, d)
		if err != nil {
			if i == 0 {
				return fmt.Errorf("export all logins: %s: %w", d, err)
			}
			level := slog.LevelError
			if ctx.Err() != nil {
				level = slog.LevelInfo // the browser went away: nobody is waiting for the rest
			}
			h.log.Log(ctx, level, "login export: a domain failed after the file had begun; the download is aborted",
				"domain", d, "domains_written", i, "err", err)
			panic(http.ErrAbortHandler)
		}
		rot := h.rotation(ctx, d)
		if rot.unread {
			if i == 0 {
				return h.agesUnread(c, nil)
			}
			h.log.ErrorContext(ctx, "login export: the audit trail failed after the file had begun; the download is aborted",
				"domain", d, "domains_written", i)
			panic(http.ErrAbortHandler)
		}
		if cw == nil {
			cw = newLoginsCSV(c, "smtpdesk-logins", now, true)
			if c.Request().Method == http.MethodHead {
				// The first domain's list decided the status; the others would be read from
				// Mailgun for a body a HEAD does not get.
				return nil
			}
		}
		writeLoginRows(cw, d, selectLogins(all, "", rotate, rot), now, rot)
		cw.Flush()
		if cw.Error() != nil {
			break // the connection failed: fetching the other domains would serve nobody
		}
		c.Response().Flush()
	}
	if cw == nil { // no domain to export: the header alone
		cw = newLoginsCSV(c, "smtpdesk-logins", now, true)
		cw.Flush()
	}
	if err := cw.Error(); err != nil {
		h.log.InfoContext(ctx, "login export: writing the file failed", "domains", len(domains), "err", err)
	}
	return nil
}

// newLoginsCSV sends the headers of a login export named name and the time, and returns a CSV
// writer on the body with exportHeader written. A stream (every domain's logins, fetched one
// domain after another) is written through a downloadWriter, as the answer's write deadline,
// a minute from its first byte (answerDeadline), would cut it.
func newLoginsCSV(c echo.Context, name string, now time.Time, stream bool) *csv.Writer {
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	w.Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-%s.csv"`,
		name, now.UTC().Format("20060102T150405Z")))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	var body io.Writer = w
	if stream {
		body = newDownloadWriter(w)
	}
	cw := csv.NewWriter(body)
	_ = cw.Write(exportHeader)
	return cw
}

// writeLoginRows writes a domain's logins as rows of exportHeader.
func writeLoginRows(cw *csv.Writer, domain string, logins []mailgun.Credential, now time.Time, rot rotation) {
	days := func(t time.Time) string { return strconv.Itoa(int(now.Sub(t).Hours() / 24)) }
	for _, cr := range logins {
		created, age, reset, pwAge := "", "", "", ""
		if !cr.CreatedAt.IsZero() {
			created = cr.CreatedAt.UTC().Format(time.RFC3339)
			age, pwAge = days(cr.CreatedAt), days(cr.CreatedAt)
		}
		setAt, old := rot.of(cr)
		if !setAt.IsZero() {
			// The password's age is what consider_rotating goes by: since its last reset through
			// SMTP Desk when there is one (rotation.of keeps only a reset newer than the creation).
			reset, pwAge = setAt.UTC().Format(time.RFC3339), days(setAt)
		}
		_ = cw.Write([]string{domain, csvSafe(cr.Login), csvSafe(cr.Mailbox), created, age,
			yesNo(rot.isSystem(cr)), yesNo(old), reset, pwAge})
	}
}

// loginsExportURL is the CSV export of a domain's logins as the domain page shows them: of
// those matching filter when it is set, of those to rotate with rotate.
func loginsExportURL(domain, filter string, rotate bool) string {
	v := url.Values{}
	if filter != "" {
		v.Set("q", filter)
	}
	if rotate {
		v.Set("rotate", "1")
	}
	if len(v) == 0 {
		return domainURL(domain) + "/export.csv"
	}
	return domainURL(domain) + "/export.csv?" + v.Encode()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// refuseUnreadableExport refuses an export whose address holds parts that cannot be read: the
// query parser drops them, so a filter cut short ("q=bob%4") exported every login instead of the
// few the page had shown. So is a filter the page would not apply (pageFilter). nil when every
// part can be read.
func refuseUnreadableExport(c echo.Context) error {
	p := unreadableProblems(c.Request().URL.RawQuery)
	if _, problem := pageFilter(c.QueryParam("q")); problem != "" {
		p = append(p, problem)
	}
	if len(p) > 0 {
		return echo.NewHTTPError(http.StatusBadRequest, "Nothing was exported. "+strings.Join(p, " ")+" Set the filter on the page and export from there.")
	}
	return nil
}
