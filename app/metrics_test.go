package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/metrics"
	"github.com/smtpdesk/smtpdesk/store"
)

// TestMetricsExposeSeriesBehindToken signs in, lists a domain and creates a login, then reads
// /metrics: the named series are there, and only for a request with the token.
func TestMetricsExposeSeriesBehindToken(t *testing.T) {
	const token = "metrics-t0ken-for-tests"
	d, c := signedInDemo(t, DemoOptions{MetricsToken: token}, "admin")
	ctx := context.Background()
	if p, err := c.Get(ctx, "/d/example.com"); err != nil || p.Status != http.StatusOK {
		t.Fatalf("domain page: %v %v", p, err)
	}
	if p, err := c.Submit(ctx, "/d/acme.example/new", "/d/acme.example/new", url.Values{"logins": {"metrics-probe"}}); err != nil || p.Status != http.StatusOK {
		t.Fatalf("create: %v %v", p, err)
	}

	scrape := func(auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, d.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, body := do(t, req)
		return resp.StatusCode, body
	}
	if status, body := scrape(""); status != http.StatusUnauthorized || strings.Contains(body, "smtpdesk_") {
		t.Errorf("/metrics without the token = %d, want 401 and no series", status)
	}
	status, body := scrape("Bearer " + token)
	if status != http.StatusOK {
		t.Fatalf("/metrics with the token = %d, want 200", status)
	}
	for _, want := range []string{
		`smtpdesk_http_requests_total{method="GET",route="/d/:domain",status="200"}`,
		`smtpdesk_http_request_duration_seconds_bucket{method="POST",route="/d/:domain/new",status="200"`,
		`smtpdesk_mailgun_calls_total{endpoint="GET /v3/domains/{domain}/credentials",status="200"}`,
		`smtpdesk_mailgun_calls_total{endpoint="POST /v3/domains/{domain}/credentials",status="200"} 1`,
		`smtpdesk_audit_write_duration_seconds_count`,
		`smtpdesk_active_sessions 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "smtpdesk_audit_write_duration_seconds_count 0") {
		t.Error("no audit write was timed, though a sign-in and a create were recorded")
	}
}

// TestMetricsCountEveryRefusal: a burst of refused requests writes one access.denied audit
// entry, but /metrics counts every refusal, with the ones not recorded apart.
func TestMetricsCountEveryRefusal(t *testing.T) {
	const token = "metrics-t0ken-for-tests"
	d, c := signedInDemo(t, DemoOptions{MetricsToken: token}, "operator") // operator of acme.example only
	ctx := context.Background()
	for range 3 {
		if p, err := c.Get(ctx, "/d/example.com"); err != nil || p.Status != http.StatusForbidden {
			t.Fatalf("another domain's page: %v %v, want 403", p, err)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, d.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	_, body := do(t, req)
	// The three requests come well within the minute after the first.
	for _, want := range []string{
		`smtpdesk_access_denied_total{action="view",audit="recorded"} 1`,
		`smtpdesk_access_denied_total{action="view",audit="suppressed"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestMetricsWrongMethod: /metrics answers GET alone; another method is refused 405 with Allow,
// with or without the token or a session, and never shows the series. It read 401, the CSRF
// check's 403, or 404 signed in (the signed-in pages' catch-all answered it).
func TestMetricsWrongMethod(t *testing.T) {
	const token = "metrics-t0ken-for-tests"
	d, c := signedInDemo(t, DemoOptions{MetricsToken: token}, "admin")
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	signedIn := *c.HTTP
	signedIn.CheckRedirect = noRedirect
	for _, method := range []string{http.MethodPost, http.MethodHead, http.MethodDelete, http.MethodOptions} {
		for _, who := range []struct {
			name string
			hc   *http.Client
		}{{"signed out", &http.Client{CheckRedirect: noRedirect}}, {"signed in", &signedIn}} {
			req, _ := http.NewRequest(method, d.URL+"/metrics", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := who.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			_, _ = io.Copy(&b, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodGet || strings.Contains(b.String(), "smtpdesk_") {
				t.Errorf("%s %s /metrics = %d, Allow %q; want 405, Allow GET, no series", who.name, method, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
	}
}

// TestMetricsNotServedByDefault: without a token (and without METRICS_ADDR, which cmd/web
// serves on its own loopback listener) the main listener has no /metrics.
func TestMetricsNotServedByDefault(t *testing.T) {
	d := startDemo(t, DemoOptions{})
	req, _ := http.NewRequest(http.MethodGet, d.URL+"/metrics", nil)
	resp, body := do(t, req)
	if resp.StatusCode == http.StatusOK || strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics without configuration = %d and exposes series; want it absent", resp.StatusCode)
	}
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	// Redirects are not followed: a signed-out request for an unknown path is sent to sign-in.
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp, b.String()
}

// signedInDemo starts a demo with opts and signs a new browser in as persona.
func signedInDemo(t *testing.T, opts DemoOptions, persona string) (*Demo, *testflow.Client) {
	t.Helper()
	d := startDemo(t, opts)
	c, err := testflow.New(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SignIn(context.Background(), persona); err != nil {
		t.Fatal(err)
	}
	return d, c
}

// scrapeMetrics reads the demo's /metrics with token.
func scrapeMetrics(t *testing.T, d *Demo, token string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, body := do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics = %d, want 200", resp.StatusCode)
	}
	return body
}

// TestMetricsCountPanicsAndRefusedBodies: a request whose handler panics (answered 500 by the
// recover middleware) and one refused for its body's size (413, before any handler runs) are
// counted like any other, with the status they were sent.
func TestMetricsCountPanicsAndRefusedBodies(t *testing.T) {
	const token = "metrics-t0ken-for-tests"
	d := startDemo(t, DemoOptions{MetricsToken: token})
	d.App.Echo().GET("/test-panic", func(echo.Context) error { panic("handler bug") })

	resp, _ := do(t, mustRequest(t, http.MethodGet, d.URL+"/test-panic", nil))
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("panicking handler answered %d, want 500", resp.StatusCode)
	}
	big := strings.Repeat("x", 100<<10) // over the 64K body limit
	req := mustRequest(t, http.MethodPost, d.URL+"/d/acme.example/delete-all", strings.NewReader(big))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, _ := do(t, req); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized form answered %d, want 413", resp.StatusCode)
	}

	body := scrapeMetrics(t, d, token)
	for _, want := range []string{
		`smtpdesk_http_requests_total{method="GET",route="/test-panic",status="500"} 1`,
		`smtpdesk_http_requests_total{method="POST",route="/d/:domain/delete-all",status="413"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func mustRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestMetricsCountClientGone: a request its client left before any answer was sent is counted
// with status 499, not as the 200 nobody sent.
func TestMetricsCountClientGone(t *testing.T) {
	const token = "metrics-t0ken-for-tests"
	d := startDemo(t, DemoOptions{MetricsToken: token})
	started := make(chan struct{})
	d.App.Echo().GET("/test-wait", func(c echo.Context) error {
		close(started)
		<-c.Request().Context().Done() // a page waiting on Mailgun when the browser gives up
		return fmt.Errorf("list: %w", c.Request().Context().Err())
	})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+"/test-wait", nil)
	go func() {
		<-started
		cancel()
	}()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("the request was answered, though its client left")
	}
	waitForMetric(t, d, token, `smtpdesk_http_requests_total{method="GET",route="/test-wait",status="499"} 1`, "/test-wait")
}

// waitForMetric scrapes /metrics until it has the line want, which a request that has just ended
// on the server's side may not have counted yet; on failure it shows the lines holding grep.
func waitForMetric(t *testing.T, d *Demo, token, want, grep string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		body := scrapeMetrics(t, d, token)
		if strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s; it has:\n%s", want, grepLines(body, grep))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// grepLines returns body's lines that contain s.
func grepLines(body, s string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMetricsCountAbortedDownloads: a download aborted half-way (http.ErrAbortHandler, which
// no middleware recovers) is counted: as 500 when it failed on its own, as 499 when its client
// had left.
func TestMetricsCountAbortedDownloads(t *testing.T) {
	const token = "metrics-t0ken-for-tests"
	d := startDemo(t, DemoOptions{MetricsToken: token})
	e := d.App.Echo()
	begin := func(c echo.Context) {
		c.Response().Header().Set(echo.HeaderContentType, "text/csv")
		c.Response().WriteHeader(http.StatusOK)
		_, _ = c.Response().Write([]byte("login,created\n"))
		c.Response().Flush()
	}
	e.GET("/test-broken.csv", func(c echo.Context) error {
		begin(c)
		panic(http.ErrAbortHandler) // the database failed after the file had begun
	})
	e.GET("/test-left.csv", func(c echo.Context) error {
		begin(c)
		<-c.Request().Context().Done() // the browser gave up on the download
		panic(http.ErrAbortHandler)
	})

	if resp, body := doErr(mustRequest(t, http.MethodGet, d.URL+"/test-broken.csv", nil)); resp == nil || resp.StatusCode != http.StatusOK || body == nil {
		t.Fatalf("broken download: got %v, %v; want a 200 cut short", resp, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+"/test-left.csv", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	cancel() // after the headers: the client leaves mid-download
	resp.Body.Close()

	for _, want := range []string{
		`smtpdesk_http_requests_total{method="GET",route="/test-broken.csv",status="500"} 1`,
		`smtpdesk_http_requests_total{method="GET",route="/test-left.csv",status="499"} 1`,
	} {
		waitForMetric(t, d, token, want, "/test-")
	}
}

// doErr sends req and reads its body, returning the error that cut the body short (nil when
// it came whole).
func doErr(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp, err
}

// TestMetricsCountUnreadableMailgunAnswers: a list Mailgun answers 200 with a body that is not
// its answer (broken JSON; JSON without the page's fields) shows the user a 502, "Mailgun did not
// give a usable answer", and /metrics counts those attempts as status "unreadable", not as the 200s a
// dashboard of Mailgun calls would read as all fine.
func TestMetricsCountUnreadableMailgunAnswers(t *testing.T) {
	const token = "metrics-t0ken-for-tests"
	d, c := signedInDemo(t, DemoOptions{MetricsToken: token}, "admin")
	ctx := context.Background()
	const list = `smtpdesk_mailgun_calls_total{endpoint="GET /v3/domains/{domain}/credentials",status=`
	ok := grepLines(scrapeMetrics(t, d, token), list+`"200"}`) // the lists read while signing in
	seen := d.App.MailgunSeen()
	for dom, f := range map[string]sandbox.Faults{
		"acme.example": {Routes: []string{sandbox.RouteList}, Rate: 1, Malformed: true},
		"example.com":  {Routes: []string{sandbox.RouteList}, Rate: 1, Status: http.StatusOK, Message: "OK"},
	} {
		d.Sandbox.SetFaults(f)
		p, err := c.Get(ctx, "/d/"+dom)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != http.StatusBadGateway || !strings.Contains(p.Text(), "did not give a usable answer") {
			t.Fatalf("%s's page with an unreadable list = %d %q, want 502 saying the answer was not usable", dom, p.Status, p.Text())
		}
	}
	d.Sandbox.SetFaults(sandbox.Faults{})
	// Nor did Mailgun answer for /readyz: a 200 that is not its answer is a proxy's page as
	// likely as Mailgun's.
	if now := d.App.MailgunSeen(); !now.Equal(seen) {
		t.Errorf("Mailgun last seen moved from %v to %v on unreadable answers alone", seen, now)
	}

	body := scrapeMetrics(t, d, token)
	if want := list + `"unreadable"} 2`; !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %s; it has:\n%s", want, grepLines(body, "mailgun_calls"))
	}
	if now := grepLines(body, list+`"200"}`); now != ok {
		t.Errorf("the list's 200s went from %q to %q: an unreadable answer was counted as a 200", ok, now)
	}
}

// TestMetricsCountAuditWriteFailures: when the database refuses audit writes, SMTP Desk refuses
// the change whose pending entry it cannot write, or leaves a made change's entry pending when
// its completion fails; /metrics counts each failed write, so an operator can alert on it.
func TestMetricsCountAuditWriteFailures(t *testing.T) {
	const token = "metrics-t0ken-for-tests"
	d, c := signedInDemo(t, DemoOptions{MetricsToken: token}, "admin")
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(d.DataDir, "smtpdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const failures = "smtpdesk_audit_write_failures_total "
	if body := scrapeMetrics(t, d, token); !strings.Contains(body, failures+"0") {
		t.Fatalf("/metrics lacks %s0 before any failure:\n%s", failures, grepLines(body, "smtpdesk_audit"))
	}
	create := func(login string) *testflow.Page {
		t.Helper()
		p, err := c.Submit(ctx, "/d/acme.example/new", "/d/acme.example/new", url.Values{"logins": {login}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// The pending entry cannot be written: the create is refused, nothing sent to Mailgun.
	exec(t, db, `CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused by test'); END`)
	if p := create("audit-begin-probe"); p.Status == http.StatusOK {
		t.Fatalf("create with the audit trail refusing writes = 200 %q, want it refused", p.Text())
	}
	if slices.Contains(d.Sandbox.Logins("acme.example"), "audit-begin-probe@acme.example") {
		t.Fatal("the create reached Mailgun though its pending entry was not written")
	}
	body := scrapeMetrics(t, d, token)
	if !strings.Contains(body, failures+"1") {
		t.Errorf("after a refused pending entry /metrics lacks %s1; it has:\n%s", failures, grepLines(body, "smtpdesk_audit"))
	}

	// The completion cannot be written: the login is made, its entry stays pending.
	exec(t, db, `DROP TRIGGER refuse_audit`)
	exec(t, db, `CREATE TRIGGER refuse_completion BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused by test'); END`)
	create("audit-finish-probe")
	if !slices.Contains(d.Sandbox.Logins("acme.example"), "audit-finish-probe@acme.example") {
		t.Fatal("the create did not reach Mailgun")
	}
	body = scrapeMetrics(t, d, token)
	if !strings.Contains(body, failures+"2") {
		t.Errorf("after a failed completion /metrics lacks %s2; it has:\n%s", failures, grepLines(body, "smtpdesk_audit"))
	}
}

func exec(t *testing.T, db *sql.DB, query string) {
	t.Helper()
	if _, err := db.Exec(query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// TestAuditWriteFailuresLeaveOutTheDatabaseFine: two errors of an audit write are not the
// database failing, and are not counted: a pending entry whose request went away (the user left;
// the action is refused) and a completion already written (the recorder's retry of one whose
// commit's answer was lost, which it takes as done). A deadline is the database not answering.
func TestAuditWriteFailuresLeaveOutTheDatabaseFine(t *testing.T) {
	m := metrics.New(nil)
	ta := timedAudit{metrics: m}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	ta.observe(gone, time.Now(), fmt.Errorf("store: append audit: %w", context.Canceled))
	ta.observe(gone, time.Now(), errors.New("sqlite: interrupted (9)"))
	ta.observe(context.Background(), time.Now(), fmt.Errorf("audit: complete 7: %w", store.ErrAlreadyCompleted))
	ta.observe(context.Background(), time.Now(), nil)
	ta.observe(context.Background(), time.Now(), fmt.Errorf("store: append audit: %w", context.DeadlineExceeded))
	rec := httptest.NewRecorder()
	m.Handler("").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{"smtpdesk_audit_write_failures_total 1", "smtpdesk_audit_write_duration_seconds_count 5"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s; it has:\n%s", want, grepLines(rec.Body.String(), "smtpdesk_audit"))
		}
	}
}
