package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"golang.org/x/net/idna"
	"golang.org/x/sync/errgroup"
	"golang.org/x/text/unicode/norm"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/policy"
	"github.com/smtpdesk/smtpdesk/views"
)

// searchThreshold is the number of domains above which the home page offers a search box.
const searchThreshold = 10

// domainMatcher returns whether the home page's domain search q (empty: none) keeps a domain
// name: by its name, or by the name an internationalized domain is written with (Mailgun lists
// bücher.example as xn--bcher-kva.example, and the pages show that; a search for "bücher" must
// find it). q is prepared once, for every domain of the list.
func domainMatcher(q string) func(name string) bool {
	if q == "" {
		return func(string) bool { return true }
	}
	// Composed, as the Unicode form of a name is: "bu\u0308cher" (typed on some keyboards,
	// pasted) reads as "bücher" and must find it.
	q = strings.ToLower(norm.NFC.String(q))
	return func(name string) bool {
		if strings.Contains(strings.ToLower(name), q) {
			return true
		}
		if strings.Contains(name, "xn--") {
			if u, err := idna.Display.ToUnicode(name); err == nil {
				return strings.Contains(strings.ToLower(u), q)
			}
		}
		return false
	}
}

// HomePages serves the home page (the user's domains) and the signed-out page.
type HomePages struct {
	*site
}

// Home lists the domains the user may see, each with its login count and the user's role.
func (h *HomePages) Home(c echo.Context) error {
	ctx := c.Request().Context()
	u := auth.UserFrom(c)
	pol, subj := h.policy.Current(), u.PolicySubject()
	if !pol.HasAnyAccess(subj) {
		return h.noAccess(c, u)
	}
	visible, err := h.visibleDomains(ctx, pol, subj)
	if err != nil {
		return fmt.Errorf("home: %w", err)
	}
	// A search the address mangled is said, not silently shown as every domain or none.
	q, problem := pageFilter(c.QueryParam("q"))
	problems := unreadableProblems(c.Request().URL.RawQuery)
	if problem != "" {
		problems = append(problems, problem)
	}
	last := auth.Pref(c, prefLastDomain)
	rows := make([]views.DomainRow, 0, len(visible))
	matches := domainMatcher(q)
	for _, d := range visible {
		if !matches(d.Name) {
			continue
		}
		row := views.DomainRow{
			Name:  d.Name,
			State: d.State,
			Role:  pol.Role(subj, d.Name).String(),
			URL:   domainURL(d.Name),
		}
		if strings.EqualFold(d.Name, last) {
			// The last domain used goes first.
			rows = append([]views.DomainRow{row}, rows...)
		} else {
			rows = append(rows, row)
		}
	}

	// A page of the domains: each costs a Mailgun call for its count, and an account may have
	// thousands.
	matching := len(rows)
	paging := parsePaging(c.QueryParams(), HomePageSizes(), HomePerPage, "domains")
	paging.PastEnd(LastPage(matching, paging.PerPage))
	rows = rows[min(paging.Skip(), matching):min(paging.Skip()+paging.PerPage, matching)]
	if paging.Note != "" {
		problems = append(problems, paging.Note)
	}
	qParam := ""
	if q != "" {
		qParam = "&" + url.Values{"q": {q}}.Encode()
	}
	pager := makePager(paging, matching, len(rows), func(p, n int) string {
		return "/?page=" + strconv.Itoa(p) + "&per_page=" + strconv.Itoa(n) + qParam
	})
	pager.Sizes = HomePageSizes()

	// Login counts: one limit=1 list call per domain shown, a few at a time, cached.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(h.set.FanOut)
	for i := range rows {
		g.Go(func() error {
			n, err := h.lists.Count(gctx, rows[i].Name)
			if err != nil {
				h.log.WarnContext(ctx, "home: count logins", "domain", rows[i].Name, "err", err)
				return nil // the row says "unknown"; the page still shows
			}
			rows[i].Logins, rows[i].LoginsKnown = n, true
			return nil
		})
	}
	_ = g.Wait() // the goroutines never fail

	lastUsed := ""
	for _, d := range visible {
		if strings.EqualFold(d.Name, last) {
			lastUsed = d.Name
		}
	}
	// "Manage" only to someone who may change a login somewhere: a reviewer or a team member
	// (whose own login, if any, has its card) is promised a read.
	subtitle := "Pick a domain to see its SMTP logins."
	for _, d := range visible {
		if pol.Can(subj, d.Name, policy.ActCreate) || pol.Can(subj, d.Name, policy.ActReset) {
			subtitle = "Pick a domain to manage its SMTP logins."
			break
		}
	}
	vm := views.HomeVM{
		Page:     h.page(c, "Domains", subtitle, "domains", ""),
		Query:    q,
		Rows:     rows,
		Total:    len(visible),
		Matching: matching,
		Pager:    pager,
		// The pager shows once there is more than the smallest page: a choice of page size
		// then matters.
		Paged:    matching > HomePageSizes()[0],
		LastUsed: lastUsed,
		// With a search asked for, its box too, where it can be changed or cleared.
		ShowSearch: len(visible) > searchThreshold || q != "",
		ExportURL:  "/export.csv",
		// The rotation report across every domain listed: without a link of its own, only
		// someone who knew the address found it, and a reviewer sorted the whole export by hand.
		ExportRotateURL: "/export.csv?rotate=1",
		AgeDays:         h.set.AgeWarningDays,
	}
	if q != "" {
		vm.ExportURL += "?" + url.Values{"q": {q}}.Encode()
		vm.ExportRotateURL += "&" + url.Values{"q": {q}}.Encode()
	}
	if len(problems) > 0 {
		vm.Flashes = append(vm.Flashes, views.Flash{Kind: "warning", Message: strings.Join(problems, " ")})
	}
	vm.Own = h.ownLogin(ctx, pol, subj, u, visible)
	return Render(c, http.StatusOK, views.Home(vm))
}

