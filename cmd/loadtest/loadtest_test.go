package main

import (
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestQuantile(t *testing.T) {
	ten := durations(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, .5, 0},
		{"one", durations(7), .99, 7 * time.Millisecond},
		{"median of ten is the 5th", ten, .5, 5 * time.Millisecond},
		{"p90 of ten is the 9th", ten, .9, 9 * time.Millisecond},
		{"p99 of ten is the 10th", ten, .99, 10 * time.Millisecond},
		{"p100 is the max", ten, 1, 10 * time.Millisecond},
		{"tiny q is the min", ten, .0001, 1 * time.Millisecond},
		// Between ranks the nearest rank is the next one up (14.4 → the 15th), never the nearer.
		{"p90 of sixteen is the 15th", durations(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16), .9, 15 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := quantile(tt.sorted, tt.q); got != tt.want {
				t.Fatalf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestAttack(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fail":
			http.Error(w, "no", http.StatusBadGateway)
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			_, _ = w.Write([]byte("hello"))
		}
	}))
	defer srv.Close()
	paths := []string{"/ok", "/ok", "/fail", "/redirect"}
	next := func(ctx context.Context, i int64) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+paths[i%4], nil)
	}
	res, err := attack(context.Background(), newLoadClient(4), 4, 200*time.Millisecond, next)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests < 4 {
		t.Fatalf("requests = %d, want at least 4", res.Requests)
	}
	if got, want := len(res.Latencies), res.Requests-res.Errors; got != want {
		t.Fatalf("latencies = %d, want one per 200 answer (%d of %d requests)", got, want, res.Requests)
	}
	if !slices.IsSorted(res.Latencies) {
		t.Fatal("latencies are not sorted")
	}
	fails, redirects := res.ErrorKind["status 502"], res.ErrorKind["status 302"]
	if fails == 0 || redirects == 0 {
		t.Fatalf("error kinds = %v, want both 502s and 302s (redirects are not followed)", res.ErrorKind)
	}
	if got, want := res.Errors, fails+redirects; got != want {
		t.Fatalf("errors = %d, want %d", got, want)
	}
	// Half the requests fail, give or take the ones in flight when the run ended.
	if res.Errors < res.Requests/2-4 || res.Errors > res.Requests/2+4 {
		t.Fatalf("errors = %d of %d, want about half", res.Errors, res.Requests)
	}
	if res.FirstErr == "" || res.RPS() <= 0 || res.Bytes <= 0 {
		t.Fatalf("result = %+v, want a first error, a rate and bytes", res)
	}
}

func TestAttackStopsOnCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	next := func(ctx context.Context, i int64) (*http.Request, error) {
		if i == 10 {
			cancel()
		}
		return http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	}
	done := make(chan error, 1)
	go func() {
		_, err := attack(ctx, newLoadClient(2), 2, time.Hour, next)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("attack = nil after cancel, want an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("attack did not stop after cancel")
	}
}

// row builds a measurement with n latencies spread evenly up to max, errs errors, and upstream
// list calls.
func row(sc string, lat time.Duration, n int, maxLat time.Duration, errs int, upstream int64) measurement {
	r := attackResult{Requests: n, Errors: errs, Elapsed: time.Second}
	if sc != scDirect && sc != scColdPlain && sc != scFloor {
		r.Gzipped = n - errs
	}
	for i := range n {
		r.Latencies = append(r.Latencies, maxLat*time.Duration(i+1)/time.Duration(n))
	}
	return measurement{Scenario: sc, Latency: lat, Res: r, UpstreamLists: upstream}
}

