package e2e

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// TestStoppedSendingUnlocksThePage: a form on its way is locked (its button busy, its Cancel
// inert; the delete dialog's Cancel disabled and the dialog held open), and the browser's Stop
// (window.stop(), as the Stop button or Esc during the load) ends the sending with the page still
// there. It used to stay locked until a reload: the create form would not send again, and the
// delete dialog could not be closed, so nothing on the page could be used.
func TestStoppedSendingUnlocksThePage(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("stopped")
	tb.signIn("admin")

	type noted struct {
		Sending, Busy, FormBusy, CancelDisabled, OpenAfterEsc bool
		Live                                                  string
	}
	read := func(what string) noted {
		t.Helper()
		raw := run(tb, "read what the page noted "+what, chromedp.Evaluate[string](`sessionStorage.getItem('stopped') || ''`))
		var n noted
		if err := json.Unmarshal([]byte(raw), &n); err != nil {
			t.Fatalf("%s: the page noted %q: %v", what, raw, err)
		}
		return n
	}

	// The create form: Mailgun holds the create until the page has stopped and noted.
	tb.wantStatus("create form", tb.open("/d/acme.example/new"), http.StatusOK)
	tb.fill(testid("logins-input"), "stopped-one")
	hold := make(chan struct{})
	srv.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Hold: hold})
	releaseWhenSaid(tb, "e2e: noted", hold)
	tb.do("create, then stop", chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.querySelector('[data-testid="create-form"]');
		const b = f.querySelector('[data-testid="confirm-button"]');
		b.click();
		setTimeout(() => {
			window.stop();
			setTimeout(() => {
				sessionStorage.setItem('stopped', JSON.stringify({sending: f.hasAttribute('data-sending'),
					busy: b.hasAttribute('data-busy'), formBusy: f.hasAttribute('aria-busy'), live: document.getElementById('js-live').textContent}));
				console.log('e2e: noted');
			}, 300);
		}, 300);
	})()`))
	if !tb.eventually(`!!sessionStorage.getItem('stopped')`) {
		t.Fatal("the create page noted nothing after the stop")
	}
	if n := read("after stopping the create"); n.Sending || n.Busy || n.FormBusy || n.Live == "" {
		t.Errorf("after stopping the create: %+v; want the form free again and the stop announced", n)
	}
	srv.Sandbox.SetFaults(sandbox.Faults{})

	// The delete dialog.
	const login = "bob@acme.example"
	tb.wantStatus("domain page", tb.open("/d/acme.example"), http.StatusOK)
	tb.check(rowLogin(login) + " " + deleteSel)
	tb.do("wait for the dialog", chromedp.WaitVisible(chromedp.CSS(`dialog[open] button[type="submit"]`)))
	hold = make(chan struct{})
	srv.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDelete}, Hold: hold})
	defer srv.Sandbox.SetFaults(sandbox.Faults{})
	releaseWhenSaid(tb, "e2e: noted", hold)
	tb.do("confirm, then stop", chromedp.Evaluate[chromedp.Void](`(() => {
		sessionStorage.removeItem('stopped');
		const d = document.querySelector("dialog[open]");
		const cancel = d.querySelector("[data-confirm-cancel]");
		d.querySelector('button[type="submit"]').click();
		setTimeout(() => {
			window.stop();
			setTimeout(() => {
				const disabled = cancel.disabled;
				d.requestClose(); // as Esc does
				sessionStorage.setItem('stopped', JSON.stringify({cancelDisabled: disabled, openAfterEsc: d.open}));
				console.log('e2e: noted');
			}, 300);
		}, 300);
	})()`))
	if !tb.eventually(`!!sessionStorage.getItem('stopped')`) {
		t.Fatal("the domain page noted nothing after the stop")
	}
	if n := read("after stopping the delete"); n.CancelDisabled || n.OpenAfterEsc {
		t.Errorf("after stopping the delete: %+v; want Cancel enabled and Esc closing the dialog", n)
	}
}

// TestRefusedCopyIsShown: when the browser refuses to copy, the passwords page says so where
// everyone sees it ("Not copied" on the button, and a note saying what to do), not only to
// screen readers; and the copy without the Clipboard API gives the focus back to the button.
func TestRefusedCopyIsShown(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("copy-refused")
	tb.signIn("operator")
	tb.createThroughForm("acme.example", "copy-one\ncopy-two", http.StatusOK)
	tb.wait(testid("copy-all-button"))
	if tb.has(testid("copy-failed") + ":not([hidden])") {
		t.Error("the copy-failed note shows before any copy")
	}

	// The browser refuses (as when the user denies the permission).
	tb.do("refuse the clipboard", chromedp.Evaluate[chromedp.Void](
		`navigator.clipboard.writeText = () => Promise.reject(new DOMException("denied", "NotAllowedError"))`))
	tb.do("copy all", chromedp.Click(chromedp.CSS(testid("copy-all-button")), chromedp.NodeVisible))
	if !tb.eventually(`document.querySelector('[data-testid="copy-all-button"]').textContent.trim() === "Not copied"`) {
		t.Errorf("after a refused Copy all its button says %q, want Not copied", tb.text(testid("copy-all-button")))
	}
	if !tb.eventually(`!document.querySelector('[data-testid="copy-failed"]').hidden`) {
		t.Error("after a refused Copy all the page does not show what to do")
	}
	tb.look("refused")

	// Without the Clipboard API (an old browser, or a page served over plain http) the copy goes
	// through a textarea of its own, which takes the focus: it comes back to the button.
	tb.do("no Clipboard API", chromedp.Evaluate[chromedp.Void](`Object.defineProperty(navigator, "clipboard", {value: undefined})`))
	copyOne := `[data-login="copy-two@acme.example"] ` + testid("copy-button")
	tb.do("copy one", chromedp.Click(chromedp.CSS(copyOne), chromedp.NodeVisible))
	if !tb.eventually(`document.querySelector('` + copyOne + `').textContent.trim() === "Copied"`) {
		t.Fatalf("the copy without the Clipboard API: the button says %q, want Copied", tb.text(copyOne))
	}
	if !tb.eventually(`document.activeElement === document.querySelector('` + copyOne + `')`) {
		t.Errorf("after the copy without the Clipboard API the focus is on %s, want the Copy button",
			run(tb, "focus", chromedp.Evaluate[string](`document.activeElement.outerHTML.slice(0, 80)`)))
	}
}
