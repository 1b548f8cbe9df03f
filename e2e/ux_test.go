package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
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
	if !tb.eventually(`window.__changes >= 2`) {
		t.Error("Enter with the wrong text does not say the hint again")
	}
	if got := tb.path(); got != page || !shown() {
		t.Errorf("after Enter with the wrong text: on %s, hint shown %v; want %s with the hint", got, shown(), page)
	}
	tb.watchChanges("confirm-disabled-hint")
	tb.do("tap the disabled button", chromedp.Click(chromedp.CSS(btn), chromedp.NodeVisible))
	if !tb.eventually(`window.__changes >= 2`) {
		t.Error("a tap on the disabled button does not say the hint again")
	}
	tb.look("delete-all-wrong")
	if got := tb.path(); got != page {
		t.Fatalf("a tap on the disabled button left the page for %s", got)
	}

	// A domain with more logins than the preview names the rest behind "and N more", a click
	// (or Enter) away, without the script too: the owner can read every login that goes.
	tb.wantStatus("delete all of example.com", tb.open("/d/example.com/delete-all"), http.StatusOK)
	tb.wait(testid("preview-more"))
	tb.check(testid("preview-more"))
	tb.wait(testid("rest-row"))
	tb.look("delete-all-rest")
	if n := tb.count(testid("rest-row")); n != 240 {
		t.Errorf("the rest names %d logins, want the 240 after the preview", n)
	}
	tb.wantStatus("delete all", tb.open(page), http.StatusOK)
	tb.wait(hint)

	tb.fill(testid("confirm-input"), nl)
	if shown() || tb.has(btn+":disabled") {
		t.Errorf("with the domain typed: hint shown %v, button disabled %v; want neither", shown(), tb.has(btn+":disabled"))
	}
	tb.wantStatus("confirm delete all", tb.click(btn), http.StatusOK)
	if got := srv.Sandbox.Logins(nl); len(got) != 1 || !strings.HasPrefix(got[0], "postmaster@") {
		t.Errorf("after delete all, %s has %v", nl, got)
	}
}

// TestMenusFollowTheFocus: a menu (the user menu, the domain picker) closes when Tab moves the
// focus out of it, and Esc gives the focus back to a menu's button only when it was in that menu.
func TestMenusFollowTheFocus(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("menus")
	tb.signIn("admin")
	tb.wantStatus("domain page", tb.open("/d/example.com"), http.StatusOK)
	tb.wait(testid("filter-input"))
	const (
		userMenu = `[data-testid="user-menu"]`
		picker   = `[data-testid="domain-picker"]`
	)
	isOpen := func(menu string) bool { return tb.has(menu + "[open]") }
	focusIn := func(sel string) bool {
		return run(tb, "where is the focus", chromedp.Evaluate[bool](`!!document.activeElement && !!document.activeElement.closest(`+"`"+sel+"`"+`)`))
	}
	tab := func() { tb.do("press Tab", keyPress("Tab", "Tab", 9)) }

	// Open the user menu and Tab through it: its one item, then out.
	tb.check(userMenu + " > summary")
	if !isOpen(userMenu) || !focusIn(userMenu) {
		t.Fatalf("a click on the user menu's button: open %v, focus in it %v; want both", isOpen(userMenu), focusIn(userMenu))
	}
	for i := 0; i < 10 && focusIn(userMenu); i++ {
		tab()
	}
	if focusIn(userMenu) {
		t.Fatal("ten Tabs do not leave the user menu")
	}
	if isOpen(userMenu) {
		t.Error("the user menu stays open after Tab moved the focus out of it")
	}

	// The domain picker: Tab through its list and out.
	tb.check(picker + " > summary")
	tab() // into its list
	if !isOpen(picker) || !focusIn(picker) {
		t.Fatalf("Tab inside the open domain picker: open %v, focus in it %v", isOpen(picker), focusIn(picker))
	}
	for i := 0; i < 30 && focusIn(picker); i++ {
		tab()
	}
	if isOpen(picker) {
		t.Error("the domain picker stays open after Tab moved the focus out of it")
	}

	// A menu open while the focus is elsewhere (here opened by script, the focus in the filter
	// box): Esc closes it and leaves the focus where it is.
	tb.do("focus the filter", chromedp.Focus(chromedp.CSS(testid("filter-input"))))
	tb.do("open the user menu", chromedp.Evaluate[chromedp.Void](`document.querySelector('`+userMenu+`').open = true`))
	tb.do("press Esc", keyPress("Escape", "Escape", 27))
	if isOpen(userMenu) {
		t.Error("Esc does not close the user menu")
	}
	if !focusIn(testid("filter-input")) {
		t.Error("Esc in the filter box pulled the focus away to a closed menu")
	}

	// With the focus in the menu, Esc closes it and puts the focus on its button.
	tb.check(userMenu + " > summary")
	tab() // onto "Sign out"
	if !focusIn(testid("sign-out")) {
		t.Fatal("Tab from the open user menu's button does not reach Sign out")
	}
	tb.do("press Esc", keyPress("Escape", "Escape", 27))
	if isOpen(userMenu) || !focusIn(userMenu+" > summary") {
		t.Errorf("Esc in the user menu: open %v, focus on its button %v; want closed, on the button", isOpen(userMenu), focusIn(userMenu+" > summary"))
	}
}

// fitsWidth fails the test when the page is wider than the viewport: a phone would scroll it
// sideways, a laptop show a horizontal scroll bar.
func (tb *tab) fitsWidth(step string, width int) {
	tb.t.Helper()
	got := run(tb, "measure "+step, chromedp.Evaluate[int](`document.documentElement.scrollWidth - document.documentElement.clientWidth`))
	if got > 0 {
		tb.t.Errorf("%s at %d pixels: the page is %d pixels wider than the screen", step, width, got)
	}
}

// tableFitsItsBox fails the test when the page's table is wider than the box around it (which
// then scrolls, or hides the table's right side).
func (tb *tab) tableFitsItsBox(step string, width int) {
	tb.t.Helper()
	got := run(tb, "measure the table of "+step, chromedp.Evaluate[int](`(() => { const b = document.querySelector('table').parentElement; return b.scrollWidth - b.clientWidth; })()`))
	if got > 0 {
		tb.t.Errorf("%s at %d pixels: the table is %d pixels wider than its box", step, width, got)
	}
}

