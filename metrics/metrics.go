// Package metrics exposes SMTP Desk's Prometheus metrics: HTTP requests by route and status,
// Mailgun calls by endpoint and status, audit write durations and failures, refused requests,
// failures of the background jobs, whether the last policy reload took, active sessions and the
// Go runtime. Each Metrics value owns its own registry, so tests and several apps in one process
// never share counters.
package metrics

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// SessionCounter reports how many sessions are active now.
type SessionCounter func(ctx context.Context) (int64, error)

// Metrics holds the collectors and the registry they are registered with.
type Metrics struct {
	reg *prometheus.Registry

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	mailgunCalls    *prometheus.CounterVec
	mailgunDuration *prometheus.HistogramVec
	mailgunRetries  *prometheus.CounterVec
	auditWrites     prometheus.Histogram
	auditFailures   prometheus.Counter
	uncompressed    prometheus.Counter
	accessDenied    *prometheus.CounterVec
	background      *prometheus.CounterVec
	policyOK        prometheus.Gauge
	policyLoadedAt  prometheus.Gauge
}

// Task names a background job whose failures smtpdesk_background_failures_total counts, by its
// task label. (Not "job": Prometheus gives every scraped series a job label of its own, the
// scrape job's, and would rename this one exported_job.)
type Task string

// The background jobs: a fixed set, so the task label stays bounded, each exposed from zero.
const (
	TaskAuditRetention     Task = "audit_retention"      // AUDIT_RETENTION's hourly deletion
	TaskSessionsCleanup    Task = "sessions_cleanup"     // the janitor deleting expired sessions
	TaskFormTokensCleanup  Task = "form_tokens_cleanup"  // the janitor deleting used form tokens
	TaskPolicyReload       Task = "policy_reload"        // a reload (SIGHUP) that kept the old policy
	TaskPolicyDomainsCheck Task = "policy_domains_check" // the policy's domains not compared with Mailgun's
)

// Tasks lists every Task, in the order the README names them.
var Tasks = []Task{TaskAuditRetention, TaskSessionsCleanup, TaskFormTokensCleanup, TaskPolicyReload, TaskPolicyDomainsCheck}

// requestBuckets span what a request takes: well under a millisecond for a page from the list
// cache, a static file or a health check; tens of seconds for a page waiting on Mailgun's retries
// or a large export (the server's write timeout is 90 s).
var requestBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 90}

