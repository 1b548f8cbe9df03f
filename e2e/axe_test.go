package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeMissing is the message when the axe-core npm package is not installed.
const axeMissing = "node_modules/axe-core/axe.min.js not found: run npm ci (./scripts/test.sh does it)"

// loadAxe reads axe-core's script from the repository's node_modules.
func loadAxe() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("axe: cannot locate the e2e package")
	}
	path := filepath.Join(filepath.Dir(file), "..", "node_modules", "axe-core", "axe.min.js")
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s (%w)", axeMissing, err)
	}
	return string(b), nil
}

// axeViolation is one failed axe rule, as axe.run reports it.
type axeViolation struct {
	ID      string `json:"id"`
	Impact  string `json:"impact"`
	Help    string `json:"help"`
	HelpURL string `json:"helpUrl"`
	Nodes   []struct {
		Target  []any  `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// axeRunJS runs axe on the whole document and returns its violations. The script is injected
// through the DevTools protocol (Runtime.evaluate), which the page's CSP does not restrict.
// options is axe.run's options object, as JSON. It first waits (up to 2 s) for the page's colour
// transitions to end: just after the colour scheme switched back from dark (tab.look), a button
// is half-way between its two schemes' colours for 150 ms, and axe measured its contrast then
// (1.05:1, a serious violation that is not there).
const axeRunJS = `(async (options) => {
	const moving = () => document.getAnimations().some(a => a instanceof CSSTransition && a.playState === "running");
	for (let i = 0; i < 40 && moving(); i++) {
		await new Promise(resolve => setTimeout(resolve, 50));
	}
	const r = await axe.run(document, options);
	return r.violations.map(v => ({
		id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
		nodes: v.nodes.map(n => ({target: n.target, html: n.html, failureSummary: n.failureSummary || ""})),
	}));
})(%s)`

// axeAuditTags are the rule sets of the full audit (TestMainPagesPassAxe): WCAG 2.0 and 2.1,
// levels A and AA, and axe's best practices (landmarks, heading order, unique names...).
var axeAuditTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"}

// runAxe injects axe-core into the current page (once per document) and returns every violation
// of axe's default rules.
func runAxe(ctx context.Context, axeJS string) ([]axeViolation, error) {
	return runAxeTags(ctx, axeJS, nil)
}

// runAxeTags is runAxe with only the rules of the given tags (nil: axe's default rules).
func runAxeTags(ctx context.Context, axeJS string, tags []string) ([]axeViolation, error) {
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err != nil {
		return nil, fmt.Errorf("axe: probe: %w", err)
	}
	if !loaded {
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](axeJS)); err != nil {
			return nil, fmt.Errorf("axe: inject: %w", err)
		}
	}
	options := map[string]any{"resultTypes": []string{"violations"}}
	if tags != nil {
		options["runOnly"] = map[string]any{"type": "tag", "values": tags}
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, err
	}
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](fmt.Sprintf(axeRunJS, opts), chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("axe: run: %w", err)
	}
	return vs, nil
}

// seriousViolations keeps the violations of impact serious or critical.
func seriousViolations(vs []axeViolation) []axeViolation {
	var out []axeViolation
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			out = append(out, v)
		}
	}
	return out
}

// formatViolations prints violations with their rule, help and offending nodes.
func formatViolations(vs []axeViolation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "\n  [%s] %s: %s (%s)", v.Impact, v.ID, v.Help, v.HelpURL)
		for i, n := range v.Nodes {
			if i == 5 {
				fmt.Fprintf(&b, "\n      … and %d more nodes", len(v.Nodes)-i)
				break
			}
			fmt.Fprintf(&b, "\n      %v %s", n.Target, oneLine(n.HTML, 200))
			if n.Summary != "" {
				fmt.Fprintf(&b, "\n        %s", oneLine(n.Summary, 300))
			}
		}
	}
	return b.String()
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// TestAxeReportsViolations proves the accessibility check can fail: axe, injected the way the
// journeys inject it and under the same kind of CSP, reports a page with an unlabelled field, an
// image without text and a button without a name.
func TestAxeReportsViolations(t *testing.T) {
	s := requireSuite(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><title>bad</title></head><body><main>
<h1>Bad page</h1>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<form><input type="text" name="x"></form>
<button type="button"></button>
</main></body></html>`)
	}))
	t.Cleanup(srv.Close)

	tb := newTabURL(t, "axe-selftest", srv.URL)
	if got := tb.open("/"); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	vs := run(tb, "axe", func(ctx context.Context, _ *chromedp.Target) ([]axeViolation, error) {
		return runAxe(ctx, s.axeJS)
	})
	got := map[string]bool{}
	for _, v := range seriousViolations(vs) {
		got[v.ID] = true
	}
	for _, want := range []string{"image-alt", "label", "button-name"} {
		if !got[want] {
			t.Errorf("axe did not report %q; got %s", want, formatViolations(vs))
		}
	}
}

