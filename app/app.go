// Package app wires SMTP Desk together: from a config.Config it opens the database, builds the
// Mailgun client, the access policy, sign-in, the audit recorder and the echo server with its
// middleware and routes. It also holds the demo wiring (StartDemo).
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/config"
	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/metrics"
	"github.com/smtpdesk/smtpdesk/policy"
	"github.com/smtpdesk/smtpdesk/store"
)

// UserAgent is sent to Mailgun.
const UserAgent = "smtp-desk/1"

// Server timeouts for NewServer. WriteTimeout counts from the request; an answer's first byte
// moves the deadline to handlers.AnswerWriteTimeout from then, however long a page waited on
// Mailgun, and a streamed download (the audit exports, every domain's logins) moves it on as it
// goes (handlers.DownloadStall).
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 90 * time.Second
	IdleTimeout       = 120 * time.Second
)

// janitorInterval is how often expired sessions are deleted.
const janitorInterval = 10 * time.Minute

// App is a wired SMTP Desk instance: serve Handler, then Close.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	db      *store.DB
	mg      *mailgun.Client
	policy  *policy.Holder
	auth    *auth.Auth
	audit   *audit.Recorder
	metrics *metrics.Metrics
	echo    *echo.Echo

	mailgunSeen atomic.Int64 // unix nanoseconds of Mailgun's last good answer, 0 = never

	formActionsFor atomic.Pointer[formActionOrigins] // formActions' last answer

	bg context.Context // canceled by Close: background work started after New
	// policyChecked is closed once the start-up comparison of the policy's domains with
	// Mailgun's is over (PolicyDomainsChecked).
	policyChecked chan struct{}
	cancel        context.CancelFunc
	wg            sync.WaitGroup // background work (background)
	bgMu          sync.Mutex     // guards closing, and wg's Add against Close's Wait
	closing       bool           // Close has begun: no background work starts
	closeOnce     sync.Once
	closeErr      error
}

// NewLogger builds the process logger from LOG_LEVEL and LOG_FORMAT; a record logged with a
// request's context carries its request_id.
func NewLogger(w io.Writer, cfg config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.Format() == "text" {
		return slog.New(handlers.LogRequestIDs(slog.NewTextHandler(w, opts)))
	}
	return slog.New(handlers.LogRequestIDs(slog.NewJSONHandler(w, opts)))
}

// NewServer returns an http.Server for h with SMTP Desk's timeouts.
func NewServer(h http.Handler, logger *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	if logger != nil {
		srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	}
	return srv
}

// OpenDatabase opens the database DATABASE_URL names, for the server and the commands that
// write, and applies pending migrations.
// When it cannot, the error names the variable, the database (its password hidden) and what to
// check: the driver's words alone ("unable to open database file (14)") say neither. A database
// a newer SMTP Desk migrated is refused (a *store.SchemaError naming its migrations): this
// version knows nothing of what they added, and would write what the newer integrity check
// reports as changed (audit entries without a new column; a retention run that leaves out what
// 0007 keeps, and its digest).
// Options (store.WithMigrationNotice) are passed on to store.Open.
func OpenDatabase(ctx context.Context, cfg config.Config, opts ...store.Option) (*store.DB, error) {
	db, err := openDatabase(ctx, cfg, store.Open, opts...)
	if se, ok := errors.AsType[*store.SchemaError](err); ok && len(se.Unknown) > 0 {
		return nil, fmt.Errorf("%w; run the SMTP Desk version that migrated the database (or a newer one): this one knows nothing of what its migrations added, and would write audit rows and run retention that its integrity check reports as changed", err)
	}
	return db, err
}

// OpenDatabaseReadOnly is OpenDatabase for the commands that only read (web audit verify): it
// applies no migration (store.OpenReadOnly), so a role that may only read can run them. A schema
// that is not this binary's comes back as a *store.SchemaError, for the command to say what to
// do.
func OpenDatabaseReadOnly(ctx context.Context, cfg config.Config) (*store.DB, error) {
	return openDatabase(ctx, cfg, store.OpenReadOnly)
}

