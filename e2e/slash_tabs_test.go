package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// focusedDesc describes the element holding the keyboard focus.
func (tb *tab) focusedDesc() string {
	return run(tb, "focus", chromedp.Evaluate[string](`(() => { const a = document.activeElement; if (!a) return "null"; return a.tagName + (a.id ? "#" + a.id : "") + (a.dataset && a.dataset.testid ? "[" + a.dataset.testid + "]" : ""); })()`))
}

// TestSlashShortcutOffReachesAnOpenTab (a persona review's): Rita has the domain page open in two
// tabs and turns the "/" shortcut off with the footer button in one ("for good in this browser",
// WCAG 2.1.4). The other, already open tab follows: its footer says "Turn on", and "/" no longer
// moves the focus into the filter box (it read the choice at load only). Turned on again, the
// other tab follows too.
func TestSlashShortcutOffReachesAnOpenTab(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	a := srv.tab("slash-tabs-a")
	a.signIn("reviewer")
	b := a.sibling("slash-tabs-b")
	for _, tb := range []*tab{a, b} {
		tb.wantStatus("list", tb.open("/d/example.com"), http.StatusOK)
		tb.wait(testid("slash-toggle"))
	}
	a.do("focus the toggle", chromedp.Focus(chromedp.CSS(testid("slash-toggle"))))
	a.do("press Enter", keyPress("Enter", "Enter", 13))
	if got := a.text(testid("slash-toggle")); got != "Turn on the “/” shortcut" {
		t.Fatalf("tab A's toggle reads %q after turning the shortcut off", got)
	}
	if !b.eventually(`document.querySelector('[data-testid="slash-toggle"]').textContent === "Turn on the \u201c/\u201d shortcut"`) {
		t.Errorf("tab B's footer reads %q after the shortcut was turned off in tab A", b.text(testid("slash-toggle")))
	}
	b.do("press /", keyPress("/", "Slash", 191))
	if f := b.focusedDesc(); strings.Contains(f, "filter-input") {
		t.Errorf("tab B: a stray / still jumps into the filter box (%s) although the shortcut is off in this browser", f)
	}
	a.do("press Enter again", keyPress("Enter", "Enter", 13))
	if !b.eventually(`document.querySelector('[data-testid="slash-toggle"]').textContent === "Turn off the \u201c/\u201d shortcut"`) {
		t.Errorf("tab B's footer reads %q after the shortcut was turned on again in tab A", b.text(testid("slash-toggle")))
	}
	b.do("press / again", keyPress("/", "Slash", 191))
	if f := b.focusedDesc(); !strings.Contains(f, "filter-input") {
		t.Errorf("tab B: with the shortcut on again, / moved the focus to %s, want the filter box", f)
	}
}
