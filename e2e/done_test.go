package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// TestDonePageReloadOpensTheList: a delete whose message the session could not keep (signed out
// in another tab while Mailgun deleted the login) is answered with a page of its own (views.Done).
// Its history entry takes the list's address, so that a reload opens the list (here, signed out,
// the sign-in page) and not the delete page of the login that is gone, which answered 404.
func TestDonePageReloadOpensTheList(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("done-reload")
	tb.signIn("admin")
	const login = "bob@acme.example"
	deletePath := "/d/acme.example/logins/" + login + "/delete"
	tb.wantStatus("delete page", tb.open(deletePath), http.StatusOK)

	// Mailgun holds the delete until the page has signed out (as another tab would), so that
	// the answer finds the session gone.
	hold := make(chan struct{})
	srv.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDelete}, Hold: hold})
	defer srv.Sandbox.SetFaults(sandbox.Faults{})
	releaseWhenSaid(tb, "e2e: signed out", hold)
	status := tb.follow("delete, signing out meanwhile", chromedp.Evaluate[chromedp.Void](`(() => {
		const signOut = document.querySelector('[data-testid="sign-out"]').form;
		const body = new FormData(signOut);
		document.querySelector('[data-testid="delete-form"] button[type="submit"]').click();
		setTimeout(async () => {
			await fetch(signOut.action, {method: "POST", body, redirect: "manual"});
			console.log("e2e: signed out");
		}, 300);
	})()`))
	tb.wantStatus("the delete's answer", status, http.StatusOK)
	tb.wantFlash("the done page", "success", "Deleted "+login)
	if got := tb.text(testid("upstream-error")); !strings.Contains(got, "signed out") {
		t.Errorf("panel %q, want it to say the session ended", got)
	}
	list := tb.attrs(testid("done-link"), "href")
	if len(list) != 1 {
		t.Fatalf("links back to the list: %q, want one", list)
	}
	if got := tb.path(); got != list[0] {
		t.Errorf("address of the done page %q, want the list's %q (the form's was %q)", got, list[0], deletePath)
	}
	// Signed out, both addresses end on the sign-in page: which one the reload asked for is in
	// the server's log (a request is logged before its answer leaves).
	before := len(srv.logs.String())
	status = tb.follow("reload", chromedp.Reload())
	reloaded := srv.logs.String()[before:]
	if status >= 400 || !strings.Contains(reloaded, "method=GET route=/d/:domain path="+list[0]+" ") ||
		strings.Contains(reloaded, "path="+deletePath+" ") {
		t.Errorf("reload of the done page: HTTP %d on %s, want a GET of the list %s, not of the delete page; the server logged:\n%s",
			status, tb.path(), list[0], reloaded)
	}
}