// ErrServerStopping is the cause the server gives its requests' contexts when a shutdown's grace
// period ends with them still running (handlers.ErrServerStopping): they are logged as cut off
// by the server, not as left by their clients.
var ErrServerStopping = handlers.ErrServerStopping

// secretsHidden is an error whose text has its secrets replaced by "[redacted]"; errors.Is and As
// see the error it wraps.
type secretsHidden struct {
	err     error
	secrets []string
}

func (e *secretsHidden) Error() string {
	s := e.err.Error()
	for _, secret := range e.secrets {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return s
}

func (e *secretsHidden) Unwrap() error { return e.err }

// hideSecrets wraps err so that its text holds none of secrets (the longest replaced first, so
// that a secret holding another goes whole); err itself when it holds none.
func hideSecrets(err error, secrets []string) error {
	var held []string
	text := err.Error()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			held = append(held, s)
		}
	}
	if len(held) == 0 {
		return err
	}
	slices.SortFunc(held, func(a, b string) int { return len(b) - len(a) })
	return &secretsHidden{err: err, secrets: held}
}

// pgInsufficientPrivilege is PostgreSQL's SQLSTATE for "permission denied".
const pgInsufficientPrivilege = "42501"

func openDatabase(ctx context.Context, cfg config.Config, open func(context.Context, string, ...store.Option) (*store.DB, error), opts ...store.Option) (*store.DB, error) {
	dsn := cfg.DatabaseURL.Reveal()
	db, err := open(ctx, dsn, opts...)
	if err == nil {
		return db, nil
	}
	// pgx's errors may quote the URL, hiding only the parameters "password" and "sslpassword".
	err = hideSecrets(err, cfg.DatabaseSecrets())
	_, schema := errors.AsType[*store.SchemaError](err)
	_, encoding := errors.AsType[*store.EncodingError](err)
	if _, searchPath := errors.AsType[*store.SearchPathError](err); schema || encoding || searchPath {
		// The database answered: the advice below (its directory, the server, the password)
		// would send the operator the wrong way.
		return nil, fmt.Errorf("DATABASE_URL %s: %w", cfg.DatabaseRedacted(), err)
	}
	if path, ok := store.SQLiteFile(dsn); ok {
		if store.Damaged(err) {
			// SQLite opened the file and read it: its directory and permissions, the advice
			// below, are fine.
			return nil, fmt.Errorf("DATABASE_URL: the file %q is not a SQLite database, or is damaged: %w; SMTP Desk does not repair it: restore it from a backup, or set DATABASE_URL to another file (a new one starts an empty audit trail)", path, err)
		}
		if store.Locked(err) {
			// Another process held the file's write lock all along (a second SMTP Desk applying
			// migrations, which on a long trail takes a minute): its directory is fine.
			return nil, fmt.Errorf("DATABASE_URL: the SQLite database %q is locked by another process (another SMTP Desk or \"web migrate\" applying migrations, or a tool writing it): %w; wait until it is done, then start again (one server per SQLite file: several replicas need PostgreSQL)", path, err)
		}
		return nil, fmt.Errorf("DATABASE_URL: cannot open the SQLite database %q: %w; check that its directory exists and that this user may write there, or set DATABASE_URL to another file (e.g. DATABASE_URL=/var/lib/smtp-desk/smtpdesk.db)", path, err)
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		// The server answered, so the connection advice below would send the operator the
		// wrong way.
		if pe.Code == pgInsufficientPrivilege {
			return nil, fmt.Errorf("DATABASE_URL %s: %w; its user may not create or change SMTP Desk's tables: apply the migrations with \"web migrate\" as a role that may (once, and after each upgrade), then start with this one", cfg.DatabaseRedacted(), err)
		}
		return nil, fmt.Errorf("DATABASE_URL %s: the PostgreSQL server refused: %w", cfg.DatabaseRedacted(), err)
	}
	if errors.Is(err, store.ErrSettings) {
		// Nothing was sent: the advice about a server that does not answer would mislead. The
		// driver also reads PG* variables (PGSSLMODE, PGCONNECT_TIMEOUT, …) from the process's
		// environment, where a setting the URL lacks comes from.
		where := "in DATABASE_URL"
		if pg := pgVarsSet(); len(pg) > 0 {
			where = "in DATABASE_URL or in the PostgreSQL variable that sets it (set here: " + strings.Join(pg, ", ") + ")"
		}
		return nil, fmt.Errorf("DATABASE_URL %s: %w; nothing was sent to the server: fix the parameter it names %s (sslmode is one of disable, allow, prefer, require, verify-ca and verify-full; a file it names must exist)", cfg.DatabaseRedacted(), err, where)
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return nil, fmt.Errorf("DATABASE_URL: cannot open the PostgreSQL database %s: %w; check that the server runs and accepts connections from this host, and the user, password and database name in DATABASE_URL", cfg.DatabaseRedacted(), err)
	}
	return nil, fmt.Errorf("DATABASE_URL: cannot open the database %s: %w; check DATABASE_URL", cfg.DatabaseRedacted(), err)
}

