package handlers

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/policy"
	"github.com/smtpdesk/smtpdesk/store"
	"github.com/smtpdesk/smtpdesk/views"
)

// AuditPages serves the audit trail page and its CSV and JSON Lines exports.
type AuditPages struct {
	*site
}

// scopeFilter applies what the user may see: admins see everything, others only the domains
// they can view. ok is false when the user may see nothing at all. trail is what the domain
// filter offers besides the picker's domains: the domains acted on (store.AuditDomains) and
// those the policy names, that the user may see. Neither asks Mailgun: the trail stays readable
// when Mailgun is down, and keeps the history of a domain that Mailgun no longer lists.
//
// The trail's names are not the scope: any signed-in user adds one with each refused URL, and
// reading them all on every view of this page ran into the store's deadline. A user who may view
// only some domains may view only domains the policy names, so the policy lists their scope,
// whether the trail holds entries of them or not; store.AuditDomains leaves out the names only
// refusals carry, and the policy's names are offered with it, so that a domain whose only
// entries are refusals is still offered.
func (h *AuditPages) scopeFilter(c echo.Context, q AuditQuery) (f store.AuditFilter, trail []string, ok bool, err error) {
	f = q.StoreFilter()
	pol, subj := h.policy.Current(), auth.UserFrom(c).PolicySubject()
	named := pol.VisibleDomains(subj, pol.Domains())
	admin, everyDomain := pol.IsAdmin(subj), pol.CanEveryDomain(subj, policy.ActView)
	if !admin && !everyDomain {
		// An empty non-nil list means "nothing", whatever the store makes of it.
		f.Domains = named
		return f, f.Domains, len(f.Domains) > 0, nil
	}
	acted, err := h.auditLog.AuditDomains(c.Request().Context())
	if err != nil {
		return f, nil, false, fmt.Errorf("audit: %w", err)
	}
	trail = append(acted, named...)
	slices.Sort(trail)
	trail = slices.Compact(trail)
	if !admin {
		// Every domain's entries, without listing them: the trail can name more domains (every
		// made-up one in a refused URL among them) than a query takes parameters.
		f.AnyDomain = true
	}
	return f, trail, true, nil
}

// List shows one page of the audit trail, newest first, with a keyset cursor.
func (h *AuditPages) List(c echo.Context) error {
	if u := auth.UserFrom(c); !h.policy.Current().HasAnyAccess(u.PolicySubject()) {
		// Nothing of the trail is theirs to see: the page says so rather than "no entries yet".
		return h.noAccess(c, u)
	}
	admin := h.isAdmin(c)
	q := parseAuditURL(c.Request().URL)
	if !admin {
		q = q.withoutAdminOnly()
	}
	q = h.outsideScope(c, q)
	f, trail, ok, err := h.scopeFilter(c, q)
	if err != nil {
		return err
	}
	vm := views.AuditVM{
		Page:     h.page(c, "Audit trail", "Who changed which SMTP login, when, and with what outcome.", "audit", ""),
		Filter:   q.Form,
		Problems: q.Problems,
		Actions:  auditActionsFor(admin),
		Outcomes: AuditOutcomes(),
		Login:    q.Form.Login,
	}
	if !admin {
		vm.Scope, vm.ScopeMore = auditScopeNote(f)
	}
	vm.DateErrors, vm.DatesReversed = q.DateErrors, q.DatesReversed
	vm.Zone, vm.ZoneAuto = q.ZoneName, q.ZoneName == "" && q.Form.From == "" && q.Form.To == ""
	// The header's picker shows the filtered domain as the current one only when the user can
	// open it.
	for _, n := range vm.Page.Domains {
		if q.Form.Domain != "" && strings.EqualFold(n.Label, q.Form.Domain) {
			vm.Page.CurrentDomain = n.Label
		}
	}
	vm.Domains = domainChoices(trail, vm.Page.Domains, q.Form.Domain)
	// The export links carry the filters applied; one that the export would refuse (a domain the
	// user may not view, a login without its @) is not offered: the page says why already.
	vm.CSVURL, vm.JSONLURL = exportURL("/audit/export.csv", q), exportURL("/audit/export.jsonl", q)
	if u, err := url.Parse(vm.CSVURL); err != nil || len(h.exportQuery(c, u).Problems) > 0 {
		vm.CSVURL, vm.JSONLURL = "", ""
	}
	if admin {
		vm.VerifyURL = "/audit/verify"
	}
	if ok {
		entries, newer, older, err := h.auditPage(c.Request().Context(), f)
		if err != nil {
			return fmt.Errorf("audit: list: %w", err)
		}
		// The pager's links keep the filters; each carries one cursor, the id of the entry at
		// the page's end it leaves from.
		cursor := func(key string, id int64) string {
			v := q.Values()
			v.Set(key, strconv.FormatInt(id, 10))
			return "/audit?" + v.Encode()
		}
		if older {
			vm.NextURL = cursor("before", entries[len(entries)-1].ID)
		}
		if newer {
			vm.NewerURL = cursor("after", entries[0].ID)
		}
		// "Newest" on every page but the first, and on the empty page past the last one.
		if newer || (q.Before > 0 && len(entries) == 0) {
			vm.FirstURL = exportURL("/audit", q)
		}
		for _, e := range entries {
			r := auditRow(e)
			if q.Form.Login != "" {
				r.Logins = loginFirst(r.Logins, q.Form.Login)
			}
			vm.Rows = append(vm.Rows, r)
		}
	}
	return Render(c, http.StatusOK, views.Audit(vm))
}

