package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"
	"github.com/smtpdesk/smtpdesk/app"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/demoidp"
	"github.com/smtpdesk/smtpdesk/internal/secretscan"
	"github.com/smtpdesk/smtpdesk/internal/testclock"
	"github.com/smtpdesk/smtpdesk/internal/testpg"
	"github.com/smtpdesk/smtpdesk/store"
)

func newClock() *testclock.Clock { return testclock.New(time.Now()) }

// events records auth events.
type events struct {
	mu  sync.Mutex
	all []auth.AuthEvent
}

func (e *events) RecordAuthEvent(_ context.Context, ev auth.AuthEvent) error {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	return nil
}

func (e *events) count(action string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Action == action {
			n++
		}
	}
	return n
}

func (e *events) last(action string) auth.AuthEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.all) - 1; i >= 0; i-- {
		if e.all[i].Action == action {
			return e.all[i]
		}
	}
	return auth.AuthEvent{}
}

type harnessOpts struct {
	insecure  bool // plain HTTP demo mode
	personas  []demoidp.Persona
	keys      [][]byte
	noEndSess bool
	idle      time.Duration // the idle timeout; 0 is the default
	maxAge    time.Duration // the absolute timeout; 0 is the default
	// noGlobalCSRF leaves a.CSRF() out of the app's middleware, so that what a route checks by
	// itself shows.
	noGlobalCSRF bool
	// postgres keeps the sessions in a PostgreSQL schema of the test's own (internal/testpg)
	// instead of a SQLite file.
	postgres bool
	// signInPerMinute is Config.SignInPerMinute (0: the default, 20 attempts a minute from one
	// address), for a test that signs in more often than that.
	signInPerMinute int
}

// harness is an echo app with the auth middleware behind a real HTTP(S) server, signing in
// against a demoidp provider on loopback, with the real store on SQLite.
type harness struct {
	t      *testing.T
	clock  *testclock.Clock
	idp    *demoidp.Provider
	srv    *httptest.Server
	db     *store.DB
	events *events
	auth   *auth.Auth
	app    atomic.Pointer[echo.Echo]
	cfg    auth.Config
	repo   auth.SessionRepo // the sessions newApp uses; nil: db
	// noGlobalCSRF: harnessOpts.noGlobalCSRF.
	noGlobalCSRF bool
}

func testKeys(seed byte) [][]byte {
	h := make([]byte, 32)
	b := make([]byte, 32)
	for i := range h {
		h[i], b[i] = seed+byte(i), seed^byte(i*7)
	}
	return [][]byte{h, b}
}

func newHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, clock: newClock(), events: &events{}, noGlobalCSRF: o.noGlobalCSRF}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.app.Load().ServeHTTP(w, r) })
	if o.insecure {
		h.srv = httptest.NewServer(handler)
	} else {
		h.srv = httptest.NewTLSServer(handler)
	}
	t.Cleanup(h.srv.Close)
	dsn := filepath.Join(t.TempDir(), "sessions.db")
	if o.postgres {
		dsn = testpg.Schema(t)
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	if !o.postgres {
		secretscan.KeepDB(t, dsn) // copied after the close below, for the suite-wide secret scan
	}
	t.Cleanup(func() { db.Close() })
	h.db = db
	postLogout := h.srv.URL + auth.SignedOutPath
	idp, err := demoidp.Start(ctx, demoidp.Options{
		Personas: o.personas, ClientID: "smtpdesk-test", ClientSecret: "test-secret",
		RedirectURIs: []string{h.srv.URL + auth.CallbackPath}, PostLogoutRedirectURIs: []string{postLogout},
		Now: h.clock.Now, Key: testRSAKey(t), DisableEndSession: o.noEndSess,
	})
	if err != nil {
		t.Fatalf("demoidp.Start: %v", err)
	}
	t.Cleanup(func() { idp.Close() })
	h.idp = idp
	secretscan.Record("OIDC client secret", "test-secret")
	keys := o.keys
	if keys == nil {
		keys = testKeys(1)
	}
	h.cfg = auth.Config{
		IssuerURL: idp.Issuer(), ClientID: "smtpdesk-test", ClientSecret: "test-secret",
		RedirectURL: h.srv.URL + auth.CallbackPath, SessionKeys: keys, SecureCookies: !o.insecure,
		Now: h.clock.Now, HTTPClient: &http.Client{Timeout: 5 * time.Second},
		PostLogoutRedirectURL: postLogout, IdleTimeout: o.idle, AbsoluteTimeout: o.maxAge, SignInPerMinute: o.signInPerMinute,
		SignedOutPage: func(c echo.Context) error { return c.String(http.StatusOK, "signed out page") },
	}
	h.restart(keys)
	return h
}

