package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/handlers"
)

// flakyLastOK is the real audit trail whose password-age query fails while down is set, as a
// database that stops answering does.
type flakyLastOK struct {
	handlers.AuditLog
	down *atomic.Bool
}

func (f flakyLastOK) LastOK(ctx context.Context, domain, action string) (map[string]time.Time, error) {
	if f.down.Load() {
		return nil, errors.New("audit trail unavailable (test)")
	}
	return f.AuditLog.LastOK(ctx, domain, action)
}

// TestPasswordAgesUnread: when the audit trail cannot say when SMTP Desk last reset each
// password, the pages that mark logins by it say that their marks count from creation alone,
// and the logins exports refuse rather than hand a reviewer a file whose password ages look
// true and are not. Once the trail answers again, so do the pages: the failure is not kept.
func TestPasswordAgesUnread(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	e := newEnv(t, envOptions{AuditLog: func(l handlers.AuditLog) handlers.AuditLog { return flakyLastOK{l, &down} }})
	c := e.signIn(t, "admin")
	const note = "The audit trail could not be read just now, so password ages count from each login's creation"

	for _, path := range []string{"/d/example.com", "/d/example.com/delete-all"} {
		p := get(t, c, path)
		wantStatus(t, p, http.StatusOK)
		if got := p.TestID("flash-warning").Text(); !strings.Contains(got, note) {
			t.Errorf("%s with the trail down: warning %q, want it to say the ages count from creation", path, got)
		}
	}
	for _, path := range []string{"/d/example.com/export.csv", "/export.csv"} {
		p := get(t, c, path)
		wantStatus(t, p, http.StatusServiceUnavailable)
		if got := p.Text(); !strings.Contains(got, "Nothing was exported") || !strings.Contains(got, "password ages would be wrong") || !strings.Contains(got, "Try again in a minute") {
			t.Errorf("%s with the trail down: %q, want it to say nothing was exported and to try again", path, got)
		}
		if ct := p.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/csv") {
			t.Errorf("%s with the trail down sent %s, want the error page", path, ct)
		}
	}

	down.Store(false)
	p := get(t, c, "/d/example.com")
	wantStatus(t, p, http.StatusOK)
	if got := p.TestID("flash-warning").Text(); strings.Contains(got, note) {
		t.Errorf("with the trail back, the page still warns: %q", got)
	}
	wantStatus(t, get(t, c, "/d/example.com/export.csv"), http.StatusOK)
	wantStatus(t, get(t, c, "/export.csv"), http.StatusOK)
}