// TestLongTextFitsTheScreen: a valid login with a 64-character local part, on a phone, fits the
// reset and delete pages and the create form's list of refused lines; the audit trail after an
// integrity check (whose entry holds a 64-character hash) fits a laptop and a phone.
func TestLongTextFitsTheScreen(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("long-text")
	tb.signIn("admin")
	const domain = "acme.example"
	local := strings.Repeat("verylonglogin", 4) + "abcdefghijkl" // 64 characters
	login := local + "@" + domain

	tb.open("/d/" + domain + "/new")
	tb.fill(testid("logins-input"), local)
	tb.wantStatus("create the long login", tb.click(testid("create-form")+" "+testid("confirm-button")), http.StatusOK)
	if tb.secrets()[login] == "" {
		t.Fatalf("%s was not created", login)
	}

	for _, width := range []int{1366, 1280, phoneWidth} {
		if width != phoneWidth {
			tb.do("laptop screen", chromedp.EmulateViewport(int64(width), 800))
		} else {
			tb.do("phone screen", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait))
		}
		for _, path := range []string{"/d/" + domain + "/logins/" + login + "/reset", "/d/" + domain + "/logins/" + login + "/delete"} {
			tb.wantStatus(path, tb.open(path), http.StatusOK)
			tb.fitsWidth(path, width)
		}
		tb.open("/d/" + domain + "/new")
		tb.fill(testid("logins-input"), "bad name\n"+local+"x\n"+login+"x")
		tb.wantStatus("refused lines", tb.click(testid("create-form")+" "+testid("confirm-button")), http.StatusBadRequest)
		tb.wait(testid("line-errors"))
		tb.fitsWidth("the refused lines", width)

		tb.open("/audit")
		tb.wantStatus("check integrity", tb.click(testid("verify-link")), http.StatusOK)
		tb.wait(testid("verify-intact"))
		tb.fitsWidth("the integrity check", width)
		tb.wantStatus("audit", tb.open("/audit"), http.StatusOK)
		tb.fitsWidth("the audit trail after the check", width)
		if width != phoneWidth {
			tb.tableFitsItsBox("the audit trail after the check", width)
		}
	}
	tb.do("back to the desktop screen", desktopViewport())
}

// fitsItsBox fails the test when the text of the element sel is wider than the element's own
// box: the rest is drawn past it, out of the page, or cut off by a card that clips.
func (tb *tab) fitsItsBox(step, sel string, width int) {
	tb.t.Helper()
	got := query[int](tb, "measure "+step, sel, `els => els[0].scrollWidth - els[0].clientWidth`)
	if got > 0 {
		tb.t.Errorf("%s at %d pixels: its text is %d pixels wider than its box", step, width, got)
	}
}

// TestLongDomainFitsTheForms: a domain name of 253 characters, in labels of 63 without a hyphen
// (a valid name: Mailgun takes up to 253), fits the forms that name it. The create form's hint
// ("… a full address (alice@domain)") made the page 842 pixels wider than a laptop's screen and
// 1,648 wider than a phone's, and a line refused as "not in this domain (domain…)" 125 wider than
// a phone's; "Type domain to confirm" above the delete-all field, and the
// server's "Type domain exactly to confirm." under it, ran out of the form's card, which cut the
// name off after some 80 characters.
func TestLongDomainFitsTheForms(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	domain := strings.Join([]string{
		strings.Repeat("transactionalmailrelay", 3)[:63],
		strings.Repeat("eucentralregionprimary", 3)[:63],
		strings.Repeat("acmecorporationholdings", 3)[:63],
		strings.Repeat("examplecommunications", 3)[:61],
	}, ".")
	if len(domain) != 253 {
		t.Fatalf("the domain has %d characters, want 253", len(domain))
	}
	if err := srv.Sandbox.AddDomain(domain); err != nil {
		t.Fatal(err)
	}
	// The longest login such a domain can have: 255 bytes in all (mailgun.ValidateSpec).
	if err := srv.Sandbox.AddCredential(domain, "a", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	tb := srv.tab("long-domain")
	tb.signIn("admin")
	defer tb.do("back to the desktop screen", desktopViewport())
	confirmLabel := `label[for="f-confirm"]`
	for _, width := range []int{desktopWidth, phoneWidth} {
		if width == phoneWidth {
			tb.do("phone screen", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait))
		}
		tb.wantStatus("create form", tb.open("/d/"+domain+"/new"), http.StatusOK)
		tb.fitsWidth("the create form", width)
		tb.look("create")
		// A typo in the domain of a full address: the refusal names the domain typed, its
		// first 60 characters, without a space to break the line at.
		tb.fill(testid("logins-input"), "b@"+domain+"x")
		tb.wantStatus("a typo in the domain", tb.click(testid("create-form")+" "+testid("confirm-button")), http.StatusBadRequest)
		tb.wait(testid("line-errors"))
		tb.fitsWidth("the refused line", width)
		tb.look("create-refused")

		tb.wantStatus("delete all", tb.open("/d/"+domain+"/delete-all"), http.StatusOK)
		tb.fitsWidth("the delete-all form", width)
		tb.fitsItsBox("the delete-all form's “Type "+domain[:12]+"… to confirm”", confirmLabel, width)
		tb.look("delete-all")
	}

	// The server's answer to a wrong text, as a browser without the page's script sends it.
	tb.disableScripts()
	tb.wantStatus("delete all", tb.open("/d/"+domain+"/delete-all"), http.StatusOK)
	tb.fill(testid("confirm-input"), "acme")
	tb.wantStatus("a wrong text", tb.click(testid("delete-all-form")+" "+testid("confirm-button")), http.StatusBadRequest)
	tb.wait(testid("field-error-confirm"))
	tb.fitsItsBox("the wrong text's error", testid("field-error-confirm"), phoneWidth)
	tb.fitsItsBox("the label after a wrong text", confirmLabel, phoneWidth)
	tb.fitsWidth("the delete-all form with its error", phoneWidth)
	tb.look("delete-all-wrong")
	if got := srv.Sandbox.Logins(domain); len(got) != 2 {
		t.Errorf("after a wrong text, %s has %v; want its two logins still", domain, got)
	}
}

