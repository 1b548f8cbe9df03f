package auth_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/app"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/store"
)

// signedOutAnswer checks that pg sends the browser to sign in and clears its session cookie.
func signedOutAnswer(t *testing.T, what string, pg page) {
	t.Helper()
	if loc := location(t, pg); !strings.HasPrefix(loc, auth.LoginPath) {
		t.Errorf("%s: redirected to %q, want sign-in", what, loc)
	}
	if c := findSetCookie(pg.resp, auth.CookieName); c == nil || c.MaxAge >= 0 {
		t.Errorf("%s: session cookie not cleared: %+v", what, c)
	}
}

// TestIdleTimeoutBoundary: a session whose recorded activity is as old as the idle timeout and
// the minute between activity writes (auth.IdleLimit) has ended (as the sweep and the
// active-sessions count judge it: last_seen <= now-limit): the browser is signed out, its cookie
// cleared, and the record deleted at once rather than left for the sweep.
func TestIdleTimeoutBoundary(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	limit := auth.IdleLimit(30 * time.Minute)
	if limit != 31*time.Minute {
		t.Fatalf("IdleLimit(30m) = %v, want 31m", limit)
	}
	b := h.browser()
	b.signIn("admin")
	id := b.sessionID()
	h.clock.Add(limit - time.Nanosecond)
	if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
		t.Fatalf("activity a nanosecond short of 31 min old = %d, want 200", pg.resp.StatusCode)
	}
	b2 := h.browser()
	b2.signIn("reviewer")
	id2 := b2.sessionID()
	h.clock.Add(limit)
	signedOutAnswer(t, "activity exactly 31 min old", b2.get("/protected"))
	if _, err := h.db.GetSession(context.Background(), id2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record of the expired session: err = %v, want it deleted", err)
	}
	// The first browser's last activity write was at sign-in + 30m59.999999999s.
	signedOutAnswer(t, "31 min after the last write", b.get("/protected"))
	if _, err := h.db.GetSession(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record of the expired session: err = %v, want it deleted", err)
	}
}

// TestLongestSessionSettingsKeepSessions: at the longest SESSION_IDLE_TIMEOUT and SESSION_MAX_AGE
// config accepts (106751d, TestAcceptedAtTheLimits), a session lives on. Up to the largest
// duration, which config took before, the idle limit and the cookie's age (a minute more)
// wrapped negative, and every session ended at its next request.
func TestLongestSessionSettingsKeepSessions(t *testing.T) {
	longest := 106751 * 24 * time.Hour
	if limit := auth.IdleLimit(longest); limit <= longest {
		t.Fatalf("IdleLimit(%v) = %v", longest, limit)
	}
	h := newHarness(t, harnessOpts{idle: longest, maxAge: longest})
	b := h.browser()
	b.signIn("admin")
	for _, step := range []time.Duration{2 * time.Minute, 24 * time.Hour, 1000 * 24 * time.Hour} {
		h.clock.Add(step)
		if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
			t.Fatalf("%v later = %d, want the session still live", step, pg.resp.StatusCode)
		}
	}
}

// TestActivityWrittenOnceAMinute: activity is written when a minute (or more) has passed since
// the last write, and the idle timeout counts from that write: a request exactly a minute after
// sign-in moves the idle window, so 29m30s later the session is still live.
func TestActivityWrittenOnceAMinute(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	b.signIn("admin")
	h.clock.Add(time.Minute)
	if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
		t.Fatalf("a minute after sign-in = %d", pg.resp.StatusCode)
	}
	h.clock.Add(29*time.Minute + 30*time.Second)
	if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
		t.Errorf("30m30s after sign-in, 29m30s after the activity a minute in = %d, want 200 (that activity was written)", pg.resp.StatusCode)
	}
}

// TestRecordExpiryOutlastsALongerMaxAge: a session ends at the expiry its record was given when
// it was made (the one the sweep goes by), even after a restart with a longer absolute lifetime.
func TestRecordExpiryOutlastsALongerMaxAge(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	b.signIn("admin")
	h.cfg.AbsoluteTimeout = 24 * time.Hour
	h.restart(testKeys(1))
	for elapsed := 20 * time.Minute; elapsed < 12*time.Hour; elapsed += 20 * time.Minute {
		h.clock.Add(20 * time.Minute)
		if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
			t.Fatalf("active session refused after %v", elapsed)
		}
	}
	h.clock.Add(20 * time.Minute) // 12 h exactly
	signedOutAnswer(t, "12 h after a sign-in under a 12 h lifetime, now 24 h", b.get("/protected"))
}

