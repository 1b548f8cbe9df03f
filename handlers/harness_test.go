package handlers_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/app"
	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/demoidp"
	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/secretscan"
	"github.com/smtpdesk/smtpdesk/internal/testclock"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/internal/testlog"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/policy"
	"github.com/smtpdesk/smtpdesk/store"
)

// idpKey is generated once per test binary: a 2048-bit RSA key per test would dominate the run.
var idpKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// testPolicy is the demo policy plus a rule for the self-service persona below.
const testPolicy = `
admins:
  groups: [smtp-admins]
self_service: true
rules:
  - domain: acme.example
    role: operator
    groups: [team-acme]
  - domain: acme.example
    role: owner
    groups: [acme-owners]
  - domain: example.com
    role: viewer
    groups: [security-reviewers]
  - domain: newsletter.example.org
    role: viewer
    groups: [security-reviewers]
  - domain: example.com
    role: viewer
    groups: [example-viewers]
  - domain: "*"
    role: viewer
    groups: [auditors]
`

// testPersonas are the demo personas plus a viewer of example.com whose e-mail is one of its
// logins (self-service), an owner of acme.example, a viewer of every domain who is not an
// administrator, and an operator of acme.example known by the provider's subject alone.
func testPersonas() []demoidp.Persona {
	return append(demoidp.DefaultPersonas(),
		demoidp.Persona{ID: "selfie", Name: "Sam Self", Email: "sam@example.com", EmailVerified: true,
			Groups: []string{"example-viewers"}, Description: "Viewer of example.com; sam@example.com is a login there."},
		demoidp.Persona{ID: "owner", Name: "Olga Owner", Email: "olga@acme.example", EmailVerified: true,
			Groups: []string{"acme-owners"}, Description: "Owner of acme.example."},
		demoidp.Persona{ID: "auditor", Name: "Aude Auditor", Email: "aude@smtpdesk.example", EmailVerified: true,
			Groups: []string{"auditors"}, Description: "Viewer of every domain; not an administrator."},
		demoidp.Persona{ID: "service", Groups: []string{"team-acme"},
			Description: "Operator of acme.example whose provider sends neither name nor e-mail (a service account)."},
	)
}

// flakyAuditor is the real recorder, with Begin or Event failing on demand (a database outage).
type flakyAuditor struct {
	*audit.Recorder
	failBegin atomic.Bool
	failEvent atomic.Bool
}

func (f *flakyAuditor) Event(ctx context.Context, a audit.Actor, m audit.Meta, action, outcome, domain, detail string, logins ...string) error {
	if f.failEvent.Load() {
		return errors.New("audit: event: database is locked")
	}
	return f.Recorder.Event(ctx, a, m, action, outcome, domain, detail, logins...)
}

func (f *flakyAuditor) Begin(ctx context.Context, a audit.Actor, m audit.Meta, action, domain, detail string, logins []string) (*audit.Pending, error) {
	if f.failBegin.Load() {
		return nil, errors.New("audit: begin: database is locked")
	}
	return f.Recorder.Begin(ctx, a, m, action, domain, detail, logins)
}

// authEvents adapts the recorder to auth's EventRecorder, as the app does.
type authEvents struct{ rec *audit.Recorder }

func (r authEvents) RecordAuthEvent(ctx context.Context, e auth.AuthEvent) error {
	return r.rec.Event(ctx,
		audit.Actor{Issuer: e.Issuer, Subject: e.Subject, Email: e.Email, Name: e.Name},
		audit.Meta{RequestID: e.RequestID, ClientIP: e.ClientIP, UserAgent: e.UserAgent},
		e.Action, e.Outcome, "", e.Detail)
}

// env is SMTP Desk assembled from the real packages the way the app wires it (middleware,
// session, CSRF, routes), against the sandbox Mailgun and the demo provider over loopback HTTP.
type env struct {
	URL     string
	Echo    *echo.Echo
	SB      *sandbox.Server
	DB      *store.DB
	DBPath  string // the SQLite file behind DB, for tests that alter it behind the store's back ("" on PostgreSQL)
	IdP     *demoidp.Provider
	Auditor *flakyAuditor
	Clock   *testclock.Clock
	Logs    *testlog.Buffer
	APIKey  string
	Denied  *deniedCounts // what Deps.OnDenied was told
}

