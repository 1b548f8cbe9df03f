package handlers

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/static"
	"github.com/smtpdesk/smtpdesk/views"
)

// Settings tunes the credential and audit pages. Zero values take the defaults.
type Settings struct {
	AgeWarningDays int  // logins whose password is older than this get a "consider rotating" flag (default 365)
	Demo           bool // show the demo banner
	// SMTPHost is Mailgun's SMTP server for this account's region ("smtp.mailgun.org"), shown
	// with a password that was just set; "" shows none (MAILGUN_BASE_URL names another API).
	SMTPHost         string
	ListCacheTTL     time.Duration // how long a page of a credential list is reused (default 15s)
	CountCacheTTL    time.Duration // how long login counts and the domain list are reused (default 60s)
	PasswordAgeTTL   time.Duration // how long a domain's last password resets, read from the audit trail, are reused (default 15s)
	FanOut           int           // concurrent Mailgun calls for one page view (default 4)
	ActionsPerMinute int           // mutating actions per user per minute (default 30)
	// ExportsPerMinute is each user's budget of heavy reads a minute, apart from the actions':
	// the logins exports (which read every login of a domain, or of every domain, from Mailgun),
	// the audit trail's exports and its check (which read the whole trail). Default 10.
	ExportsPerMinute int
	RateLimitKeys    int // users tracked by each per-user limiter before the oldest is dropped (default 10,000)
	// DenialWindow: a user's refusals of one action on one domain are recorded (access.denied)
	// at most once per window; the next entry counts those in between (default 1 minute).
	DenialWindow time.Duration
	// DenialsPerMinute bounds a user's access.denied entries, whatever the domain and action: a
	// token bucket of this many at once, refilled at this many a minute; the refusals over it are
	// counted like those within the window (default 20).
	DenialsPerMinute int
	// DenialKeys bounds the (user, domain, action, login) keys, and the users, the denial limiter
	// remembers before the least recently used is dropped (default 10,000).
	DenialKeys int
	// DomainWalkTimeout bounds each read of the whole domain list, all its pages (default
	// DomainWalkTimeout, a minute).
	DomainWalkTimeout time.Duration
}

func (s Settings) withDefaults() Settings {
	if s.AgeWarningDays <= 0 {
		s.AgeWarningDays = 365
	}
	if s.ListCacheTTL <= 0 {
		s.ListCacheTTL = 15 * time.Second
	}
	if s.CountCacheTTL <= 0 {
		s.CountCacheTTL = 60 * time.Second
	}
	if s.PasswordAgeTTL <= 0 {
		s.PasswordAgeTTL = 15 * time.Second
	}
	if s.FanOut <= 0 {
		s.FanOut = 4
	}
	if s.ActionsPerMinute <= 0 {
		s.ActionsPerMinute = 30
	}
	if s.ExportsPerMinute <= 0 {
		s.ExportsPerMinute = 10
	}
	if s.RateLimitKeys <= 0 {
		s.RateLimitKeys = 10000
	}
	if s.DenialWindow <= 0 {
		s.DenialWindow = time.Minute
	}
	if s.DenialsPerMinute <= 0 {
		s.DenialsPerMinute = 20
	}
	if s.DenialKeys <= 0 {
		s.DenialKeys = 10000
	}
	return s
}

// Deps is everything the pages need. Register fails when a required one is missing.
type Deps struct {
	Logger   *slog.Logger
	Auth     *auth.Auth
	Policy   PolicySource
	Mailgun  CredentialsAPI
	Audit    Auditor
	AuditLog AuditLog
	Forms    FormTokens // nil: a create, reset or delete form sent twice acts twice
	Health   *Health    // nil: no health endpoints
	Settings Settings
	Now      func() time.Time // default time.Now
	// OnDenied, when set, is told of every refused request of a signed-in user, recorded in the
	// audit trail or not (metrics.CountAccessDenied): the refused action ("view", "audit_verify"…)
	// and what became of its entry ("recorded", "suppressed", "failed").
	OnDenied func(action, audit string)
}

// Sessionless reports whether a request is one that never needs the session, which the auth
// package's Session middleware then does not load: static files (robots.txt and favicon.ico
// too) and the health checks. Their answers are the same for everyone, so they cost no database
// query, and they keep working while the database does not answer (the 503 page that says so
// keeps its stylesheet and script).
func Sessionless(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, static.Prefix) || healthPath(p) || p == RobotsPath || p == FaviconPath
}

