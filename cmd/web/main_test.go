package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/config"
	"github.com/smtpdesk/smtpdesk/internal/testlog"
	"github.com/smtpdesk/smtpdesk/internal/testmain"
	"github.com/smtpdesk/smtpdesk/internal/testpg"
	"github.com/smtpdesk/smtpdesk/internal/testport"
	"github.com/smtpdesk/smtpdesk/store"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestRunNothingSet: with nothing configured, run fails and names every missing setting.
func TestRunNothingSet(t *testing.T) {
	var out testlog.Buffer
	err := run(context.Background(), nil, envOf(nil), &out)
	if err == nil {
		t.Fatal("run with nothing set succeeded")
	}
	for _, name := range []string{"SMTPDESK_BASE_URL", "MAILGUN_API_KEY", "OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "SESSION_KEYS", "POLICY_FILE"} {
		if !strings.Contains(err.Error(), "\n"+name+": missing; ") {
			t.Errorf("error does not name %s as missing:\n%s", name, err)
		}
	}
	if !strings.Contains(err.Error(), "-demo") {
		t.Errorf("error does not point at -demo:\n%s", err)
	}
}

// TestRunMalformedAndMissing: malformed and missing settings are reported together.
func TestRunMalformedAndMissing(t *testing.T) {
	err := run(context.Background(), nil, envOf(map[string]string{"LOG_LEVEL": "loud", "MAILGUN_TIMEOUT": "soon"}), io.Discard)
	if err == nil {
		t.Fatal("run succeeded")
	}
	for _, want := range []string{"LOG_LEVEL: ", "MAILGUN_TIMEOUT: ", "POLICY_FILE: missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	var out testlog.Buffer
	err := run(context.Background(), []string{"-help"}, envOf(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run -help = %v, want flag.ErrHelp", err)
	}
	help := out.String()
	for _, want := range []string{"-demo", "-data", "-addr", "audit verify", "healthcheck", "SESSION_KEYS=new,old", "SMTP Desk sets GOMEMLIMIT=80MiB and GOGC=200 unless"} {
		if !strings.Contains(help, want) {
			t.Errorf("-help lacks %q", want)
		}
	}
	for _, v := range config.Vars() {
		if !strings.Contains(help, v.Name) || !strings.Contains(help, v.Example) {
			t.Errorf("-help lacks %s or its example %q", v.Name, v.Example)
		}
	}
	// The Usage lines above name the flags too: each flag's own entry, under "Flags:", has
	// its description.
	_, flags, _ := strings.Cut(help, "\nFlags:\n")
	flags, _, _ = strings.Cut(flags, "\nEnvironment")
	for _, want := range []string{"  -addr string\n", "listen address (overrides SMTPDESK_LISTEN", "  -data string\n", "directory for the SQLite file", "  -demo\n", "simulated Mailgun and sign-in"} {
		if !strings.Contains(flags, want) {
			t.Errorf("-help's Flags section lacks %q:\n%s", want, flags)
		}
	}
}

// TestWrongArgumentsSayWhatToDo: a wrong flag or argument is one line naming it and -help (or
// the right form), not the whole usage printed before it.
func TestWrongArgumentsSayWhatToDo(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-bogus"}, "-bogus; see -help"},
		{[]string{"-demo", "extra"}, `unexpected argument "extra"; see -help`},
		{[]string{"healthcheck", "extra"}, `unexpected argument "extra"; use "web healthcheck"`},
		{[]string{"healthcheck", "-port", "9000"}, `flag provided but not defined: -port; use "web healthcheck"`},
		{[]string{"migrate", "now"}, `unexpected argument "now"; use "web migrate"`},
		{[]string{"audit", "verify", "now"}, `unknown audit command; use "web audit verify"`},
		{[]string{"audit"}, `unknown audit command; use "web audit verify"`},
		{[]string{"sessions", "revoke", " "}, `unknown sessions command; use "web sessions revoke EMAIL-OR-SUBJECT"`},
		{[]string{"sessions", "list", "ada@corp.example"}, `unknown sessions command`},
		// A wrong -addr is named as the flag, not as SMTPDESK_LISTEN, which was not set.
		{[]string{"-demo", "-addr", "0.0.0.0:8080"}, `-addr: "0.0.0.0:8080": demo mode listens on loopback only; use e.g. -addr 127.0.0.1:8080`},
		{[]string{"-addr", "8080"}, "\n-addr: \"8080\" is not host:port; use e.g. -addr :8080\n"},
	} {
		var out testlog.Buffer
		err := run(context.Background(), tt.args, envOf(nil), &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run %q = %v, want an error saying %q", tt.args, err, tt.want)
		}
		if out.String() != "" {
			t.Errorf("run %q printed %d bytes besides the error:\n%.200s", tt.args, len(out.String()), out.String())
		}
	}
}

func TestREADMEDocumentsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("README: %v", err)
	}
	for _, v := range config.Vars() {
		if !strings.Contains(string(b), "`"+v.Name+"`") {
			t.Errorf("README's configuration table lacks `%s`", v.Name)
		}
	}
}

