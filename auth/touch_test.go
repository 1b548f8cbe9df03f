package auth_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/app"
	"github.com/smtpdesk/smtpdesk/auth"
)

// flakyWrites is the store with session writes that fail while failing is set, as a database
// that answers reads but not writes for a moment (SQLite's busy timeout, a PostgreSQL failover).
// While vanishing is set, the record is deleted just before the write, as when the user signs
// out in another tab between this request's read of the session and its activity write.
type flakyWrites struct {
	auth.SessionRepo
	failing, vanishing atomic.Bool
}

func (f *flakyWrites) UpdateSession(ctx context.Context, id string, data []byte, lastSeen time.Time) error {
	if f.failing.Load() {
		return errors.New("database is locked")
	}
	if f.vanishing.Load() {
		if err := f.SessionRepo.DeleteSession(ctx, id); err != nil {
			return err
		}
	}
	return f.SessionRepo.UpdateSession(ctx, id, data, lastSeen)
}

// A failed write of the activity time says nothing about the session: it is still there, and
// the request goes on signed in. Only a session that is gone (ErrNotFound) signs the browser
// out; before, any failure cleared the cookie, so a moment of database trouble signed out every
// user who clicked during it, for good.
func TestSessionTouchFailureKeepsTheSession(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	b.signIn("admin")
	repo := &flakyWrites{SessionRepo: app.SessionRepo(h.db)}
	h.repo = repo
	h.restart(h.cfg.SessionKeys)

	repo.failing.Store(true)
	h.clock.Add(2 * time.Minute) // past the once-a-minute activity write
	pg := b.get("/protected")
	if pg.resp.StatusCode != http.StatusOK {
		t.Fatalf("with session writes failing = %d, want 200 (still signed in)", pg.resp.StatusCode)
	}
	if c := findSetCookie(pg.resp, auth.CookieName); c != nil {
		t.Errorf("with session writes failing, the answer set the session cookie: %+v", c)
	}

	repo.failing.Store(false)
	h.clock.Add(2 * time.Minute)
	if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
		t.Fatalf("once writes work again = %d, want 200", pg.resp.StatusCode)
	}

	// A session that goes between the read and the activity write (ErrSessionNotFound from
	// the write) signs the browser out: the request is not served as the user.
	repo.vanishing.Store(true)
	h.clock.Add(2 * time.Minute)
	pg = b.get("/protected")
	if loc := location(t, pg); loc == "" {
		t.Fatalf("a session gone before its activity write = %d, want a redirect to sign in", pg.resp.StatusCode)
	}
	if c := findSetCookie(pg.resp, auth.CookieName); c == nil || c.MaxAge >= 0 {
		t.Errorf("a session gone before its activity write: cookie not cleared: %+v", c)
	}
	repo.vanishing.Store(false)

	// A session that is gone before the read still signs the browser out.
	b.signIn("admin")
	if _, err := h.db.DeleteSessionsMatching(context.Background(), func([]byte) bool { return true }); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(2 * time.Minute)
	pg = b.get("/protected")
	if loc := location(t, pg); loc == "" {
		t.Fatal("no redirect")
	}
	if c := findSetCookie(pg.resp, auth.CookieName); c == nil || c.MaxAge >= 0 {
		t.Errorf("a deleted session's cookie was not cleared: %+v", c)
	}
}
