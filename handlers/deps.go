package handlers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"golang.org/x/net/idna"

	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/internal/ratelimit"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/policy"
	"github.com/smtpdesk/smtpdesk/store"
	"github.com/smtpdesk/smtpdesk/views"
)

// CredentialsAPI is the part of the Mailgun client the credential pages use. *mailgun.Client
// satisfies it; tests may use the real client against the sandbox or a fake.
type CredentialsAPI interface {
	ListCredentials(ctx context.Context, domain string, opts *mailgun.ListOptions) (*mailgun.CredentialList, error)
	CreateCredentials(ctx context.Context, domain string, req *mailgun.CreateCredentialsRequest) (*mailgun.CreateResult, error)
	ChangePassword(ctx context.Context, domain, spec, password string) (*mailgun.PasswordResult, error)
	DeleteCredential(ctx context.Context, domain, spec string) (*mailgun.DeleteResult, error)
	DeleteAllCredentials(ctx context.Context, domain string) (*mailgun.DeleteAllResult, error)
	ListDomains(ctx context.Context, opts *mailgun.DomainListOptions) (*mailgun.DomainList, error)
}

// Auditor records actions in two steps (Begin, then Pending.Complete) and single events such as
// access denials. *audit.Recorder satisfies it.
type Auditor interface {
	Begin(ctx context.Context, a audit.Actor, m audit.Meta, action, domain, detail string, logins []string) (*audit.Pending, error)
	Event(ctx context.Context, a audit.Actor, m audit.Meta, action, outcome, domain, detail string, logins ...string) error
}

// AuditLog reads the audit trail for the audit pages and exports, checks its hash chain, and
// tells when each login's password was last reset and which logins were created as system
// logins (PasswordSets). *store.DB satisfies it.
type AuditLog interface {
	ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error)
	AuditDomains(ctx context.Context) ([]string, error)
	EachAudit(ctx context.Context, f store.AuditFilter, fn func(store.AuditEntry) error) error
	VerifyAudit(ctx context.Context) (store.VerifyReport, error)
	LastOK(ctx context.Context, domain, action string) (map[string]time.Time, error)
	NewestOKMarked(ctx context.Context, domain, action, marker string) (map[string]store.MarkedOK, error)
}

// FormTokens records the one-time tokens of the create, reset and delete forms acted on, so that
// a form sent again (a reload of the page its POST answered, the back button, a double click)
// does not act again. The record is one atomic statement, whichever replica answers. *store.DB satisfies
// it.
type FormTokens interface {
	UseFormToken(ctx context.Context, token string, now time.Time) (first bool, err error)
	ReleaseFormToken(ctx context.Context, token string) error
}

// PolicySource hands out the access policy in force now, so a reload applies on the next
// request. *policy.Holder satisfies it.
type PolicySource interface {
	Current() *policy.Policy
}

// prefLastDomain is the session preference holding the last domain the user opened.
const prefLastDomain = "last_domain"

// site is what every page handler shares: the dependencies, the caches in front of Mailgun,
// the per-user limits (actions, heavy reads), and the checks every domain URL goes through.
type site struct {
	log      *slog.Logger
	policy   PolicySource
	mg       CredentialsAPI
	audit    Auditor
	auditLog AuditLog
	forms    FormTokens // nil: forms sent twice are not told apart
	set      Settings
	now      func() time.Time
	lists    *ListCache
	pwSets   *PasswordSets
	domains  *DomainCache
	actions  userLimit // mutating actions (limit, allow)
	reads    userLimit // heavy reads: the exports and the audit trail's check (limitRead)
	// denials and denialBudget bound the access.denied entries a user can write (recordDenial);
	// onDenied counts every refusal for the metrics.
	denials      *ratelimit.Sampler
	denialBudget *ratelimit.Limiter
	onDenied     func(action, audit string)
}