// restart builds a new app and Auth (same database and provider) with the given session keys.
func (h *harness) restart(keys [][]byte) {
	h.t.Helper()
	cfg := h.cfg
	cfg.SessionKeys = keys
	h.auth = h.newApp(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.auth.WaitReady(ctx); err != nil {
		h.t.Fatalf("discovery: %v", err)
	}
}

func (h *harness) newApp(cfg auth.Config) *auth.Auth {
	h.t.Helper()
	var repo auth.SessionRepo = app.SessionRepo(h.db)
	if h.repo != nil {
		repo = h.repo
	}
	a, err := auth.New(cfg, repo, h.events, scanLogger(h.t))
	if err != nil {
		h.t.Fatalf("auth.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	a.Start(ctx)
	e := echo.New()
	e.Use(a.Session(nil))
	if !h.noGlobalCSRF {
		e.Use(a.CSRF())
	}
	a.Register(e)
	protected := func(c echo.Context) error {
		u := auth.UserFrom(c)
		return c.String(http.StatusOK, fmt.Sprintf("hello %s groups=%d csrf=%s", u.Email, len(u.Groups), auth.CSRFToken(c)))
	}
	e.GET("/protected", protected, a.RequireUser())
	e.POST("/protected", protected, a.RequireUser())
	e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "home") })
	// A flash left and the flashes read in one request (a page answering a change itself).
	e.GET("/flash-then-read", func(c echo.Context) error {
		err := auth.AddFlash(c, "info", "left here")
		return c.String(http.StatusOK, fmt.Sprintf("kept=%v shown=%d", err == nil, len(auth.Flashes(c))))
	}, a.RequireUser())
	h.app.Store(e)
	return a
}

// scanLogger is nil (auth's silent default) unless the suite-wide secret scan is on; then the
// log goes, at debug level, where the scan reads it (internal/secretscan).
func scanLogger(t *testing.T) *slog.Logger {
	t.Helper()
	if secretscan.Dir() == "" {
		return nil
	}
	return slog.New(slog.NewJSONHandler(secretscan.LogWriter(t, nil), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// browser is an HTTP client with a cookie jar that does not follow redirects by itself.
type browser struct {
	t   *testing.T
	h   *harness
	c   *http.Client
	jar *cookiejar.Jar
}

func (h *harness) browser() *browser {
	h.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := h.srv.Client()
	cc := *c
	cc.Jar = jar
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: h.t, h: h, c: &cc, jar: jar}
}

type page struct {
	resp *http.Response
	body string
}

func (b *browser) do(method, u string, form url.Values, hdr map[string]string) page {
	b.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.h.srv.URL + u
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		// Every session the server hands out goes to the suite-wide secret scan.
		if (c.Name == auth.CookieName || c.Name == auth.InsecureCookieName) && c.Value != "" {
			secretscan.Record("session cookie", c.Value)
		}
	}
	return page{resp: resp, body: string(data)}
}

func (b *browser) get(u string) page { b.t.Helper(); return b.do(http.MethodGet, u, nil, nil) }

func location(t *testing.T, p page) string {
	t.Helper()
	if p.resp.StatusCode != http.StatusFound && p.resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s %s = %d, want a redirect; body %q", p.resp.Request.Method, p.resp.Request.URL, p.resp.StatusCode, p.body)
	}
	loc := p.resp.Header.Get("Location")
	if loc == "" {
		t.Fatal("redirect without Location")
	}
	if strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") {
		return loc // local: keep it as the server sent it
	}
	return loc
}