// deniedCounts counts Deps.OnDenied's calls by "action/audit", as the metrics do.
type deniedCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (d *deniedCounts) add(action, audit string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n[action+"/"+audit]++
}

// get returns the count of action/audit ("view/suppressed").
func (d *deniedCounts) get(key string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n[key]
}

type envOptions struct {
	MailgunTimeout time.Duration // default 5s
	// HangTimeout, when set, is the deadline of the calls to a route that the sandbox's faults
	// delay (Latency): a test makes Mailgun hang with a latency that ends only when the client
	// leaves, so those calls time out after HangTimeout however slow the machine is, while every
	// other call of the same page keeps MailgunTimeout and is not cut short by a loaded machine.
	HangTimeout time.Duration
	Settings    handlers.Settings
	Sandbox     []sandbox.Option // more options for the sandbox Mailgun
	// DatabaseURL is a PostgreSQL schema's (testpg.Schema) instead of a SQLite file of the
	// test's own; StoreOptions are passed to store.Open.
	DatabaseURL  string
	StoreOptions []store.Option
	// WriteTimeout is the server's write timeout (app.WriteTimeout in production; none when 0).
	WriteTimeout time.Duration
	// AuditLog, when set, wraps the store as the audit pages read it.
	AuditLog func(handlers.AuditLog) handlers.AuditLog
	// Mailgun, when set, wraps the Mailgun client the handlers call.
	Mailgun func(handlers.CredentialsAPI) handlers.CredentialsAPI
	// Policy is the access policy's YAML (default testPolicy).
	Policy string
	// GroupsClaim is the claim the groups are read from (auth.Config.GroupsClaim; "groups" when
	// empty). The demo provider's userinfo sends only "groups".
	GroupsClaim string
	// Support is MiddlewareConfig.Support: who the pages name for access or help.
	Support string
	// TrustedProxies are the proxies whose forwarded headers are believed (TRUSTED_PROXIES), for
	// the middleware and for the host a sign-in starts at, as the app wires them.
	TrustedProxies []netip.Prefix
	// SignInPerMinute is the sign-in attempts allowed per client address (0: auth's default).
	SignInPerMinute int
	// Upstream, when set, wraps the sandbox as the Mailgun client reaches it over HTTP: it sees
	// every request and may pass it on, rewrite the answer, or answer in the sandbox's place.
	Upstream func(http.Handler) http.Handler
	// Now, when set, is the handlers' clock instead of e.Clock.Now (a server whose local time
	// zone is not UTC: time.Now returns times in time.Local).
	Now func() time.Time
}

