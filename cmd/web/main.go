// Command web serves SMTP Desk, the self-hosted dashboard for Mailgun SMTP credentials.
//
//	go run ./cmd/web -demo        # everything simulated, on 127.0.0.1 only
//	web                           # production: configured by environment variables (see -help)
//	web audit verify              # check the audit trail's hash chain (reads only; applies no migration)
//	web migrate                   # apply pending database migrations, then exit
//	web sessions revoke WHO       # sign out every session of a user (e-mail address or subject)
//	web healthcheck [-addr A]     # GET /healthz on the configured address, or A (container health checks)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	_ "time/tzdata" // audit date filters read the viewer's time zone, which a slim image may lack

	"github.com/smtpdesk/smtpdesk/app"
	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/config"
	"github.com/smtpdesk/smtpdesk/store"
)

// ShutdownTimeout bounds the wait for requests in flight after SIGINT/SIGTERM.
const ShutdownTimeout = 15 * time.Second

// CutOffWait bounds the wait, once ShutdownTimeout has passed, for the requests it cut off to
// return: told why (app.ErrServerStopping), they record the outcome of their Mailgun call
// ("unknown") in the audit trail and log themselves, which needs the database still open.
const CutOffWait = 2 * time.Second

func main() {
	// SIGHUP reloads the policy once the server is up (onHUP). Until then, and while shutting
	// down, it is ignored rather than left to its default, which ends the process: a reload sent
	// by a service manager during start-up must not kill the server.
	signal.Ignore(syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = context.WithValue(ctx, lastStepsKey{}, exitOnSecondSignal(os.Stderr))
	ctx = context.WithValue(ctx, environKey{}, os.Environ)
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "smtp-desk:", err)
		os.Exit(exitCode(err))
	}
}

// exitOnSecondSignal ends the process on the second SIGINT or SIGTERM. The first ends main's
// context, and shutdown then waits up to ShutdownTimeout for requests in flight; an operator who
// presses Ctrl+C again (or a supervisor that sends SIGTERM again) wants the process gone now,
// and NotifyContext alone would swallow every signal after the first.
// The deferred clean-up does not run then; what must be done all the same (the demo's temporary
// data directory removed) is added to the lastSteps it returns.
func exitOnSecondSignal(stderr io.Writer) *lastSteps {
	// Two places: the first signal must not fill the channel and make the second be dropped.
	// Notify here, not in the goroutine, so that the signal which ends main's context is the
	// first one counted.
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	last := &lastSteps{}
	go func() {
		<-ch
		s := <-ch
		fmt.Fprintf(stderr, "smtp-desk: %v again: stopping now, without waiting for the requests in flight\n", s)
		last.run()
		os.Exit(1)
	}()
	return last
}

// lastSteps are what the process does even when a second signal ends it at once. main puts them
// in run's context (lastStepsKey).
type lastSteps struct {
	mu    sync.Mutex
	steps []func()
}

type lastStepsKey struct{}

// addLastStep adds step to the lastSteps in ctx, if any (tests call run without).
func addLastStep(ctx context.Context, step func()) {
	if l, ok := ctx.Value(lastStepsKey{}).(*lastSteps); ok {
		l.mu.Lock()
		l.steps = append(l.steps, step)
		l.mu.Unlock()
	}
}

func (l *lastSteps) run() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, step := range l.steps {
		step()
	}
}

// environKey holds, in run's context, the function listing the process's environment (main puts
// os.Environ there; tests call run with their own, or none): run reads its settings by name
// through getenv, and only the whole list shows a misspelt one (config.Misspelt).
type environKey struct{}

// misspeltLines is config.Misspelt's warnings for the environment in ctx, each on a line of its
// own after a newline, for a refusal to start; "" when there are none.
func misspeltLines(ctx context.Context) string {
	var b strings.Builder
	for _, w := range config.Misspelt(environNames(ctx)) {
		b.WriteString("\n" + w)
	}
	return b.String()
}

// environNames returns the names of the environment variables environKey lists, if any.
func environNames(ctx context.Context) []string {
	environ, _ := ctx.Value(environKey{}).(func() []string)
	if environ == nil {
		return nil
	}
	var names []string
	for _, kv := range environ() {
		name, _, _ := strings.Cut(kv, "=")
		names = append(names, name)
	}
	return names
}