// pgDriverVars are the environment variables the PostgreSQL driver (pgconn) reads.
var pgDriverVars = []string{"PGAPPNAME", "PGCHANNELBINDING", "PGCONNECT_TIMEOUT", "PGDATABASE", "PGHOST",
	"PGMAXPROTOCOLVERSION", "PGMINPROTOCOLVERSION", "PGOPTIONS", "PGPASSFILE", "PGPASSWORD", "PGPORT",
	"PGREQUIREAUTH", "PGSERVICE", "PGSERVICEFILE", "PGSSLCERT", "PGSSLCERTMODE", "PGSSLKEY", "PGSSLMODE",
	"PGSSLNEGOTIATION", "PGSSLPASSWORD", "PGSSLROOTCERT", "PGSSLSNI", "PGTARGETSESSIONATTRS", "PGTZ", "PGUSER"}

// pgVarsSet names the driver's environment variables (pgDriverVars) set, not empty, in this
// process, sorted: never a value. PGDATA or PGID (a container's own) are not the driver's.
func pgVarsSet() []string {
	var names []string
	for _, name := range pgDriverVars {
		if os.Getenv(name) != "" {
			names = append(names, name)
		}
	}
	return names
}

// New wires an App from cfg. ctx bounds start-up (opening the database); background work
// (provider discovery, the janitor) runs until Close. cfg should have passed Validate.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger) (_ *App, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &App{cfg: cfg, log: logger}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.bg, a.cancel = bg, cancel
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()

	// An upgrade's migrations run before SMTP Desk listens, health checks included, and some take
	// minutes on a trail of millions of entries: the log says what runs, and when it is done,
	// so that an operator neither waits blind nor stops it halfway (which undoes it).
	// A new database's tables are made in no time, and say nothing.
	opened, upgrade := time.Now(), false
	a.db, err = OpenDatabase(ctx, cfg, store.WithMigrationNotice(func(n store.MigrationNotice) {
		upgrade = upgrade || !n.Waiting
		logger.Info("database: " + n.String())
	}))
	if err != nil {
		return nil, err
	}
	if applied := a.db.Applied(); upgrade && len(applied) > 0 {
		logger.Info("database: migrations applied", "migrations", strings.Join(applied, ", "),
			"took", time.Since(opened).Round(time.Millisecond).String())
	}
	// Opened, migrated and answering, a database that refuses writes still made a server that
	// said it was ready, answered /readyz with 200, and failed every sign-in with a 500.
	if err := a.db.CheckWritable(ctx); err != nil {
		return nil, fmt.Errorf("DATABASE_URL %s: the database refuses writes: %w; SMTP Desk writes its sessions and audit trail there: "+
			"for SQLite, let this user write the file and its directory; for PostgreSQL, point it at the primary, not a standby, "+
			"with a role that may SELECT, INSERT, UPDATE and DELETE on SMTP Desk's tables (every table of its schema: "+
			"grant them again after a migration that added one, as GRANT … ON ALL TABLES IN SCHEMA takes only the tables there then)", cfg.DatabaseRedacted(), err)
	}
	a.policy, err = policy.NewHolder(cfg.PolicyFile)
	if err != nil {
		return nil, fmt.Errorf("app: load policy: %w", err)
	}
	a.warnPolicy()
	a.metrics = metrics.New(func(ctx context.Context) (int64, error) {
		return a.db.CountActiveSessions(ctx, time.Now(), auth.IdleLimit(cfg.Session.IdleTimeout))
	})
	a.metrics.PolicyLoaded(time.Now())

	mgOpts := []mailgun.Option{
		mailgun.WithTimeout(cfg.Mailgun.Timeout),
		mailgun.WithUserAgent(UserAgent),
		mailgun.WithObserver(a.observeMailgun),
	}
	if cfg.Mailgun.BaseURL != "" {
		mgOpts = append(mgOpts, mailgun.WithBaseURL(cfg.Mailgun.BaseURL))
	} else if cfg.Mailgun.Region == "eu" {
		mgOpts = append(mgOpts, mailgun.WithRegion(mailgun.RegionEU))
	}
	a.mg, err = mailgun.NewClient(cfg.Mailgun.APIKey.Reveal(), mgOpts...)
	if err != nil {
		return nil, fmt.Errorf("app: mailgun client: %w", err)
	}

	a.audit = audit.NewRecorder(timedAudit{a.db, a.metrics}, time.Now)
	a.audit.SetLogger(logger)

	ipOf := handlers.IPExtractor(cfg.TrustedProxies)
	a.auth, err = auth.New(auth.Config{
		IssuerURL:             cfg.OIDC.Issuer,
		ClientID:              cfg.OIDC.ClientID,
		ClientSecret:          cfg.OIDC.ClientSecret.Reveal(),
		RedirectURL:           cfg.BaseURL + auth.CallbackPath,
		PostLogoutRedirectURL: cfg.BaseURL + auth.SignedOutPath,
		Scopes:                cfg.OIDC.Scopes,
		GroupsClaim:           cfg.OIDC.GroupsClaim,
		SessionKeys:           cfg.Session.KeyPairs(),
		IdleTimeout:           cfg.Session.IdleTimeout,
		AbsoluteTimeout:       cfg.Session.MaxAge,
		SecureCookies:         cfg.Session.SecureCookies,
		TrustedClientIP:       func(r *http.Request) string { return ipOf(r) },
		RequestHost:           handlers.ForwardedHost(cfg.TrustedProxies),
		SignedOutPage:         handlers.SignedOut,
		SignInPerMinute:       a.cfg.RateLimitSignIn,
	}, SessionRepo(a.db), authEvents{a.audit}, logger)
	if err != nil {
		return nil, fmt.Errorf("app: sign-in: %w", err)
	}
	a.auth.Start(bg)

	a.echo, err = a.buildEcho()
	if err != nil {
		return nil, err
	}

	a.policyChecked = make(chan struct{})
	a.checkPolicyDomains(a.policy.Current(), a.policyChecked)
	a.background(func() { a.janitor(bg) })
	a.background(func() {
		audit.RunRetention(bg, a.retainer(), cfg.AuditRetention, time.Hour, time.Now, a.audit, logger)
	})
	return a, nil
}