// auditPage reads the page of the audit trail that f's cursor asks for (the newest entries when
// it has none), newest first, and says whether there are entries newer and older than it, for
// the pager. A page of "Newer entries" with nothing newer than it is the first page, read as
// such: the entries next to its cursor are fewer than a page when entries were recorded or
// removed since the link was made, and that page would end where the first page does not.
func (h *AuditPages) auditPage(ctx context.Context, f store.AuditFilter) (page []store.AuditEntry, newer, older bool, err error) {
	f.Limit = AuditPageSize + 1 // one more tells whether there is a page beyond, the way it reads
	// exists says whether any entry of the filter is in g's range (a cursor of f's page).
	exists := func(g store.AuditFilter) (bool, error) {
		g.Limit = 1
		es, err := h.auditLog.ListAudit(ctx, g)
		return len(es) > 0, err
	}
	if f.After > 0 {
		if page, err = h.auditLog.ListAudit(ctx, f); err != nil {
			return nil, false, false, err
		}
		if len(page) > AuditPageSize {
			page = page[1:] // the newest is the next newer page's
			g := f
			g.After, g.Before = 0, page[len(page)-1].ID
			older, err = exists(g)
			return page, true, older, err
		}
		f.After = 0
	}
	if page, err = h.auditLog.ListAudit(ctx, f); err != nil {
		return nil, false, false, err
	}
	if len(page) > AuditPageSize {
		page, older = page[:AuditPageSize], true
	}
	if f.Before > 0 && len(page) > 0 {
		// Usually the page the user came from, but not always: a cursor past the newest entry
		// (a hand-made link, the integrity check's link to its newest row) is the first page.
		g := f
		g.Before, g.After = 0, page[0].ID
		if newer, err = exists(g); err != nil {
			return nil, false, false, err
		}
	}
	return page, newer, older, nil
}

