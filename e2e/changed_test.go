package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// changedRowJS describes the row marked just changed and where the focus and the screen are:
// its login, whether it is the only one marked, whether the focus is on its Reset link, whether
// it is inside the viewport, and its first cell's background colour and left bar (the
// highlight).
const changedRowJS = `(() => {
	const rows = document.querySelectorAll("table.creds > tbody > tr[data-changed]");
	if (rows.length === 0) return {count: 0};
	const row = rows[0], r = row.getBoundingClientRect(), a = document.activeElement;
	const cs = getComputedStyle(row.cells[0]);
	return {
		count: rows.length,
		login: row.getAttribute("data-login"),
		focusOnReset: !!a && a.matches("a.ar") && a.closest("tr") === row,
		inView: r.top >= 0 && r.bottom <= window.innerHeight,
		background: cs.backgroundColor,
		bar: cs.boxShadow,
	};
})()`

type changedRow struct {
	Count        int    `json:"count"`
	Login        string `json:"login"`
	FocusOnReset bool   `json:"focusOnReset"`
	InView       bool   `json:"inView"`
	Background   string `json:"background"`
	Bar          string `json:"bar"`
}

// TestDoneLeadsToTheChangedRow: after a password reset started from page 2 of a long list,
// "Done, back to the list" returns to page 2 with the reset login's row highlighted, scrolled
// into view, announced to screen readers and holding the keyboard focus on its Reset link, so
// that Tab goes on from there; the address no longer names the login, and the highlight goes
// once the focus leaves the row. Reduced motion is emulated, as it keeps the highlight still
// until then (without it the highlight fades after a few seconds).
func TestDoneLeadsToTheChangedRow(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("done-row")
	tb.signIn("admin")
	tb.do("light mode, reduced motion", colorScheme("light"))
	const domain, login = "example.com", "user150@example.com"
	tb.wantStatus("page 2", tb.open("/d/"+domain+"?page=2&per_page=100"), http.StatusOK)
	tb.wait(rowSel)
	resetFromRow(tb, srv, domain, login)

	tb.wantStatus("Done", tb.click(testid("done-link")), http.StatusOK)
	tb.wait(rowSel)
	if got, want := tb.path(), "/d/"+domain+"?page=2&per_page=100"; got != want {
		t.Errorf("Done led to %s, want %s (the page the reset came from, ?changed= gone from the address)", got, want)
	}
	got := run(tb, "read the changed row", chromedp.Evaluate[changedRow](changedRowJS))
	if got.Count != 1 || got.Login != login {
		t.Fatalf("rows marked just changed: %d, the first %q; want one, %q", got.Count, got.Login, login)
	}
	if !got.FocusOnReset {
		t.Errorf("the focus is on %s, want the Reset link of %s's row", run(tb, "what has the focus", chromedp.Evaluate[string](focusedJS)), login)
	}
	if !got.InView {
		t.Error("the changed row is not scrolled into view")
	}
	if got.Background == "rgba(0, 0, 0, 0)" || got.Background == "transparent" || !strings.Contains(got.Bar, "inset") {
		t.Errorf("the changed row is not highlighted: background %s, bar %q", got.Background, got.Bar)
	}
	// The success message, above the list and scrolled out of sight on a laptop, is said with
	// the row's focus (it was not: only "Just changed: …").
	if !tb.eventually(fmt.Sprintf(`(document.getElementById("js-live") || {}).textContent === %q`,
		"Password for "+login+" changed. Its row has the focus.")) {
		t.Errorf("screen readers are told %q, want the success message, then the row", tb.text("#js-live"))
	}
	tb.wantFlash("Done", "success", "Password for "+login+" changed")
	tb.look("list-after-reset")
	tb.rowShots("done-row", login)

	// Tab goes on along the row (Delete, History), then on to the next row: the highlight goes.
	tab := func() { tb.do("press Tab", keyPress("Tab", "Tab", 9)) }
	tab()
	if !run(tb, "where is the focus", chromedp.Evaluate[bool](`document.activeElement.matches("a.ad") && document.activeElement.closest("tr").hasAttribute("data-changed")`)) {
		t.Errorf("Tab from the Reset link went to %s, want the same row's Delete link", run(tb, "what has the focus", chromedp.Evaluate[string](focusedJS)))
	}
	tab()
	tab()
	if n := tb.count("tr[data-changed]"); n != 0 {
		t.Errorf("the focus left the row (now on %s) and %d rows are still marked", run(tb, "what has the focus", chromedp.Evaluate[string](focusedJS)), n)
	}
}

