package auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
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

func (f *flakyWrites) UpdateSession(ctx context.Context, id string, old, data []byte, lastSeen time.Time) error {
	if err := f.before(ctx, id); err != nil {
		return err
	}
	return f.SessionRepo.UpdateSession(ctx, id, old, data, lastSeen)
}

func (f *flakyWrites) TouchSession(ctx context.Context, id string, lastSeen time.Time) error {
	if err := f.before(ctx, id); err != nil {
		return err
	}
	return f.SessionRepo.TouchSession(ctx, id, lastSeen)
}

func (f *flakyWrites) before(ctx context.Context, id string) error {
	if f.failing.Load() {
		return errors.New("database is locked")
	}
	if f.vanishing.Load() {
		return f.SessionRepo.DeleteSession(ctx, id)
	}
	return nil
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

// interleaved is the store with a hook that runs once, just before the next session write goes
// to the database: another request of the same session, landing between this request's read of
// the session and its write.
type interleaved struct {
	auth.SessionRepo
	next atomic.Pointer[func()]
}

func (r *interleaved) run() {
	if f := r.next.Swap(nil); f != nil {
		(*f)()
	}
}

func (r *interleaved) UpdateSession(ctx context.Context, id string, old, data []byte, lastSeen time.Time) error {
	r.run()
	return r.SessionRepo.UpdateSession(ctx, id, old, data, lastSeen)
}

func (r *interleaved) TouchSession(ctx context.Context, id string, lastSeen time.Time) error {
	r.run()
	return r.SessionRepo.TouchSession(ctx, id, lastSeen)
}

// interleavedHarness is a harness whose session writes go through an interleaved repo, and a
// browser signed in to it as the admin, with the session's CSRF token.
func interleavedHarness(t *testing.T) (*harness, *browser, string, *interleaved) {
	t.Helper()
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	tok := csrfOf(t, b.signIn("admin"))
	repo := &interleaved{SessionRepo: app.SessionRepo(h.db)}
	h.repo = repo
	h.restart(h.cfg.SessionKeys)
	return h, b, tok, repo
}

// The activity write of a page view writes the activity and nothing else. It saved the whole
// session as the request had read it, so a form sent in another tab whose save (a flash,
// "Password reset") landed between that read and the write lost its message: the write put the
// old data back.
func TestSessionTouchKeepsAFlashSavedMeanwhile(t *testing.T) {
	h, b, tok, repo := interleavedHarness(t)
	e := h.app.Load()
	e.POST("/reset", func(c echo.Context) error {
		if err := auth.AddFlash(c, "success", "Password reset"); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/flashes")
	}, h.auth.RequireUser())
	e.GET("/flashes", func(c echo.Context) error {
		return c.String(http.StatusOK, fmt.Sprint(auth.Flashes(c)))
	}, h.auth.RequireUser())

	// The other tab's form, sent from inside the page view's activity write (on the server's
	// goroutine: its outcome is checked below, not there).
	type outcome struct {
		status int
		loc    string
		err    error
	}
	other := make(chan outcome, 1)
	send := func() {
		resp, err := postForm(h, b, tok, "/reset")
		if err != nil {
			other <- outcome{err: err}
			return
		}
		other <- outcome{status: resp.StatusCode, loc: resp.Header.Get("Location")}
	}
	repo.next.Store(&send)
	h.clock.Add(2 * time.Minute) // past the once-a-minute activity write
	if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
		t.Fatalf("page view = %d, want 200", pg.resp.StatusCode)
	}
	var o outcome
	select {
	case o = <-other:
	default:
		t.Fatal("the page view wrote nothing: no activity write was due")
	}
	if o.err != nil || o.status != http.StatusSeeOther || o.loc != "/flashes" {
		t.Fatalf("the other tab's form = %d to %q (%v), want 303 to /flashes", o.status, o.loc, o.err)
	}
	if got, want := b.get("/flashes").body, "[{success Password reset  }]"; got != want {
		t.Errorf("after the page view's activity write the flashes are %s, want %s", got, want)
	}
}