// choosePersona reads the provider's chooser page and submits the persona's form.
func (b *browser) choosePersona(authorizeURL, persona string) page {
	b.t.Helper()
	pg := b.get(authorizeURL)
	if pg.resp.StatusCode != http.StatusOK {
		b.t.Fatalf("chooser page = %d: %s", pg.resp.StatusCode, pg.body)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(pg.body))
	if err != nil {
		b.t.Fatal(err)
	}
	btn := doc.Find(fmt.Sprintf(`button[data-testid="persona-%s"]`, persona))
	if btn.Length() != 1 {
		b.t.Fatalf("persona %q not on the chooser page", persona)
	}
	f := btn.Closest("form")
	form := url.Values{}
	f.Find("input").Each(func(_ int, s *goquery.Selection) {
		form.Add(s.AttrOr("name", ""), s.AttrOr("value", ""))
	})
	if n, ok := btn.Attr("name"); ok {
		form.Set(n, btn.AttrOr("value", ""))
	}
	action, _ := url.Parse(f.AttrOr("action", ""))
	target := pg.resp.Request.URL.ResolveReference(action)
	if f.AttrOr("method", "") != "post" {
		b.t.Fatal("persona form is not a POST")
	}
	return b.do(http.MethodPost, target.String(), form, nil)
}

// startLogin goes from a protected path to the provider's chooser URL.
func (b *browser) startLogin(next string) string {
	b.t.Helper()
	loc := location(b.t, b.get(auth.LoginPath+"?next="+url.QueryEscape(next)))
	if !strings.HasPrefix(loc, b.h.idp.Issuer()+"/authorize?") {
		b.t.Fatalf("login redirected to %q, want the provider", loc)
	}
	return loc
}

// toCallback signs in at the provider and returns the callback URL it redirects to.
func (b *browser) toCallback(next, persona string) string {
	b.t.Helper()
	return location(b.t, b.choosePersona(b.startLogin(next), persona))
}

// signIn goes through the whole flow from GET /protected and returns the protected page.
func (b *browser) signIn(persona string) page {
	b.t.Helper()
	loc := location(b.t, b.get("/protected"))
	if want := auth.LoginPath + "?next=%2Fprotected"; loc != want {
		b.t.Fatalf("GET /protected redirected to %q, want %q", loc, want)
	}
	loc = location(b.t, b.get(loc))
	loc = location(b.t, b.choosePersona(loc, persona))
	cb := b.get(loc)
	if got := location(b.t, cb); got != "/protected" {
		b.t.Fatalf("callback redirected to %q, want /protected", got)
	}
	pg := b.get("/protected")
	if pg.resp.StatusCode != http.StatusOK {
		b.t.Fatalf("protected page after sign-in = %d", pg.resp.StatusCode)
	}
	return pg
}

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	_, tok, ok := strings.Cut(p.body, "csrf=")
	if !ok || tok == "" {
		t.Fatalf("no CSRF token in %q", p.body)
	}
	return tok
}

func (b *browser) sessionCookie() *http.Cookie {
	u, _ := url.Parse(b.h.srv.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == auth.CookieName || c.Name == auth.InsecureCookieName {
			return c
		}
	}
	return nil
}

// withCookie returns a fresh browser holding only the given cookie.
func (h *harness) withCookie(c *http.Cookie) *browser {
	b := h.browser()
	u, _ := url.Parse(h.srv.URL)
	b.jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
	return b
}

// findLoginCookie returns the sign-in state cookie resp sets (named LoginCookieName-<key>).
func findLoginCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, auth.LoginCookieName+"-") {
			return c
		}
	}
	return nil
}

func findSetCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// testRSAKey is one signing key for the whole test binary (key generation is slow under -race).
var testRSAKey = func() func(t *testing.T) *rsa.PrivateKey {
	key := sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })
	return func(t *testing.T) *rsa.PrivateKey {
		t.Helper()
		k, err := key()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
}()