// TestResetSentOnce: a second press of "Reset password" while the first sending is on its way
// sends nothing (the page's script), so the browser shows the new password, not the server's
// "already sent" answer to the second sending; and a reload of the password page, which sends
// the form again, changes nothing.
func TestResetSentOnce(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("reset-once")
	tb.signIn("admin")
	const path = "/d/acme.example/logins/bob@acme.example/reset"
	tb.wantStatus("reset form", tb.open(path), http.StatusOK)
	updates := func() int {
		n := 0
		for _, c := range srv.Sandbox.Calls() {
			if c.Route == "update" && c.Spec == "bob@acme.example" {
				n++
			}
		}
		return n
	}
	// Mailgun holds the change until the page has pressed a second time (it says so on its
	// console), so the second press comes while the first sending waits for it, however late a
	// busy machine runs the page's timer.
	hold := make(chan struct{})
	srv.Sandbox.SetFaults(sandbox.Faults{Routes: []string{"update"}, Hold: hold})
	defer srv.Sandbox.SetFaults(sandbox.Faults{})
	releaseWhenSaid(tb, "e2e: pressed again", hold)
	status := tb.follow("press Reset twice", chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.querySelector('[data-testid="reset-form"]');
		f.requestSubmit();
		setTimeout(() => { f.requestSubmit(); console.log("e2e: pressed again"); }, 150);
	})()`))
	if status != http.StatusOK || !tb.has(testid("secret-password")) {
		t.Fatalf("after two presses: status %d, password shown %v; want 200 with the password", status, tb.has(testid("secret-password")))
	}
	if n := updates(); n != 1 {
		t.Errorf("two presses made %d password changes, want 1", n)
	}
	if got := tb.follow("reload", chromedp.Reload()); got != http.StatusConflict {
		t.Errorf("reload of the password page = %d, want 409 (already sent)", got)
	}
	if n := updates(); n != 1 {
		t.Errorf("after the reload %d password changes, want 1", n)
	}
}

// focusRingJS reports whether the focused element draws a focus indicator of its own: an outline,
// or a ring (a box-shadow with a spread, as Tailwind's ring utilities draw), in a colour that is
// not transparent. A change of background alone does not count.
const focusRingJS = `(() => {
	const cs = getComputedStyle(document.activeElement);
	const visible = c => c !== "transparent" && !/^rgba\(.*,\s*0\)$/.test(c);
	if (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0 && visible(cs.outlineColor)) return true;
	return cs.boxShadow.split(/,(?![^(]*\))/).some(part => {
		const color = (part.match(/rgba?\([^)]*\)/) || [""])[0];
		const px = part.replace(/rgba?\([^)]*\)/, "").trim().split(/\s+/).filter(s => s.endsWith("px")).map(parseFloat);
		return color !== "" && visible(color) && px.length >= 4 && px[3] > 0;
	});
})()`

// focusedJS names the focused element ("" for none): its tag, test id and text.
const focusedJS = `(() => {
	const e = document.activeElement;
	if (!e || e === document.body) return "";
	return e.tagName.toLowerCase() + (e.dataset.testid ? "[" + e.dataset.testid + "]" : "") + " " +
		JSON.stringify((e.textContent || e.value || "").trim().replace(/\s+/g, " ").slice(0, 40));
})()`

// TestEveryControlShowsItsFocus: Tab through a domain page, opening the domain picker and the
// user menu on the way (Enter on their buttons), and every control the focus reaches, menu items
// included, draws a focus ring, in light and dark mode.
func TestEveryControlShowsItsFocus(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("focus-rings")
	tb.signIn("admin")
	// Enter as a keyboard types it: the key's text "\r" is what activates a <summary>.
	enter := chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		for _, p := range []input.DispatchKeyEventParams{
			{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter", Text: "\r", UnmodifiedText: "\r", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13},
			{Type: input.DispatchKeyEventTypeKeyUp, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13},
		} {
			if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, p); err != nil {
				return err
			}
		}
		return nil
	})
	for _, scheme := range []string{"light", "dark"} {
		tb.do("colour scheme "+scheme, colorScheme(scheme))
		tb.wantStatus("domain page", tb.open("/d/acme.example"), http.StatusOK)
		tb.wait(testid("filter-input"))
		var first string
		seen, menuItems := 0, 0
		for i := 0; i < 200; i++ {
			tb.do("press Tab", keyPress("Tab", "Tab", 9))
			what := run(tb, "the focused element", chromedp.Evaluate[string](focusedJS))
			if what == "" || what == first {
				break // past the last control, or round to the first again
			}
			if first == "" {
				first = what
			}
			seen++
			if !run(tb, "the focus ring of "+what, chromedp.Evaluate[bool](focusRingJS)) {
				t.Errorf("%s mode: %s has the focus but shows no focus ring", scheme, what)
			}
			if run(tb, "in a menu", chromedp.Evaluate[bool](`!!document.activeElement.closest("details[data-menu] > :not(summary)")`)) {
				menuItems++
			}
			// Open a closed menu, so that the next Tabs go through its items.
			if run(tb, "on a closed menu's button", chromedp.Evaluate[bool](`document.activeElement.matches("details[data-menu]:not([open]) > summary")`)) {
				tb.do("press Enter", enter)
			}
		}
		if seen < 20 || menuItems < 5 {
			t.Errorf("%s mode: Tab reached only %d controls, %d of them in menus", scheme, seen, menuItems)
		}
	}
	tb.do("back to light mode", colorScheme(""))
}

// TestConfirmedDeleteCannotBeCancelled: once "Delete login" in the dialog is pressed, the deletion
// is on its way to Mailgun and cannot be called back. While a slow Mailgun answers, the dialog
// stays open: its Cancel button is disabled, and Esc or a click on the backdrop do not close it
// as if the deletion had been cancelled. The page then says the login was deleted.
func TestConfirmedDeleteCannotBeCancelled(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("delete-sending")
	tb.signIn("admin")
	const login = "bob@acme.example"
	tb.wantStatus("domain page", tb.open("/d/acme.example"), http.StatusOK)
	tb.check(rowLogin(login) + " " + deleteSel)
	confirm := `dialog[open] button[type="submit"]`
	tb.do("wait for the dialog", chromedp.WaitVisible(chromedp.CSS(confirm)))

	// Mailgun holds the deletion until the page has noted what happened (it says so on its
	// console): with a fixed latency instead, a page whose timer ran late on a busy machine
	// would have been replaced by the answer before it tried to back out.
	hold := make(chan struct{})
	srv.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDelete}, Hold: hold})
	defer srv.Sandbox.SetFaults(sandbox.Faults{})
	releaseWhenSaid(tb, "e2e: noted", hold)
	// The browser waits for the answer before the test can look at the page again, so the page
	// itself tries to back out while the deletion is on its way and notes what happened.
	status := tb.follow("confirm, then try to back out", chromedp.Evaluate[chromedp.Void](`(() => {
		const d = document.querySelector("dialog[open]");
		const cancel = d.querySelector("[data-confirm-cancel]");
		d.querySelector('button[type="submit"]').click();
		setTimeout(() => {
			const notes = ["cancel disabled: " + cancel.disabled];
			cancel.click();
			notes.push("open after Cancel: " + d.open);
			d.requestClose(); // as Esc does
			notes.push("open after Esc: " + d.open);
			d.dispatchEvent(new MouseEvent("click", {bubbles: true})); // on the backdrop
			notes.push("open after a backdrop click: " + d.open);
			sessionStorage.setItem("backing-out", notes.join(", "));
			console.log("e2e: noted");
		}, 300);
	})()`))
	tb.wantStatus("the deletion's answer", status, http.StatusOK)
	got := run(tb, "what the page noted", chromedp.Evaluate[string](`sessionStorage.getItem("backing-out") || ""`))
	if want := "cancel disabled: true, open after Cancel: true, open after Esc: true, open after a backdrop click: true"; got != want {
		t.Errorf("backing out of a deletion on its way: %q, want %q", got, want)
	}
	tb.wantFlash("deleted", "success", login)
}

// TestCancelWhileCreating: "Cancel" on a form that has been sent cannot call the change back,
// and leaving for the list would lose the answer (here the new passwords, shown only once). While
// a slow Mailgun answers, the Create button shows a spinner, a click on Cancel does nothing, and
// the passwords page follows.
func TestCancelWhileCreating(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("create-sending")
	tb.signIn("operator")
	tb.wantStatus("create form", tb.open("/d/acme.example/new"), http.StatusOK)
	tb.fill(testid("logins-input"), "slow-one")
	// Mailgun holds the create until the page has noted what it looks like and pressed Cancel:
	// with a fixed latency instead, a page whose timer ran late on a busy machine would find the
	// passwords page already there.
	// (The page says so on its console: a script run from outside would wait for the
	// navigation that the hold keeps pending.)
	hold := make(chan struct{})
	srv.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Hold: hold})
	releaseWhenSaid(tb, "e2e: noted", hold)
	defer srv.Sandbox.SetFaults(sandbox.Faults{})
	// The page itself notes, just before the Cancel press, what the user sees meanwhile: the
	// button that sent the form shows a spinner, so that the wait does not look like a press
	// that did nothing, and Cancel looks inert. (Noted in the page's own timer, in
	// sessionStorage, which the passwords page keeps: a test polling from outside could come
	// too late on a busy machine.)
	tb.do("create, then press Cancel", chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.querySelector('[data-testid="create-form"]');
		const b = f.querySelector('[data-testid="confirm-button"]'), c = f.querySelector('[data-testid="cancel-link"]');
		b.click();
		setTimeout(() => {
			sessionStorage.setItem('while-sending', JSON.stringify({busy: b.hasAttribute('data-busy'),
				formBusy: f.getAttribute('aria-busy'), cursor: getComputedStyle(b).cursor, spinner: getComputedStyle(b, '::after').content,
				cancelOpacity: getComputedStyle(c).opacity}));
			c.click();
			console.log('e2e: noted');
		}, 300);
	})()`))
	if !tb.eventually(`!!document.querySelector('[data-testid="secret-password"]')`) {
		t.Fatalf("after Cancel during the sending, on %s without the new password", tb.path())
	}
	if got := tb.secrets()["slow-one@acme.example"]; got == "" {
		t.Errorf("the passwords page does not show slow-one's password: %v", tb.secrets())
	}
	var seen struct {
		Busy                                     bool
		FormBusy, Cursor, Spinner, CancelOpacity string
	}
	raw := run(tb, "read what the page noted", chromedp.Evaluate[string](`sessionStorage.getItem('while-sending') || ''`))
	if err := json.Unmarshal([]byte(raw), &seen); err != nil {
		t.Fatalf("the page noted %q: %v", raw, err)
	}
	// The form says it is busy to a screen reader too (aria-busy), not only to the eye.
	if !seen.Busy || seen.FormBusy != "true" || seen.Cursor != "progress" || seen.Spinner == "none" || seen.Spinner == "" || seen.CancelOpacity != "0.5" {
		t.Errorf("while the create was on its way: %+v; want the form aria-busy, the button busy with a spinner and a progress cursor, and Cancel at opacity 0.5", seen)
	}
}

