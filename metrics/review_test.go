package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/metrics"
)

// mustContain fails the test for each line of want that body lacks. Whole lines: a series'
// HELP text may begin with what its value would be ("…_successful 1 when…").
func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains("\n"+body, "\n"+w+"\n") {
			t.Errorf("metrics lack %s", w)
		}
	}
}

// TestUnmatchedRequestsShareOneLabel: a path no route knows is counted under "unmatched", never
// under the path itself, which anyone can vary before signing in.
func TestUnmatchedRequestsShareOneLabel(t *testing.T) {
	m := metrics.New(nil)
	e := echo.New()
	e.Use(m.Middleware())
	e.GET("/d/:domain", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	for _, path := range []string{"/nowhere-1", "/nowhere-2", "/x/y/z"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	_, body := scrape(t, m.Handler(""), "")
	mustContain(t, body, `smtpdesk_http_requests_total{method="GET",route="unmatched",status="404"} 3`)
	if strings.Contains(body, "nowhere") {
		t.Error("an unmatched path became a label")
	}
}

// TestHEADIsLabelledHEAD: HEAD is a standard method (the pages and health checks answer it) and
// keeps its own label rather than "other".
func TestHEADIsLabelledHEAD(t *testing.T) {
	m := metrics.New(nil)
	e := echo.New()
	e.Use(m.Middleware())
	e.HEAD("/healthz", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodHead, "/healthz", nil))
	_, body := scrape(t, m.Handler(""), "")
	mustContain(t, body, `smtpdesk_http_requests_total{method="HEAD",route="/healthz",status="200"} 1`)
}

// TestAbortedRequestCounted: a panic that nothing inside recovers (http.ErrAbortHandler, a
// download aborted half-way) is counted as a 500, or as a 499 when its client had already left,
// and is passed on to the server, which closes the connection.
func TestAbortedRequestCounted(t *testing.T) {
	for _, tt := range []struct {
		name       string
		clientGone bool
		status     string
	}{
		{"failed", false, "500"},
		{"client gone", true, "499"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := metrics.New(nil)
			e := echo.New()
			e.Use(m.Middleware())
			e.GET("/export.csv", func(c echo.Context) error { panic(http.ErrAbortHandler) })
			req := httptest.NewRequest(http.MethodGet, "/export.csv", nil)
			if tt.clientGone {
				ctx, cancel := context.WithCancel(req.Context())
				cancel()
				req = req.WithContext(ctx)
			}
			var got any
			func() {
				defer func() { got = recover() }()
				e.ServeHTTP(httptest.NewRecorder(), req)
			}()
			if got != http.ErrAbortHandler {
				t.Errorf("the middleware recovered %v and did not pass http.ErrAbortHandler on", got)
			}
			_, body := scrape(t, m.Handler(""), "")
			mustContain(t, body,
				`smtpdesk_http_requests_total{method="GET",route="/export.csv",status="`+tt.status+`"} 1`,
				`smtpdesk_http_request_duration_seconds_count{method="GET",route="/export.csv",status="`+tt.status+`"} 1`)
		})
	}
}

// TestRequestDurationIsTheHandlers: the time observed is the handler's: a handler that sleeps
// 2 ms is never in a bucket below 1 ms (a lower bound only, which a slow machine keeps).
func TestRequestDurationIsTheHandlers(t *testing.T) {
	m := metrics.New(nil)
	e := echo.New()
	e.Use(m.Middleware())
	e.GET("/slow", func(c echo.Context) error {
		time.Sleep(2 * time.Millisecond)
		return c.NoContent(http.StatusOK)
	})
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/slow", nil))
	_, body := scrape(t, m.Handler(""), "")
	mustContain(t, body,
		`smtpdesk_http_request_duration_seconds_bucket{method="GET",route="/slow",status="200",le="0.001"} 0`,
		`smtpdesk_http_request_duration_seconds_bucket{method="GET",route="/slow",status="200",le="+Inf"} 1`)
}

// TestErrorHandledOnce: the middleware hands a handler's error to the error handler itself (to
// count the status sent) and does not return it, or the error handler would run a second time
// and the request be answered (and logged) twice.
func TestErrorHandledOnce(t *testing.T) {
	m := metrics.New(nil)
	e := echo.New()
	calls := 0
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		calls++
		e.DefaultHTTPErrorHandler(err, c)
	}
	e.Use(m.Middleware())
	e.GET("/boom", func(c echo.Context) error { return errors.New("boom") })
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/boom", nil))
	if calls != 1 {
		t.Errorf("the error handler ran %d times, want 1", calls)
	}
}

// TestMailgunDurationsInSeconds: each attempt's duration is observed, in seconds, by endpoint.
func TestMailgunDurationsInSeconds(t *testing.T) {
	m := metrics.New(nil)
	m.ObserveMailgun(metrics.MailgunAttempt{Endpoint: "DELETE /v3/domains/{domain}/credentials/{login}", Duration: 200 * time.Millisecond, Attempt: 1})
	_, body := scrape(t, m.Handler(""), "")
	mustContain(t, body,
		`smtpdesk_mailgun_calls_total{endpoint="DELETE /v3/domains/{domain}/credentials/{login}",status="0"} 1`,
		`smtpdesk_mailgun_call_duration_seconds_bucket{endpoint="DELETE /v3/domains/{domain}/credentials/{login}",le="0.1"} 0`,
		`smtpdesk_mailgun_call_duration_seconds_bucket{endpoint="DELETE /v3/domains/{domain}/credentials/{login}",le="0.25"} 1`,
		`smtpdesk_mailgun_call_duration_seconds_sum{endpoint="DELETE /v3/domains/{domain}/credentials/{login}"} 0.2`)
	if strings.Contains(body, `smtpdesk_mailgun_retries_total{`) {
		t.Error("a first attempt was counted as a retry")
	}
}

