package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/smtpdesk/smtpdesk/audit"
)

// keyPress presses and releases a key as a keyboard does: a keyDown that carries a printable
// key's text (Enter's is "\r", which is what presses a focused button or submits a form from a
// field), then a keyUp.
func keyPress(key, code string, vk int64) chromedp.Action[chromedp.Void] {
	text := key
	switch {
	case key == "Enter":
		text = "\r"
	case len([]rune(key)) != 1:
		text = "" // another named key (ArrowUp, Tab) types no text
	}
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		for _, p := range []input.DispatchKeyEventParams{
			{Type: input.DispatchKeyEventTypeKeyDown, Key: key, Code: code, Text: text, UnmodifiedText: text, WindowsVirtualKeyCode: vk, NativeVirtualKeyCode: vk},
			{Type: input.DispatchKeyEventTypeKeyUp, Key: key, Code: code, WindowsVirtualKeyCode: vk, NativeVirtualKeyCode: vk},
		} {
			if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// testid is the CSS selector of a data-testid hook.
func testid(id string) string { return `[data-testid="` + id + `"]` }

// The credential rows' hooks (views/rows.go): rows carry no data-testid, because every byte of
// a row repeats a hundred times. A row is a <tr> with data-login, its actions the links with
// class ar (reset), ad (delete) and ah (history).
const (
	rowSel    = "tr[data-login]"
	resetSel  = "a.ar"
	deleteSel = "a.ad"
)

// rowLogin is the selector of one login's row on a domain page.
func rowLogin(login string) string {
	return `tr[data-login="` + login + `"]`
}

// summaryRE reads a pager summary such as "101–200 of 251", or "251 of 251" for one row.
var summaryRE = regexp.MustCompile(`([\d,]+)(?:\s*[–-]\s*([\d,]+))?\s+of\s+([\d,]+)`)

// pagerSummary returns from, to and total of the list on the page.
func (tb *tab) pagerSummary() (from, to, total int) {
	tb.t.Helper()
	s := tb.text(testid("pager-summary"))
	m := summaryRE.FindStringSubmatch(s)
	if m == nil {
		tb.t.Fatalf("pager summary %q: want “from–to of total”", s)
	}
	if m[2] == "" { // one row: from is to
		m[2] = m[1]
	}
	n := func(s string) int {
		var v int
		fmt.Sscan(strings.ReplaceAll(s, ",", ""), &v)
		return v
	}
	return n(m[1]), n(m[2]), n(m[3])
}

// wantPager fails unless the pager summary reads from–to of total.
func (tb *tab) wantPager(step string, from, to, total int) {
	tb.t.Helper()
	f, l, n := tb.pagerSummary()
	if f != from || l != to || n != total {
		tb.t.Errorf("%s: pager says %d–%d of %d, want %d–%d of %d", step, f, l, n, from, to, total)
	}
}

// wantStatus fails unless got is want.
func (tb *tab) wantStatus(step string, got, want int) {
	tb.t.Helper()
	if got != want {
		tb.t.Fatalf("%s: HTTP status %d on %s, want %d", step, got, tb.path(), want)
	}
}

// logins lists the data-login of every credential row on the page.
func (tb *tab) logins() []string {
	tb.t.Helper()
	return tb.attrs(rowSel, "data-login")
}

// createThroughForm opens domain's create form, types lines into its logins and sends it,
// failing the test unless the answer has status.
func (tb *tab) createThroughForm(domain, lines string, status int) {
	tb.t.Helper()
	tb.wantStatus("create form", tb.open("/d/"+domain+"/new"), http.StatusOK)
	tb.fill(testid("logins-input"), lines)
	tb.wantStatus("create "+lines, tb.click(testid("create-form")+" "+testid("confirm-button")), status)
}

// domains lists the data-domain of every domain row on the page.
func (tb *tab) domains() []string {
	tb.t.Helper()
	return tb.attrs(testid("domain-row"), "data-domain")
}

// setPageSize picks a page size in the pager's select and applies it: with scripts the select
// submits itself on change, without them the user presses Apply.
func (tb *tab) setPageSize(n int) int {
	tb.t.Helper()
	sel := testid("page-size")
	if tb.nojs {
		query[bool](tb, "choose page size", sel, fmt.Sprintf(`els => { els[0].value = %q; return true; }`, fmt.Sprint(n)))
		return tb.click(sel + ` ~ button[type="submit"]`)
	}
	return tb.follow("choose page size", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(() => { const s = document.querySelector(%q); s.dispatchEvent(new PointerEvent("pointerdown", {bubbles: true})); s.value = %q; s.dispatchEvent(new Event("change", {bubbles: true})); })()`,
		sel, fmt.Sprint(n))))
}

// secrets reads the shown-once passwords from a secrets page: login → password.
func (tb *tab) secrets() map[string]string {
	tb.t.Helper()
	tb.wait(testid("secret-row"))
	out := map[string]string{}
	for _, login := range tb.attrs(testid("secret-row"), "data-login") {
		out[login] = tb.value(`[data-testid="secret-row"][data-login="` + login + `"] ` + testid("secret-password"))
	}
	return out
}

// wantFlash fails unless a flash of the kind is shown and mentions each of words.
func (tb *tab) wantFlash(step, kind string, words ...string) {
	tb.t.Helper()
	sel := testid("flash-" + kind)
	if !tb.has(sel) {
		tb.t.Errorf("%s: no %s flash on %s (flashes: %q)", step, kind, tb.path(), tb.texts(testid("flash")))
		return
	}
	text := strings.Join(tb.texts(sel), " ")
	for _, w := range words {
		if !strings.Contains(text, w) {
			tb.t.Errorf("%s: %s flash %q does not mention %q", step, kind, text, w)
		}
	}
}

// TestSignInAsEachPersona signs in as each demo persona and checks what they land on: the
// admin sees every domain, the operator and the reviewer only theirs, and a user the policy
// grants nothing sees the no-access page.
func TestSignInAsEachPersona(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tests := []struct {
		persona string
		domains []string // nil: the no-access page
	}{
		{"admin", []string{"acme.example", "empty.example", "example.com", "newsletter.example.org"}},
		{"operator", []string{"acme.example"}},
		{"reviewer", []string{"example.com", "newsletter.example.org"}},
		{"self", []string{"newsletter.example.org"}},
		{"nobody", nil},
	}
	for _, tt := range tests {
		t.Run(tt.persona, func(t *testing.T) {
			tb := newTabURL(t, "signin-"+tt.persona, srv.URL)
			tb.signIn(tt.persona)
			if tt.domains == nil {
				tb.wait(testid("no-access"))
				tb.look("no-access")
				if tb.has(testid("domain-row")) {
					t.Errorf("the no-access page lists domains: %v", tb.domains())
				}
				return
			}
			tb.wait(testid("domain-row"))
			tb.look("home")
			got := tb.domains()
			slices.Sort(got)
			if !slices.Equal(got, tt.domains) {
				t.Errorf("domains = %v, want %v", got, tt.domains)
			}
			if tb.has(testid("no-access")) {
				t.Error("the no-access page is shown to a persona with access")
			}
		})
	}
}

// TestCancelledSignIn: "Cancel sign-in" at the provider comes back as a page that says the
// sign-in did not complete and offers to sign in again, which leads back to the chooser.
func TestCancelledSignIn(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("signin-cancel")
	tb.open("/")
	if tb.has(`[data-testid="sign-in"]`) {
		tb.click(`[data-testid="sign-in"]`)
	}
	tb.wait(testid("persona-cancel"))
	tb.wantStatus("cancel at the provider", tb.click(testid("persona-cancel")), http.StatusForbidden)
	tb.look("cancelled")
	if got := tb.text(testid("error-heading")); got != "Sign-in did not complete" {
		t.Errorf("heading = %q, want \"Sign-in did not complete\"", got)
	}
	if got := tb.text(testid("error-hint")); !strings.Contains(got, "If you cancelled, sign in again") {
		t.Errorf("hint = %q, want the advice to sign in again", got)
	}
	if tb.has(testid("back-link")) {
		t.Error("a signed-out page offers Back to domains, which only leads to the sign-in")
	}
	tb.click(testid("sign-in"))
	tb.wait(testid("persona-admin"))
}

// TestAdminBrowsesDomain: the admin picks example.com, pages forward and back, changes the page
// size and filters the list.
func TestAdminBrowsesDomain(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("browse")
	tb.signIn("admin")
	browseExampleCom(t, tb)
}

// browseExampleCom is the paging journey, shared with the no-script run.
func browseExampleCom(t *testing.T, tb *tab) {
	t.Helper()
	const total = 251 // 250 seeded logins and postmaster@
	tb.wait(testid("domain-row"))
	tb.wantStatus("pick example.com", tb.click(testid("domain-row")+`[data-domain="example.com"] a`), http.StatusOK)
	tb.wait(rowSel)
	tb.look("domain")
	tb.wantPager("first page", 1, 100, total)
	first := tb.logins()
	if len(first) != 100 {
		t.Errorf("first page shows %d rows, want 100", len(first))
	}
	// A row's actions are described by its login, read whole: the line-break opportunity after
	// its @ is no space to a screen reader ("user001@ example.com").
	if len(first) > 1 {
		if d := tb.ax(rowLogin(first[1]) + " " + resetSel).Description; d != first[1] {
			t.Errorf("the Reset of %s is described as %q, want the login", first[1], d)
		}
	}
	// Created shows a relative time; its exact time, in the viewer's time zone, is on hover
	// (the script sets the title from the datetime attribute).
	if !tb.nojs {
		if titles := tb.attrs(rowSel+" time[datetime]", "title"); len(titles) == 0 || titles[0] == "" {
			t.Errorf("the created time has no exact time on hover (titles %q)", titles[:min(1, len(titles))])
		}
	}

	tb.wantStatus("next page", tb.click(testid("pager-next")), http.StatusOK)
	tb.look("domain-page-2")
	tb.wantPager("second page", 101, 200, total)
	second := tb.logins()
	if len(second) == 0 || slices.Contains(first, second[0]) {
		t.Errorf("the second page repeats the first: %v", second[:min(3, len(second))])
	}

	tb.wantStatus("last page", tb.click(testid("pager-last")), http.StatusOK)
	tb.wantPager("last page", 201, total, total)
	if tb.has(testid("pager-next")) {
		t.Error("the last page offers a next page")
	}

	tb.wantStatus("previous page", tb.click(testid("pager-prev")), http.StatusOK)
	tb.wantPager("back to the second page", 101, 200, total)
	tb.wantStatus("first page", tb.click(testid("pager-first")), http.StatusOK)
	tb.wantPager("back to the first page", 1, 100, total)
	if got := tb.logins(); !slices.Equal(got, first) {
		t.Errorf("the first page changed after paging: %d rows", len(got))
	}

	if !tb.nojs {
		// With the keyboard, an arrow key changes the choice without reloading the page (which
		// would apply it and lose the focus at once); Apply appears for the user to confirm.
		before := tb.path()
		tb.do("arrow key on the page size",
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).focus()`, testid("page-size"))),
			keyPress("ArrowUp", "ArrowUp", 38))
		if after := tb.path(); after != before {
			t.Errorf("an arrow key on the page size loaded %s", after)
		}
		if !query[bool](tb, "Apply shown", testid("page-size")+` ~ button[type="submit"]`, `els => !els[0].hidden`) {
			t.Error("after a change made with keys, Apply is not shown")
		}
		if !query[bool](tb, "focus kept", testid("page-size"), `els => document.activeElement === els[0]`) {
			t.Error("the page size lost the focus")
		}
	}
	tb.wantStatus("page size 25", tb.setPageSize(25), http.StatusOK)
	tb.wantPager("page size 25", 1, 25, total)
	if got := tb.count(rowSel); got != 25 {
		t.Errorf("page size 25 shows %d rows", got)
	}
	if !strings.Contains(tb.path(), "per_page=25") {
		t.Errorf("page size is not in the URL: %s", tb.path())
	}
	tb.wantStatus("next page at 25", tb.click(testid("pager-next")), http.StatusOK)
	tb.wantPager("second page at 25", 26, 50, total)

	// "/" jumps to the filter box from the page (and types nothing into it). The key is sent as
	// a keyboard sends it, one keyDown carrying its text (as Puppeteer does): chromedp.KeyEvent
	// sends the text in a separate char event, which a prevented keydown does not cancel.
	// Without the script there is no shortcut, and no hint promising one.
	hintShown := run(tb, "the / hint", chromedp.Evaluate[bool](`getComputedStyle(document.querySelector('[data-testid="filter-shortcut"]')).display !== "none"`))
	if hintShown == tb.nojs {
		t.Errorf("the / hint is shown: %v; want it only with JavaScript", hintShown)
	}
	if !tb.nojs {
		tb.do("press /", keyPress("/", "Slash", 191))
		if id := run(tb, "focused element", chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`)); id != "filter" {
			t.Errorf(`after "/" the focus is on %q, want the filter box`, id)
		}
		if v := tb.value(testid("filter-input")); v != "" {
			t.Errorf(`"/" typed %q into the filter box`, v)
		}
		// In a field, "/" is a character like any other: pressed in the filter box (where it
		// already is), it is typed there, not taken by the shortcut.
		tb.do("press / in the filter box", keyPress("/", "Slash", 191))
		if v := tb.value(testid("filter-input")); v != "/" {
			t.Errorf(`"/" pressed in the filter box left %q in it, want "/"`, v)
		}
	}
	tb.fill(testid("filter-input"), "user01")
	tb.wantStatus("filter", tb.follow("submit the filter", chromedp.Submit(chromedp.CSS(testid("filter-input")))), http.StatusOK)
	tb.look("domain-filtered")
	got := tb.logins()
	if len(got) == 0 {
		t.Fatal("the filter user01 matches nothing")
	}
	for _, l := range got {
		if !strings.Contains(l, "user01") {
			t.Errorf("the filter user01 shows %s", l)
		}
	}
	if !tb.has(testid("filter-summary")) {
		t.Error("no filter summary")
	} else if s := tb.text(testid("filter-summary")); !strings.Contains(s, fmt.Sprint(len(got))) {
		t.Errorf("filter summary %q does not give the %d matches", s, len(got))
	}

	// "To rotate" narrows the filtered list to the logins marked "consider rotating", and "All
	// logins" brings the others back; the filter stays.
	marked := tb.count(rowSel + ":has(" + testid("age-badge") + ")")
	tb.wantStatus("to rotate", tb.click(testid("view-rotate")), http.StatusOK)
	tb.look("domain-rotate")
	if n := tb.count(rowSel); n != marked || n == 0 {
		t.Errorf("the rotate view shows %d rows; %d of the filtered rows were marked", n, marked)
	}
	if n := tb.count(rowSel + ":not(:has(" + testid("age-badge") + "))"); n > 0 {
		t.Errorf("the rotate view shows %d unmarked rows", n)
	}
	tb.wantStatus("all logins", tb.click(testid("view-all")), http.StatusOK)
	if again := tb.logins(); !slices.Equal(again, got) {
		t.Errorf("back on all logins, %d rows instead of the filter's %d", len(again), len(got))
	}

	// A hand-edited link past the end shows the last page and says so.
	tb.wantStatus("a page past the end", tb.open("/d/example.com?page=9&per_page=50"), http.StatusOK)
	tb.look("domain-past-end")
	tb.wantPager("past the end", 251, total, total)
	if w, want := tb.text(testid("flash-warning")), "There is no page 9: this is the last page, 6."; w != want {
		t.Errorf("past the end, the warning says %q, want %q", w, want)
	}
}

// TestAdminManagesCredentials: the admin creates two logins with generated passwords, reads them
// from the page and proves they work, resets one with a manual password, deletes the other after
// confirming, empties a domain with delete-all and finds every action in the audit trail.
func TestAdminManagesCredentials(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("manage")
	tb.signIn("admin")
	const domain = "example.com"
	one, two := "e2e-one@"+domain, "e2e-two@"+domain

	// Create two logins with generated passwords.
	tb.open("/d/" + domain)
	tb.wantStatus("create", tb.click(testid("create-button")), http.StatusOK)
	tb.wait(testid("logins-input"))
	tb.look("create")
	tb.fill(testid("logins-input"), "e2e-one\ne2e-two")
	tb.check(testid("mode-generate"))
	tb.wantStatus("submit create", tb.click(testid("create-form")+" "+testid("confirm-button")), http.StatusOK)
	tb.look("created-secrets")
	secrets := tb.secrets()
	for _, login := range []string{one, two} {
		pw := secrets[login]
		if pw == "" {
			t.Fatalf("no password shown for %s; secrets page shows %v", login, keys(secrets))
		}
		if !srv.Sandbox.CheckPassword(domain, login, pw) {
			t.Errorf("the password shown for %s does not work", login)
		}
	}
	srv.assertNotLogged(secrets[one], secrets[two])

	// "Copy all" puts every login with its password on the clipboard, a "login<TAB>password"
	// line each in the order shown; a row's "Copy" puts its password alone.
	tb.grantClipboard()
	tb.do("copy all", chromedp.Click(chromedp.CSS(testid("copy-all-button")), chromedp.NodeVisible))
	if got, want := tb.clipboard(), one+"\t"+secrets[one]+"\n"+two+"\t"+secrets[two]+"\n"; got != want {
		t.Errorf("after Copy all the clipboard holds %d lines (%d bytes), want the two logins with their passwords (%d bytes)",
			strings.Count(got, "\n"), len(got), len(want))
	}
	if got := tb.text(testid("copy-all-button")); got != "Copied" {
		t.Errorf("after Copy all its button says %q, want Copied", got)
	}
	tb.do("copy one", chromedp.Click(chromedp.CSS(`[data-login="`+two+`"] `+testid("copy-button")), chromedp.NodeVisible))
	if got := tb.clipboard(); got != secrets[two] {
		t.Errorf("after Copy on %s the clipboard holds %d bytes, not its password", two, len(got))
	}

	// Reset one with a manual password.
	const manual = "Manual-e2e-pass-42"
	tb.open("/d/" + domain + "?q=e2e-")
	tb.wait(rowLogin(one))
	tb.wantStatus("reset", tb.click(rowLogin(one)+" "+resetSel), http.StatusOK)
	tb.wait(testid("mode-manual"))
	tb.look("reset")
	tb.check(testid("mode-manual"))
	tb.fill(testid("password-input"), manual)
	tb.fill(testid("password2-input"), manual)
	tb.wantStatus("submit reset", tb.click(testid("reset-form")+" "+testid("confirm-button")), http.StatusOK)
	tb.look("reset-done")
	if !srv.Sandbox.CheckPassword(domain, one, manual) {
		t.Errorf("the manual password does not work for %s", one)
	}
	if srv.Sandbox.CheckPassword(domain, one, secrets[one]) {
		t.Errorf("the old password still works for %s", one)
	}
	// The list now says when SMTP Desk last reset the password.
	tb.open("/d/" + domain + "?q=" + one)
	tb.wait(rowLogin(one))
	tb.look("reset-shown")
	if !tb.has(rowLogin(one) + " " + testid("reset-at")) {
		t.Errorf("after its reset, %s's row does not show the reset", one)
	}
	srv.assertNotLogged(manual)

	// Delete the other after confirming.
	tb.open("/d/" + domain + "?q=e2e-")
	tb.wait(rowLogin(two))
	deleteLogin(t, tb, two)
	tb.look("deleted")
	if slices.Contains(srv.Sandbox.Logins(domain), two) {
		t.Errorf("%s still exists after delete", two)
	}
	if !slices.Contains(srv.Sandbox.Logins(domain), one) {
		t.Errorf("deleting %s removed %s too", two, one)
	}

	// Delete all on newsletter.example.org: the system login stays.
	const nl = "newsletter.example.org"
	tb.open("/d/" + nl)
	tb.wait(rowSel)
	tb.wantStatus("delete all", tb.click(testid("delete-all-button")), http.StatusOK)
	tb.wait(testid("confirm-input"))
	tb.look("delete-all")
	tb.fill(testid("confirm-input"), nl)
	tb.wantStatus("confirm delete all", tb.click(testid("delete-all-form")+" "+testid("confirm-button")), http.StatusOK)
	tb.look("deleted-all")
	if got, want := srv.Sandbox.Logins(nl), []string{"postmaster@" + nl}; !slices.Equal(got, want) {
		t.Errorf("after delete all, %s has %v, want %v", nl, got, want)
	}
	tb.open("/d/" + nl)
	if got := tb.logins(); !slices.Equal(got, []string{"postmaster@" + nl}) {
		t.Errorf("after delete all the page lists %v", got)
	}
	if !tb.has(rowLogin("postmaster@"+nl) + " " + testid("system-badge")) {
		t.Error("postmaster@ has no system badge")
	}

	// The audit trail has every action.
	tb.wantStatus("audit", tb.open("/audit"), http.StatusOK)
	tb.wait(testid("audit-row"))
	tb.look("audit")
	rows := strings.Join(tb.texts(testid("audit-row")), "\n")
	for _, want := range [][]string{
		{domain, one, two}, // create
		{domain, one},      // reset
		{domain, two},      // delete
		{nl},               // delete all
	} {
		for _, w := range want {
			if !strings.Contains(rows, w) {
				t.Errorf("the audit page does not mention %q:\n%s", w, rows)
			}
		}
	}
	// Each of the four actions has its own row, recorded as done.
	done := query[[]string](tb, "action and outcome of", testid("audit-row"),
		`els => els.map(e => (e.querySelector('[data-testid="audit-action"]')?.dataset.action ?? "") + " " + (e.querySelector('[data-testid="audit-outcome"]')?.dataset.outcome ?? ""))`)
	for _, action := range []string{audit.ActionCredentialCreate, audit.ActionCredentialReset, audit.ActionCredentialDelete, audit.ActionCredentialDeleteAll} {
		if !slices.Contains(done, action+" ok") {
			t.Errorf("the audit page has no %s row recorded ok: %q", action, done)
		}
	}

	// A hand-edited filter link: the page names what it did not apply and keeps the rest.
	tb.wantStatus("audit, malformed filter", tb.open("/audit?domain="+strings.ToUpper(domain)+"&from=2026-02-30&action=drop"), http.StatusOK)
	tb.wait(testid("filter-problems"))
	tb.look("audit-filter-problems")
	if got := tb.texts(testid("filter-problems") + " li"); len(got) != 2 {
		t.Errorf("filter problems %q, want the from date and the action", got)
	}
	if got := tb.attrs(testid("filter-domain")+" option:checked", "value"); len(got) != 1 || got[0] != domain {
		t.Errorf("domain filter shows %q, want %s", got, domain)
	}

	// The administrator checks the trail's hash chain from the audit page.
	tb.wantStatus("check integrity", tb.click(testid("verify-link")), http.StatusOK)
	tb.wait(testid("verify-intact"))
	tb.look("audit-verify")
	// The check is on the record, newest first.
	tb.wantStatus("audit after the check", tb.open("/audit"), http.StatusOK)
	if got := tb.text(testid("audit-row") + " " + testid("audit-action")); !strings.Contains(got, "Checked integrity") {
		t.Errorf("the newest audit entry is %q, want the integrity check", got)
	}
}

// deleteLogin deletes one login from a domain page: the delete link, then the confirmation.
// Without scripts the link leads to a confirmation page; with them, the row's delete link opens
// the page's confirmation dialog instead, which posts the same form.
func deleteLogin(t *testing.T, tb *tab, login string) {
	t.Helper()
	link := rowLogin(login) + " " + deleteSel
	tb.wait(link)
	dialog := !tb.nojs
	var confirm string
	if dialog {
		tb.check(link)
		confirm = `dialog[open] button[type="submit"]`
		tb.do("wait for the dialog", chromedp.WaitVisible(chromedp.CSS(confirm)))
		tb.look("delete-dialog")
	} else {
		tb.wantStatus("delete", tb.click(link), http.StatusOK)
		confirm = testid("delete-form") + " " + testid("confirm-button")
		tb.wait(confirm)
		tb.look("delete-confirm")
		if q := tb.text(testid("confirm-question")); !strings.Contains(q, login) {
			t.Errorf("the confirmation %q does not name %s", q, login)
		}
	}
	tb.wantStatus("confirm delete", tb.click(confirm), http.StatusOK)
	tb.wantFlash("deleted", "success", login)
	// The row is gone, so the keyboard focus goes to the message that says so (with the
	// script; without it the browser starts at the top of the page, as on any page).
	if !tb.nojs {
		if got := run(tb, "the focused element", chromedp.Evaluate[string](focusedJS)); !strings.HasPrefix(got, "div[flash]") {
			t.Errorf("after deleting %s the focus is on %q, want the message that says so", login, got)
		}
	}
}

// TestOperatorStaysInTheirDomain: the operator of acme.example resets a password there and gets
// 403, with no Mailgun call, for example.com by editing the URL.
func TestOperatorStaysInTheirDomain(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("operator")
	tb.signIn("operator")
	const domain = "acme.example"
	tb.open("/d/" + domain)
	tb.wait(rowSel)
	tb.look("domain")
	var login string
	for _, l := range tb.logins() {
		if !strings.HasPrefix(l, "postmaster@") {
			login = l
			break
		}
	}
	if login == "" {
		t.Fatal("no resettable login on acme.example")
	}
	resetFromRow(tb, srv, domain, login)

	srv.Sandbox.ResetCalls()
	tb.wantStatus("edit the URL to example.com", tb.open("/d/example.com"), http.StatusForbidden)
	tb.look("forbidden")
	if got := tb.text(testid("error-status")); got != "403" {
		t.Errorf("error status = %q, want 403", got)
	}
	tb.wantStatus("reset in example.com", tb.open("/d/example.com/logins/user001@example.com/reset"), http.StatusForbidden)
	for _, c := range srv.Sandbox.Calls() {
		if c.Domain == "example.com" {
			t.Errorf("Mailgun was called for example.com: %+v", c)
		}
	}
}

// TestTeamMemberResetsOwnLogin: the self-service persona (a viewer of newsletter.example.org
// whose e-mail is its login news@) finds Reset on her own row only, resets her password, and
// gets a password that works; another login's reset form is refused without a Mailgun call.
func TestTeamMemberResetsOwnLogin(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("self-service")
	tb.signIn("self")
	const domain, own = "newsletter.example.org", "news@newsletter.example.org"
	tb.open("/d/" + domain)
	tb.wait(rowSel)
	tb.look("domain")
	if n := tb.count(rowSel + " " + resetSel); n != 1 || !tb.has(rowLogin(own)+" "+resetSel) {
		t.Errorf("%d Reset links, want one, on %s's own row", n, own)
	}
	if tb.has(rowSel+" "+deleteSel) || tb.has(testid("create-button")) || tb.has(testid("delete-all-button")) {
		t.Error("the self-service persona is offered delete or create")
	}
	resetFromRow(tb, srv, domain, own)

	// The home page leads straight to the same: the own login's reset, a press away.
	tb.open("/")
	tb.wait(testid("own-login-reset"))
	tb.wantStatus("reset from home", tb.click(testid("own-login-reset")), http.StatusOK)
	tb.wait(testid("reset-form"))
	if got := tb.text(testid("login")); got != own {
		t.Errorf("the home page's reset opened the form for %q, want %s", got, own)
	}

	srv.Sandbox.ResetCalls()
	tb.wantStatus("another login's reset", tb.open("/d/"+domain+"/logins/digest@"+domain+"/reset"), http.StatusForbidden)
	for _, c := range srv.Sandbox.Calls() {
		if c.Route == "update" {
			t.Errorf("Mailgun was asked to change a password: %+v", c)
		}
	}
}

// resetFromRow presses Reset on login's row of the domain page on screen, sends the form with a
// generated password, and checks that the password shown works in Mailgun.
func resetFromRow(tb *tab, srv *server, domain, login string) {
	tb.t.Helper()
	tb.wantStatus("reset", tb.click(rowLogin(login)+" "+resetSel), http.StatusOK)
	tb.wait(testid("mode-generate"))
	tb.check(testid("mode-generate"))
	tb.wantStatus("submit reset", tb.click(testid("reset-form")+" "+testid("confirm-button")), http.StatusOK)
	tb.look("reset-secret")
	if pw := tb.secrets()[login]; pw == "" || !srv.Sandbox.CheckPassword(domain, login, pw) {
		tb.t.Errorf("the generated password shown for %s does not work", login)
	}
}

// TestReviewerCannotChangeAnything: the reviewer sees no create, reset or delete controls, and a
// forged POST with the page's own CSRF token gets 403 and makes no Mailgun call.
func TestReviewerCannotChangeAnything(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("reviewer")
	tb.signIn("reviewer")
	const domain = "example.com"
	tb.open("/d/" + domain)
	tb.wait(rowSel)
	tb.look("domain")
	// What a reviewer can do: take the domain's logins into a review. The page's CSV link,
	// fetched by the browser with its session, is the header and one line per login.
	exported := tb.fetchLink(testid("export-logins"))
	if lines := strings.Split(strings.TrimSpace(exported), "\n"); lines[0] != "domain,login,mailbox,created_at,age_days,system,consider_rotating,password_reset_at,password_age_days" ||
		len(lines)-1 != len(srv.Sandbox.Logins(domain)) {
		t.Errorf("the CSV export has %d lines, first %q; want the header and %d logins", len(lines), lines[0], len(srv.Sandbox.Logins(domain)))
	}
	// And every domain's at once, from the home page: the reviewer's two domains.
	tb.open("/")
	tb.wait(testid("export-all-logins"))
	exported = tb.fetchLink(testid("export-all-logins"))
	if lines, want := strings.Split(strings.TrimSpace(exported), "\n"), len(srv.Sandbox.Logins(domain))+len(srv.Sandbox.Logins("newsletter.example.org")); len(lines)-1 != want {
		t.Errorf("the all-domains CSV export has %d lines, first %q; want the header and %d logins", len(lines), lines[0], want)
	}
	tb.open("/d/" + domain)
	tb.wait(rowSel)
	for _, id := range []string{"create-button", "delete-all-button"} {
		// Not offered at all: a control that is there but does nothing only puzzles.
		if n := tb.count(testid(id)); n > 0 {
			t.Errorf("the reviewer is offered %d %s controls", n, id)
		}
	}
	for _, sel := range []string{resetSel, deleteSel} {
		if n := tb.count(rowSel + " " + sel); n > 0 {
			t.Errorf("the reviewer sees %d usable %s row actions", n, sel)
		}
	}

	login := "user001@" + domain
	srv.Sandbox.ResetCalls()
	status := tb.follow("forge a reset POST", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const token = document.querySelector('input[name="_csrf"]').value;
		const f = document.createElement("form");
		f.method = "post";
		f.action = %q;
		for (const [k, v] of Object.entries({_csrf: token, mode: "manual", password: "Forged-pass-1", password2: "Forged-pass-1"})) {
			const i = document.createElement("input");
			i.type = "hidden"; i.name = k; i.value = v;
			f.appendChild(i);
		}
		document.body.appendChild(f);
		f.submit();
	})()`, "/d/"+domain+"/logins/"+login+"/reset")))
	tb.wantStatus("forged reset", status, http.StatusForbidden)
	tb.look("forbidden")
	for _, c := range srv.Sandbox.Calls() {
		if c.Route != "list" && c.Route != "domains" {
			t.Errorf("a forged POST reached Mailgun: %+v", c)
		}
	}
	if srv.Sandbox.CheckPassword(domain, login, "Forged-pass-1") {
		t.Error("the forged password was set")
	}
}

