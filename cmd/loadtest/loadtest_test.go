package main

import (
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
	if got, want := len(res.Latencies), res.Requests; got != want {
		t.Fatalf("latencies = %d, want one per request (%d)", got, want)
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