// TestWayBackWarningIsAnnounced: "Done" after a reset that another user then reset again leads
// to the list with the changed row focused and a warning that the password just shown no longer
// works. Screen readers were told only "Just changed: …. Its row has the focus.": the flashes are
// not announced when a changed row takes the focus, so the warning went unsaid, and the focus,
// on the row below it, never passed over it. The announcement leads with the warning.
func TestWayBackWarningIsAnnounced(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	const domain, login = "acme.example", "bob@acme.example"
	mine, theirs := srv.tab("wayback-mine"), srv.tab("wayback-theirs")
	mine.signIn("operator")
	theirs.signIn("admin")
	for _, tb := range []*tab{mine, theirs} {
		tb.wantStatus("list", tb.open("/d/"+domain), http.StatusOK)
		tb.wait(rowLogin(login))
		resetFromRow(tb, srv, domain, login)
	}
	mine.wantStatus("Done", mine.click(testid("done-link")), http.StatusOK)
	mine.wait(rowSel)
	warning := mine.text(testid("flash-warning"))
	if !strings.Contains(warning, "Ada Admin reset the password of "+login+" again") {
		t.Fatalf("the way back warns %q, want it to say who reset %s again", warning, login)
	}
	want := warning + " Just changed: " + login + ". Its row has the focus."
	if success := mine.texts(testid("flash-success")); len(success) > 0 {
		want = success[0] + " " + warning + " Its row has the focus."
	}
	if !mine.eventually(fmt.Sprintf(`(document.getElementById("js-live") || {}).textContent === %q`, want)) {
		t.Errorf("screen readers are told %q, want %q", mine.text("#js-live"), want)
	}
	mine.look("warned")
}

// rowShots photographs the screen around login's row (the viewport only, not the whole page),
// on a desktop and a 375-pixel phone, in light and dark mode, when photographs are asked for.
func (tb *tab) rowShots(name, login string) {
	tb.t.Helper()
	if !tb.s.photograph {
		return
	}
	for _, scheme := range []string{"light", "dark"} {
		for _, w := range []int{desktopWidth, 375} {
			viewport := chromedp.EmulateViewport(int64(w), 800)
			if w != desktopWidth {
				viewport = chromedp.EmulateViewport(int64(w), 812, chromedp.EmulateMobile, chromedp.EmulatePortrait)
			}
			tb.do("show the row", colorScheme(scheme), viewport, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
				`Array.from(document.querySelectorAll("tr[data-login]")).find(r => r.getAttribute("data-login") === %q).scrollIntoView({block: "center"})`, login)))
			ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
			png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			cancel()
			if err != nil {
				tb.t.Fatalf("photograph %s at %d (%s): %v", login, w, scheme, err)
			}
			file := filepath.Join(tb.s.shotDir, fmt.Sprintf("%s-%d-%s.png", name, w, scheme))
			if err := os.WriteFile(file, png, 0o644); err != nil {
				tb.t.Fatal(err)
			}
		}
	}
	tb.do("back to the desktop, light", desktopViewport(), colorScheme("light"))
}

// TestAddressNamesThePageShown: a list asked for at page 1 but naming a login just changed that
// lives on page 2 shows page 2; the address then says page 2 too, so that a form opened from the
// list (here the row's reset) leads back to the page the user saw, not to the one in the
// address they came in by.
func TestAddressNamesThePageShown(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("address-shown")
	tb.signIn("admin")
	const domain, login = "example.com", "user150@example.com"
	tb.wantStatus("page 1 naming a login of page 2", tb.open("/d/"+domain+"?per_page=100&changed="+login), http.StatusOK)
	tb.wait("tr[data-changed]")
	if got, want := tb.path(), "/d/"+domain+"?page=2&per_page=100"; got != want {
		t.Errorf("the address is %s, want %s (the page shown, without ?changed=)", got, want)
	}
	tb.wantStatus("the row's Reset", tb.click("tr[data-changed] a.ar"), http.StatusOK)
	if got, want := tb.attrs(testid("cancel-link"), "href"), []string{"/d/" + domain + "?page=2&per_page=100"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("the reset form's Cancel leads to %v, want %v", got, want)
	}
}

