package handlers

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/policy"
	"github.com/smtpdesk/smtpdesk/store"
	"github.com/smtpdesk/smtpdesk/views"
)

// CredentialPages serves a domain's credential list and the create, reset and delete pages.
type CredentialPages struct {
	*site
}

// perms says which controls the domain page shows for this user.
func (sc *scope) perms() views.Perms {
	p := views.Perms{
		Create:    sc.can(policy.ActCreate),
		Reset:     sc.can(policy.ActReset),
		Delete:    sc.can(policy.ActDelete),
		DeleteAll: sc.can(policy.ActDeleteAll),
		System:    sc.can(policy.ActSystem),
	}
	if !p.Reset {
		p.SelfLogin = sc.selfLogin()
	}
	return p
}

// selfLogin is the login of this domain that the user may reset through self-service (their
// verified e-mail, ASCII letters lower-cased), or "" when there is none.
func (sc *scope) selfLogin() string {
	email := policy.FoldEmail(sc.user.Email)
	if strings.HasSuffix(email, "@"+sc.domain) && sc.pol.CanSelfReset(sc.subj, sc.domain, email) {
		return email
	}
	return ""
}

// List shows one page of a domain's credentials, or the matches of a filter across the domain.
func (h *CredentialPages) List(c echo.Context) error {
	sc, err := h.authorize(c, policy.ActView, false)
	if sc == nil {
		return err
	}
	ctx := c.Request().Context()
	paging := ParsePaging(c.QueryParams())
	// A part the query parser drops (a filter cut short: "q=bob%4") is said, not silently left out.
	filter, problem := pageFilter(c.QueryParam("q"))
	problems := unreadableProblems(c.Request().URL.RawQuery)
	if problem != "" {
		problems = append(problems, problem)
	}
	for _, p := range problems {
		paging.Note = strings.TrimSpace(paging.Note + " " + p)
	}
	rotate := c.QueryParam("rotate") == "1"
	changed := changedLogins(c.QueryParams())
	rot := h.rotation(ctx, sc.domain)

	var (
		items []mailgun.Credential
		total int
		// onlySystem: the whole domain holds nothing but system logins, which "delete all"
		// keeps. A filtered view reads the whole domain and knows; a page knows further down.
		onlySystem bool
		// filterOnly: how many logins the filter matches when the "To rotate" view of it is
		// empty (0 otherwise).
		filterOnly int
		// hiddenNote says that the logins just changed are left out of this view, and why.
		hiddenNote string
		// domainAll is the domain's whole list when this view read it (or its one page holds
		// it), nil otherwise: whether a login just changed is still there (changedSince).
		domainAll []mailgun.Credential
	)
	if filter == "" && !rotate {
		list, err := h.lists.Page(ctx, sc.domain, paging.Skip(), paging.PerPage)
		if err != nil {
			return h.listError(c, sc, err)
		}
		// A login just changed that is not on the page asked for (the page the form was opened
		// from) is looked for in the whole domain when it is one the reset form reads whole
		// anyway; the page that holds it comes from that same read. A bigger domain, or a failed
		// read, keeps the page asked for.
		if len(changed) > 0 && firstChanged(list.Items, changed) < 0 && len(list.Items) < list.TotalCount && list.TotalCount <= loginCheckLimit {
			if all, err := h.lists.All(ctx, sc.domain); err == nil {
				domainAll = all
				if i := firstChanged(all, changed); i >= 0 {
					paging.Page = i/paging.PerPage + 1
					lo := paging.Skip()
					list = &mailgun.CredentialList{Items: all[lo:min(lo+paging.PerPage, len(all))], TotalCount: len(all)}
				}
			} else {
				h.log.WarnContext(ctx, "find the login just changed", "domain", sc.domain, "err", err)
			}
		}
		// A page past the end shows the last page: the first answer's total says which one it
		// is, and only then is a second call made.
		if len(list.Items) == 0 && paging.Page > 1 && paging.Skip() >= list.TotalCount {
			paging.PastEnd(LastPage(list.TotalCount, paging.PerPage))
			if list.TotalCount > 0 {
				if list, err = h.lists.Page(ctx, sc.domain, paging.Skip(), paging.PerPage); err != nil {
					return h.listError(c, sc, err)
				}
			}
		}
		items, total = list.Items, list.TotalCount
		if paging.Skip() == 0 && len(items) == total {
			domainAll = items
		}
	} else {
		all, err := h.lists.All(ctx, sc.domain)
		if err != nil {
			return h.listError(c, sc, err)
		}
		domainAll = all
		onlySystem = !slices.ContainsFunc(all, func(cr mailgun.Credential) bool { return !rot.isSystem(cr) })
		matches := selectLogins(all, filter, rotate, rot)
		total = len(matches)
		if total == 0 && rotate && filter != "" {
			// None to rotate among the filter's matches: how many match, so that the page does
			// not read "No logins match" when some do.
			filterOnly = len(selectLogins(all, filter, false, rot))
		}
		hiddenNote = hiddenChanged(all, matches, changed, filter, rotate)
		// The page that holds a login just changed, unless the page asked for does.
		if i := firstChanged(matches, changed); i >= 0 && (i < paging.Skip() || i >= paging.Skip()+paging.PerPage) {
			paging.Page = i/paging.PerPage + 1
		}
		if last := LastPage(total, paging.PerPage); len(changed) > 0 && paging.Page > last {
			// The way back from the user's own change (a reset takes its login out of the "To
			// rotate" view) leads past the view's new end: its last page, without a note that
			// the page asked for does not exist, as after a delete (afterDelete).
			paging.Page = last
		} else {
			paging.PastEnd(last)
		}
		lo := min(paging.Skip(), total)
		hi := min(lo+paging.PerPage, total)
		items = matches[lo:hi]
	}

	// The home page's "last used" is a domain whose list was shown: a name mistyped into the
	// address (Mailgun's 404) or a list Mailgun failed to give does not replace it, and neither
	// does a HEAD, whose answer shows nothing.
	if c.Request().Method != http.MethodHead {
		if err := auth.SetPref(c, prefLastDomain, sc.domain); err != nil {
			h.log.WarnContext(ctx, "remember last domain", "err", err)
		}
	}
	perms := sc.perms()
	rows := make([]views.CredentialRow, 0, len(items))
	systemRows := 0
	for _, cr := range items {
		system := rot.isSystem(cr)
		if system {
			systemRows++
		}
		self := perms.SelfLogin != "" && policy.SameEmail(cr.Login, perms.SelfLogin)
		resetAt, old := rot.of(cr)
		rows = append(rows, views.CredentialRow{
			Login:     cr.Login,
			Mailbox:   cr.Mailbox,
			CreatedAt: cr.CreatedAt,
			System:    system,
			Old:       old,
			ResetAt:   resetAt,
			CanReset:  perms.Reset || self,
			CanDelete: perms.Delete && !system,
			Changed:   len(changed) > 0 && changed[strings.ToLower(cr.Login)],
		})
	}

	// The pager's links: what url.Values{page, per_page, q}.Encode() gives (keys in order), built
	// without a map and a sort per link.
	pageBase := domainURL(sc.domain) + "?page="
	filterParam := ""
	if filter != "" {
		filterParam = "&q=" + url.QueryEscape(filter)
	}
	rotateParam := ""
	if rotate {
		rotateParam = "&rotate=1"
	}
	pager := makePager(paging, total, len(items), func(p, n int) string {
		return pageBase + strconv.Itoa(p) + "&per_page=" + strconv.Itoa(n) + filterParam + rotateParam
	})
	// The "All logins" and "To rotate" links keep the filter and the page size, not the page.
	viewBase := domainURL(sc.domain) + "?per_page=" + strconv.Itoa(paging.PerPage) + filterParam
	subtitle, ownReset := domainSubtitle(perms), ""
	if perms.SelfLogin != "" {
		// Self-service: the one login this user may reset can be on any page of the list, or
		// not in the domain at all. A domain read whole says which, and where to reset it.
		if login, known := h.selfLoginOf(ctx, sc.domain, perms.SelfLogin); known {
			if login != "" {
				ownReset = loginURL(sc.domain, login, "reset")
			} else {
				subtitle = fmt.Sprintf("SMTP logins of this domain. Your own login, %s, is not one of them: ask an operator of this domain to create it.", perms.SelfLogin)
			}
		}
	}
	page := h.page(c, sc.domain, subtitle, "domains", sc.domain)
	if paging.Note != "" {
		page.Flashes = append(page.Flashes, views.Flash{Kind: "warning", Message: paging.Note})
	}
	if hiddenNote != "" {
		page.Flashes = append(page.Flashes, views.Flash{Kind: "info", Message: hiddenNote})
	}
	if len(changed) > 0 {
		for _, note := range h.changedSince(ctx, sc, changed, domainAll, changedEntry(c.QueryParams())) {
			page.Flashes = append(page.Flashes, views.Flash{Kind: "warning", Message: note})
		}
	}
	if rot.unread {
		page.Flashes = append(page.Flashes, views.Flash{Kind: "warning", Message: agesUnreadNote})
	}
	// "Delete all" is offered only when there is something it would delete: the whole domain
	// is not just system logins (which it keeps), whatever part of it the page shows.
	if filter == "" && !rotate {
		onlySystem = total == systemRows
	}
	deleteAllURL := domainURL(sc.domain) + "/delete-all"
	if onlySystem {
		deleteAllURL = ""
	}
	vm := views.CredentialsVM{
		Page:         page,
		Domain:       sc.domain,
		Role:         sc.pol.Role(sc.subj, sc.domain).String(),
		Can:          perms,
		Rows:         rows,
		Pager:        pager,
		Filter:       filter,
		Rotate:       rotate,
		AllURL:       viewBase,
		RotateURL:    viewBase + "&rotate=1",
		AgeDays:      h.set.AgeWarningDays,
		CreateURL:    domainURL(sc.domain) + "/new",
		DeleteAllURL: deleteAllURL,
		AuditURL:     historyURL(sc.domain, ""),
		OwnResetURL:  ownReset,
		ExportURL:    loginsExportURL(sc.domain, filter, rotate),
		// The rows' links: loginURL and historyURL of each login, built by the view from these.
		LoginURL:        domainURL(sc.domain) + "/logins/",
		LoginHistoryURL: historyURL(sc.domain, "") + "&login=",
		// The view shown, at the page shown (which a login just changed or a page past the end
		// may have moved from the one in the address): where a delete from its dialog returns.
		Back: viewURL(sc.domain, paging, c.QueryParams().Has("per_page"), filter, rotate),
	}
	if filter != "" || rotate {
		vm.FilterCount = total
		vm.FilterOnlyCount = filterOnly
	}
	if slices.ContainsFunc(rows, func(r views.CredentialRow) bool { return r.CanDelete }) {
		vm.FormToken = newFormToken() // the delete dialog's (views.ConfirmDialog)
	}
	return Render(c, http.StatusOK, views.Credentials(vm))
}