// TestGracefulShutdown: a request in flight when the context ends still completes.
func TestGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	// The grace period only has to outlast this test's steps between the cancel and the release
	// below, which a loaded machine can stretch; the request would otherwise be cut off.
	go func() { served <- serve(ctx, srv, ln, time.Minute, slog.New(slog.DiscardHandler)) }()

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()
	<-started
	cancel()
	// Shutdown has begun once the listener refuses new connections.
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts 30s after the context ended")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-served:
		t.Fatalf("serve returned %v while a request was in flight", err)
	default:
	}
	close(release)
	r := <-got
	if r.err != nil || r.body != "finished" {
		t.Errorf("in-flight request: %q, %v; want it to finish", r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestDemoBannerNamesItsAddress: the banner says where the demo listens, also when -addr picks
// another loopback address than 127.0.0.1 (it said 127.0.0.1 whatever the address).
func TestDemoBannerNamesItsAddress(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	l.Close()
	_, out, _ := startDemo(t, envOf(nil), "-addr", "[::1]:0", "-data", t.TempDir())
	if banner := out.String(); !strings.Contains(banner, "listening on ::1 only") {
		t.Errorf("banner does not say it listens on ::1:\n%s", banner)
	}
}

// TestDemo: -demo starts with nothing configured, says loudly what is simulated, serves a
// styled page on loopback and stops cleanly when the context ends.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	base, out, stop := startDemo(t, envOf(nil), "-data", dir)
	banner := out.String()
	for _, want := range []string{"DEMO MODE — Mailgun (sandbox on 127.0.0.1:", "sign-in (demo provider on 127.0.0.1:", "data in " + dir, "listening on 127.0.0.1 only"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "smtpdesk.db")); err != nil {
		t.Errorf("no database in -data: %v", err)
	}

	resp, err := http.Get(base + "/auth/signed-out")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /auth/signed-out = %d", resp.StatusCode)
	}
	m := regexp.MustCompile(`<link rel="stylesheet" href="(/static/[^"]+\.css)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no stylesheet link in:\n%s", body)
	}
	css, err := http.Get(base + string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	css.Body.Close()
	if css.StatusCode != 200 || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
		t.Errorf("GET %s = %d %q", m[1], css.StatusCode, css.Header.Get("Content-Type"))
	}

	stop()
}

// TestDemoNamesTheSettingsItIgnores: settings the demo does not use are named in its banner, so
// that "-demo" with DATABASE_URL set is not mistaken for a demo on that database; the ones it
// uses are not named, and a plain demo's banner names none.
func TestDemoNamesTheSettingsItIgnores(t *testing.T) {
	_, plain, stopPlain := startDemo(t, envOf(nil), "-data", t.TempDir())
	stopPlain()
	if strings.Contains(plain.String(), "Not used by the demo") {
		t.Errorf("a demo with nothing set names ignored settings:\n%s", plain)
	}

	env := map[string]string{
		"DATABASE_URL":       filepath.Join(t.TempDir(), "elsewhere.db"),
		"OIDC_ISSUER":        "https://login.corp.example",
		"AGE_WARNING_DAYS":   "30",
		"MAILGUN_BASE_URL":   "http://127.0.0.1:9", // without a key: the demo's own sandbox is used
		"LOG_LEVEL":          "warn",
		"RATE_LIMIT_ACTIONS": "100",
	}
	_, out, stop := startDemo(t, envOf(env), "-data", t.TempDir())
	stop()
	m := regexp.MustCompile(`Not used by the demo[^\n]*\n\s+(.*)\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the banner does not name the settings the demo ignores:\n%s", out)
	}
	if got, want := m[1], "MAILGUN_BASE_URL, OIDC_ISSUER, DATABASE_URL, AGE_WARNING_DAYS"; got != want {
		t.Errorf("ignored settings named: %q, want %q", got, want)
	}
}

// startDemo runs "web -demo" on a free loopback port with the given environment and extra
// flags, and waits for its URL. stop ends it and checks that it returned cleanly.
func startDemo(t *testing.T, getenv func(string) string, args ...string) (base string, out *testlog.Buffer, stop func()) {
	t.Helper()
	out = &testlog.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-demo", "-addr", "127.0.0.1:0"}, args...), getenv, out)
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run after cancel: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("run did not return after the context ended")
		}
	}
	t.Cleanup(stop)
	re := regexp.MustCompile(`SMTP Desk demo is running: (http://(?:127\.0\.0\.1|\[::1\]):\d+)`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1], out, stop
		}
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("run returned early: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no demo URL printed:\n%s", out.String())
		}
	}
}

// TestMetricsListenerPprof: METRICS_ADDR serves /metrics without a token, and Go's profiler
// only when METRICS_PPROF is set; the main listener never serves the profiler.
func TestMetricsListenerPprof(t *testing.T) {
	for _, pprofOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("METRICS_PPROF=%v", pprofOn), func(t *testing.T) {
			addr := freeAddr(t)
			env := map[string]string{"METRICS_ADDR": addr}
			if pprofOn {
				env["METRICS_PPROF"] = "true"
			}
			base, _, _ := startDemo(t, envOf(env), "-data", t.TempDir())
			noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			get := func(url string) int {
				t.Helper()
				resp, err := noRedirect.Get(url)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}
			if got := get("http://" + addr + "/metrics"); got != 200 {
				t.Errorf("GET /metrics on METRICS_ADDR = %d, want 200", got)
			}
			want := 404
			if pprofOn {
				want = 200
			}
			// Each of Go's profiler's handlers, the CPU profile and the trace among them (a second each).
			for _, p := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/symbol", "/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=1"} {
				if got := get("http://" + addr + p); got != want {
					t.Errorf("GET %s on METRICS_ADDR = %d, want %d", p, got, want)
				}
				if got := get(base + p); got == 200 {
					t.Errorf("GET %s on the main listener = 200; the profiler must stay off it", p)
				}
			}
		})
	}
}

// TestDemoMetricsAddrOnALoopbackIP: the demo serves /metrics on METRICS_ADDR only at a loopback
// IP, as it does its pages: "localhost", which the server's configuration takes, names whatever
// the hosts file says, and the demo refuses it before listening.
func TestDemoMetricsAddrOnALoopbackIP(t *testing.T) {
	_, port, _ := net.SplitHostPort(freeAddr(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out testlog.Buffer
	err := run(ctx, []string{"-demo", "-addr", freeAddr(t), "-data", t.TempDir()}, envOf(map[string]string{"METRICS_ADDR": "localhost:" + port}), &out)
	if want := "METRICS_ADDR localhost:" + port + ": the demo listens on loopback only; use e.g. METRICS_ADDR=127.0.0.1:9090"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("demo with METRICS_ADDR=localhost:%s = %v, want an error saying %q", port, err, want)
	}
}

// TestPortAdviceNamesTheNextPort: the advice for a port another program holds names the next
// one, on the same host; past the last port (65535) it names 8081.
func TestPortAdviceNamesTheNextPort(t *testing.T) {
	taken := fmt.Errorf("listen: %w", syscall.EADDRINUSE)
	for addr, want := range map[string]string{
		":8080":           "e.g. -addr :8081",
		"127.0.0.1:9090":  "e.g. -addr 127.0.0.1:9091",
		"[::1]:8080":      "e.g. -addr [::1]:8081",
		"127.0.0.1:65535": "e.g. -addr 127.0.0.1:8081",
		"127.0.0.1:65534": "e.g. -addr 127.0.0.1:65535",
	} {
		err := portAdvice(taken, addr, "pick another with -addr (e.g. -addr %s)")
		if !strings.Contains(err.Error(), "another program listens on that port: stop it, or pick another with -addr ("+want+")") {
			t.Errorf("portAdvice for %s = %q, want it to say %q", addr, err, want)
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("portAdvice for %s lost the error it wraps", addr)
		}
	}
	other := errors.New("listen: permission denied")
	if got := portAdvice(other, ":80", "%s"); got != other {
		t.Errorf("portAdvice of another error = %v, want it unchanged", got)
	}
}

// TestDemoDefaultAddress: "web -demo" with neither -addr nor SMTPDESK_LISTEN serves on
// 127.0.0.1:8080, as the README says; when another program holds that port, the error names it.
func TestDemoDefaultAddress(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &testlog.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-demo", "-data", t.TempDir()}, envOf(nil), out) }()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "SMTP Desk demo is running: "); { // a generous bound
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "127.0.0.1:8080") {
				t.Fatalf("web -demo returned %v; want it on 127.0.0.1:8080 (or a refusal naming it)", err)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no demo URL printed:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), "SMTP Desk demo is running: http://127.0.0.1:8080\n") {
		t.Errorf("web -demo with no address runs at another:\n%s", out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v", err)
	}
}

