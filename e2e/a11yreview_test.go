package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestTooManyLinesErrorDescribesTheField (a review helper's): a create form sent with more logins than one create
// takes (handlers.MaxCreateLines) and a refused line among them comes back with two errors about
// the logins field: the summary of its refused lines above the form, and "At most 100 logins at a
// time" under the field. Both are the field's errors, so a screen reader on the field must hear
// both (aria-describedby), as it hears either one alone.
func TestTooManyLinesErrorDescribesTheField(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("a11y-too-many-lines")
	tb.signIn("admin")
	lines := []string{"bad login!"}
	for i := range 100 {
		lines = append(lines, fmt.Sprintf("many%03d", i))
	}
	tb.createThroughForm("acme.example", strings.Join(lines, "\n"), http.StatusBadRequest)
	tb.wait(testid("field-error-logins"))
	msg := tb.text(testid("field-error-logins"))
	if !strings.Contains(msg, "At most 100 logins") {
		t.Fatalf("the field's error says %q, want the 100-login limit", msg)
	}
	if !tb.has(testid("line-errors")) {
		t.Fatal("no summary of the refused line")
	}
	field := tb.ax(testid("logins-input"))
	if !strings.Contains(field.Description, msg) {
		t.Errorf("the logins field is described as %q: a screen reader on it is not told %q, shown under it", field.Description, msg)
	}
	if ids := tb.attrs(testid("logins-input"), "aria-describedby"); len(ids) != 1 || !strings.Contains(ids[0], "f-logins-error") {
		t.Errorf("the logins field has aria-describedby %q, want it to name f-logins-error", ids)
	}
}

// TestAlreadyGoneMessageTakesTheFocus (a review helper's): a delete confirmed for a login someone else deleted
// meanwhile leads back to the list with a message that says so ("… was already gone", an info
// flash). The row is gone as after any delete, so the keyboard focus goes to that message, as it
// does to "Deleted …" (deleteLogin): left at the top of the page, a keyboard user starts again
// from the skip link, and the message is only heard from the live region.
func TestAlreadyGoneMessageTakesTheFocus(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	const login = "bob@acme.example"
	mine := srv.tab("a11y-already-gone")
	mine.signIn("admin")
	mine.wantStatus("domain page", mine.open("/d/acme.example"), http.StatusOK)
	mine.wait(rowLogin(login) + " " + deleteSel)

	other := srv.tab("a11y-already-gone-other")
	other.signIn("admin")
	other.wantStatus("domain page", other.open("/d/acme.example"), http.StatusOK)
	deleteLogin(t, other, login)

	mine.check(rowLogin(login) + " " + deleteSel)
	confirm := `dialog[open] button[type="submit"]`
	mine.do("wait for the dialog", chromedp.WaitVisible(chromedp.CSS(confirm)))
	mine.wantStatus("confirm delete", mine.click(confirm), http.StatusOK)
	mine.wantFlash("already gone", "info", login, "already gone")
	if got := run(mine, "the focused element", chromedp.Evaluate[string](focusedJS)); !strings.HasPrefix(got, "div[flash]") {
		t.Errorf("after deleting %s, already gone, the focus is on %q, want the message that says so", login, got)
	}
}

// TestDomainListTitlesNameThePage (a review helper's): a page's <title> names what the page shows, "the page of a
// list" among it (views/titles.go), so that several tabs of SMTP Desk can be told apart and a
// screen reader, which reads the title first, says where the user is. The domain page does
// ("acme.example · page 2", "… · “bob”"); the domain list's second page and its search results
// were all titled "Domains · SMTP Desk", as its first page is.
func TestDomainListTitlesNameThePage(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	for i := range 116 { // with the seed's 4: 120 domains, three pages of 50
		if err := srv.Sandbox.AddDomain(fmt.Sprintf("d%03d.example.net", i)); err != nil {
			t.Fatal(err)
		}
	}
	tb := srv.tab("a11y-home-titles")
	tb.signIn("admin")
	title := func() string { return run(tb, "the title", chromedp.Title()) }
	tb.wantStatus("home", tb.open("/"), http.StatusOK)
	first := title()
	tb.wantStatus("page 2", tb.click(testid("pager-next")), http.StatusOK)
	if got := title(); got == first {
		t.Errorf("the domain list's page 2 is titled %q, as its first page is", got)
	}
	tb.wantStatus("search", tb.open("/?q=d1"), http.StatusOK)
	if got := title(); got == first {
		t.Errorf("the domain list searched for d1 is titled %q, as the whole list is", got)
	}
	// As the domain page names its own.
	tb.wantStatus("domain page 2", tb.open("/d/example.com?page=2"), http.StatusOK)
	if got := title(); !strings.Contains(got, "page 2") {
		t.Errorf("the domain page's page 2 is titled %q", got)
	}
}

// TestSlashShortcutCanBeTurnedOff: a one-key shortcut must be possible to turn off (WCAG 2.1.4
// Character Key Shortcuts: speech input dictating "slash", a stray key). The footer's button
// turns "/" off, for good in this browser, and on again.
func TestSlashShortcutCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("slash-off")
	tb.signIn("admin")
	tb.wantStatus("domain", tb.open("/d/example.com"), http.StatusOK)
	focused := func() string {
		return run(tb, "focused element", chromedp.Evaluate[string](`document.activeElement ? (document.activeElement.id || document.activeElement.getAttribute("data-testid") || document.activeElement.tagName) : ""`))
	}
	hintShown := func() bool {
		return run(tb, "the / hint", chromedp.Evaluate[bool](`getComputedStyle(document.querySelector('[data-testid="filter-shortcut"]')).display !== "none"`))
	}
	announced := func() string {
		return run(tb, "announced", chromedp.Evaluate[string](`document.getElementById("js-live") ? document.getElementById("js-live").textContent : ""`))
	}
	toggle := testid("slash-toggle")
	if got := tb.text(toggle); got != "Turn off the “/” shortcut" {
		t.Fatalf("the footer's shortcut button says %q", got)
	}
	if !hintShown() || tb.attrs(testid("filter-input"), "aria-keyshortcuts")[0] != "/" {
		t.Fatal("the shortcut is not announced before it is turned off")
	}
	tb.do("turn the shortcut off", chromedp.Click(chromedp.CSS(toggle), chromedp.NodeVisible))
	tb.do("press /", keyPress("/", "Slash", 191))
	if got := focused(); got != "slash-toggle" {
		t.Errorf(`with the shortcut off, "/" moved the focus to %q`, got)
	}
	if v := tb.value(testid("filter-input")); v != "" {
		t.Errorf(`with the shortcut off, "/" typed %q into the filter`, v)
	}
	if hintShown() {
		t.Error("with the shortcut off, the filter box still shows its / hint")
	}
	if got := tb.attrs(testid("filter-input"), "aria-keyshortcuts")[0]; got != "" {
		t.Errorf("with the shortcut off, the filter box has aria-keyshortcuts=%q", got)
	}
	if !tb.eventually(`document.getElementById("js-live").textContent === "The / shortcut is off."`) {
		t.Errorf("turning it off announced %q", announced())
	}

	// Off for good in this browser: the next page load keeps it off.
	tb.wantStatus("domain again", tb.open("/d/example.com"), http.StatusOK)
	if got := tb.text(toggle); got != "Turn on the “/” shortcut" {
		t.Errorf("after a reload the button says %q", got)
	}
	tb.do("press / on the page", keyPress("/", "Slash", 191))
	if got := focused(); got == "filter" {
		t.Error(`after a reload, "/" still goes to the filter`)
	}

	tb.do("turn the shortcut on", chromedp.Click(chromedp.CSS(toggle), chromedp.NodeVisible))
	tb.do("press / again", keyPress("/", "Slash", 191))
	if got := focused(); got != "filter" {
		t.Errorf(`with the shortcut on again, "/" moved the focus to %q`, got)
	}
	if !hintShown() {
		t.Error("with the shortcut on again, the / hint is hidden")
	}
}