func TestCheckBudget(t *testing.T) {
	o := options{latency: 50 * time.Millisecond, concurrency: 50, perPage: 100, hotPages: 4, gzip: true}
	good := []measurement{
		row(scDirect, 0, 1000, 10*time.Millisecond, 0, 0),
		row(scCold, 0, 300, 40*time.Millisecond, 0, 300),
		row(scHot, 0, 500, 40*time.Millisecond, 0, 4),
		row(scDirect, o.latency, 1000, 100*time.Millisecond, 0, 0),
		row(scCold, o.latency, 1000, 102*time.Millisecond, 0, 1000),
		row(scHot, o.latency, 1000, 100*time.Millisecond, 0, 8),
		row(scColdPlain, 0, 350, 40*time.Millisecond, 0, 350),
		row(scColdPlain, o.latency, 1000, 101*time.Millisecond, 0, 1000),
		row(scFloor, 0, 600, 20*time.Millisecond, 0, 600),
		row(scFloor, o.latency, 1000, 100*time.Millisecond, 0, 1000),
	}
	tests := []struct {
		name     string
		rows     func() []measurement
		hwm      int64
		wantMiss []string // substrings of the missed lines
	}{
		{"all pass", func() []measurement { return good }, 50 * MiB, nil},
		{"rss over", func() []measurement { return good }, 101 * MiB, []string{"peak RSS"}},
		{"slow dashboard", func() []measurement {
			rs := slices.Clone(good)
			rs[4] = row(scCold, o.latency, 1000, 120*time.Millisecond, 0, 1000) // p50 +10ms, p99 +20ms
			return rs
		}, 50 * MiB, []string{"p50", "p99"}},
		{"low throughput", func() []measurement {
			rs := slices.Clone(good)
			rs[1] = row(scCold, 0, 200, 40*time.Millisecond, 0, 200) // 20%
			return rs
		}, 50 * MiB, []string{"throughput"}},
		{"errors", func() []measurement {
			rs := slices.Clone(good)
			rs[2] = row(scHot, 0, 500, 40*time.Millisecond, 3, 4)
			return rs
		}, 50 * MiB, []string{"0 errors"}},
		{"answers sent uncompressed", func() []measurement {
			rs := slices.Clone(good)
			rs[2].Uncompressed = 5
			return rs
		}, 50 * MiB, []string{"validity: every dashboard answer asked for with gzip came gzipped"}},
		{"answers not gzipped (HTTP_GZIP=false in the dashboard)", func() []measurement {
			rs := slices.Clone(good)
			rs[4].Res.Gzipped = 0
			return rs
		}, 50 * MiB, []string{"validity: every dashboard answer asked for with gzip came gzipped"}},
		{"cache flattered the cold run", func() []measurement {
			rs := slices.Clone(good)
			rs[1] = row(scCold, 0, 300, 40*time.Millisecond, 0, 100)
			return rs
		}, 50 * MiB, []string{"validity: the cold run at 0s"}},
		{"cache flattered the uncompressed cold run", func() []measurement {
			rs := slices.Clone(good)
			rs[7] = row(scColdPlain, o.latency, 1000, 101*time.Millisecond, 0, 10)
			return rs
		}, 50 * MiB, []string{"validity: the uncompressed cold run at 50ms"}},
		{"uncompressed pages are reported, not judged", func() []measurement {
			rs := slices.Clone(good)
			rs[6] = row(scColdPlain, 0, 100, 40*time.Millisecond, 0, 100)            // 10%
			rs[7] = row(scColdPlain, o.latency, 1000, 130*time.Millisecond, 0, 1000) // p50 +15ms
			return rs
		}, 50 * MiB, nil},
		{"the floor proxy is reported, not judged", func() []measurement {
			rs := slices.Clone(good)
			rs[8] = row(scFloor, 0, 100, 40*time.Millisecond, 0, 100)            // 10%
			rs[9] = row(scFloor, o.latency, 1000, 130*time.Millisecond, 0, 1000) // p50 +15ms
			return rs
		}, 50 * MiB, nil},
		{"rss at the limit", func() []measurement { return good }, 100 * MiB, nil},
		{"rss unreadable", func() []measurement { return good }, 0, []string{"peak RSS"}},
		{"990 list calls per 1,000 cold views is valid", func() []measurement {
			rs := slices.Clone(good)
			rs[1] = row(scCold, 0, 1000, 40*time.Millisecond, 0, 990)
			return rs
		}, 50 * MiB, nil},
		{"989 list calls per 1,000 cold views is not", func() []measurement {
			rs := slices.Clone(good)
			rs[1] = row(scCold, 0, 1000, 40*time.Millisecond, 0, 989)
			return rs
		}, 50 * MiB, []string{"validity: the cold run at 0s"}},
		{"the floor proxy did not go upstream", func() []measurement {
			rs := slices.Clone(good)
			rs[8] = row(scFloor, 0, 600, 20*time.Millisecond, 0, 0)
			return rs
		}, 50 * MiB, []string{"validity: the floor proxy's run at 0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := checkBudget(tt.rows(), tt.hwm, o)
			var missed []string
			infos := 0
			for _, l := range lines {
				if l.Info {
					infos++
				} else if !l.Pass {
					missed = append(missed, l.Text)
				}
			}
			if got, want := len(missed), len(tt.wantMiss); got != want {
				t.Fatalf("missed %q, want %d lines missed (%q)", missed, want, tt.wantMiss)
			}
			for i, w := range tt.wantMiss {
				if !strings.Contains(missed[i], w) {
					t.Errorf("missed[%d] = %q, want it to contain %q", i, missed[i], w)
				}
			}
			if got, want := infos, 2+3+3; got != want {
				t.Errorf("info lines = %d, want %d (one per hot run, and p50, p99 and throughput for the uncompressed pages and the floor proxy)", got, want)
			}
			for _, l := range lines {
				floor := strings.HasPrefix(l.Text, "floor, a pass-through proxy")
				if floor && (strings.Contains(l.Text, "dashboard") || !strings.Contains(l.Text, "proxy ≤") && !strings.Contains(l.Text, "proxy ≥")) {
					t.Errorf("line %q: a floor line should compare the proxy, not the dashboard, with the direct list", l.Text)
				}
				reported := strings.HasPrefix(l.Text, "uncompressed pages") || floor
				if reported != l.Info && !strings.HasPrefix(l.Text, "coalescing") {
					t.Errorf("line %q: Info = %v; only the uncompressed pages', the floor proxy's and the hot runs' lines are not judged", l.Text, l.Info)
				}
			}
			r := report{Rows: tt.rows(), Budget: lines, Opts: o}
			if got, want := r.passed(), len(tt.wantMiss) == 0; got != want {
				t.Errorf("passed = %v, want %v", got, want)
			}
			md := r.markdown()
			for _, w := range []string{sectionBegin, sectionEnd, "| p50 |", "PASS", "INFO"} {
				if !strings.Contains(md, w) {
					t.Errorf("markdown lacks %q", w)
				}
			}
			if strings.Contains(md, "MISS") != (len(tt.wantMiss) > 0) {
				t.Errorf("markdown MISS marks disagree with the budget:\n%s", md)
			}
		})
	}
}

func TestCPULine(t *testing.T) {
	d := withCPU(row(scDirect, 0, 1000, 10*time.Millisecond, 0, 0), 0, 100, 70)
	c := withCPU(row(scCold, 0, 200, 40*time.Millisecond, 0, 200), 140, 50, 40)
	plain := row(scColdPlain, 0, 300, 40*time.Millisecond, 0, 300)
	plain.DashCPU = time.Second // not the judged page: must not be used

	l, ok := cpuLine([]measurement{plain, c, d})
	if !ok {
		t.Fatal("cpuLine: ok = false with both runs and their CPU")
	}
	if !l.Info {
		t.Error("the CPU line is judged; it should be reported only")
	}
	wantContains(t, l.Measured,
		"direct list 0.170 ms (sandbox 0.100 + generator 0.070)",
		"dashboard page 1.150 ms (dashboard 0.700 + sandbox 0.250 + generator 0.200)",
		"25% of direct needs the page at ≤ 0.680 ms in all")

	if strings.Contains(l.Measured, "floor") {
		t.Errorf("Measured = %q names the floor proxy, which was not measured", l.Measured)
	}
	f := withCPU(row(scFloor, 0, 500, 20*time.Millisecond, 0, 500), 50, 100, 40)
	withFloor, _ := cpuLine([]measurement{d, f, c})
	wantContains(t, withFloor.Measured, "floor proxy 0.380 ms (proxy 0.100 + sandbox 0.200 + generator 0.080)")

	// Without CPU readings (or without one of the runs) there is nothing to say.
	if _, ok := cpuLine([]measurement{row(scDirect, 0, 1000, 10*time.Millisecond, 0, 0), c}); ok {
		t.Error("cpuLine: ok = true without the direct run's CPU")
	}
	if _, ok := cpuLine([]measurement{d}); ok {
		t.Error("cpuLine: ok = true without the cold run")
	}
	if _, ok := cpuLine([]measurement{d, row(scCold, 0, 200, 40*time.Millisecond, 0, 200)}); ok {
		t.Error("cpuLine: ok = true without the cold run's CPU")
	}
	if l, ok := cpuLine([]measurement{d, row(scFloor, 0, 500, 20*time.Millisecond, 0, 500), c}); !ok || strings.Contains(l.Measured, "floor") {
		t.Errorf("ok = %v, Measured = %q; want a line that does not name the floor proxy, whose CPU was not read", ok, l.Measured)
	}
	if !reports([]measurement{d, c}, 50*time.Millisecond, l.Text) {
		t.Error("checkBudget does not report the CPU line")
	}
}

