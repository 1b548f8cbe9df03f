package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/smtpdesk/smtpdesk/app"
)

// targetsJS measures the controls of the page a finger aims at: every rendered link, button,
// field, select and summary. A target is the element's box, widened to its positioned ancestor
// when an absolutely placed ::after or ::before covers that (a home page domain link covers its
// whole cell); for a checkbox or a radio button, the box of its label when that is bigger (a
// click on the label checks it: a 16-pixel box in a 44-pixel label row is a 44-pixel target). Elements clipped to a pixel (the sr-only skip link) or not rendered (a closed
// menu's items, a hidden button) are not targets. For each it gives a name (tag, test id, label),
// its size, whether it is a link inside a sentence (shown inline, with words of its block around
// it: WCAG's inline exception) and whether it is crowded: a 24-pixel circle centred on it
// touches another target, or another target under 24×24's circle (the SC's spacing exception
// does not apply).
const targetsJS = `(() => {
	const name = e => {
		const id = e.dataset.testid ? "[" + e.dataset.testid + "]" : "";
		const label = (e.getAttribute("aria-label") || e.textContent || e.value || e.name || "").trim().replace(/\s+/g, " ").slice(0, 40);
		return e.tagName.toLowerCase() + id + (e.className && typeof e.className === "string" && /^a[rdh]\b/.test(e.className) ? "." + e.className.split(" ")[0] : "") + " " + JSON.stringify(label);
	};
	const area = r => r.width * r.height;
	const box = e => {
		let r = e.getBoundingClientRect();
		if (e.matches('input[type="checkbox"], input[type="radio"]')) {
			for (const l of e.labels) {
				const lr = l.getBoundingClientRect();
				if (area(lr) > area(r)) r = lr;
			}
		}
		for (const pseudo of ["::after", "::before"]) {
			const ps = getComputedStyle(e, pseudo);
			if (ps.content !== "none" && ps.position === "absolute" && e.offsetParent) {
				const p = e.offsetParent.getBoundingClientRect();
				const left = Math.min(r.left, p.left), top = Math.min(r.top, p.top);
				r = new DOMRect(left, top, Math.max(r.right, p.right) - left, Math.max(r.bottom, p.bottom) - top);
			}
		}
		return r;
	};
	const inSentence = e => {
		if (getComputedStyle(e).display !== "inline") return false;
		const around = (e.parentElement.textContent || "").replace(e.textContent || "", "");
		return /\p{L}/u.test(around);
	};
	const targets = [];
	for (const e of document.querySelectorAll('a[href], button, input:not([type="hidden"]), select, summary, textarea')) {
		const r = box(e);
		if (!e.checkVisibility({visibilityProperty: true}) || r.width <= 1 || r.height <= 1) continue;
		targets.push({e, r, small: r.width < 24 || r.height < 24});
	}
	const cx = r => r.left + r.width / 2, cy = r => r.top + r.height / 2;
	// How far the point (x, y) is from the rectangle r (0 inside it).
	const dist = (x, y, r) => Math.hypot(Math.max(r.left - x, 0, x - r.right), Math.max(r.top - y, 0, y - r.bottom));
	return targets.map(t => {
		const x = cx(t.r), y = cy(t.r);
		const crowded = targets.some(o => o !== t && !o.e.contains(t.e) && !t.e.contains(o.e) &&
			(dist(x, y, o.r) < 12 || (o.small && Math.hypot(x - cx(o.r), y - cy(o.r)) < 24)));
		return {name: name(t.e), w: Math.round(t.r.width * 10) / 10, h: Math.round(t.r.height * 10) / 10,
			inline: inSentence(t.e), crowded, rowAction: t.e.matches("table.creds > tbody > tr > td > a")};
	});
})()`

// target is one control as targetsJS measures it.
type target struct {
	Name      string
	W, H      float64
	Inline    bool // a link inside a sentence
	Crowded   bool // a 24-pixel circle on it touches another target
	RowAction bool // a credential row's Reset, Delete or History link
}

// phoneTarget is the size a control aims for on a phone (Apple's 44 points, WCAG's AAA 2.5.5).
// A credential row's action links are at least 36 wide (40, or their label's width) and 44 tall:
// wider, they would take the width of the login beside them (static/src/app.css, the .ar, .ad,
// .ah rules).
const (
	phoneTarget   = 44
	rowActionWide = 36
)