// selectLogins returns the credentials the domain page shows across the domain: those whose
// login contains filter, ignoring case (all of them when filter is empty), and with rotate only
// those rot marks "consider rotating". It returns all itself when nothing is asked for.
func selectLogins(all []mailgun.Credential, filter string, rotate bool, rot rotation) []mailgun.Credential {
	if filter == "" && !rotate {
		return all
	}
	needle := strings.ToLower(filter)
	var out []mailgun.Credential
	for _, cr := range all {
		if loginMatches(cr.Login, needle) && (!rotate || rot.old(cr)) {
			out = append(out, cr)
		}
	}
	return out
}

// loginMatches reports whether a login holds needle (lower case). Every login of a domain ends
// in the same @domain, where a needle such as "com" or "x" would match them all, so a needle
// without an @ is looked for before the login's @ only; one with an @ ("alice@acme") in the
// whole login, so that a pasted login still finds itself.
func loginMatches(login, needle string) bool {
	l := strings.ToLower(login)
	if !strings.Contains(needle, "@") {
		if at := strings.LastIndexByte(l, '@'); at >= 0 {
			l = l[:at]
		}
	}
	return strings.Contains(l, needle)
}

// rotation is what the "consider rotating" mark of a domain's logins depends on: the cutoff
// (AgeWarningDays ago) and when SMTP Desk last set each login's password; and, from the same
// reading of the audit trail, which logins SMTP Desk created as system logins.
type rotation struct {
	cutoff time.Time
	sets   map[string]time.Time      // lower-case login → last password set through SMTP Desk
	system map[string]store.MarkedOK // lower-case login → its create as a system login through SMTP Desk
	// unread: the audit trail could not be read, so sets and system are empty for want of it
	// (PasswordSets.entry): the marks count from creation alone, and a page must say so.
	unread bool
}

