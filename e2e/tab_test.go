package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// stepTimeout bounds one browser step (a navigation, a click and the load it causes, a query).
// It is generous for a loaded 2-core CI machine running with -race; a step normally takes
// milliseconds. It is a deadline, not a speed assertion.
const stepTimeout = 45 * time.Second

// desktopWidth and phoneWidth are the two widths every page is photographed at.
const (
	desktopWidth = 1280
	phoneWidth   = 390
)

// tab is one test's browser tab, in a browser context of its own (its own cookies and cache),
// in the shared Chromium. Every method fails the test on error, naming the step.
type tab struct {
	t       *testing.T
	s       *suiteState
	ctx     context.Context // the tab; each step derives a deadline from it
	base    string          // the server's origin, e.g. http://127.0.0.1:41234
	journey string          // file name prefix of screenshots
	nojs    bool            // scripts are disabled in this tab
	last    string          // the last page looked at, for failure messages
	looks   map[string]int  // how often each page name was looked at
}

// newTabURL opens a new tab in a fresh browser context for the server at base. When the test
// fails, the tab leaves a screenshot and the HTML of the page it was on in the screenshot
// directory.
func newTabURL(t *testing.T, journey, base string) *tab {
	t.Helper()
	s := requireSuite(t)
	ctx, cancel := chromedp.NewContext(s.browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, s: s, ctx: ctx, base: strings.TrimSuffix(base, "/"), journey: journey, looks: map[string]int{}}
	// The first Do creates the tab and binds it to ctx (no deadline); the watchdog bounds it.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx, desktopViewport()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("open a tab: %v", err)
		}
	case <-time.After(stepTimeout):
		t.Fatal("open a tab: no answer from Chromium")
	}
	// Registered after cancel, so it runs before it (cleanups run last first).
	t.Cleanup(tb.saveFailure)
	return tb
}

func desktopViewport() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(desktopWidth, 800)
}

// run runs one action with the step deadline and fails the test on error.
func run[T any](tb *tab, what string, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatalf("%s (on %s): %v", what, tb.url(), err)
	}
	return v
}

// do runs actions that return nothing, in order.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	run(tb, what, chromedp.Steps(actions...))
}

// url is the current address, or "" when it cannot be read.
func (tb *tab) url() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return u
}

// path is the current address without the origin.
func (tb *tab) path() string {
	return strings.TrimPrefix(tb.url(), tb.base)
}

// open navigates to a path on the server and returns the HTTP status of the document.
func (tb *tab) open(path string) int {
	tb.t.Helper()
	return int(tb.openResponse(path).Status)
}

// openResponse navigates to a path on the server and returns the response of the document.
func (tb *tab) openResponse(path string) *network.Response {
	tb.t.Helper()
	resp := run(tb, "open "+path, chromedp.NavigateResponse(tb.base+path))
	if resp == nil {
		tb.t.Fatalf("open %s: no response", path)
	}
	return resp
}

// follow runs actions that cause a navigation (a click on a link or a submit button), waits for
// the new document to load and returns its HTTP status.
func (tb *tab) follow(what string, actions ...chromedp.Action[chromedp.Void]) int {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		tb.t.Fatalf("%s (from %s): %v", what, tb.url(), err)
	}
	if resp == nil {
		tb.t.Fatalf("%s: no response", what)
	}
	return int(resp.Status)
}

// click clicks the first element matching the CSS selector and waits for the page it leads to.
func (tb *tab) click(sel string) int {
	tb.t.Helper()
	return tb.follow("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// back presses the browser's back button steps times at once (as picking an entry from the
// back button's menu does) and waits until another document has loaded, whether the browser
// fetched it again or restored it from its back-forward cache.
func (tb *tab) back(steps int) {
	tb.t.Helper()
	hist := run(tb, "read the history", chromedp.NavigationEntries())
	i := int(hist.CurrentIndex) - steps
	if i < 0 {
		tb.t.Fatalf("history back %d: only %d entries before this one", steps, hist.CurrentIndex)
	}
	tb.do("mark the document", chromedp.Evaluate[chromedp.Void](`window.__e2eLeft = true`))
	tb.do("history back", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: hist.Entries[i].ID})
		return err
	}))
	tb.waitNewDocument("history back")
}

