package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/metrics"
)

func scrape(t *testing.T, h http.Handler, auth string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestMetricsExposeNamedSeries(t *testing.T) {
	m := metrics.New(func(context.Context) (int64, error) { return 3, nil })
	e := echo.New()
	e.Use(m.Middleware())
	e.GET("/d/:domain", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/boom", func(c echo.Context) error { return echo.NewHTTPError(http.StatusBadGateway, "x") })
	for _, path := range []string{"/d/example.com", "/d/acme.example", "/boom"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	m.ObserveMailgun(metrics.MailgunAttempt{Endpoint: "GET /v3/domains/{domain}/credentials", Status: 200, Duration: 20 * time.Millisecond, Attempt: 1})
	m.ObserveMailgun(metrics.MailgunAttempt{Endpoint: "GET /v3/domains/{domain}/credentials", Status: 503, Duration: 20 * time.Millisecond, Attempt: 2})
	m.ObserveMailgun(metrics.MailgunAttempt{Endpoint: "GET /v3/domains/{domain}/credentials", Status: 200, Unreadable: true, Duration: 20 * time.Millisecond, Attempt: 1})
	m.ObserveAuditWrite(300 * time.Microsecond)
	m.CountAuditWriteFailure()
	m.CountUncompressed()
	m.CountAccessDenied("view", "recorded")
	m.CountAccessDenied("view", "suppressed")
	m.CountAccessDenied("view", "suppressed")

	code, body := scrape(t, m.Handler(""), "")
	if code != http.StatusOK {
		t.Fatalf("scrape status = %d, want 200", code)
	}
	for _, want := range []string{
		`smtpdesk_http_requests_total{method="GET",route="/d/:domain",status="200"} 2`,
		`smtpdesk_http_requests_total{method="GET",route="/boom",status="502"} 1`,
		`smtpdesk_http_request_duration_seconds_count{method="GET",route="/d/:domain",status="200"} 2`,
		// By status too (issue 8: "duration histograms by route and status"): a fast refusal
		// and a slow failure must not blur a page's latency.
		`smtpdesk_http_request_duration_seconds_count{method="GET",route="/boom",status="502"} 1`,
		`smtpdesk_mailgun_calls_total{endpoint="GET /v3/domains/{domain}/credentials",status="503"} 1`,
		// A 2xx whose body could not be read is not one of the 200s.
		`smtpdesk_mailgun_calls_total{endpoint="GET /v3/domains/{domain}/credentials",status="200"} 1`,
		`smtpdesk_mailgun_calls_total{endpoint="GET /v3/domains/{domain}/credentials",status="unreadable"} 1`,
		`smtpdesk_mailgun_retries_total{endpoint="GET /v3/domains/{domain}/credentials"} 1`,
		`smtpdesk_audit_write_duration_seconds_count 1`,
		`smtpdesk_audit_write_failures_total 1`,
		`smtpdesk_http_uncompressed_busy_total 1`,
		`smtpdesk_access_denied_total{action="view",audit="recorded"} 1`,
		`smtpdesk_access_denied_total{action="view",audit="suppressed"} 2`,
		`smtpdesk_active_sessions 3`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, "example.com") {
		t.Error("metrics carry a raw domain; labels must be route templates")
	}
}

func TestMetricsTokenRequired(t *testing.T) {
	h := metrics.New(nil).Handler("s3cret-token")
	tests := []struct {
		name string
		auth string
		want int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"wrong token of the same length", "Bearer s3cret-tokex", http.StatusUnauthorized},
		{"the token's prefix", "Bearer s3cret-toke", http.StatusUnauthorized},
		{"the token and more", "Bearer s3cret-token2", http.StatusUnauthorized},
		{"the token alone", "s3cret-token", http.StatusUnauthorized},
		{"another scheme", "Basic s3cret-token", http.StatusUnauthorized},
		{"right token", "Bearer s3cret-token", http.StatusOK},
		// Authentication schemes are named in any letter case (RFC 9110 11.1).
		{"right token, scheme in lower case", "bearer s3cret-token", http.StatusOK},
		{"right token, scheme in capitals", "BEARER s3cret-token", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := scrape(t, h, tt.auth); got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestAuditWriteFailuresExposedFromZero: the failures counter is there before any write failed,
// so an alert on its rate sees the first failure (a series that appears with its first
// increment has no earlier sample to take the rate from).
func TestAuditWriteFailuresExposedFromZero(t *testing.T) {
	_, body := scrape(t, metrics.New(nil).Handler(""), "")
	if !strings.Contains(body, "smtpdesk_audit_write_failures_total 0") {
		t.Error("metrics lack smtpdesk_audit_write_failures_total 0 before any failure")
	}
}

func TestActiveSessionsUnknownOnError(t *testing.T) {
	m := metrics.New(func(context.Context) (int64, error) { return 0, errors.New("db down") })
	_, body := scrape(t, m.Handler(""), "")
	if !strings.Contains(body, "smtpdesk_active_sessions -1") {
		t.Errorf("active sessions gauge should read -1 when the count fails; body lacks it")
	}
}

// TestMetricsCountWhatWasSent: an error the app's error handler maps to a status of its own (a
// Mailgun outage to 502, here) is counted with that status, not guessed as 500; and a method
// outside the standard ones is counted as "other", since anyone can send any method before
// signing in and each new label would be a new series kept forever.
func TestMetricsCountWhatWasSent(t *testing.T) {
	m := metrics.New(nil)
	e := echo.New()
	errUpstream := errors.New("mailgun: no answer")
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if errors.Is(err, errUpstream) {
			_ = c.String(http.StatusBadGateway, "Mailgun did not answer")
			return
		}
		e.DefaultHTTPErrorHandler(err, c)
	}
	e.Use(m.Middleware())
	e.GET("/export.csv", func(c echo.Context) error { return fmt.Errorf("export: %w", errUpstream) })
	e.RouteNotFound("/*", func(c echo.Context) error { return echo.ErrNotFound })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/export.csv", nil))
	if rec.Code != http.StatusBadGateway {
		t.Fatalf("sent %d, want 502 from the error handler", rec.Code)
	}
	for i := range 50 {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(fmt.Sprintf("X%04d", i), "/nowhere", nil))
	}
	_, body := scrape(t, m.Handler(""), "")
	for _, want := range []string{
		`smtpdesk_http_requests_total{method="GET",route="/export.csv",status="502"} 1`,
		`smtpdesk_http_requests_total{method="other",route="/*",status="404"} 50`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, `method="X0`) {
		t.Error("a made-up method became a label")
	}
}

// TestDurationBuckets: the histograms' buckets span what they time. A page served from the
// list cache, a static file or a health check takes well under a millisecond, and a page
// waiting on Mailgun's retries, or an export, tens of seconds (the server's write timeout is
// 90 s); an audit write takes a fraction of a millisecond, or seconds when the database is
// busy (its deadline is 10 s). With buckets from 1 ms to 10 s and 0.1 ms to 0.25 s, each end
// fell into one bucket, where nothing could be told apart.
func TestDurationBuckets(t *testing.T) {
	m := metrics.New(nil)
	e := echo.New()
	e.Use(m.Middleware())
	e.GET("/healthz", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	m.ObserveAuditWrite(2 * time.Second)
	_, body := scrape(t, m.Handler(""), "")
	for _, le := range []string{"0.0001", "0.00025", "0.0005", "30", "90"} {
		want := `smtpdesk_http_request_duration_seconds_bucket{method="GET",route="/healthz",status="200",le="` + le + `"}`
		if !strings.Contains(body, want) {
			t.Errorf("request durations lack the bucket le=%s", le)
		}
	}
	for _, want := range []string{
		`smtpdesk_audit_write_duration_seconds_bucket{le="1"} 0`,
		`smtpdesk_audit_write_duration_seconds_bucket{le="2.5"} 1`,
		`smtpdesk_audit_write_duration_seconds_bucket{le="10"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestREADMENamesEverySeries: each smtpdesk_ series is named in the README's metrics section,
// so a dashboard built from it finds what is exposed.
func TestREADMENamesEverySeries(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(func(context.Context) (int64, error) { return 1, nil })
	e := echo.New()
	e.Use(m.Middleware())
	e.GET("/", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	m.ObserveMailgun(metrics.MailgunAttempt{Endpoint: "GET /v4/domains", Status: 200, Duration: time.Millisecond, Attempt: 2})
	m.ObserveAuditWrite(time.Millisecond)
	m.CountAuditWriteFailure()
	m.CountUncompressed()
	m.CountAccessDenied("view", "recorded")
	_, body := scrape(t, m.Handler(""), "")
	names := regexp.MustCompile(`(?m)^# HELP (smtpdesk_\w+) `).FindAllStringSubmatch(body, -1)
	if len(names) < 10 {
		t.Fatalf("found %d smtpdesk_ series, want every one of them exposed:\n%s", len(names), body)
	}
	for _, n := range names {
		if !strings.Contains(string(readme), "`"+n[1]+"`") {
			t.Errorf("README does not name %s", n[1])
		}
	}
}

// TestBackgroundFailuresExposedFromZero: every background job's failures, and the policy's
// state, are exposed before anything happened, so an alert on a rate or a value sees the first
// failure; a failed reload sets the policy gauge to 0 and counts as the policy_reload job's.
func TestBackgroundFailuresExposedFromZero(t *testing.T) {
	m := metrics.New(nil)
	_, body := scrape(t, m.Handler(""), "")
	for _, j := range metrics.Tasks {
		if want := `smtpdesk_background_failures_total{task="` + string(j) + `"} 0`; !strings.Contains(body, want) {
			t.Errorf("metrics lack %s before any failure", want)
		}
	}
	m.PolicyLoaded(time.Unix(1700000000, 0))
	m.CountBackgroundFailure(metrics.TaskSessionsCleanup)
	m.PolicyReloadFailed()
	_, body = scrape(t, m.Handler(""), "")
	for _, want := range []string{
		`smtpdesk_background_failures_total{task="sessions_cleanup"} 1`,
		`smtpdesk_background_failures_total{task="policy_reload"} 1`,
		`smtpdesk_background_failures_total{task="audit_retention"} 0`,
		`smtpdesk_policy_last_reload_successful 0`,
		`smtpdesk_policy_last_reload_success_timestamp_seconds 1.7e+09`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