// wantBigTargets fails the test for each control of the page, at the phone width, that is under
// 24×24 pixels and crowded (WCAG 2.2 SC 2.5.8, Target Size (Minimum)), and for each under the
// phone size (phoneTarget), links inside a sentence excepted.
func (tb *tab) wantBigTargets(step string) {
	tb.t.Helper()
	ts := run(tb, "measure the targets of "+step, chromedp.Evaluate[[]target](targetsJS))
	if len(ts) == 0 {
		tb.t.Fatalf("%s: no target measured", step)
	}
	bad := false
	for _, t := range ts {
		if t.Inline {
			continue
		}
		wide := float64(phoneTarget)
		if t.RowAction {
			wide = rowActionWide
		}
		switch {
		case (t.W < 24 || t.H < 24) && t.Crowded:
			tb.t.Errorf("%s at %d pixels: %s is %g×%g, under 24×24 pixels and too close to another control (WCAG 2.5.8)", step, phoneWidth, t.Name, t.W, t.H)
		case t.W < wide || t.H < phoneTarget:
			tb.t.Errorf("%s at %d pixels: %s is %g×%g, smaller than the %g×%d a finger needs on a phone", step, phoneWidth, t.Name, t.W, t.H, wide, phoneTarget)
		default:
			continue
		}
		bad = true
	}
	if bad {
		var all []string
		for _, t := range ts {
			all = append(all, fmt.Sprintf("%s %g×%g", t.Name, t.W, t.H))
		}
		tb.t.Logf("%s: every target:\n%s", step, strings.Join(all, "\n"))
	}
}

// fieldFontsJS names every field of the page a person types into or picks from that is shown
// (an input other than a hidden one, a checkbox or a radio button; a select; a textarea) with
// its computed font size in CSS pixels.
const fieldFontsJS = `Array.from(document.querySelectorAll('input:not([type="hidden"]):not([type="checkbox"]):not([type="radio"]), select, textarea'))
	.filter(e => e.checkVisibility({visibilityProperty: true}))
	.map(e => ({name: e.tagName.toLowerCase() + (e.dataset.testid ? "[" + e.dataset.testid + "]" : e.id ? "#" + e.id : ""),
		px: parseFloat(getComputedStyle(e).fontSize)}))`

// noZoomFont is the smallest font size, in CSS pixels, of a field that iOS Safari does not zoom
// into when it gets the focus (and leaves zoomed in after it loses it).
const noZoomFont = 16

// wantFieldsThatDoNotZoom fails the test for each field of the page (fieldFontsJS) whose text,
// at the phone width, is smaller than noZoomFont. It returns how many fields it measured.
func (tb *tab) wantFieldsThatDoNotZoom(step string) int {
	tb.t.Helper()
	type field struct {
		Name string
		Px   float64
	}
	fs := run(tb, "measure the fields of "+step, chromedp.Evaluate[[]field](fieldFontsJS))
	for _, f := range fs {
		if f.Px < noZoomFont {
			tb.t.Errorf("%s at %d pixels: %s has %gpx text; under %dpx, an iPhone zooms into it when it is focused", step, phoneWidth, f.Name, f.Px, noZoomFont)
		}
	}
	return len(fs)
}

// TestPhoneTargetsAreBigEnough: on a 390-pixel phone, every link, button, field, select and
// summary of the home page (with its menus open), a domain page (with a flash, the pager, a
// filter and the rotate view), the create and reset forms (their checkbox and radio buttons by
// their labels) and the audit trail (with its filters, a long entry's "more" and
// both page links) is big enough for a finger (wantBigTargets), and no field's text is small
// enough for an iPhone to zoom into it (wantFieldsThatDoNotZoom).
//
// With SMTPDESK_TARGET_SHOTS set to a directory, it photographs each page there at the laptop
// and the phone width.
func TestPhoneTargetsAreBigEnough(t *testing.T) {
	t.Parallel()
	// Each integrity check below takes one of the admin's heavy reads (RATE_LIMIT_EXPORTS).
	srv := startServer(t, func(o *app.DemoOptions) { o.RateLimitExports = 100 })
	tb := srv.tab("targets")
	tb.signIn("admin")

	// An entry naming many logins (its row shows "+3 more"), and enough entries for a second
	// page of the trail: each integrity check writes one.
	var lines []string
	for i := range 8 {
		lines = append(lines, fmt.Sprintf("target%02d", i))
	}
	tb.open("/d/acme.example/new")
	tb.fill(testid("logins-input"), strings.Join(lines, "\n"))
	tb.wantStatus("create logins", tb.click(testid("create-form")+" "+testid("confirm-button")), http.StatusOK)
	tb.open("/audit")
	checks := run(tb, "check the trail 50 times", chromedp.Evaluate[int](`(async () => {
		const form = document.querySelector('[data-testid="verify-link"]').form;
		let ok = 0;
		for (let i = 0; i < 50; i++) {
			const r = await fetch(form.action, {method: "POST", body: new FormData(form)});
			if (r.ok) ok++;
		}
		return ok;
	})()`, chromedp.EvalAwaitPromise))
	if checks != 50 {
		t.Fatalf("%d of 50 integrity checks answered OK", checks)
	}

	phone := chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	tb.do("phone screen", phone)
	defer tb.do("back to the desktop screen", desktopViewport())
	pages := []struct {
		step, path string
		ready      string // an element the step is about, to wait for
		open       string // a menu button to click first
	}{
		{"home", "/", testid("domain-row"), ""},
		{"home, domain picker open", "/", testid("domain-picker-item"), testid("domain-picker") + " > summary"},
		{"home, user menu open", "/", testid("sign-out"), testid("user-menu") + " > summary"},
		// Past the end: a warning flash, and the pager on its last page.
		{"domain page with a flash", "/d/example.com?page=9&per_page=50", `[data-dismiss]:not([hidden])`, ""},
		{"domain page 2", "/d/example.com?page=2&per_page=25", testid("pager-next"), ""},
		{"filtered domain page", "/d/example.com?q=user01", testid("filter-clear"), ""},
		{"rotate view", "/d/example.com?rotate=1&per_page=25&page=2", testid("pager-prev"), ""},
		{"create form", "/d/acme.example/new", testid("system-input"), ""},
		{"reset form", "/d/acme.example/logins/target00@acme.example/reset", testid("mode-manual"), ""},
		{"delete-all page, its rest", "/d/example.com/delete-all", testid("preview-more"), ""},
		{"audit", "/audit", testid("audit-next"), ""},
		{"audit, older entries", "", `[data-testid="audit-logins"] summary`, ""},
	}
	for _, p := range pages {
		if p.path != "" {
			tb.wantStatus(p.step, tb.open(p.path), http.StatusOK)
		} else {
			tb.wantStatus(p.step, tb.click(testid("audit-next")), http.StatusOK)
		}
		if p.open != "" {
			tb.check(p.open)
		}
		tb.wait(p.ready)
		if !query[bool](tb, "is shown", p.ready, `els => els[0].checkVisibility()`) {
			t.Fatalf("%s: %s is not shown", p.step, p.ready)
		}
		tb.wantBigTargets(p.step)
		tb.wantFieldsThatDoNotZoom(p.step)
		if dir := os.Getenv("SMTPDESK_TARGET_SHOTS"); dir != "" && p.open == "" {
			tb.do("laptop screen", desktopViewport())
			for _, w := range []int{desktopWidth, phoneWidth} {
				png, err := tb.capture(w)
				if err == nil {
					err = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", strings.NewReplacer(" ", "-", ",", "").Replace(p.step), w)), png, 0o644)
				}
				if err != nil {
					t.Fatalf("screenshot of %s: %v", p.step, err)
				}
			}
			tb.do("phone screen", phone)
		}
	}
}