// freeAddr returns a loopback host:port that was free a moment ago (testport.Addr).
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := testport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestAuditVerify(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "audit.db")
	env := envOf(map[string]string{"DATABASE_URL": dsn})
	ctx := context.Background()
	appendTwoSignIns(t, dsn)

	var out testlog.Buffer
	if err := run(ctx, []string{"audit", "verify"}, env, &out); err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "audit trail intact: 2 rows checked") {
		t.Errorf("output = %q", out.String())
	}

	raw, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	var headHash string
	if err := raw.QueryRow("SELECT hash FROM audit_log WHERE id = 2").Scan(&headHash); err != nil {
		t.Fatal(err)
	}
	if want := "newest row 2, hash " + headHash + " "; !strings.Contains(out.String(), want) {
		t.Errorf("output = %q, want the newest row and its hash %q", out.String(), want)
	}
	if !strings.Contains(out.String(), "oldest row 1, written ") || strings.Contains(out.String(), "removed by retention") {
		t.Errorf("output = %q, want the oldest row, none removed", out.String())
	}
	if _, err := raw.Exec(`UPDATE audit_log SET actor_email = 'mallory@example.com' WHERE actor_email = 'a@example.com'`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	out = testlog.Buffer{}
	err = run(ctx, []string{"audit", "verify"}, env, &out)
	if err == nil {
		t.Errorf("audit verify of a tampered trail succeeded: %s", out.String())
	} else if got := exitCode(err); got != ExitBroken {
		t.Errorf("audit verify of a tampered trail exits %d, want %d (broken, not unable to check)", got, ExitBroken)
	}
	if !strings.Contains(out.String(), "audit trail BROKEN at row") {
		t.Errorf("output = %q", out.String())
	}

	// Nor is a crash: Go's runtime exits 2 on a fatal error before main runs (here a malformed
	// GOMEMLIMIT, as an operator may set it) and on a panic, so "broken" has a status of its own.
	crash := exec.Command(os.Args[0], "-test.run=^$")
	crash.Env = append(os.Environ(), "GOMEMLIMIT=512MB")
	_ = crash.Run()
	if code := crash.ProcessState.ExitCode(); code == 0 || code == ExitBroken {
		t.Errorf("a runtime fatal error exits %d, which must be neither 0 nor ExitBroken (%d)", code, ExitBroken)
	}

	// A check that cannot run is not a broken trail: a monitoring job must tell them apart.
	missing := envOf(map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "none.db")})
	if err := run(ctx, []string{"audit", "verify"}, missing, &testlog.Buffer{}); err == nil || exitCode(err) != 1 {
		t.Errorf("audit verify without a database = %v (exit %d), want exit 1", err, exitCode(err))
	}
}