func newEnv(t testing.TB, opts envOptions) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if opts.MailgunTimeout == 0 {
		opts.MailgunTimeout = 5 * time.Second
	}
	e := &env{Logs: &testlog.Buffer{}, Clock: testclock.New(sandbox.SeedBase()), APIKey: "key-test-0123456789abcdef",
		Denied: &deniedCounts{n: map[string]int{}}}
	// The log also goes to the suite-wide secret scan (internal/secretscan), as do the sandbox's
	// API key and passwords, the client secret, session cookies and the database.
	logger := slog.New(handlers.LogRequestIDs(slog.NewJSONHandler(secretscan.LogWriter(t, e.Logs), &slog.HandlerOptions{Level: slog.LevelDebug})))

	e.SB = sandbox.New(e.APIKey, append([]sandbox.Option{sandbox.WithDefaultSeed(), sandbox.WithSecretSink(secretscan.Record)}, opts.Sandbox...)...)
	var mgHandler http.Handler = e.SB
	if opts.Upstream != nil {
		mgHandler = opts.Upstream(e.SB)
	}
	mgSrv := httptest.NewServer(mgHandler)
	t.Cleanup(mgSrv.Close)
	newClient := func(timeout time.Duration) *mailgun.Client {
		c, err := mailgun.NewClient(e.APIKey, mailgun.WithBaseURL(mgSrv.URL), mailgun.WithTimeout(timeout),
			mailgun.WithRetry(mailgun.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var mg handlers.CredentialsAPI = newClient(opts.MailgunTimeout)
	if opts.HangTimeout > 0 {
		mg = &hangDeadline{sb: e.SB, normal: mg, hang: newClient(opts.HangTimeout)}
	}
	if opts.Mailgun != nil {
		mg = opts.Mailgun(mg)
	}

	dsn := opts.DatabaseURL
	if dsn == "" {
		e.DBPath = filepath.Join(t.TempDir(), "smtpdesk.db")
		dsn = e.DBPath
	}
	var err error
	e.DB, err = store.Open(ctx, dsn, opts.StoreOptions...)
	if err != nil {
		t.Fatal(err)
	}
	if e.DBPath != "" {
		secretscan.KeepDB(t, e.DBPath) // copied after the close below
	}
	t.Cleanup(func() { e.DB.Close() })
	if opts.Policy == "" {
		opts.Policy = testPolicy
	}
	pol, err := policy.Parse([]byte(opts.Policy), "test-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rec := audit.NewRecorder(e.DB, time.Now)
	rec.SetLogger(logger)
	e.Auditor = &flakyAuditor{Recorder: rec}
	t.Cleanup(func() { // before the database closes: a late completion may be writing
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		rec.Close(ctx)
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.URL = "http://" + ln.Addr().String()
	e.IdP, err = demoidp.Start(ctx, demoidp.Options{
		Personas:               testPersonas(),
		RedirectURIs:           []string{e.URL + auth.CallbackPath},
		PostLogoutRedirectURIs: []string{e.URL + auth.SignedOutPath},
		Key:                    idpKey(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.IdP.Close() })
	secretscan.Record("OIDC client secret", e.IdP.ClientSecret())

	keys := [][]byte{make([]byte, 32), make([]byte, 32)}
	for _, k := range keys {
		_, _ = rand.Read(k)
	}
	a, err := auth.New(auth.Config{
		IssuerURL:       e.IdP.Issuer(),
		ClientID:        e.IdP.ClientID(),
		ClientSecret:    e.IdP.ClientSecret(),
		RedirectURL:     e.URL + auth.CallbackPath,
		SessionKeys:     keys,
		SignedOutPage:   handlers.SignedOut,
		GroupsClaim:     opts.GroupsClaim,
		RequestHost:     handlers.ForwardedHost(opts.TrustedProxies),
		SignInPerMinute: opts.SignInPerMinute,
	}, app.SessionRepo(e.DB), authEvents{rec}, logger)
	if err != nil {
		t.Fatal(err)
	}
	a.Start(ctx)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := a.WaitReady(wctx); err != nil {
		t.Fatalf("provider discovery: %v", err)
	}

	ec := echo.New()
	ec.HideBanner, ec.HidePort = true, true
	ec.HTTPErrorHandler = handlers.ErrorHandler(logger)
	handlers.Use(ec, handlers.MiddlewareConfig{Logger: logger, Demo: true, Support: opts.Support,
		TrustedProxies: opts.TrustedProxies, Session: a.Session(handlers.Sessionless)})
	ec.Use(a.CSRF())
	settings := opts.Settings
	var auditLog handlers.AuditLog = e.DB
	if opts.AuditLog != nil {
		auditLog = opts.AuditLog(auditLog)
	}
	now := e.Clock.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if err := handlers.Register(ec, handlers.Deps{
		Logger:   logger,
		Auth:     a,
		Policy:   policy.NewStaticHolder(pol),
		Mailgun:  mg,
		Audit:    e.Auditor,
		AuditLog: auditLog,
		Forms:    e.DB,
		Health:   handlers.NewHealth(e.DB, time.Now, time.Now),
		Settings: settings,
		Now:      now,
		OnDenied: e.Denied.add,
	}); err != nil {
		t.Fatal(err)
	}
	e.Echo = ec
	srv := &http.Server{Handler: ec, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: opts.WriteTimeout}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
	})
	return e
}

// signIn returns a browser signed in as persona.
func (e *env) signIn(t testing.TB, persona string) *testflow.Client {
	t.Helper()
	c, err := testflow.New(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.SignIn(context.Background(), persona)
	if err != nil {
		t.Fatalf("sign in as %s: %v", persona, err)
	}
	if p.URL.Host != strings.TrimPrefix(e.URL, "http://") {
		t.Fatalf("sign in as %s ended at %s (status %d)", persona, p.URL, p.Status)
	}
	for _, ck := range c.Cookies() {
		if ck.Name == auth.CookieName || ck.Name == auth.InsecureCookieName {
			secretscan.Record("session cookie", ck.Value)
		}
	}
	return c
}

// get fetches a page and fails the test on a transport error.
func get(t *testing.T, c *testflow.Client, path string) *testflow.Page {
	t.Helper()
	p, err := c.Get(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// submit loads formPage, then posts form with its CSRF token to action.
func submit(t *testing.T, c *testflow.Client, formPage, action string, form map[string]string) *testflow.Page {
	t.Helper()
	v := make(map[string][]string, len(form))
	for k, s := range form {
		v[k] = []string{s}
	}
	p, err := c.Submit(context.Background(), formPage, action, v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// wantStatus fails the test when the page's status is not want, showing its text.
func wantStatus(t *testing.T, p *testflow.Page, want int) {
	t.Helper()
	if p.Status != want {
		t.Fatalf("%s: status %d, want %d; page: %.600s", p.URL.Path, p.Status, want, p.Text())
	}
}

// callsTo returns the sandbox calls of a route (and domain, when not "").
func (e *env) callsTo(route, domain string) []sandbox.Call {
	var out []sandbox.Call
	for _, c := range e.SB.Calls() {
		if c.Route == route && (domain == "" || c.Domain == domain) {
			out = append(out, c)
		}
	}
	return out
}

// auditEntries returns the audit trail, newest first.
func (e *env) auditEntries(t *testing.T, f store.AuditFilter) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	if err := e.DB.EachAudit(context.Background(), f, func(a store.AuditEntry) error {
		out = append(out, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitCalls waits until the sandbox has logged at least n calls of route, and returns them:
// a call the client abandoned can be logged a moment after the page was answered. It gives up
// after a minute, a fail-safe: every caller expects the calls, and a loaded machine can take
// seconds to send one (a test that goes on without it, a database cut before the call, fails).
func (e *env) waitCalls(t *testing.T, route string, n int) []sandbox.Call {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		calls := e.callsTo(route, "")
		if len(calls) >= n || time.Now().After(deadline) {
			return calls
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hangDeadline sends the calls to a route that the sandbox's faults delay to a client with a
// short deadline (hang), and all others to the normal one.
type hangDeadline struct {
	sb           *sandbox.Server
	normal, hang handlers.CredentialsAPI
}

func (h *hangDeadline) to(route string) handlers.CredentialsAPI {
	if f := h.sb.CurrentFaults(); f.Latency > 0 && (len(f.Routes) == 0 || slices.Contains(f.Routes, route)) {
		return h.hang
	}
	return h.normal
}

func (h *hangDeadline) ListCredentials(ctx context.Context, domain string, opts *mailgun.ListOptions) (*mailgun.CredentialList, error) {
	return h.to(sandbox.RouteList).ListCredentials(ctx, domain, opts)
}

func (h *hangDeadline) CreateCredentials(ctx context.Context, domain string, req *mailgun.CreateCredentialsRequest) (*mailgun.CreateResult, error) {
	return h.to(sandbox.RouteCreate).CreateCredentials(ctx, domain, req)
}

func (h *hangDeadline) ChangePassword(ctx context.Context, domain, spec, password string) (*mailgun.PasswordResult, error) {
	return h.to(sandbox.RouteUpdate).ChangePassword(ctx, domain, spec, password)
}

func (h *hangDeadline) DeleteCredential(ctx context.Context, domain, spec string) (*mailgun.DeleteResult, error) {
	return h.to(sandbox.RouteDelete).DeleteCredential(ctx, domain, spec)
}

func (h *hangDeadline) DeleteAllCredentials(ctx context.Context, domain string) (*mailgun.DeleteAllResult, error) {
	return h.to(sandbox.RouteDeleteAll).DeleteAllCredentials(ctx, domain)
}

func (h *hangDeadline) ListDomains(ctx context.Context, opts *mailgun.DomainListOptions) (*mailgun.DomainList, error) {
	return h.to(sandbox.RouteDomains).ListDomains(ctx, opts)
}
