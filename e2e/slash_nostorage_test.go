package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestSlashShortcutCanBeTurnedOffWithoutStorage: WCAG 2.1.4 asks that a one-key shortcut can be turned off. initSlash builds the footer's
// button only when localStorage can be reached; a browser that blocks site storage (cookies
// blocked for the site: reading window.localStorage throws SecurityError) gets the "/" shortcut
// with no way to turn it off, The button is there all the same, its choice lasting as long as the page.
func TestSlashShortcutCanBeTurnedOffWithoutStorage(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("slash-no-storage")
	tb.do("block site storage", chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `Object.defineProperty(window, 'localStorage', {configurable: true, get: function () { throw new DOMException('The operation is insecure.', 'SecurityError'); }});`,
		})
		return chromedp.Void{}, err
	}))
	tb.signIn("admin")
	tb.wantStatus("domain", tb.open("/d/example.com"), http.StatusOK)
	shortcut := run(tb, "the shortcut", chromedp.Evaluate[string](`document.querySelector('[data-shortcut="/"]').getAttribute('aria-keyshortcuts') || ""`))
	toggles := run(tb, "the toggle", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="slash-toggle"]').length`))
	if shortcut == "/" && toggles == 0 {
		t.Fatalf(`with site storage blocked, "/" is a shortcut (aria-keyshortcuts=%q) and the footer has no button to turn it off`, shortcut)
	}
	tb.do("turn the shortcut off", chromedp.Click(chromedp.CSS(testid("slash-toggle")), chromedp.NodeVisible))
	tb.do("press /", keyPress("/", "Slash", 191))
	if id := run(tb, "focused element", chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`)); id == "filter" {
		t.Error(`with site storage blocked and the shortcut turned off, "/" still goes to the filter`)
	}
}