// rotation returns the domain's rotation inputs as of now, from one reading of the audit trail
// (one query's wait when the trail is slow, not one per map).
func (s *site) rotation(ctx context.Context, domain string) rotation {
	e := s.pwSets.entry(ctx, domain)
	// Days of 24 hours, as the CSV counts the ages: AddDate counts calendar days in the clock's
	// zone (time.Now is in the server's local time), one of them 23 or 25 hours long when a
	// daylight-saving change lies between, and the mark then disagreed with the CSV's age by an
	// hour. AGE_WARNING_DAYS is at most 106751, whose hours still fit a time.Duration.
	cutoff := s.now().Add(-time.Duration(s.set.AgeWarningDays) * 24 * time.Hour)
	return rotation{cutoff: cutoff, sets: e.at, system: e.system, unread: e.unread}
}

// agesUnreadNote is the warning of a page whose marks come from a rotation that could not read
// the audit trail: without it, a login reset yesterday reads "consider rotating" as a fact.
const agesUnreadNote = "The audit trail could not be read just now, so password ages count from each login's creation: " +
	"a login whose password SMTP Desk reset may be marked \"consider rotating\", and a system login created through " +
	"SMTP Desk may not be marked as one. Reload the page in a minute."

// agesUnread refuses a logins export whose password ages would be wrong (rotation.unread), with
// a link to next (nil for none).
func (s *site) agesUnread(c echo.Context, next *views.Link) error {
	return s.errorPageNext(c, http.StatusServiceUnavailable, "Nothing was exported",
		"The audit trail, which says when SMTP Desk last reset each password, could not be read just now, "+
			"so the file's password ages would be wrong.",
		"Try again in a minute; if it keeps happening, tell your administrator.", 0, next)
}

