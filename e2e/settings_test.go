package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// zoomedWidth is a laptop's 1280 pixels zoomed to 400%, and a small phone: what WCAG 1.4.10
// (reflow) asks a page to fit without scrolling sideways.
const zoomedWidth = 320

// zoomed emulates a 1280-pixel laptop screen zoomed to 400%: 320 CSS pixels wide, not a phone.
func zoomed() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(zoomedWidth, 640)
}

// forcedColors emulates Windows high contrast (forced colours, more contrast); off ends it.
func forcedColors(on bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		p := emulation.SetEmulatedMediaParams{}
		if on {
			p.Features = []*emulation.MediaFeature{
				{Name: "forced-colors", Value: "active"},
				{Name: "prefers-contrast", Value: "more"},
			}
		}
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, p)
		return err
	})
}

// TestZoomedPagesKeepEverything: at 320 pixels (a laptop zoomed to 400%, a small phone) the
// domain page's table fits its box, so that each row's History link is in sight when it has the
// focus (it was 38 pixels past the box's edge, two thirds of it cut off); the domain picker's
// button stays out of the Audit link beside it (it ran 15 pixels under it, with a domain of 22
// characters); the audit trail shows each actor's email whole (cut to "ada@smtpdesk.e…", with no
// title to read the rest) and its filters show their choices and dates whole ("Any actio",
// "12/01/20").
func TestZoomedPagesKeepEverything(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("zoomed")
	tb.signIn("admin")
	defer tb.do("back to the desktop screen", desktopViewport())
	tb.do("zoom to 400%", zoomed())

	tb.wantStatus("a domain", tb.open("/d/acme.example"), http.StatusOK)
	tb.wait(rowSel)
	tb.fitsWidth("a domain", zoomedWidth)
	tb.tableFitsItsBox("a domain", zoomedWidth)
	// Each row action, focused, is drawn whole inside the table's box.
	cut := query[[]string](tb, "row actions cut by the table's box", rowSel+" :is(a.ar, a.ad, a.ah)", `els => {
		const box = document.querySelector("table.creds").parentElement.getBoundingClientRect();
		return els.filter(e => { e.focus(); const r = e.getBoundingClientRect(); return r.left < box.left - 0.5 || r.right > box.right + 0.5; })
			.map(e => e.textContent + " of " + e.closest("tr").dataset.login); }`)
	if len(cut) > 0 {
		t.Errorf("at %d pixels these row actions, focused, are partly outside the table's box: %v", zoomedWidth, cut)
	}
	tb.look("domain")

	tb.wantStatus("a domain with a long name", tb.open("/d/newsletter.example.org"), http.StatusOK)
	over := run(tb, "the picker's button against the Audit link", chromedp.Evaluate[float64](`(() => {
		const s = document.querySelector('[data-testid="domain-picker"] > summary').getBoundingClientRect();
		const a = document.querySelector('[data-testid="nav-audit"]').getBoundingClientRect();
		return s.right - a.left; })()`))
	if over > 0.5 {
		t.Errorf("at %d pixels the domain picker's button runs %.0f pixels under the Audit link", zoomedWidth, over)
	}
	tb.fitsWidth("a domain with a long name", zoomedWidth)

	tb.wantStatus("audit trail", tb.open("/audit?from=2026-01-01&to=2026-12-31"), http.StatusOK)
	tb.wait(testid("audit-row"))
	tb.fitsWidth("the audit trail", zoomedWidth)
	cutText := query[[]string](tb, "actor lines cut short", testid("audit-row")+" > td:nth-child(2) > p",
		`els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent.trim())`)
	if len(cutText) > 0 {
		t.Errorf("at %d pixels the audit trail cuts these actor lines short: %q", zoomedWidth, cutText)
	}
	// A select draws its arrow, a date field its calendar button, inside its content box: about
	// 20 pixels beside the text, which needs that much room more.
	narrow := query[[]string](tb, "filters too narrow for their text", testid("audit-filters")+` :is(select, input[type=date])`, `els => {
		const c = document.createElement("canvas").getContext("2d");
		return els.flatMap(e => {
			const cs = getComputedStyle(e); c.font = cs.font;
			const text = e.tagName === "SELECT" ? e.options[e.selectedIndex].text : "00/00/0000";
			const room = e.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
			const need = Math.ceil(c.measureText(text).width) + 24;
			return room < need ? [e.id + " (" + JSON.stringify(text) + " needs " + need + " pixels, has " + room + ")"] : [];
		}); }`)
	if len(narrow) > 0 {
		t.Errorf("at %d pixels these audit filters cut their text: %v", zoomedWidth, narrow)
	}
	tb.look("audit")
}