// TestAuditVerifyReadsOnly: "web audit verify" applies no migration. A PostgreSQL role that may
// only SELECT runs it; on a database the previous version left (a migration pending) it stops
// with what to do and changes nothing; "web migrate" then applies the migration and the check
// runs; on a database a newer version migrated it says so. On SQLite and PostgreSQL alike.
func TestAuditVerifyReadsOnly(t *testing.T) {
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			dsn, driver := filepath.Join(t.TempDir(), "smtpdesk.db"), "sqlite"
			if dialect == store.DialectPostgres {
				dsn, driver = testpg.Schema(t), "pgx"
			}
			appendTwoSignIns(t, dsn)
			raw, err := sql.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			exec := func(qs ...string) {
				t.Helper()
				for _, q := range qs {
					if _, err := raw.ExecContext(ctx, q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
			}
			// The commands run with the server's DATABASE_URL, and on PostgreSQL also as a
			// reviewer's role that may only read the tables README grants it (Audit trail): not
			// sessions or used_forms, which hold live sessions' tokens.
			dsns := map[string]string{"server's role": dsn}
			if dialect == store.DialectPostgres {
				dsns["read-only role"] = testpg.ReadOnlyRole(t, dsn, "schema_migrations", "audit_log", "audit_logins", "audit_anchor", "audit_retained")
			}
			verify := func(dsn string) (string, error) {
				var out testlog.Buffer
				err := run(ctx, []string{"audit", "verify"}, envOf(map[string]string{"DATABASE_URL": dsn}), &out)
				return out.String(), err
			}

			// (a) An up-to-date database: the check runs, with either role.
			before := testpg.SchemaSnapshot(t, raw, dialect == store.DialectPostgres)
			for who, dsn := range dsns {
				if out, err := verify(dsn); err != nil || !strings.Contains(out, "audit trail intact: 2 rows checked") {
					t.Errorf("%s: audit verify = %v, output %q; want intact, 2 entries", who, err, out)
				}
			}
			if after := testpg.SchemaSnapshot(t, raw, dialect == store.DialectPostgres); !slices.Equal(after, before) {
				t.Errorf("audit verify changed the schema:\nbefore %q\nafter  %q", before, after)
			}

			// (b) The previous version's database: 0007 not applied yet.
			exec("DROP TABLE audit_retained", "ALTER TABLE audit_anchor DROP COLUMN retained", "DELETE FROM schema_migrations WHERE version = 7")
			if ro, ok := dsns["read-only role"]; ok {
				// store.Open would apply it, which the role may not: the check must not.
				if d, err := store.Open(ctx, ro); err == nil {
					d.Close()
					t.Fatal("the read-only role could apply a migration with store.Open: the test's premise fails")
				}
			}
			before = testpg.SchemaSnapshot(t, raw, dialect == store.DialectPostgres)
			for who, dsn := range dsns {
				out, err := verify(dsn)
				if err == nil || exitCode(err) != 1 {
					t.Fatalf("%s: audit verify with a migration pending = %v (exit %d), want exit 1; output %q", who, err, exitCode(err), out)
				}
				for _, want := range []string{
					"1 migration is not applied yet (0007_audit_retained.sql)",
					`"web audit verify" applies no migration: run "web migrate" (or start the server) once with a DATABASE_URL whose role may change the schema`,
				} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%s: error %q lacks %q", who, err, want)
					}
				}
			}
			if after := testpg.SchemaSnapshot(t, raw, dialect == store.DialectPostgres); !slices.Equal(after, before) {
				t.Errorf("audit verify with a migration pending changed the schema:\nbefore %q\nafter  %q", before, after)
			}
			var out testlog.Buffer
			if err := run(ctx, []string{"migrate"}, envOf(map[string]string{"DATABASE_URL": dsn}), &out); err != nil ||
				out.String() != "applying 1 migration (0007_audit_retained.sql); stopping now undoes it, and the next start applies it again\n"+
					"applied 0007_audit_retained.sql; the schema is at version 7 (0007_audit_retained.sql)\n" {
				t.Errorf("web migrate = %v, output %q", err, out.String())
			}
			var again testlog.Buffer
			if err := run(ctx, []string{"migrate"}, envOf(map[string]string{"DATABASE_URL": dsn}), &again); err != nil ||
				again.String() != "nothing to apply; the schema is at version 7 (0007_audit_retained.sql)\n" {
				t.Errorf("web migrate again = %v, output %q", err, again.String())
			}
			if ro, ok := dsns["read-only role"]; ok {
				// Migration 0007 made a table the role was never granted: the check says which,
				// and reads it once the grant is made again (README, Migrations).
				if _, err := verify(ro); err == nil || !strings.Contains(err.Error(), "audit_retained") {
					t.Errorf("read-only role: audit verify before the grant on the new table = %v, want it named", err)
				}
				u, err := url.Parse(ro)
				if err != nil {
					t.Fatal(err)
				}
				exec("GRANT SELECT ON " + u.Query().Get("search_path") + ".audit_retained TO " + u.User.Username())
			}
			for who, dsn := range dsns {
				if out, err := verify(dsn); err != nil || !strings.Contains(out, "audit trail intact: 2 rows checked") {
					t.Errorf("%s: audit verify after web migrate = %v, output %q", who, err, out)
				}
			}

			// (c) A database a newer version migrated.
			exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_from_the_future.sql', 0)")
			for who, dsn := range dsns {
				out, err := verify(dsn)
				if err == nil || exitCode(err) != 1 {
					t.Fatalf("%s: audit verify of a newer schema = %v (exit %d), want exit 1; output %q", who, err, exitCode(err), out)
				}
				for _, want := range []string{
					"records 1 migration this SMTP Desk does not know (0099_from_the_future.sql): a newer version migrated it",
					`run "web audit verify" with the SMTP Desk version that migrated the database`,
				} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%s: error %q lacks %q", who, err, want)
					}
				}
			}
			// "web migrate" (and the server, which opens it the same way) refuses it too: this
			// version would write audit entries the newer integrity check reports as changed.
			out = testlog.Buffer{}
			err = run(ctx, []string{"migrate"}, envOf(map[string]string{"DATABASE_URL": dsn}), &out)
			if err == nil || exitCode(err) != 1 {
				t.Fatalf("web migrate on a newer schema = %v (exit %d), want exit 1; output %q", err, exitCode(err), out.String())
			}
			for _, want := range []string{
				"records 1 migration this SMTP Desk does not know (0099_from_the_future.sql)",
				"run the SMTP Desk version that migrated the database (or a newer one)",
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("web migrate on a newer schema: error %q lacks %q", err, want)
				}
			}
		})
	}
}

// TestAuditVerifyOnAnEmptyDatabase: pointed at a database SMTP Desk never ran on, "web audit
// verify" says it has no SMTP Desk schema and to check DATABASE_URL, and writes nothing to it,
// where a migrating open created the schema and reported an intact, empty trail.
func TestAuditVerifyOnAnEmptyDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil { // an empty file is an empty SQLite database
		t.Fatal(err)
	}
	var out testlog.Buffer
	err := run(context.Background(), []string{"audit", "verify"}, envOf(map[string]string{"DATABASE_URL": path}), &out)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("audit verify of an empty database = %v (exit %d), want exit 1; output %q", err, exitCode(err), out.String())
	}
	for _, want := range []string{"no SMTP Desk schema in this sqlite database", "check DATABASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Errorf("the empty database changed: %v, %d bytes", err, fi.Size())
	}
}

func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	var out testlog.Buffer
	if err := run(context.Background(), []string{"healthcheck"}, envOf(map[string]string{"SMTPDESK_LISTEN": addr}), &out); err != nil || out.String() != "ok\n" {
		t.Errorf("healthcheck: %v, output %q; want ok", err, out.String())
	}
	_, port, _ := net.SplitHostPort(addr)
	if err := run(context.Background(), []string{"healthcheck"}, envOf(map[string]string{"SMTPDESK_LISTEN": ":" + port}), io.Discard); err != nil {
		t.Errorf("healthcheck on :%s: %v", port, err)
	}
	// A server started with -addr is checked with the same -addr, whatever SMTPDESK_LISTEN says.
	if err := run(context.Background(), []string{"healthcheck", "-addr", ":" + port}, envOf(map[string]string{"SMTPDESK_LISTEN": freeAddr(t)}), io.Discard); err != nil {
		t.Errorf("healthcheck -addr :%s: %v", port, err)
	}
	srv.Close()
	if err := run(context.Background(), []string{"healthcheck"}, envOf(map[string]string{"SMTPDESK_LISTEN": addr}), io.Discard); err == nil {
		t.Error("healthcheck of a stopped server succeeded")
	}
	if err := run(context.Background(), []string{"healthcheck", "-addr", addr}, envOf(nil), io.Discard); err == nil {
		t.Error("healthcheck -addr of a stopped server succeeded")
	}
}

// TestHealthcheckNeedsA200: only a 200 from /healthz is healthy. A server that answers 503, or
// another program on the port that answers 404, fails the check, as does a server that accepts
// the connection and never answers: the check gives up (after 3 s) instead of hanging the
// container's health check.
func TestHealthcheckNeedsA200(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusNotFound, http.StatusNoContent} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
		}))
		err := run(context.Background(), []string{"healthcheck", "-addr", strings.TrimPrefix(srv.URL, "http://")}, envOf(nil), io.Discard)
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("/healthz answered %d", status)) {
			t.Errorf("healthcheck of a server answering %d = %v, want it to fail naming the status", status, err)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts, reads, never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"healthcheck", "-addr", ln.Addr().String()}, envOf(nil), io.Discard)
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("healthcheck of a server that never answers = %v, want its deadline exceeded", err)
		}
	case <-time.After(time.Minute): // a generous bound: the check's own deadline is 3 s
		t.Fatal("healthcheck of a server that never answers was still waiting after a minute")
	}
}