// background runs fn in a goroutine that Close waits for (fn must end when a.bg does), and
// reports whether it started it: nothing starts once Close has begun (a policy reload's SIGHUP
// arriving while the server stops, say).
func (a *App) background(fn func()) bool {
	a.bgMu.Lock()
	defer a.bgMu.Unlock()
	if a.closing {
		return false
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		fn()
	}()
	return true
}

// LogReady logs "SMTP Desk ready", with the address served and the configuration (secrets
// redacted). The caller logs it once every listener it needs is open: New cannot, as a port
// taken would otherwise fail the start just after a line saying it was ready.
func (a *App) LogReady(addr string) {
	a.log.Info("SMTP Desk ready", "addr", addr, "config", a.cfg, "policy_rules", len(a.policy.Current().Rules()))
}

// buildEcho assembles the server: middleware (metrics among it), session, CSRF, then every route.
func (a *App) buildEcho() (*echo.Echo, error) {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = handlers.ErrorHandler(a.log)
	handlers.Use(e, handlers.MiddlewareConfig{
		Logger:         a.log,
		TrustedProxies: a.cfg.TrustedProxies,
		FormActions:    a.formActions,
		Demo:           a.cfg.Demo,
		Support:        a.cfg.Support,
		OnUncompressed: a.metrics.CountUncompressed,
		NoGzip:         a.cfg.NoGzip,
		Metrics:        a.metrics.Middleware(),
		Session:        a.auth.Session(handlers.Sessionless),
	})
	e.Use(a.auth.CSRF())
	if tok := a.cfg.MetricsToken.Reveal(); tok != "" {
		e.GET(handlers.MetricsPath, echo.WrapHandler(a.metrics.Handler(tok)))
	}
	health := handlers.NewHealth(a.db, a.MailgunSeen, time.Now)
	health.Logger = a.log
	err := handlers.Register(e, handlers.Deps{
		Logger:   a.log,
		Auth:     a.auth,
		Policy:   a.policy,
		Mailgun:  a.mg,
		Audit:    a.audit,
		AuditLog: a.db,
		Forms:    a.db,
		Health:   health,
		Settings: handlers.Settings{
			AgeWarningDays:   a.cfg.AgeWarningDays,
			Demo:             a.cfg.Demo,
			SMTPHost:         smtpHost(a.cfg),
			ActionsPerMinute: a.cfg.RateLimitActions,
			ExportsPerMinute: a.cfg.RateLimitExports,
		},
		OnDenied: a.metrics.CountAccessDenied,
	})
	if err != nil {
		return nil, fmt.Errorf("app: routes: %w", err)
	}
	return e, nil
}

