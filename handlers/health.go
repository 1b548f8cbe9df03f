package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smtpdesk/smtpdesk/store"
)

// Pinger is the database as the readiness check sees it. *store.DB satisfies it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Readiness defaults.
const (
	// ReadyPingTimeout bounds the database ping of /readyz.
	ReadyPingTimeout = 2 * time.Second
	// MailgunFresh is how recent Mailgun's last answer must be to count as "answered recently".
	MailgunFresh = 5 * time.Minute
)

// Health serves /healthz (the process is alive) and /readyz (the database answers; Mailgun's
// state is reported but does not make the instance unready: Mailgun being down is not fixed by
// sending traffic elsewhere).
type Health struct {
	// Logger receives database ping failures (discarded when nil).
	Logger *slog.Logger

	db          Pinger
	mailgunSeen func() time.Time
	now         func() time.Time
}

// NewHealth builds the health endpoints. mailgunSeen returns when Mailgun last answered (zero:
// never), now is the clock; nil funcs mean "never" and time.Now.
func NewHealth(db Pinger, mailgunSeen func() time.Time, now func() time.Time) *Health {
	if mailgunSeen == nil {
		mailgunSeen = func() time.Time { return time.Time{} }
	}
	if now == nil {
		now = time.Now
	}
	return &Health{db: db, mailgunSeen: mailgunSeen, now: now}
}

// Register adds /healthz and /readyz, for GET and HEAD (some uptime monitors send HEAD; without
// its route, it fell through to the pages' catch-all and was redirected to sign-in).
func (h *Health) Register(e *echo.Echo) {
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		e.Add(m, "/healthz", h.Live)
		e.Add(m, "/readyz", h.Ready)
	}
}

// healthPath reports whether p is one of the health checks (Live, Ready): answered the same to
// everyone, needing no session, not worth compressing, and logged at debug level only.
func healthPath(p string) bool { return p == "/healthz" || p == "/readyz" }

// Live answers 200 "ok" without touching the database or Mailgun.
func (h *Health) Live(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.String(http.StatusOK, "ok")
}

// ReadyReport is /readyz's JSON body.
type ReadyReport struct {
	Status   string        `json:"status"`   // "ready" or "unready"
	Database string        `json:"database"` // "ok", "unreachable" or "damaged" (restore the SQLite file from a backup)
	Mailgun  MailgunStatus `json:"mailgun"`
}

// MailgunStatus says when Mailgun last answered (LastSeen in UTC).
type MailgunStatus struct {
	State      string     `json:"state"` // "ok" (answered within MailgunFresh), "stale" or "unknown" (never since start)
	LastSeen   *time.Time `json:"last_seen,omitempty"`
	AgeSeconds *int64     `json:"age_seconds,omitempty"`
}

// Ready answers 200 when the database answers a ping within ReadyPingTimeout, 503 otherwise, with
// a ReadyReport: "damaged" when a request found the SQLite file damaged (store.Damaged; restarting
// or sending traffic elsewhere does not mend it), "unreachable" for any other failure. The
// database error itself goes to the log, not the body.
func (h *Health) Ready(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	rep := ReadyReport{Status: "ready", Database: "ok", Mailgun: h.mailgunStatus()}
	status := http.StatusOK
	if err := h.ping(c.Request().Context()); err != nil {
		rep.Status, rep.Database, status = "unready", "unreachable", http.StatusServiceUnavailable
		if store.Damaged(err) {
			rep.Database = "damaged"
		}
		if h.Logger != nil {
			h.Logger.LogAttrs(c.Request().Context(), slog.LevelError, "readyz: database ping failed",
				slog.String("request_id", RequestID(c)), slog.String("error", err.Error()))
		}
	}
	return c.JSON(status, rep)
}

func (h *Health) ping(ctx context.Context) error {
	if h.db == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, ReadyPingTimeout)
	defer cancel()
	return h.db.Ping(ctx)
}

func (h *Health) mailgunStatus() MailgunStatus {
	seen := h.mailgunSeen()
	if seen.IsZero() {
		return MailgunStatus{State: "unknown"}
	}
	seen = seen.UTC() // as every time SMTP Desk gives, whatever the server's zone (TZ)
	age := h.now().Sub(seen)
	secs := int64(age / time.Second)
	st := MailgunStatus{State: "ok", LastSeen: &seen, AgeSeconds: &secs}
	if age > MailgunFresh {
		st.State = "stale"
	}
	return st
}
