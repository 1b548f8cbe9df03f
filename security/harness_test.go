package security_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/smtpdesk/smtpdesk/app"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/config"
	"github.com/smtpdesk/smtpdesk/demoidp"
	"github.com/smtpdesk/smtpdesk/internal/secretscan"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/internal/testlog"
	"github.com/smtpdesk/smtpdesk/internal/testport"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// options tunes one test's app. The zero value is a production-like app: HTTPS, secure
// cookies, no trusted proxies, JSON logs at debug level, generous sign-in budget.
type options struct {
	ActionsPerMinute int           // RATE_LIMIT_ACTIONS (default 30)
	ExportsPerMinute int           // RATE_LIMIT_EXPORTS (default 1000 so tests walking every export can)
	SignInPerMinute  int           // RATE_LIMIT_SIGNIN (default 1000 so tests can sign in often)
	MailgunTimeout   time.Duration // MAILGUN_TIMEOUT (default 10s)
	TrustedProxies   []netip.Prefix
	TextLogs         bool
	DataDir          string              // share another env's database and policy
	SessionKeys      []config.SessionKey // default: one fresh key
	IdPAddr          string              // start the provider later on this address (StartIdP)
	DatabaseURL      string              // DATABASE_URL (default: smtpdesk.db in DataDir)
}

// env is one running SMTP Desk: the real app behind an HTTPS test server, the sandbox Mailgun
// behind an interceptable front, the demo provider, and a log buffer.
type env struct {
	t       *testing.T
	URL     string
	srv     *httptest.Server
	Sandbox *sandbox.Server
	App     *app.App
	IdP     *demoidp.Provider
	Logs    *testlog.Buffer
	APIKey  string
	DataDir string
	Policy  string
	Cfg     config.Config

	intercept atomic.Pointer[func(http.ResponseWriter, *http.Request) bool]
	front     atomic.Pointer[http.Handler] // the app that answers the next request (Serve)
	replicas  sync.Map                     // "X-Replica" header value → http.Handler (Replica)

	startIdP func() // set when the provider starts later (options.IdPAddr)

	mu      sync.Mutex
	secrets map[string]string // value → what it is, scanned for in logs and the database
	clients []*testflow.Client
}