// startErr is err, from a start-up step ctx bounds, unless a signal ended ctx while it ran: err
// is then what the signal cut off (a database connection: "context canceled; check that the
// server runs…"), and would send the operator to check what was fine.
func startErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("stopped during start-up (%v)", context.Cause(ctx))
	}
	return err
}

// ExitBroken is the exit status of "web audit verify" when the check ran and found the trail
// broken; any other failure (the database unreachable, a bad setting) exits 1, so that a
// monitoring job can tell tampering from an outage. Not 2: Go's runtime exits 2 on a fatal error
// (a malformed GOMEMLIMIT, say) or a panic, which are not tampering either.
const ExitBroken = 3

// exitError is an error that ends the program with a status of its own.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the process's exit status for err: its own when it carries one, else 1.
func exitCode(err error) int {
	if ee, ok := errors.AsType[*exitError](err); ok {
		return ee.code
	}
	return 1
}

// options are the command-line flags.
type options struct {
	demo    bool
	dataDir string
	addr    string
}

// run is the whole program: parse args, then serve (or run a subcommand) until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 {
		if ok, err := subcommand(ctx, args, getenv, stdout); ok {
			return cutShort(ctx, "web "+strings.Join(args[:min(len(args), 2)], " "), err)
		}
	}
	return runServer(ctx, args, getenv, stdout)
}