// historyBackTo goes back to the latest earlier history entry whose address is path.
func (tb *tab) historyBackTo(path string) {
	tb.t.Helper()
	hist := run(tb, "read the history", chromedp.NavigationEntries())
	for i := int(hist.CurrentIndex) - 1; i >= 0; i-- {
		if hist.Entries[i].URL == tb.base+path {
			tb.back(int(hist.CurrentIndex) - i)
			return
		}
	}
	tb.t.Fatalf("history has no entry for %s", path)
}

// eventually polls a script condition until it holds or the step deadline passes, and reports
// whether it held. Script errors (a document going away mid-navigation) count as "not yet". It
// waits for something to happen, for as long as a loaded machine may need: a state that only
// lasts a moment cannot be caught from outside reliably, so the page notes it itself (see
// TestCancelWhileCreating).
func (tb *tab) eventually(cond string) bool {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// consoleSays returns a channel that receives once the page logs msg on its console (as its
// first argument). It works while a navigation is pending, when scripts run from outside wait.
func (tb *tab) consoleSays(msg string) <-chan struct{} {
	said := make(chan struct{}, 1)
	want, _ := json.Marshal(msg)
	err := chromedp.Listen(tb.ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventConsoleAPICalled); ok && len(e.Args) > 0 && string(e.Args[0].Value) == string(want) {
			select {
			case said <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		tb.t.Fatalf("listen to the console: %v", err)
	}
	return said
}

// releaseWhenSaid closes hold (a sandbox.Faults Hold) once the page logs msg on its console, or
// when the test ends. The test then waits for the page as usual; a page that never says msg
// leaves the call held, and the wait for the answer fails.
func releaseWhenSaid(tb *tab, msg string, hold chan struct{}) {
	said := tb.consoleSays(msg)
	go func() {
		select {
		case <-said:
		case <-tb.ctx.Done():
		}
		close(hold)
	}()
}

// waitNewDocument waits until the document that window.__e2eLeft marked is gone and the new one
// has loaded.
func (tb *tab) waitNewDocument(what string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	for {
		done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!window.__e2eLeft && document.readyState === "complete"`))
		if err == nil && done {
			return
		}
		// Errors are expected while the old document goes away; the deadline ends the wait.
		select {
		case <-ctx.Done():
			tb.t.Fatalf("%s: the page did not change (on %s): %v", what, tb.url(), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// wait waits until an element matching sel is in the page.
func (tb *tab) wait(sel string) {
	tb.t.Helper()
	tb.do("wait for "+sel, chromedp.WaitReady(chromedp.CSS(sel)))
}

// The reads below run a small script through the DevTools protocol: it works with the page's
// scripts disabled too, and it sees the document that is in the tab now, even one the browser
// restored from its back-forward cache (which chromedp's DOM queries do not track).

// query evaluates fn(elements) for the elements matching sel now, without waiting.
func query[T any](tb *tab, what, sel, fn string) T {
	tb.t.Helper()
	return run(tb, what+" "+sel, chromedp.Evaluate[T](fmt.Sprintf(`(%s)(Array.from(document.querySelectorAll(%q)))`, fn, sel)))
}

// count is the number of elements matching sel now, without waiting.
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return query[int](tb, "count", sel, `els => els.length`)
}

// has reports whether an element matching sel is in the page now.
func (tb *tab) has(sel string) bool {
	tb.t.Helper()
	return tb.count(sel) > 0
}

// text is the text of the first element matching sel (waiting for it), with runs of space
// folded.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	tb.wait(sel)
	return strings.Join(strings.Fields(run(tb, "text of "+sel, chromedp.TextContent(chromedp.CSS(sel)))), " ")
}

// texts is the text of every element matching sel now, each with runs of space folded.
func (tb *tab) texts(sel string) []string {
	tb.t.Helper()
	out := query[[]string](tb, "text of", sel, `els => els.map(e => e.textContent)`)
	for i, s := range out {
		out[i] = strings.Join(strings.Fields(s), " ")
	}
	return out
}

// attrs is the value of attribute name on every element matching sel now.
func (tb *tab) attrs(sel, name string) []string {
	tb.t.Helper()
	return query[[]string](tb, "attribute "+name+" of", sel, fmt.Sprintf(`els => els.map(e => e.getAttribute(%q) ?? "")`, name))
}

// value is the value of the form field matching sel (waiting for it).
func (tb *tab) value(sel string) string {
	tb.t.Helper()
	tb.wait(sel)
	return query[string](tb, "value of", sel, `els => els[0].value`)
}

// fill replaces the value of a text field or textarea by typing, as a person would (key events
// work with scripts disabled too).
func (tb *tab) fill(sel, value string) {
	tb.t.Helper()
	tb.wait(sel)
	query[bool](tb, "clear", sel, `els => { els[0].value = ""; return true; }`)
	tb.do("fill "+sel, chromedp.SendKeys(chromedp.CSS(sel), value))
}

// axInfo is what the browser tells a screen reader about an element: its role, its accessible
// name and its accessible description.
type axInfo struct{ Role, Name, Description string }

// ax is the accessibility node of the first element matching sel now, as Chromium computes it
// for screen readers (names from labels, aria-labelledby, content; descriptions from
// aria-describedby and title).
func (tb *tab) ax(sel string) axInfo {
	tb.t.Helper()
	return run(tb, "accessibility of "+sel, chromedp.Action[axInfo](func(ctx context.Context, _ *chromedp.Target) (axInfo, error) {
		el, err := chromedp.Call(ctx, runtime.Evaluate, runtime.EvaluateParams{Expression: fmt.Sprintf(`document.querySelector(%q)`, sel)})
		if err != nil {
			return axInfo{}, err
		}
		if el.Result == nil || el.Result.ObjectID == "" {
			return axInfo{}, fmt.Errorf("no element matches %s", sel)
		}
		alone := false
		tree, err := chromedp.Call(ctx, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{ObjectID: el.Result.ObjectID, FetchRelatives: &alone})
		if err != nil {
			return axInfo{}, err
		}
		if len(tree.Nodes) == 0 {
			return axInfo{}, fmt.Errorf("%s has no accessibility node", sel)
		}
		str := func(v *accessibility.Value) string {
			var s string
			if v != nil {
				_ = json.Unmarshal([]byte(v.Value), &s)
			}
			return s
		}
		n := tree.Nodes[0]
		return axInfo{Role: str(n.Role), Name: str(n.Name), Description: str(n.Description)}, nil
	}))
}

// check clicks a checkbox or radio button (no navigation).
func (tb *tab) check(sel string) {
	tb.t.Helper()
	tb.do("check "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// disableScripts turns JavaScript off for every later document of this tab.
func (tb *tab) disableScripts() {
	tb.t.Helper()
	tb.nojs = true
	tb.do("disable scripts", scriptsDisabled(true))
}

func scriptsDisabled(off bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: off})
		return err
	})
}

// look is called on every page a journey reaches: it runs axe on the page and fails the test on
// any violation. The first time a journey reaches a page name (every time with
// SMTPDESK_SCREENSHOTS_ALL=1), axe checks the page in dark mode too, and when photographs are
// asked for (see runMain) the page is photographed at both widths in both modes.
func (tb *tab) look(name string) {
	tb.t.Helper()
	tb.last = name
	tb.looks[name]++
	tb.axe(name)
	key := tb.journey + "/" + name
	first := tb.s.firstShot(key)
	if !first && !tb.s.shotAll {
		return
	}
	base := tb.journey + "-" + name
	if n := tb.looks[name]; n > 1 {
		base = fmt.Sprintf("%s-%d", base, n)
	}
	tb.photograph(base, "")
	// The same page in dark mode (it follows the OS): axe checks its contrast too.
	tb.do("emulate dark mode", colorScheme("dark"))
	defer tb.do("back to light mode", colorScheme(""))
	tb.axe(name + " (dark)")
	tb.photograph(base, "-dark")
}

// photograph takes the page at both widths as base-<width><suffix>.png, when photographs are
// asked for.
func (tb *tab) photograph(base, suffix string) {
	tb.t.Helper()
	if !tb.s.photograph {
		return
	}
	for _, w := range []int{desktopWidth, phoneWidth} {
		tb.screenshot(fmt.Sprintf("%s-%d%s.png", base, w, suffix), w)
	}
}

// colorScheme emulates prefers-color-scheme ("dark", "light"); "" ends the emulation.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		// Reduced motion switches the pages' colour transitions off, so the check and the
		// screenshot see the dark colours, not a frame half-way between the two schemes.
		p := emulation.SetEmulatedMediaParams{}
		if scheme != "" {
			p.Features = []*emulation.MediaFeature{
				{Name: "prefers-color-scheme", Value: scheme},
				{Name: "prefers-reduced-motion", Value: "reduce"},
			}
		}
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, p)
		return err
	})
}

// lookShared is look for a page every journey passes through, such as the sign-in provider's
// chooser: checked and photographed once per run, as journey "shared".
func (tb *tab) lookShared(name string) {
	tb.t.Helper()
	if !tb.s.firstShot("once/"+name) && !tb.s.shotAll {
		return
	}
	j := tb.journey
	tb.journey = "shared"
	defer func() { tb.journey = j }()
	tb.look(name)
}

// axe runs axe-core on the current page. Scripts are switched on for the check if the tab has
// them off: the page's own scripts do not run again, only the injected checker does.
func (tb *tab) axe(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if tb.nojs {
		// axe.run's promise never settles with scripts off (timers do not fire).
		tb.do("enable scripts for axe", scriptsDisabled(false))
		defer tb.do("disable scripts after axe", scriptsDisabled(true))
	}
	vs, err := runAxe(ctx, tb.s.axeJS)
	if err != nil {
		tb.t.Fatalf("%s: %s (%s): %v", tb.journey, name, tb.url(), err)
	}
	// Every impact fails, moderate and minor too: a demo banner outside every landmark (moderate)
	// went unnoticed on every page while only serious and critical ones did.
	if len(vs) > 0 {
		tb.t.Errorf("accessibility: %s: page %q (%s): axe found %d violations:%s",
			tb.journey, name, tb.path(), len(vs), formatViolations(vs))
	}
}

// screenshot writes a full-page PNG of the current page at the given width.
func (tb *tab) screenshot(file string, width int) {
	tb.t.Helper()
	png, err := tb.capture(width)
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", file, err)
	}
	if err := os.WriteFile(filepath.Join(tb.s.shotDir, file), png, 0o644); err != nil {
		tb.t.Fatalf("screenshot %s: %v", file, err)
	}
}

// capture takes a full-page PNG at width, then restores the desktop viewport.
func (tb *tab) capture(width int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if width != desktopWidth {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), 844, chromedp.EmulateMobile, chromedp.EmulatePortrait)); err != nil {
			return nil, err
		}
		defer func() { _ = chromedp.Do(ctx, desktopViewport()) }()
	}
	return chromedp.Run(ctx, chromedp.FullScreenshot(100))
}

// saveFailure leaves a screenshot and the HTML of the page a failed test was on.
func (tb *tab) saveFailure() {
	if !tb.t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	base := filepath.Join(tb.s.shotDir, tb.journey+"-FAILED")
	if png, err := tb.capture(desktopWidth); err == nil {
		_ = os.WriteFile(base+"-1280.png", png, 0o644)
	}
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil {
		tb.t.Logf("failure artifacts: cannot read the page HTML: %v", err)
	} else {
		_ = os.WriteFile(base+".html", []byte(html), 0o644)
	}
	tb.t.Logf("failure artifacts: %s-1280.png and %s.html (page %s, last looked at %q)", base, base, tb.url(), tb.last)
}

// grantClipboard lets the tab's pages read and write the clipboard without asking, as a person
// would allow when the browser asks; clipboard then reads what a copy button put there.
func (tb *tab) grantClipboard() {
	tb.t.Helper()
	c := chromedp.FromContext(tb.ctx)
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		err := c.Browser.Call(ctx, browser.CommandSetPermission, &browser.SetPermissionParams{
			Permission:       &browser.PermissionDescriptor{Name: name},
			Setting:          browser.PermissionSettingGranted,
			Origin:           tb.base,
			BrowserContextID: c.BrowserContextID,
		}, nil)
		if err != nil {
			tb.t.Fatalf("grant %s: %v", name, err)
		}
	}
}

// clipboard is the text on the clipboard of the tab's browser.
func (tb *tab) clipboard() string {
	tb.t.Helper()
	return run(tb, "read the clipboard", chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
}

// fetchLink fetches the href of the link sel with the tab's session, as a download would, and
// returns the body, or "HTTP <status>" when the answer is not a success.
func (tb *tab) fetchLink(sel string) string {
	tb.t.Helper()
	return run(tb, "fetch "+sel, chromedp.Evaluate[string](
		fmt.Sprintf(`fetch(document.querySelector(%q).href).then(r => r.ok ? r.text() : "HTTP " + r.status)`, sel),
		chromedp.EvalAwaitPromise))
}