// TestFailedExportShowsWhy: an export that Mailgun cannot serve answers with the error page
// before any byte of the file (handlers' exports). The export buttons are plain links, so the
// browser shows that page: with the download attribute it stayed on the list and reported a
// failed download, with neither the reason nor the request id.
func TestFailedExportShowsWhy(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("export-fails")
	tb.signIn("operator")
	tb.wantStatus("domain page", tb.open("/d/acme.example"), http.StatusOK)
	srv.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteList}, Rate: 1, Status: 503})
	defer srv.Sandbox.SetFaults(sandbox.Faults{})
	tb.do("press Export", chromedp.Click(testid("export-logins"), chromedp.NodeVisible))
	if !tb.eventually(`!!document.querySelector('[data-testid="error-heading"]') && !!document.querySelector('[data-testid="request-id"]')`) {
		t.Fatalf("after a failed export, on %s without the error page", tb.path())
	}
	if got := tb.text(testid("error-status")); got != "502" && got != "503" {
		t.Errorf("error status = %q, want Mailgun's failure (502 or 503)", got)
	}
}

// TestAuditFiltersLineUp: the audit trail's filter controls (selects, text fields, date fields)
// and its Apply button are all one height, so that the controls side by side in a row line up.
// With the same padding a browser draws a select lower and a date field higher than a text field
// (34, 36 and 38 pixels in Chromium).
func TestAuditFiltersLineUp(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("audit-filters")
	tb.signIn("admin")
	tb.wantStatus("audit trail", tb.open("/audit"), http.StatusOK)
	sel := testid("audit-filters") + ` :is(select, input:not([type=hidden]), button[type=submit])`
	tb.wait(sel)
	heights := query[map[string]float64](tb, "heights of", sel,
		`els => Object.fromEntries(els.map(e => [e.id || e.type, e.getBoundingClientRect().height]))`)
	if len(heights) < 8 {
		t.Fatalf("found %d filter controls (%v), want the 7 filters and Apply", len(heights), heights)
	}
	want := heights["submit"]
	for name, h := range heights {
		if h != want {
			t.Errorf("filter control %s is %vpx high, Apply is %vpx", name, h, want)
		}
	}
	tb.look("audit-filters")
}

// TestAuditFiltersFitAPhone: with a filter set, the audit trail's Apply and Clear buttons stay
// inside the filter box on a small phone (375 and 320 pixels wide); side by side in the last
// column of two they ran past it, and at 320 pixels made the page scroll sideways.
func TestAuditFiltersFitAPhone(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("audit-filters-phone")
	tb.signIn("admin")
	defer tb.do("back to the desktop screen", desktopViewport())
	for _, width := range []int{375, 320} {
		tb.do("phone screen", chromedp.EmulateViewport(int64(width), 740, chromedp.EmulateMobile, chromedp.EmulatePortrait))
		tb.wantStatus("filtered audit trail", tb.open("/audit?login=alice@acme.example"), http.StatusOK)
		tb.wait(testid("filter-clear"))
		tb.fitsWidth("the filtered audit trail", width)
		// How far each control reaches past the inside of the filter box (its padding).
		past := query[map[string]float64](tb, "controls past the filter box", testid("audit-filters")+` :is(select, input:not([type=hidden]), button, a)`,
			`els => { const f = els[0].closest("form"), s = getComputedStyle(f);
				const inner = f.getBoundingClientRect().right - parseFloat(s.paddingRight) - parseFloat(s.borderRightWidth);
				return Object.fromEntries(els.map(e => [e.dataset.testid || e.id || e.type, e.getBoundingClientRect().right - inner])); }`)
		for name, px := range past {
			if px > 0.5 {
				t.Errorf("at %d pixels the filter control %s reaches %.0f pixels past the filter box", width, name, px)
			}
		}
	}
}