// subcommand runs the subcommand args[0] names; ok is false when it names none.
func subcommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (ok bool, err error) {
	switch args[0] {
	case "audit":
		if len(args) == 2 && args[1] == "verify" {
			return true, auditVerify(ctx, getenv, stdout)
		}
		return true, errors.New(`unknown audit command; use "web audit verify"`)
	case "migrate":
		if len(args) > 1 {
			return true, fmt.Errorf("unexpected argument %q; use \"web migrate\" (it migrates DATABASE_URL)", args[1])
		}
		return true, migrateDatabase(ctx, getenv, stdout)
	case "healthcheck":
		// -addr as the server's: a server started with -addr is checked where it listens (the
		// image's HEALTHCHECK then needs the same -addr, or SMTPDESK_LISTEN instead of it).
		fs := flag.NewFlagSet("web healthcheck", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		addr := fs.String("addr", "", "the address the server listens on (default SMTPDESK_LISTEN's)")
		const use = `use "web healthcheck" (it checks SMTPDESK_LISTEN's /healthz) or "web healthcheck -addr HOST:PORT"`
		fs.Usage = func() {}
		if err := fs.Parse(args[1:]); errors.Is(err, flag.ErrHelp) {
			// main exits 0 and prints nothing more for -help: the usage is said here.
			fmt.Fprintln(stdout, "Usage: web healthcheck [-addr HOST:PORT]\n\nGET /healthz on SMTPDESK_LISTEN's address, or HOST:PORT; exits 0 when it answers 200 (a container health check).\n\nFlags:")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return true, err
		} else if err != nil {
			return true, fmt.Errorf("%w; %s", err, use)
		}
		if fs.NArg() > 0 {
			return true, fmt.Errorf("unexpected argument %q; %s", fs.Arg(0), use)
		}
		return true, healthcheck(ctx, getenv, *addr, stdout)
	case "sessions":
		if len(args) == 3 && args[1] == "revoke" && strings.TrimSpace(args[2]) != "" {
			return true, revokeSessions(ctx, getenv, stdout, strings.TrimSpace(args[2]))
		}
		return true, errors.New(`unknown sessions command; use "web sessions revoke EMAIL-OR-SUBJECT"`)
	}
	return false, nil
}

// cutShort is err, from the subcommand name, said first to have been cut short when a signal
// ended ctx while it ran: err alone then reads like a failure of the database or of the trail
// ("audit verify: … context canceled"). err is kept after it, since it says how far the command
// got (a revoke that ended the sessions but did not record it), and so is its exit status.
func cutShort(ctx context.Context, name string, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("%s stopped (%v) before it finished; run it again. What it had reached: %w", name, context.Cause(ctx), err)
}

// runServer parses the flags and serves until ctx ends.
func runServer(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("web", flag.ContinueOnError)
	// The flag package prints the error and the whole usage on a wrong flag; main prints the
	// error, and the usage is for -help only.
	fs.SetOutput(io.Discard)
	var o options
	fs.BoolVar(&o.demo, "demo", false, "run the demo: simulated Mailgun and sign-in, SQLite, on 127.0.0.1 only; needs no configuration")
	fs.StringVar(&o.dataDir, "data", "", "demo: directory for the SQLite file (kept) and policy.yaml (written afresh at each start) (default: a new temporary directory)")
	fs.StringVar(&o.addr, "addr", "", "listen address (overrides SMTPDESK_LISTEN; demo default 127.0.0.1:8080)")
	fs.Usage = func() {}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		usage(stdout, fs)
		return err
	} else if err != nil {
		return fmt.Errorf("%w; see -help", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; see -help", fs.Arg(0))
	}
	if o.dataDir != "" && !o.demo {
		// Ignored, it would leave the server on the default smtpdesk.db in the working directory
		// while the operator believes the data is in DIR.
		return fmt.Errorf("-data is the demo's data directory and needs -demo; outside the demo, set DATABASE_URL instead (e.g. DATABASE_URL=%s)", filepath.Join(o.dataDir, config.DefaultDatabaseURL))
	}

	cfg, loadErr := config.Load(getenv)
	cfg.Demo = o.demo
	if o.addr != "" {
		cfg.Listen, cfg.ListenFlag = o.addr, true
	}
	setRuntimeDefaults(getenv)
	if o.demo {
		// The demo supplies what is missing, but a malformed setting it uses is still refused by
		// name: Validate with Demo set checks the values given (LOG_FORMAT, METRICS_PPROF, …), not
		// whether the required ones are there. One it does not use is named in its banner
		// instead (demoIgnores).
		if err := demoProblems(getenv, loadErr, cfg.Validate()); err != nil {
			return fmt.Errorf("configuration has malformed settings (run with -help for every setting):\n%w%s", err, misspeltLines(ctx))
		}
		return runDemo(ctx, cfg, o, getenv, stdout)
	}
	if err := errors.Join(loadErr, cfg.Validate()); err != nil {
		// A missing setting may be there under a misspelt name (OIDC_ISUER): named with it.
		return fmt.Errorf("configuration is incomplete (run with -help for every setting, or -demo to try SMTP Desk without any):\n%w%s", err, misspeltLines(ctx))
	}
	logger := app.NewLogger(stdout, cfg)
	for _, w := range config.Misspelt(environNames(ctx)) {
		// At Error: the setting meant is not in force, and LOG_LEVEL=error must not hide that.
		logger.Error("configuration: a setting's name is misspelt", "warning", w)
	}
	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		return startErr(ctx, err)
	}
	defer a.Close()

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.ListenAddr())
	if err != nil {
		fix := "set SMTPDESK_LISTEN to another (e.g. SMTPDESK_LISTEN=%s)"
		if cfg.ListenFlag {
			fix = "pick another with -addr (e.g. -addr %s)"
		}
		return startErr(ctx, portAdvice(fmt.Errorf("listen on %s: %w", cfg.ListenAddr(), err), cfg.ListenAddr(), fix))
	}

	stopHUP := onHUP(func() {
		if err := a.ReloadPolicy(); err != nil {
			logger.Error("policy reload failed; the previous policy stays in force", "err", err)
		}
	})
	defer stopHUP()

	stopMetrics, err := serveMetrics(ctx, cfg, a.MetricsHandler(), logger)
	if err != nil {
		ln.Close()
		return startErr(ctx, err)
	}
	defer stopMetrics()

	// Every listener is open: a port someone else holds has failed the start by now, and
	// connections from here on wait in the listener's queue for Serve.
	a.LogReady(ln.Addr().String())
	srv := app.NewServer(a.Handler(), logger)
	if err := serve(ctx, srv, ln, ShutdownTimeout, logger); err != nil {
		return err
	}
	logger.Info("stopped")
	return a.Close()
}

