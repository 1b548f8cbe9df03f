package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// sibling opens another tab in tb's browser context: the same cookies, as a second tab of the
// same browser.
func (tb *tab) sibling(journey string) *tab {
	tb.t.Helper()
	ctx, cancel := chromedp.NewContext(tb.ctx)
	tb.t.Cleanup(cancel)
	nt := &tab{t: tb.t, s: tb.s, ctx: ctx, base: tb.base, journey: journey, looks: map[string]int{}}
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx, desktopViewport()) }()
	select {
	case err := <-done:
		if err != nil {
			tb.t.Fatalf("open a second tab: %v", err)
		}
	case <-time.After(stepTimeout):
		tb.t.Fatal("open a second tab: no answer")
	}
	tb.t.Cleanup(nt.saveFailure)
	return nt
}

// TestDoneFlashStaysWithItsTab: the admin resets bob's password in one tab (the passwords page)
// while a second tab of the same browser opens acme.example's list. The "Password … changed."
// message belongs to the first tab's "Done": the second tab did not change anything. It is
// kept in the session (auth.AddFlashFor, for the list's path), so the second tab's list took it
// and the first tab's Done showed none.
func TestDoneFlashStaysWithItsTab(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	a := srv.tab("brw-flash-tab-a")
	a.signIn("admin")
	b := a.sibling("brw-flash-tab-b")
	const login = "bob@acme.example"
	a.wantStatus("reset form", a.open("/d/acme.example/logins/"+login+"/reset"), http.StatusOK)
	a.check(testid("mode-generate"))
	a.wantStatus("reset", a.click(testid("reset-form")+" "+testid("confirm-button")), http.StatusOK)
	a.wait(testid("secret-password"))
	b.wantStatus("the list in the other tab", b.open("/d/acme.example?page=1"), http.StatusOK)
	if got := b.texts(testid("flash")); len(got) > 0 {
		t.Errorf("the other tab's list shows %q, a message about the first tab's reset", got)
	}
	a.wantStatus("Done", a.click(testid("done-link")), http.StatusOK)
	a.wait(rowSel)
	if !a.has(testid("flash-success")) {
		t.Errorf("Done after the reset shows no message (flashes %q)", a.texts(testid("flash")))
	}
}