func newSite(d Deps) *site {
	set := d.Settings.withDefaults()
	now := d.Now
	if now == nil {
		now = time.Now
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	domains := NewDomainCache(d.Mailgun, set.CountCacheTTL, now)
	domains.WalkTimeout, domains.Log = set.DomainWalkTimeout, log
	return &site{
		log:      log,
		policy:   d.Policy,
		mg:       d.Mailgun,
		audit:    d.Audit,
		auditLog: d.AuditLog,
		forms:    d.Forms,
		set:      set,
		now:      now,
		lists: NewListCache(d.Mailgun, ListCacheOptions{
			PageTTL: set.ListCacheTTL, CountTTL: set.CountCacheTTL, FanOut: set.FanOut, Now: now,
		}),
		pwSets:  passwordSetsFor(d.AuditLog, set.PasswordAgeTTL, now, log),
		domains: domains,
		actions: userLimit{limiter: ratelimit.New(set.ActionsPerMinute, set.RateLimitKeys, now),
			perMinute: set.ActionsPerMinute, one: "change", many: "changes", log: "action rate limit"},
		// One budget for every read that walks a whole list or the whole trail. The check of the
		// trail shares it: it reads what an administrator's unfiltered audit export reads, row by
		// row, and only administrators may run it; a budget of its own would be a setting to
		// explain for the same cost.
		reads: userLimit{limiter: ratelimit.New(set.ExportsPerMinute, set.RateLimitKeys, now),
			perMinute: set.ExportsPerMinute, one: "export or audit trail check", many: "exports and audit trail checks", log: "export rate limit"},

		denials:      ratelimit.NewSampler(set.DenialWindow, set.DenialKeys, now),
		denialBudget: ratelimit.New(set.DenialsPerMinute, set.DenialKeys, now),
		onDenied:     d.OnDenied,
	}
}

// page fills the layout's view model: PageBase (nonce, CSRF token, user, flashes, request id)
// plus the domain picker, which comes from the cached domain list filtered by the policy.
func (s *site) page(c echo.Context, title, subtitle, nav, current string) views.Page {
	return s.frame(c, PageBase(c, title), subtitle, nav, current)
}

// subPage is the frame of a page under a domain's list (create, reset, delete, delete all, the
// passwords shown once): its breadcrumbs, Domains › the domain › crumb, lead at the top of the
// page where its Cancel or Done leads at the bottom, to the list view back ("" is the domain's
// first page).
func (h *CredentialPages) subPage(c echo.Context, sc *scope, crumb, title, subtitle, back string) views.Page {
	p := h.page(c, title, subtitle, "domains", sc.domain)
	p.Breadcrumbs = subCrumbs(sc.domain, back, crumb)
	return p
}

// subCrumbs are the breadcrumbs of a page under domain's list: Domains › domain (leading to the
// list view back, "" for its first page) › crumb.
func subCrumbs(domain, back, crumb string) []views.NavItem {
	return []views.NavItem{{Label: "Domains", URL: "/"}, {Label: domain, URL: cmp.Or(back, domainURL(domain))}, {Label: crumb}}
}

// frame adds to p what every page of the site shows: subtitle, navigation, the domain picker
// and the admin flag.
func (s *site) frame(c echo.Context, p views.Page, subtitle, nav, current string) views.Page {
	p.Subtitle = subtitle
	p.Nav = nav
	p.CurrentDomain = current
	p.Demo = p.Demo || s.set.Demo
	p.Now = s.now()
	if u := auth.UserFrom(c); u != nil {
		if p.User != nil {
			p.User.IsAdmin = s.policy.Current().IsAdmin(u.PolicySubject())
		}
		p.Domains = s.picker(c, u)
	}
	return p
}

// picker lists the domains the user may view. A Mailgun failure leaves the picker empty rather
// than failing the page.
func (s *site) picker(c echo.Context, u *auth.User) []views.NavItem {
	all, err := s.domains.Domains(c.Request().Context())
	if err != nil {
		s.log.WarnContext(c.Request().Context(), "domain picker: list domains", "err", err)
		return nil
	}
	return s.navItems(u, all)
}

// frameError gives an error page of a signed-in page (the error handler's) the navigation of
// the site's other pages: the admin flag and the domain picker, from the domain list already
// read, however old. It asks Mailgun nothing: the error may be Mailgun's, and without the
// navigation nothing on a Mailgun error page led to the audit trail, which needs no Mailgun.
func (s *site) frameError(c echo.Context, p *views.Page) {
	u := auth.UserFrom(c)
	if u == nil || p.User == nil {
		return
	}
	p.User.IsAdmin = s.policy.Current().IsAdmin(u.PolicySubject())
	p.Domains = s.navItems(u, s.domains.Kept())
}

// keepSite lets the error handler find the site (frameError) of a signed-in user's page.
func (s *site) keepSite(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(siteKey, s)
		return next(c)
	}
}

// navItems are the picker's entries: the domains of all that u may view.
func (s *site) navItems(u *auth.User, all []mailgun.Domain) []views.NavItem {
	pol, subj := s.policy.Current(), u.PolicySubject()
	var out []views.NavItem
	for _, d := range all {
		if r := pol.Role(subj, d.Name); r >= policy.RoleViewer {
			out = append(out, views.NavItem{Label: d.Name, URL: domainURL(d.Name), Note: r.String()})
		}
	}
	return out
}

// visibleDomains returns the Mailgun domains the subject may view.
func (s *site) visibleDomains(ctx context.Context, pol *policy.Policy, subj policy.Subject) ([]mailgun.Domain, error) {
	all, err := s.domains.Domains(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]mailgun.Domain, 0, len(all))
	for _, d := range all {
		if pol.Can(subj, d.Name, policy.ActView) {
			out = append(out, d)
		}
	}
	return out, nil
}

// scope is a request's checked domain (and login) and who is asking.
type scope struct {
	user   *auth.User
	subj   policy.Subject
	pol    *policy.Policy
	domain string
	login  string // full address, "" when the URL names none
	self   bool   // allowed through self-service only
}

func (sc *scope) can(a policy.Action) bool { return sc.pol.Can(sc.subj, sc.domain, a) }

// madeBy reports whether the audit entry e was made by sc's user (the same issuer and subject),
// whom a page then calls "you" rather than by name.
func (sc *scope) madeBy(e store.AuditEntry) bool {
	return sc.user != nil && e.ActorIssuer == sc.user.Issuer && e.ActorSubject == sc.user.Subject
}

// nameOf is how a page names, to sc's user, the one who made the audit entry e: "you", or
// actorName.
func (sc *scope) nameOf(e store.AuditEntry) string {
	if sc.madeBy(e) {
		return "you"
	}
	return actorName(e)
}

// actorName is how a page names the user who made the audit entry e: their name, else their
// e-mail.
func actorName(e store.AuditEntry) string { return cmp.Or(e.ActorName, e.ActorEmail, "someone") }

// refused reports whether the audit entry e changed nothing: Mailgun or the policy refused it.
func refused(e store.AuditEntry) bool {
	return e.Outcome == audit.OutcomeFailed || e.Outcome == audit.OutcomeDenied
}

// trailTime is how a page's sentence gives an audit entry's time ("on 2026-12-06 at 04:07 UTC"):
// in a flash, the page puts it in the viewer's zone (views.TrailTimeLayout).
const trailTime = views.TrailTimeLayout

