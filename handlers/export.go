package handlers

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/policy"
)

// exportHeader names the columns of a domain's login export.
var exportHeader = []string{"domain", "login", "mailbox", "created_at", "age_days", "system", "consider_rotating"}

// ExportCSV sends a domain's current SMTP logins as CSV, for a review outside the dashboard:
// every login Mailgun lists, or those the domain page shows with ?q= (the filter) and
// ?rotate=1 (only the logins to rotate), in Mailgun's order, each with its age and the marks
// the page shows. Anyone who may view the domain may export it; the file holds no secret.
// Cells that a spreadsheet would run as a formula are neutralised as in the audit export.
// Mailgun's failures are the domain page's error pages, and nothing is sent before the whole
// list has arrived, so a failed export is never a truncated file.
func (h *CredentialPages) ExportCSV(c echo.Context) error {
	sc, err := h.authorize(c, policy.ActView, false)
	if sc == nil {
		return err
	}
	ctx := c.Request().Context()
	all, err := h.lists.All(ctx, sc.domain)
	if err != nil {
		return h.listError(c, sc, err)
	}
	now := h.now()
	cutoff := now.AddDate(0, 0, -h.set.AgeWarningDays)
	all = selectLogins(all, strings.TrimSpace(c.QueryParam("q")), c.QueryParam("rotate") == "1", cutoff)
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	w.Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="smtpdesk-logins-%s-%s.csv"`,
		sc.domain, now.UTC().Format("20060102T150405Z")))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	_ = cw.Write(exportHeader)
	for _, cr := range all {
		created, age := "", ""
		if !cr.CreatedAt.IsZero() {
			created = cr.CreatedAt.UTC().Format(time.RFC3339)
			age = strconv.Itoa(int(now.Sub(cr.CreatedAt).Hours() / 24))
		}
		_ = cw.Write([]string{sc.domain, csvSafe(cr.Login), csvSafe(cr.Mailbox), created, age,
			yesNo(IsSystemLogin(cr.Login)), yesNo(isOld(cr, cutoff))})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		h.log.ErrorContext(ctx, "login export", "domain", sc.domain, "err", err)
	}
	return nil
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
