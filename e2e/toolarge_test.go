package e2e

import (
	"net/http"
	"testing"
)

// TestTooLargePageKeepsTheSignedInBar (by a review helper): a create form sent with more than its body limit (a
// paste of a few thousand addresses) answers "Request too large", and that page showed the top
// bar of a signed-out visitor: no user menu (so no sign-out), no domain picker, no audit link,
// although the user is still signed in (the body limit answers before the session is read).
// Every other error page of a signed-in user (404, 403, 429, 502) keeps the bar.
func TestTooLargePageKeepsTheSignedInBar(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("too-large")
	tb.signIn("admin")
	tb.wantStatus("create form", tb.open("/d/acme.example/new"), http.StatusOK)
	tb.wait(testid("logins-input"))
	query[bool](tb, "paste", testid("logins-input"), `els => { els[0].value = "billing-app\n".repeat(100000); return true; }`)
	tb.wantStatus("send", tb.click(testid("create-form")+" "+testid("confirm-button")), http.StatusRequestEntityTooLarge)
	tb.look("too-large")
	for _, id := range []string{"user-menu", "nav-audit"} {
		if !tb.has(testid(id)) {
			t.Errorf("the 413 page of a signed-in user has no %s in its top bar: it reads as signed out", id)
		}
	}
	// Still signed in: the next page has the bar again.
	tb.wantStatus("home", tb.open("/"), http.StatusOK)
	if !tb.has(testid("user-menu")) {
		t.Fatal("signed out after the 413: the check above is moot")
	}
}