// Verify checks the audit trail's hash chain, as `web audit verify` does on the server, and
// shows the result, so that a security reviewer can check the trail from the browser. Only
// administrators may run it: the chain spans every domain's entries. The check is itself
// recorded ("audit.verify", ok or failed, with the newest row and hash it saw), after it ran.
// Each check takes one of the administrator's heavy reads, as an export does
// (Settings.ExportsPerMinute).
func (h *AuditPages) Verify(c echo.Context) error {
	ctx := c.Request().Context()
	user := auth.UserFrom(c)
	if !h.isAdmin(c) {
		h.recordDenial(c, user, "", "", "audit verify", "audit verify")
		return h.errorPage(c, http.StatusForbidden, "Only administrators can check the audit trail",
			"The check reads the entries of every domain.", "Ask an administrator to run it.", 0)
	}
	if ok, err := h.limitRead(c, user, "The check did not run.", &views.Link{Label: "Back to the audit trail", URL: "/audit"}); !ok {
		return err
	}
	started := time.Now()
	rep, err := h.auditLog.VerifyAudit(ctx)
	if err != nil {
		return fmt.Errorf("audit: verify: %w", err)
	}
	took := time.Since(started)
	outcome, detail := audit.OutcomeOK, fmt.Sprintf("intact: %d rows checked", rep.Checked)
	if rep.HeadID != 0 {
		detail += fmt.Sprintf("; newest row %d, hash %s", rep.HeadID, rep.HeadHash)
	}
	if rep.OldestID != 0 {
		detail += fmt.Sprintf("; oldest row %d", rep.OldestID)
	}
	if rep.BrokenAt != 0 {
		outcome, detail = audit.OutcomeFailed, fmt.Sprintf("broken at row %d: %s (%d rows checked)", rep.BrokenAt, rep.Reason, rep.Checked)
		// Error: an entry was changed or removed, which an alert on errors must see; the page
		// answered 200 and ErrorHandler logs nothing of it.
		h.log.ErrorContext(ctx, "audit trail broken", "broken_at", rep.BrokenAt, "reason", rep.Reason, "checked", rep.Checked)
	} else {
		h.log.InfoContext(ctx, "audit trail intact", "checked", rep.Checked, "took", took)
	}
	if err := h.audit.Event(ctx, actorOf(user), metaOf(c), audit.ActionVerify, outcome, "", detail); err != nil {
		h.log.ErrorContext(ctx, "audit audit.verify", "err", err)
	}
	return Render(c, http.StatusOK, views.AuditVerify(views.AuditVerifyVM{
		Page:     h.page(c, "Audit trail check", "Whether any entry was changed or removed since it was written.", "audit", ""),
		Checked:  rep.Checked,
		BrokenAt: rep.BrokenAt,
		Reason:   rep.Reason,
		HeadID:   rep.HeadID,
		HeadHash: rep.HeadHash,
		OldestID: rep.OldestID,
		OldestAt: rep.OldestAt,
		Trimmed:  rep.Trimmed,
		At:       h.now(),
		Took:     took,
	}))
}

// scopeListMax is how many domains the audit page's scope note names; past it, it counts them.
const scopeListMax = 5

// auditScopeNote says, to a user who is not an administrator, which entries of the trail the
// audit page and its exports show them: those of f, their scopeFilter (every domain's, or the
// domains they may view), so that the note says what the query applies. Without it, a
// reviewer's "No entries match" for a user who acted only on other domains, or an unfiltered
// trail without a single sign-in, read as "that user did nothing", "nobody signed in". scope is
// one sentence, always shown; more names what only administrators see, which the page keeps
// under a disclosure (its six lines on a phone pushed the filters out of sight).
func auditScopeNote(f store.AuditFilter) (scope, more string) {
	more = "Sign-ins, sign-outs, ended sessions, retention runs and exports of the trail name no domain: they and the integrity check are for administrators only."
	if f.AnyDomain {
		return "You see the entries of every domain.", more
	}
	named := f.Domains
	which := fmt.Sprintf("the %d domains you may view (the Domain filter lists them)", len(named))
	switch {
	case len(named) == 0: // every role views, so only a policy of some future role gives none
		which = "the domains you may view"
	case len(named) <= scopeListMax:
		which = andList(named) + ", the domains you may view"
		if len(named) == 1 {
			which = named[0] + ", the one domain you may view"
		}
	}
	return "You see only the entries of " + which + ".", more
}