// systemSlack is how far apart SMTP Desk's clock and Mailgun's may put a create's audit entry and
// the login's created_at (whole seconds) and still be the same create.
const systemSlack = time.Minute

// isSystem says whether cr is a system login, which Mailgun will not delete and delete all
// keeps: postmaster (IsSystemLogin), or one SMTP Desk created as a system login, when Mailgun
// created cr then (between the create's entry and its completion). A login of that name made
// again since, in Mailgun's own panel, or an older one the create could not have made, is not:
// delete all deletes it, and its page and audit entry must say so.
func (r rotation) isSystem(cr mailgun.Credential) bool {
	if IsSystemLogin(cr.Login) {
		return true
	}
	if len(r.system) == 0 {
		return false
	}
	m, ok := r.system[strings.ToLower(cr.Login)]
	if !ok {
		return false
	}
	return cr.CreatedAt.IsZero() ||
		(!cr.CreatedAt.Before(m.At.Add(-systemSlack)) && !cr.CreatedAt.After(m.Completed.Add(systemSlack)))
}

// of is when SMTP Desk last set cr's password (zero when it never did, as far as the audit trail
// remembers) and whether cr gets the "consider rotating" mark: its password was set before the
// cutoff, by its creation or by that reset, whichever is newer. A credential without a creation
// time and no reset has no age and no mark. A reset no newer than the creation is of an earlier
// login of the same name (deleted, then created again): it is not this one's, and setAt is zero.
func (r rotation) of(cr mailgun.Credential) (setAt time.Time, old bool) {
	setAt = lastSet(r.sets, cr.Login)
	at := cr.CreatedAt
	if setAt.After(at) {
		at = setAt
	} else {
		setAt = time.Time{}
	}
	return setAt, !at.IsZero() && at.Before(r.cutoff)
}

