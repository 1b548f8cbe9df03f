package main

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// scenario names.
const (
	scDirect = "direct: sandbox list"
	scCold   = "dashboard: domain page, every request a different page"
	// scColdPlain is scCold with the pages sent uncompressed (Accept-Encoding: identity), as the
	// direct list's JSON is; measured only when scCold is compressed.
	scColdPlain = "dashboard: the same, pages uncompressed"
	scHot       = "dashboard: domain page, all users on the same few pages"
	// scFloor is the pass-through proxy of floor.go on the cold pages' URLs: not SMTP Desk, the
	// floor under the dashboard's rows.
	scFloor = "floor: a pass-through proxy making the same call, nothing else"
)

// coldScenario is what the report calls a scenario whose every request is on a different page
// (so each one goes upstream): its validity line's run, its part of the latency-gap line, and,
// for those reported but not judged, the prefix of its budget lines.
type coldScenario struct{ run, gap, infoPrefix string }

// coldScenarios are the scenarios with every request on a different page.
var coldScenarios = map[string]coldScenario{
	scCold:      {run: "cold run", gap: "dashboard page"},
	scColdPlain: {run: "uncompressed cold run", gap: "uncompressed page", infoPrefix: "uncompressed pages (not judged): "},
	scFloor:     {run: "floor proxy's run", gap: "floor proxy", infoPrefix: "floor, a pass-through proxy (not SMTP Desk, not judged): "},
}

// isCold says whether every request of scenario sc is on a different page.
func isCold(sc string) bool { _, ok := coldScenarios[sc]; return ok }

// servedByDashboard says whether the dashboard answers scenario sc (not the sandbox directly,
// not the floor proxy).
func servedByDashboard(sc string) bool { return sc == scCold || sc == scColdPlain || sc == scHot }

// measurement is one row of the table.
type measurement struct {
	Scenario string
	Latency  time.Duration // injected upstream latency
	Res      attackResult
	// WarmupRequests and WarmupErrors are the warm-up's, before the measurement: its errors
	// count in the "0 errors" line as the measurement's do.
	WarmupRequests, WarmupErrors int

	UpstreamLists  int64         // list calls the sandbox saw during the measurement
	MetricsCalls   float64       // Mailgun calls the dashboard's /metrics counted, -1 when unavailable
	Uncompressed   float64       // answers the dashboard sent uncompressed for want of a gzip writer, -1 when unknown
	ServerMean     time.Duration // mean request duration the dashboard measured itself (0 = unknown)
	MailgunMean    time.Duration // mean Mailgun call duration the dashboard measured (0 = unknown)
	DistinctPages  int64         // distinct pages the run could visit (0 = no limit)
	DashCPU, SbCPU time.Duration
	GenCPU         time.Duration
	DashRSSPeak    int64 // bytes, polled VmRSS during the measurement
}

// recording is what the load test records of the dashboard during one measurement.
type recording struct {
	kind   string // the pprof endpoint: "profile" or "trace"
	path   string // the file it goes to; "" records nothing
	length time.Duration
	what   string // for the log line
}

// recording says what to record during the measurement of scenario sc at upstream latency lat:
// -cpuprofile's CPU profile in the cold run at -cpuprofile-at, -trace's execution trace in the
// cold run at -latency, or nothing.
func (o options) recording(sc string, lat time.Duration) recording {
	switch {
	case sc != scCold:
	case o.cpuProfile != "" && lat == o.cpuProfAt:
		return recording{"profile", o.cpuProfile, o.duration - time.Second, "CPU profile (go tool pprof -top FILE)"}
	case o.trace != "" && lat == o.latency && lat > 0:
		return recording{"trace", o.trace, min(o.duration-time.Second, 5*time.Second), "execution trace (go tool trace FILE)"}
	}
	return recording{}
}

// latencies are the upstream latencies measured at: 0 ms, then -latency unless it is 0 too (a
// second round at 0 ms would repeat every row of the first in the report, and take as long).
func (o options) latencies() []time.Duration {
	if o.latency == 0 {
		return []time.Duration{0}
	}
	return []time.Duration{0, o.latency}
}

