package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// watchChanges counts the changes to the children of the element with the given id in
// window.__changes, from now on.
func (tb *tab) watchChanges(id string) {
	tb.t.Helper()
	tb.do("watch #"+id, chromedp.Evaluate[chromedp.Void](`window.__changes = 0;
		new MutationObserver(() => window.__changes++).observe(document.getElementById("`+id+`"), {childList: true, subtree: true});`))
}

// TestDeleteAllSaysWhyItIsDisabled: "Delete N logins" stays disabled until the domain is typed,
// and the page says so in words beside it, not only in a tooltip; Enter in the field or a tap on
// the button says it again (through the hint's live region) instead of doing nothing silently.
func TestDeleteAllSaysWhyItIsDisabled(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("delete-all-hint")
	tb.signIn("admin")
	const nl = "newsletter.example.org"
	page := "/d/" + nl + "/delete-all"
	tb.wantStatus("delete all", tb.open(page), http.StatusOK)
	hint, btn := testid("confirm-disabled-hint"), testid("delete-all-form")+" "+testid("confirm-button")
	tb.wait(hint)
	shown := func() bool { return tb.has(hint + ":not([hidden])") }
	if !shown() || !tb.has(btn+":disabled") {
		t.Fatalf("with nothing typed: hint shown %v, button disabled %v; want both", shown(), tb.has(btn+":disabled"))
	}
	if got, want := tb.text(hint), "Type "+nl+" exactly to enable this button."; got != want {
		t.Errorf("hint: got %q, want %q", got, want)
	}

	tb.fill(testid("confirm-input"), "newsletter")
	tb.watchChanges("confirm-disabled-hint")
	tb.do("press Enter", keyPress("Enter", "Enter", 13))
	if !tb.eventually(`window.__changes >= 2`, 5*time.Second) {
		t.Error("Enter with the wrong text does not say the hint again")
	}
	if got := tb.path(); got != page || !shown() {
		t.Errorf("after Enter with the wrong text: on %s, hint shown %v; want %s with the hint", got, shown(), page)
	}
	tb.watchChanges("confirm-disabled-hint")
	tb.do("tap the disabled button", chromedp.Click(chromedp.CSS(btn), chromedp.NodeVisible))
	if !tb.eventually(`window.__changes >= 2`, 5*time.Second) {
		t.Error("a tap on the disabled button does not say the hint again")
	}
	tb.look("delete-all-wrong")
	if got := tb.path(); got != page {
		t.Fatalf("a tap on the disabled button left the page for %s", got)
	}

	tb.fill(testid("confirm-input"), nl)
	if shown() || tb.has(btn+":disabled") {
		t.Errorf("with the domain typed: hint shown %v, button disabled %v; want neither", shown(), tb.has(btn+":disabled"))
	}
	tb.wantStatus("confirm delete all", tb.click(btn), http.StatusOK)
	if got := srv.Sandbox.Logins(nl); len(got) != 1 || !strings.HasPrefix(got[0], "postmaster@") {
		t.Errorf("after delete all, %s has %v", nl, got)
	}
}
