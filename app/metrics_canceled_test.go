package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/internal/testlog"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/metrics"
)

// TestMetricsCountNoUnsentMailgunCalls: smtpdesk_mailgun_calls_total's status 0 says that
// Mailgun gave no answer, which SMTPDeskMailgunFailing reads as Mailgun failing. A whole-domain
// read asks for its pages a few at a time under one context, ended when a page is refused (here
// a 400, which Mailgun did answer): the pages not yet asked for were still "attempted" on the
// ended context, and those in flight cut off, each counted as an attempt Mailgun did not answer.
// Now the first are not sent nor counted, and the second are counted as canceled.
func TestMetricsCountNoUnsentMailgunCalls(t *testing.T) {
	const token = "metrics-t0ken-for-tests"
	d, c := signedInDemo(t, DemoOptions{MetricsToken: token}, "admin")
	ctx := context.Background()
	const dom = "acme.example"
	if err := d.Sandbox.AddGeneratedLogins(dom, 6000); err != nil {
		t.Fatal(err)
	}
	// The domain's page keeps its login count: the export then asks for every page at once.
	if p, err := c.Get(ctx, "/d/"+dom); err != nil || p.Status != http.StatusOK {
		t.Fatalf("domain page: %v %v", p, err)
	}
	d.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteList}, Rate: 1, Status: http.StatusBadRequest, Message: "bad request"})
	d.Sandbox.ResetCalls()
	const series = `smtpdesk_mailgun_calls_total{endpoint="GET /v3/domains/{domain}/credentials",status="`
	before := scrapeMetrics(t, d, token)
	if p, err := c.Get(ctx, "/d/"+dom+"/export.csv"); err != nil || p.Status != http.StatusBadGateway {
		t.Fatalf("export: %v %v, want a 502", p, err)
	}
	d.Sandbox.SetFaults(sandbox.Faults{})
	sent, unanswered := 0, 0
	for _, call := range d.Sandbox.Calls() {
		if call.Route == sandbox.RouteList {
			sent++
			if call.Status == 0 {
				unanswered++
			}
		}
	}
	after := scrapeMetrics(t, d, token)
	value := func(body, status string) int { // 0 when the series is not there (yet)
		if !strings.Contains(body, series+status+`"} `) {
			return 0
		}
		return int(metricValue(t, body, series+status+`"}`))
	}
	counted := func(status string) int { return value(after, status) - value(before, status) }
	zero, refused, canceled := counted("0"), counted("400"), counted("canceled")
	t.Logf("list calls that reached Mailgun: %d (%d unanswered); counted: 0 ×%d, 400 ×%d, canceled ×%d", sent, unanswered, zero, refused, canceled)
	// A canceled attempt may or may not have reached the sandbox before it was given up.
	if zero > unanswered || refused < 1 || zero+refused > sent {
		t.Errorf("%d list calls reached Mailgun, %d unanswered; counted %d with no answer, %d refused (%d canceled): unsent or canceled ones counted as Mailgun's answer or silence:\n%s",
			sent, unanswered, zero, refused, canceled, grepLines(after, "GET /v3/domains/{domain}/credentials\",status"))
	}
}

// TestDownloadCutOffByShutdownIsNotAClientGone: a download the shutdown cut off (its context
// canceled with ErrServerStopping, as cmd/web's serve does past the grace period; the export
// then aborts) failed: the metrics and the access log count it 500, as the README says, not
// 499, which says its client left. A request cut off before answering is 503.
func TestDownloadCutOffByShutdownIsNotAClientGone(t *testing.T) {
	m := metrics.New(nil)
	var log testlog.Buffer
	e := echo.New()
	e.HTTPErrorHandler = handlers.ErrorHandler(nil)
	e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx, cut := context.WithCancelCause(c.Request().Context())
			cut(ErrServerStopping)
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	})
	handlers.Use(e, handlers.MiddlewareConfig{Logger: slog.New(slog.NewJSONHandler(&log, nil)), Metrics: m.Middleware(), NoGzip: true})
	e.GET("/page", func(c echo.Context) error {
		<-c.Request().Context().Done()
		return fmt.Errorf("list: %w", c.Request().Context().Err())
	})
	e.GET("/export.csv", func(c echo.Context) error {
		c.Response().WriteHeader(http.StatusOK)
		_, _ = c.Response().Write([]byte("login\n"))
		<-c.Request().Context().Done() // the next batch fails: the download is aborted
		panic(http.ErrAbortHandler)
	})
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/page", nil))
	func() {
		defer func() { _ = recover() }()
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/export.csv", nil))
	}()
	rec := httptest.NewRecorder()
	m.Handler("").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`smtpdesk_http_requests_total{method="GET",route="/page",status="503"} 1`,
		`smtpdesk_http_requests_total{method="GET",route="/export.csv",status="500"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s; it has:\n%s", want, grepLines(body, "smtpdesk_http_requests_total"))
		}
	}
	statuses := map[string]float64{}
	for _, line := range log.Lines() {
		var rec struct {
			Msg, Path string
			Status    float64
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "request" {
			statuses[rec.Path] = rec.Status
		}
	}
	if statuses["/page"] != 503 || statuses["/export.csv"] != 500 {
		t.Errorf("access log statuses %v, want /page 503 and /export.csv 500", statuses)
	}
}
