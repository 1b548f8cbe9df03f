package e2e

import (
	"net/http"
	"testing"
)

// TestOwnResetInAnotherTabIsWarned (a persona review's): Nora resets her own password in tab B
// (shown P1), then again in tab A of the same browser (P2 replaces P1). Back in tab B, "Done"
// warns that P1, the password the page she just left showed, no longer works, as it does of a
// colleague's later reset (TestWayBackWarningIsAnnounced). It said only "Password … changed.":
// her own changes were never counted.
func TestOwnResetInAnotherTabIsWarned(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	const domain, own = "newsletter.example.org", "news@newsletter.example.org"
	a := srv.tab("own-again-a")
	a.signIn("self")
	b := a.sibling("own-again-b")
	for _, tb := range []*tab{b, a} {
		tb.wantStatus("list", tb.open("/d/"+domain), http.StatusOK)
		tb.wait(rowLogin(own))
		resetFromRow(tb, srv, domain, own)
	}
	if p1 := b.secrets()[own]; srv.Sandbox.CheckPassword(domain, own, p1) {
		t.Fatal("setup: tab B's password still works after tab A's reset")
	}
	b.wantStatus("Done in tab B", b.click(testid("done-link")), http.StatusOK)
	b.wait(rowSel)
	if !b.has(testid("flash-warning")) {
		t.Errorf("Done in tab B says %q: nothing warns that the password it just showed no longer works (reset again in tab A)", b.texts(testid("flash")))
	}
}