// serve serves srv on ln until ctx ends, then shuts down gracefully: it stops accepting and
// waits up to timeout for requests in flight.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, timeout time.Duration, logger *slog.Logger) error {
	// The requests' contexts derive from base, which a shutdown past its grace period cancels
	// with app.ErrServerStopping before it closes their connections: closed alone, they read as
	// requests whose clients left.
	base, cutOff := context.WithCancelCause(context.Background())
	defer cutOff(nil)
	if srv.BaseContext == nil {
		srv.BaseContext = func(net.Listener) context.Context { return base }
	}
	// Close does not wait for the handlers it cut off, and the caller closes the database once
	// serve returns: a handler still writing its audit entry's outcome met "sql: database is
	// closed", and its entry stayed pending, its warning and access log line unwritten.
	var (
		mu      sync.Mutex
		waiting bool // no Add once the wait below has begun
		running sync.WaitGroup
	)
	if h := srv.Handler; h != nil {
		srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if !waiting {
				running.Add(1)
				defer running.Done()
			}
			mu.Unlock()
			h.ServeHTTP(w, r)
		})
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logStopping(logger, timeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		cutOff(app.ErrServerStopping)
		_ = srv.Close()
		mu.Lock()
		waiting = true
		mu.Unlock()
		done := make(chan struct{})
		go func() {
			running.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(CutOffWait):
			logger.Warn(fmt.Sprintf("requests cut off still running %v later; their audit entries may stay pending (\"Not completed\")", CutOffWait))
		}
		return shutdownErr(err, timeout)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// logStopping says, when shutdown begins, what it waits for and how to end it sooner: until
// the requests in flight finish, nothing else is logged for up to timeout.
func logStopping(logger *slog.Logger, timeout time.Duration) {
	logger.Info(fmt.Sprintf("stopping: no new connections; requests in flight have up to %v (a second SIGINT or SIGTERM ends them now)", timeout))
}

// shutdownErr is the error of a shutdown that did not finish: past the grace period, the
// requests still running were cut off, which "context deadline exceeded" does not say.
func shutdownErr(err error, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: requests still in flight after %v were cut off", timeout)
	}
	return fmt.Errorf("shutdown: %w", err)
}

// onHUP calls fn on every SIGHUP until the returned stop is called; after it, SIGHUP is ignored.
func onHUP(fn func()) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				fn()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Ignore(syscall.SIGHUP)
		close(done)
	}
}