// formActions lists the origins the CSP lets forms reach besides 'self': the identity
// provider's issuer and, once discovered, its end_session_endpoint (sign-out posts to SMTP Desk,
// which redirects to that endpoint, and browsers apply form-action to the redirect). They can
// differ: Azure AD v1's issuer is https://sts.windows.net/{tenant}/, its end_session endpoint on
// https://login.microsoftonline.com. It is called per request, so discovery after start applies.
func (a *App) formActions() []string {
	end := a.auth.EndSessionEndpoint()
	if c := a.formActionsFor.Load(); c != nil && c.endSession == end {
		return c.origins // the same endpoint as the last request's: no parsing per page
	}
	var out []string
	for _, raw := range []string{a.cfg.OIDC.Issuer, end} {
		if o := origin(raw); o != "" && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	a.formActionsFor.Store(&formActionOrigins{endSession: end, origins: out})
	return out
}

// formActionOrigins is formActions' answer for one end_session endpoint.
type formActionOrigins struct {
	endSession string
	origins    []string
}

// hostName is a DNS name as a CSP host-source may hold it: no wildcard, no quote, no separator.
var hostName = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// origin returns scheme://host[:port] of an http or https URL, "" for anything else. The result
// goes into the CSP, and the end_session endpoint comes from the provider's discovery document,
// so the host must be a plain name or IP: a "*", ";", "," or quote could widen the policy.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return ""
		}
		host = ip.String()
		if ip.Is6() {
			host = "[" + host + "]"
		}
	} else if !hostName.MatchString(host) {
		return ""
	}
	if p := u.Port(); p != "" {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			return ""
		}
		host += ":" + p
	}
	return u.Scheme + "://" + strings.ToLower(host)
}