// andList joins names as a sentence does: "a", "a and b", "a, b and c".
func andList(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// adminOnlyAction reports whether the entries of action name no domain (sign-ins, sessions,
// retention, the integrity check, exports of the trail), so that only administrators see them
// (scopeFilter).
func adminOnlyAction(action string) bool {
	return strings.HasPrefix(action, "auth.") || strings.HasPrefix(action, "audit.")
}

// auditActionsFor is the action filter's choices: every action for an administrator, the
// actions whose entries another user can see otherwise. A choice that could only ever answer
// "No entries match" would read, to a reviewer, as "nobody signed in".
func auditActionsFor(admin bool) []string {
	all := AuditActions()
	if admin {
		return all
	}
	return slices.DeleteFunc(all, adminOnlyAction)
}

// withoutAdminOnly drops an action filter whose entries only administrators see, and names it
// in Problems (the page shows it, the exports refuse the link), for a user who is not one.
func (a AuditQuery) withoutAdminOnly() AuditQuery {
	if adminOnlyAction(a.Form.Action) {
		a.Problems = append(slices.Clip(a.Problems), fmt.Sprintf("The action filter %q was not applied: sign-in, session, retention, integrity-check and audit-export entries name no domain, and only administrators see them.", a.Form.Action))
		a.Form.Action = ""
	}
	return a
}

// outsideScope names in Problems a domain filter the user may not view: the trail shows them none
// of that domain's entries (scopeFilter), and "No entries match" or "Nothing recorded for
// alice@… yet" read as "nobody touched it". The filter stays applied, so the page shows no
// other domain's entries in their place; the exports refuse the link.
//
// A login filter's domain is looked at too: a login of a domain the user may not view, or of
// another domain than the domain filter's, can match no entry shown, and its history read
// "Nothing recorded for alice@… yet".
func (h *AuditPages) outsideScope(c echo.Context, q AuditQuery) AuditQuery {
	pol, subj := h.policy.Current(), auth.UserFrom(c).PolicySubject()
	notViewable := func(domain, entries string) {
		q.Problems = append(slices.Clip(q.Problems), fmt.Sprintf("You may not view %s, so the audit trail shows you none of %s, whatever they are. An administrator or a reviewer of that domain can see them.", domain, entries))
	}
	d := q.Form.Domain
	if d != "" && !pol.Can(subj, d, policy.ActView) {
		notViewable(d, "its entries")
		return q
	}
	login := q.Form.Login
	at := strings.LastIndexByte(login, '@')
	if at < 0 {
		return q
	}
	switch ld := login[at+1:]; {
	case d != "" && !strings.EqualFold(ld, d):
		q.Problems = append(slices.Clip(q.Problems), fmt.Sprintf("The login %s is not in %s, so no entry can match both filters: clear one of them.", login, d))
	case d == "" && !pol.Can(subj, ld, policy.ActView):
		notViewable(ld, "the entries of "+login)
	}
	return q
}

// exportQuery is the audit query of an export's address u, as the export reads it: its
// Problems refuse the export.
func (h *AuditPages) exportQuery(c echo.Context, u *url.URL) AuditQuery {
	q := parseAuditURL(u)
	if !h.isAdmin(c) {
		q = q.withoutAdminOnly()
	}
	return h.outsideScope(c, q)
}

// isAdmin says whether the signed-in user is an administrator under the policy in force now.
func (h *AuditPages) isAdmin(c echo.Context) bool {
	return h.policy.Current().IsAdmin(auth.UserFrom(c).PolicySubject())
}

// domainChoices is the domain filter's list, sorted: the trail's domains the user may see, the
// domains of the picker (those Mailgun lists that the user may view, which may have no entries
// yet), and the filtered domain when it is among neither, so that the form shows what applies.
func domainChoices(trail []string, picker []views.NavItem, filtered string) []string {
	out := slices.Clone(trail)
	for _, n := range picker {
		out = append(out, strings.ToLower(n.Label))
	}
	if filtered != "" {
		out = append(out, strings.ToLower(filtered))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func exportURL(path string, q AuditQuery) string {
	if v := q.Values().Encode(); v != "" {
		return path + "?" + v
	}
	return path
}

func auditRow(e store.AuditEntry) views.AuditRow {
	actor := e.ActorEmail
	if e.ActorName != "" {
		actor = fmt.Sprintf("%s <%s>", e.ActorName, e.ActorEmail)
	}
	msg, detail := auditText(e)
	return views.AuditRow{
		ID:              e.ID,
		Time:            e.Time,
		Actor:           actor,
		ActorEmail:      e.ActorEmail,
		ActorIssuer:     e.ActorIssuer,
		ActorSubject:    e.ActorSubject,
		ActionKey:       e.Action,
		Domain:          e.Domain,
		Logins:          e.Logins,
		Outcome:         e.Outcome,
		UpstreamStatus:  e.UpstreamStatus,
		UpstreamMessage: msg,
		RequestID:       e.RequestID,
		ClientIP:        e.ClientIP,
		Detail:          detail,
	}
}

// loginFirst returns logins with those equal to login (in any letter case, as the login filter
// matches them) moved to the front, the others in their order. A login's history shows its
// login among the few an entry lists at once: a delete-all or a create of many names it among
// hundreds, where it was under "+N more" or, past the page's 200, not on the page at all.
func loginFirst(logins []string, login string) []string {
	out := make([]string, 0, len(logins))
	for _, l := range logins {
		if strings.EqualFold(l, login) {
			out = append(out, l)
		}
	}
	for _, l := range logins {
		if !strings.EqualFold(l, login) {
			out = append(out, l)
		}
	}
	return out
}

// exportRecord is one exported audit entry (JSON Lines).
type exportRecord struct {
	ID              int64      `json:"id"`
	Time            time.Time  `json:"time"`
	ActorIssuer     string     `json:"actor_issuer"`
	ActorSubject    string     `json:"actor_subject"`
	ActorEmail      string     `json:"actor_email"`
	ActorName       string     `json:"actor_name"`
	Action          string     `json:"action"`
	Domain          string     `json:"domain"`
	Logins          []string   `json:"logins"`
	Outcome         string     `json:"outcome"`
	UpstreamStatus  int        `json:"upstream_status,omitempty"`
	UpstreamMessage string     `json:"upstream_message,omitempty"`
	RequestID       string     `json:"request_id"`
	ClientIP        string     `json:"client_ip"`
	UserAgent       string     `json:"user_agent"`
	Detail          string     `json:"detail,omitempty"`
	CompletedAt     *time.Time `json:"completed_at,omitempty"`
}

func csvHeader() []string {
	return []string{"id", "time", "actor_issuer", "actor_subject", "actor_email", "actor_name", "action", "domain",
		"logins", "outcome", "upstream_status", "upstream_message", "request_id", "client_ip", "user_agent", "detail", "completed_at"}
}

// csvTime is the audit CSV's time format: RFC 3339 in UTC with all nine digits of the fraction.
// RFC3339Nano drops its trailing zeros, so that sorting the column as text (as a spreadsheet or
// sort(1) does) put 16.5Z after 16.50001Z; a fixed width sorts as the times do, and parses back
// with time.RFC3339Nano.
const csvTime = "2006-01-02T15:04:05.000000000Z07:00"

func csvRecord(e store.AuditEntry) []string {
	completed := ""
	if e.CompletedAt != nil {
		completed = e.CompletedAt.UTC().Format(csvTime)
	}
	status := ""
	if e.UpstreamStatus != 0 {
		status = strconv.Itoa(e.UpstreamStatus)
	}
	msg, detail := auditText(e)
	return []string{
		strconv.FormatInt(e.ID, 10),
		e.Time.UTC().Format(csvTime),
		csvSafe(e.ActorIssuer), csvSafe(e.ActorSubject), csvSafe(e.ActorEmail), csvSafe(e.ActorName),
		csvSafe(e.Action), csvSafe(e.Domain), csvSafe(strings.Join(e.Logins, " ")), csvSafe(e.Outcome),
		status, csvSafe(msg), csvSafe(e.RequestID), csvSafe(e.ClientIP), csvSafe(e.UserAgent),
		csvSafe(detail), completed,
	}
}

// ExportCSV streams the filtered audit trail as CSV.
func (h *AuditPages) ExportCSV(c echo.Context) error {
	return h.export(c, "csv", "text/csv; charset=utf-8", func(w *echo.Response) (func(store.AuditEntry) error, func() error) {
		cw := csv.NewWriter(newDownloadWriter(w))
		_ = cw.Write(csvHeader())
		n := 0
		return func(e store.AuditEntry) error {
				if err := cw.Write(csvRecord(e)); err != nil {
					return fmt.Errorf("write csv: %w", err)
				}
				if n++; n%500 == 0 {
					cw.Flush()
					w.Flush()
				}
				return nil
			}, func() error {
				cw.Flush()
				return cw.Error()
			}
	})
}

// ExportJSONL streams the filtered audit trail as JSON Lines.
func (h *AuditPages) ExportJSONL(c echo.Context) error {
	return h.export(c, "jsonl", "application/x-ndjson; charset=utf-8", func(w *echo.Response) (func(store.AuditEntry) error, func() error) {
		enc := json.NewEncoder(newDownloadWriter(w))
		return func(e store.AuditEntry) error {
				msg, detail := auditText(e)
				rec := exportRecord{
					ID: e.ID, Time: e.Time.UTC(), ActorIssuer: e.ActorIssuer, ActorSubject: e.ActorSubject,
					ActorEmail: e.ActorEmail, ActorName: e.ActorName, Action: e.Action, Domain: e.Domain,
					Logins: e.Logins, Outcome: e.Outcome, UpstreamStatus: e.UpstreamStatus,
					UpstreamMessage: msg, RequestID: e.RequestID, ClientIP: e.ClientIP,
					UserAgent: e.UserAgent, Detail: detail, CompletedAt: e.CompletedAt,
				}
				if rec.Logins == nil {
					rec.Logins = []string{}
				}
				if err := enc.Encode(rec); err != nil {
					return fmt.Errorf("write jsonl: %w", err)
				}
				return nil
			}, func() error {
				return nil
			}
	})
}

// errHeadersSent stops a download's reading once a HEAD's headers are sent.
var errHeadersSent = errors.New("the headers of a HEAD are sent")

// export streams every entry matching the filter (no paging: store.EachAudit reads it in
// batches and holds no connection while the browser takes each one), newest first, through a
// downloadWriter: the answer's write deadline would cut a long trail's export. Nothing is sent
// before the first entry has been read, so a failure there (the database unavailable, say) is
// the usual error page with the request id. Once the first byte is sent the status cannot
// change, so a failure half-way is logged and the download is aborted: a file that ended
// cleanly would pass for the whole trail in a review. Each export takes one of the user's heavy
// reads (Settings.ExportsPerMinute; a HEAD takes none) and, once it has ended, is itself an audit
// entry ("audit.export", recordAuditExport): ok with the number of entries sent, or failed.
func (h *AuditPages) export(c echo.Context, ext, contentType string,
	start func(w *echo.Response) (write func(store.AuditEntry) error, finish func() error)) error {
	if u := auth.UserFrom(c); !h.policy.Current().HasAnyAccess(u.PolicySubject()) {
		return echo.NewHTTPError(http.StatusForbidden, "You have no access to any domain, so there is no audit trail to export.")
	}
	q := h.exportQuery(c, c.Request().URL)
	if len(q.Problems) > 0 {
		// The way back is the trail with these filters, which says the same and lets them be set.
		back := "/audit"
		if raw := c.Request().URL.RawQuery; raw != "" {
			back += "?" + raw
		}
		return h.errorPageNext(c, http.StatusBadRequest, "Nothing was exported", strings.Join(q.Problems, " "),
			"Set the filters on the audit page and export from there.", 0, &views.Link{Label: "Back to the audit trail", URL: templ.SafeURL(back)})
	}
	q.Before, q.After = 0, 0
	back := &views.Link{Label: "Back to the audit trail", URL: templ.SafeURL(exportURL("/audit", q))}
	if ok, err := h.limitRead(c, auth.UserFrom(c), exportRefused, back); !ok {
		return err
	}
	f, _, ok, err := h.scopeFilter(c, q)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	w := c.Response()
	var write func(store.AuditEntry) error
	var finish func() error
	sent := 0
	begin := func() {
		w.Header().Set(echo.HeaderContentType, contentType)
		w.Header().Set(echo.HeaderContentDisposition,
			fmt.Sprintf(`attachment; filename="smtpdesk-audit-%s.%s"`, h.now().UTC().Format("20060102T150405Z"), ext))
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		write, finish = start(w)
	}
	// A HEAD gets the headers the GET would, and no body: the trail is read no further than
	// the first entry, which decides them.
	head := c.Request().Method == http.MethodHead
	err = nil
	if ok {
		err = h.auditLog.EachAudit(ctx, f, func(e store.AuditEntry) error {
			if write == nil {
				begin()
				if head {
					return errHeadersSent
				}
			}
			if err := write(e); err != nil {
				return err
			}
			sent++
			return nil
		})
		if errors.Is(err, errHeadersSent) {
			return nil
		}
	}
	if write == nil {
		if err != nil {
			h.recordAuditExport(c, q, ext, audit.OutcomeFailed, "nothing exported: the trail could not be read")
			return fmt.Errorf("audit: export: %w", err)
		}
		begin() // no entry matched: the file has the header alone
	}
	if err == nil {
		err = finish()
	}
	if err != nil {
		level, why := slog.LevelError, "the trail could not be read or the file written"
		if ctx.Err() != nil {
			// The browser went away: nobody is waiting for the rest.
			level, why = slog.LevelInfo, "the download was cut off"
		}
		h.recordAuditExport(c, q, ext, audit.OutcomeFailed, fmt.Sprintf("failed after %s: %s", plural(sent, "entry"), why))
		h.log.Log(ctx, level, "audit export failed after the file had begun; the download is aborted", "format", ext, "err", err)
		panic(http.ErrAbortHandler)
	}
	h.recordAuditExport(c, q, ext, audit.OutcomeOK, plural(sent, "entry"))
	return nil
}

// recordAuditExport records an export of the trail ("audit.export") once its outcome is known,
// as the integrity check records itself: the format, the filters applied and what happened. It
// names no domain (an unfiltered export spans many), so only administrators see it, as the
// other audit.* entries. A write failure is logged: the file has been sent by then. A HEAD
// sends no entries and is not recorded.
func (h *AuditPages) recordAuditExport(c echo.Context, q AuditQuery, ext, outcome, what string) {
	if c.Request().Method == http.MethodHead {
		return
	}
	ctx := c.Request().Context()
	format := map[string]string{"csv": "CSV", "jsonl": "JSON Lines"}[ext]
	detail := fmt.Sprintf("%s; %s; %s", format, auditFilterSummary(q), what)
	if err := h.audit.Event(ctx, actorOf(auth.UserFrom(c)), metaOf(c), audit.ActionAuditExport, outcome, "", detail); err != nil {
		h.log.ErrorContext(ctx, "audit "+audit.ActionAuditExport, "outcome", outcome, "err", err)
	}
}

// auditFilterSummary names an audit query's filters for an audit.export entry's detail, in the
// order of the page's form: `filters domain="acme.example", action="credential.reset"`, or "no
// filters".
func auditFilterSummary(q AuditQuery) string {
	v := q.Values()
	var parts []string
	for _, k := range []string{"domain", "login", "actor", "action", "outcome", "from", "to", "tz"} {
		if s := v.Get(k); s != "" {
			parts = append(parts, fmt.Sprintf("%s=%q", k, s))
		}
	}
	if len(parts) == 0 {
		return "no filters"
	}
	return "filters " + strings.Join(parts, ", ")
}