func TestGapLine(t *testing.T) {
	lat := 50 * time.Millisecond
	// 1,000 requests each: the direct list costs 0.4 ms per request, the page 1.4 ms, the floor
	// 0.5 ms; p50 50 / 55 / 50.5 ms, p99 99 / 108.9 / 99.99 ms.
	d := withCPU(row(scDirect, lat, 1000, 100*time.Millisecond, 0, 0), 0, 300, 100)
	c := withCPU(row(scCold, lat, 1000, 110*time.Millisecond, 0, 1000), 1000, 300, 100)
	f := withCPU(row(scFloor, lat, 1000, 101*time.Millisecond, 0, 1000), 100, 300, 100)
	c0 := withCPU(row(scCold, 0, 1000, 10*time.Millisecond, 0, 1000), 5000, 300, 100) // another latency: not used

	l, ok := gapLine([]measurement{c0, d, f, c}, lat)
	if !ok || !l.Info {
		t.Fatalf("gapLine: ok = %v, Info = %v; want a reported line", ok, l.Info)
	}
	wantContains(t, l.Measured,
		"dashboard page 1.000 ms (p50 +5.00 ms, p99 +9.9 ms: 5.0 and 9.9 ms per ms)",
		"floor proxy 0.100 ms (p50 +0.50 ms, p99 +1.0 ms: 5.0 and 9.9 ms per ms)",
		"the p50 bound allows 0.20 ms of extra CPU per view and the p99 bound 0.51 ms")
	if strings.Contains(l.Measured, "uncompressed") {
		t.Errorf("Measured = %q names the uncompressed page, which was not measured", l.Measured)
	}

	// A page no slower than the direct list has no slope to divide by.
	flat := withCPU(row(scCold, lat, 1000, 100*time.Millisecond, 0, 1000), 100, 300, 100)
	if l, _ := gapLine([]measurement{d, flat}, lat); strings.Contains(l.Measured, "per ms") || strings.Contains(l.Measured, "allows") {
		t.Errorf("Measured = %q, want no slopes and no allowance without a gap", l.Measured)
	}
	// Slopes need extra CPU and both gaps to divide by.
	cheap := withCPU(row(scCold, lat, 1000, 110*time.Millisecond, 0, 1000), 50, 250, 100)
	p99Lower := withCPU(twoLevel(scCold, lat, 1000, 55*time.Millisecond, 90*time.Millisecond), 1000, 300, 100)
	for name, page := range map[string]measurement{"no extra CPU": cheap, "no p99 gap": p99Lower} {
		if l, ok := gapLine([]measurement{d, page}, lat); !ok || strings.Contains(l.Measured, "per ms") || strings.Contains(l.Measured, "allows") {
			t.Errorf("%s: ok = %v, Measured = %q; want a line without slopes or allowance", name, ok, l.Measured)
		}
	}
	// The allowance is the judged page's, whatever the uncompressed page's slopes.
	plain := withCPU(row(scColdPlain, lat, 1000, 105*time.Millisecond, 0, 1000), 1000, 300, 100)
	l2, _ := gapLine([]measurement{d, c, plain}, lat)
	wantContains(t, l2.Measured, "uncompressed page 1.000 ms (p50 +2.50 ms",
		"the p50 bound allows 0.20 ms of extra CPU per view and the p99 bound 0.51 ms")
	for name, rows := range map[string][]measurement{
		"no judged page":      {d, f},
		"no direct run":       {c, f},
		"no CPU readings":     {row(scDirect, lat, 1000, 100*time.Millisecond, 0, 0), c},
		"no page CPU reading": {d, row(scCold, lat, 1000, 110*time.Millisecond, 0, 1000)},
	} {
		if _, ok := gapLine(rows, lat); ok {
			t.Errorf("%s: gapLine ok = true", name)
		}
	}
	if !reports([]measurement{d, c}, lat, l.Text) {
		t.Error("checkBudget does not report the latency gap line")
	}
}

// withCPU sets a measurement's CPU readings, in milliseconds, for the dashboard (or the floor
// proxy), the sandbox and the generator.
func withCPU(m measurement, dash, sb, gen int) measurement {
	m.DashCPU, m.SbCPU, m.GenCPU = time.Duration(dash)*time.Millisecond, time.Duration(sb)*time.Millisecond, time.Duration(gen)*time.Millisecond
	return m
}

// wantContains fails the test for each of wants that s lacks.
func wantContains(t *testing.T, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("Measured = %q, want it to contain %q", s, w)
		}
	}
}

// reports says whether checkBudget, for rows measured at latency lat, has a line with this text.
func reports(rows []measurement, lat time.Duration, text string) bool {
	for _, bl := range checkBudget(rows, 50*MiB, options{latency: lat, concurrency: 50, perPage: 100, gzip: true}) {
		if bl.Text == text {
			return true
		}
	}
	return false
}

