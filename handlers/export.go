package handlers

import (
	"encoding/csv"
	"errors"
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

	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/policy"
	"github.com/smtpdesk/smtpdesk/views"
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
// takes one of the user's heavy reads (Settings.ExportsPerMinute; a HEAD takes none) and is an
// audit entry ("credentials.export", recordLoginExport), written before the file's first byte:
// an export that cannot be recorded is refused (503).
func (h *CredentialPages) ExportCSV(c echo.Context) error {
	sc, err := h.authorize(c, policy.ActView, false)
	if sc == nil {
		return err
	}
	if err := refuseUnreadableExport(c); err != nil {
		return err
	}
	if ok, err := h.limitRead(c, sc.user, exportRefused, domainLink(sc)); !ok {
		return err
	}
	ctx := c.Request().Context()
	q, rotate := filterText(c.QueryParam("q")), c.QueryParam("rotate") == "1"
	all, err := h.lists.All(ctx, sc.domain)
	if err != nil {
		// Not for a domain Mailgun does not have: nothing was exported, and the entry would make
		// a name typed in the address one of the audit page's domains for good (store.AuditDomains).
		if !errors.Is(err, mailgun.ErrNotFound) {
			_ = h.recordLoginExport(c, sc.user, audit.OutcomeFailed, sc.domain, exportFailed(loginExportFilters(q, rotate), exportFailure(err)))
		}
		return h.listError(c, sc, err)
	}
	now := h.now()
	rot := h.rotation(ctx, sc.domain)
	if rot.unread {
		_ = h.recordLoginExport(c, sc.user, audit.OutcomeFailed, sc.domain, exportFailed(loginExportFilters(q, rotate), agesUnreadFailure))
		return h.agesUnread(c, domainLink(sc))
	}
	all = selectLogins(all, q, rotate, rot)
	if err := h.recordLoginExport(c, sc.user, audit.OutcomeOK, sc.domain, loginExportDetail(len(all), loginExportFilters(q, rotate))); err != nil {
		return h.exportUnrecorded(c, domainLink(sc))
	}
	cw := newLoginsCSV(c, exportName("smtpdesk-logins-"+sc.domain, rotate), now, false)
	writeLoginRows(cw, sc.domain, all, now, rot)
	cw.Flush()
	if err := cw.Error(); err != nil {
		h.log.InfoContext(ctx, "login export: writing the file failed; the download is aborted", "domain", sc.domain, "err", err)
		panic(http.ErrAbortHandler) // not a 200 in the access log and the metrics: 499 or 500
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
// An audit entry holds one domain, so the export is an entry ("credentials.export") for each
// domain, written before that domain's rows (or as it failed): each domain's history, and its
// reviewers, see that its logins were taken, and the entries share the request id. A domain whose
// entry cannot be written is not sent (the first: a 503 page; a later one: the download is
// aborted). A domain Mailgun no longer has ("Domain not found": removed since the domain list,
// kept for a minute, was read) is left out, with no entry, as it has no logins.
func (h *HomePages) ExportCSV(c echo.Context) error {
	ctx := c.Request().Context()
	u := auth.UserFrom(c)
	pol, subj := h.policy.Current(), u.PolicySubject()
	if !pol.HasAnyAccess(subj) {
		return echo.NewHTTPError(http.StatusForbidden, "You have no access to any domain, so there is nothing to export.")
	}
	if err := refuseUnreadableExport(c); err != nil {
		return err
	}
	if ok, err := h.limitRead(c, u, exportRefused, nil); !ok { // the error page leads back to the domains
		return err
	}
	visible, err := h.visibleDomains(ctx, pol, subj)
	if err != nil {
		return fmt.Errorf("export all logins: %w", err)
	}
	q := filterText(c.QueryParam("q"))
	var domains []string
	matches := domainMatcher(q)
	for _, d := range visible {
		if matches(d.Name) {
			domains = append(domains, d.Name)
		}
	}
	slices.Sort(domains)
	now := h.now()
	rotate := c.QueryParam("rotate") == "1"

	var cw *csv.Writer
	filters := loginExportFilters("", rotate)
	if q != "" {
		filters = append(filters, fmt.Sprintf("domains searched %q", q))
	}
	for i, d := range domains {
		asked := append(slices.Clip(filters), fmt.Sprintf("domain %d of %d of an export of every domain", i+1, len(domains)))
		all, err := h.lists.All(ctx, d)
		if me, ok := errors.AsType[*mailgun.Error](err); ok && domainNotFound(me) {
			// Removed from Mailgun since its domain list was read (SMTP Desk keeps it up to a
			// minute): it has no logins to export now, and, as for the one domain's export of a
			// domain Mailgun does not have, no entry. Failing the file for it would fail every
			// export of every domain until the list is read again.
			h.log.InfoContext(ctx, "login export: a domain was removed from Mailgun since its list was read; left out of the export", "domain", d)
			continue
		}
		if err != nil {
			_ = h.recordLoginExport(c, u, audit.OutcomeFailed, d, exportFailed(asked, exportFailure(err)))
			if cw == nil { // nothing sent yet: an error page
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
			_ = h.recordLoginExport(c, u, audit.OutcomeFailed, d, exportFailed(asked, agesUnreadFailure))
			if cw == nil {
				return h.agesUnread(c, nil)
			}
			h.log.ErrorContext(ctx, "login export: the audit trail failed after the file had begun; the download is aborted",
				"domain", d, "domains_written", i)
			panic(http.ErrAbortHandler)
		}
		rows := selectLogins(all, "", rotate, rot)
		if err := h.recordLoginExport(c, u, audit.OutcomeOK, d, loginExportDetail(len(rows), asked)); err != nil {
			if cw == nil {
				return h.exportUnrecorded(c, nil)
			}
			h.log.ErrorContext(ctx, "login export: a domain's export could not be recorded after the file had begun; the download is aborted",
				"domain", d, "domains_written", i)
			panic(http.ErrAbortHandler)
		}
		if cw == nil {
			cw = newLoginsCSV(c, exportName("smtpdesk-logins", rotate), now, true)
			if c.Request().Method == http.MethodHead {
				// The first domain's list decided the status; the others would be read from
				// Mailgun for a body a HEAD does not get.
				return nil
			}
		}
		writeLoginRows(cw, d, rows, now, rot)
		cw.Flush()
		if cw.Error() != nil {
			break // the connection failed: fetching the other domains would serve nobody
		}
		c.Response().Flush()
	}
	if cw == nil { // no domain to export: the header alone
		cw = newLoginsCSV(c, exportName("smtpdesk-logins", rotate), now, true)
		cw.Flush()
	}
	if err := cw.Error(); err != nil {
		h.log.InfoContext(ctx, "login export: writing the file failed; the download is aborted", "domains", len(domains), "err", err)
		panic(http.ErrAbortHandler) // not a 200 in the access log and the metrics: 499 or 500
	}
	return nil
}

// exportName is a login export's file name before its time: the logins to rotate alone are
// named so, as the whole list's file would otherwise be taken for them, or the reverse.
func exportName(base string, rotate bool) string {
	if rotate {
		return base + "-to-rotate"
	}
	return base
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

// exportRefused is what an export over the user's budget says was not done (limitRead).
const exportRefused = "Nothing was exported."

// agesUnreadFailure is why a login export failed when the audit trail's password ages could not
// be read (agesUnread).
const agesUnreadFailure = "the audit trail, for the password ages, could not be read"

// recordLoginExport records a login export of domain ("credentials.export") with its outcome: ok
// when the domain's rows are about to be sent, failed when they could not be produced. detail says
// what the file held and the filters that chose it, never a password (the file holds none). A
// HEAD sends no rows and is not recorded. A write failure is logged and returned: an ok export
// must then not be sent.
func (s *site) recordLoginExport(c echo.Context, u *auth.User, outcome, domain, detail string) error {
	if c.Request().Method == http.MethodHead {
		return nil
	}
	ctx := c.Request().Context()
	if err := s.audit.Event(ctx, actorOf(u), metaOf(c), audit.ActionCredentialsExport, outcome, domain, detail); err != nil {
		s.log.ErrorContext(ctx, "audit "+audit.ActionCredentialsExport, "domain", domain, "outcome", outcome, "err", err)
		return err
	}
	return nil
}

// exportUnrecorded is the page (503) of an export the audit trail could not record: security
// reviews who took the list of logins, so it is not sent without its entry.
func (s *site) exportUnrecorded(c echo.Context, next *views.Link) error {
	return s.errorPageNext(c, http.StatusServiceUnavailable, "Nothing was exported",
		"The audit trail could not record the export, so the file was not sent.",
		"Try again in a moment; if it keeps happening, tell your administrator.", 0, next)
}

// loginExportFilters names a login export's filters for its audit entry: the domain page's
// filter q and its rotate view.
func loginExportFilters(q string, rotate bool) []string {
	var out []string
	if q != "" {
		out = append(out, fmt.Sprintf("filter %q", q))
	}
	if rotate {
		out = append(out, "only the logins to rotate")
	}
	return out
}

// loginExportDetail is the audit detail of a login export that was sent: how many logins, and
// what chose them.
func loginExportDetail(n int, filters []string) string {
	return strings.Join(append([]string{plural(n, "login")}, filters...), "; ")
}

// exportFailed is the audit detail of an export that failed: what was asked for, and why it
// failed.
func exportFailed(filters []string, why string) string {
	return strings.Join(append(slices.Clip(filters), "nothing exported: "+why), "; ")
}

// exportFailure says why an export's read failed in SMTP Desk's words: Mailgun's status, never
// its text (SECURITY.md item 19), or audit.Classify's fixed words for no answer.
func exportFailure(err error) string {
	_, status, msg := audit.Classify(err)
	if status != 0 {
		return fmt.Sprintf("Mailgun answered HTTP %d", status)
	}
	return msg
}