// TestMainPagesPassAxe runs the full audit (axeAuditTags) on the main pages, a dialog or menu
// open where the page has one, and fails on every violation, whatever its impact: the journeys'
// check (tab.axe) runs axe's default rules on the pages as the journeys leave them, at the laptop
// width; it failed on serious and critical ones only, so a moderate one such as text outside
// every landmark went unnoticed. Each page is checked in light mode at the laptop width and in
// dark mode at the phone width, where the header and the tables are laid out anew (the colours
// do not depend on the width).
func TestMainPagesPassAxe(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tb := srv.tab("axe-audit")
	tb.signIn("admin")

	tb.wantStatus("home", tb.open("/"), http.StatusOK)
	tb.wait(testid("domain-row"))
	tb.auditAxe("home")
	tb.check(testid("user-menu") + " > summary")
	tb.do("wait for the menu", chromedp.WaitVisible(chromedp.CSS(testid("sign-out"))))
	tb.auditAxe("home, user menu open")

	// 25 rows: a row's markup is the same a hundred times over, and axe's time grows with it.
	tb.wantStatus("domain", tb.open("/d/example.com?per_page=25"), http.StatusOK)
	tb.wait(rowSel)
	tb.auditAxe("domain")
	tb.check(rowLogin("user002@example.com") + " " + deleteSel)
	tb.do("wait for the dialog", chromedp.WaitVisible(chromedp.CSS(`dialog[open] button[type="submit"]`)))
	tb.auditAxe("domain, delete dialog open")
	// A warning flash and the pager on its last page.
	tb.wantStatus("a page past the end", tb.open("/d/example.com?page=9&per_page=50"), http.StatusOK)
	tb.auditAxe("domain, past the end")

	tb.wantStatus("create form", tb.open("/d/acme.example/new"), http.StatusOK)
	tb.fill(testid("logins-input"), "good-one\nbad login!")
	tb.check(testid("mode-manual"))
	tb.fill(testid("password-input"), "Axe-pass-12345")
	tb.fill(testid("password2-input"), "Axe-pass-54321")
	tb.wantStatus("create with errors", tb.click(testid("create-form")+" "+testid("confirm-button")), http.StatusBadRequest)
	tb.auditAxe("create, with errors")
	tb.createThroughForm("acme.example", "axe-one", http.StatusOK)
	tb.wait(testid("secret-row"))
	tb.auditAxe("passwords")
	tb.wantStatus("reset form", tb.open("/d/acme.example/logins/axe-one@acme.example/reset"), http.StatusOK)
	tb.auditAxe("reset")
	tb.wantStatus("delete all", tb.open("/d/acme.example/delete-all"), http.StatusOK)
	tb.auditAxe("delete all")

	tb.wantStatus("audit with a date error", tb.open("/audit?from=2026-02-30"), http.StatusOK)
	tb.wait(testid("filter-problems"))
	tb.auditAxe("audit, date error")
	tb.wantStatus("check integrity", tb.click(testid("verify-link")), http.StatusOK)
	tb.wait(testid("verify-intact"))
	tb.auditAxe("audit verify")

	tb.wantStatus("unknown page", tb.open("/no-such-page"), http.StatusNotFound)
	tb.auditAxe("not found")
	tb.wantStatus("sign-out page", tb.open("/auth/logout"), http.StatusOK)
	tb.auditAxe("sign out")
	tb.click(testid("sign-out-confirm"))
	tb.wait(testid("signed-out"))
	tb.auditAxe("signed out")
}

// auditAxe checks the current page with the full audit in light mode at the laptop width and in
// dark mode at the phone width, and fails the test listing each violation: its rule,
// impact and the selectors of the elements at fault.
func (tb *tab) auditAxe(name string) {
	tb.t.Helper()
	phone := chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	defer tb.do("back to light mode", colorScheme(""))
	defer tb.do("back to the laptop width", desktopViewport())
	for _, c := range []struct {
		scheme string
		width  int
	}{{"light", desktopWidth}, {"dark", phoneWidth}} {
		if c.width == phoneWidth {
			tb.do("phone width", phone)
		}
		tb.do("emulate "+c.scheme+" mode", colorScheme(c.scheme))
		// A check that ran in the wrong scheme would pass the other's contrast unseen.
		if dark := run(tb, "read the colour scheme", chromedp.Evaluate[bool](`matchMedia("(prefers-color-scheme: dark)").matches`)); dark != (c.scheme == "dark") {
			tb.t.Fatalf("%s: the page does not see %s mode", name, c.scheme)
		}
		vs := run(tb, "axe on "+name, func(ctx context.Context, _ *chromedp.Target) ([]axeViolation, error) {
			return runAxeTags(ctx, tb.s.axeJS, axeAuditTags)
		})
		if len(vs) > 0 {
			rules := "rules"
			if len(vs) == 1 {
				rules = "rule"
			}
			tb.t.Errorf("accessibility: page %q (%s), %s mode, %d px wide: axe found violations of %d %s:%s",
				name, tb.path(), c.scheme, c.width, len(vs), rules, formatViolations(vs))
		}
	}
}