// serveMetrics serves /metrics (and, with METRICS_PPROF, Go's profiler) on METRICS_ADDR when it
// is set; stop closes that listener. In the demo the address must be on loopback, like the rest.
func serveMetrics(ctx context.Context, cfg config.Config, metrics http.Handler, logger *slog.Logger) (stop func(), err error) {
	if cfg.MetricsAddr == "" {
		return func() {}, nil
	}
	if cfg.Demo {
		host, _, err := net.SplitHostPort(cfg.MetricsAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("METRICS_ADDR %s: the demo listens on loopback only; use e.g. METRICS_ADDR=127.0.0.1:9090", cfg.MetricsAddr)
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, portAdvice(fmt.Errorf("listen on METRICS_ADDR %s: %w", cfg.MetricsAddr, err), cfg.MetricsAddr, "set METRICS_ADDR to another (e.g. METRICS_ADDR=%s)")
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	if cfg.MetricsPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	srv := app.NewServer(mux, logger)
	go func() { _ = srv.Serve(ln) }()
	logger.Info("serving metrics", "addr", ln.Addr().String(), "pprof", cfg.MetricsPprof)
	return func() { srv.Close() }, nil
}

// portAdvice adds to err, when it says another program holds the port of addr (the system's
// words are only "bind: address already in use"), what to do: fix, with the next port in its %s.
// 8080, the default, is often taken already, and the demo's first run is a newcomer's.
func portAdvice(err error, addr, fix string) error {
	if !errors.Is(err, syscall.EADDRINUSE) {
		return err
	}
	next := "8081"
	host, port, _ := net.SplitHostPort(addr)
	if p, perr := strconv.Atoi(port); perr == nil && p > 0 && p < 65535 {
		next = strconv.Itoa(p + 1)
	}
	return fmt.Errorf("%w; another program listens on that port: stop it, or "+fix, err, net.JoinHostPort(host, next))
}

// demoHonours are the settings the demo uses; it brings its own of every other one. MAILGUN_BASE_URL
// and the API key count only together (see runDemo).
var demoHonours = map[string]bool{
	"SMTPDESK_LISTEN": true, "LOG_LEVEL": true, "LOG_FORMAT": true, "GOGC": true, "HTTP_GZIP": true,
	"METRICS_TOKEN": true, "METRICS_TOKEN_FILE": true, "METRICS_ADDR": true, "METRICS_PPROF": true,
	"RATE_LIMIT_ACTIONS": true, "RATE_LIMIT_EXPORTS": true, "RATE_LIMIT_SIGNIN": true,
}

// demoUses says whether the demo uses the setting name (or the -addr flag): those of
// demoHonours, and MAILGUN_BASE_URL with the API key when both are set, as the demo then calls
// that Mailgun.
func demoUses(getenv func(string) string, name string) bool {
	switch name {
	case "-addr":
		return true
	case "MAILGUN_BASE_URL", "MAILGUN_API_KEY", "MAILGUN_API_KEY_FILE":
		return strings.TrimSpace(getenv("MAILGUN_BASE_URL")) != "" &&
			(strings.TrimSpace(getenv("MAILGUN_API_KEY")) != "" || strings.TrimSpace(getenv("MAILGUN_API_KEY_FILE")) != "")
	}
	return demoHonours[name]
}

// demoProblems is the problems in errs (config.Problems from Load and Validate) with the
// settings the demo uses, nil when there are none. The others are left out: the demo does not
// read them, and its banner names them (demoIgnores). It refused to start on them, though a
// production environment exported in the shell (POLICY_FILE=/etc/smtp-desk/policy.yaml, a
// SESSION_KEYS_FILE in /run/secrets) names files a laptop does not have.
func demoProblems(getenv func(string) string, errs ...error) error {
	var kept config.Problems
	var other []error // not a setting's problem: kept whole
	for _, err := range errs {
		ps, ok := errors.AsType[config.Problems](err)
		if !ok {
			other = append(other, err) // nil when there was none
			continue
		}
		for _, p := range ps {
			if demoUses(getenv, p.Var) {
				kept = append(kept, p)
			}
		}
	}
	if len(kept) > 0 {
		other = append([]error{kept}, other...)
	}
	return errors.Join(other...)
}

// demoIgnores names the settings in the environment that the demo does not use, so that the
// banner can say so: an operator who sets DATABASE_URL or OIDC_ISSUER and adds -demo would
// otherwise believe the demo runs on them.
func demoIgnores(getenv func(string) string) []string {
	var ignored []string
	for _, v := range config.Vars() {
		if getenv(v.Name) == "" || demoUses(getenv, v.Name) {
			continue
		}
		ignored = append(ignored, v.Name)
	}
	return ignored
}

// runDemo starts the demo and serves it until ctx ends.
func runDemo(ctx context.Context, cfg config.Config, o options, getenv func(string) string, stdout io.Writer) error {
	addr := cfg.Listen
	if addr == "" {
		addr = config.DefaultDemoListen
	}
	// The demo runs in a terminal, and closing the terminal sends SIGHUP: the demo then stops as on
	// Ctrl+C, removing its temporary data directory. It reloaded its policy instead, as the server
	// does, and went on running with no terminal, holding its port, so the next
	// "go run ./cmd/web -demo" found 8080 taken. The demo writes its policy anew at every start,
	// so a hang-up has nothing to reload. After the stop, SIGHUP is ignored again (the deferred
	// Ignore runs first), so that a second one during shutdown does not end the process before it
	// cleans up.
	ctx, stopHangUp := signal.NotifyContext(ctx, syscall.SIGHUP)
	defer stopHangUp()
	defer signal.Ignore(syscall.SIGHUP)
	// Its output may be piped ("go run ./cmd/web -demo | tee demo.log"), and Ctrl+C ends the
	// reader as well: Go kills a program whose write to a closed stdout or stderr pipe raises
	// SIGPIPE, and the demo's first log line after that ("stopping") killed it before it removed
	// its directory. With SIGPIPE ignored, such writes fail (their lines are lost, as there is no
	// one to read them) and the demo goes on to stop cleanly. Connections never raised it: a
	// write to a closed socket fails with EPIPE whatever the signal's disposition.
	signal.Ignore(syscall.SIGPIPE)
	defer signal.Reset(syscall.SIGPIPE)
	logger := app.NewLogger(stdout, cfg)
	d, err := app.StartDemo(ctx, app.DemoOptions{
		Addr: addr, DataDir: o.dataDir, Logger: logger,
		// MAILGUN_BASE_URL with MAILGUN_API_KEY points the demo at a Mailgun of your own,
		// such as cmd/mailgun-sandbox in its own process (the load test does this).
		MailgunURL:   cfg.Mailgun.BaseURL,
		MailgunKey:   cfg.Mailgun.APIKey.Reveal(),
		MetricsToken: cfg.MetricsToken.Reveal(),
		// The RATE_LIMIT_ settings apply to the demo too (the load tests raise them).
		RateLimitActions: cfg.RateLimitActions,
		RateLimitExports: cfg.RateLimitExports,
		RateLimitSignIn:  cfg.RateLimitSignIn,
		NoGzip:           cfg.NoGzip, // HTTP_GZIP=false
	})
	if err != nil {
		return startErr(ctx, portAdvice(err, addr, "pick another with -addr (e.g. -addr %s)"))
	}
	defer d.Close()
	if d.TempDir {
		// The deferred Close removes it; a second Ctrl+C exits without running it.
		addLastStep(ctx, func() { _ = os.RemoveAll(d.DataDir) })
	}
	stopMetrics, err := serveMetrics(ctx, cfg, d.App.MetricsHandler(), logger)
	if err != nil {
		return startErr(ctx, err)
	}
	defer stopMetrics()
	d.App.LogReady(strings.TrimPrefix(d.URL, "http://"))

	bar := strings.Repeat("=", 78)
	fmt.Fprintf(stdout, "\n%s\n  SMTP Desk demo is running: %s\n\n", bar, d.URL)
	fmt.Fprintf(stdout, "  DEMO MODE — Mailgun (sandbox on %s) and sign-in (demo provider on %s) are simulated;\n",
		strings.TrimPrefix(d.MailgunURL, "http://"), strings.TrimPrefix(d.IdP.Issuer(), "http://"))
	host := "127.0.0.1"
	if u, err := url.Parse(d.URL); err == nil {
		host = u.Hostname() // -addr [::1]:8080, or 127.0.0.2
	}
	fmt.Fprintf(stdout, "  data in %s; listening on %s only.\n", d.DataDir, host)
	if ignored := demoIgnores(getenv); len(ignored) > 0 {
		fmt.Fprintf(stdout, "\n  Not used by the demo, which brings its own sign-in, database, policy and Mailgun:\n    %s\n  (run without -demo to use them)\n",
			strings.Join(ignored, ", "))
	}
	if misspelt := config.Misspelt(environNames(ctx)); len(misspelt) > 0 {
		fmt.Fprintf(stdout, "\n  Check these:\n    %s\n", strings.Join(misspelt, "\n    "))
	}
	fmt.Fprintf(stdout, "\n  Sign in as one of:\n")
	for _, p := range d.IdP.Personas() {
		fmt.Fprintf(stdout, "    - %s: %s\n", p.Name, p.Description)
	}
	fmt.Fprintf(stdout, "\n  Press Ctrl+C (or close this terminal) to stop.\n%s\n\n", bar)

	<-ctx.Done()
	logStopping(logger, ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if err := d.Shutdown(sctx); err != nil {
		return shutdownErr(err, ShutdownTimeout)
	}
	return d.Close()
}

// usage prints the flags and every environment variable with its default and an example.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `SMTP Desk: a self-hosted dashboard for Mailgun SMTP credentials.

Usage:
  web -demo [-addr 127.0.0.1:8080] [-data DIR]   try it: everything simulated, loopback only
  web [-addr HOST:PORT]                          serve, configured by the environment below
  web audit verify                               check the audit trail's hash chain (DATABASE_URL);
                                                 exits 3 when it is broken, 1 when it cannot be checked;
                                                 only reads, so a read-only database role may run it
  web migrate                                    apply pending database migrations (DATABASE_URL) and exit
  web sessions revoke EMAIL-OR-SUBJECT           sign out every session of a user at once (DATABASE_URL)
  web healthcheck [-addr HOST:PORT]              GET /healthz on SMTPDESK_LISTEN, or HOST:PORT (container health check)

Flags:
`)
	// run sends the flag package's own output to io.Discard (a wrong flag is main's one line):
	// the flags' list is for here.
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprint(w, "\nEnvironment (secrets may also come from a file named by the _FILE variant):\n")
	for _, v := range config.Vars() {
		fmt.Fprintf(w, "  %s (default: %s)\n      %s; e.g. %s\n", v.Name, orDash(v.Default), v.Help, v.Example)
	}
	fmt.Fprintf(w, `
Go runtime: SMTP Desk sets GOMEMLIMIT=%dMiB and GOGC=%d unless the environment sets them
(e.g. GOMEMLIMIT=200MiB, or GOMEMLIMIT=off for no limit).
`, defaultMemoryLimit>>20, defaultGCPercent)
	fmt.Fprint(w, `
Session key rotation: put a new key first in SESSION_KEYS and keep the old one after it
(SESSION_KEYS=new,old); new cookies are signed with the first, existing ones still decode. Drop
the old key after SESSION_MAX_AGE. SIGHUP reloads POLICY_FILE.
`)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// auditVerify walks the audit trail's hash chain and reports the result; a broken chain is an
// error (non-zero exit).
func auditVerify(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	// Read only: a reviewer's read-only role can run it, and a check changes nothing, the schema
	// included; a schema that is not this binary's stops it with what to do.
	db, err := openStore(ctx, getenv, true)
	if err != nil {
		return fmt.Errorf("audit verify: %w", schemaAdvice(err, "web audit verify"))
	}
	defer db.Close()
	rep, err := db.VerifyAudit(ctx)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	if rep.BrokenAt != 0 {
		// Rows, not entries: an action's completion is a row of its own (as on the audit page's check).
		fmt.Fprintf(stdout, "audit trail BROKEN at row %d: %s (%d rows checked)\n", rep.BrokenAt, rep.Reason, rep.Checked)
		return &exitError{code: ExitBroken, err: fmt.Errorf("audit trail broken at row %d", rep.BrokenAt)}
	}
	fmt.Fprintf(stdout, "audit trail intact: %d rows checked (each entry, and each action's completion)\n", rep.Checked)
	if rep.HeadID != 0 {
		// Rows cut from the end leave an intact chain; a head noted earlier shows them.
		fmt.Fprintf(stdout, "newest row %d, hash %s (note it: the next check must show the same hash for this row)\n", rep.HeadID, rep.HeadHash)
	}
	if rep.OldestID != 0 {
		// Rows cut from the start with a forged retention anchor leave an intact chain too.
		removed := ""
		if rep.Trimmed {
			removed = "; older rows were removed by retention"
		}
		fmt.Fprintf(stdout, "oldest row %d, written %s%s (it may move on only as far as AUDIT_RETENTION allows)\n",
			rep.OldestID, rep.OldestAt.UTC().Format(time.RFC3339), removed)
	}
	return nil
}

// revokeSessions deletes every session of the user who is who (their e-mail address or their
// subject at the provider), so that their next request signs in again and meets the IdP's and
// the policy's current answer: for someone who left, or lost a group, before their session's
// SESSION_MAX_AGE. The audit trail records it.
func revokeSessions(ctx context.Context, getenv func(string) string, stdout io.Writer, who string) error {
	// It writes (deletes sessions, appends to the audit trail), so it needs a role that may
	// write, and it migrates as the server does: its writes must meet the schema they expect.
	db, err := openStore(ctx, getenv, false)
	if err != nil {
		return fmt.Errorf("sessions revoke: %w", err)
	}
	defer db.Close()
	n, err := db.DeleteSessionsMatching(ctx, auth.SessionsOf(who))
	if err != nil {
		return fmt.Errorf("sessions revoke: %w", err)
	}
	sessions := "sessions"
	if n == 1 {
		sessions = "session"
	}
	detail := fmt.Sprintf("%d %s of %s ended from the command line", n, sessions, who)
	if err := audit.NewRecorder(db, nil).Event(ctx, audit.Actor{Name: "web sessions revoke"}, audit.Meta{}, auth.ActionSessionsRevoked, "ok", "", detail); err != nil {
		return fmt.Errorf("sessions revoke: %d sessions ended, but the audit trail could not record it: %w", n, err)
	}
	fmt.Fprintf(stdout, "%d %s of %s ended; their next request signs in again\n", n, sessions, who)
	return nil
}

// migrateDatabase applies the migrations DATABASE_URL lacks and exits, as the server does at
// start-up but without the rest of its configuration: for the role that may change the schema to
// run once before the read-only commands (web audit verify), which apply none.
func migrateDatabase(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	// What it is about to do, before doing it: on a trail of millions of entries that may take
	// minutes, and an operator who sees nothing may stop it, which undoes it.
	db, err := openStore(ctx, getenv, false, store.WithMigrationNotice(func(n store.MigrationNotice) {
		fmt.Fprintln(stdout, n.String())
	}))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer db.Close()
	version, name, err := db.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if applied := db.Applied(); len(applied) > 0 {
		fmt.Fprintf(stdout, "applied %s; the schema is at version %d (%s)\n", strings.Join(applied, ", "), version, name)
	} else {
		fmt.Fprintf(stdout, "nothing to apply; the schema is at version %d (%s)\n", version, name)
	}
	return nil
}

// schemaAdvice adds to a *store.SchemaError from a read-only command what to do about it; other
// errors pass unchanged.
func schemaAdvice(err error, command string) error {
	se, ok := errors.AsType[*store.SchemaError](err)
	switch {
	case !ok:
		return err
	case len(se.Unknown) > 0:
		return fmt.Errorf("%w; run %q with the SMTP Desk version that migrated the database (or a newer one)", err, command)
	case se.NoSchema:
		return fmt.Errorf("%w; check DATABASE_URL: the server's database has the schema once the server, or \"web migrate\", has run on it", err)
	}
	return fmt.Errorf("%w; %q applies no migration: run \"web migrate\" (or start the server) once with a DATABASE_URL whose role may change the schema, then run %q again", err, command, command)
}

// openStore opens DATABASE_URL for a command, whatever else the configuration lacks: readOnly
// for a command that only reads (app.OpenDatabaseReadOnly: no migration), else migrating as the
// server does. A problem with DATABASE_URL or DATABASE_URL_FILE stops it: opening the default
// smtpdesk.db instead would check, or revoke sessions in, a database the server does not use.
// opts (store.WithMigrationNotice) go to store.Open; a read-only open applies no migration.
func openStore(ctx context.Context, getenv func(string) string, readOnly bool, opts ...store.Option) (*store.DB, error) {
	cfg, err := config.Load(getenv)
	var all config.Problems
	if err != nil && !errors.As(err, &all) {
		return nil, err
	}
	var vp config.Problems
	if errors.As(cfg.Validate(), &vp) {
		all = append(all, vp...)
	}
	var db config.Problems
	for _, pr := range all {
		if pr.Var == "DATABASE_URL" || pr.Var == "DATABASE_URL_FILE" {
			db = append(db, pr)
		}
	}
	if len(db) > 0 {
		return nil, db
	}
	dsn := cfg.DatabaseURL.Reveal()
	if path, ok := store.SQLiteFile(dsn); ok {
		// Opening creates a missing file: the command would check, or revoke sessions in, an
		// empty database of its own (a relative default smtpdesk.db, a typo) and say all is well.
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("DATABASE_URL: no SQLite database at %q (%w); set DATABASE_URL as the server has it", path, errors.Unwrap(err))
		}
	}
	if readOnly {
		return app.OpenDatabaseReadOnly(ctx, cfg)
	}
	return app.OpenDatabase(ctx, cfg, opts...)
}

// healthcheck GETs /healthz on addr, or on the configured listen address when addr is "" (a
// wildcard host means loopback).
func healthcheck(ctx context.Context, getenv func(string) string, addr string, stdout io.Writer) error {
	if addr == "" {
		cfg, _ := config.Load(getenv) // only the listen address matters here
		addr = cfg.ListenAddr()
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %d", resp.StatusCode)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// defaultMemoryLimit and defaultGCPercent tune the Go runtime when GOMEMLIMIT and GOGC are not
// set. A page view allocates ~100 kB that is garbage when the answer is sent, so with GOGC=100 and
// a live heap of 10-20 MB the collector ran many times a second; at 200 it runs half as often
// (about 10% less CPU per view in the load test, docs/PERFORMANCE.md), and the soft memory limit
// caps what that costs: the collector works harder as the heap nears 80 MiB instead of letting
// RSS grow with a burst of page views.
const (
	defaultMemoryLimit = 80 << 20
	defaultGCPercent   = 200
)

// setRuntimeDefaults applies the defaults above unless GOMEMLIMIT or GOGC say otherwise (the
// runtime has already read them; "off" keeps the runtime's meaning).
func setRuntimeDefaults(getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
