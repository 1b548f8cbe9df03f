package auth_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/smtpdesk/smtpdesk/auth"
)

// TestFlashesKeptInOrderUpToTen: flashes show in the order they were left; a session keeps the
// ten newest (an eleventh drops the oldest); a HEAD request neither gets nor clears them.
func TestFlashesKeptInOrderUpToTen(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	e := h.app.Load()
	e.POST("/leave/:n", func(c echo.Context) error {
		n, _ := strconv.Atoi(c.Param("n"))
		for i := range n {
			if err := auth.AddFlash(c, "info", fmt.Sprintf("m%d", i)); err != nil {
				return err
			}
		}
		return c.Redirect(http.StatusSeeOther, "/flashes")
	}, h.auth.RequireUser())
	e.Match([]string{http.MethodGet, http.MethodHead}, "/flashes", func(c echo.Context) error {
		var s string
		for _, f := range auth.Flashes(c) {
			s += f.Kind + ":" + f.Message + " "
		}
		return c.String(http.StatusOK, s)
	}, h.auth.RequireUser())
	b := h.browser()
	tok := csrfOf(t, b.signIn("admin"))
	location(t, b.do(http.MethodPost, "/leave/3", map[string][]string{"_csrf": {tok}}, nil))
	if pg := b.do(http.MethodHead, "/flashes", nil, nil); pg.resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD /flashes = %d", pg.resp.StatusCode)
	}
	if got := b.get("/flashes").body; got != "info:m0 info:m1 info:m2 " {
		t.Errorf("flashes after a HEAD = %q, want the three, oldest first", got)
	}
	location(t, b.do(http.MethodPost, "/leave/11", map[string][]string{"_csrf": {tok}}, nil))
	if got, want := b.get("/flashes").body, "info:m1 info:m2 info:m3 info:m4 info:m5 info:m6 info:m7 info:m8 info:m9 info:m10 "; got != want {
		t.Errorf("after eleven flashes: %q, want the ten newest %q", got, want)
	}
}

// TestPrefsBounded: a session holds at most 32 preferences: a 33rd key is refused (and not
// kept), while a key already set can still be changed.
func TestPrefsBounded(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.app.Load().GET("/prefs", func(c echo.Context) error {
		for i := range 32 {
			if err := auth.SetPref(c, fmt.Sprintf("k%d", i), "v"); err != nil {
				return fmt.Errorf("pref %d: %w", i, err)
			}
		}
		over := auth.SetPref(c, "k32", "v")
		change := auth.SetPref(c, "k0", "changed")
		return c.String(http.StatusOK, fmt.Sprintf("over=%v change=%v", over != nil, change))
	}, h.auth.RequireUser())
	h.app.Load().GET("/pref/:k", func(c echo.Context) error {
		return c.String(http.StatusOK, auth.Pref(c, c.Param("k")))
	}, h.auth.RequireUser())
	b := h.browser()
	b.signIn("admin")
	if got := b.get("/prefs").body; got != "over=true change=<nil>" {
		t.Errorf("32 preferences, then a 33rd and a change: %q, want the 33rd refused and the change kept", got)
	}
	if k0, k32 := b.get("/pref/k0").body, b.get("/pref/k32").body; k0 != "changed" || k32 != "" {
		t.Errorf("read back: k0 %q, k32 %q; want \"changed\" and none", k0, k32)
	}
}

// TestHeadOfAProtectedPageSignedOut: a HEAD without a session is sent to sign in, as a GET is,
// not answered 401.
func TestHeadOfAProtectedPageSignedOut(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.app.Load().HEAD("/page", func(c echo.Context) error { return c.NoContent(http.StatusOK) }, h.auth.RequireUser())
	pg := h.browser().do(http.MethodHead, "/page?x=1", nil, nil)
	if loc := location(t, pg); loc != auth.LoginPath+"?next=%2Fpage%3Fx%3D1" {
		t.Errorf("HEAD /page signed out redirected to %q", loc)
	}
	if cc := pg.resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
}