// measureAll runs the measurements: direct, cold dashboard (compressed and, with -gzip, also
// uncompressed) and hot dashboard, at 0 ms and at -latency.
func (lt *loadTest) measureAll(ctx context.Context) ([]measurement, error) {
	var out []measurement
	lt.loadStart = loadAvg()
	if f := strings.Fields(lt.loadStart); len(f) > 0 {
		if l1, err := strconv.ParseFloat(f[0], 64); err == nil && l1 > float64(runtime.NumCPU()) {
			lt.logf("warning: the machine is busy (load average %s on %d cores); the numbers will be noisy", lt.loadStart, runtime.NumCPU())
		}
	}
	for _, lat := range lt.o.latencies() {
		if err := lt.setLatency(ctx, lat); err != nil {
			return out, err
		}
		scenarios := []string{scDirect}
		if lt.o.floor {
			scenarios = append(scenarios, scFloor)
		}
		scenarios = append(scenarios, scCold)
		if lt.o.gzip {
			scenarios = append(scenarios, scColdPlain)
		}
		scenarios = append(scenarios, scHot)
		for _, sc := range scenarios {
			m, err := lt.measure(ctx, sc, lat)
			if err != nil {
				return out, err
			}
			lt.logf("%-55s %4v  %8.0f req/s  p50 %-9v p99 %-9v errors %d  upstream/1000 %s",
				sc, lat, m.Res.RPS(), round(m.Res.Quantile(.5)), round(m.Res.Quantile(.99)), m.Res.Errors, perThousand(m))
			out = append(out, m)
		}
	}
	return out, nil
}

// target returns the request builder for a scenario.
func (lt *loadTest) target(sc string) target {
	pp := strconv.Itoa(lt.perPage)
	hot := int64(lt.o.hotPages)
	// Cold pages skip the hot ones (the first pages of the first domain).
	total := int64(len(lt.domains))*lt.pages - hot
	page := func(j int64) (string, int64) {
		k := hot + j%total
		return lt.domains[k/lt.pages], k%lt.pages + 1
	}
	switch sc {
	case scDirect:
		return func(ctx context.Context, _ int64) (*http.Request, error) {
			d, p := page(lt.directSq.Add(1) - 1)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet,
				lt.sbURL+"/v3/domains/"+d+"/credentials?skip="+strconv.FormatInt((p-1)*int64(lt.perPage), 10)+"&limit="+pp, nil)
			if err != nil {
				return nil, fmt.Errorf("request: %w", err)
			}
			req.Header.Set("Authorization", lt.sbAuth)
			req.Header.Set("User-Agent", "smtpdesk-loadtest")
			return req, nil
		}
	case scFloor:
		return func(ctx context.Context, _ int64) (*http.Request, error) {
			d, p := page(lt.floorSeq.Add(1) - 1)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet,
				lt.flURL+"/d/"+d+"?page="+strconv.FormatInt(p, 10)+"&per_page="+pp, nil)
			if err != nil {
				return nil, fmt.Errorf("request: %w", err)
			}
			req.Header.Set("User-Agent", "smtpdesk-loadtest")
			return req, nil
		}
	case scCold, scColdPlain:
		return func(ctx context.Context, _ int64) (*http.Request, error) {
			d, p := page(lt.coldSeq.Add(1) - 1)
			req, err := lt.dashRequest(ctx, "/d/"+d+"?page="+strconv.FormatInt(p, 10)+"&per_page="+pp)
			if err == nil && sc == scColdPlain {
				req.Header.Set("Accept-Encoding", "identity")
			}
			return req, err
		}
	default:
		return func(ctx context.Context, i int64) (*http.Request, error) {
			return lt.dashRequest(ctx, "/d/"+lt.domains[0]+"?page="+strconv.FormatInt(i%hot+1, 10)+"&per_page="+pp)
		}
	}
}