// TestAddressNamesThePageShownWithoutDelete: the list takes the view it shows into the address
// for a user who may not delete too (no delete dialog on the page): a reviewer asking for a page
// past the end sees the last page, and the address says so.
func TestAddressNamesThePageShownWithoutDelete(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("address-shown-reviewer")
	tb.signIn("reviewer")
	tb.wantStatus("page 9 of 3", tb.open("/d/example.com?page=9&per_page=100"), http.StatusOK)
	tb.wait(rowSel)
	if n := tb.count("dialog[data-confirm-dialog]"); n != 0 {
		t.Fatalf("the reviewer's list has %d delete dialogs, want none (this test is about a page without one)", n)
	}
	const want = "/d/example.com?page=3&per_page=100"
	if !tb.eventually(fmt.Sprintf(`location.pathname + location.search === %q`, want)) {
		t.Errorf("the address is %s, want %s (the last page, which is shown)", tb.path(), want)
	}
}

// TestBackAfterDoneSkipsThePasswordsPage: "Done, back to the list" replaces the passwords page
// in the history, so Back from the list leads to the page before it (the create form), not to
// the answer of the form, which the browser can only ask to send again (its ERR_CACHE_MISS page).
func TestBackAfterDoneSkipsThePasswordsPage(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("done-back")
	tb.signIn("operator")
	tb.createThroughForm("acme.example", "back-after-done", http.StatusOK)
	tb.wait(testid("done-link"))
	tb.wantStatus("Done", tb.click(testid("done-link")), http.StatusOK)
	tb.wait(rowSel)
	tb.back(1)
	if got, want := tb.path(), "/d/acme.example/new"; got != want {
		t.Errorf("Back from the list after Done led to %s, want %s (the form, fetched again)", got, want)
	}
	if !tb.has(testid("logins-input")) {
		t.Errorf("Back from the list after Done shows no create form: %.200s", tb.text("body"))
	}
}

// TestBackOntoAFormsErrorsFetchesTheForm: a form sent with a mistake comes back with its errors
// (the answer to a POST); sent again, right, it leads on. Back onto the page with the errors
// then fetches the form afresh, where the browser asked to send the mistaken form again (its
// "Confirm Form Resubmission" page).
func TestBackOntoAFormsErrorsFetchesTheForm(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("errors-back")
	tb.signIn("operator")
	tb.createThroughForm("acme.example", "bad name", http.StatusBadRequest)
	tb.wait(testid("line-errors"))
	tb.fill(testid("logins-input"), "errors-back-ok")
	tb.wantStatus("create", tb.click(testid("create-form")+" "+testid("confirm-button")), http.StatusOK)
	tb.wantStatus("Done", tb.click(testid("done-link")), http.StatusOK)
	tb.wait(rowSel)
	tb.back(1)
	if got, want := tb.path(), "/d/acme.example/new"; got != want {
		t.Errorf("Back onto the form's errors led to %s, want %s", got, want)
	}
	if !tb.has(testid("logins-input")) || tb.has(testid("line-errors")) {
		t.Errorf("Back onto the form's errors shows %.200q, want the form, fetched afresh", tb.text("body"))
	}
}

// TestChangedLeavesTheAddressOfAListWithoutRows: ?changed= leaves the address also where the
// list shows no table (and so names no view of its own: here a filter that matches nothing), so
// that a reload or a bookmark does not point at the login again. On a list with rows the view
// the table names replaces the address, which drops ?changed= by itself: only here is the
// script's own removal seen.
func TestChangedLeavesTheAddressOfAListWithoutRows(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("changed-no-rows")
	tb.signIn("admin")
	const login = "bob@acme.example"
	tb.wantStatus("a list without rows naming a login", tb.open("/d/acme.example?q=no-such-login&changed="+login), http.StatusOK)
	tb.wait(testid("filter-input"))
	if n := tb.count(rowSel); n != 0 {
		t.Fatalf("the list filtered by no-such-login shows %d rows, want none (this test is about a list without rows)", n)
	}
	const want = "/d/acme.example?q=no-such-login"
	if !tb.eventually(fmt.Sprintf(`location.pathname + location.search === %q`, want)) {
		t.Errorf("the address is %s, want %s (without ?changed=)", tb.path(), want)
	}
}