// Two requests of one session that each change it (a flash message left by a form in one tab,
// another by a form in a second tab, or the flashes taken by a page view) must not write over
// each other: the write of the one that read the session first used to put back the data as it
// had read them, and the other's message was lost. Now that write finds the record changed,
// reads it again and redoes its change.
func TestSessionChangesOfTwoRequestsBothKept(t *testing.T) {
	h, b, tok, repo := interleavedHarness(t)
	e := h.app.Load()
	for _, msg := range []string{"first", "second"} {
		e.POST("/"+msg, func(c echo.Context) error {
			if err := auth.AddFlash(c, "success", msg); err != nil {
				return err
			}
			return c.NoContent(http.StatusNoContent)
		}, h.auth.RequireUser())
	}
	e.GET("/flashes", func(c echo.Context) error {
		return c.String(http.StatusOK, fmt.Sprint(auth.Flashes(c)))
	}, h.auth.RequireUser())

	// sendDuring makes the next session write run the form at path first, as another tab's
	// request landing between this request's read of the session and its write; the channel
	// gets its status (0 when it could not be sent).
	sendDuring := func(path string) chan int {
		done := make(chan int, 1)
		f := func() {
			resp, err := postForm(h, b, tok, path)
			if err != nil {
				done <- 0
				return
			}
			done <- resp.StatusCode
		}
		repo.next.Store(&f)
		return done
	}
	post := func(path string) int {
		resp, err := postForm(h, b, tok, path)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}

	t.Run("two flashes", func(t *testing.T) {
		other := sendDuring("/second")
		if got := post("/first"); got != http.StatusNoContent {
			t.Fatalf("first form = %d, want 204", got)
		}
		if got := <-other; got != http.StatusNoContent {
			t.Fatalf("second form, sent during the first's write = %d, want 204", got)
		}
		if got, want := b.get("/flashes").body, "[{success second  } {success first  }]"; got != want {
			t.Errorf("flashes = %s, want both, %s", got, want)
		}
	})
	t.Run("a flash left while the flashes are taken", func(t *testing.T) {
		if got := post("/first"); got != http.StatusNoContent {
			t.Fatalf("first form = %d, want 204", got)
		}
		other := sendDuring("/second")
		shown := b.get("/flashes").body
		if got := <-other; got != http.StatusNoContent {
			t.Fatalf("second form, sent while the flashes were taken = %d, want 204", got)
		}
		// The page that took the flashes shows the one left meanwhile too, or it is still there
		// for the next page: it is not cleared unseen.
		next := b.get("/flashes").body
		if !strings.Contains(shown+next, "{success second  }") || !strings.Contains(shown, "{success first  }") {
			t.Errorf("the page taking the flashes showed %s and the next %s; want first shown and second shown once", shown, next)
		}
		if strings.Count(shown+next, "second") != 1 {
			t.Errorf("the flash left meanwhile was shown %d times (%s, then %s), want once", strings.Count(shown+next, "second"), shown, next)
		}
	})
	t.Run("two pages taking the same flash", func(t *testing.T) {
		if got := post("/first"); got != http.StatusNoContent {
			t.Fatalf("first form = %d, want 204", got)
		}
		// Another tab's page takes the flash between this page's read and its write: the
		// message is shown once, by one of the two, not by both.
		otherPage := make(chan string, 1)
		f := func() { otherPage <- b.get("/flashes").body }
		repo.next.Store(&f)
		shown := b.get("/flashes").body
		other := <-otherPage
		if n := strings.Count(shown+other, "first"); n != 1 {
			t.Errorf("the flash was shown %d times (this page %s, the other %s), want once", n, shown, other)
		}
	})
}

// postForm sends b's form with the CSRF token tok to path, as a page of the harness's app would,
// and returns the answer with its body read and closed.
func postForm(h *harness, b *browser, tok, path string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(url.Values{"_csrf": {tok}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.c.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp, resp.Body.Close()
}

// TestFailedFlashIsNotReadBack: a flash whose write failed is not in the request's session either:
// the rest of the request read it back as if it had been kept (a page answering a change itself
// showed its message twice, once from the session).
func TestFailedFlashIsNotReadBack(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	b.signIn("admin")
	repo := &flakyWrites{SessionRepo: app.SessionRepo(h.db)}
	h.repo = repo
	h.restart(h.cfg.SessionKeys)

	if body := b.get("/flash-then-read").body; body != "kept=true shown=1" {
		t.Fatalf("with writes working: %q, want the flash kept and read", body)
	}
	repo.failing.Store(true)
	if body := b.get("/flash-then-read").body; body != "kept=false shown=0" {
		t.Errorf("with session writes failing: %q, want the flash neither kept nor read", body)
	}
}

// changedUnreadable is the store where the next data write finds the record changed by another
// request (ErrSessionChanged) and the record cannot be read again after it.
type changedUnreadable struct {
	auth.SessionRepo
	armed, unreadable atomic.Bool
}

func (r *changedUnreadable) UpdateSession(ctx context.Context, id string, old, data []byte, lastSeen time.Time) error {
	if r.armed.Swap(false) {
		r.unreadable.Store(true)
		return auth.ErrSessionChanged
	}
	return r.SessionRepo.UpdateSession(ctx, id, old, data, lastSeen)
}

func (r *changedUnreadable) GetSession(ctx context.Context, id string) (auth.SessionRecord, error) {
	if r.unreadable.Load() {
		return auth.SessionRecord{}, errors.New("database is locked")
	}
	return r.SessionRepo.GetSession(ctx, id)
}

// TestFlashNotReadBackWhenTheSessionCannotBeReadAgain: a flash whose save found the record
// changed by another request, and which could not read the record again to add itself to it, is
// not in the request's session either (as TestFailedFlashIsNotReadBack's, on the other path).
func TestFlashNotReadBackWhenTheSessionCannotBeReadAgain(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	b := h.browser()
	b.signIn("admin")
	repo := &changedUnreadable{SessionRepo: app.SessionRepo(h.db)}
	h.repo = repo
	h.restart(h.cfg.SessionKeys)

	repo.armed.Store(true)
	if body := b.get("/flash-then-read").body; body != "kept=false shown=0" {
		t.Errorf("with the record changed meanwhile and unreadable after: %q, want the flash neither kept nor read", body)
	}
	if !repo.unreadable.Load() {
		t.Error("the flash's save did not meet the changed record (the test's premise)")
	}
}