// TestPhoneTouchTargets: on a phone, the controls a finger aims at on a domain's page are big
// enough to hit: each row's Reset, Delete and History icon is a target at least 36 pixels wide
// and 44 high (it was 36 by 32), with its label shown under the icon, whole (an icon alone left
// a reader guessing which was Reset and which History), and the small buttons above the
// list (History, CSV) and the "All logins" / "To rotate" switch at least 36 high (they were 28).
// On a laptop they keep their compact size.
func TestPhoneTouchTargets(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("touch-targets")
	tb.signIn("admin")
	defer tb.do("back to the desktop screen", desktopViewport())
	sizes := func(sel string) map[string][2]float64 {
		return query[map[string][2]float64](tb, "sizes of", sel,
			`els => Object.fromEntries(els.map((e, i) => { const r = e.getBoundingClientRect();
				return [(e.dataset.testid || e.className) + " " + (e.closest("tr")?.dataset.login || "") + " " + i, [r.width, r.height]]; }))`)
	}
	const rowActions = rowSel + " :is(a.ar, a.ad, a.ah)"
	small := testid("domain-history-link") + ", " + testid("export-logins") + ", " + testid("view-all") + ", " + testid("view-rotate")

	tb.do("phone screen", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	tb.wantStatus("a domain on a phone", tb.open("/d/acme.example"), http.StatusOK)
	tb.wait(rowActions)
	acts := sizes(rowActions)
	if len(acts) < 30 {
		t.Fatalf("found %d row actions, want Reset, Delete and History on each of acme.example's rows", len(acts))
	}
	for name, wh := range acts {
		if wh[0] < 36 || wh[1] < 44 {
			t.Errorf("on a phone, row action %q is %vx%v pixels, want at least 36x44", name, wh[0], wh[1])
		}
	}
	// Each label is readable (11 pixels at least) and not cut by its link's box.
	labels := query[[]string](tb, "the row actions' labels", rowActions,
		`els => els.filter(e => parseFloat(getComputedStyle(e).fontSize) < 11 || e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)
			.map(e => e.textContent + " of " + e.closest("tr").dataset.login + " (" + getComputedStyle(e).fontSize + ")")`)
	if len(labels) > 0 {
		t.Errorf("on a phone, these row actions' labels are hidden, too small or cut: %v", labels)
	}
	got := sizes(small)
	if len(got) != 4 {
		t.Fatalf("found %d of History, CSV, All logins and To rotate: %v", len(got), got)
	}
	for name, wh := range got {
		if wh[1] < 36 {
			t.Errorf("on a phone, %q is %v pixels high, want at least 36", name, wh[1])
		}
	}
	tb.fitsWidth("a domain on a phone", phoneWidth)
	tb.tableFitsItsBox("a domain on a phone", phoneWidth)
	tb.look("domain-phone")

	tb.do("laptop screen", desktopViewport())
	tb.wantStatus("a domain on a laptop", tb.open("/d/acme.example"), http.StatusOK)
	tb.wait(rowActions)
	for name, wh := range sizes(rowActions) {
		if wh[1] > 28 {
			t.Errorf("on a laptop, row action %q is %v pixels high, want the compact 28 at most", name, wh[1])
		}
	}
	for name, wh := range sizes(small) {
		if wh[1] > 28 {
			t.Errorf("on a laptop, %q is %v pixels high, want the compact 28 at most", name, wh[1])
		}
	}
}

// TestDomainCellIsTheLink: on the domain list, the whole Domain cell leads to the domain, not
// only the name's letters: the row lights up under the pointer, and on a phone a finger aims at
// the cell (the name alone was a 16-pixel-high target). A point in the cell's far corner, away
// from the text, is on the domain's link.
func TestDomainCellIsTheLink(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("domain-cell")
	tb.signIn("admin")
	defer tb.do("back to the desktop screen", desktopViewport())
	for _, width := range []int64{desktopWidth, phoneWidth} {
		if width == phoneWidth {
			tb.do("phone screen", chromedp.EmulateViewport(width, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait))
		}
		tb.wantStatus("domains", tb.open("/"), http.StatusOK)
		tb.wait(testid("domain-row"))
		// For each row: the href of the link under the cell's bottom-right corner (2 pixels in),
		// or what is there instead.
		hits := query[map[string]string](tb, "what is under each domain cell's corner", testid("domain-row")+" > td:first-child",
			`els => Object.fromEntries(els.map(td => {
				td.scrollIntoView({block: "center"}); const s = td.getBoundingClientRect();
				const e = document.elementFromPoint(s.right - 2, s.bottom - 2);
				const a = e && e.closest("a");
				return [td.parentElement.dataset.domain, a ? a.getAttribute("href") : (e ? e.tagName + "." + e.className : "nothing")]; }))`)
		if len(hits) < 4 {
			t.Fatalf("at %d pixels: found %d domain rows, want the demo's 4", width, len(hits))
		}
		for domain, got := range hits {
			if want := "/d/" + domain; got != want {
				t.Errorf("at %d pixels: the corner of %s's cell is on %q, want its link %q", width, domain, got, want)
			}
		}
	}
	tb.look("domains")
	tb.click(testid("domain-row") + `[data-domain="acme.example"] a`)
	if got := tb.path(); got != "/d/acme.example" {
		t.Errorf("the link led to %s, want /d/acme.example", got)
	}
}

// TestPasswordChoiceByKeyboard: the arrow keys move between "Generate" and "Choose a password"
// (checking each as they go) and the focus stays on the choice, so that the way back to
// "Generate" is the other arrow key; Tab then goes on to the password field. A click on "Choose
// a password" takes the focus to the field at once. (The focus used to jump to the password
// field on the first arrow key, where the arrow keys no longer change the choice.)
func TestPasswordChoiceByKeyboard(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("password-choice-keys")
	tb.signIn("operator")
	for _, form := range []string{"/d/acme.example/new", "/d/acme.example/logins/bob@acme.example/reset"} {
		tb.wantStatus("form", tb.open(form), http.StatusOK)
		focused := func() string { return run(tb, "what has the focus", chromedp.Evaluate[string](focusedJS)) }
		manualOn := func() bool {
			return run(tb, "is manual checked", chromedp.Evaluate[bool](`document.querySelector('[data-testid="mode-manual"]').checked`))
		}
		tb.do("focus Generate", chromedp.Focus(testid("mode-generate")))
		tb.do("press ArrowDown", keyPress("ArrowDown", "ArrowDown", 40))
		if got := focused(); !manualOn() || !strings.HasPrefix(got, "input[mode-manual]") {
			t.Errorf("%s: after ArrowDown on Generate: manual checked %v, focus on %s; want manual checked, focus on it", form, manualOn(), got)
		}
		tb.do("press ArrowUp", keyPress("ArrowUp", "ArrowUp", 38))
		if got := focused(); manualOn() || !strings.HasPrefix(got, "input[mode-generate]") {
			t.Errorf("%s: after ArrowUp: manual checked %v, focus on %s; want Generate checked and focused", form, manualOn(), got)
		}
		if !tb.has(`[data-manual-fields][hidden]`) {
			t.Errorf("%s: back on Generate, the password fields still show", form)
		}
		tb.do("press ArrowDown", keyPress("ArrowDown", "ArrowDown", 40))
		tb.do("press Tab", keyPress("Tab", "Tab", 9))
		if got := focused(); !strings.HasPrefix(got, "input[password-input]") {
			t.Errorf("%s: Tab after choosing a password by key went to %s, want the password field", form, got)
		}

		tb.wantStatus("form again", tb.open(form), http.StatusOK)
		tb.check(testid("mode-manual"))
		if got := focused(); !strings.HasPrefix(got, "input[password-input]") {
			t.Errorf("%s: a click on Choose a password left the focus on %s, want the password field", form, got)
		}
	}
}

// TestDeleteDialogSaysWhatItDeletes: the list's delete dialog, opened from a row with the
// keyboard, tells a screen reader which login it deletes, not only its title ("Delete this SMTP
// login?"): the focus goes to Cancel, so the dialog's name and description are all that is read
// out, and the question naming the login was neither. Esc then closes the dialog and gives the
// focus back to the row's Delete link, with its focus ring.
func TestDeleteDialogSaysWhatItDeletes(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("delete-dialog-a11y")
	tb.signIn("admin")
	const login, domain = "bob@acme.example", "acme.example"
	tb.wantStatus("domain page", tb.open("/d/"+domain), http.StatusOK)
	link := rowLogin(login) + " " + deleteSel
	tb.wait(link)
	tb.do("focus the row's Delete", chromedp.Focus(chromedp.CSS(link)))
	tb.do("press Enter", keyPress("Enter", "Enter", 13))
	tb.do("wait for the dialog", chromedp.WaitVisible(chromedp.CSS(`dialog[open] [data-confirm-cancel]`)))
	if got := run(tb, "the focused element", chromedp.Evaluate[string](focusedJS)); !strings.HasPrefix(got, `button "Cancel"`) {
		t.Errorf("the dialog opened with the focus on %s, want Cancel", got)
	}
	d := tb.ax("dialog[open]")
	if d.Role != "dialog" || d.Name != "Delete this SMTP login?" {
		t.Errorf("the dialog is announced as %s %q, want dialog %q", d.Role, d.Name, "Delete this SMTP login?")
	}
	if !strings.Contains(d.Description, login) || !strings.Contains(d.Description, domain) {
		t.Errorf("the dialog's description is %q: a screen reader is not told it deletes %s from %s", d.Description, login, domain)
	}
	// As the confirmation page without scripts says.
	if !strings.Contains(d.Description, "This cannot be undone.") {
		t.Errorf("the dialog's description is %q: it does not say that the delete cannot be undone", d.Description)
	}
	tb.look("delete-dialog")

	tb.do("press Esc", keyPress("Escape", "Escape", 27))
	if tb.has("dialog[open]") {
		t.Fatal("Esc does not close the delete dialog")
	}
	// The page's script gives the focus back when the dialog's close event comes, a task after
	// the dialog closed: the check waits for it.
	onDelete := `document.activeElement.matches("a.ad") && document.activeElement.closest("tr").dataset.login === ` + "`" + login + "`"
	back := tb.eventually(onDelete)
	if !back || !run(tb, "its focus ring", chromedp.Evaluate[bool](focusRingJS)) {
		t.Errorf("after Esc the focus is on %s (ring %v), want %s's Delete link with its ring",
			run(tb, "the focused element", chromedp.Evaluate[string](focusedJS)), run(tb, "ring", chromedp.Evaluate[bool](focusRingJS)), login)
	}
	// Above, the Delete link had the focus when the dialog opened, and Chromium's own closing of a
	// modal dialog gives the focus back to where it was: that check passes without the script's
	// part. A click that does not move the focus (Safari's pointer click on a link, a screen
	// reader's activation in browse mode) opens the dialog with the focus elsewhere, here in the
	// filter box: closing it must still give the focus to the Delete link that opened it.
	tb.do("focus the filter box", chromedp.Focus(chromedp.CSS(testid("filter-input"))))
	tb.do("activate Delete without moving the focus", chromedp.Evaluate[chromedp.Void](
		fmt.Sprintf(`document.querySelector(%q).click()`, link)))
	tb.do("wait for the dialog again", chromedp.WaitVisible(chromedp.CSS(`dialog[open] [data-confirm-cancel]`)))
	tb.do("press Esc again", keyPress("Escape", "Escape", 27))
	if tb.has("dialog[open]") {
		t.Fatal("Esc does not close the delete dialog opened without moving the focus")
	}
	if !tb.eventually(onDelete) {
		t.Errorf("after Esc on a dialog opened without moving the focus, the focus is on %s, want %s's Delete link",
			run(tb, "the focused element", chromedp.Evaluate[string](focusedJS)), login)
	}
	if got := srv.Sandbox.Logins(domain); !slices.Contains(got, login) {
		t.Errorf("Esc deleted %s", login)
	}
}

// TestMismatchedPasswordsRetypedFromTheFirst: a chosen password typed differently in its two
// fields comes back with both fields empty (a password is never sent back to the page), so the
// focus goes to the first one, where typing it again starts, not to "Repeat password", where the
// error is written (it went there, and the first field had to be found again above it). The
// field tells a screen reader why: it is described by the mismatch message. Once both are typed
// again, neither field is described by it any more (the message was hidden from the eye only,
// and a screen reader went on saying the passwords were different).
func TestMismatchedPasswordsRetypedFromTheFirst(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("password-mismatch")
	tb.signIn("admin")
	for _, form := range []struct{ path, form string }{
		{"/d/acme.example/new", "create-form"},
		{"/d/acme.example/logins/bob@acme.example/reset", "reset-form"},
	} {
		tb.wantStatus("form", tb.open(form.path), http.StatusOK)
		if form.form == "create-form" {
			tb.fill(testid("logins-input"), "mismatch")
		}
		tb.check(testid("mode-manual"))
		tb.fill(testid("password-input"), "Chosen-pass-42")
		tb.fill(testid("password2-input"), "Chosen-pass-43")
		tb.wantStatus("send", tb.click(testid(form.form)+" "+testid("confirm-button")), http.StatusBadRequest)
		tb.wait(testid("field-error-password2"))
		if got := run(tb, "the focused element", chromedp.Evaluate[string](focusedJS)); !strings.HasPrefix(got, "input[password-input]") {
			t.Errorf("%s: after mismatched passwords the focus is on %s, want the first password field", form.path, got)
		}
		if d := tb.ax(testid("password-input")).Description; !strings.Contains(d, "The two passwords you typed were different. Type the same password in both fields.") {
			t.Errorf("%s: the first password field is described as %q, without the mismatch", form.path, d)
		}
		tb.look("mismatch-" + form.form)
		// Retyped, the passwords are no longer said to be different.
		tb.fill(testid("password-input"), "Chosen-pass-44")
		tb.fill(testid("password2-input"), "Chosen-pass-44")
		if tb.has(testid("field-error-password2") + ":not([hidden])") {
			t.Errorf("%s: after both passwords were retyped the page still says they were different", form.path)
		}
		// Nor to a screen reader: a hidden error still named in aria-describedby is read out.
		for _, field := range []string{"password-input", "password2-input"} {
			if d := tb.ax(testid(field)).Description; strings.Contains(d, "were different") {
				t.Errorf("%s: after both passwords were retyped %s is still described as %q", form.path, field, d)
			}
		}
	}
}

// TestDottedNamesReadWhole: the domain list's links and the audit trail's domain cells hold
// their names with a line-break opportunity after each dot (views.Breakable), and a screen
// reader still gets the name as written. Chromium made each <wbr> a space in the accessible
// name: "acme. example", which a screen reader reads as "acme", a full stop, "example".
func TestDottedNamesReadWhole(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("dotted-names")
	tb.signIn("admin")
	tb.wantStatus("domains", tb.open("/"), http.StatusOK)
	domains := tb.domains()
	if len(domains) < 4 {
		t.Fatalf("found %d domains, want the demo's 4", len(domains))
	}
	for _, d := range domains {
		if got := tb.ax(testid("domain-row") + `[data-domain="` + d + `"] a`).Name; got != d {
			t.Errorf("the link to %s is read as %q", d, got)
		}
	}
	tb.wantStatus("delete all", tb.open("/d/newsletter.example.org/delete-all"), http.StatusOK)
	tb.fill(testid("confirm-input"), "newsletter.example.org")
	tb.wantStatus("confirm delete all", tb.click(testid("delete-all-form")+" "+testid("confirm-button")), http.StatusOK)
	tb.wantStatus("audit", tb.open("/audit"), http.StatusOK)
	tb.wait(testid("audit-domain"))
	if got := tb.ax(testid("audit-domain")).Name; got != "newsletter.example.org" {
		t.Errorf("the newest audit entry's domain is read as %q, want newsletter.example.org", got)
	}
}

// TestFocusNotUnderStickyHeader: on a laptop, the domain page's table header sticks to the top
// of the window. Going back up the list with Shift+Tab, the browser scrolls each focused Reset,
// Delete or History link into view; it used to stop with the link at the very top of the
// window, hidden behind the header, so that the focus went out of sight for a whole row. Now
// every link the focus reaches is in sight.
func TestFocusNotUnderStickyHeader(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("sticky-focus")
	tb.signIn("admin")
	tb.wantStatus("domain page", tb.open("/d/example.com"), http.StatusOK)
	shiftTab := chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		const shift = 8 // the DevTools protocol's modifier bit for Shift
		for _, p := range []input.DispatchKeyEventParams{
			{Type: input.DispatchKeyEventTypeKeyDown, Key: "Tab", Code: "Tab", Modifiers: shift, WindowsVirtualKeyCode: 9, NativeVirtualKeyCode: 9},
			{Type: input.DispatchKeyEventTypeKeyUp, Key: "Tab", Code: "Tab", Modifiers: shift, WindowsVirtualKeyCode: 9, NativeVirtualKeyCode: 9},
		} {
			if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, p); err != nil {
				return err
			}
		}
		return nil
	})
	// What is drawn at the middle of the focused element, when it is not that element: the
	// header covering it, say.
	const coveredJS = `(() => {
		const e = document.activeElement, r = e.getBoundingClientRect();
		const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		if (at && (at === e || e.contains(at))) return "";
		return (at ? at.tagName.toLowerCase() + " " + at.textContent.trim() : "nothing") + " (the link's top at " + Math.round(r.top) + ")";
	})()`
	tb.do("focus the page size", chromedp.Focus(chromedp.CSS(testid("page-size"))))
	hidden := 0
	for i := 0; i < 90; i++ { // thirty rows, from the bottom of the list up
		tb.do("press Shift+Tab", shiftTab)
		if by := run(tb, "what covers the focus", chromedp.Evaluate[string](coveredJS)); by != "" {
			if hidden++; hidden <= 3 {
				t.Errorf("Shift+Tab to %s: it is hidden behind %s", run(tb, "the focused element", chromedp.Evaluate[string](focusedJS)), by)
			}
		}
	}
	if hidden > 3 {
		t.Errorf("and %d more", hidden-3)
	}
}