// TestRuntimeDefaults: without GOGC and GOMEMLIMIT the runtime gets SMTP Desk's defaults; with
// them set, what the runtime read from them stays.
func TestRuntimeDefaults(t *testing.T) {
	prevGC := debug.SetGCPercent(100)
	prevMem := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(prevGC)
		debug.SetMemoryLimit(prevMem)
	})
	setRuntimeDefaults(envOf(nil))
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GC percent = %d, want %d", got, defaultGCPercent)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != defaultMemoryLimit {
		t.Errorf("memory limit = %d, want %d", got, defaultMemoryLimit)
	}
	setRuntimeDefaults(envOf(map[string]string{"GOGC": "100", "GOMEMLIMIT": "off"}))
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, GC percent = %d, want it left at 100", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set, memory limit = %d, want it left alone", got)
	}
}

// silentPostgres is a "PostgreSQL" that accepts one connection and never answers, which holds
// start-up in store.Open; accepted gets the connection. It closes at the test's end.
func silentPostgres(t *testing.T) (db net.Listener, accepted <-chan net.Conn) {
	t.Helper()
	db, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ch := make(chan net.Conn, 1)
	go func() {
		if c, err := db.Accept(); err == nil {
			ch <- c
		}
	}()
	return db, ch
}

// TestHUPDuringStartUp: a SIGHUP that arrives while the server is still starting (here: waiting
// for its database) does not end it, as the signal's default would. The test runs main itself in
// a child process: the test binary again, told by SMTPDESK_TEST_MAIN to call main.
func TestHUPDuringStartUp(t *testing.T) {
	if os.Getenv("SMTPDESK_TEST_MAIN") == "1" {
		os.Args = []string{"web"}
		main()
		return
	}
	db, accepted := silentPostgres(t)
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHUPDuringStartUp$")
	cmd.Env = append(os.Environ(), "SMTPDESK_TEST_MAIN=1",
		"SMTPDESK_LISTEN="+addr, "SMTPDESK_BASE_URL=http://"+addr,
		"MAILGUN_API_KEY=key-test", "MAILGUN_BASE_URL=http://127.0.0.1:1",
		"OIDC_ISSUER=http://127.0.0.1:1", "OIDC_CLIENT_ID=smtp-desk", "OIDC_CLIENT_SECRET=s3cret",
		"SESSION_KEYS=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"POLICY_FILE=../../demoidp/demo-policy.yaml",
		"DATABASE_URL=postgres://smtpdesk@"+db.Addr().String()+"/smtpdesk?sslmode=disable&connect_timeout=60")
	var out testlog.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	waited := make(chan struct{})
	go func() { exited <- cmd.Wait(); close(waited) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-waited
	}()
	select {
	case c := <-accepted: // main is past its start and waits for the database
		defer c.Close()
	case err := <-exited:
		t.Fatalf("the server ended before it reached its database: %v\n%s", err, out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not reach its database\n%s", out.String())
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		t.Fatalf("SIGHUP during start-up ended the server: %v\n%s", err, out.String())
	case <-time.After(500 * time.Millisecond):
	}
}

// TestHUPReloadsThenIsIgnored: SIGHUP calls the reload while onHUP is active, and after its stop
// a SIGHUP no longer ends the process (the signal's default), as during shutdown. It starts as
// main does, with SIGHUP ignored.
func TestHUPReloadsThenIsIgnored(t *testing.T) {
	signal.Ignore(syscall.SIGHUP)
	reloads := make(chan struct{}, 4)
	stop := onHUP(func() { reloads <- struct{}{} })
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reloads:
	case <-time.After(10 * time.Second):
		t.Fatal("SIGHUP did not call the reload")
	}
	stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// Were SIGHUP back at its default, the process would end here and the test binary fail.
	time.Sleep(200 * time.Millisecond)
	select {
	case <-reloads:
		t.Error("SIGHUP after stop still called the reload")
	default:
	}
}

