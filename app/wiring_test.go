package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/config"
	"github.com/smtpdesk/smtpdesk/internal/testlog"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestNewServerLogsToTheLogger: what net/http itself reports (here a handler's panic that
// nothing recovered) reaches the process logger at Warn, not the standard library's own logger,
// which writes plain text to stderr beside the JSON log.
func TestNewServerLogsToTheLogger(t *testing.T) {
	logs := &testlog.Buffer{}
	srv := NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("the handler broke")
	}), slog.New(slog.NewTextHandler(logs, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	if resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + ln.Addr().String() + "/"); err == nil {
		resp.Body.Close() // the panic drops the connection: an error is expected
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), "the handler broke"); {
		if time.Now().After(deadline) {
			t.Fatalf("the server's panic report did not reach the logger:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("the server's report is not at Warn:\n%s", logs)
	}
}

// TestJanitorSweepsAtStart: the janitor's first sweep runs at start, not a janitorInterval
// later: the sessions expired (past their absolute expiry, or idle too long) while the server
// was down are deleted, and so are the records of forms used longer than SESSION_MAX_AGE ago;
// a live session and a form used within SESSION_MAX_AGE are kept.
func TestJanitorSweepsAtStart(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	idp := startFakeIdP(t, func(string) string { return "" })
	a := newAppWith(t, idp.URL, func(cfg *config.Config) {
		db, err := store.Open(ctx, cfg.DatabaseURL.Reveal())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, s := range []struct {
			id                string
			lastSeen, expires time.Time
		}{
			{"expired", now.Add(-time.Minute), now.Add(-time.Second)},
			{"idle", now.Add(-cfg.Session.IdleTimeout - time.Minute), now.Add(time.Hour)},
			{"live", now.Add(-time.Minute), now.Add(time.Hour)},
		} {
			if err := db.CreateSession(ctx, store.SessionRecord{ID: s.id, Data: []byte("{}"), CreatedAt: now.Add(-2 * time.Hour), LastSeen: s.lastSeen, ExpiresAt: s.expires}); err != nil {
				t.Fatal(err)
			}
		}
		for token, used := range map[string]time.Time{"old-form": now.Add(-cfg.Session.MaxAge - time.Hour), "recent-form": now.Add(-time.Hour)} {
			if _, err := db.UseFormToken(ctx, token, used); err != nil {
				t.Fatal(err)
			}
		}
	})
	db := a.DB()
	// A generous bound, not a timing: the sweep runs as New returns, the next one 10 minutes on.
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range []string{"expired", "idle"} {
		for {
			_, err := db.GetSession(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("session %q still there 30 s after the start (GetSession: %v)", id, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for {
		// UseFormToken reports a first use once the old record is gone (and records it anew).
		first, err := db.UseFormToken(ctx, "old-form", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the form used longer than SESSION_MAX_AGE ago is still recorded 30 s after the start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := db.GetSession(ctx, "live"); err != nil {
		t.Errorf("the live session was deleted: %v", err)
	}
	if first, err := db.UseFormToken(ctx, "recent-form", time.Now()); err != nil || first {
		t.Errorf("the form used an hour ago was forgotten (first use again: %v, %v): sent again, it would act twice", first, err)
	}
}

// TestNewUsesTheConfiguredRegion: MAILGUN_REGION=eu sends the API calls to Mailgun's EU
// endpoint (an EU account's domains are not on the US one); MAILGUN_BASE_URL wins over it.
func TestNewUsesTheConfiguredRegion(t *testing.T) {
	idp := startFakeIdP(t, func(string) string { return "" })
	for _, tt := range []struct {
		region, baseURL, want string
	}{
		{"eu", "", "base: https://api.eu.mailgun.net"},
		{"us", "", "base: https://api.mailgun.net"},
		{"eu", "http://127.0.0.1:1", "base: http://127.0.0.1:1"},
	} {
		a := newAppWith(t, idp.URL, func(cfg *config.Config) {
			cfg.Mailgun.Region, cfg.Mailgun.BaseURL = tt.region, tt.baseURL
			// No domain in the policy: the start-up comparison with Mailgun calls nothing.
			if err := os.WriteFile(cfg.PolicyFile, []byte("admins:\n  groups: [smtp-admins]\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		})
		if got := fmt.Sprint(a.mg); !strings.Contains(got, tt.want) {
			t.Errorf("region %q, base URL %q: client %s, want %s", tt.region, tt.baseURL, got, tt.want)
		}
	}
}

// TestSecureCookiesFollowTheConfiguration: a server whose configuration asks for secure cookies
// (every one but the plain-HTTP loopback demo) sets the sign-in cookie Secure, under its __Host-
// name, so that a browser never sends it over plain HTTP.
func TestSecureCookiesFollowTheConfiguration(t *testing.T) {
	idp := startFakeIdP(t, func(string) string { return "" })
	close(idp.release)
	for _, secure := range []bool{true, false} {
		a := newAppWith(t, idp.URL, func(cfg *config.Config) { cfg.Session.SecureCookies = secure })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := a.Auth().WaitReady(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+auth.LoginPath, nil)
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, req)
		var names []string
		for _, c := range rec.Result().Cookies() {
			names = append(names, c.Name)
			if c.Secure != secure {
				t.Errorf("SecureCookies=%v: cookie %s has Secure=%v", secure, c.Name, c.Secure)
			}
			if strings.HasPrefix(c.Name, "__Host-") != secure {
				t.Errorf("SecureCookies=%v: cookie named %s", secure, c.Name)
			}
		}
		if len(names) == 0 {
			t.Errorf("SecureCookies=%v: GET %s (%d) set no cookie", secure, auth.LoginPath, rec.Code)
		}
	}
}

// TestCloseClosesTheDatabase: Close closes the database (main calls it last, after the server
// has stopped): a SQLite file left open keeps its write-ahead log unmerged and its connections
// held until the process ends, and a PostgreSQL connection pool waits for the server's timeout.
func TestCloseClosesTheDatabase(t *testing.T) {
	idp := startFakeIdP(t, func(string) string { return "" })
	a := newAppFor(t, idp.URL)
	ctx := context.Background()
	if _, err := a.DB().GetSession(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSession before Close = %v, want ErrNotFound", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB().GetSession(ctx, "nobody"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession after Close = %v, want the database closed", err)
	}
}

// TestSessionRepoMarksAuthErrors: the store's "no such session" and "changed since read" reach
// auth as its own ErrSessionNotFound and ErrSessionChanged (a lost race between two requests of
// one session is retried, not answered with a 500), the store's error kept.
func TestSessionRepoMarksAuthErrors(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "smtpdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	repo := SessionRepo(db)
	now := time.Now()
	if err := repo.CreateSession(ctx, auth.SessionRecord{ID: "s1", Data: []byte(`{"v":1}`), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.GetSession(ctx, "nobody"); !errors.Is(err, auth.ErrSessionNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession of a missing session = %v, want auth.ErrSessionNotFound wrapping store.ErrNotFound", err)
	}
	if err := repo.UpdateSession(ctx, "s1", []byte(`{"v":0}`), []byte(`{"v":2}`), now); !errors.Is(err, auth.ErrSessionChanged) || !errors.Is(err, store.ErrChanged) {
		t.Errorf("UpdateSession from stale data = %v, want auth.ErrSessionChanged wrapping store.ErrChanged", err)
	}
	if err := repo.UpdateSession(ctx, "s1", []byte(`{"v":1}`), []byte(`{"v":2}`), now); err != nil {
		t.Errorf("UpdateSession from the data read = %v", err)
	}
	if err := repo.TouchSession(ctx, "nobody", now); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Errorf("TouchSession of a missing session = %v, want auth.ErrSessionNotFound", err)
	}
}

// TestMailgunSeenOnlyForRealAnswers: /readyz's "Mailgun answered" is set by a real answer, not
// by a server error: with every call answered 500 (or 503), the start-up comparison of the
// policy's domains with Mailgun's calls it and MailgunSeen stays zero.
func TestMailgunSeenOnlyForRealAnswers(t *testing.T) {
	idp := startFakeIdP(t, func(string) string { return "" })
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
		sb := sandbox.New("key-formaction-test", sandbox.WithDefaultSeed())
		sb.SetFaults(sandbox.Faults{Rate: 1, Status: status})
		mg := httptest.NewServer(sb)
		a := newAppWith(t, idp.URL, func(cfg *config.Config) { cfg.Mailgun.BaseURL = mg.URL })
		select {
		case <-a.PolicyDomainsChecked():
		case <-time.After(time.Minute):
			t.Fatal("the policy domains check did not end within a minute")
		}
		if len(sb.Calls()) == 0 {
			t.Fatalf("status %d: the policy domains check did not call Mailgun (the test's premise)", status)
		}
		if seen := a.MailgunSeen(); !seen.IsZero() {
			t.Errorf("every call answered %d, yet MailgunSeen = %v", status, seen)
		}
		mg.Close()
	}
}

// TestLogReadyShowsTheConfigurationWithoutSecrets: "SMTP Desk ready" carries the address and
// the configuration in force, so that an operator sees what the server runs with, and no secret
// of it: neither the Mailgun key nor the client secret.
func TestLogReadyShowsTheConfigurationWithoutSecrets(t *testing.T) {
	idp := startFakeIdP(t, func(string) string { return "" })
	a := newAppFor(t, idp.URL)
	logs := &testlog.Buffer{}
	a.log = slog.New(slog.NewJSONHandler(logs, nil)) // the process logger's kind (LOG_FORMAT=json)
	a.LogReady("127.0.0.1:8443")
	line := logs.String()
	for _, want := range []string{`"msg":"SMTP Desk ready"`, `"addr":"127.0.0.1:8443"`, `"config":`, "smtpdesk-formaction", idp.URL, `"policy_rules":`} {
		if !strings.Contains(line, want) {
			t.Errorf("the ready line lacks %s:\n%s", want, line)
		}
	}
	for _, secret := range []string{a.cfg.Mailgun.APIKey.Reveal(), a.cfg.OIDC.ClientSecret.Reveal()} {
		if strings.Contains(line, secret) {
			t.Errorf("the ready line shows a secret (%s):\n%s", secret, line)
		}
	}
}

// TestOpenDatabaseErrorHidesEveryPassword: pgx's error for a URL it cannot parse quotes the URL,
// hiding only the parameters "password" and "sslpassword": a "Password" parameter, or the user's
// password, reached the start-up error in clear (of the server, "web migrate", "web sessions
// revoke" and "web audit verify"). Each password is hidden, as written and decoded.
func TestOpenDatabaseErrorHidesEveryPassword(t *testing.T) {
	for _, dsn := range []string{
		"postgres://smtpdesk@127.0.0.1:1/smtpdesk?Password=s3cretpw&sslmode=requir",
		"postgres://smtpdesk@127.0.0.1:1/smtpdesk?PASSWORD=s3cretpw&port=abc",
		"postgres://smtpdesk@127.0.0.1:1/smtpdesk?SSLPassword=s3cret%2Fpw&sslmode=requir",
		"postgres://smtpdesk:s3cret%2Fpw@127.0.0.1:1/smtpdesk?sslmode=requir",
	} {
		cfg := config.Config{DatabaseURL: config.Secret(dsn)}
		_, err := OpenDatabase(context.Background(), cfg)
		if err == nil {
			t.Fatalf("OpenDatabase(%s) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("OpenDatabase's error prints the password:\n%v", err)
		}
		if !strings.Contains(err.Error(), "DATABASE_URL") {
			t.Errorf("OpenDatabase's error no longer names DATABASE_URL:\n%v", err)
		}
	}
}