// TestSignOutThenBack: after sign-out, the back button shows the sign-in page, not the page the
// user was on.
func TestSignOutThenBack(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("signout")
	tb.signIn("admin")
	resp := tb.openResponse("/d/example.com")
	tb.wait(rowSel)
	cc := ""
	for k, v := range resp.Headers {
		if strings.EqualFold(k, "Cache-Control") {
			cc = fmt.Sprint(v)
		}
	}
	if !strings.Contains(cc, "no-store") {
		t.Errorf("the domain page is served with Cache-Control %q, want no-store: the browser may show it again after sign-out", cc)
	}
	tb.signOut()
	tb.wait(testid("signed-out"))
	tb.look("signed-out")

	// Back to the domain page (the provider's sign-out step redirects, so it is one step back):
	// the browser must not show it again. Either it asks the server again (no-store), which
	// sends it to sign in, or, when it restores the page from its back-forward cache, the page's
	// script reloads it; allow a moment for that reload.
	tb.historyBackTo("/d/example.com")
	protected := fmt.Sprintf(`!!document.querySelector(%q)`, rowSel+", "+testid("user-menu"))
	if !tb.eventually("!" + protected + ` && document.readyState === "complete"`) {
		t.Fatalf("history back to the domain page after sign-out shows it again (%s)", tb.path())
	}
	if !tb.eventually(fmt.Sprintf(`!!document.querySelector(%q)`, testid("sign-in")+`, [data-testid^="persona-"]`)) {
		t.Errorf("history back to the domain page after sign-out shows %s, want the sign-in page", tb.url())
	}
	tb.look("back-after-sign-out")
}