// idpKey is one RSA key for every provider in the test binary (generating one is slow under
// -race).
var idpKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, Logs: &testlog.Buffer{}, secrets: map[string]string{}}

	// SMTP Desk's listener first: its URL goes into the provider's redirect list.
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := e.replicas.Load(r.Header.Get(replicaHeader)); ok {
			h.(http.Handler).ServeHTTP(w, r)
			return
		}
		(*e.front.Load()).ServeHTTP(w, r)
	}))
	e.URL = "https://" + e.srv.Listener.Addr().String()

	// The sandbox Mailgun, behind a front the tests can intercept.
	e.APIKey = "key-sec-" + randHex(t, 16)
	e.secret(e.APIKey, "Mailgun API key")
	// The key as the Authorization header carries it (base64 of "api:key", unpadded so that the
	// padded form matches too): quoted back by a proxy or Mailgun, it is the key.
	e.secret(base64.RawStdEncoding.EncodeToString([]byte("api:"+e.APIKey)), "Mailgun API key (Authorization header)")
	// The passwords Mailgun sets go into this test's scan as well as the suite's: a test that
	// does not note the passwords its pages show (notePasswords) is scanned for them all the same.
	e.Sandbox = sandbox.New(e.APIKey, sandbox.WithDefaultSeed(), sandbox.WithSecretSink(func(kind, v string) { e.secret(v, "Mailgun "+kind) }))
	mg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: only then does net/http notice a client that gives up, so a
		// sandbox answer delayed by a latency fault ends with the request.
		if r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		if f := e.intercept.Load(); f != nil && (*f)(w, r) {
			return
		}
		e.Sandbox.ServeHTTP(w, r)
	}))
	t.Cleanup(mg.Close)

	key, err := idpKey()
	if err != nil {
		t.Fatal(err)
	}
	idpOpts := demoidp.Options{
		Addr:                   o.IdPAddr,
		ClientID:               "smtpdesk-sec",
		ClientSecret:           "sec-client-secret-" + randHex(t, 8),
		RedirectURIs:           []string{e.URL + auth.CallbackPath},
		PostLogoutRedirectURIs: []string{e.URL + auth.SignedOutPath},
		Key:                    key,
		Personas:               append(demoidp.DefaultPersonas(), manyGroups()),
	}
	issuer := ""
	if o.IdPAddr == "" {
		idpCtx, cancel := context.WithCancel(ctx)
		t.Cleanup(cancel)
		e.IdP, err = demoidp.Start(idpCtx, idpOpts)
		if err != nil {
			t.Fatalf("demoidp.Start: %v", err)
		}
		t.Cleanup(func() { e.IdP.Close() })
		issuer = e.IdP.Issuer()
	} else {
		issuer = "http://" + o.IdPAddr
		e.startIdP = func() {
			t.Helper()
			idpCtx, cancel := context.WithCancel(ctx)
			t.Cleanup(cancel)
			e.IdP, err = demoidp.Start(idpCtx, idpOpts)
			if err != nil {
				t.Fatalf("demoidp.Start: %v", err)
			}
			t.Cleanup(func() { e.IdP.Close() })
		}
	}
	e.secret(idpOpts.ClientSecret, "OIDC client secret")

	e.DataDir = o.DataDir
	if e.DataDir == "" {
		e.DataDir = t.TempDir()
	}
	e.Policy = filepath.Join(e.DataDir, "policy.yaml")
	if _, err := os.Stat(e.Policy); err != nil {
		if err := os.WriteFile(e.Policy, demoidp.DemoPolicy, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keys := o.SessionKeys
	if len(keys) == 0 {
		keys = []config.SessionKey{newSessionKey(t)}
	}
	e.Cfg = config.Config{
		Listen:  e.srv.Listener.Addr().String(),
		BaseURL: e.URL,
		Mailgun: config.Mailgun{APIKey: config.Secret(e.APIKey), BaseURL: mg.URL, Region: "us", Timeout: cmp(o.MailgunTimeout, config.DefaultMailgunTimeout)},
		OIDC: config.OIDC{
			Issuer: issuer, ClientID: idpOpts.ClientID, ClientSecret: config.Secret(idpOpts.ClientSecret),
			Scopes: []string{"openid", "email", "profile"}, GroupsClaim: "groups",
		},
		Session: config.Session{
			Keys: keys, IdleTimeout: config.DefaultIdleTimeout, MaxAge: config.DefaultMaxAge, SecureCookies: true,
		},
		PolicyFile:       e.Policy,
		DatabaseURL:      config.Secret(cmp(o.DatabaseURL, filepath.Join(e.DataDir, "smtpdesk.db"))),
		TrustedProxies:   o.TrustedProxies,
		LogLevel:         slog.LevelDebug,
		AgeWarningDays:   365,
		RateLimitActions: cmp(o.ActionsPerMinute, 30),
		RateLimitExports: cmp(o.ExportsPerMinute, 1000),
		RateLimitSignIn:  cmp(o.SignInPerMinute, 1000),
	}
	if o.TextLogs {
		e.Cfg.LogFormat = "text"
	}
	if err := e.Cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	logger := app.NewLogger(secretscan.LogWriter(t, e.Logs), e.Cfg)
	e.App, err = app.New(ctx, e.Cfg, logger)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	e.Serve(e.App)
	e.replicas.Store("A", e.App.Handler())
	e.srv.StartTLS()
	// Cleanups run last-in first-out: scan (and keep the database for the suite-wide scan) after
	// the server and app have stopped.
	t.Cleanup(e.scanSecrets)
	secretscan.KeepDB(t, filepath.Join(e.DataDir, "smtpdesk.db"))
	t.Cleanup(func() {
		if err := e.App.Close(); err != nil {
			t.Errorf("app.Close: %v", err)
		}
	})
	t.Cleanup(e.srv.Close)
	if o.IdPAddr == "" {
		e.waitReady()
	}
	// The app compares the policy's domains with Mailgun's once, in the background, as it
	// starts: its call is over, and not counted, before a test counts Mailgun's calls.
	waitPolicyChecked(t, e.App)
	e.Sandbox.ResetCalls()
	return e
}

// waitPolicyChecked waits for a's start-up walk of Mailgun's domain list (a generous bound, not
// a timing).
func waitPolicyChecked(t testing.TB, a *app.App) {
	t.Helper()
	select {
	case <-a.PolicyDomainsChecked():
	case <-time.After(30 * time.Second):
		t.Fatal("the start-up check of the policy's domains did not end")
	}
}

// replicaHeader, sent with a request, names the replica that answers it (Replica's name); without
// it the one Serve chose does.
const replicaHeader = "X-Test-Replica"

// Replica starts another SMTP Desk on e's configuration: the same database, session keys, policy,
// Mailgun and provider, as another replica behind the same address. Serve, or a request's
// X-Test-Replica header naming it, picks which one answers; e.App is "A".
func (e *env) Replica(name string) *app.App {
	e.t.Helper()
	a, err := app.New(context.Background(), e.Cfg, app.NewLogger(secretscan.LogWriter(e.t, e.Logs), e.Cfg))
	if err != nil {
		e.t.Fatalf("app.New (replica): %v", err)
	}
	e.t.Cleanup(func() {
		if err := a.Close(); err != nil {
			e.t.Errorf("replica Close: %v", err)
		}
	})
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Auth().WaitReady(wctx); err != nil {
		e.t.Fatalf("replica: provider discovery: %v", err)
	}
	waitPolicyChecked(e.t, a)
	e.replicas.Store(name, a.Handler())
	return a
}

// Serve makes a answer the requests from now on, as a balancer sending them to one replica.
func (e *env) Serve(a *app.App) {
	h := a.Handler()
	e.front.Store(&h)
}

// manyGroups is a persona whose groups claim alone is larger than a cookie may be.
func manyGroups() demoidp.Persona {
	groups := make([]string, 300)
	for i := range groups {
		groups[i] = fmt.Sprintf("a-rather-long-group-name-for-size-testing-%03d", i)
	}
	return demoidp.Persona{ID: "many", Name: "Many Groups", Email: "many@smtpdesk.example", EmailVerified: true, Groups: groups}
}

func cmp[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func randHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

func newSessionKey(t *testing.T) config.SessionKey {
	t.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	k, err := config.DeriveSessionKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// waitReady waits for provider discovery.
func (e *env) waitReady() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := e.App.Auth().WaitReady(ctx); err != nil {
		e.t.Fatalf("provider discovery: %v", err)
	}
}

// Intercept puts f in front of the sandbox: when it returns true it has answered the call.
// nil removes it.
func (e *env) Intercept(f func(http.ResponseWriter, *http.Request) bool) {
	if f == nil {
		e.intercept.Store(nil)
		return
	}
	e.intercept.Store(&f)
}

// secret registers a value that must never appear in the logs or the database, here and in the
// suite-wide scan (internal/secretscan).
func (e *env) secret(v, what string) {
	if len(v) < 6 {
		return
	}
	secretscan.Record(what, v)
	e.mu.Lock()
	e.secrets[v] = what
	e.mu.Unlock()
}

// client returns a new browser for the app; its session ids are scanned for at the end.
func (e *env) client() *testflow.Client {
	e.t.Helper()
	c, err := testflow.New(e.URL, testflow.WithTransport(e.srv.Client().Transport), testflow.WithTimeout(60*time.Second))
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.clients = append(e.clients, c)
	e.mu.Unlock()
	return c
}

// signIn returns a browser signed in as persona.
func (e *env) signIn(persona string) *testflow.Client {
	e.t.Helper()
	c := e.client()
	p, err := c.SignIn(ctxT(e.t), persona)
	if err != nil {
		e.t.Fatalf("sign in as %s: %v", persona, err)
	}
	if p.Status != http.StatusOK {
		e.t.Fatalf("sign in as %s landed on %d at %s", persona, p.Status, p.URL)
	}
	e.noteSession(c)
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// sessionCookie returns the browser's session cookie, nil when it has none.
func (e *env) sessionCookie(c *testflow.Client) *http.Cookie {
	for _, ck := range c.Cookies() {
		if ck.Name == auth.CookieName {
			return ck
		}
	}
	return nil
}

// sessionID decodes a session cookie value with the app's keys, as only the server can.
func (e *env) sessionID(value string) string {
	cs := securecookie.CodecsFromPairs(e.Cfg.Session.KeyPairs()...)
	for _, c := range cs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.SetSerializer(securecookie.JSONEncoder{})
			sc.MaxAge(0)
		}
	}
	var id string
	if err := securecookie.DecodeMulti(auth.CookieName, value, &id, cs...); err != nil {
		return ""
	}
	return id
}

// noteSession registers the browser's current session id as a secret.
func (e *env) noteSession(c *testflow.Client) {
	if ck := e.sessionCookie(c); ck != nil {
		if id := e.sessionID(ck.Value); id != "" {
			e.secret(id, "session id")
		}
		e.secret(ck.Value, "session cookie")
	}
}

// scanSecrets: no registered secret in the log output or in the SQLite files (SECURITY.md item
// 18, for every test of this package).
func (e *env) scanSecrets() {
	for _, l := range e.leaks() {
		e.t.Errorf("secret scan: %s", l)
	}
}

// leaks lists where registered secrets (the API key, client secret, session ids and cookies,
// generated passwords) appear in the logs or the database files.
func (e *env) leaks() []string {
	e.mu.Lock()
	for _, c := range e.clients {
		if ck := e.sessionCookie(c); ck != nil {
			if id := e.sessionID(ck.Value); id != "" {
				e.secrets[id] = "session id"
				secretscan.Record("session id", id)
			}
			secretscan.Record("session cookie", ck.Value)
		}
	}
	secrets := make(map[string]string, len(e.secrets))
	for k, v := range e.secrets {
		secrets[k] = v
	}
	e.mu.Unlock()
	logs := e.Logs.String()
	files, _ := filepath.Glob(filepath.Join(e.DataDir, "smtpdesk.db*"))
	dbs := map[string][]byte{}
	var out []string
	if dsn := e.Cfg.DatabaseURL.Reveal(); strings.HasPrefix(dsn, "postgres") {
		// A PostgreSQL schema has no file to read: every row of its tables, as text.
		tables, err := pgTables(dsn)
		if err != nil {
			out = append(out, fmt.Sprintf("read the PostgreSQL schema: %v", err))
		}
		maps.Copy(dbs, tables)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			out = append(out, fmt.Sprintf("read %s: %v", f, err))
			continue
		}
		dbs["file "+filepath.Base(f)] = b
	}
	for v, what := range secrets {
		if strings.Contains(logs, v) || strings.Contains(logs, url.QueryEscape(v)) {
			out = append(out, fmt.Sprintf("the %s appears in the app's log output", what))
		}
		for name, b := range dbs {
			if bytes.Contains(b, []byte(v)) {
				out = append(out, fmt.Sprintf("the %s appears in the database: %s", what, name))
			}
		}
	}
	return out
}