// smtpHost is Mailgun's SMTP server for the configured region, which the page showing a new
// password names. Behind MAILGUN_BASE_URL (another API endpoint, or the sandbox) it is unknown,
// and "" shows none; the demo names the US server, as the product it shows would.
func smtpHost(cfg config.Config) string {
	switch {
	case cfg.Demo:
		return "smtp.mailgun.org"
	case cfg.Mailgun.BaseURL != "":
		return ""
	case cfg.Mailgun.Region == "eu":
		return "smtp.eu.mailgun.org"
	}
	return "smtp.mailgun.org"
}

// observeMailgun feeds the metrics and remembers when Mailgun last gave a real answer (any
// status but a refused key, a rate limit or a server error) for /readyz. A 2xx whose body could
// not be read is counted apart from the 200s, as the user was told the answer was unreadable,
// and is no real answer: a proxy's page is as likely as Mailgun's.
func (a *App) observeMailgun(ci mailgun.CallInfo) {
	unreadable := ci.Status >= 200 && ci.Status <= 299 && errors.Is(ci.Err, mailgun.ErrBadResponse)
	a.metrics.ObserveMailgun(metrics.MailgunAttempt{Endpoint: ci.Endpoint, Status: ci.Status,
		Unreadable: unreadable, Canceled: ci.Canceled, Duration: ci.Duration, Attempt: ci.Attempt})
	switch s := ci.Status; {
	case unreadable, s == 0, s == http.StatusUnauthorized, s == http.StatusForbidden, s == http.StatusTooManyRequests, s >= 500:
		return
	}
	a.mailgunSeen.Store(time.Now().UnixNano())
}

// domainsUnread reports that the start-up (or reload) check could not read Mailgun's domains:
// an Error naming MAILGUN_API_KEY when Mailgun refused the key (every page will fail the same
// way, and the operator should hear it now, whatever LOG_LEVEL), a Warn otherwise; and counts it.
// Nothing when the App is closing.
func (a *App) domainsUnread(err error) {
	if a.bg.Err() != nil {
		return
	}
	a.metrics.CountBackgroundFailure(metrics.TaskPolicyDomainsCheck)
	if me, ok := errors.AsType[*mailgun.Error](err); ok && (me.StatusCode == http.StatusUnauthorized || me.StatusCode == http.StatusForbidden) {
		a.log.Error("Mailgun refused MAILGUN_API_KEY: nothing can be listed or changed; check the key (a private API key of this account), and MAILGUN_REGION: a key works in its region only (an EU account's key is refused by the US API, the default)", "err", err)
		return
	}
	a.log.Warn("policy: its domains could not be compared with Mailgun's: Mailgun did not give its domain list (check MAILGUN_BASE_URL or the network if it lasts)", "err", err)
}

