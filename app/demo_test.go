package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/internal/secretscan"
	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/internal/testlog"
	"github.com/smtpdesk/smtpdesk/static"
	"github.com/smtpdesk/smtpdesk/store"
)

func startDemo(t *testing.T, opts DemoOptions) *Demo {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Logger == nil && secretscan.Dir() != "" {
		// The suite-wide secret scan reads the log (internal/secretscan).
		opts.Logger = slog.New(slog.NewJSONHandler(secretscan.LogWriter(t, nil), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	d, err := StartDemo(context.Background(), opts)
	if err != nil {
		t.Fatalf("StartDemo: %v", err)
	}
	if d.Sandbox != nil {
		d.Sandbox.SetSecretSink(secretscan.Record)
	}
	secretscan.Record("OIDC client secret", d.IdP.ClientSecret())
	secretscan.KeepDB(t, filepath.Join(d.DataDir, "smtpdesk.db")) // copied after the close below
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.App.Auth().WaitReady(ctx); err != nil {
		t.Fatalf("provider discovery: %v", err)
	}
	return d
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestDemoServesStyledPage: the demo starts with nothing configured, sends a visitor to sign
// in, signs the admin in through the demo provider, and serves a page whose stylesheet resolves.
func TestDemoServesStyledPage(t *testing.T) {
	d := startDemo(t, DemoOptions{})
	if !strings.HasPrefix(d.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %q, want loopback", d.URL)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}

	resp, body := get(t, noFollow, d.URL+"/healthz")
	if resp.StatusCode != 200 || body != "ok" {
		t.Errorf("healthz = %d %q", resp.StatusCode, body)
	}
	resp, _ = get(t, noFollow, d.URL+"/readyz")
	if resp.StatusCode != 200 {
		t.Errorf("readyz = %d", resp.StatusCode)
	}
	resp, _ = get(t, noFollow, d.URL+"/")
	if resp.StatusCode/100 != 3 || !strings.HasPrefix(resp.Header.Get("Location"), "/auth/login") {
		t.Errorf("GET / signed out = %d to %q, want a redirect to /auth/login", resp.StatusCode, resp.Header.Get("Location"))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := testflow.New(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.SignIn(ctx, "admin")
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if page.Status != 200 || page.URL.Path != "/" {
		t.Fatalf("after sign-in: %d at %s", page.Status, page.URL)
	}
	for _, ck := range c.Cookies() {
		if ck.Name == auth.CookieName || ck.Name == auth.InsecureCookieName {
			secretscan.Record("session cookie", ck.Value)
		}
	}
	if !strings.Contains(page.Text(), "example.com") {
		t.Errorf("home page does not list the sandbox's domains:\n%s", page.Text())
	}
	if page.Header.Get("Content-Security-Policy") == "" {
		t.Error("no CSP on the home page")
	}
	css, ok := page.Find(`link[rel="stylesheet"]`).Attr("href")
	if !ok || !strings.HasPrefix(css, "/static/") {
		t.Fatalf("stylesheet link = %q", css)
	}
	resp, body = get(t, noFollow, d.URL+css)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || len(body) < 1000 {
		t.Errorf("GET %s = %d %q, %d bytes", css, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	// The app's Mailgun calls went to the sandbox, and /readyz now says so.
	if len(d.Sandbox.Calls()) == 0 {
		t.Error("the sandbox saw no call")
	}
	if d.App.MailgunSeen().IsZero() {
		t.Error("MailgunSeen is zero after a Mailgun call")
	}
	if _, err := os.Stat(filepath.Join(d.DataDir, "smtpdesk.db")); err != nil {
		t.Errorf("no SQLite file in the data directory: %v", err)
	}
}

func TestDemoLoopbackOnly(t *testing.T) {
	// "localhost" too: it names whatever the hosts file says, not certainly a loopback IP.
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:8080", "localhost:0", "LOCALHOST:0", "Localhost:0"} {
		if d, err := StartDemo(context.Background(), DemoOptions{Addr: addr, DataDir: t.TempDir()}); err == nil {
			d.Close()
			t.Errorf("StartDemo(%q) succeeded, want a loopback-only refusal", addr)
		}
	}
}

// TestDemoMailgunOnThisMachineOnly: the demo takes a Mailgun of its caller's only on loopback (a
// sandbox in its own process). It took any, a real account's among them, while its pages said
// Mailgun was simulated and its sign-in made anyone an administrator.
func TestDemoMailgunOnThisMachineOnly(t *testing.T) {
	for _, u := range []string{"https://api.mailgun.net", "https://api.eu.mailgun.net/", "http://192.0.2.1:8025", "127.0.0.1:8025", "ftp://127.0.0.1/"} {
		d, err := StartDemo(context.Background(), DemoOptions{Addr: "127.0.0.1:0", DataDir: t.TempDir(), MailgunURL: u, MailgunKey: "key-x"})
		if err == nil {
			d.Close()
			t.Errorf("StartDemo with Mailgun %q succeeded, want a refusal", u)
			continue
		}
		if !strings.Contains(err.Error(), "run without -demo") {
			t.Errorf("StartDemo with Mailgun %q: %v; want it to say to run without -demo for a real Mailgun", u, err)
		}
	}
}

func TestDemoTempDirRemoved(t *testing.T) {
	d, err := StartDemo(context.Background(), DemoOptions{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if !d.TempDir {
		t.Error("TempDir = false without DataDir")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.DataDir); !os.IsNotExist(err) {
		t.Errorf("temporary data directory left behind: %v", err)
	}
}

func TestReloadPolicy(t *testing.T) {
	d := startDemo(t, DemoOptions{})
	file := filepath.Join(d.DataDir, "policy.yaml")
	if err := d.App.ReloadPolicy(); err != nil {
		t.Fatalf("reload of a valid file: %v", err)
	}
	before := d.App.policy.Current()
	if err := os.WriteFile(file, []byte("rules:\n  - domain: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.App.ReloadPolicy(); err == nil {
		t.Error("reload of a broken file succeeded")
	}
	if d.App.policy.Current() != before {
		t.Error("a failed reload replaced the policy")
	}
	if err := os.WriteFile(file, []byte("admins:\n  emails: [someone@example.com]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.App.ReloadPolicy(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if d.App.policy.Current() == before {
		t.Error("a good reload kept the old policy")
	}
}

// TestDemoNoGzip: answers (here the stylesheet) are gzipped for a client that accepts it,
// unless HTTP_GZIP=false (DemoOptions.NoGzip, config.NoGzip) leaves that to a proxy in front.
func TestDemoNoGzip(t *testing.T) {
	for _, noGzip := range []bool{false, true} {
		d := startDemo(t, DemoOptions{NoGzip: noGzip})
		req, err := http.NewRequest(http.MethodGet, d.URL+static.URL("app.css"), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Encoding", "gzip") // set by hand: the transport then leaves the body as sent
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("NoGzip=%v: status %d, want 200", noGzip, resp.StatusCode)
		}
		if got, want := resp.Header.Get("Content-Encoding") == "gzip", !noGzip; got != want {
			t.Errorf("NoGzip=%v: gzipped = %v, want %v", noGzip, got, want)
		}
	}
}

// TestDemoSeedStaysFresh: the demo's logins count their ages back from the moment it starts,
// so a newcomer sees the mix the seed was written with (on acme.example, the six logins older
// than a year marked for rotation and the seven younger ones not) however long after the seed's
// fixed base date the demo runs.
func TestDemoSeedStaysFresh(t *testing.T) {
	d := startDemo(t, DemoOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := testflow.New(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SignIn(ctx, "admin"); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	for _, ck := range c.Cookies() {
		secretscan.Record("session cookie", ck.Value)
	}
	page, err := c.Get(ctx, "/d/acme.example")
	if err != nil || page.Status != http.StatusOK {
		t.Fatalf("GET /d/acme.example: %v (status %d)", err, page.Status)
	}
	rows := page.Find("table.creds tbody tr")
	old := rows.Has(`[data-testid="age-badge"]`)
	if rows.Length() != 13 || old.Length() != 6 {
		t.Errorf("acme.example: %d rows, %d marked for rotation; want 13 and 6 (postmaster@ and the five logins older than a year)", rows.Length(), old.Length())
	}
	support := page.Find(`table.creds tbody tr:contains("support@")`).Text()
	if !strings.Contains(support, "days ago") || strings.Contains(support, "consider rotating") {
		t.Errorf("support@acme.example (nine days old in the seed) reads %q, want days ago and no rotation badge", support)
	}
}

// TestReloadPolicyWarns: a valid policy with a likely mistake is in force, and the log says what
// to look at, at start and at each reload; the demo's policy has none.
func TestReloadPolicyWarns(t *testing.T) {
	logs := &testlog.Buffer{}
	d := startDemo(t, DemoOptions{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if strings.Contains(logs.String(), "policy: check this") {
		t.Fatalf("the demo policy was warned about:\n%s", logs)
	}
	file := filepath.Join(d.DataDir, "policy.yaml")
	if err := os.WriteFile(file, []byte("admins:\n  groups: [SMTP-Admins]\nrules:\n  - domain: a.example\n    role: viewer\n    groups: [smtp-admins]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.App.ReloadPolicy(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="policy: check this" warning=`) || !strings.Contains(logs.String(), "differ only in letter case") {
		t.Errorf("the reload did not warn of the groups spelt two ways:\n%s", logs)
	}
}

// TestPolicyDomainsComparedWithMailgun: after the start and after each reload, a rule naming a
// domain the Mailgun account does not have (a typo) is warned of, and the domains it has are not.
func TestPolicyDomainsComparedWithMailgun(t *testing.T) {
	logs := &testlog.Buffer{}
	d := startDemo(t, DemoOptions{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	// The comparison runs in the background: wait for its line (a generous bound, not a timing).
	waitLine := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), want); {
			if time.Now().After(deadline) {
				t.Fatalf("no log line with %q:\n%s", want, logs)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitLine(`msg="policy: its domains compared with Mailgun's" domains=3 missing=0`)
	if strings.Contains(logs.String(), "which the Mailgun account does not have") {
		t.Fatalf("the demo policy's domains were warned of:\n%s", logs)
	}

	file := filepath.Join(d.DataDir, "policy.yaml")
	policy := "admins:\n  groups: [smtp-admins]\nrules:\n" +
		"  - domain: acme.exmaple\n    role: operator\n    groups: [team-acme]\n" +
		"  - domain: Example.COM\n    role: viewer\n    groups: [security-reviewers]\n"
	if err := os.WriteFile(file, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.App.ReloadPolicy(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	waitLine(`domains=2 missing=1`)
	if !strings.Contains(logs.String(), "names domain acme.exmaple, which the Mailgun account does not have") {
		t.Errorf("the reload did not warn of acme.exmaple:\n%s", logs)
	}
	if strings.Contains(logs.String(), "names domain example.com") {
		t.Errorf("example.com, which the account has (in other letter case), was warned of:\n%s", logs)
	}
}

// TestDemoSignInAtLocalhost: the demo's base URL is its listen address (127.0.0.1:port); a user
// who opened http://localhost:port instead used to see "Sign-in did not complete" on the first
// try (the sign-in's cookie was localhost's, the provider came back to 127.0.0.1). The sign-in
// is now sent to the base URL first and completes there.
func TestDemoSignInAtLocalhost(t *testing.T) {
	d := startDemo(t, DemoOptions{})
	alias := strings.Replace(d.URL, "127.0.0.1", "localhost", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := testflow.New(alias)
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.SignInNext(ctx, "admin", "/audit")
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if page.Status != http.StatusOK || page.URL.String() != d.URL+"/audit" {
		t.Fatalf("sign-in started at %s ended at %s (%d), want %s/audit (200); page: %.300s", alias, page.URL, page.Status, d.URL, page.Text())
	}
}

// TestDemoDefaultAddress: with no Addr the demo serves on 127.0.0.1:8080, as the README says
// ("go run ./cmd/web -demo": the whole product on 127.0.0.1:8080). When another program holds
// that port, the refusal names it.
func TestDemoDefaultAddress(t *testing.T) {
	d, err := StartDemo(context.Background(), DemoOptions{DataDir: t.TempDir()})
	if err != nil {
		if !strings.Contains(err.Error(), "listen on 127.0.0.1:8080") {
			t.Fatalf("StartDemo with no Addr: %v; want it on 127.0.0.1:8080 (or a refusal naming it)", err)
		}
		return
	}
	defer d.Close()
	if d.URL != "http://127.0.0.1:8080" {
		t.Errorf("URL with no Addr = %q, want http://127.0.0.1:8080", d.URL)
	}
}

// TestDemoDataIsPrivate: the data directory StartDemo makes and the policy it writes there are
// the user's alone (0700, 0600): the SQLite file holds the sessions and the audit trail.
func TestDemoDataIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "data")
	d := startDemo(t, DemoOptions{DataDir: dir})
	for _, name := range []string{d.DataDir, filepath.Join(d.DataDir, "policy.yaml")} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", name, perm)
		}
	}
}

// TestDemoRateLimits: the demo's limits are the server's defaults (30 actions, 10 exports a
// user and 20 sign-ins an IP a minute, RATE_LIMIT_*), unless the options set others.
func TestDemoRateLimits(t *testing.T) {
	d := startDemo(t, DemoOptions{})
	if got := [3]int{d.App.cfg.RateLimitActions, d.App.cfg.RateLimitExports, d.App.cfg.RateLimitSignIn}; got != [3]int{30, 10, 20} {
		t.Errorf("demo limits (actions, exports, sign-ins) = %v, want [30 10 20]", got)
	}
	d = startDemo(t, DemoOptions{RateLimitActions: 300, RateLimitExports: 100, RateLimitSignIn: 200})
	if got := [3]int{d.App.cfg.RateLimitActions, d.App.cfg.RateLimitExports, d.App.cfg.RateLimitSignIn}; got != [3]int{300, 100, 200} {
		t.Errorf("demo limits with options = %v, want [300 100 200]", got)
	}
}

// TestDemoCloseStopsEveryListener: Close stops SMTP Desk, the sandbox Mailgun and the demo
// provider: none of the three answers afterwards (a test, or "go run ./cmd/web -demo", that
// ends leaves no port held).
func TestDemoCloseStopsEveryListener(t *testing.T) {
	d, err := StartDemo(context.Background(), DemoOptions{Addr: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	urls := map[string]string{"SMTP Desk": d.URL + "/healthz", "the sandbox": d.MailgunURL + "/", "the provider": d.IdP.Issuer() + "/.well-known/openid-configuration"}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for name, u := range urls {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatalf("%s before Close: %v", name, err)
		}
		resp.Body.Close()
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for name, u := range urls {
		if resp, err := c.Get(u); err == nil {
			resp.Body.Close()
			t.Errorf("%s still answers after Close (%s: %d)", name, u, resp.StatusCode)
		}
	}
	// And the App with it: its database is closed.
	if _, err := d.App.DB().GetSession(context.Background(), "nobody"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("the demo's database is still open after Close (GetSession: %v)", err)
	}
}

// TestDemoSandboxLatency: SandboxLatency is added to every answer of the demo's sandbox.
func TestDemoSandboxLatency(t *testing.T) {
	d := startDemo(t, DemoOptions{SandboxLatency: 250 * time.Millisecond})
	if got := d.Sandbox.CurrentFaults().Latency; got != 250*time.Millisecond {
		t.Errorf("sandbox latency = %v, want 250ms", got)
	}
}

// TestDemoShutdownStopsServing: Shutdown (the demo's graceful stop, before Close) stops
// SMTP Desk's listener: a new connection is refused once it returns.
func TestDemoShutdownStopsServing(t *testing.T) {
	d := startDemo(t, DemoOptions{})
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(d.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if resp, err := c.Get(d.URL + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("SMTP Desk still answers after Shutdown (%d)", resp.StatusCode)
	}
}
