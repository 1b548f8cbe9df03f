package main

// The report says what was measured (a review helper's tests, each seen failing on the code
// before it was mended).

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeChild starts a harmless process to stand in for a server (measure reads its /proc CPU and
// RSS) and kills it, by its own pid, at the end of the test.
func fakeChild(t *testing.T, name string) *child {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return c
}

// TestWarmupErrorsCount: measure throws the warm-up's result away, errors included, so a
// dashboard that fails every request of the warm-up (the first burst of each scenario) still
// gets "PASS | 0 errors" and not a word in the log or the report.
func TestWarmupErrorsCount(t *testing.T) {
	var measuring atomic.Bool
	var warmFailed atomic.Int64
	sb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The load test reads the sandbox's counters right after the warm-up.
		measuring.Store(true)
		_ = json.NewEncoder(w).Encode(sandboxCounters{})
	}))
	defer sb.Close()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			http.NotFound(w, r)
			return
		}
		if !measuring.Load() {
			warmFailed.Add(1)
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte("<table>rows</table>"))
	}))
	defer web.Close()
	var log bytes.Buffer
	o := options{duration: 300 * time.Millisecond, warmup: 300 * time.Millisecond, concurrency: 2, latency: 50 * time.Millisecond,
		perPage: 100, hotPages: 1, gzip: true}
	lt := &loadTest{o: o, out: &log, sb: fakeChild(t, "sandbox"), web: fakeChild(t, "web"), sbURL: sb.URL, webURL: web.URL,
		domains: []string{"big1.example"}, pages: 100, perPage: 100, cookie: "session=s"}
	m, err := lt.measure(context.Background(), scCold, 0)
	if err != nil {
		t.Fatal(err)
	}
	if warmFailed.Load() == 0 || m.Res.Requests == 0 {
		t.Fatalf("setup: %d warm-up failures, %d measured requests", warmFailed.Load(), m.Res.Requests)
	}
	l, ok := findLine(checkBudget([]measurement{m}, 50*MiB, o), "0 errors")
	if !ok {
		t.Fatal("no errors line")
	}
	if l.Pass {
		t.Errorf("%d requests of the warm-up answered 502, yet the budget says PASS %q (%s); log:\n%s",
			warmFailed.Load(), l.Text, l.Measured, log.String())
	}
}

// TestErrorAnswersAreNoPages: attack keeps every answer's latency, errors
// included, and RPS counts errors as throughput, so fast error answers (a redirect to the sign-in
// page once a session ended, a 502) pull p50 down and push req/s up: the p50 and throughput
// lines are judged on answers that are not pages.
func TestErrorAnswersAreNoPages(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/page" {
			time.Sleep(20 * time.Millisecond)
			_, _ = w.Write([]byte("rows"))
			return
		}
		http.Redirect(w, r, "/login", http.StatusFound) // the session ended: no page
	}))
	defer srv.Close()
	next := func(ctx context.Context, i int64) (*http.Request, error) {
		p := "/expired"
		if i%4 == 0 {
			p = "/page"
		}
		return http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+p, nil)
	}
	res, err := attack(context.Background(), newLoadClient(4), 4, 500*time.Millisecond, next)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors == 0 || res.Errors == res.Requests {
		t.Fatalf("setup: %d errors of %d", res.Errors, res.Requests)
	}
	if p50 := res.Quantile(.5); p50 < 20*time.Millisecond {
		t.Errorf("p50 = %v with every page taking ≥ 20ms: %d of the %d latencies are redirects to the sign-in page", p50, res.Errors, res.Requests)
	}
	pages := float64(res.Requests-res.Errors) / res.Elapsed.Seconds()
	if res.RPS() > pages*1.01 {
		t.Errorf("RPS = %.0f, but only %.0f pages/s were served (%d of %d answers were errors)", res.RPS(), pages, res.Errors, res.Requests)
	}

	// And in the budget: 900 of 1,000 cold answers were errors, 100 pages/s against the direct
	// list's 1,000 is 10 %, yet the throughput line passes.
	const lat = 50 * time.Millisecond
	cold := twoLevel(scCold, 0, 1000, time.Millisecond, time.Millisecond)
	cold.Res.Errors = 900
	rows := []measurement{twoLevel(scDirect, 0, 1000, time.Millisecond, time.Millisecond), cold}
	l, ok := findLine(coldLines(rows, scCold, options{latency: lat, concurrency: 50, perPage: 100}, "cond"), "throughput")
	if !ok {
		t.Fatal("no throughput line")
	}
	if l.Pass {
		t.Errorf("throughput line PASS with 100 pages/s of 1,000 direct (900 errors): %s", l.Measured)
	}
}