// TestSessionsRevoke: "web sessions revoke" ends every session of the user named by e-mail
// (ASCII case ignored) or subject, keeps everyone else's, and the audit trail records it.
func TestSessionsRevoke(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "smtpdesk.db")
	env := envOf(map[string]string{"DATABASE_URL": dsn})
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, s := range []struct{ id, sub, email string }{
		{"ada-laptop", "sub-ada", "Ada@Corp.example"}, {"ada-phone", "sub-ada", "ada@corp.example"},
		{"bob", "sub-bob", "bob@corp.example"}, {"kelvin", "sub-k", "\u212Aate@corp.example"},
	} {
		data := fmt.Sprintf(`{"user":{"Issuer":"https://idp.example","Subject":%q,"Email":%q}}`, s.sub, s.email)
		if err := db.CreateSession(ctx, store.SessionRecord{ID: s.id, Data: []byte(data), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	var out testlog.Buffer
	if err := run(ctx, []string{"sessions", "revoke", "ADA@corp.example"}, env, &out); err != nil {
		t.Fatalf("sessions revoke: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "2 sessions of ADA@corp.example ended") {
		t.Errorf("output = %q", out.String())
	}
	if err := run(ctx, []string{"sessions", "revoke", "sub-bob"}, env, &out); err != nil || !strings.Contains(out.String(), "1 session of sub-bob ended") {
		t.Errorf("revoke by subject: %v, output %q", err, out.String())
	}
	// A Kelvin sign (U+212A) is not a "k": kate@ is not the user with that address.
	if err := run(ctx, []string{"sessions", "revoke", "kate@corp.example"}, env, &out); err != nil || !strings.Contains(out.String(), "0 sessions of kate@corp.example ended") {
		t.Errorf("revoke of kate@: %v, output %q", err, out.String())
	}
	if err := run(ctx, []string{"sessions", "revoke"}, env, &out); err == nil {
		t.Error("sessions revoke without a user succeeded")
	}

	db, err = store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for id, kept := range map[string]bool{"ada-laptop": false, "ada-phone": false, "bob": false, "kelvin": true} {
		if _, err := db.GetSession(ctx, id); (err == nil) != kept {
			t.Errorf("session %s: GetSession err %v, want kept %v", id, err, kept)
		}
	}
	entries, err := db.ListAudit(ctx, store.AuditFilter{Action: auth.ActionSessionsRevoked, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || entries[2].Detail != "2 sessions of ADA@corp.example ended from the command line" || entries[2].Outcome != "ok" {
		t.Errorf("audit entries %+v, want the three revocations", entries)
	}
}

// TestMainExitStatus: main exits 0 after -help (the usage on stdout), also the healthcheck's, and
// 1 with the error's one line on stderr for a wrong flag; each runs in a child process (internal/testmain).
func TestMainExitStatus(t *testing.T) {
	if testmain.Child("web") {
		main()
		return
	}
	testmain.Check(t,
		testmain.Want{Args: "-help", Code: 0, StdoutHas: "Usage:\n  web -demo"},
		testmain.Want{Args: "-bogus", Code: 1, Stderr: "smtp-desk: flag provided but not defined: -bogus; see -help\n"},
		// The subcommand's own help: it printed nothing, and exited 0.
		testmain.Want{Args: "healthcheck -help", Code: 0, StdoutHas: "Usage: web healthcheck [-addr HOST:PORT]\n"},
		testmain.Want{Args: "healthcheck -h", Code: 0, StdoutHas: "-addr string\n"},
	)
}

// TestSessionsRevokeUnrecordedFails: a revoke the audit trail refuses to record (here a trigger
// on audit_log) fails, with exit status 1, and says the sessions ended all the same: an operator
// who scripts it must not take an unrecorded revocation for a recorded one.
func TestSessionsRevokeUnrecordedFails(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "smtpdesk.db")
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	data := `{"user":{"Issuer":"https://idp.example","Subject":"sub-ada","Email":"ada@corp.example"}}`
	if err := db.CreateSession(ctx, store.SessionRecord{ID: "ada", Data: []byte(data), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TRIGGER no_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log refuses writes'); END`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	var out testlog.Buffer
	err = run(ctx, []string{"sessions", "revoke", "ada@corp.example"}, envOf(map[string]string{"DATABASE_URL": dsn}), &out)
	if err == nil || !strings.Contains(err.Error(), "1 sessions ended, but the audit trail could not record it") {
		t.Fatalf("revoke with the audit trail refusing = %v (output %q), want an error saying the sessions ended unrecorded", err, out.String())
	}
	if code := exitCode(err); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if strings.Contains(out.String(), "ended; their next request signs in again") {
		t.Errorf("the revoke printed success: %q", out.String())
	}
}

// TestCommandsRefuseABadDatabaseSetting: "web audit verify", "web sessions revoke" and
// "web migrate" stop on an unreadable DATABASE_URL_FILE or an unsupported DATABASE_URL, naming
// it, rather than opening (and creating) the default smtpdesk.db in the working directory and
// reporting on that.
func TestCommandsRefuseABadDatabaseSetting(t *testing.T) {
	t.Chdir(t.TempDir())
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"unreadable file": {map[string]string{"DATABASE_URL_FILE": filepath.Join(t.TempDir(), "missing")}, "DATABASE_URL_FILE"},
		"mysql URL":       {map[string]string{"DATABASE_URL": "mysql://smtpdesk@db/smtpdesk"}, "DATABASE_URL"},
	} {
		for _, args := range [][]string{{"audit", "verify"}, {"sessions", "revoke", "ada@corp.example"}, {"migrate"}} {
			var out testlog.Buffer
			err := run(context.Background(), args, envOf(tc.env), &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v: err = %v, want one naming %s; output %q", name, args, err, tc.want, out.String())
			}
		}
	}
	if _, err := os.Stat(config.DefaultDatabaseURL); err == nil {
		t.Errorf("a command created %s in the working directory", config.DefaultDatabaseURL)
	}
}

// TestPostgresURLMisspeltHidesItsPassword: a PostgreSQL URL the driver would not know as one
// (the scheme in capitals, one slash) was taken for a SQLite file path, and the commands' "no
// SQLite database at" and the server's "cannot open the SQLite database" showed it, password
// and all; it is refused by name, without the value.
func TestPostgresURLMisspeltHidesItsPassword(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, dsn := range []string{"Postgres://smtpdesk:hunter2@127.0.0.1:1/smtpdesk", "postgresql:/smtpdesk:hunter2@127.0.0.1:1/smtpdesk"} {
		for _, args := range [][]string{nil, {"audit", "verify"}, {"sessions", "revoke", "ada@corp.example"}, {"migrate"}} {
			var out testlog.Buffer
			err := run(context.Background(), args, envOf(map[string]string{"DATABASE_URL": dsn}), &out)
			if err == nil || !strings.Contains(err.Error(), "DATABASE_URL: starts like a PostgreSQL URL") {
				t.Errorf("%q with DATABASE_URL=%s: err = %v, want DATABASE_URL refused as a misspelt PostgreSQL URL", args, dsn, err)
			}
			if err != nil && strings.Contains(err.Error()+out.String(), "hunter2") {
				t.Errorf("%q with DATABASE_URL=%s shows the password:\n%v\n%s", args, dsn, err, out.String())
			}
		}
	}
}

// TestCommandsNeedAnExistingSQLiteFile: a command pointed at a SQLite file that does not exist
// (the relative default smtpdesk.db run from another directory, a typo) stops and says so,
// instead of creating an empty database and reporting "audit trail intact" or "0 sessions".
func TestCommandsNeedAnExistingSQLiteFile(t *testing.T) {
	t.Chdir(t.TempDir())
	typo := filepath.Join(t.TempDir(), "smtpdesk-typo.db")
	for _, env := range []map[string]string{nil, {"DATABASE_URL": typo}, {"DATABASE_URL": "sqlite:" + typo}} {
		for _, args := range [][]string{{"audit", "verify"}, {"sessions", "revoke", "ada@corp.example"}, {"migrate"}} {
			var out testlog.Buffer
			err := run(context.Background(), args, envOf(env), &out)
			if err == nil || !strings.Contains(err.Error(), "no SQLite database at") {
				t.Errorf("%v with %v: err = %v, want \"no SQLite database at\"; output %q", args, env, err, out.String())
			}
		}
	}
	for _, f := range []string{config.DefaultDatabaseURL, typo} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("a command created %s", f)
		}
	}
}

// TestDatabaseUnreachableSaysWhatToCheck: a database that cannot be opened stops the server and
// the commands with an error that names DATABASE_URL, the database (its password hidden) and
// what to check, rather than the driver's words alone ("unable to open database file (14)").
func TestDatabaseUnreachableSaysWhatToCheck(t *testing.T) {
	// Nothing listens on port 1; the connection is refused at once.
	const pg = "postgres://smtpdesk:hunter2@127.0.0.1:1/smtpdesk?sslmode=disable"
	noDir := filepath.Join(t.TempDir(), "missing", "smtpdesk.db")
	for _, tc := range []struct {
		dsn  string
		want []string
	}{
		{noDir, []string{"DATABASE_URL: cannot open the SQLite database " + fmt.Sprintf("%q", noDir), "directory exists"}},
		{pg, []string{"DATABASE_URL: cannot open the PostgreSQL database postgres://smtpdesk:xxxxx@127.0.0.1:1/smtpdesk", "check that the server runs"}},
		// The other scheme pgx takes gets the same advice.
		{"postgresql" + strings.TrimPrefix(pg, "postgres"), []string{"DATABASE_URL: cannot open the PostgreSQL database postgresql://smtpdesk:xxxxx@127.0.0.1:1/smtpdesk", "check that the server runs"}},
	} {
		env := serverEnv(t, freeAddr(t))
		env["DATABASE_URL"] = tc.dsn
		runs := [][]string{nil, {"sessions", "revoke", "ada@corp.example"}}
		if strings.HasPrefix(tc.dsn, "postgres") {
			// For SQLite the commands stop earlier: the file does not exist
			// (TestCommandsNeedAnExistingSQLiteFile).
			runs = append(runs, []string{"audit", "verify"})
		} else {
			runs = runs[:1]
		}
		for _, args := range runs {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			var out testlog.Buffer
			err := run(ctx, args, envOf(env), &out)
			cancel()
			if err == nil {
				t.Errorf("%v with DATABASE_URL=%s succeeded\n%s", args, tc.dsn, out.String())
				continue
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%v with DATABASE_URL=%s: error %q lacks %q", args, tc.dsn, err, want)
				}
			}
			if strings.Contains(err.Error()+out.String(), "hunter2") {
				t.Errorf("%v: the database password was printed: %q\n%s", args, err, out.String())
			}
		}
	}
}

// TestDatabaseRefusingWritesStopsTheStart: a database that opens and answers reads but refuses
// writes (a SQLite file this user may not write, a PostgreSQL standby or read-only role) stops the
// server's start with what to do. The server said it was ready, /readyz answered 200, and every
// sign-in failed with a 500 ("create session: attempt to write a readonly database").
func TestDatabaseRefusingWritesStopsTheStart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "smtpdesk.db")
	dsns := map[string]string{"sqlite": file}
	if os.Getenv("SMTPDESK_SKIP_POSTGRES") != "1" {
		dsns["postgres"] = testpg.Schema(t)
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if name == "sqlite" {
				// Root may write a file whatever its mode; mode=ro refuses writes for everyone.
				db, err := store.Open(ctx, dsn)
				if err != nil {
					t.Fatal(err)
				}
				db.Close()
				dsn = "file:" + dsn + "?mode=ro"
			} else {
				if err := run(ctx, []string{"migrate"}, envOf(map[string]string{"DATABASE_URL": dsn}), io.Discard); err != nil {
					t.Fatal(err)
				}
				dsn += "&default_transaction_read_only=on" // as a standby's sessions are
			}
			env := serverEnv(t, freeAddr(t))
			env["DATABASE_URL"] = dsn
			var out testlog.Buffer
			err := run(ctx, nil, envOf(env), &out)
			if err == nil || !strings.Contains(err.Error(), "the database refuses writes") || !strings.Contains(err.Error(), "SMTP Desk writes its sessions and audit trail there") {
				t.Errorf("run = %v, want it to stop, saying the database refuses writes and what to do", err)
			}
			if strings.Contains(out.String(), "SMTP Desk ready") {
				t.Errorf("the log says ready:\n%s", out.String())
			}
		})
	}
}