// TestDomainPickerShowsWholeNames: the domain picker shows each domain's whole name, wrapped
// when long, on a phone and a laptop. It cut them short with an ellipsis, so that two long
// domains differing only at their end (…example.com and …example.org) read the same there.
func TestDomainPickerShowsWholeNames(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	long := []string{"transactional-mail.acme-corporation.example.com", "transactional-mail.acme-corporation.example.org"}
	for _, d := range long {
		if err := srv.Sandbox.AddDomain(d); err != nil {
			t.Fatal(err)
		}
	}
	tb := srv.tab("picker-names")
	tb.signIn("admin")
	defer tb.do("back to the desktop screen", desktopViewport())
	picker := testid("domain-picker")
	for _, width := range []int64{desktopWidth, phoneWidth} {
		if width == phoneWidth {
			tb.do("phone screen", chromedp.EmulateViewport(width, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait))
		}
		tb.wantStatus("domain page", tb.open("/d/"+long[0]), http.StatusOK)
		tb.check(picker + " > summary")
		// Each item's name: its text, and whether it is drawn whole (no part of it cut off).
		items := query[map[string]bool](tb, "the picker's names", testid("domain-picker-item")+" > span:first-child",
			`els => Object.fromEntries(els.map(e => [e.textContent, e.scrollWidth <= e.clientWidth]))`)
		for _, d := range long {
			whole, ok := items[d]
			if !ok {
				t.Fatalf("at %d pixels the picker lists %v, not %s", width, items, d)
			}
			if !whole {
				t.Errorf("at %d pixels the picker cuts %s short", width, d)
			}
		}
		tb.fitsWidth("the open domain picker", int(width))
	}
	tb.look("picker")
}