// authorize validates the domain (and the login when withLogin) in the URL and asks the policy
// whether the session's user may do act there. This runs before any Mailgun call; the page's
// hidden controls are never the check. When it returns nil the response is already written
// (400 or 403) and the handler returns the second value.
func (s *site) authorize(c echo.Context, act policy.Action, withLogin bool) (*scope, error) {
	u := auth.UserFrom(c)
	if u == nil {
		// RequireUser runs first; this is a second line of defence.
		return nil, echo.NewHTTPError(http.StatusUnauthorized, "sign in first")
	}
	domain, err := pathParam(c, "domain")
	if err == nil {
		err = mailgun.ValidateDomain(domain)
	}
	if err != nil {
		if ascii, ierr := idna.Lookup.ToASCII(domain); ierr == nil && ascii != domain && mailgun.ValidateDomain(ascii) == nil {
			// An internationalized name (bücher.example): Mailgun and these pages name the domain
			// in its ASCII form, which the page offers.
			return nil, s.errorPageNext(c, http.StatusBadRequest, "That domain name is not valid",
				fmt.Sprintf("The domain %q in the address is written with letters Mailgun does not use in domain names; Mailgun names it %s.", clip(domain, 80), ascii),
				"Open it by that name.", 0, &views.Link{Label: "Open " + ascii, URL: templ.SafeURL(domainURL(ascii))})
		}
		return nil, s.badRequest(c, "That domain name is not valid", fmt.Errorf("the domain %q in the address is not valid: %w", clip(domain, 80), err))
	}
	sc := &scope{user: u, subj: u.PolicySubject(), pol: s.policy.Current(), domain: strings.ToLower(domain)}
	if withLogin {
		raw, err := pathParam(c, "login")
		if err == nil {
			sc.login, err = LoginSpec(sc.domain, raw)
		}
		if err != nil {
			return nil, s.errorPageNext(c, http.StatusBadRequest, "That login is not valid", invalidInputText(err),
				"Open "+sc.domain+" from your domains and choose the login in its list.", 0, domainLink(sc))
		}
	}
	if sc.pol.Can(sc.subj, sc.domain, act) {
		return sc, nil
	}
	if act == policy.ActReset && sc.login != "" && sc.pol.CanSelfReset(sc.subj, sc.domain, sc.login) {
		sc.self = true
		return sc, nil
	}
	return nil, s.deny(c, sc, act)
}

// verified is s with its e-mail taken as verified: what the policy would allow once it is.
func verified(s policy.Subject) policy.Subject {
	s.EmailVerified = true
	return s
}

// deny records the refusal (recordDenial) and answers 403.
func (s *site) deny(c echo.Context, sc *scope, act policy.Action) error {
	detail := act.String()
	if sc.login != "" {
		detail += " " + sc.login
	}
	s.recordDenial(c, sc.user, sc.domain, sc.login, act.String(), detail)
	msg, next := fmt.Sprintf("Your access to %s does not include %s.", sc.domain, actionPhrase(act)), domainLink(sc)
	own := sc.selfLogin()
	switch {
	case sc.pol.Role(sc.subj, sc.domain) == policy.RoleNone:
		msg = fmt.Sprintf("You don't have access to %s.", sc.domain)
	case act == policy.ActReset && own != "":
		// Their access does include one reset: their own login's (self-service). The page
		// names it, which is their own address, and nothing about the login they asked for,
		// and leads to its reset: a wrong link led to the domain, to find their row there. A
		// domain read whole says whether it has that login, and how Mailgun spells it.
		login, known := s.selfLoginOf(c.Request().Context(), sc.domain, own)
		if known && login == "" {
			msg = fmt.Sprintf("You can reset the password of your own login, %s, and of no other login in %s; but %s is not one of its logins: ask an operator of this domain to create it.", own, sc.domain, own)
			break
		}
		if known {
			own = login
		}
		msg = fmt.Sprintf("You can reset the password of your own login, %s, and of no other login in %s.", own, sc.domain)
		next = &views.Link{Label: "Reset your password", URL: templ.SafeURL(loginURL(sc.domain, own, "reset"))}
	case act == policy.ActReset && !sc.subj.EmailVerified && sc.login != "" && sc.pol.CanSelfReset(verified(sc.subj), sc.domain, sc.login):
		// Their own login, which self-service would let them reset but for the e-mail the
		// provider does not mark verified: the page says so, as nothing else would tell them,
		// when the domain has that login (or cannot say).
		if login, known := s.selfLoginOf(c.Request().Context(), sc.domain, sc.login); known && login == "" {
			msg = fmt.Sprintf("Your access to %s does not include resetting passwords, and %s is not one of its logins.", sc.domain, sc.login)
			break
		}
		msg = fmt.Sprintf("Your access to %s does not include resetting passwords. Self-service would let you reset your own login, %s, but your sign-in provider does not mark your e-mail address as verified.", sc.domain, sc.login)
	}
	return s.errorPageNext(c, http.StatusForbidden, "You don't have access to this", msg,
		"Ask an SMTP Desk administrator if you need it.", 0, next)
}

// What became of a refusal's access.denied entry, as the log and the metrics say it.
const (
	deniedRecorded   = "recorded"
	deniedSuppressed = "suppressed" // counted in the next entry of the same user, domain, action and login
	deniedFailed     = "failed"
)