// TestShownNumberAgreesWithVerdict: the lines are judged on unrounded values and shown
// rounded, so a MISS can show a number that meets the bound as printed.
func TestShownNumberAgreesWithVerdict(t *testing.T) {
	o := options{latency: 50 * time.Millisecond, concurrency: 50, perPage: 100, gzip: true}
	// Throughput: 2,496 pages/s against 10,000 is 24.96 %, printed "25.0%".
	rows := []measurement{twoLevel(scDirect, 0, 10000, time.Millisecond, time.Millisecond), twoLevel(scCold, 0, 2496, time.Millisecond, time.Millisecond)}
	if l, ok := findLine(coldLines(rows, scCold, o, "cond"), "throughput"); ok && !l.Pass && strings.Contains(l.Measured, "= 25.0%") {
		t.Errorf("MISS | %s | %s: the number shown meets the bound", l.Text, l.Measured)
	}
	// Validity: 9,896 list calls for 10,000 views is 989.6 per 1,000, printed "990 per 1,000".
	v := row(scCold, 0, 10000, time.Millisecond, 0, 9896)
	if l, ok := findLine(checkBudget([]measurement{v}, 50*MiB, o), "validity: the cold run"); ok && !l.Pass && l.Measured == "990 per 1,000" {
		t.Errorf("MISS | %s | %s: the number shown meets the bound", l.Text, l.Measured)
	}
	// RSS: 100 MiB and 40 KiB, printed "100.0 MiB".
	if l, ok := findLine(checkBudget(nil, 100*MiB+40<<10, o), "peak RSS"); ok && !l.Pass && l.Measured == "100.0 MiB" {
		t.Errorf("MISS | %s | %s: the number shown meets the bound", l.Text, l.Measured)
	}
	// p50: 1.0004 ms over, printed "+1ms".
	lat := o.latency
	rows = []measurement{twoLevel(scDirect, lat, 1000, 50*time.Millisecond, 50*time.Millisecond),
		twoLevel(scCold, lat, 1000, 51*time.Millisecond+400*time.Nanosecond, 50*time.Millisecond)}
	if l, ok := findLine(coldLines(rows, scCold, o, "cond"), "p50"); ok && !l.Pass && strings.Contains(l.Measured, "(+1ms)") {
		t.Errorf("MISS | %s | %s: the number shown meets the bound", l.Text, l.Measured)
	}
}

// TestHotRowShowsItsUpstreamCalls: the table's "upstream list calls per 1,000 views" cell
// rounds to a whole number, so the hot rows (the coalescing measurement the issue asks for) read
// 0 when 8 calls went upstream, while the coalescing line below says 0.2.
func TestHotRowShowsItsUpstreamCalls(t *testing.T) {
	hot := row(scHot, 0, 45966, time.Millisecond, 0, 8)
	if got := perThousand(hot); got == "0" {
		t.Errorf("perThousand = %q for 8 upstream calls in 45,966 views (0.17 per 1,000)", got)
	}
}

// TestEmptyRunPassesNoLine: a cold run with no answers has p50 = p99 = 0, and the
// p50 and p99 lines pass on it (its validity line is skipped, so nothing misses for it).
func TestEmptyRunPassesNoLine(t *testing.T) {
	const lat = 50 * time.Millisecond
	o := options{latency: lat, concurrency: 50, perPage: 100, gzip: true}
	rows := []measurement{
		twoLevel(scDirect, lat, 1000, 50*time.Millisecond, 55*time.Millisecond),
		{Scenario: scCold, Latency: lat, Res: attackResult{Elapsed: time.Second}},
	}
	for _, l := range checkBudget(rows, 50*MiB, o) {
		if (strings.HasPrefix(l.Text, "p50") || strings.HasPrefix(l.Text, "p99")) && l.Pass {
			t.Errorf("PASS | %s | %s: judged on a run with no answers", l.Text, l.Measured)
		}
	}
}

// TestThroughputLineNamesItsPageSize: the budget's throughput line is stated for 100-row
// pages; with -per-page 25 it is still judged (and -fail-on-miss exits 0 on it) with no note,
// unlike the p50 and p99 lines, which say when latency or concurrency differ from the budget's.
func TestThroughputLineNamesItsPageSize(t *testing.T) {
	o := options{latency: 50 * time.Millisecond, concurrency: 50, perPage: 25, gzip: true}
	rows := []measurement{twoLevel(scDirect, 0, 1000, time.Millisecond, time.Millisecond), twoLevel(scCold, 0, 300, time.Millisecond, time.Millisecond)}
	l, ok := findLine(checkBudget(rows, 50*MiB, o), "throughput")
	if !ok {
		t.Fatal("no throughput line")
	}
	if !l.Info && !strings.Contains(l.Text, "stated for 100-row pages") {
		t.Errorf("%q judged (Pass %v) at 25-row pages without saying the budget is for 100-row pages", l.Text, l.Pass)
	}
}
