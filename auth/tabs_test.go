package auth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/auth"
)

// loginCookies counts the sign-in state cookies b holds.
func (b *browser) loginCookies() int {
	u, _ := url.Parse(b.h.srv.URL)
	n := 0
	for _, c := range b.jar.Cookies(u) {
		if strings.HasPrefix(c.Name, auth.LoginCookieName+"-") {
			n++
		}
	}
	return n
}

// TestSignInInSeveralTabs: each sign-in in progress has its own state, so sign-ins started in two
// tabs both complete, each to its own page; a callback with another state (a stale tab, a link
// from another site) is refused and leaves the sign-in in progress alone; and a browser keeps at
// most four, dropping the oldest.
func TestSignInInSeveralTabs(t *testing.T) {
	h := newHarness(t, harnessOpts{})

	t.Run("two tabs", func(t *testing.T) {
		b := h.browser()
		tabA := b.startLogin("/protected?tab=a")
		tabB := b.startLogin("/protected?tab=b")
		cbA := location(t, b.choosePersona(tabA, "admin"))
		cbB := location(t, b.choosePersona(tabB, "admin"))
		for _, c := range []struct{ cb, next string }{{cbA, "/protected?tab=a"}, {cbB, "/protected?tab=b"}} {
			pg := b.get(c.cb)
			if pg.resp.StatusCode != http.StatusFound || pg.resp.Header.Get("Location") != c.next {
				t.Errorf("callback = %d to %q, want 302 to %q", pg.resp.StatusCode, pg.resp.Header.Get("Location"), c.next)
			}
		}
		if pg := b.get("/protected"); pg.resp.StatusCode != http.StatusOK {
			t.Errorf("after both callbacks /protected = %d, want 200", pg.resp.StatusCode)
		}
		if n := b.loginCookies(); n != 0 {
			t.Errorf("%d sign-in cookies left after both callbacks, want 0", n)
		}
	})

	t.Run("stray callback", func(t *testing.T) {
		b := h.browser()
		cb := b.toCallback("/protected", "admin")
		if pg := b.get(auth.CallbackPath + "?state=from-elsewhere&code=x"); pg.resp.StatusCode != http.StatusBadRequest {
			t.Errorf("callback with an unknown state = %d, want 400", pg.resp.StatusCode)
		}
		if pg := b.get(cb); pg.resp.StatusCode != http.StatusFound || pg.resp.Header.Get("Location") != "/protected" {
			t.Errorf("the sign-in in progress after a stray callback = %d to %q, want 302 to /protected", pg.resp.StatusCode, pg.resp.Header.Get("Location"))
		}
	})

	t.Run("at most four", func(t *testing.T) {
		b := h.browser()
		var tabs []string
		for range 5 {
			tabs = append(tabs, b.startLogin("/protected"))
			h.clock.Add(time.Second)
		}
		if n := b.loginCookies(); n != 4 {
			t.Errorf("%d sign-in cookies after five sign-ins, want 4", n)
		}
		if pg := b.get(location(t, b.choosePersona(tabs[0], "admin"))); pg.resp.StatusCode != http.StatusBadRequest {
			t.Errorf("the oldest of five sign-ins = %d, want 400 (dropped)", pg.resp.StatusCode)
		}
		if pg := b.get(location(t, b.choosePersona(tabs[4], "admin"))); pg.resp.StatusCode != http.StatusFound {
			t.Errorf("the newest of five sign-ins = %d, want 302", pg.resp.StatusCode)
		}
	})
}