// recordDenial records a refused request of u as an access.denied audit entry, logs it and
// counts it (Deps.OnDenied). kind is the refused action (a policy.Action's name, or "audit
// verify"), detail the entry's detail, login the login the refused action named ("" when
// none): the entry names it, so that the login's history (the audit filter by login) shows
// who tried to reset or delete it and was refused.
//
// The entries are bounded, or a user (a script with their cookie, a tab reloading a forbidden
// page) could write thousands a minute into a trail kept for the whole retention period: of a
// user's refusals of one kind on one domain (and login), the first is recorded, then at most
// one per Settings.DenialWindow, and a user gets at most Settings.DenialsPerMinute entries at
// once, then that many a minute, in all (distinct domains or logins in the URL would otherwise
// each get a first entry). A refusal not recorded is counted, and the next entry of the same
// user, domain, kind and login says how many it stands for. The count lives in this replica's
// memory, bounded by Settings.DenialKeys: a count whose key is dropped, or that no later refusal
// carries, reaches only the log (one line per refusal) and the metrics.
func (s *site) recordDenial(c echo.Context, u *auth.User, domain, login, kind, detail string) {
	ctx := c.Request().Context()
	who := u.Issuer + "\x00" + u.Subject
	// The domain is a validated host name (at most 253 bytes) or "", and the kinds are few; the
	// number of keys is bounded by the sampler whatever names the URLs carry. The login is part
	// of the key: a refused delete of bob after one of alice is bob's first, recorded under his
	// name for his history, not counted into a later entry that names another login.
	smp := s.denials.Sample(who+"\x00"+domain+"\x00"+kind+"\x00"+login, func() bool {
		ok, _ := s.denialBudget.Allow(who)
		return ok
	})
	outcome := deniedSuppressed
	if smp.Keep {
		outcome = deniedRecorded
		if smp.Held > 0 {
			detail += fmt.Sprintf("; %s like it since %s, not recorded one by one",
				plural(smp.Held, "more refusal"), smp.Since.UTC().Format(time.RFC3339))
		}
		var logins []string
		if login != "" {
			logins = []string{login}
		}
		if err := s.audit.Event(ctx, actorOf(u), metaOf(c), audit.ActionAccessDenied, audit.OutcomeDenied, domain, detail, logins...); err != nil {
			outcome = deniedFailed
			s.log.ErrorContext(ctx, "audit access.denied", "err", err, "refusals", smp.Held+1)
		}
	}
	s.log.WarnContext(ctx, "access denied", "domain", domain, "action", kind, "sub", u.Subject, "audit", outcome)
	if s.onDenied != nil {
		s.onDenied(strings.ReplaceAll(kind, " ", "_"), outcome)
	}
}

func actionPhrase(a policy.Action) string {
	switch a {
	case policy.ActView:
		return "viewing its SMTP logins"
	case policy.ActCreate:
		return "creating SMTP logins"
	case policy.ActReset:
		return "resetting passwords"
	case policy.ActDelete:
		return "deleting SMTP logins"
	case policy.ActDeleteAll:
		return "deleting all SMTP logins"
	case policy.ActSystem:
		return "creating system logins"
	}
	return "this action"
}

// badRequest answers 400 with what is wrong with the URL or input.
func (s *site) badRequest(c echo.Context, heading string, err error) error {
	return s.errorPage(c, http.StatusBadRequest, heading, invalidInputText(err), "Check the address and try again.", 0)
}

// invalidInputText is err's text without mailgun.ErrInvalidInput's, for a page.
func invalidInputText(err error) string {
	msg := strings.TrimPrefix(err.Error(), mailgun.ErrInvalidInput.Error()+": ")
	msg = strings.ReplaceAll(msg, ": "+mailgun.ErrInvalidInput.Error()+": ", ": ")
	msg = strings.ReplaceAll(msg, ": "+mailgun.ErrInvalidInput.Error(), "")
	// mailgun's validation names what it checks ("spec", "domain"); the page says "it".
	for _, what := range []string{": spec ", ": domain "} {
		for _, w := range []string{"has ", "is ", "must "} {
			msg = strings.ReplaceAll(msg, what+w, ": it "+w)
		}
	}
	msg = clip(msg, 300) + "."
	if rest, ok := strings.CutPrefix(msg, "the "); ok { // LoginSpec's and authorize's sentences
		msg = "The " + rest
	}
	return msg
}

// errorPage renders the friendly error page.
func (s *site) errorPage(c echo.Context, status int, heading, msg, hint string, retry time.Duration) error {
	return s.errorPageNext(c, status, heading, msg, hint, retry, nil)
}

// domainLink is the way back to a domain's page from an error page about something in it, when
// the user may open that page (a link to another refusal helps nobody); nil otherwise.
func domainLink(sc *scope) *views.Link {
	if !sc.pol.Can(sc.subj, sc.domain, policy.ActView) {
		return nil
	}
	return &views.Link{Label: "Open " + sc.domain, URL: templ.SafeURL(domainURL(sc.domain))}
}

// errorPageNext is errorPage with a link to the page to go to next (next may be nil).
func (s *site) errorPageNext(c echo.Context, status int, heading, msg, hint string, retry time.Duration, next *views.Link) error {
	vm := views.ErrorVM{
		// Without the flashes, as on every error page: a refusal must not swallow the message
		// the next page should show ("Password for … changed." after a reset, say).
		Page:    s.frame(c, pageBase(c, heading), "", "", ""),
		Status:  status,
		Heading: heading,
		Message: msg,
		Hint:    hint,
		Next:    next,
	}
	vm.RetryAfter = retryAfter(c, retry)
	return Render(c, status, views.ErrorPage(vm))
}

// userLimit is one of each user's budgets a minute: its limiter, its size, and what it counts
// as its refusal says it ("1 change", "30 changes").
type userLimit struct {
	limiter   *ratelimit.Limiter
	perMinute int
	one, many string
	log       string // the message of the log line of a refusal
}

// size is the budget in words: "the limit of <size> a minute".
func (l *userLimit) size() string {
	if l.perMinute == 1 {
		return "1 " + l.one
	}
	return fmt.Sprintf("%d %s", l.perMinute, l.many)
}

// limit spends one of the user's mutating actions; when none is left it answers 429 (spend).
func (s *site) limit(c echo.Context, sc *scope) (bool, error) {
	return s.spend(c, sc.user, &s.actions, "Nothing was sent to Mailgun.", nil)
}

// limitRead spends one of the user's heavy reads (an export, the audit trail's check), apart
// from their actions: a user who exported may still reset a password. When none is left it
// answers 429 (spend), saying what was not done (undone: "Nothing was exported.", "The check
// did not run."), with a link to next (nil: none) back to where the download was asked for.
// Not "Nothing was sent to Mailgun", an action's words, which beside an export of the audit trail
// or its check (neither asks Mailgun anything) left the reader wondering what had been.
func (s *site) limitRead(c echo.Context, u *auth.User, undone string, next *views.Link) (bool, error) {
	return s.spend(c, u, &s.reads, undone, next)
}