// TestPolicyReloadThatTakesSetsTheGaugeBack: a reload that takes after one that failed sets
// smtpdesk_policy_last_reload_successful back to 1 (an alert on 0 must clear).
func TestPolicyReloadThatTakesSetsTheGaugeBack(t *testing.T) {
	m := metrics.New(nil)
	m.PolicyReloadFailed()
	m.PolicyLoaded(time.Unix(1700000100, 0))
	_, body := scrape(t, m.Handler(""), "")
	mustContain(t, body,
		`smtpdesk_policy_last_reload_successful 1`,
		`smtpdesk_policy_last_reload_success_timestamp_seconds 1.7000001e+09`,
		`smtpdesk_background_failures_total{task="policy_reload"} 1`)
}

// TestMetricsRefusalNamesTheScheme: a scrape without the token is told which scheme to use
// (RFC 6750: a 401 carries WWW-Authenticate) and gets no metrics.
func TestMetricsRefusalNamesTheScheme(t *testing.T) {
	m := metrics.New(nil)
	m.CountUncompressed()
	rec := httptest.NewRecorder()
	m.Handler("s3cret-token").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if got, want := rec.Header().Get("WWW-Authenticate"), `Bearer realm="metrics"`; rec.Code != http.StatusUnauthorized || got != want {
		t.Errorf("refusal = %d with WWW-Authenticate %q, want 401 with %q", rec.Code, got, want)
	}
	if strings.Contains(rec.Body.String(), "smtpdesk_") {
		t.Error("a refused scrape got the metrics")
	}
}

// TestSessionCountHasADeadline: the active-sessions count is asked with a deadline of its own
// (2 s), so a database that does not answer cannot hold the scrape for good.
func TestSessionCountHasADeadline(t *testing.T) {
	var left time.Duration
	var hasDeadline bool
	m := metrics.New(func(ctx context.Context) (int64, error) {
		var deadline time.Time
		deadline, hasDeadline = ctx.Deadline()
		left = time.Until(deadline) // at most 2 s however slow the machine: it only shrinks
		return 2, nil
	})
	_, body := scrape(t, m.Handler(""), "")
	mustContain(t, body, "smtpdesk_active_sessions 2")
	if !hasDeadline {
		t.Fatal("the session count was asked without a deadline")
	}
	if left > 2*time.Second {
		t.Errorf("the session count's deadline was %v away, want 2s at most", left)
	}
}

// TestEveryTaskExposedFromZero: each background task, named by its constant, is exposed from
// zero (metrics.Tasks, which New walks to expose them, must not leave one out).
func TestEveryTaskExposedFromZero(t *testing.T) {
	_, body := scrape(t, metrics.New(nil).Handler(""), "")
	for _, task := range []metrics.Task{metrics.TaskAuditRetention, metrics.TaskSessionsCleanup,
		metrics.TaskFormTokensCleanup, metrics.TaskPolicyReload, metrics.TaskPolicyDomainsCheck} {
		mustContain(t, body, `smtpdesk_background_failures_total{task="`+string(task)+`"} 0`)
	}
}

// TestCanceledAttemptIsNotNoAnswer: an attempt SMTP Desk gave up waiting for (its user left, a
// sibling page failed) is counted apart from the attempts Mailgun did not answer (status 0,
// which SMTPDeskMailgunFailing reads as Mailgun failing), and its cut-short duration is not
// taken as Mailgun's.
func TestCanceledAttemptIsNotNoAnswer(t *testing.T) {
	m := metrics.New(nil)
	const ep = "GET /v3/domains/{domain}/credentials"
	m.ObserveMailgun(metrics.MailgunAttempt{Endpoint: ep, Canceled: true, Duration: 3 * time.Millisecond, Attempt: 1})
	m.ObserveMailgun(metrics.MailgunAttempt{Endpoint: ep, Duration: 30 * time.Second, Attempt: 2})
	_, body := scrape(t, m.Handler(""), "")
	mustContain(t, body,
		`smtpdesk_mailgun_calls_total{endpoint="GET /v3/domains/{domain}/credentials",status="canceled"} 1`,
		`smtpdesk_mailgun_calls_total{endpoint="GET /v3/domains/{domain}/credentials",status="0"} 1`,
		`smtpdesk_mailgun_call_duration_seconds_count{endpoint="GET /v3/domains/{domain}/credentials"} 1`,
		`smtpdesk_mailgun_call_duration_seconds_sum{endpoint="GET /v3/domains/{domain}/credentials"} 30`,
		`smtpdesk_mailgun_retries_total{endpoint="GET /v3/domains/{domain}/credentials"} 1`)
}