// auditBuckets span an audit write: a fraction of a millisecond, or seconds while the database
// is busy (store.DefaultTimeout, SQLite's busy timeout: 10 s).
var auditBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New builds the metrics and registers them with a fresh registry. sessions may be nil; when
// set, it is called at scrape time for the active-sessions gauge.
func New(sessions SessionCounter) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smtpdesk_http_requests_total",
			Help: "HTTP requests served, by route template, method and status.",
		}, []string{"route", "method", "status"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "smtpdesk_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route template, method and status.",
			Buckets: requestBuckets,
		}, []string{"route", "method", "status"}),
		mailgunCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smtpdesk_mailgun_calls_total",
			Help: "HTTP attempts made to Mailgun, by endpoint template and status (0 when no answer came, unreadable for a 2xx whose body could not be read as Mailgun's answer, canceled when SMTP Desk gave up waiting: the user left, another page of the same read failed, or the server is stopping).",
		}, []string{"endpoint", "status"}),
		mailgunDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "smtpdesk_mailgun_call_duration_seconds",
			Help:    "Duration of one HTTP attempt to Mailgun, by endpoint template (not those SMTP Desk gave up waiting for).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"endpoint"}),
		mailgunRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smtpdesk_mailgun_retries_total",
			Help: "Retried attempts to Mailgun (attempts after the first), by endpoint template.",
		}, []string{"endpoint"}),
		auditWrites: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "smtpdesk_audit_write_duration_seconds",
			Help:    "Time to write one audit record (a pending entry, an event or a completion), every attempt included.",
			Buckets: auditBuckets,
		}),
		auditFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smtpdesk_audit_write_failures_total",
			Help: "Audit writes (pending entry, event or completion) the database refused or did not answer; each attempt counts. SMTP Desk refuses a change whose pending entry it cannot write.",
		}),
		uncompressed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smtpdesk_http_uncompressed_busy_total",
			Help: "Answers sent uncompressed because every gzip writer stayed busy past the wait (slow downloads holding them).",
		}),
		accessDenied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smtpdesk_access_denied_total",
			Help: "Requests of signed-in users refused by the access policy, by refused action and by what became of their audit entry: recorded, suppressed (counted in the next entry of the same user, domain, action and login) or failed (the write failed).",
		}, []string{"action", "audit"}),
		background: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smtpdesk_background_failures_total",
			Help: "Failed runs of the background jobs, by task: audit_retention, sessions_cleanup, form_tokens_cleanup, policy_reload (the previous policy stays in force), policy_domains_check (Mailgun could not be asked for its domains). Each task is exposed from zero.",
		}, []string{"task"}),
		policyOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "smtpdesk_policy_last_reload_successful",
			Help: "1 when the policy file's last load (the start or the last reload) took, 0 when the last reload failed and the previous policy stays in force.",
		}),
		policyLoadedAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "smtpdesk_policy_last_reload_success_timestamp_seconds",
			Help: "When the policy in force was loaded (at start or by the last reload that took), in seconds since the epoch.",
		}),
	}
	for _, j := range Tasks {
		m.background.WithLabelValues(string(j)) // exposed from zero: an alert sees the first failure
	}
	m.reg.MustRegister(m.requests, m.requestDuration, m.mailgunCalls, m.mailgunDuration,
		m.mailgunRetries, m.auditWrites, m.auditFailures, m.uncompressed, m.accessDenied,
		m.background, m.policyOK, m.policyLoadedAt,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if sessions != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "smtpdesk_active_sessions",
			Help: "Sessions that are neither idle-expired nor past their absolute lifetime.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := sessions(ctx)
			if err != nil {
				return -1 // a visible "unknown" rather than a misleading zero
			}
			return float64(n)
		}))
	}
	return m
}

// Middleware counts and times every request by its route template (never the raw path, whose
// domains and logins would make the series unbounded). Install it outside the middleware that
// answers on its own (recover, the body limit: handlers.MiddlewareConfig.Metrics), or what they
// answer is not counted.
func (m *Metrics) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			defer func() {
				if r := recover(); r != nil {
					// A panic that no middleware inside recovers: http.ErrAbortHandler, a
					// download aborted half-way (its 200 long sent). It failed, unless its
					// client had left first (not the server cutting it off: a shutdown cancels
					// the context with a cause of its own).
					status := http.StatusInternalServerError
					if ctx := c.Request().Context(); ctx.Err() != nil && context.Cause(ctx) == context.Canceled {
						status = statusClientClosedRequest
					}
					m.observeRequest(c, status, start)
					panic(r)
				}
			}()
			if err := next(c); err != nil {
				// Hand the error to the error handler now, as the access log does, so that the
				// status counted is the one sent: the handler turns a Mailgun failure into 502,
				// 504, 404 or 429, which guessing from the error would count as 500.
				c.Error(err)
			}
			m.observeRequest(c, c.Response().Status, start)
			return nil
		}
	}
}

// statusClientClosedRequest is the status of a request whose client left before its answer
// was whole (handlers.StatusClientClosedRequest, nginx's 499).
const statusClientClosedRequest = 499

// observeRequest counts and times one request answered with status.
func (m *Metrics) observeRequest(c echo.Context, status int, start time.Time) {
	route := c.Path()
	if route == "" {
		route = "unmatched"
	}
	method, code := methodLabel(c.Request().Method), strconv.Itoa(status)
	m.requests.WithLabelValues(route, method, code).Inc()
	m.requestDuration.WithLabelValues(route, method, code).Observe(time.Since(start).Seconds())
}