// spend takes one request from u's budget l; when none is left it answers 429 "Slow down" with
// Retry-After and the wait in words, and nothing of the request is done. The refusals (here and
// slowDown's) begin "You have reached the limit of", which the load test's soak (cmd/loadtest)
// tells from Mailgun's rate limit passed on. They are not access denials: the audit trail does
// not record them, and the metrics count them as the route's 429s.
func (s *site) spend(c echo.Context, u *auth.User, l *userLimit, undone string, next *views.Link) (bool, error) {
	if ok, wait := s.take(c, u, l); !ok {
		// No "wait a moment": the page says how long (the Retry-After's words).
		return false, s.errorPageNext(c, http.StatusTooManyRequests, "Slow down",
			fmt.Sprintf("You have reached the limit of %s a minute.", l.size()),
			undone, wait, next)
	}
	return true, nil
}

// take takes one request from u's budget l, or says how long to wait for the next one. A HEAD
// takes nothing, and is answered as its GET would be now: refused while the budget is spent.
func (s *site) take(c echo.Context, u *auth.User, l *userLimit) (bool, time.Duration) {
	key := u.Issuer + "\x00" + u.Subject
	var ok bool
	var wait time.Duration
	if c.Request().Method == http.MethodHead {
		ok, wait = l.limiter.Peek(key)
	} else {
		ok, wait = l.limiter.Allow(key)
	}
	if !ok {
		s.log.WarnContext(c.Request().Context(), l.log, "sub", u.Subject)
	}
	return ok, wait
}

// allow spends one of the user's mutating actions, or says how long to wait for the next one.
func (s *site) allow(c echo.Context, sc *scope) (bool, time.Duration) {
	return s.take(c, sc.user, &s.actions)
}

// slowDown is the refusal of an action over the user's rate limit, shown next to the form so
// that what was typed stays (it sets Retry-After).
func (s *site) slowDown(c echo.Context, wait time.Duration) *views.UpstreamError {
	return &views.UpstreamError{Heading: "Slow down", Wait: true,
		Message:    fmt.Sprintf("You have reached the limit of %s a minute; nothing was sent to Mailgun.", s.actions.size()),
		RetryAfter: retryAfter(c, wait)}
}

// retryAfter sets Retry-After for wait and returns the wait in words ("in 20 seconds"), or ""
// for none.
func retryAfter(c echo.Context, wait time.Duration) string {
	if wait <= 0 {
		return ""
	}
	secs := retrySeconds(wait)
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return retryText(time.Duration(secs) * time.Second)
}

// begin writes the pending audit entry, with detail (audit.Recorder.Begin: "" for none). When it
// fails, nothing may be sent to Mailgun: it returns the refusal instead, for the caller to show
// beside its form as the user filled it in (with status 503), so that nothing typed is lost.
func (s *site) begin(c echo.Context, sc *scope, action, detail string, logins []string) (*audit.Pending, *views.UpstreamError) {
	p, err := s.audit.Begin(c.Request().Context(), actorOf(sc.user), metaOf(c), action, sc.domain, detail, logins)
	if err != nil {
		s.log.ErrorContext(c.Request().Context(), "audit begin", "action", action, "domain", sc.domain, "err", err)
		return nil, &views.UpstreamError{Heading: "The action could not be recorded",
			Message: "The audit trail could not record the action, so nothing was sent to Mailgun. " +
				"Try again in a moment; if it keeps happening, tell your administrator."}
	}
	return p, nil
}

// complete finishes the audit entry even when the browser has gone away, and returns (having
// logged it) Complete's error: a failed completion leaves the entry pending, which reads as
// "outcome unknown", for now (audit.IsLate) or for good.
func (s *site) complete(c echo.Context, p *audit.Pending, err error) error {
	// The request's own context, canceled or not: Complete writes detached from its
	// cancellation, and reads its cause (a shutdown's cut-off).
	cerr := p.Complete(c.Request().Context(), err)
	if cerr != nil {
		s.log.ErrorContext(c.Request().Context(), "audit complete", "err", cerr)
	}
	return cerr
}

func actorOf(u *auth.User) audit.Actor {
	return audit.Actor{Issuer: u.Issuer, Subject: u.Subject, Email: u.Email, Name: u.Name}
}

func metaOf(c echo.Context) audit.Meta {
	rid := RequestID(c)
	// RealIP follows the IP extractor the app configures (the trusted-proxy rule).
	return audit.Meta{RequestID: rid, ClientIP: c.RealIP(), UserAgent: clip(c.Request().UserAgent(), 512)}
}

// pathParam returns a path parameter unescaped. Echo matches on the raw path when the request
// has one (e.g. "%40" for "@") and leaves the value escaped; otherwise it is already decoded.
func pathParam(c echo.Context, name string) (string, error) {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v, nil
	}
	u, err := url.PathUnescape(v)
	if err != nil {
		return "", fmt.Errorf("%w: %s is not a valid escaped path segment", mailgun.ErrInvalidInput, name)
	}
	return u, nil
}

func retrySeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// upstream kinds: how a Mailgun error reads to the user.
type upstreamKind int

const (
	upRefused     upstreamKind = iota // 4xx: Mailgun refused the input
	upNotFound                        // 404
	upRateLimited                     // 429
	upAuth                            // 401/403: the app's key is wrong (an operator problem)
	upServer                          // 5xx: Mailgun answered that it failed (perhaps after applying a change)
	upNoAnswer                        // timeout, dropped connection, unreadable answer
	upInvalid                         // validation: nothing was sent
	upNotSent                         // the request ended before the call began: nothing was sent
	// upRetryRefused: Mailgun refused a retry (a revoked key's 401, a 404 that does not say the
	// login is gone) after an attempt of a change that got a 5xx or no answer, which may have made
	// the change (mailgun.OutcomeUnknownError). The refusal is the *mailgun.Error classify returns.
	upRetryRefused
)

