package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

type fakePinger struct{ err error }

func (f fakePinger) Ping(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("ping without a deadline")
	}
	return f.err
}

func TestHealthz(t *testing.T) {
	e := echo.New()
	NewHealth(fakePinger{err: errors.New("down")}, nil, nil).Register(e)
	rec := serve(e, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != 200 || rec.Body.String() != "ok" {
		t.Errorf("healthz = %d %q, want 200 ok (even with the database down)", rec.Code, rec.Body)
	}
}

func TestReadyz(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		dbErr      error
		seen       time.Time
		now        time.Time
		status     int
		wantReady  string
		wantDB     string
		wantMG     string
		wantAgeSec int64
	}{
		{"ready, mailgun never called", nil, time.Time{}, start, 200, "ready", "ok", "unknown", -1},
		{"ready, mailgun fresh", nil, start, start.Add(90 * time.Second), 200, "ready", "ok", "ok", 90},
		{"ready, mailgun stale", nil, start, start.Add(6 * time.Minute), 200, "ready", "ok", "stale", 360},
		{"db down", errors.New("dial tcp 10.0.0.5:5432: password authentication failed"), start, start, 503, "unready", "unreachable", "ok", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := echo.New()
			NewHealth(fakePinger{err: tt.dbErr}, func() time.Time { return tt.seen }, func() time.Time { return tt.now }).Register(e)
			rec := serve(e, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if strings.Contains(rec.Body.String(), "password") {
				t.Error("the database error leaks into the body")
			}
			var rep ReadyReport
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if rep.Status != tt.wantReady || rep.Database != tt.wantDB || rep.Mailgun.State != tt.wantMG {
				t.Errorf("report = %+v, want %s/%s/%s", rep, tt.wantReady, tt.wantDB, tt.wantMG)
			}
			if tt.wantAgeSec >= 0 && (rep.Mailgun.AgeSeconds == nil || *rep.Mailgun.AgeSeconds != tt.wantAgeSec) {
				t.Errorf("age = %v, want %d", rep.Mailgun.AgeSeconds, tt.wantAgeSec)
			}
		})
	}
}

// TestReadyzLastSeenInUTC: /readyz gives when Mailgun last answered in UTC, as SMTP Desk gives
// every time, whatever the server's time zone: the app's clock reads in the local zone (TZ), and
// a monitor comparing instances in different zones read "12:00:00Z" and "13:00:00+01:00".
func TestReadyzLastSeenInUTC(t *testing.T) {
	seen := time.Date(2026, 3, 1, 13, 0, 0, 0, time.FixedZone("CET", 3600))
	e := echo.New()
	NewHealth(fakePinger{}, func() time.Time { return seen }, func() time.Time { return seen.Add(time.Minute) }).Register(e)
	rec := serve(e, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var body struct {
		Mailgun struct {
			LastSeen string `json:"last_seen"`
		} `json:"mailgun"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if got, want := body.Mailgun.LastSeen, "2026-03-01T12:00:00Z"; got != want {
		t.Errorf("last_seen = %q, want %q", got, want)
	}
}
