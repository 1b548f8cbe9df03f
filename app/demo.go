package app

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/config"
	"github.com/smtpdesk/smtpdesk/demoidp"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// demoReadyTimeout bounds StartDemo's wait for sign-in discovery against the local provider.
const demoReadyTimeout = 15 * time.Second

// DemoOptions configures StartDemo. The zero value serves on 127.0.0.1:8080 with data in a new
// temporary directory.
type DemoOptions struct {
	Addr           string        // loopback host:port, default 127.0.0.1:8080; "127.0.0.1:0" picks a port
	DataDir        string        // where smtpdesk.db and policy.yaml live; default a new temporary directory
	Logger         *slog.Logger  // default: discard
	SandboxLatency time.Duration // added to every sandbox answer, to feel a real round trip

	// MailgunURL and MailgunKey, when both are set, make the demo use that Mailgun (for
	// example a sandbox running as its own process, as the load test does) instead of
	// starting its own; Demo.Sandbox is then nil. MailgunURL must be on loopback: StartDemo
	// refuses a real Mailgun.
	MailgunURL string
	MailgunKey string
	// MetricsToken, when set, serves /metrics on the demo's listener behind that bearer token.
	MetricsToken string
	// RateLimitActions, RateLimitExports and RateLimitSignIn override the per-user action and
	// export and per-IP sign-in limits (defaults 30, 10 and 20 a minute); the load tests raise
	// them.
	RateLimitActions int
	RateLimitExports int
	RateLimitSignIn  int
	// NoGzip sends every answer uncompressed (HTTP_GZIP=false).
	NoGzip bool
}

// Demo is the whole product on one machine: the sandbox Mailgun and the demo OpenID provider on
// loopback, SQLite under DataDir, and SMTP Desk serving on URL.
type Demo struct {
	URL        string            // SMTP Desk, e.g. http://127.0.0.1:8080
	MailgunURL string            // the sandbox's base URL
	DataDir    string            // the data directory
	TempDir    bool              // DataDir was created by StartDemo (Close removes it)
	Sandbox    *sandbox.Server   // the simulated Mailgun (seeded with the default seed)
	IdP        *demoidp.Provider // the demo sign-in provider
	App        *App

	srv       *http.Server
	mgSrv     *http.Server
	cancel    context.CancelFunc
	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
}