// ownLogin is the user's own SMTP login, for a shortcut to its reset, when resetting it is all
// the policy lets them do there (self-service: the login equal to their verified e-mail); when
// the domain does not have it, without the reset, so that the card says so. A team member came
// to the domain list and had to find their domain, then their row among the others. None for a
// domain over loginCheckLimit logins, or whose list cannot be read: the domain page still has
// the row.
func (h *HomePages) ownLogin(ctx context.Context, pol *policy.Policy, subj policy.Subject, u *auth.User, visible []mailgun.Domain) *views.OwnLogin {
	email := policy.FoldEmail(u.Email)
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return nil
	}
	i := slices.IndexFunc(visible, func(d mailgun.Domain) bool { return strings.EqualFold(d.Name, email[at+1:]) })
	if i < 0 {
		return nil
	}
	domain := visible[i].Name
	if pol.Can(subj, domain, policy.ActReset) || !pol.CanSelfReset(subj, domain, email) {
		return nil
	}
	login, known := h.selfLoginOf(ctx, domain, email)
	switch {
	case login != "":
		return &views.OwnLogin{Login: login, ResetURL: loginURL(domain, login, "reset"), Domain: domain}
	case known:
		// Not in the domain (deleted, or never made): the card says so, as the domain page does,
		// where the team member who came for its reset found no word about it.
		return &views.OwnLogin{Login: email, Domain: domain}
	}
	return nil
}

// noAccess is the page of a signed-in user the policy gives no role anywhere: what they are
// signed in as, for the administrator they ask.
func (s *site) noAccess(c echo.Context, u *auth.User) error {
	vm := views.NoAccessVM{
		Page:   s.page(c, "No access yet", "Your account is signed in, but it has no access to any domain.", "", ""),
		Email:  u.Email,
		Issuer: u.Issuer,
		Groups: u.Groups,

		GroupsProblem:   u.GroupsProblem,
		EmailUnverified: u.Email != "" && !u.EmailVerified,
	}
	return Render(c, http.StatusForbidden, views.NoAccessPage(vm))
}