// TestForcedColorsKeepEdges: in forced colours (Windows high contrast) text fields, buttons,
// badges and cards keep an edge, the chosen password card and the current "All logins" view are
// marked by more than a fill, and the focus ring shows. Forced colours drop box shadows (so
// Tailwind's rings) and paint every background alike: a text field was its placeholder alone, a
// button its words, a badge plain text.
func TestForcedColorsKeepEdges(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("forced-colors")
	tb.signIn("admin")
	tb.do("forced colours", forcedColors(true))
	defer tb.do("no forced colours", forcedColors(false))
	// edgeless lists the elements matching sel (each named by its test id, class or text) that
	// show no border.
	edgeless := func(sel string) []string {
		t.Helper()
		return query[[]string](tb, "elements without an edge", sel, `els => els.filter(e => {
			const cs = getComputedStyle(e);
			return !(parseFloat(cs.borderTopWidth) > 0 && cs.borderTopStyle !== "none" && cs.borderTopColor !== "rgba(0, 0, 0, 0)");
		}).map(e => e.dataset.testid || e.id || e.className.split(" ")[0] + " " + JSON.stringify(e.textContent.trim().slice(0, 20)))`)
	}

	tb.wantStatus("a domain", tb.open("/d/acme.example"), http.StatusOK)
	tb.wait(rowSel)
	if !run(tb, "forced colours on", chromedp.Evaluate[bool](`matchMedia("(forced-colors: active)").matches`)) {
		t.Fatal("forced colours are not emulated")
	}
	for _, sel := range []string{".input", ".btn", ".badge", ".card", testid("view-all") + `[aria-current="page"]`} {
		if !tb.has(sel) {
			t.Errorf("the domain page has no %s", sel)
		} else if got := edgeless(sel); len(got) > 0 {
			t.Errorf("in forced colours these %s on the domain page have no edge: %q", sel, got)
		}
	}
	// The focus ring, on a button reached with Tab.
	tb.do("focus the filter box", chromedp.Focus(chromedp.CSS(testid("filter-input"))))
	tb.do("press Tab", keyPress("Tab", "Tab", 9))
	if !run(tb, "the focus ring", chromedp.Evaluate[bool](`(() => {
		const cs = getComputedStyle(document.activeElement);
		return cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0 && !/, 0\)$|transparent/.test(cs.outlineColor); })()`)) {
		t.Errorf("in forced colours %s has the focus and shows no focus ring", run(tb, "the focused element", chromedp.Evaluate[string](focusedJS)))
	}

	tb.wantStatus("create form", tb.open("/d/acme.example/new"), http.StatusOK)
	tb.wait(testid("logins-input"))
	for _, sel := range []string{testid("logins-input"), testid("create-form") + " .btn", ".card"} {
		if got := edgeless(sel); len(got) > 0 {
			t.Errorf("in forced colours these %s on the create form have no edge: %q", sel, got)
		}
	}
	// The two password cards: each has an edge, the chosen one a wider one.
	cards := query[[]float64](tb, "the password cards' borders", `input[name="mode"]`,
		`els => els.map(e => parseFloat(getComputedStyle(e.closest("label")).borderTopWidth))`)
	checked := query[[]bool](tb, "which card is chosen", `input[name="mode"]`, `els => els.map(e => e.checked)`)
	if len(cards) != 2 || len(checked) != 2 {
		t.Fatalf("found %d password cards, want 2", len(cards))
	}
	if cards[0] <= 0 || cards[1] <= 0 || (checked[0] && cards[0] <= cards[1]) || (checked[1] && cards[1] <= cards[0]) {
		t.Errorf("in forced colours the password cards' borders are %v pixels (chosen: %v): want an edge on each, a wider one on the chosen card", cards, checked)
	}
	tb.do("no forced colours", forcedColors(false))
	tb.look("create")
}