// TestFlashIsAnnounced: a flash arrives with the page, in a status region, and a screen reader
// announces only what changes in a live region once the page is there: the message of a delete
// confirmed in the list's dialog (no row to focus, nothing else said) was never read out. The
// page's script now says it through its live region. After "Done" on a passwords page the
// script says which row changed instead (TestDoneLeadsToTheChangedRow), which stays so.
func TestFlashIsAnnounced(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("flash-announced")
	tb.signIn("admin")
	const login = "bob@acme.example"
	tb.wantStatus("domain page", tb.open("/d/acme.example"), http.StatusOK)
	deleteLogin(t, tb, login)
	flash := tb.text(testid("flash-success"))
	if !tb.eventually(fmt.Sprintf(`(document.getElementById("js-live") || {}).textContent === %q`, flash)) {
		t.Errorf("the flash %q is not announced: the live region says %q", flash, tb.text("#js-live"))
	}
	if live := tb.attrs("#js-live", "aria-live"); len(live) != 1 || live[0] != "polite" {
		t.Errorf("#js-live has aria-live %q, want polite", live)
	}

	// A page past the end says so in a warning flash, announced too.
	tb.wantStatus("a page past the end", tb.open("/d/example.com?page=99"), http.StatusOK)
	warning := tb.text(testid("flash-warning"))
	if !tb.eventually(fmt.Sprintf(`document.getElementById("js-live").textContent === %q`, warning)) {
		t.Errorf("the warning %q is not announced: the live region says %q", warning, tb.text("#js-live"))
	}
}