// TestStaleCookieCleared: a cookie naming a session that is gone (signed out) or that nobody
// can decode is cleared in the answer that finds it so, not sent again with every request.
func TestStaleCookieCleared(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	tok := csrfOf(t, b.signIn("admin"))
	saved := b.sessionCookie()
	location(t, b.do(http.MethodPost, auth.LogoutPath, map[string][]string{"_csrf": {tok}}, nil))
	signedOutAnswer(t, "a signed-out session's cookie", h.withCookie(saved).get("/protected"))
	signedOutAnswer(t, "an undecodable cookie", h.withCookie(&http.Cookie{Name: auth.CookieName, Value: "garbage"}).get("/protected"))
	if pg := h.browser().get("/"); findSetCookie(pg.resp, auth.CookieName) != nil {
		t.Errorf("a request without a cookie got a session Set-Cookie: %v", pg.resp.Header["Set-Cookie"])
	}
}

// failingReads is the store with session reads that fail while failing is set.
type failingReads struct {
	auth.SessionRepo
	failing atomic.Bool
}

func (f *failingReads) GetSession(ctx context.Context, id string) (auth.SessionRecord, error) {
	if f.failing.Load() {
		return auth.SessionRecord{}, errors.New("connection refused")
	}
	return f.SessionRepo.GetSession(ctx, id)
}

// TestSessionReadFailureIsNotSignedOut: while the session cannot be read (the database down),
// a request with a session cookie fails, on a page that needs a session and on one that does
// not: it is not answered as if signed out, and the cookie is kept, so that the session goes on
// when the database is back.
func TestSessionReadFailureIsNotSignedOut(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	repo := &failingReads{SessionRepo: app.SessionRepo(h.db)}
	h.repo = repo
	h.restart(testKeys(1))
	b := h.browser()
	b.signIn("admin")
	repo.failing.Store(true)
	for _, path := range []string{"/protected", "/"} {
		pg := b.get(path)
		if pg.resp.StatusCode != http.StatusInternalServerError || findSetCookie(pg.resp, auth.CookieName) != nil {
			t.Errorf("GET %s while sessions cannot be read = %d (Set-Cookie %v), want 500 and the cookie left alone",
				path, pg.resp.StatusCode, pg.resp.Header["Set-Cookie"])
		}
	}
	repo.failing.Store(false)
	if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
		t.Errorf("after the database is back = %d, want still signed in", pg.resp.StatusCode)
	}
}

// TestShorterMaxAgeAppliesToExistingSessions: a lifetime shortened by a restart ends the
// sessions made before it as soon as they are that old, the moment itself included.
func TestShorterMaxAgeAppliesToExistingSessions(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	b.signIn("admin")
	h.cfg.AbsoluteTimeout = time.Hour
	h.restart(testKeys(1))
	for range 2 {
		h.clock.Add(20 * time.Minute)
		if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
			t.Fatalf("active session under the new 1 h lifetime refused at %d", pg.resp.StatusCode)
		}
	}
	h.clock.Add(20 * time.Minute) // 1 h exactly
	signedOutAnswer(t, "1 h after sign-in under a lifetime shortened to 1 h", b.get("/protected"))
}

// redated is the securecookie value v of the cookie name dated at instead: securecookie dates a
// value by the real clock, which the test clock does not move, so the test signs the value
// again with the test's hash key under another date.
func redated(t *testing.T, name, v string, at time.Time) string {
	t.Helper()
	raw, err := base64.URLEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	parts := bytes.SplitN(raw, []byte("|"), 3) // date|value|mac: the value is base64, the mac binary
	if len(parts) != 3 {
		t.Fatalf("not a securecookie value: %q", raw)
	}
	signed := fmt.Sprintf("%d|%s", at.Unix(), parts[1])
	mac := hmac.New(sha256.New, testKeys(1)[0])
	mac.Write([]byte(name + "|" + signed))
	return base64.URLEncoding.EncodeToString(append([]byte(signed+"|"), mac.Sum(nil)...))
}

// TestSessionCookieLastsTheSessionsLifetime: the signed cookie is good for the session's whole
// lifetime (12 h, by its own date), not for the idle timeout's: an active session whose cookie
// was set 11 h ago goes on, and one set 13 h ago is refused whatever its record says.
func TestSessionCookieLastsTheSessionsLifetime(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	b.signIn("admin")
	c := b.sessionCookie()
	for _, tc := range []struct {
		age  time.Duration
		want int
	}{{11 * time.Hour, http.StatusOK}, {13 * time.Hour, http.StatusFound}} {
		old := redated(t, c.Name, c.Value, time.Now().Add(-tc.age))
		if pg := h.withCookie(&http.Cookie{Name: c.Name, Value: old}).get("/protected"); pg.resp.StatusCode != tc.want {
			t.Errorf("session cookie dated %v ago = %d, want %d", tc.age, pg.resp.StatusCode, tc.want)
		}
	}
	if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
		t.Errorf("the cookie as set = %d, want 200", pg.resp.StatusCode)
	}
}