// TestPhoneFormsDoNotZoom: on a 390-pixel phone, the fields of the forms (create, with a
// refused line and the typed passwords shown; reset; delete-all's confirmation box; the
// passwords page's read-only password) have text big enough for an iPhone not to zoom into them
// (wantFieldsThatDoNotZoom).
//
// With SMTPDESK_TARGET_SHOTS set to a directory, it photographs each page there at the phone
// width.
func TestPhoneFormsDoNotZoom(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("phone-forms")
	tb.signIn("admin")
	tb.do("phone screen", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	defer tb.do("back to the desktop screen", desktopViewport())

	const domain = "acme.example"
	pages := []struct {
		step, path string
		fields     []string // the fields the step is about, which must be shown
		manual     bool     // choose "Choose a password" first, which shows the two password fields
		submit     string   // a form to send first, with the logins typed
		logins     string
	}{
		{"create form", "/d/" + domain + "/new", []string{"logins-input", "password-input", "password2-input"}, true, "", ""},
		// A refused line: the field is marked invalid (its own ring colour, same size).
		{"create form refused", "/d/" + domain + "/new", []string{"logins-input"}, false, "create-form", "not a login!"},
		{"passwords page", "/d/" + domain + "/new", []string{"secret-password"}, false, "create-form", "zoomcheck"},
		{"reset form", "/d/" + domain + "/logins/zoomcheck@" + domain + "/reset", []string{"password-input", "password2-input"}, true, "", ""},
		{"delete-all page", "/d/" + domain + "/delete-all", []string{"confirm-input"}, false, "", ""},
	}
	for _, p := range pages {
		tb.wantStatus(p.step, tb.open(p.path), http.StatusOK)
		if p.submit != "" {
			tb.fill(testid("logins-input"), p.logins)
			tb.check(testid("mode-generate"))
			status := tb.click(testid(p.submit) + " " + testid("confirm-button"))
			if refused := strings.Contains(p.step, "refused"); refused != (status != http.StatusOK) {
				t.Fatalf("%s: sending the form answered %d", p.step, status)
			}
		}
		if p.manual {
			tb.check(testid("mode-manual"))
		}
		for _, id := range p.fields {
			tb.wait(testid(id))
			if !query[bool](tb, "is shown", testid(id), `els => els[0].checkVisibility()`) {
				t.Fatalf("%s: %s is not shown", p.step, id)
			}
		}
		if n := tb.wantFieldsThatDoNotZoom(p.step); n < len(p.fields) {
			t.Errorf("%s: %d fields measured, want at least %d", p.step, n, len(p.fields))
		}
		if dir := os.Getenv("SMTPDESK_TARGET_SHOTS"); dir != "" {
			png := run(tb, "photograph "+p.step, chromedp.FullScreenshot(100))
			name := fmt.Sprintf("%s-%d.png", strings.ReplaceAll(p.step, " ", "-"), phoneWidth)
			if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
				t.Fatalf("screenshot of %s: %v", p.step, err)
			}
		}
	}
}