// TestSignOutByAddress: a user who types the sign-out address gets a page that asks, its Sign
// out button focused, so Enter signs out; Stay signed in leads home.
func TestSignOutByAddress(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("signout-address")
	tb.signIn("operator")
	tb.wantStatus("open /auth/logout", tb.open("/auth/logout"), http.StatusOK)
	tb.wait(testid("sign-out-page"))
	tb.look("sign-out-address")
	tb.axe("sign-out-address")
	tb.click(testid("stay-signed-in"))
	tb.wait(testid("user-menu"))
	if tb.path() != "/" {
		t.Errorf("Stay signed in led to %s, want the home page", tb.path())
	}
	tb.open("/auth/logout")
	if !tb.eventually(`document.activeElement && document.activeElement.matches('[data-testid="sign-out-confirm"]')`) {
		t.Fatal("the Sign out button is not focused when the page opens")
	}
	tb.follow("press Enter", keyPress("Enter", "Enter", 13))
	tb.wait(testid("signed-out"))
	tb.open("/")
	if tb.has(testid("user-menu")) {
		t.Error("still signed in after Enter on the sign-out page")
	}
}

// TestFormAfterSignOutElsewhere: the operator fills in the create form, signs out in another
// tab, then sends the form. Nothing is created; the page says why, that the logins typed are
// kept, and offers to sign in again, which leads back to the form with them filled in (they
// were lost before), ready to send.
func TestFormAfterSignOutElsewhere(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("session-ended")
	tb.signIn("operator")
	const domain = "acme.example"
	tb.open("/d/" + domain + "/new")
	tb.wait(testid("logins-input"))
	tb.fill(testid("logins-input"), "late-one\nlate-two")
	// A password typed, then given up for a generated one: the draft keeps what was typed but
	// never a password (sessionStorage is readable by any script of the origin and outlives the
	// page), whether its field is in use or not.
	const typedPassword = "Typed-then-dropped-42"
	tb.check(testid("mode-manual"))
	tb.fill(testid("password-input"), typedPassword)
	tb.fill(testid("password2-input"), typedPassword)
	tb.check(testid("mode-generate"))
	// Another tab signs out: the same browser, so the same cookie.
	signedOut := run(tb, "sign out elsewhere", chromedp.Evaluate[bool](`fetch("/auth/logout", {
		method: "POST",
		body: new URLSearchParams({_csrf: document.querySelector('input[name="_csrf"]').value}),
		redirect: "manual",
	}).then(r => r.type === "opaqueredirect" || r.ok)`, chromedp.EvalAwaitPromise))
	if !signedOut {
		t.Fatal("signing out from another tab failed")
	}
	srv.Sandbox.ResetCalls()
	tb.wantStatus("send the form", tb.click(testid("create-form")+" "+testid("confirm-button")), http.StatusForbidden)
	tb.look("ended")
	if h := tb.text(testid("error-heading")); h != "Your session has ended" {
		t.Errorf("heading %q", h)
	}
	for _, c := range srv.Sandbox.Calls() {
		if c.Route == "create" {
			t.Errorf("a form sent after sign-out reached Mailgun: %+v", c)
		}
	}
	if !tb.has(testid("draft-kept")+":not([hidden])") || tb.has(testid("draft-lost")+":not([hidden])") {
		t.Error("the page does not say that the logins typed are kept")
	}
	stored := run(tb, "what the tab's storage holds", chromedp.Evaluate[string](`(() => {
		let all = "";
		for (const s of [sessionStorage, localStorage]) {
			for (let i = 0; i < s.length; i++) all += s.key(i) + "=" + s.getItem(s.key(i)) + "\n";
		}
		return all;
	})()`))
	if !strings.Contains(stored, "late-one") {
		t.Errorf("the tab's storage does not hold the logins typed: %.200q", stored)
	}
	if strings.Contains(stored, typedPassword) {
		t.Error("the draft kept in the tab's storage holds the password typed")
	}
	tb.click(testid("sign-in"))
	tb.wait(testid("persona-operator"))
	tb.wantStatus("sign in again", tb.click(testid("persona-operator")), http.StatusOK)
	tb.wait(testid("logins-input"))
	if p := tb.path(); p != "/d/"+domain+"/new" {
		t.Errorf("signing in again leads to %s, want the form's page", p)
	}
	tb.look("draft-restored")
	if got := tb.value(testid("logins-input")); got != "late-one\nlate-two" {
		t.Errorf("the form shown again holds %q, want the logins typed before", got)
	}
	if !tb.has(testid("draft-restored") + ":not([hidden])") {
		t.Error("the form does not say it filled in what was typed before")
	}
	tb.wantStatus("send it again", tb.click(testid("create-form")+" "+testid("confirm-button")), http.StatusOK)
	if got := keys(tb.secrets()); !slices.Equal(got, []string{"late-one@" + domain, "late-two@" + domain}) {
		t.Errorf("sent again, the form created %v", got)
	}
	// The draft is gone once used: the form opened again is empty.
	tb.open("/d/" + domain + "/new")
	if got := tb.value(testid("logins-input")); got != "" {
		t.Errorf("the form opened later still holds %q", got)
	}
}