// Register adds SMTP Desk's whole URL surface to e: health and static files, the sign-in flow,
// and the pages, every one of them behind RequireUser except the few public ones.
func Register(e *echo.Echo, d Deps) error {
	switch {
	case d.Auth == nil:
		return errors.New("handlers: Deps.Auth is required")
	case d.Policy == nil:
		return errors.New("handlers: Deps.Policy is required")
	case d.Mailgun == nil:
		return errors.New("handlers: Deps.Mailgun is required")
	case d.Audit == nil:
		return errors.New("handlers: Deps.Audit is required")
	case d.AuditLog == nil:
		return errors.New("handlers: Deps.AuditLog is required")
	}
	s := newSite(d)
	// Ahead of all the middleware: the error handler frames any error page of a signed-in user
	// (frameError), also one answered before the route's own (the body limit's 413).
	e.Pre(s.keepSite)
	home := &HomePages{site: s}
	creds := &CredentialPages{site: s}
	ap := &AuditPages{site: s}

	// Public: health, static files (with robots.txt and favicon.ico), the sign-in flow and the
	// signed-out page.
	if d.Health != nil {
		d.Health.Register(e)
	}
	RegisterStatic(e)
	d.Auth.Register(e) // the sign-in flow and the signed-out page (auth.Config.SignedOutPage)
	e.Match([]string{http.MethodGet, http.MethodHead}, auth.LogoutPath, SignOutForm, uncached)
	refusePublicOthers(e)

	// Everything else needs a session, and none of it may be kept by a browser or proxy cache:
	// after sign-out, the back button must not show a signed-in page.
	g := e.Group("", d.Auth.RequireUser(), uncached)
	// Every page that a GET reads also answers HEAD, with the same status and headers and no
	// body, as HTTP asks (RFC 9110 9.3.2): link checkers and uptime monitors use it. Unrouted,
	// a HEAD fell through to the group's catch-all and read as an unknown page.
	var allow methodsByPath
	get := func(path string, h echo.HandlerFunc) {
		allow.add(path, http.MethodGet, http.MethodHead)
		g.Match([]string{http.MethodGet, http.MethodHead}, path, h)
	}
	post := func(path string, h echo.HandlerFunc) {
		allow.add(path, http.MethodPost)
		g.POST(path, h, d.Auth.AfterChange)
	}
	get("/", home.Home)
	// The domain pages' prefix alone, as a user trims the address to go up a level: the domain
	// list, not "Page not found".
	get("/d", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/") })
	get("/export.csv", home.ExportCSV)
	get("/d/:domain", creds.List)
	get("/d/:domain/export.csv", creds.ExportCSV)
	get("/d/:domain/new", creds.NewForm)
	post(createPath, creds.Create) // its body limit is CreateBodyLimit (Use)
	get("/d/:domain/logins/:login/reset", creds.ResetForm)
	post("/d/:domain/logins/:login/reset", creds.Reset)
	get("/d/:domain/logins/:login/delete", creds.DeleteForm)
	post("/d/:domain/logins/:login/delete", creds.Delete)
	get("/d/:domain/delete-all", creds.DeleteAllForm)
	post("/d/:domain/delete-all", creds.DeleteAll)
	get("/audit", ap.List)
	post("/audit/verify", ap.Verify)
	// The check runs on a POST (it writes an entry); an address typed or bookmarked goes to the
	// audit trail, where its button is.
	get("/audit/verify", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/audit") })
	get("/audit/export.csv", ap.ExportCSV)
	get("/audit/export.jsonl", ap.ExportJSONL)
	allow.refuseOthers(g)
	return nil
}

// methodsByPath records the methods each page's path answers, in the order the paths were
// added.
type methodsByPath struct {
	paths   []string
	methods map[string][]string
}

func (m *methodsByPath) add(path string, methods ...string) {
	if m.methods == nil {
		m.methods = map[string][]string{}
	}
	if _, ok := m.methods[path]; !ok {
		m.paths = append(m.paths, path)
	}
	m.methods[path] = append(m.methods[path], methods...)
}

// refuseOthers answers every other method on each path 405, with Allow naming the methods the
// path answers (RFC 9110 15.5.6). echo would, but a group with middleware has a catch-all route
// (so that an unknown address is signed-in only too) that answers 404 first: a PUT or a POST
// sent to a page read "There is nothing at this address" instead of "not allowed here". The
// group's middleware runs first, so a change still needs its CSRF token before it learns this.
func (m *methodsByPath) refuseOthers(g *echo.Group) {
	for _, path := range m.paths {
		served := m.methods[path]
		for _, r := range g.Match(othersThan(served), path, notAllowed(served)) {
			r.Name = NotAllowedRoute
		}
	}
}

// allMethods are the methods a refusal route is added for.
func allMethods() []string {
	return []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace}
}

// othersThan returns every method of allMethods that is not in served.
func othersThan(served []string) []string {
	var others []string
	for _, method := range allMethods() {
		if !slices.Contains(served, method) {
			others = append(others, method)
		}
	}
	return others
}

// notAllowed answers 405 with Allow naming the methods served.
func notAllowed(served []string) echo.HandlerFunc {
	allowHeader := strings.Join(served, ", ")
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderAllow, allowHeader)
		return echo.NewHTTPError(http.StatusMethodNotAllowed)
	}
}

