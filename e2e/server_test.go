package e2e

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/smtpdesk/smtpdesk/app"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/internal/secretscan"
	"github.com/smtpdesk/smtpdesk/internal/testlog"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// server is one test's running demo: the real wiring on a loopback port, with its own sandbox
// Mailgun, demo OpenID provider and SQLite file.
type server struct {
	t       *testing.T
	demo    *app.Demo
	URL     string
	Sandbox *sandbox.Server
	logs    *testlog.Buffer
}

// startServer starts the demo wiring for one test and stops it when the test ends. Its log is
// kept in memory and printed only when the test fails. The log, the database and the secrets (API
// key, client secret, passwords, session cookies) also go to the suite-wide secret scan
// (internal/secretscan). Each of opts may change the demo's options first.
func startServer(t *testing.T, opts ...func(*app.DemoOptions)) *server {
	t.Helper()
	requireSuite(t)
	logs := &testlog.Buffer{}
	logger := slog.New(slog.NewTextHandler(secretscan.LogWriter(t, logs), &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	dataDir := t.TempDir()
	o := app.DemoOptions{Addr: "127.0.0.1:0", DataDir: dataDir, Logger: logger}
	for _, f := range opts {
		f(&o)
	}
	demo, err := app.StartDemo(ctx, o)
	if err != nil {
		cancel()
		t.Fatalf("start the demo server: %v", err)
	}
	demo.Sandbox.SetSecretSink(secretscan.Record)
	secretscan.Record("OIDC client secret", demo.IdP.ClientSecret())
	secretscan.KeepDB(t, filepath.Join(dataDir, "smtpdesk.db")) // copied after the close below
	srv := &server{t: t, demo: demo, URL: demo.URL, Sandbox: demo.Sandbox, logs: logs}
	t.Cleanup(func() {
		cancel()
		if err := demo.Close(); err != nil {
			t.Errorf("stop the demo server: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return srv
}

// tab opens a new browser tab (in its own browser context) on this server.
func (s *server) tab(journey string) *tab {
	s.t.Helper()
	return newTabURL(s.t, journey, s.URL)
}

// assertNotLogged fails the test when a secret shows up in the server's log.
func (s *server) assertNotLogged(secrets ...string) {
	s.t.Helper()
	log := s.logs.String()
	for _, sec := range secrets {
		if sec != "" && strings.Contains(log, sec) {
			s.t.Errorf("a password appears in the server log")
		}
	}
}

// signIn signs in as a demo persona ("admin", "operator", "reviewer", "nobody") through the real
// flow: the app's sign-in redirect, the demo provider's chooser page, the callback.
func (tb *tab) signIn(persona string) {
	tb.t.Helper()
	tb.open("/")
	if tb.has(`[data-testid="sign-in"]`) {
		tb.look("sign-in")
		tb.click(`[data-testid="sign-in"]`)
	}
	tb.wait(`[data-testid="persona-` + persona + `"]`)
	tb.lookShared("idp-chooser")
	if got := tb.click(`[data-testid="persona-` + persona + `"]`); got >= 400 && persona != "nobody" {
		tb.t.Fatalf("sign in as %s: status %d on %s", persona, got, tb.path())
	}
	if persona != "nobody" {
		tb.wait(`[data-testid="user-menu"]`)
		tb.recordSession()
	}
}

// recordSession gives the tab's session cookie to the suite-wide secret scan.
func (tb *tab) recordSession() {
	tb.t.Helper()
	if secretscan.Dir() == "" {
		return
	}
	cookies := run(tb, "read the session cookie", chromedp.Action[[]*network.Cookie](
		func(ctx context.Context, t *chromedp.Target) ([]*network.Cookie, error) {
			r, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{tb.base}})
			return r.Cookies, err
		}))
	for _, c := range cookies {
		if c.Name == auth.CookieName || c.Name == auth.InsecureCookieName {
			secretscan.Record("session cookie", c.Value)
		}
	}
}

// signOut opens the user menu and signs out.
func (tb *tab) signOut() int {
	tb.t.Helper()
	tb.check(`[data-testid="user-menu"] > summary`)
	return tb.click(`[data-testid="sign-out"]`)
}