// StartDemo starts the sandbox Mailgun (default seed, random API key), the demo OpenID provider
// and SMTP Desk, every one of them listening on loopback only, and returns once all three
// accept connections and sign-in is ready. Close stops them.
func StartDemo(ctx context.Context, opts DemoOptions) (_ *Demo, err error) {
	if opts.Addr == "" {
		opts.Addr = config.DefaultDemoListen
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil || !config.IsLoopbackHost(host) || strings.EqualFold(host, "localhost") {
		return nil, fmt.Errorf("demo: address %q: the demo listens on a loopback IP only (e.g. 127.0.0.1:8080)", opts.Addr)
	}
	if opts.MailgunURL != "" && opts.MailgunKey != "" {
		// The demo signs anyone in as an administrator, and its pages say Mailgun is simulated:
		// pointed at a real Mailgun account, both would be false and dangerous.
		if u, perr := url.Parse(opts.MailgunURL); perr != nil || u.Scheme != "http" && u.Scheme != "https" || !config.IsLoopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("demo: MAILGUN_BASE_URL %q: the demo uses a Mailgun on this machine only (a sandbox in its own process, e.g. http://127.0.0.1:8025), "+
				"since it signs anyone in as an administrator and its pages say Mailgun is simulated; to use a real Mailgun, run without -demo", opts.MailgunURL)
		}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d := &Demo{cancel: cancel, done: make(chan struct{})}
	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()

	d.DataDir = opts.DataDir
	if d.DataDir == "" {
		if d.DataDir, err = os.MkdirTemp("", "smtpdesk-demo-"); err != nil {
			return nil, fmt.Errorf("demo: data directory: %w", err)
		}
		d.TempDir = true
	} else if err = os.MkdirAll(d.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("demo: data directory: %w", err)
	}

	var lc net.ListenConfig
	appLn, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("demo: listen on %s: %w", opts.Addr, err)
	}
	d.URL = "http://" + appLn.Addr().String()

	// The sandbox Mailgun, unless the caller brings its own.
	apiKey := opts.MailgunKey
	if opts.MailgunURL != "" && opts.MailgunKey != "" {
		d.MailgunURL = opts.MailgunURL
	} else {
		apiKey = "key-demo-" + randomHex(16)
		// The seed's ages count back from now, so the demo looks the same whenever it runs.
		d.Sandbox = sandbox.New(apiKey, sandbox.WithDefaultSeed(), sandbox.WithSeedBase(time.Now()))
		if opts.SandboxLatency > 0 {
			d.Sandbox.SetFaults(sandbox.Faults{Latency: opts.SandboxLatency})
		}
		mgLn, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			appLn.Close()
			return nil, fmt.Errorf("demo: sandbox listen: %w", err)
		}
		d.MailgunURL = "http://" + mgLn.Addr().String()
		d.mgSrv = &http.Server{Handler: d.Sandbox, ReadHeaderTimeout: ReadHeaderTimeout}
		go func() { _ = d.mgSrv.Serve(mgLn) }()
	}

	// The demo OpenID provider, which only redirects back to this app.
	d.IdP, err = demoidp.Start(bg, demoidp.Options{
		RedirectURIs:           []string{d.URL + auth.CallbackPath},
		PostLogoutRedirectURIs: []string{d.URL + auth.SignedOutPath},
	})
	if err != nil {
		appLn.Close()
		return nil, fmt.Errorf("demo: identity provider: %w", err)
	}

	policyFile := filepath.Join(d.DataDir, "policy.yaml")
	if err = os.WriteFile(policyFile, demoidp.DemoPolicy, 0o600); err != nil {
		appLn.Close()
		return nil, fmt.Errorf("demo: write policy: %w", err)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	key, err := config.DeriveSessionKey(secret)
	if err != nil {
		appLn.Close()
		return nil, fmt.Errorf("demo: session key: %w", err)
	}

	cfg := config.Config{
		Demo:    true,
		Listen:  appLn.Addr().String(),
		BaseURL: d.URL,
		Mailgun: config.Mailgun{APIKey: config.Secret(apiKey), BaseURL: d.MailgunURL, Region: "us", Timeout: config.DefaultMailgunTimeout},
		OIDC: config.OIDC{
			Issuer:       d.IdP.Issuer(),
			ClientID:     d.IdP.ClientID(),
			ClientSecret: config.Secret(d.IdP.ClientSecret()),
			Scopes:       []string{"openid", "email", "profile"},
			GroupsClaim:  "groups",
		},
		Session: config.Session{
			Keys:          []config.SessionKey{key},
			IdleTimeout:   config.DefaultIdleTimeout,
			MaxAge:        config.DefaultMaxAge,
			SecureCookies: false, // plain HTTP on loopback
		},
		PolicyFile:       policyFile,
		DatabaseURL:      config.Secret(filepath.Join(d.DataDir, "smtpdesk.db")),
		LogLevel:         slog.LevelInfo,
		AgeWarningDays:   365,
		RateLimitActions: cmp.Or(opts.RateLimitActions, 30),
		RateLimitExports: cmp.Or(opts.RateLimitExports, 10),
		RateLimitSignIn:  cmp.Or(opts.RateLimitSignIn, 20),
		MetricsToken:     config.Secret(opts.MetricsToken),
		NoGzip:           opts.NoGzip,
	}
	if err = cfg.Validate(); err != nil {
		appLn.Close()
		return nil, fmt.Errorf("demo: config: %w", err)
	}
	d.App, err = New(ctx, cfg, logger)
	if err != nil {
		appLn.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	// The provider is local, so discovery takes milliseconds: wait for it, so the first click on
	// "Sign in" works.
	wctx, wcancel := context.WithTimeout(ctx, demoReadyTimeout)
	err = d.App.Auth().WaitReady(wctx)
	wcancel()
	if err != nil {
		appLn.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	d.srv = NewServer(d.App.Handler(), logger)
	go func() {
		defer close(d.done)
		if serr := d.srv.Serve(appLn); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			logger.Error("demo server stopped", "err", serr)
		}
	}()
	return d, nil
}

// Shutdown stops accepting connections and waits (until ctx ends) for requests in flight.
func (d *Demo) Shutdown(ctx context.Context) error {
	if d.srv == nil {
		return nil
	}
	if err := d.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("demo: shutdown: %w", err)
	}
	return nil
}

// Close stops SMTP Desk, the provider and the sandbox, closes the database and removes a data
// directory StartDemo created. It is safe to call more than once.
func (d *Demo) Close() error {
	d.closeOnce.Do(func() {
		var errs []error
		if d.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := d.srv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("demo: shutdown: %w", err))
			}
			cancel()
			<-d.done
		}
		if d.App != nil {
			errs = append(errs, d.App.Close())
		}
		if d.IdP != nil {
			errs = append(errs, d.IdP.Close())
		}
		if d.mgSrv != nil {
			errs = append(errs, d.mgSrv.Close())
		}
		d.cancel()
		if d.TempDir && d.DataDir != "" {
			errs = append(errs, os.RemoveAll(d.DataDir))
		}
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