// MetricsPath is where the app serves its metrics on the main listener, when a token is set.
const MetricsPath = "/metrics"

// publicAllow returns the methods a public route answers, by the route's path (c.Path()), or
// nil for a route that is not public. A HEAD of the sign-in steps is routed, but refused (it
// would start a sign-in or spend a code: auth.Register), so their Allow names GET alone.
func publicAllow(routePath string) []string {
	switch routePath {
	case "/healthz", "/readyz", auth.SignedOutPath, static.Prefix + "*", RobotsPath, FaviconPath:
		return []string{http.MethodGet, http.MethodHead}
	case auth.LoginPath, auth.CallbackPath, MetricsPath:
		return []string{http.MethodGet}
	case auth.LogoutPath:
		return []string{http.MethodGet, http.MethodHead, http.MethodPost}
	}
	return nil
}

// refusePublicOthers routes every other method of each public route registered on e so far
// (publicAllow: health, static files, the sign-in flow, the metrics) to a 405 with Allow. Without
// it such a request fell through to the signed-in pages' catch-all (the group's, which keeps an
// unknown address signed-in only): echo finds that route before its own 405, so a POST to
// /healthz or a PUT to /auth/login read 401 (signed out), 404 (signed in) or, being unsafe, the
// CSRF check's 403, none of which tells a client its method is wrong. refusePublicMethods
// answers them before the session and CSRF middleware; these routes give the router their path.
// A method the path already has a route for (the sign-in steps' HEAD) is not routed again; it is
// refusePublicMethods that answers it when publicAllow leaves it out.
func refusePublicOthers(e *echo.Echo) {
	routed := map[string][]string{}
	var paths []string
	for _, r := range e.Routes() {
		if publicAllow(r.Path) == nil {
			continue
		}
		if _, ok := routed[r.Path]; !ok {
			paths = append(paths, r.Path)
		}
		routed[r.Path] = append(routed[r.Path], r.Method)
	}
	for _, path := range paths {
		for _, r := range e.Match(othersThan(routed[path]), path, notAllowed(publicAllow(path))) {
			r.Name = NotAllowedRoute
		}
	}
}

// refusePublicMethods answers 405 to a method a public route does not answer (refusePublicOthers
// routed it there), ahead of the session and CSRF middleware: a 405 changes nothing, so it
// needs no CSRF token, and a health check or sign-in step sent with the wrong method is told so
// whether or not the client has a session. The signed-in pages' refusals (refuseOthers) still
// come after their group's middleware, sign-in and CSRF check first.
func refusePublicMethods(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if allow := publicAllow(c.Path()); allow != nil && !slices.Contains(allow, c.Request().Method) {
			return notAllowed(allow)(c)
		}
		return next(c)
	}
}

// NotAllowedRoute is the name of the routes that answer a page's or a public route's other
// methods 405, so that a walk over the router's routes can tell them from the pages.
const NotAllowedRoute = "smtpdesk: method not allowed"

// uncached marks every signed-in response as not to be stored by any cache.
func uncached(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
		return next(c)
	}
}

// SignOutForm answers a GET of the sign-out address, typed or bookmarked: signing out is a POST
// (auth.Auth's logout, CSRF-checked), so the page asks, with the button that sends it. Before,
// such a GET answered "Page not found" to a signed-in user. Signed out already, it goes to the
// signed-out page.
func SignOutForm(c echo.Context) error {
	if auth.UserFrom(c) == nil {
		return c.Redirect(http.StatusSeeOther, auth.SignedOutPath)
	}
	return Render(c, http.StatusOK, views.SignOutPage(PageBase(c, "Sign out")))
}

// SignedOut is the public page after sign-out. It fits auth.Config.SignedOutPage. A signed-in
// visitor goes home instead.
func SignedOut(c echo.Context) error {
	if auth.UserFrom(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	vm := views.SignedOutVM{
		Page:       PageBase(c, "Signed out"),
		SignInURL:  auth.LoginPath,
		JustSigned: true,
	}
	return Render(c, http.StatusOK, views.SignedOutPage(vm))
}