// old is the mark alone.
func (r rotation) old(cr mailgun.Credential) bool {
	_, old := r.of(cr)
	return old
}

func makePager(p Paging, total, shown int, link func(p, n int) string) views.Pager {
	pg := views.Pager{
		Page:       p.Page,
		PerPage:    p.PerPage,
		Total:      total,
		TotalPages: LastPage(total, p.PerPage),
		Sizes:      PageSizes(),
		URL:        link,
	}
	if shown > 0 {
		pg.From = p.Skip() + 1
		pg.To = p.Skip() + shown
	}
	return pg
}

// listError answers a failed list call: an unknown domain is a 404 page, anything else goes to
// the error handler (which maps Mailgun errors to 429/502/504).
func (h *CredentialPages) listError(c echo.Context, sc *scope, err error) error {
	if errors.Is(err, mailgun.ErrNotFound) {
		return h.noSuchDomain(c, sc)
	}
	if errors.Is(err, mailgun.ErrRateLimited) {
		var me *mailgun.Error
		wait := time.Duration(0)
		if errors.As(err, &me) {
			wait = me.RetryAfter
		}
		// Answered here, not by ErrorHandler, which would log it at Warn as a 4xx: without this
		// line the access log's 429 did not say that it was Mailgun's limit, not the user's.
		h.log.WarnContext(c.Request().Context(), mailgunRateLimited, "domain", sc.domain, "retry_after", wait.String(), "err", err)
		// A page that only reads (the list, a later page of it, a filter, an export, a form) is
		// worth loading again, as on every other error page that does (ErrorHandler): "Try
		// again", to the same address, so the page, filter and page size are not lost to "Back
		// to domains", the only way on. After a POST the same address would not send it again.
		// A page that only reads changed nothing, and its button says "Try again": the hint
		// says only when (the page's wait does once Mailgun names one), where it said "Nothing
		// was changed. Try again …" above "Try again in 90 seconds" and a "Try again" button.
		var hint string
		var next *views.Link
		switch m := c.Request().Method; {
		case m == http.MethodGet || m == http.MethodHead:
			next = &views.Link{Label: "Try again", URL: templ.SafeURL(auth.SafeNext(c.Request().URL.RequestURI()))}
			if wait == 0 {
				hint = "Try again in a moment."
			}
		case wait > 0: // the page says how long: not "a moment" as well
			hint = "Nothing was changed. Reload the page once the wait below is over."
		default:
			hint = "Nothing was changed. Reload the page in a moment."
		}
		// Mailgun's 429 in the words of every other page (classifyError).
		return h.errorPageNext(c, http.StatusTooManyRequests, mailgunRateLimited, mailgunSlowDown, hint, wait, next)
	}
	return fmt.Errorf("list credentials of %s: %w", sc.domain, err)
}

// noSuchDomain is the page (404) of a domain Mailgun does not have: its list's, and a change's
// (notInMailgun).
func (h *CredentialPages) noSuchDomain(c echo.Context, sc *scope) error {
	return h.errorPage(c, http.StatusNotFound, "Domain not found",
		fmt.Sprintf("Mailgun does not know the domain %s.", sc.domain),
		"Pick a domain from the list on the home page.", 0)
}