func TestWriteSection(t *testing.T) {
	section := sectionBegin + "\nnew table\n" + sectionEnd + "\n"
	tests := []struct {
		name, old, want string
		exists          bool
	}{
		{"new file", "", "# SMTP Desk performance\n\n" + section, false},
		{"replaces between markers", "# Perf\n\nintro\n\n" + sectionBegin + "\nold table\n" + sectionEnd + "\n\n## Benchmarks\nkept\n",
			"# Perf\n\nintro\n\n" + section + "\n## Benchmarks\nkept\n", true},
		{"appends without markers", "# Perf\n\n## Benchmarks\nkept\n", "# Perf\n\n## Benchmarks\nkept\n\n" + section, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "PERFORMANCE.md")
			if tt.exists {
				if err := os.WriteFile(path, []byte(tt.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := writeSection(path, section); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != tt.want {
				t.Fatalf("file =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestWriteSectionRefusesStrayMarkers checks that a file whose markers do not pair up is left as
// it is: replacing from a stray begin marker to the next end marker would delete the text
// between them.
func TestWriteSectionRefusesStrayMarkers(t *testing.T) {
	section := sectionBegin + "\nnew table\n" + sectionEnd + "\n"
	for name, old := range map[string]string{
		"begin without end": "# Perf\n\n" + sectionBegin + "\nold table\n\n## Notes\nhand-written\n",
		"end before begin":  "# Perf\n\n" + sectionEnd + "\n## Notes\nhand-written\n\n" + sectionBegin + "\nold table\n",
		"two sections":      "# Perf\n\n" + sectionBegin + "\nstray\n\n## Notes\nhand-written\n\n" + section,
		"end without begin": "# Perf\n\nold table\n" + sectionEnd + "\n\n## Notes\nhand-written\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "PERFORMANCE.md")
			if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
				t.Fatal(err)
			}
			err := writeSection(path, section)
			if err == nil || !strings.Contains(err.Error(), "fix the file by hand") {
				t.Fatalf("writeSection = %v, want an error saying to fix the markers", err)
			}
			if b, _ := os.ReadFile(path); string(b) != old {
				t.Fatalf("file =\n%s\nwant it unchanged", b)
			}
		})
	}
}

func TestSumSeries(t *testing.T) {
	text := `# HELP smtpdesk_mailgun_calls_total HTTP attempts made to Mailgun.
# TYPE smtpdesk_mailgun_calls_total counter
smtpdesk_mailgun_calls_total{endpoint="credentials.list",status="200"} 1500
smtpdesk_mailgun_calls_total{endpoint="domains.list",status="200"} 2
smtpdesk_mailgun_calls_total_extra 99
smtpdesk_mailgun_calls_total_extra{endpoint="x"} 99
smtpdesk_mailgun_call_duration_seconds_count{endpoint="x"} 7
`
	got, ok := sumSeries(strings.NewReader(text), "smtpdesk_mailgun_calls_total")
	if !ok || got != 1502 {
		t.Fatalf("sumSeries = %v, %v; want 1502, true", got, ok)
	}
	if _, ok := sumSeries(strings.NewReader("other 1\n"), "smtpdesk_mailgun_calls_total"); ok {
		t.Fatal("sumSeries found a series that is not there")
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"short run", []string{"-duration", "5s", "-concurrency", "10", "-out", ""}, ""},
		{"duration too short", []string{"-duration", "10ms"}, "-duration"},
		{"no users", []string{"-concurrency", "0"}, "-concurrency"},
		{"odd page size", []string{"-per-page", "30"}, "-per-page"},
		{"no page size", []string{"-per-page", "0"}, "-per-page must be"},
		{"negative page size", []string{"-per-page", "-100"}, "-per-page must be"},
		{"domain too small", []string{"-big-size", "50"}, "-big-size"},
		{"web env without =", []string{"-web-env", "LOG_LEVEL"}, "KEY=VALUE"},
		{"stray argument", []string{"now"}, "unexpected arguments"},
		{"no bin dir", []string{"-bin-dir", ""}, "-bin-dir must name a directory"},
		{"profile at the latency", []string{"-cpuprofile", "p", "-cpuprofile-at", "50ms"}, ""},
		{"profile at another latency", []string{"-cpuprofile", "p", "-cpuprofile-at", "20ms"}, "-cpuprofile-at must be 0 or the -latency value (50ms)"},
		{"profile and trace of one run", []string{"-cpuprofile", "p", "-cpuprofile-at", "50ms", "-trace", "t"}, "separate runs"},
		{"profile at 0, trace at the latency", []string{"-cpuprofile", "p", "-trace", "t"}, ""},
		{"trace without a latency", []string{"-trace", "t", "-latency", "0"}, "-trace records the cold run at -latency, so it needs -latency above 0"},
		// Each range's bounds are allowed and the values just outside them refused.
		{"shortest duration", []string{"-duration", "1s"}, ""},
		{"longest duration", []string{"-duration", "10m"}, ""},
		{"duration too long", []string{"-duration", "10m1s"}, "-duration"},
		{"negative warm-up", []string{"-warmup", "-1s"}, "-warmup"},
		{"most users", []string{"-concurrency", "1000"}, ""},
		{"too many users", []string{"-concurrency", "1001"}, "-concurrency"},
		{"negative latency", []string{"-latency", "-1ms"}, "-latency"},
		{"no generated domains", []string{"-big-domains", "0"}, "-big-domains"},
		{"pages of 500", []string{"-per-page", "500"}, ""},
		{"ten pages per domain", []string{"-big-size", "1000", "-hot-pages", "9"}, ""},
		{"domain too large", []string{"-big-size", "1000001"}, "-big-size"},
		{"no hot pages", []string{"-hot-pages", "0"}, "-hot-pages"},
		{"hot pages fill a domain", []string{"-big-size", "1000", "-hot-pages", "10"}, "-hot-pages"},
		{"web env without a key", []string{"-web-env", "=x"}, "KEY=VALUE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			o, err := parseFlags(tt.args, &out)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parseFlags = %v, want nil", err)
				}
				if o.concurrency < 1 || o.duration < time.Second {
					t.Fatalf("options = %+v, want usable defaults", o)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("parseFlags = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestRecording checks which measurement records the dashboard's CPU profile and trace.
func TestRecording(t *testing.T) {
	const lat = 50 * time.Millisecond
	base := options{duration: 15 * time.Second, latency: lat}
	withProfile := func(at time.Duration) options {
		o := base
		o.cpuProfile, o.cpuProfAt = "cpu.pprof", at
		return o
	}
	withTrace := base
	withTrace.trace = "run.trace"
	tests := []struct {
		name     string
		o        options
		sc       string
		lat      time.Duration
		wantKind string
		wantPath string
	}{
		{"nothing asked", base, scCold, 0, "", ""},
		{"profile at 0: the cold run at 0", withProfile(0), scCold, 0, "profile", "cpu.pprof"},
		{"profile at 0: not the cold run at the latency", withProfile(0), scCold, lat, "", ""},
		{"profile at 0: not another scenario", withProfile(0), scDirect, 0, "", ""},
		{"profile at the latency", withProfile(lat), scCold, lat, "profile", "cpu.pprof"},
		{"profile at the latency: not at 0", withProfile(lat), scCold, 0, "", ""},
		{"trace: the cold run at the latency", withTrace, scCold, lat, "trace", "run.trace"},
		{"trace: not at 0", withTrace, scCold, 0, "", ""},
		{"trace: not the uncompressed run", withTrace, scColdPlain, lat, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.o.recording(tt.sc, tt.lat)
			if got.kind != tt.wantKind || got.path != tt.wantPath {
				t.Fatalf("recording = %+v, want kind %q and path %q", got, tt.wantKind, tt.wantPath)
			}
			if got.path != "" && (got.length <= 0 || got.length >= tt.o.duration) {
				t.Fatalf("recording length %v, want within the %v measurement", got.length, tt.o.duration)
			}
			// -help promises at most 5s of trace: a longer one is too large to read.
			if got.kind == "trace" && got.length > 5*time.Second {
				t.Fatalf("trace length %v, want at most 5s", got.length)
			}
		})
	}
}

func TestLatencies(t *testing.T) {
	for _, tt := range []struct {
		latency time.Duration
		want    []time.Duration
	}{
		{50 * time.Millisecond, []time.Duration{0, 50 * time.Millisecond}},
		{0, []time.Duration{0}}, // not the same round twice
	} {
		if got := (options{latency: tt.latency}).latencies(); !slices.Equal(got, tt.want) {
			t.Errorf("-latency %v: measured at %v, want %v", tt.latency, got, tt.want)
		}
	}
}

func TestShellJoin(t *testing.T) {
	if got, want := shellJoin([]string{"-duration", "5s", "-out", "", "-web-env", "A=b c"}), `-duration 5s -out '' -web-env 'A=b c'`; got != want {
		t.Fatalf("shellJoin = %s, want %s", got, want)
	}
}

func TestProcReaders(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	rss, err := procStatus(os.Getpid(), "VmRSS")
	if err != nil || rss <= 0 {
		t.Fatalf("VmRSS = %d, %v; want a positive size", rss, err)
	}
	if _, err := procStatus(os.Getpid(), "NoSuchKey"); err == nil {
		t.Fatal("procStatus found a key that does not exist")
	}
	if _, err := procCPU("self"); err != nil {
		t.Fatal(err)
	}
	p := pollRSS(os.Getpid(), time.Millisecond)
	if got := p.stop(); got <= 0 {
		t.Fatalf("polled peak RSS = %d, want > 0", got)
	}
}

func TestChildrenStopAll(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	cs := &children{}
	c, err := cs.start(t.TempDir(), "sleeper", sleep, []string{"30"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.exited(); err != nil {
		t.Fatalf("child exited at once: %v", err)
	}
	cs.stopAll()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("child still running after stopAll")
	}
	if err := c.exited(); err == nil {
		t.Fatal("exited = nil after stopAll, want the exit reported")
	}
}

// TestServerBinariesRelativeBinDir checks that a relative -bin-dir is the module root's: the
// binaries are built there (go build runs in the root), so they must be started from there too,
// whatever the load test's working directory.
func TestServerBinariesRelativeBinDir(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mailgun-sandbox", "web"} {
		if err := os.WriteFile(filepath.Join(root, "bin", name), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(t.TempDir())
	sb, web, err := serverBinaries(context.Background(), root, "bin", true, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "bin", "mailgun-sandbox"); sb != want {
		t.Errorf("sandbox binary = %q, want %q", sb, want)
	}
	if want := filepath.Join(root, "bin", "web"); web != want {
		t.Errorf("dashboard binary = %q, want %q", web, want)
	}
}

// TestHelpPointsToMixed: -help names -mixed, the soak run the README and docs/SOAK.md send
// readers to, whose flags only "-mixed -help" lists; the load test's own -help said nothing of it.
func TestHelpPointsToMixed(t *testing.T) {
	var out strings.Builder
	if _, err := parseFlags([]string{"-help"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseFlags -help = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "go run ./cmd/loadtest -mixed [flags]") || !strings.Contains(out.String(), "-mixed -help") {
		t.Errorf("-help does not point to -mixed:\n%s", out.String())
	}
}

// TestRPS pins the requests/s of the table and of the throughput line: every finished request,
// errors included, over the elapsed seconds; 0 for a run that took no time.
func TestRPS(t *testing.T) {
	tests := []struct {
		name string
		res  attackResult
		want float64
	}{
		{"per second", attackResult{Requests: 300, Elapsed: 2 * time.Second}, 150},
		{"errors are no pages", attackResult{Requests: 300, Errors: 30, Elapsed: 2 * time.Second}, 135},
		{"no time elapsed", attackResult{Requests: 5}, 0},
	}
	for _, tt := range tests {
		if got := tt.res.RPS(); got != tt.want {
			t.Errorf("%s: RPS = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestAttackCountsGzipped pins what the gzip validity line stands on: Gzipped counts exactly the
// 200 answers that came with Content-Encoding: gzip (not the plain ones, not the errors), and the
// load client adds no Accept-Encoding of its own to a request that has none.
func TestAttackCountsGzipped(t *testing.T) {
	var (
		mu                 sync.Mutex
		gzipped, encodings int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if r.Header.Get("Accept-Encoding") != "" {
			encodings++
		}
		mu.Unlock()
		switch r.URL.Path {
		case "/gz":
			mu.Lock()
			gzipped++
			mu.Unlock()
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			_, _ = zw.Write([]byte("hello"))
			_ = zw.Close()
		case "/fail":
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(http.StatusBadGateway)
		default:
			_, _ = w.Write([]byte("hello"))
		}
	}))
	defer srv.Close()
	paths := []string{"/gz", "/plain", "/fail"}
	next := func(ctx context.Context, i int64) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+paths[i%3], nil)
	}
	res, err := attack(context.Background(), newLoadClient(3), 3, 200*time.Millisecond, next)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if gzipped == 0 || res.Errors == 0 || res.Requests-res.Errors <= gzipped {
		t.Fatalf("%d requests, %d errors, %d gzipped answers: the test needs all three kinds", res.Requests, res.Errors, gzipped)
	}
	if got, want := res.Gzipped, gzipped; got != want {
		t.Errorf("Gzipped = %d, want %d (the gzipped 200 answers the server sent)", got, want)
	}
	if encodings != 0 {
		t.Errorf("%d requests carried an Accept-Encoding the target did not set", encodings)
	}
}

// TestAttackReportsBuildError pins that a request the target cannot build stops the run with that
// error, not with a bare cancellation.
func TestAttackReportsBuildError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	errBuild := errors.New("no such page")
	next := func(ctx context.Context, i int64) (*http.Request, error) {
		if i == 3 {
			return nil, errBuild
		}
		return http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	}
	if _, err := attack(context.Background(), newLoadClient(2), 2, time.Hour, next); !errors.Is(err, errBuild) {
		t.Fatalf("attack = %v, want the build error", err)
	}
}

// TestTargets pins the URLs each scenario asks for: the cold runs walk every full page of the
// generated domains once, past the hot pages, in one sequence shared by the compressed and the
// uncompressed run; the direct list and the floor proxy ask for the same pages (same skip and
// limit) in sequences of their own; the hot run stays on the hot pages.
func TestTargets(t *testing.T) {
	lt := &loadTest{o: options{hotPages: 2, gzip: true}, perPage: 50, pages: 3, domains: []string{"big1.example", "big2.example"},
		sbURL: "http://sb", webURL: "http://web", flURL: "http://floor", sbAuth: "Basic c2I6a2V5", cookie: "session=s"}
	reqs := func(sc string, n int) []*http.Request {
		t.Helper()
		next := lt.target(sc)
		var out []*http.Request
		for i := range n {
			req, err := next(context.Background(), int64(i))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, req)
		}
		return out
	}
	wantURLs := func(sc string, got []*http.Request, want ...string) {
		t.Helper()
		for i, req := range got {
			if req.URL.String() != want[i] {
				t.Errorf("%s request %d: %s, want %s", sc, i, req.URL, want[i])
			}
		}
	}
	// Pages 1 and 2 of big1 are the hot ones; the 4 pages after them are the cold walk.
	cold := reqs(scCold, 5)
	wantURLs(scCold, cold, "http://web/d/big1.example?page=3&per_page=50", "http://web/d/big2.example?page=1&per_page=50",
		"http://web/d/big2.example?page=2&per_page=50", "http://web/d/big2.example?page=3&per_page=50",
		"http://web/d/big1.example?page=3&per_page=50")
	plain := reqs(scColdPlain, 1)
	wantURLs(scColdPlain, plain, "http://web/d/big2.example?page=1&per_page=50")
	wantURLs(scDirect, reqs(scDirect, 5), "http://sb/v3/domains/big1.example/credentials?skip=100&limit=50",
		"http://sb/v3/domains/big2.example/credentials?skip=0&limit=50", "http://sb/v3/domains/big2.example/credentials?skip=50&limit=50",
		"http://sb/v3/domains/big2.example/credentials?skip=100&limit=50", "http://sb/v3/domains/big1.example/credentials?skip=100&limit=50")
	wantURLs(scFloor, reqs(scFloor, 2), "http://floor/d/big1.example?page=3&per_page=50", "http://floor/d/big2.example?page=1&per_page=50")
	wantURLs(scHot, reqs(scHot, 3), "http://web/d/big1.example?page=1&per_page=50", "http://web/d/big1.example?page=2&per_page=50",
		"http://web/d/big1.example?page=1&per_page=50")

	if got, want := cold[0].Header.Get("Accept-Encoding"), "gzip"; got != want {
		t.Errorf("cold run: Accept-Encoding %q, want %q", got, want)
	}
	if got, want := plain[0].Header.Get("Accept-Encoding"), "identity"; got != want {
		t.Errorf("uncompressed run: Accept-Encoding %q, want %q", got, want)
	}
	if got := cold[0].Header.Get("Cookie"); got != lt.cookie {
		t.Errorf("cold run: Cookie %q, want the session's", got)
	}
	if got := reqs(scDirect, 1)[0].Header.Get("Authorization"); got != lt.sbAuth {
		t.Errorf("direct run: Authorization %q, want the sandbox's", got)
	}
}

// TestColdLinesAtTheBounds pins the bounds of the p50, p99 and throughput lines: a page exactly
// 1 ms (p50) or 5 ms (p99) slower than the direct list, or at exactly 25 % of its rate, is within
// the budget, and a little more is not. The uncompressed pages' and the floor proxy's lines are
// not judged, name what they compare and say in words whether they are within the bound.
func TestColdLinesAtTheBounds(t *testing.T) {
	const lat = 50 * time.Millisecond
	o := options{latency: lat, concurrency: 50, perPage: 100}
	tests := []struct {
		name     string
		p50, p99 time.Duration
		rate     int // requests in a second at 0 ms, against the direct list's 1,000
		want     [3]bool
	}{
		{"at the bounds", 51 * time.Millisecond, 55 * time.Millisecond, 250, [3]bool{true, true, true}},
		{"p50 over", 51*time.Millisecond + time.Microsecond, 55 * time.Millisecond, 250, [3]bool{false, true, true}},
		{"p99 over", 51 * time.Millisecond, 55*time.Millisecond + time.Microsecond, 250, [3]bool{true, false, true}},
		{"throughput under", 51 * time.Millisecond, 55 * time.Millisecond, 249, [3]bool{true, true, false}},
	}
	for _, tt := range tests {
		for _, sc := range []string{scCold, scColdPlain, scFloor} {
			t.Run(tt.name+"/"+sc, func(t *testing.T) {
				rows := []measurement{
					twoLevel(scDirect, lat, 1000, 50*time.Millisecond, 50*time.Millisecond),
					twoLevel(sc, lat, 1000, tt.p50, tt.p99),
					twoLevel(scDirect, 0, 1000, time.Millisecond, time.Millisecond),
					twoLevel(sc, 0, tt.rate, time.Millisecond, time.Millisecond),
				}
				lines := coldLines(rows, sc, o, "cond")
				if len(lines) != 3 {
					t.Fatalf("%d lines, want p50, p99 and throughput", len(lines))
				}
				subject := map[bool]string{true: "proxy", false: "dashboard"}[sc == scFloor]
				for i, l := range lines {
					if l.Pass != tt.want[i] {
						t.Errorf("%q: Pass = %v, want %v (%s)", l.Text, l.Pass, tt.want[i], l.Measured)
					}
					if !strings.Contains(l.Text, subject+" ≤ direct") && !strings.Contains(l.Text, subject+" ≥ 25% of direct") {
						t.Errorf("%q: want it to compare the %s with the direct list", l.Text, subject)
					}
					if got, want := l.Info, sc != scCold; got != want {
						t.Errorf("%q: Info = %v, want %v", l.Text, got, want)
					}
					words := map[bool]string{true: ", within the bound", false: ", outside the bound"}[tt.want[i]]
					if got := strings.HasSuffix(l.Measured, words); got != (sc != scCold) {
						t.Errorf("%q: Measured = %q; want %q at its end only for the lines not judged", l.Text, l.Measured, words)
					}
				}
			})
		}
	}
}

// TestColdLinesGapSign checks the latency lines' measured text: a page slower than the direct
// list shows its gap with a plus sign, and one faster (the floor proxy or an uncompressed page
// on a noisy run) with a minus sign alone, not "+-1ms".
func TestColdLinesGapSign(t *testing.T) {
	const lat = 50 * time.Millisecond
	tests := []struct {
		name           string
		p50, p99       time.Duration
		want50, want99 string
	}{
		{"slower", 53 * time.Millisecond, 62500 * time.Microsecond, "53ms vs 52ms (+1ms)", "62.5ms vs 60ms (+2.5ms)"},
		{"faster", 51 * time.Millisecond, 59 * time.Millisecond, "51ms vs 52ms (-1ms)", "59ms vs 60ms (-1ms)"},
		{"the same", 52 * time.Millisecond, 60 * time.Millisecond, "52ms vs 52ms (+0s)", "60ms vs 60ms (+0s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := []measurement{
				twoLevel(scDirect, lat, 1000, 52*time.Millisecond, 60*time.Millisecond),
				twoLevel(scFloor, lat, 1000, tt.p50, tt.p99),
			}
			lines := coldLines(rows, scFloor, options{latency: lat, concurrency: 50, perPage: 100}, "cond")
			if len(lines) != 2 {
				t.Fatalf("%d lines, want p50 and p99", len(lines))
			}
			for i, want := range []string{tt.want50, tt.want99} {
				if got := strings.TrimSuffix(strings.TrimSuffix(lines[i].Measured, ", within the bound"), ", outside the bound"); got != want {
					t.Errorf("%q: Measured = %q, want %q", lines[i].Text, got, want)
				}
			}
		})
	}
}

// twoLevel builds a measurement of n requests in one second, the first half taking p50 and the
// rest p99, so that its nearest-rank p50 and p99 are exactly those.
func twoLevel(sc string, lat time.Duration, n int, p50, p99 time.Duration) measurement {
	r := attackResult{Requests: n, Elapsed: time.Second}
	for i := range n {
		r.Latencies = append(r.Latencies, map[bool]time.Duration{true: p50, false: p99}[i < n/2])
	}
	return measurement{Scenario: sc, Latency: lat, Res: r}
}

// TestBudgetConditionNote pins that the p50 and p99 lines say when the run's latency or
// concurrency is not the one the budget is stated for.
func TestBudgetConditionNote(t *testing.T) {
	const note = "(the budget is stated for 50ms and 50 users)"
	for _, tt := range []struct {
		latency     time.Duration
		concurrency int
		want        bool
	}{
		{50 * time.Millisecond, 50, false},
		{20 * time.Millisecond, 50, true},
		{50 * time.Millisecond, 10, true},
	} {
		o := options{latency: tt.latency, concurrency: tt.concurrency, perPage: 100, gzip: true}
		rows := []measurement{row(scDirect, tt.latency, 100, 100*time.Millisecond, 0, 0), row(scCold, tt.latency, 100, 100*time.Millisecond, 0, 100)}
		l, ok := findLine(checkBudget(rows, 50*MiB, o), "p50: ")
		if !ok {
			t.Fatalf("%v, %d users: no p50 line", tt.latency, tt.concurrency)
		}
		if got := strings.Contains(l.Text, note); got != tt.want {
			t.Errorf("%v, %d users: %q; want the note %v", tt.latency, tt.concurrency, l.Text, tt.want)
		}
	}
}

// findLine returns the first budget line whose text contains s.
func findLine(lines []budgetLine, s string) (budgetLine, bool) {
	for _, l := range lines {
		if strings.Contains(l.Text, s) {
			return l, true
		}
	}
	return budgetLine{}, false
}

// TestCheckBudgetWithoutRequests pins that a run that measured nothing does not pass the error
// line or the gzip validity line on an empty count.
func TestCheckBudgetWithoutRequests(t *testing.T) {
	lines := checkBudget(nil, 50*MiB, options{latency: 50 * time.Millisecond, concurrency: 50, perPage: 100, gzip: true})
	for _, text := range []string{"0 errors", "came gzipped"} {
		if l, ok := findLine(lines, text); !ok || l.Pass || l.Info {
			t.Errorf("line %q = %+v (found %v), want a judged miss", text, l, ok)
		}
	}
}

// TestGzipValidityLine pins the gzip validity line: absent with -gzip=false (the pages are then
// asked for uncompressed), passing when the dashboard's metric is unavailable (-1 is "unknown",
// not a count) and saying how many went out uncompressed when the metric is known.
func TestGzipValidityLine(t *testing.T) {
	rows := func(uncompressed float64, gzipped bool) []measurement {
		rs := []measurement{
			row(scCold, 0, 300, 40*time.Millisecond, 0, 300),
			row(scHot, 0, 500, 40*time.Millisecond, 0, 4),
			row(scColdPlain, 0, 350, 40*time.Millisecond, 0, 350),
		}
		for i := range rs {
			rs[i].Uncompressed = uncompressed
			if !gzipped {
				rs[i].Res.Gzipped = 0
			}
		}
		return rs
	}
	o := options{latency: 50 * time.Millisecond, concurrency: 50, perPage: 100, gzip: true}
	if l, ok := findLine(checkBudget(rows(-1, true), 50*MiB, o), "came gzipped"); !ok || !l.Pass || l.Measured != "800 of 800" {
		t.Errorf("metric unavailable: %+v (found %v), want a pass measured as %q", l, ok, "800 of 800")
	}
	want := "800 of 800; 0 sent uncompressed for want of a gzip writer (smtpdesk_http_uncompressed_busy_total)"
	if l, ok := findLine(checkBudget(rows(0, true), 50*MiB, o), "came gzipped"); !ok || !l.Pass || l.Measured != want {
		t.Errorf("metric at 0: %+v (found %v), want a pass measured as %q", l, ok, want)
	}
	o.gzip = false
	if l, ok := findLine(checkBudget(rows(0, false), 50*MiB, o), "came gzipped"); ok {
		t.Errorf("-gzip=false: %+v, want no gzip line", l)
	}
}

// TestCoalescingLine pins the hot runs' line: upstream list calls per 1,000 page views, with the
// calls and views behind it, and the dashboard's own count when its /metrics was read (0 is a
// count; -1 is unavailable).
func TestCoalescingLine(t *testing.T) {
	o := options{latency: 50 * time.Millisecond, concurrency: 50, perPage: 100, hotPages: 4, gzip: true}
	hot := row(scHot, 50*time.Millisecond, 500, 40*time.Millisecond, 0, 4)
	base := "8.0 upstream list calls per 1,000 page views (4 calls for 500 views)"
	for _, tt := range []struct {
		metrics float64
		want    string
	}{
		{0, base + "; the dashboard's /metrics counted 0 Mailgun calls"},
		{-1, base},
	} {
		hot.MetricsCalls = tt.metrics
		l, ok := findLine(checkBudget([]measurement{hot}, 50*MiB, o), "coalescing + page cache at 50ms: 50 users on 4 pages")
		if !ok || !l.Info || l.Measured != tt.want {
			t.Errorf("metrics %v: %+v (found %v), want a reported line measured as %q", tt.metrics, l, ok, tt.want)
		}
	}
}

// TestMeanOf pins the dashboard's own mean durations from its histogram sums and counts: 0 (shown
// as "-") without a count.
func TestMeanOf(t *testing.T) {
	for _, tt := range []struct {
		sum, n float64
		want   time.Duration
	}{
		{3, 2, 1500 * time.Millisecond},
		{0.007, 2, 3500 * time.Microsecond},
		{1, 0, 0},
	} {
		if got := meanOf(tt.sum, tt.n); got != tt.want {
			t.Errorf("meanOf(%v, %v) = %v, want %v", tt.sum, tt.n, got, tt.want)
		}
	}
}

// TestMarkdownTable pins the report's rows and verdicts cell by cell: requests/s, p50, p90, p99
// and max (µs below 10 ms, 0.1 ms above), KiB per answer, upstream calls per 1,000 views ("-" for
// the direct list and for a run without requests), the dashboard's own means, CPU cores per
// process, RSS only for the dashboard's rows; INFO for every line not judged, passing or not;
// an error note only for the rows with errors; no load or page-size line without the readings.
func TestMarkdownTable(t *testing.T) {
	direct := measurement{Scenario: scDirect, UpstreamLists: 20, DashRSSPeak: 50 * MiB, SbCPU: 2 * time.Second, GenCPU: time.Second,
		Res: attackResult{Requests: 20, Elapsed: 4 * time.Second, Bytes: 20 * 10240}}
	for range 10 {
		direct.Res.Latencies = append(direct.Res.Latencies, 1234567*time.Nanosecond)
	}
	for range 7 {
		direct.Res.Latencies = append(direct.Res.Latencies, 5*time.Millisecond)
	}
	direct.Res.Latencies = append(direct.Res.Latencies, 12345670*time.Nanosecond, 15*time.Millisecond, 20500*time.Microsecond)
	cold := measurement{Scenario: scCold, Latency: 50 * time.Millisecond, UpstreamLists: 10, DashRSSPeak: 64 * MiB,
		ServerMean: 3500 * time.Microsecond, MailgunMean: 2250 * time.Microsecond,
		DashCPU: time.Second, SbCPU: 500 * time.Millisecond, GenCPU: 200 * time.Millisecond,
		Res: attackResult{Requests: 10, Errors: 2, Elapsed: 2 * time.Second, Bytes: 10 * 2048,
			ErrorKind: map[string]int{"status 502": 2}, FirstErr: "GET /d/big1.example: status 502",
			Latencies: durations(55, 55, 55, 55, 55, 55, 55, 55, 70, 70)}}
	plain := measurement{Scenario: scColdPlain, Latency: 50 * time.Millisecond, DashRSSPeak: 40 * MiB, Res: attackResult{Elapsed: time.Second}}
	r := report{
		Opts: options{perPage: 100, concurrency: 50, duration: 15 * time.Second, warmup: 2 * time.Second, bigDomains: 10, bigSize: 100000, gzip: true},
		Rows: []measurement{direct, cold, plain},
		Budget: []budgetLine{
			{Text: "judged, met", Measured: "m1", Pass: true},
			{Text: "judged, missed", Measured: "m2"},
			{Text: "reported, within", Measured: "m3", Pass: true, Info: true},
			{Text: "reported, outside", Measured: "m4", Info: true},
		},
	}
	md := r.markdown()
	for _, want := range []string{
		"| 0s | direct: sandbox list | 20 | 5 | 1.235ms | 12.3ms | 20.5ms | 20.5ms | 0 | 10.0 | - | - | 0.00 / 0.50 / 0.25 | - |\n",
		"| 50ms | dashboard: domain page, every request a different page | 10 | 4 | 55ms | 70ms | 70ms | 70ms | 2 | 2.0 | 1000 | 3.5ms / 2.25ms | 0.50 / 0.25 / 0.10 | 64.0 MiB |\n",
		"| 50ms | dashboard: the same, pages uncompressed | 0 | 0 | 0s | 0s | 0s | 0s | 0 | 0.0 | - | - | 0.00 / 0.00 / 0.00 | 40.0 MiB |\n",
		"| PASS | judged, met | m1 |\n", "| MISS | judged, missed | m2 |\n", "| INFO | reported, within | m3 |\n", "| INFO | reported, outside | m4 |\n",
		"\nErrors in \"dashboard: domain page, every request a different page\" at 50ms: map[status 502:2]; first: `GET /d/big1.example: status 502`\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if got := strings.Count(md, "\nErrors in "); got != 1 {
		t.Errorf("%d error notes, want 1 (only the row with errors)", got)
	}
	for _, absent := range []string{"Load average", "KiB of HTML before compression"} {
		if strings.Contains(md, absent) {
			t.Errorf("markdown has %q without the reading", absent)
		}
	}
	r.LoadStart, r.LoadEnd, r.PageBytes = "0.50 0.40 0.30", "1.50 1.40 1.30", 80*1024
	md = r.markdown()
	wantContains(t, md, "- Load average (1, 5, 15 min) before the measurements: 0.50 0.40 0.30; after: 1.50 1.40 1.30.",
		"- One 100-row dashboard page is 80.0 KiB of HTML before compression")
}

// TestProcStatusFile pins the reading of "Key: value kB" lines of /proc files: kB is 1024 bytes,
// a value without a unit is taken as it is, the key must match whole, and a value that is not a
// number is an error rather than 0.
func TestProcStatusFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(path, []byte("Name:\tweb\nVmHWMish:\t1 kB\nVmHWM:\t  123 kB\nThreads:\t7\nVmBad:\tmany kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key     string
		want    int64
		wantErr bool
	}{
		{"VmHWM", 123 * 1024, false},
		{"Threads", 7, false},
		{"VmBad", 0, true},
		{"VmSwap", 0, true},
	} {
		got, err := procStatusFile(path, tt.key)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("procStatusFile(%s) = %d, %v; want %d, error %v", tt.key, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestProcCPUFields pins which fields of /proc/<pid>/stat make the CPU time: utime and stime
// (fields 14 and 15), counted after the last ")" since the command name may hold ") " itself, in
// USER_HZ ticks of 10 ms; a short line or a field that is not a number is an error.
func TestProcCPUFields(t *testing.T) {
	stat := filepath.Join(t.TempDir(), "stat")
	for _, tt := range []struct {
		name, stat string
		want       time.Duration
		wantErr    bool
	}{
		{"utime and stime", "4242 (web) (x) S 1 2 3 4 5 6 7 8 9 10 250 50 11 12 20 0 1 0\n", 3 * time.Second, false},
		{"too few fields", "4242 (web) S 1 2 3 4 5 6 7 8 9 10 250\n", 0, true},
		{"stime not a number", "4242 (web) S 1 2 3 4 5 6 7 8 9 10 250 x 11 12 20 0 1 0\n", 0, true},
		{"no command name", "4242 web S 1 2 3\n", 0, true},
	} {
		if err := os.WriteFile(stat, []byte(tt.stat), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := procCPUFile(stat)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: procCPUFile = %v, %v; want %v, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}