// MailgunSeen returns when Mailgun last answered, zero when it has not since start.
func (a *App) MailgunSeen() time.Time {
	n := a.mailgunSeen.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// janitor deletes expired sessions. (AUDIT_RETENTION is audit.RunRetention's job.)
func (a *App) janitor(ctx context.Context) {
	t := time.NewTicker(janitorInterval)
	defer t.Stop()
	for {
		a.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *App) sweep(ctx context.Context) {
	now := time.Now()
	if n, err := a.db.DeleteExpiredSessions(ctx, now, auth.IdleLimit(a.cfg.Session.IdleTimeout)); err != nil {
		if ctx.Err() == nil {
			a.log.Warn("deleting expired sessions failed", "err", err)
			a.metrics.CountBackgroundFailure(metrics.TaskSessionsCleanup)
		}
	} else if n > 0 {
		a.log.Debug("deleted expired sessions", "count", n)
	}
	// A form is sent again within its session's life, if ever: its token is kept that long.
	if _, err := a.db.DeleteUsedFormTokens(ctx, now.Add(-a.cfg.Session.MaxAge)); err != nil && ctx.Err() == nil {
		a.log.Warn("deleting used form tokens failed", "err", err)
		a.metrics.CountBackgroundFailure(metrics.TaskFormTokensCleanup)
	}
}

// retainer is what audit.RunRetention deletes with: the database, with each run it refused or did
// not answer counted as the audit_retention job's failure. (A run whose audit event could not be
// written after its deletion is counted in smtpdesk_audit_write_failures_total.)
func (a *App) retainer() audit.Retainer { return countedRetention{a.db, a.metrics} }

type countedRetention struct {
	db      *store.DB
	metrics *metrics.Metrics
}

func (r countedRetention) DeleteAuditBefore(ctx context.Context, t time.Time) (int64, error) {
	n, err := r.db.DeleteAuditBefore(ctx, t)
	if err != nil && ctx.Err() == nil { // a run the stop ended did not fail (audit.RetainOnce)
		r.metrics.CountBackgroundFailure(metrics.TaskAuditRetention)
	}
	return n, err
}

// Handler returns the HTTP handler serving SMTP Desk.
func (a *App) Handler() http.Handler { return a.echo }

// Echo returns the echo server, for tests that walk the routes.
func (a *App) Echo() *echo.Echo { return a.echo }

// MetricsHandler serves /metrics without a token, for the separate METRICS_ADDR listener.
func (a *App) MetricsHandler() http.Handler { return a.metrics.Handler("") }

// Auth returns the sign-in component (tests wait for discovery with it).
func (a *App) Auth() *auth.Auth { return a.auth }

// DB returns the database.
func (a *App) DB() *store.DB { return a.db }

// ReloadPolicy re-reads the policy file; on error the previous policy stays in force. The
// metrics say which (smtpdesk_policy_last_reload_successful): an operator who edited the file
// may otherwise believe the edit applied.
func (a *App) ReloadPolicy() error {
	if err := a.policy.Reload(); err != nil {
		a.metrics.PolicyReloadFailed()
		return fmt.Errorf("app: %w", err)
	}
	a.metrics.PolicyLoaded(time.Now())
	a.log.Info("policy reloaded", "file", a.policy.Path(), "rules", len(a.policy.Current().Rules()))
	a.warnPolicy()
	a.checkPolicyDomains(a.policy.Current(), nil)
	return nil
}

// PolicyDomainsChecked is closed once the start-up comparison of the policy's domains with
// Mailgun's (one walk of its domain list, in the background) is over: a test that counts
// Mailgun's calls waits for it first.
func (a *App) PolicyDomainsChecked() <-chan struct{} { return a.policyChecked }

// checkPolicyDomains warns, as warnPolicy does, of each domain the policy's rules name that the
// Mailgun account does not have: a typo (acme.exmaple) grants nothing, and its users see "No
// domains to show" with nothing in the log to say why. Mailgun is asked once, in the background,
// after the start and each reload (background work, which Close waits for; for a policy that
// names no domain, one domain is asked for, to hear whether Mailgun takes the key); when it
// cannot be asked, nothing is checked and domainsUnread says so: an Error naming
// MAILGUN_API_KEY when Mailgun refused the key (the first the operator hears of a wrong key or
// region). A domain added to Mailgun later needs no reload: the warning only says it was missing
// then. done, when not nil, is closed when the check is over.
func (a *App) checkPolicyDomains(pol *policy.Policy, done chan struct{}) {
	names := pol.Domains()
	started := a.background(func() {
		if done != nil {
			defer close(done)
		}
		if len(names) == 0 {
			// Nothing to compare, but a key Mailgun refuses is still worth saying now: one
			// domain asked for, no more.
			if _, err := a.mg.ListDomains(a.bg, &mailgun.DomainListOptions{Limit: 1}); err != nil {
				a.domainsUnread(err)
			}
			return
		}
		// The walk has its own deadline (handlers.DomainWalkTimeout); a.bg ends it at Close.
		all, err := handlers.NewDomainCache(a.mg, 0, nil).Domains(a.bg)
		if err != nil {
			a.domainsUnread(err)
			return
		}
		have := make(map[string]bool, len(all))
		for _, d := range all {
			have[strings.ToLower(d.Name)] = true
		}
		missing := 0
		for _, n := range names { // lower case already (policy.Domains)
			if !have[n] {
				missing++
				a.log.Warn("policy: check this", "warning", fmt.Sprintf("%s names domain %s, which the Mailgun account does not have: its rules grant nothing while it is missing", a.policy.Path(), n))
			}
		}
		a.log.Debug("policy: its domains compared with Mailgun's", "domains", len(names), "missing", missing)
	})
	if !started && done != nil {
		close(done)
	}
}

// warnPolicy logs what in the policy in force is likely a mistake (policy.Warnings): the file
// is valid, so it is in force, but the administrator should look at it.
func (a *App) warnPolicy() {
	for _, w := range a.policy.Current().Warnings() {
		a.log.Warn("policy: check this", "warning", w)
	}
}

// lateAuditWait is how long Close waits for the outcomes of actions that the database has not
// taken yet (audit.LateError) before it gives them up, leaving their entries pending.
const lateAuditWait = 2 * time.Second

// Close stops background work and closes the database. Call it after the HTTP server has shut
// down. It is safe to call more than once.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		a.bgMu.Lock()
		a.closing = true
		a.bgMu.Unlock()
		if a.cancel != nil {
			a.cancel()
		}
		a.wg.Wait()
		if a.audit != nil {
			// An outcome the database has not taken yet (audit.LateError) gets a last moment.
			ctx, cancel := context.WithTimeout(context.Background(), lateAuditWait)
			a.audit.Close(ctx)
			cancel()
		}
		if a.db != nil {
			if err := a.db.Close(); err != nil {
				a.closeErr = fmt.Errorf("app: close database: %w", err)
			}
		}
	})
	return a.closeErr
}