// TestWithoutJavaScript runs the key journeys with scripts off: paging and page size, creating
// a login with a generated password, and deleting one through the confirmation page.
func TestWithoutJavaScript(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("nojs")
	tb.disableScripts()
	tb.signIn("admin")
	browseExampleCom(t, tb)

	const domain = "acme.example"
	login := "nojs@" + domain
	tb.open("/d/" + domain)
	tb.wantStatus("create", tb.click(testid("create-button")), http.StatusOK)
	tb.wait(testid("logins-input"))
	tb.look("create")
	tb.fill(testid("logins-input"), "nojs")
	// Without the script the password fields stay open while "Generate" is chosen: a password
	// typed there is not dropped for a generated one: the form comes back saying so, where the
	// choice is made and in the choice's description, with nothing sent to Mailgun.
	tb.fill(testid("password-input"), "typed-pass-42")
	tb.fill(testid("password2-input"), "typed-pass-42")
	tb.wantStatus("submit create with a typed password", tb.click(testid("create-form")+" "+testid("confirm-button")), http.StatusBadRequest)
	tb.wait(testid("field-error-mode"))
	tb.look("typed-with-generate")
	if d := tb.ax(testid("mode-generate")).Description; !strings.Contains(d, `but "Generate" is chosen`) {
		t.Errorf("the Generate choice is described as %q, without the reason the form came back", d)
	}
	if slices.Contains(srv.Sandbox.Logins(domain), login) {
		t.Errorf("%s was created from a form that came back", login)
	}
	tb.wantStatus("submit create", tb.click(testid("create-form")+" "+testid("confirm-button")), http.StatusOK)
	tb.look("created-secrets")
	pw := tb.secrets()[login]
	if pw == "" || !srv.Sandbox.CheckPassword(domain, login, pw) {
		t.Errorf("the generated password shown for %s does not work", login)
	}

	tb.open("/d/" + domain)
	tb.wait(rowLogin(login))
	deleteLogin(t, tb, login)
	if slices.Contains(srv.Sandbox.Logins(domain), login) {
		t.Errorf("%s still exists after delete", login)
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