// What a page says when a mutating call ends without Mailgun's success or refusal: Mailgun
// answered with its own error (a 5xx, after the client's retries for a PUT or DELETE), it did
// not answer at all (timeout, dropped connection), or its answer could not be read (a 2xx that is
// not the JSON expected: broken, another content, fields missing). None says that nothing
// changed: Mailgun may have applied the change before failing or before its answer was lost, so
// the page says SMTP Desk cannot tell, and next says how to find out (outcomeUnknown). The fact
// and the advice are apart so that what Mailgun said to a retry goes between them (retryRefused).
type failureText struct {
	whether string // what SMTP Desk cannot tell: "it was deleted", "the password changed"
	maybe   string // what may have happened, after the heading's cause: "the login may be gone"
	next    string // what to do about it: check the list, reset again
}

// says is the heading and the first sentence of the page: the cause of err, Mailgun's own error
// (a 5xx), no answer (timeout, dropped connection) or an answer that could not be read, in the
// audit entry's words for it (audit.Classify), with what may have happened after it so that the
// heading alone says what is unknown; then what SMTP Desk cannot tell. err is the attempt whose
// outcome is unknown (errors.As never finds a retry's refusal: mailgun.OutcomeUnknownError).
func (t failureText) says(err error) (heading, message string) {
	heading, why := "Mailgun did not answer", "Mailgun did not answer"
	switch _, api := errors.AsType[*mailgun.Error](err); {
	case api:
		heading, why = "Mailgun failed", "Mailgun answered with an error"
	case errors.Is(err, mailgun.ErrBadResponse):
		// Mailgun answered, so "did not answer" would send whoever looks into it after the
		// network; what it sent was not what SMTP Desk could read. The heading says so (the
		// audit entry: "Mailgun's answer could not be read"); the sentence says what that means
		// rather than saying it again.
		heading, why = "Mailgun's answer was unreadable", "Mailgun answered with something SMTP Desk did not expect"
	}
	if t.maybe != "" {
		heading += ": " + t.maybe
	}
	return heading, why + ", so SMTP Desk cannot tell whether " + t.whether + "."
}

// outcomeUnknown reports whether a mutating call that failed with err may still have changed
// something: Mailgun's 5xx or no answer, also when a retry was then refused. The audit trail
// records these as unknown (audit.Pending.Complete), and the page says it cannot tell
// (failureText).
func outcomeUnknown(err error) bool {
	k, _ := classify(err)
	return k == upServer || k == upNoAnswer || k == upRetryRefused
}

// classify sorts a Mailgun client error. For upRetryRefused the *mailgun.Error is the retry's
// refusal, not the attempt whose outcome is unknown.
func classify(err error) (upstreamKind, *mailgun.Error) {
	var me *mailgun.Error
	var ou *mailgun.OutcomeUnknownError
	switch {
	case errors.Is(err, mailgun.ErrInvalidInput):
		return upInvalid, nil
	case errors.Is(err, mailgun.ErrNotSent):
		return upNotSent, nil
	case errors.As(err, &ou) && ou.Refusal != nil:
		return upRetryRefused, ou.Refusal
	case errors.As(err, &me):
		switch {
		case me.StatusCode == http.StatusNotFound:
			return upNotFound, me
		case me.StatusCode == http.StatusTooManyRequests:
			return upRateLimited, me
		case me.StatusCode == http.StatusUnauthorized || me.StatusCode == http.StatusForbidden:
			return upAuth, me
		case me.StatusCode >= 500:
			return upServer, me
		}
		return upRefused, me
	}
	return upNoAnswer, nil
}