// authEvents adapts the audit recorder to auth.EventRecorder.
type authEvents struct{ rec *audit.Recorder }

// RecordAuthEvent records a sign-in, sign-out or refused sign-in in the audit trail.
func (r authEvents) RecordAuthEvent(ctx context.Context, e auth.AuthEvent) error {
	if r.rec == nil {
		return errors.New("app: no audit recorder")
	}
	return r.rec.Event(ctx,
		audit.Actor{Issuer: e.Issuer, Subject: e.Subject, Email: e.Email, Name: e.Name},
		audit.Meta{RequestID: e.RequestID, ClientIP: e.ClientIP, UserAgent: e.UserAgent},
		e.Action, e.Outcome, "", e.Detail)
}

// timedAudit feeds the audit write durations and failures to the metrics.
type timedAudit struct {
	db      *store.DB
	metrics *metrics.Metrics
}

func (t timedAudit) AppendAudit(ctx context.Context, e store.AuditEntry) (int64, error) {
	start := time.Now()
	id, err := t.db.AppendAudit(ctx, e)
	t.observe(ctx, start, err)
	return id, err
}

func (t timedAudit) AppendAuditAgain(ctx context.Context, e store.AuditEntry, lost *store.LostAnswerError) (int64, error) {
	start := time.Now()
	id, err := t.db.AppendAuditAgain(ctx, e, lost)
	t.observe(ctx, start, err)
	return id, err
}

func (t timedAudit) CompleteAudit(ctx context.Context, id int64, outcome string, status int, message string, at time.Time) error {
	start := time.Now()
	err := t.db.CompleteAudit(ctx, id, outcome, status, message, at)
	t.observe(ctx, start, err)
	return err
}

// observe records one write's duration and, when it failed, the failure. Two errors are not
// the database failing: a pending entry whose request went away (its action is refused, as the
// user left; the driver's words for it vary) and a completion already written (the retry of
// one whose commit's answer was lost, which the recorder takes as done; the lost answer was
// counted).
func (t timedAudit) observe(ctx context.Context, start time.Time, err error) {
	t.metrics.ObserveAuditWrite(time.Since(start))
	switch {
	case err == nil, errors.Is(err, store.ErrAlreadyCompleted):
		return
	case errors.Is(ctx.Err(), context.Canceled):
		return
	}
	t.metrics.CountAuditWriteFailure()
}
