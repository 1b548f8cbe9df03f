package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestPasswordsShowWholeOnSmallScreens: the passwords page shows each generated password whole
// in its field on a 360-pixel phone (the most common Android width) and on a laptop zoomed to
// 400% (320 pixels, WCAG 1.4.10), as it does at 390 pixels. A password is shown once: a user who
// reads it off the screen (to type it into a device) must see all of it, not its first 13 of 16
// to 20 characters with the rest scrolled out of the read-only field.
func TestPasswordsShowWholeOnSmallScreens(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("brw-passwords-small")
	tb.signIn("admin")
	// Ten logins: the sandbox, like Mailgun, generates 16 to 20 characters; among ten, some are
	// 18 or more (all ten shorter: 1 in 10,000).
	tb.createThroughForm("acme.example", "pw-a\npw-b\npw-c\npw-d\npw-e\npw-f\npw-g\npw-h\npw-i\npw-j", http.StatusOK)
	tb.wait(testid("secret-password"))
	defer tb.do("back to the desktop screen", desktopViewport())
	cutJS := `els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e =>
		e.dataset.secretFor + " (" + e.value.length + " characters: " + e.scrollWidth + " pixels in a field of " + e.clientWidth + ")")`
	for _, screen := range []struct {
		name  string
		setup chromedp.Action[chromedp.Void]
	}{
		{"a 360-pixel phone", chromedp.EmulateViewport(360, 800, chromedp.EmulateMobile, chromedp.EmulatePortrait)},
		{"a laptop zoomed to 400%", zoomed()},
	} {
		tb.do(screen.name, screen.setup)
		if cut := query[[]string](tb, "passwords cut in their field", testid("secret-password"), cutJS); len(cut) > 0 {
			t.Errorf("on %s the passwords page cuts %d of 10 passwords in their field: %s", screen.name, len(cut), strings.Join(cut, "; "))
		}
	}
}

// TestBackAfterDeleteWithoutScriptsShowsTheListAsItIs: without scripts, a login deleted through
// the confirmation page is gone from the list that Back returns to. Chromium keeps pages served
// Cache-Control: no-store in its back/forward cache (as long as no cookie changed) and shows
// them again as they were; only the page's script (pageshow) fetches them again, so without it
// the list still offered the deleted login, and one more Back its confirmation page asked to
// delete it again.
func TestBackAfterDeleteWithoutScriptsShowsTheListAsItIs(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("brw-nojs-back-delete")
	tb.disableScripts()
	tb.signIn("admin")
	const login = "bob@acme.example"
	tb.wantStatus("list", tb.open("/d/acme.example"), http.StatusOK)
	tb.wait(rowLogin(login))
	tb.wantStatus("delete", tb.click(rowLogin(login)+" "+deleteSel), http.StatusOK)
	tb.wantStatus("confirm", tb.click(testid("delete-form")+" "+testid("confirm-button")), http.StatusOK)
	tb.wantFlash("deleted", "success", login)
	tb.back(1)
	if q := tb.texts(testid("confirm-question")); len(q) > 0 {
		t.Logf("Back shows the confirmation page again: %q", q[0])
	}
	tb.back(1)
	if p := tb.path(); p != "/d/acme.example" {
		t.Fatalf("two steps back led to %s", p)
	}
	if tb.has(rowLogin(login)) {
		t.Errorf("Back to the list after deleting %s (scripts off) still lists it, with its Reset and Delete links", login)
	}
}

// TestBackToTheCreateFormAfterACreateIsEmpty: after a create, the browser's Back to its form
// (past the passwords page) showed the form filled with the logins just made, as the browser
// fills in a form it goes back to; sent again, each was refused as existing. The logins field
// is not filled in again.
func TestBackToTheCreateFormAfterACreateIsEmpty(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("back-create-empty")
	tb.signIn("admin")
	tb.createThroughForm("acme.example", "refill-a\nrefill-b", http.StatusOK)
	tb.wait(testid("secret-password"))
	tb.historyBackTo("/d/acme.example/new")
	if v := tb.value(testid("logins-input")); v != "" {
		t.Errorf("Back to the create form after the create shows %q in its logins field, want it empty", v)
	}
}

// TestBackAfterDeleteAllWithoutScripts: as TestBackAfterDeleteWithoutScriptsShowsTheListAsItIs,
// for delete all: Back twice returns to the list, which must not list the deleted logins.
func TestBackAfterDeleteAllWithoutScripts(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("rev2-nojs-back-delete-all")
	tb.disableScripts()
	tb.signIn("admin")
	const nl = "newsletter.example.org"
	tb.wantStatus("list", tb.open("/d/"+nl), http.StatusOK)
	tb.wait(rowSel)
	before := tb.count(rowSel)
	tb.wantStatus("delete all", tb.click(testid("delete-all-button")), http.StatusOK)
	tb.wait(testid("confirm-input"))
	tb.fill(testid("confirm-input"), nl)
	tb.wantStatus("confirm delete all", tb.click(testid("delete-all-form")+" "+testid("confirm-button")), http.StatusOK)
	after := tb.count(rowSel)
	tb.back(1)
	if tb.has(testid("confirm-input")) && tb.value(testid("confirm-input")) == nl {
		t.Errorf("Back shows the delete-all page as it was, the domain typed in")
	}
	tb.back(1)
	if p := tb.path(); p != "/d/"+nl {
		t.Fatalf("two steps back led to %s", p)
	}
	if n := tb.count(rowSel); n != after {
		t.Errorf("Back to the list after delete all (scripts off) lists %d rows (before %d, after %d)", n, before, after)
	}
}