// upstreamStatus is the HTTP status the page answers with for a Mailgun error.
func upstreamStatus(err error) int {
	k, me := classify(err)
	switch k {
	case upRefused:
		if me != nil && me.StatusCode == http.StatusUnprocessableEntity {
			return http.StatusUnprocessableEntity
		}
		return http.StatusBadRequest
	case upNotFound:
		return http.StatusNotFound
	case upRateLimited:
		return http.StatusTooManyRequests
	case upInvalid:
		return http.StatusBadRequest
	}
	var te *mailgun.TransportError
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &te) && te.Timeout()) {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// logUpstream logs the Mailgun failure of a change whose page answers it itself (its form with
// the panel, or a redirect) rather than through ErrorHandler, at the level ErrorHandler gives the
// status that page answers with (upstreamStatus): Error for a 5xx (Mailgun failed, did not answer
// or refused the key, and the change's outcome may be unknown), Warn for a 4xx (Mailgun refused
// the input or rate-limited the call). An alert on errors then sees a Mailgun outage that only
// changes meet, as it sees one a list meets. A call cut short because the browser left (or a
// shutdown cut the request off) stays at Warn: ErrorHandler does not log those as errors either,
// and they say nothing about Mailgun.
func (s *site) logUpstream(ctx context.Context, msg string, err error, args ...any) {
	level := slog.LevelWarn
	if upstreamStatus(err) >= 500 && !errors.Is(err, context.Canceled) {
		level = slog.LevelError
	}
	s.log.Log(ctx, level, msg, append(args, "err", err)...)
}

// upstreamError puts a Mailgun error in plain words; text is what the action says when its
// outcome is unknown (Mailgun's 5xx, or no answer).
func upstreamError(c echo.Context, err error, text failureText) *views.UpstreamError {
	k, me := classify(err)
	switch k {
	case upRateLimited:
		wait := time.Duration(0)
		if me != nil {
			wait = me.RetryAfter
		}
		ue := &views.UpstreamError{Heading: mailgunRateLimited, Wait: true, Message: "Mailgun refused the request for now, and nothing was changed. Try again in a moment."}
		if ue.RetryAfter = retryAfter(c, wait); ue.RetryAfter != "" {
			// The panel adds "Try again in …" itself.
			ue.Message = "Mailgun refused the request for now, and nothing was changed."
		}
		return ue
	case upAuth:
		// The administrator's to fix, with the log's detail the request id leads to, as the
		// error page for it says.
		return &views.UpstreamError{Heading: "SMTP Desk could not sign in to Mailgun",
			Message:   "Mailgun refused SMTP Desk's API key. Nothing was changed. Tell your administrator and quote the request ID below.",
			RequestID: RequestID(c)}
	case upRefused, upNotFound:
		msg, quote := refusalText(me)
		ue := &views.UpstreamError{Heading: "Mailgun refused the request", Message: msg}
		if quote {
			ue.RequestID = RequestID(c)
		}
		if k == upNotFound && domainNotFound(me) {
			// Gone from Mailgun since the kept domain list was read: what to do, and a way home.
			ue.Message += " " + domainGone
			ue.Home = true
		}
		return ue
	case upInvalid:
		return &views.UpstreamError{Heading: "Not sent", Message: "The input is not valid; nothing was sent to Mailgun."}
	case upNotSent:
		return &views.UpstreamError{Heading: "Not sent", Message: "The request ended before it was sent to Mailgun, so nothing was changed. Send the form again."}
	case upRetryRefused:
		return retryRefused(c, err, me, text)
	}
	// As the error page of a change whose outcome is unknown (unknownChangeError) does, the
	// panel asks to quote the request ID, which it shows: the footer's is easily missed.
	heading, msg := text.says(err)
	ue := &views.UpstreamError{Heading: heading, Message: msg + " " + text.next + " " + quoteRequestID, RequestID: RequestID(c)}
	if k == upServer && me != nil && me.RetryAfter > 0 {
		// Mailgun said when to come back (a 503's Retry-After): before then, a look at the list
		// or another try meets the same answer. The panel and the Retry-After header say when.
		ue.RetryAfter = retryAfter(c, me.RetryAfter)
	}
	return ue
}

// retryRefused says what is unknown, what Mailgun said when it was asked again, and then what to
// do: the action's text for an attempt that got a 5xx or no answer, the retry's refusal me in
// SMTP Desk's words (retryRefusalFact), and the action's advice. With the key refused, having it
// fixed comes first: the advice (check the list, reset again) cannot work until then.
func retryRefused(c echo.Context, err error, me *mailgun.Error, text failureText) *views.UpstreamError {
	ue := &views.UpstreamError{}
	ue.Heading, ue.Message = text.says(err)
	fact, key := retryRefusalFact(me)
	ue.Message += " " + fact
	switch {
	case key:
		ue.Heading = "SMTP Desk could not sign in to Mailgun"
		ue.Message += " " + keyFirst + " Then " + lowerFirst(text.next)
	case domainNotFound(me):
		// Nobody to tell: the domain is gone from Mailgun. The panel links home.
		ue.Message += " " + domainGone
		ue.Home = true
		return ue
	default:
		ue.Message += " " + text.next + " " + quoteRequestID
	}
	// The request id the panel asks to quote, as the error page of the same outcome shows it
	// (unknownChangeError).
	ue.RequestID = RequestID(c)
	return ue
}

// keyFirst is the advice when Mailgun refused SMTP Desk's API key on a retry: nothing else can be
// done (read the list, change a login) until the administrator has fixed the key, whom the
// request id leads to the log's detail.
const keyFirst = "Tell your administrator, who must fix the key first, and quote the request ID below."

// domainGone is the advice when Mailgun answered a retry that it has no such domain: the domain's
// list, where the outcome would show, is a "Domain not found" page.
const domainGone = "Pick a domain from the list on the home page."

// retryRefusalFact says, in SMTP Desk's words, what Mailgun answered a retry it refused (me) after
// an attempt whose outcome is unknown: its API key refused (key), an answer SMTP Desk knows as
// refusalText has it, anything else by its status only. Mailgun's own text is never
// shown as it is.
func retryRefusalFact(me *mailgun.Error) (fact string, key bool) {
	switch r, ok := knownRefusal(me.Message); {
	case me.StatusCode == http.StatusUnauthorized || me.StatusCode == http.StatusForbidden:
		return "SMTP Desk asked again, and Mailgun refused its API key.", true
	case ok:
		return "SMTP Desk asked again, and Mailgun refused. " + r.fact, false
	}
	return fmt.Sprintf("SMTP Desk asked again, and Mailgun refused (HTTP %d).", me.StatusCode), false
}

// retryKeyRefused reports whether err is a change whose outcome is unknown and whose retry
// Mailgun refused for SMTP Desk's API key: until the administrator fixes the key, the list
// cannot be read either, so the panel offers no link to it (markUnknown).
func retryKeyRefused(err error) bool {
	k, me := classify(err)
	return k == upRetryRefused && me != nil && (me.StatusCode == http.StatusUnauthorized || me.StatusCode == http.StatusForbidden)
}

// markUnknown makes ue the amber "cannot tell" panel of a change whose outcome is unknown (err),
// with a link to check, the list that shows the outcome. With SMTP Desk's key refused on the
// retry there is no link: the list would answer with the "key refused" error page, and the panel
// says to have the key fixed first. With the domain gone from Mailgun ("Domain not found" to the
// retry) the list is the domain's 404 page: the link leads home instead.
func markUnknown(ue *views.UpstreamError, err error, check string) {
	ue.Unknown = true
	k, me := classify(err)
	switch {
	case retryKeyRefused(err):
	case k == upRetryRefused && domainNotFound(me):
		ue.Home = true
	default:
		ue.CheckURL = check
	}
}

// lowerFirst is s with its first letter in lower case, for a sentence that goes on after "Then".
func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

// quoteRequestID ends a panel whose cause only the log tells: the panel shows the request id
// under it (views.UpstreamError.RequestID).
const quoteRequestID = "If this keeps happening, tell your administrator and quote the request ID below."

// refusalText puts a Mailgun 4xx in plain words. Mailgun's own text is never shown as it is
// (SECURITY.md item 19): the answers SMTP Desk knows get its own wording, and anything else a
// safe sentence asking to quote the request ID (quote), while the log keeps Mailgun's detail.
func refusalText(me *mailgun.Error) (text string, quote bool) {
	if me == nil {
		return "Nothing was changed. " + quoteRequestID, true
	}
	if r, ok := knownRefusal(me.Message); ok {
		return strings.TrimSpace(r.fact + " " + r.advice), false
	}
	return fmt.Sprintf("Nothing was changed: Mailgun did not accept what SMTP Desk sent (HTTP %d). %s", me.StatusCode, quoteRequestID), true
}

// domainNotFound reports whether Mailgun's 404 is about the domain ("Domain not found") rather
// than the login ("Credentials not found").
func domainNotFound(me *mailgun.Error) bool {
	return me != nil && strings.Contains(strings.ToLower(me.Message), "domain not found")
}

// refusal is a Mailgun answer SMTP Desk knows, in its own words: what happened, and what to do.
type refusal struct{ fact, advice string }

// knownRefusal recognises Mailgun's message (never shown as it is) among the answers SMTP Desk
// knows.
func knownRefusal(message string) (refusal, bool) {
	msg := strings.ToLower(message)
	switch {
	case strings.Contains(msg, "already exist"):
		return refusal{"A login with that name already exists in this domain.", "Pick another name, or reset the existing login's password."}, true
	case strings.Contains(msg, "password") && (strings.Contains(msg, "length") || strings.Contains(msg, "characters")):
		return refusal{"Mailgun accepts passwords of 5 to 32 characters.", ""}, true
	case strings.Contains(msg, "same as old"):
		return refusal{"The new password is the same as the current one.", "Choose a different password."}, true
	case strings.Contains(msg, "system mailbox"):
		return refusal{"This is the domain's system login; Mailgun does not allow deleting it.", ""}, true
	case strings.Contains(msg, "credentials not found"):
		return refusal{"That login does not exist in this domain.", "Someone may have deleted it."}, true
	case strings.Contains(msg, "domain not found"):
		return refusal{"Mailgun has no such domain.", ""}, true
	}
	return refusal{}, false
}

// aboutSystemLogins begins the detail of a create entry of system logins (createDetail), written
// with its pending entry (audit.Recorder.Begin), so that the entry says it whatever the outcome,
// and also while pending or when its completion is lost.
const aboutSystemLogins = "Asked for as system logins."

// auditText is an audit entry's message (auditMessage) and detail as the audit page and its
// exports show them. An entry written before the create of system logins said so in its pending
// entry has that sentence ahead of its completion's message instead, and no detail: it is shown
// as the detail there too, so that both read the same and the sentence appears once.
func auditText(e store.AuditEntry) (message, detail string) {
	if e.Action == audit.ActionCredentialCreate && e.Detail == "" {
		if rest, ok := strings.CutPrefix(e.UpstreamMessage, aboutSystemLogins); ok {
			e.UpstreamMessage, e.Detail = strings.TrimSpace(rest), aboutSystemLogins
		}
	}
	return auditMessage(e), e.Detail
}

// auditMessage is an audit entry's message as the audit page and its exports show it. Where it is
// Mailgun's own text (an entry that did not succeed, with Mailgun's status), that text is not
// shown as it is (SECURITY.md item 19): a known answer gets SMTP Desk's words, anything else the
// status; the log of the request keeps Mailgun's detail. Messages SMTP Desk wrote are shown as
// stored.
func auditMessage(e store.AuditEntry) string {
	if e.UpstreamStatus == 0 || e.Outcome == store.OutcomeOK || e.UpstreamMessage == "" {
		return e.UpstreamMessage
	}
	msg := e.UpstreamMessage
	fact := "Mailgun refused the request."
	switch r, ok := knownRefusal(msg); {
	case e.Outcome == store.OutcomeUnknown && e.UpstreamStatus < 500:
		// Mailgun refused a retry after an attempt that got an error or no answer
		// (mailgun.OutcomeUnknownError): the refusal does not say that nothing changed.
		then := fmt.Sprintf("Mailgun then refused the retry (HTTP %d).", e.UpstreamStatus)
		switch {
		case e.UpstreamStatus == http.StatusUnauthorized || e.UpstreamStatus == http.StatusForbidden:
			then = "Mailgun then refused SMTP Desk's API key."
		case ok:
			then = "Mailgun then refused the retry. " + r.fact
		}
		fact = "An attempt got an error or no answer from Mailgun, so whether the change was made is unknown. " + then
	case ok:
		fact = r.fact
		if named := namedIndexes(msg, e.Logins); len(named) > 0 && strings.Contains(strings.ToLower(msg), "already exist") {
			// Which login it was, from the entry's own list (Mailgun's text is never shown):
			// in a create of several, each login's history would otherwise blame every one.
			fact = e.Logins[named[0]] + " already exists in this domain."
			if len(e.Logins) > 1 {
				fact = fmt.Sprintf("%s already exists in this domain, so Mailgun created none of the %d logins.", e.Logins[named[0]], len(e.Logins))
			}
		}
	case e.Outcome == store.OutcomeUnknown:
		// Mailgun's error (a 5xx) may come after it made the change: "failed" would tell a
		// reviewer that nothing changed.
		fact = "Mailgun answered with an error, so whether the change was made is unknown."
	case e.UpstreamStatus >= 500:
		fact = "Mailgun failed."
	}
	return fact
}

func domainURL(domain string) string { return "/d/" + url.PathEscape(domain) }

// loginURL is a login's page for action (reset, delete). The domain page's rows build the same
// URL from domainURL(domain) + "/logins/".
func loginURL(domain, login, action string) string {
	return domainURL(domain) + "/logins/" + url.PathEscape(login) + "/" + action
}

// historyURL is the audit page filtered to a domain (and a login). It builds the query by hand,
// keys in order and values query-escaped, so that the domain page's rows (which append the
// escaped login to historyURL(domain, "") + "&login=") link to exactly this URL.
func historyURL(domain, login string) string {
	if login == "" {
		return "/audit?domain=" + url.QueryEscape(domain)
	}
	return "/audit?domain=" + url.QueryEscape(domain) + "&login=" + url.QueryEscape(login)
}