// authorizeChange is authorize for the pages of a change (create, reset, delete, delete-all:
// their forms and their POSTs), which then also refuses a domain that is not one of the
// account's Mailgun domains (notInMailgun). The policy comes first, so that who may not act on a
// name is told so (and the refusal recorded) whether Mailgun has it or not.
func (h *CredentialPages) authorizeChange(c echo.Context, act policy.Action, withLogin bool) (*scope, error) {
	sc, err := h.authorize(c, act, withLogin)
	if sc == nil {
		return nil, err
	}
	if missing, err := h.notInMailgun(c, sc); missing {
		return nil, err
	}
	return sc, nil
}

// notInMailgun answers the "Domain not found" page (404) when the domain is not among the
// account's Mailgun domains (DomainCache.Has: the list the picker shows, read again, within a
// bound, for a name it does not hold). It runs before a change's form is shown and before its
// audit entry is written: a made-up name typed into the address (an administrator, a rule for
// every domain, or a policy naming a domain Mailgun does not have) would otherwise be recorded
// as acted on, and offered by the audit page's domain filter for good, for an action Mailgun
// then refuses. Nothing is recorded and nothing is sent to Mailgun. When the list cannot be
// read, the change goes on as before: Mailgun's answer to it says what is wrong.
func (h *CredentialPages) notInMailgun(c echo.Context, sc *scope) (bool, error) {
	ctx := c.Request().Context()
	has, err := h.domains.Has(ctx, sc.domain)
	if err != nil {
		h.log.WarnContext(ctx, "check the domain against Mailgun's domain list; going on without", "domain", sc.domain, "err", err)
		return false, nil
	}
	if has {
		return false, nil
	}
	h.log.WarnContext(ctx, "change refused: the domain is not one of Mailgun's", "domain", sc.domain, "sub", sc.user.Subject)
	return true, h.noSuchDomain(c, sc)
}

// unknownDomain answers 404 when Mailgun does not know the domain, for the form pages, which
// would otherwise show a working form for it: a domain removed from Mailgun that the kept domain
// list still names passes notInMailgun. It asks for the domain's login count, which the
// home and domain pages keep (else one limit=1 call). Any other failure to ask lets the form
// show: its action will say what Mailgun answers then.
func (h *CredentialPages) unknownDomain(c echo.Context, sc *scope) (bool, error) {
	if _, err := h.lists.Count(c.Request().Context(), sc.domain); errors.Is(err, mailgun.ErrNotFound) {
		return true, h.listError(c, sc, err)
	}
	return false, nil
}

// loginCheckLimit is the largest domain whose logins the reset and delete forms check before
// they are shown. Reading all of a bigger one to draw a form costs more than the check is worth;
// the form's own answer says when the login is gone.
const loginCheckLimit = 1000

// checkableList is the domain's logins as the list cache keeps them, when the domain has at most
// loginCheckLimit of them and they can be read: what a page reads whole to look a login up by
// its name (the forms' checks, a system login, the home page's own login). ok is false
// otherwise, and the caller goes on without the look-up.
func (s *site) checkableList(ctx context.Context, domain string) (all []mailgun.Credential, ok bool) {
	if n, err := s.lists.Count(ctx, domain); err != nil || n > loginCheckLimit {
		return nil, false
	}
	all, err := s.lists.All(ctx, domain)
	return all, err == nil
}

// selfLoginOf is the login of domain that is the user's own e-mail (policy.SameEmail), as Mailgun
// spells it, "" when the domain has none; known is false when the domain could not be read whole
// (checkableList), and the caller cannot tell.
func (s *site) selfLoginOf(ctx context.Context, domain, email string) (login string, known bool) {
	all, ok := s.checkableList(ctx, domain)
	if !ok {
		return "", false
	}
	for _, cr := range all {
		if policy.SameEmail(cr.Login, email) {
			return cr.Login, true
		}
	}
	return "", true
}