// TestDatabaseNotInUTF8SaysHowToCreateOne: a PostgreSQL database whose encoding is not UTF8
// stops the server with what to do (create a UTF8 one), not with the advice for a server that
// cannot be reached, which would send the operator the wrong way.
func TestDatabaseNotInUTF8SaysHowToCreateOne(t *testing.T) {
	env := serverEnv(t, freeAddr(t))
	env["DATABASE_URL"] = testpg.Database(t, "ENCODING 'SQL_ASCII' TEMPLATE template0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out testlog.Buffer
	err := run(ctx, nil, envOf(env), &out)
	if err == nil {
		t.Fatalf("the server started on a SQL_ASCII database\n%s", out.String())
	}
	for _, want := range []string{"DATABASE_URL", "is encoded in SQL_ASCII", "ENCODING 'UTF8' TEMPLATE template0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "check that the server runs") {
		t.Errorf("error %q gives the advice for a server that cannot be reached", err)
	}
}

// TestSchemaThisRoleCannotUseIsNamed: a search_path naming no schema the role may use (a typo, or
// a schema without USAGE granted) stops the server, and the reviewer's check, with the grant to
// give, not with a NULL scan error of the migration lock and the advice for a server that cannot
// be reached.
func TestSchemaThisRoleCannotUseIsNamed(t *testing.T) {
	u, err := url.Parse(testpg.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", "smtpdesk_misspelt")
	u.RawQuery = q.Encode()
	env := serverEnv(t, freeAddr(t))
	env["DATABASE_URL"] = u.String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, args := range [][]string{nil, {"audit", "verify"}} {
		var out testlog.Buffer
		err := run(ctx, args, envOf(env), &out)
		if err == nil {
			t.Fatalf("web %q ran with a search_path naming no schema\n%s", args, out.String())
		}
		for _, want := range []string{"DATABASE_URL", "smtpdesk_misspelt", "GRANT USAGE ON SCHEMA"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("web %q: error %q lacks %q", args, err, want)
			}
		}
		if strings.Contains(err.Error(), "check that the server runs") || strings.Contains(err.Error(), "<nil>") {
			t.Errorf("web %q: error %q gives the advice for a server that cannot be reached", args, err)
		}
	}
}

// TestDataNeedsDemo: -data outside the demo is refused with what to set instead; ignored, it left
// the server on smtpdesk.db in the working directory while the operator believed otherwise.
func TestDataNeedsDemo(t *testing.T) {
	t.Chdir(t.TempDir())
	dir := t.TempDir()
	err := run(context.Background(), []string{"-data", dir}, envOf(nil), io.Discard)
	want := "-data is the demo's data directory and needs -demo; outside the demo, set DATABASE_URL instead (e.g. DATABASE_URL=" + filepath.Join(dir, "smtpdesk.db") + ")"
	if err == nil || err.Error() != want {
		t.Errorf("run -data DIR = %v, want %q", err, want)
	}
}

// appendTwoSignIns opens the database at dsn (migrating it) and appends two sign-in entries to
// its audit trail.
// TestAuditVerifyCountsRows: the check counts rows, an action's completion being one of its own,
// and says so: "2 entries checked" for one action read as an entry the trail does not show.
func TestAuditVerifyCountsRows(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "audit.db")
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	id, err := db.AppendAudit(ctx, store.AuditEntry{Time: time.Now(), ActorEmail: "a@example.com", Action: "credential.reset",
		Domain: "example.com", Logins: []string{"x@example.com"}, Outcome: "pending"})
	if err == nil {
		err = db.CompleteAudit(ctx, id, "ok", 200, "", time.Now())
	}
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out testlog.Buffer
	if err := run(ctx, []string{"audit", "verify"}, envOf(map[string]string{"DATABASE_URL": dsn}), &out); err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "audit trail intact: 2 rows checked (each entry, and each action's completion)") {
		t.Errorf("output = %q, want the 2 rows of the one action counted as rows", out.String())
	}
}