// methodLabel is a request's method as a label: one of the standard methods, or "other". Go's
// server accepts any token as a method, and the label is set before sign-in, so the raw method
// would let anyone add series without end.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// StatusUnreadable is the status label of a Mailgun attempt answered 2xx whose body could not be
// read as Mailgun's answer (not JSON, fields missing, too long): the user is told the answer was
// unreadable, so a dashboard must not count it with the 200s.
const StatusUnreadable = "unreadable"

// StatusCanceled is the status label of a Mailgun attempt that SMTP Desk gave up waiting for
// (the user left, another page of the same read failed, the server is stopping): it says
// nothing about Mailgun, so it is not counted with the attempts that got no answer (0).
const StatusCanceled = "canceled"

// MailgunAttempt is one HTTP attempt to Mailgun, as ObserveMailgun records it.
type MailgunAttempt struct {
	Endpoint string // the route template with its method, never the concrete URL
	Status   int    // 0 when no answer came
	// Unreadable says that a 2xx answer's body could not be read (counted as
	// StatusUnreadable); Canceled that the caller gave up before an answer came (counted as
	// StatusCanceled, its cut-short duration not observed).
	Unreadable, Canceled bool
	Duration             time.Duration
	Attempt              int // from 1
}

// ObserveMailgun records one HTTP attempt to Mailgun.
func (m *Metrics) ObserveMailgun(a MailgunAttempt) {
	label := strconv.Itoa(a.Status)
	switch {
	case a.Unreadable:
		label = StatusUnreadable
	case a.Canceled:
		label = StatusCanceled
	}
	m.mailgunCalls.WithLabelValues(a.Endpoint, label).Inc()
	if !a.Canceled {
		m.mailgunDuration.WithLabelValues(a.Endpoint).Observe(a.Duration.Seconds())
	}
	if a.Attempt > 1 {
		m.mailgunRetries.WithLabelValues(a.Endpoint).Inc()
	}
}

// ObserveAuditWrite records the duration of one audit write.
func (m *Metrics) ObserveAuditWrite(d time.Duration) { m.auditWrites.Observe(d.Seconds()) }

// CountAuditWriteFailure records one audit write that failed. The counter is exposed from zero,
// so an alert on its rate sees the first failure.
func (m *Metrics) CountAuditWriteFailure() { m.auditFailures.Inc() }

// CountUncompressed records an answer sent uncompressed because no gzip writer came free in time.
func (m *Metrics) CountUncompressed() { m.uncompressed.Inc() }

// CountAccessDenied records one refused request. action is the refused action ("view",
// "delete_all", "audit_verify"…) and audit what became of its audit entry ("recorded",
// "suppressed", "failed"): both come from a fixed set in the caller, never from a URL.
func (m *Metrics) CountAccessDenied(action, audit string) {
	m.accessDenied.WithLabelValues(action, audit).Inc()
}

// CountBackgroundFailure records one failed run of a background job (one of Tasks). A run that
// stopped because SMTP Desk was stopping is no failure: the caller does not count it.
func (m *Metrics) CountBackgroundFailure(task Task) { m.background.WithLabelValues(string(task)).Inc() }

// PolicyLoaded records that the policy file was loaded at t (at start, or by a reload that took).
func (m *Metrics) PolicyLoaded(t time.Time) {
	m.policyOK.Set(1)
	m.policyLoadedAt.Set(float64(t.UnixNano()) / 1e9)
}

// PolicyReloadFailed records a reload that failed: the previous policy stays in force, so the
// gauge stays 0 until a reload takes, and the failure is counted as the policy_reload task's.
func (m *Metrics) PolicyReloadFailed() {
	m.policyOK.Set(0)
	m.CountBackgroundFailure(TaskPolicyReload)
}

// Handler serves the metrics in Prometheus format. When token is not empty, a request must
// carry "Authorization: Bearer <token>"; otherwise it is answered 401.
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	// The digests are compared, not the values: ConstantTimeCompare returns at once when the
	// lengths differ, which told a prober the token's length. The scheme's name is matched in any
	// letter case, as HTTP's authentication schemes are (RFC 9110 11.1).
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(cred))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need a bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
