package e2e

import (
	"context"
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
const axeRunJS = `(async () => {
	const r = await axe.run(document, {resultTypes: ["violations"]});
	return r.violations.map(v => ({
		id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
		nodes: v.nodes.map(n => ({target: n.target, html: n.html, failureSummary: n.failureSummary || ""})),
	}));
})()`

// runAxe injects axe-core into the current page (once per document) and returns every violation.
func runAxe(ctx context.Context, axeJS string) ([]axeViolation, error) {
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err != nil {
		return nil, fmt.Errorf("axe: probe: %w", err)
	}
	if !loaded {
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](axeJS)); err != nil {
			return nil, fmt.Errorf("axe: inject: %w", err)
		}
	}
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](axeRunJS, chromedp.EvalAwaitPromise))
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