func appendTwoSignIns(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, email := range []string{"a@example.com", "b@example.com"} {
		if _, err := db.AppendAudit(ctx, store.AuditEntry{Time: time.Now(), ActorEmail: email, Action: "auth.sign_in", Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSubcommandCutShort: a subcommand that a signal stops says so first (here: Ctrl+C while
// "web audit verify" waits for its database), instead of reading as a database failure with
// "context canceled"; without a signal its error is its own.
func TestSubcommandCutShort(t *testing.T) {
	db, accepted := silentPostgres(t)
	env := envOf(map[string]string{"DATABASE_URL": "postgres://smtpdesk@" + db.Addr().String() + "/smtpdesk?sslmode=disable&connect_timeout=60"})
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		if c, ok := <-accepted; ok {
			defer c.Close()
			cancel(errors.New("interrupt signal received"))
		}
	}()
	err := run(ctx, []string{"audit", "verify"}, env, &testlog.Buffer{})
	if want := "web audit verify stopped (interrupt signal received) before it finished; run it again"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("audit verify stopped by a signal = %v, want it to begin %q", err, want)
	}
	if exitCode(err) != 1 {
		t.Errorf("exit status %d, want 1 (not a broken trail)", exitCode(err))
	}

	missing := envOf(map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "none.db")})
	if err := run(context.Background(), []string{"audit", "verify"}, missing, &testlog.Buffer{}); err == nil || strings.Contains(err.Error(), "stopped") {
		t.Errorf("audit verify without a database and without a signal = %v, want its own error", err)
	}
}

// TestMigrateAsARoleThatMayNotSaysWhatToDo: a role that may read and write but not create
// tables cannot apply migrations. It was told to "check that the server runs and accepts
// connections", though the server had answered; it is told to migrate as a role that may.
func TestMigrateAsARoleThatMayNotSaysWhatToDo(t *testing.T) {
	rw := testpg.ReadWriteRole(t, testpg.Schema(t)) // an empty schema: every migration pending
	for _, args := range [][]string{{"migrate"}, {"sessions", "revoke", "someone@corp.example"}} {
		err := run(context.Background(), args, envOf(map[string]string{"DATABASE_URL": rw}), &testlog.Buffer{})
		if err == nil || exitCode(err) != 1 {
			t.Fatalf("web %s as a role that may not create tables = %v, want exit 1", strings.Join(args, " "), err)
		}
		if msg := err.Error(); !strings.Contains(msg, `apply the migrations with "web migrate" as a role that may`) || strings.Contains(msg, "accepts connections") {
			t.Errorf("web %s: %q, want the migrate advice and no connection advice", strings.Join(args, " "), msg)
		}
	}
}

// TestDamagedSQLiteFileSaysSo: a SQLite file that is not a database, or is damaged, stops the
// server and the commands with an error that says so, not with the advice for a file that cannot
// be opened (its directory, this user's permissions), which are fine.
func TestDamagedSQLiteFileSaysSo(t *testing.T) {
	damaged := filepath.Join(t.TempDir(), "smtpdesk.db")
	if err := os.WriteFile(damaged, []byte(strings.Repeat("not a database ", 2000)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := serverEnv(t, freeAddr(t))
	env["DATABASE_URL"] = damaged
	for _, args := range [][]string{nil, {"migrate"}, {"audit", "verify"}, {"sessions", "revoke", "ada@corp.example"}} {
		var out testlog.Buffer
		err := run(context.Background(), args, envOf(env), &out)
		if err == nil {
			t.Errorf("%q with a damaged SQLite file succeeded\n%s", args, out.String())
			continue
		}
		if want := fmt.Sprintf("the file %q is not a SQLite database, or is damaged", damaged); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "restore it from a backup") {
			t.Errorf("%q: error %q lacks %q and what to do", args, err, want)
		}
		if strings.Contains(err.Error(), "directory exists") {
			t.Errorf("%q: error %q sends the operator to the file's directory", args, err)
		}
	}
}

// TestLockedSQLiteFileSaysSo: a SQLite file whose write lock another process holds past the busy
// timeout (a second SMTP Desk, or "web migrate", applying migrations to a long trail) stops the
// server and "web migrate" with an error that says so, not with the advice for a file that cannot
// be opened (its directory, this user's permissions), which are fine.
func TestLockedSQLiteFileSaysSo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smtpdesk.db")
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck

	env := serverEnv(t, freeAddr(t))
	env["DATABASE_URL"] = path
	// A group, which returns once its parallel tests have: the lock is held until then.
	t.Run("locked", func(t *testing.T) {
		for _, args := range [][]string{nil, {"migrate"}} {
			t.Run(fmt.Sprintf("%q", args), func(t *testing.T) {
				t.Parallel() // each waits out SQLite's busy timeout (10 s)
				var out testlog.Buffer
				err := run(context.Background(), args, envOf(env), &out)
				if err == nil {
					t.Fatalf("succeeded on a locked SQLite file\n%s", out.String())
				}
				if want := fmt.Sprintf("the SQLite database %q is locked by another process", path); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "wait until it is done") {
					t.Errorf("error %q lacks %q and what to do", err, want)
				}
				if strings.Contains(err.Error(), "directory exists") {
					t.Errorf("error %q sends the operator to the file's directory", err)
				}
			})
		}
	})
}