// pgTables reads every table of the schema dsn names, each row as PostgreSQL's text of it, keyed
// "postgres table NAME".
func pgTables(dsn string) (map[string][]byte, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no tables in the schema: the scan would check nothing")
	}
	out := map[string][]byte{}
	for _, n := range names {
		var b bytes.Buffer
		rs, err := db.QueryContext(ctx, `SELECT t::text FROM "`+strings.ReplaceAll(n, `"`, `""`)+`" t`)
		if err != nil {
			return nil, err
		}
		for rs.Next() {
			var s string
			if err := rs.Scan(&s); err != nil {
				rs.Close()
				return nil, err
			}
			b.WriteString(s)
			b.WriteByte('\n')
		}
		if err := rs.Err(); err != nil {
			return nil, err
		}
		out["postgres table "+n] = b.Bytes()
	}
	return out, nil
}

// page fetches a path and fails the test on a transport error.
func get(t *testing.T, c *testflow.Client, path string) *testflow.Page {
	t.Helper()
	p, err := c.Get(ctxT(t), path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return p
}

// submit posts form to action with the CSRF token from formPage, like a browser.
func submit(t *testing.T, c *testflow.Client, formPage, action string, form url.Values) *testflow.Page {
	t.Helper()
	p, err := c.Submit(ctxT(t), formPage, action, form)
	if err != nil {
		t.Fatalf("POST %s: %v", action, err)
	}
	return p
}

// csrf returns a CSRF token for the browser's session (from the home page).
func csrf(t *testing.T, c *testflow.Client) string {
	t.Helper()
	p := get(t, c, "/")
	tok := p.CSRF()
	if tok == "" {
		t.Fatalf("no CSRF token on / (status %d)", p.Status)
	}
	return tok
}

// raw sends one request without following redirects, with the browser's cookies.
func raw(t *testing.T, c *testflow.Client, method, path string, form url.Values, hdr http.Header) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	u := path
	if strings.HasPrefix(path, "/") {
		u = c.Base.Scheme + "://" + c.Base.Host + path
	}
	req, err := http.NewRequestWithContext(ctxT(t), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	hc := *c.HTTP
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// audit lists the audit trail, newest first.
func (e *env) audit(f store.AuditFilter) []store.AuditEntry {
	e.t.Helper()
	if f.Limit == 0 {
		f.Limit = 1000
	}
	es, err := e.App.DB().ListAudit(context.Background(), f)
	if err != nil {
		e.t.Fatalf("ListAudit: %v", err)
	}
	return es
}

// calls returns the sandbox calls of a route.
func (e *env) calls(route string) []sandbox.Call {
	var out []sandbox.Call
	for _, c := range e.Sandbox.Calls() {
		if route == "" || c.Route == route {
			out = append(out, c)
		}
	}
	return out
}

// freePort returns a loopback address nobody listens on (for a provider started later).
func freePort(t *testing.T) string {
	t.Helper()
	addr, err := testport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
