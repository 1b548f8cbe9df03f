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

	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/policy"
)

// exportHeader names the columns of a domain's login export.
var exportHeader = []string{"domain", "login", "mailbox", "created_at", "age_days", "system", "consider_rotating"}

// ExportCSV sends a domain's current SMTP logins as CSV, for a review outside the dashboard:
// every login Mailgun lists (or, with ?q=, those the domain page's filter matches), in
// Mailgun's order, with its age and the marks the page shows. Anyone who may view the domain may export
// it; the file holds no secret. Cells that a spreadsheet would run as a formula are neutralised
// as in the audit export. Mailgun's failures are the domain page's error pages, and nothing is
// sent before the whole list has arrived, so a failed export is never a truncated file.
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
	if filter := strings.TrimSpace(c.QueryParam("q")); filter != "" {
		all = matchLogins(all, filter)
	}
	now := h.now()
	cutoff := now.AddDate(0, 0, -h.set.AgeWarningDays)
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	w.Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="smtpdesk-logins-%s-%s.csv"`,
		sc.domain, now.UTC().Format("20060102T150405Z")))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	_ = cw.Write(exportHeader)
	for _, cr := range all {
		created, age, old := "", "", false
		if !cr.CreatedAt.IsZero() {
			created = cr.CreatedAt.UTC().Format(time.RFC3339)
			age = strconv.Itoa(int(now.Sub(cr.CreatedAt).Hours() / 24))
			old = cr.CreatedAt.Before(cutoff)
		}
		_ = cw.Write([]string{sc.domain, csvSafe(cr.Login), csvSafe(cr.Mailbox), created, age,
			yesNo(IsSystemLogin(cr.Login)), yesNo(old)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		h.log.ErrorContext(ctx, "login export", "domain", sc.domain, "err", err)
	}
	return nil
}

// matchLogins returns the credentials whose login contains filter, ignoring case: the domain
// page's filter.
func matchLogins(all []mailgun.Credential, filter string) []mailgun.Credential {
	needle := strings.ToLower(filter)
	var matches []mailgun.Credential
	for _, cr := range all {
		if strings.Contains(strings.ToLower(cr.Login), needle) {
			matches = append(matches, cr)
		}
	}
	return matches
}

// loginsExportURL is the CSV export of a domain's logins, of those matching filter when it is set.
func loginsExportURL(domain, filter string) string {
	if filter == "" {
		return domainURL(domain) + "/export.csv"
	}
	return domainURL(domain) + "/export.csv?q=" + url.QueryEscape(filter)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