// measure warms up, then measures one scenario, with the counters around it.
func (lt *loadTest) measure(ctx context.Context, sc string, lat time.Duration) (measurement, error) {
	m := measurement{Scenario: sc, Latency: lat, MetricsCalls: -1, Uncompressed: -1}
	server := lt.web // the process the scenario measures beside the sandbox
	if sc == scFloor {
		server = lt.floor
	}
	for _, c := range []*child{lt.sb, server} {
		if err := c.exited(); err != nil {
			return m, err
		}
	}
	client := newLoadClient(lt.o.concurrency)
	defer client.CloseIdleConnections()
	next := lt.target(sc)
	if lt.o.warmup > 0 {
		// The hot scenario warms up on cold pages, so that its measurement starts with the
		// hot pages uncached and shows how the first burst of identical requests coalesces.
		warm := next
		if sc == scHot {
			warm = lt.target(scCold)
		}
		w, err := attack(ctx, client, lt.o.concurrency, lt.o.warmup, warm)
		if err != nil {
			return m, fmt.Errorf("%s: warm-up: %w", sc, err)
		}
		m.WarmupRequests, m.WarmupErrors = w.Requests, w.Errors
		if w.Errors > 0 {
			fmt.Fprintf(lt.out, "  %s: %d of the warm-up's %d requests failed (first: %s)\n", sc, w.Errors, w.Requests, w.FirstErr)
		}
	}

	before, err := lt.sandboxStats(ctx)
	if err != nil {
		return m, err
	}
	mBefore, mOK := lt.scrapeMetrics(ctx)
	cpu0 := lt.cpu(server)
	rss := pollRSS(server.cmd.Process.Pid, 100*time.Millisecond)
	var profDone chan error
	rec := lt.o.recording(sc, lat)
	if rec.path != "" {
		profDone = make(chan error, 1)
		go func() { profDone <- lt.profile(ctx, rec.kind, rec.length, rec.path) }()
	}
	m.Res, err = attack(ctx, client, lt.o.concurrency, lt.o.duration, next)
	m.DashRSSPeak = rss.stop()
	if profDone != nil {
		if perr := <-profDone; perr != nil {
			lt.logf("warning: %v", perr)
		} else {
			lt.logf("the dashboard's %s of this run is in %s", rec.what, rec.path)
		}
	}
	if err != nil {
		return m, fmt.Errorf("%s: %w", sc, err)
	}
	cpu1 := lt.cpu(server)
	after, err := lt.sandboxStats(ctx)
	if err != nil {
		return m, err
	}
	m.UpstreamLists = after.ListRequests - before.ListRequests
	if mAfter, ok := lt.scrapeMetrics(ctx); ok && mOK && servedByDashboard(sc) {
		m.MetricsCalls = mAfter.MailgunCalls - mBefore.MailgunCalls
		m.Uncompressed = mAfter.Uncompressed - mBefore.Uncompressed
		m.ServerMean = meanOf(mAfter.RequestSec-mBefore.RequestSec, mAfter.RequestsN-mBefore.RequestsN)
		m.MailgunMean = meanOf(mAfter.MailgunSec-mBefore.MailgunSec, mAfter.MailgunN-mBefore.MailgunN)
	}
	m.DashCPU, m.SbCPU, m.GenCPU = cpu1[0]-cpu0[0], cpu1[1]-cpu0[1], cpu1[2]-cpu0[2]
	switch {
	case isCold(sc):
		m.DistinctPages = int64(len(lt.domains))*lt.pages - int64(lt.o.hotPages)
	case sc == scHot:
		m.DistinctPages = int64(lt.o.hotPages)
	}
	if m.Res.Errors > 0 {
		lt.logf("%s: %d errors, first: %s", sc, m.Res.Errors, m.Res.FirstErr)
	}
	return m, nil
}

// cpu returns the CPU time used so far by server (the dashboard or the floor proxy), the
// sandbox and the load test.
func (lt *loadTest) cpu(server *child) [3]time.Duration {
	var out [3]time.Duration
	for i, pid := range []string{strconv.Itoa(server.cmd.Process.Pid), strconv.Itoa(lt.sb.cmd.Process.Pid), "self"} {
		out[i], _ = procCPU(pid)
	}
	return out
}

// meanOf returns sum/n seconds as a duration, 0 when n is 0.
func meanOf(sum, n float64) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(sum / n * float64(time.Second))
}

// round keeps latencies readable: µs precision below 10 ms, 0.1 ms above.
func round(d time.Duration) time.Duration {
	return d.Round(shownUnit(d))
}

// shownUnit is the unit a latency is shown in: µs below 10 ms, 0.1 ms above.
func shownUnit(d time.Duration) time.Duration {
	if d < 10*time.Millisecond {
		return time.Microsecond
	}
	return 100 * time.Microsecond
}

// gap is how much slower (+) or faster (-) a latency is than the one it is compared with. A
// positive gap is rounded up, as a bound it is judged against ("≤ direct + 1 ms") would read a gap
// just over it rounded down as met.
func gap(d time.Duration) string {
	if d < 0 {
		return round(d).String()
	}
	unit := shownUnit(d)
	if r := d.Truncate(unit); r != d {
		d = r + unit
	}
	return "+" + d.String()
}

// perThousand is the upstream list calls per 1,000 requests, "-" for the direct rows.
func perThousand(m measurement) string {
	if m.Scenario == scDirect || m.Res.Requests == 0 {
		return "-"
	}
	pm := 1000 * float64(m.UpstreamLists) / float64(m.Res.Requests)
	if pm < 10 {
		// The coalescing rows: a whole number would read 0 for 8 calls in 46,000 views.
		return fmt.Sprintf("%.2g", pm)
	}
	return fmt.Sprintf("%.0f", pm)
}