// TestManyDomainsArePaged: the home page of an account of many domains is a page at a time, in
// a browser: the pager's next link and its page size select (which submits itself) keep the
// search, and the page fits a phone.
func TestManyDomainsArePaged(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	for i := range 116 { // with the seed's 4: 120 domains
		if err := srv.Sandbox.AddDomain(fmt.Sprintf("d%03d.example.net", i)); err != nil {
			t.Fatal(err)
		}
	}
	tb := srv.tab("many-domains")
	tb.signIn("admin")
	defer tb.do("back to the desktop screen", desktopViewport())
	tb.wantStatus("home", tb.open("/"), http.StatusOK)
	if got := len(tb.domains()); got != 50 {
		t.Errorf("home: %d domains shown, want 50", got)
	}
	tb.look("home")
	tb.wantStatus("next page", tb.click(testid("pager-next")), http.StatusOK)
	if got := tb.domains(); len(got) != 50 || got[0] != "d049.example.net" {
		t.Errorf("page 2: %d domains from %v, want 50 from d049.example.net", len(got), got[:min(1, len(got))])
	}

	tb.fill(testid("filter-input"), "d1")
	tb.wantStatus("search d1", tb.click(`form[role="search"] button[type="submit"]`), http.StatusOK)
	if got := len(tb.domains()); got != 16 {
		t.Errorf("search d1: %d domains, want 16 (d100–d115), on one page", got)
	}
	tb.fill(testid("filter-input"), "d0")
	tb.wantStatus("search d0", tb.click(`form[role="search"] button[type="submit"]`), http.StatusOK)
	tb.wantStatus("25 a page", tb.setPageSize(25), http.StatusOK)
	if got, want := tb.path(), "/?q=d0&per_page=25"; got != want {
		t.Errorf("after choosing 25 a page: at %s, want %s", got, want)
	}
	if got := tb.domains(); len(got) != 25 || got[24] != "d024.example.net" {
		t.Errorf("search d0 at 25 a page: %v", got)
	}
	tb.do("phone screen", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	tb.fitsWidth("the paged home page", phoneWidth)
	tb.look("home-searched")
}

// TestAuditOutcomesTakeTheFocus: what the audit trail's forms lead to takes the keyboard focus,
// as the create form's refused lines and a passwords page do, so that a screen reader reads it
// first and Tab goes on from there. Filters that cannot be applied (a from date after the to
// date), sent with Apply, came back with "Check the filters" in an alert that was never read out
// (an alert that comes with the page is not), and the focus at the top of the page; the
// integrity check's outcome, likewise.
func TestAuditOutcomesTakeTheFocus(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("audit-focus")
	tb.signIn("admin")
	focusIn := func(what, sel string) {
		t.Helper()
		if !run(tb, "where is the focus", chromedp.Evaluate[bool](`!!document.activeElement.closest(`+"`"+sel+"`"+`)`)) {
			t.Errorf("%s: the focus is on %q, want it in %s", what, run(tb, "the focused element", chromedp.Evaluate[string](focusedJS)), sel)
		}
	}
	enter := keyPress("Enter", "Enter", 13)
	tab := keyPress("Tab", "Tab", 9)

	tb.wantStatus("audit trail", tb.open("/audit"), http.StatusOK)
	query[bool](tb, "type the dates", `input[type="date"]`, `els => { els[0].value = "2026-12-31"; els[1].value = "2026-01-01"; return true; }`)
	tb.do("focus Apply", chromedp.Focus(testid("audit-filters")+` button[type="submit"]`))
	tb.follow("press Enter on Apply", enter)
	tb.wait(testid("filter-problems"))
	focusIn("after Apply with the dates the wrong way round", testid("filter-problems"))
	tb.look("filter-problems-focused")
	tb.do("press Tab", tab)
	focusIn("Tab from the problems", testid("filter-domain"))

	tb.wantStatus("audit trail", tb.open("/audit"), http.StatusOK)
	tb.do("focus Check integrity", chromedp.Focus(testid("verify-link")))
	tb.follow("press Enter on Check integrity", enter)
	tb.wait(testid("verify-intact"))
	focusIn("after Check integrity", testid("verify-intact"))
	if name := tb.ax(testid("verify-intact")).Name; name != "The audit trail is intact" {
		t.Errorf("the check's outcome is named %q, want its heading", name)
	}
	tb.do("press Tab", tab)
	focusIn("Tab from the outcome", testid("verify-again"))
}

// TestOutcomeWithoutPasswordsTakesTheFocus: a passwords page gives the focus to its passwords. One
// with none to show (Mailgun made the logins but sent no password back) gave it to nothing, and
// a screen reader started again from the top of the page; now its panel saying what became of
// the logins takes it, and Tab goes on to what to do there.
func TestOutcomeWithoutPasswordsTakesTheFocus(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("no-passwords-focus")
	tb.signIn("admin")
	srv.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteCreate}, Rate: 1, NoPasswords: true})
	defer srv.Sandbox.SetFaults(sandbox.Faults{})
	tb.wantStatus("create form", tb.open("/d/acme.example/new"), http.StatusOK)
	tb.fill(testid("logins-input"), "nopass1\nnopass2")
	tb.click(testid("confirm-button"))
	tb.wait(testid("nopassword-panel"))
	tb.look("no-passwords")
	if !run(tb, "where is the focus", chromedp.Evaluate[bool](`document.activeElement === document.querySelector('[data-testid="nopassword-panel"]')`)) {
		t.Errorf("on a page with no password to show the focus is on %q, want the panel saying why", run(tb, "the focused element", chromedp.Evaluate[string](focusedJS)))
	}
	tb.do("press Tab", keyPress("Tab", "Tab", 9))
	if got := run(tb, "the focused element", chromedp.Evaluate[string](focusedJS)); got != `a "reset its password"` {
		t.Errorf("Tab from the panel goes to %s, want its first reset link", got)
	}
}