// unknownLogin answers 404 for the reset or delete form of a login the domain does not have (an
// old link, a login deleted meanwhile), as unknownDomain does for the domain. The domain's logins
// come from the list cache the domain page fills. A domain above loginCheckLimit logins, or any
// failure to ask, lets the form show.
func (h *CredentialPages) unknownLogin(c echo.Context, sc *scope) (bool, error) {
	ctx := c.Request().Context()
	n, err := h.lists.Count(ctx, sc.domain)
	if errors.Is(err, mailgun.ErrNotFound) {
		return true, h.listError(c, sc, err)
	}
	if err != nil || n > loginCheckLimit {
		return false, nil
	}
	has := func(all []mailgun.Credential) bool {
		// ASCII letters' case only (policy.SameEmail): Unicode folding would take
		// "\u212Aate@…" (KELVIN SIGN) for kate@….
		return slices.ContainsFunc(all, func(cr mailgun.Credential) bool { return policy.SameEmail(cr.Login, sc.login) })
	}
	all, err := h.lists.All(ctx, sc.domain)
	if err != nil || has(all) {
		return false, nil
	}
	// The kept list may be older than the login (made in Mailgun's own panel, or through another
	// replica): read it again before saying there is none.
	h.lists.Invalidate(sc.domain)
	if all, err = h.lists.All(ctx, sc.domain); err != nil || has(all) {
		return false, nil
	}
	msg := fmt.Sprintf("%s has no login %s. It may have been deleted, or the link is old.", sc.domain, sc.login)
	if who, ok := h.whoDeleted(ctx, sc, 0); ok {
		msg = fmt.Sprintf("%s has no login %s: %s.", sc.domain, sc.login, who)
	}
	return true, h.errorPageNext(c, http.StatusNotFound, "Login not found", msg,
		"Open "+sc.domain+" to see the logins it has.", 0, domainLink(sc))
}

// deletedBy says who deleted sc's login and when, when the audit trail's newest change of it is
// a delete (or a delete all) that succeeded: "you" for the user asking (the back button after a
// delete led to "Someone may have deleted it"). self, when not 0, is the id of the entry of the
// action that has just found the login gone, which is passed over, as are the changes that
// changed nothing (failed or refused: another stale row's try) and entries of no change (an
// export): the delete may be older than self's entry, or newer, when it was begun while self's
// action ran (a reset held at Mailgun while another user deleted the login, which read "someone
// may have deleted it" while the trail named who). The trail not answering says nothing.
func (h *CredentialPages) deletedBy(ctx context.Context, sc *scope, self int64) (by string, at time.Time, ok bool) {
	es, err := h.auditLog.ListAudit(ctx, store.AuditFilter{Domain: sc.domain, Login: sc.login, Limit: 20})
	if err != nil {
		return "", time.Time{}, false
	}
	for _, e := range es {
		if e.ID == self || refused(e) || !strings.HasPrefix(e.Action, "credential.") {
			continue
		}
		if (e.Action != audit.ActionCredentialDelete && e.Action != audit.ActionCredentialDeleteAll) || e.Outcome != audit.OutcomeOK {
			return "", time.Time{}, false
		}
		return sc.nameOf(e), entryEnd(e), true
	}
	return "", time.Time{}, false
}

// whoDeleted is deletedBy as the pages of a gone login say it ("Olga Owner deleted it through
// SMTP Desk on 2026-12-06 at 04:07 UTC"), one sentence part for the form's own address, a stale
// reset and a stale delete alike.
func (h *CredentialPages) whoDeleted(ctx context.Context, sc *scope, before int64) (string, bool) {
	by, at, ok := h.deletedBy(ctx, sc, before)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%s deleted it through SMTP Desk on %s", by, at.UTC().Format(trailTime)), true
}

// domainSubtitle says what the domain page lets this user do, so a reviewer is not promised
// buttons they will not find.
func domainSubtitle(p views.Perms) string {
	switch {
	case p.Delete:
		return "SMTP logins of this domain: list, create, reset and delete them."
	case p.Create || p.Reset:
		return "SMTP logins of this domain: list, create and reset them."
	case p.SelfLogin != "":
		return "SMTP logins of this domain. You can reset the password of your own login."
	default:
		return "SMTP logins of this domain, read-only for your role."
	}
}