// TestUnreadableRecordDropped: a session record whose data cannot be read is as good as no
// session: the browser is signed out, its cookie cleared and the record deleted.
func TestUnreadableRecordDropped(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	b.signIn("admin")
	ctx := context.Background()
	id := b.sessionID()
	rec, err := h.db.GetSession(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.db.UpdateSession(ctx, id, rec.Data, []byte(`{"user":`), rec.LastSeen); err != nil {
		t.Fatal(err)
	}
	signedOutAnswer(t, "a record that does not decode", b.get("/protected"))
	if _, err := h.db.GetSession(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the unreadable record: err = %v, want it deleted", err)
	}
}

// failingCreate is the store with session records that cannot be made while failing is set.
type failingCreate struct {
	auth.SessionRepo
	failing atomic.Bool
}

func (f *failingCreate) CreateSession(ctx context.Context, rec auth.SessionRecord) error {
	if f.failing.Load() {
		return errors.New("disk full")
	}
	return f.SessionRepo.CreateSession(ctx, rec)
}

// TestSignInFailsWhenTheSessionCannotBeStored: a sign-in whose session record cannot be written
// fails (500) without a session cookie or a sign-in entry in the trail, rather than sending the
// browser on with a cookie that names no session.
func TestSignInFailsWhenTheSessionCannotBeStored(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	repo := &failingCreate{SessionRepo: app.SessionRepo(h.db)}
	repo.failing.Store(true)
	h.repo = repo
	h.restart(testKeys(1))
	b := h.browser()
	pg := b.get(b.toCallback("/protected", "admin"))
	if pg.resp.StatusCode != http.StatusInternalServerError || findSetCookie(pg.resp, auth.CookieName) != nil || h.events.count(auth.ActionSignIn) != 0 {
		t.Errorf("callback with the session store failing = %d (Set-Cookie %v, %d sign-in entries), want 500, no cookie, none",
			pg.resp.StatusCode, pg.resp.Header["Set-Cookie"], h.events.count(auth.ActionSignIn))
	}
}

// TestIdleTimeoutCountsFromTheLastRequest: the README promises SESSION_IDLE_TIMEOUT signs out
// "after this long without a request". Activity is written at most once a minute, and the idle
// time counted from that write alone signed out a user who opened a form 59 s after the last
// write and sent it 29m30s later, before 30 minutes without a request. A session ends after the
// idle timeout without a request, and at most a minute later.
func TestIdleTimeoutCountsFromTheLastRequest(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, tc := range []struct {
		idle time.Duration // since the last request
		want int
	}{
		{29*time.Minute + 30*time.Second, http.StatusOK},
		{30*time.Minute - time.Nanosecond, http.StatusOK},
		{30*time.Minute + time.Second, http.StatusFound}, // 31 min after the last write
	} {
		b := h.browser()
		b.signIn("admin")
		h.clock.Add(59 * time.Second) // the user opens a page (the form): no write, under a minute
		if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
			t.Fatalf("59 s after sign-in = %d", pg.resp.StatusCode)
		}
		h.clock.Add(tc.idle) // typing; no request in between
		if pg := b.get("/protected"); pg.resp.StatusCode != tc.want {
			t.Errorf("%v after the last request (idle timeout 30m): status %d, Location %q; want %d",
				tc.idle, pg.resp.StatusCode, pg.resp.Header.Get("Location"), tc.want)
		}
	}
}

// leavingClient is the store with a client that leaves (its request cancelled) right after its
// session was read: what a browser does when its user signs out and closes the laptop at once.
type leavingClient struct {
	auth.SessionRepo
	leave atomic.Pointer[context.CancelFunc]
}

func (l *leavingClient) GetSession(ctx context.Context, id string) (auth.SessionRecord, error) {
	rec, err := l.SessionRepo.GetSession(ctx, id)
	if cancel := l.leave.Load(); cancel != nil {
		(*cancel)()
	}
	return rec, err
}

// TestSignOutCompletesWhenTheClientLeaves: a sign-out whose client left once its session was
// read still deletes the session's record. It was deleted with the request's context, refused
// once that was cancelled, and the session stayed live until its idle timeout.
func TestSignOutCompletesWhenTheClientLeaves(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	repo := &leavingClient{SessionRepo: app.SessionRepo(h.db)}
	h.repo = repo
	h.restart(testKeys(1))
	b := h.browser()
	tok := csrfOf(t, b.signIn("admin"))
	id := b.sessionID()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+auth.LogoutPath, strings.NewReader(url.Values{"_csrf": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", h.srv.URL)
	req.AddCookie(b.sessionCookie())
	repo.leave.Store(&cancel)
	h.app.Load().ServeHTTP(httptest.NewRecorder(), req)
	repo.leave.Store(nil)
	if ctx.Err() == nil {
		t.Fatal("the request was not cancelled: the test's premise fails")
	}
	if _, err := h.db.GetSession(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the session's record after a sign-out whose client left: err = %v, want it deleted", err)
	}
}
