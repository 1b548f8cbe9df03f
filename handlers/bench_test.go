package handlers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// The benchmarks below drive the whole list request path the way a browser does: an admin signed
// in through the real OIDC flow asks for a domain page over loopback HTTP; echo runs the real
// middleware (request id, security headers, gzip, access log, session lookup in SQLite, CSRF),
// the handler checks the policy, calls the sandbox Mailgun over loopback HTTP through the real
// client, and renders the page. Run them with:
//
//	go test -run '^$' -bench . -benchmem ./handlers

// benchDomain is a domain big enough that every page of a benchmark run is a different one.
const (
	benchDomain  = "bench.example"
	benchLogins  = 10000
	benchPerPage = 100
)

// benchEnv is the app with a 10,000-login domain, an admin session and a keep-alive client
// that sends what a browser sends (Accept-Encoding: gzip) and does not decompress.
type benchEnv struct {
	*env
	http   *http.Client
	cookie string
}

func newBenchEnv(b *testing.B, set handlers.Settings) *benchEnv {
	b.Helper()
	e := newEnv(b, envOptions{Settings: set})
	if err := e.SB.AddDomain(benchDomain); err != nil {
		b.Fatal(err)
	}
	if err := e.SB.AddGeneratedLogins(benchDomain, benchLogins); err != nil {
		b.Fatal(err)
	}
	c := e.signIn(b, "admin")
	var parts []string
	for _, ck := range c.Cookies() {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	be := &benchEnv{env: e, http: &http.Client{Transport: tr}, cookie: strings.Join(parts, "; ")}
	// One page first: it proves the session works and warms the domain picker's cache. A
	// 100-row page is about 10 kB gzipped; the sign-in page would be far smaller.
	if n := be.get(b, fmt.Sprintf("/d/%s?page=1&per_page=%d", benchDomain, benchPerPage)); n < 5000 {
		b.Fatalf("first page is only %d bytes", n)
	}
	return be
}

// get fetches path as the signed-in admin, fails on anything but 200, and returns the bytes
// received (gzipped).
func (be *benchEnv) get(b *testing.B, path string) int64 {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, be.URL+path, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Cookie", be.cookie)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := be.http.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: status %d", path, resp.StatusCode)
	}
	return n
}

// cpuTime is the process's user+system CPU time so far. The machine the benchmarks run on is
// shared, so wall time per op is noisy; CPU time per op (client, dashboard and sandbox together,
// all in this process) is the steadier measure of the work done.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per op since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N)/1e3, "cpu-µs/op")
}

// listCalls counts the sandbox's list calls so far.
func (be *benchEnv) listCalls() int {
	return len(be.callsTo("list", ""))
}

// BenchmarkListPage is the domain page at 100 rows through the whole stack.
//
//   - distinct: every request is a different page and the page cache has expired (the clock
//     moves past its TTL each time), so each view makes its own Mailgun call: the budget case.
//   - cached: the same page again and again within the cache's TTL: no Mailgun call.
//
// The parallel variants run GOMAXPROCS×4 clients at once, like the load test.
func BenchmarkListPage(b *testing.B) {
	set := handlers.Settings{ListCacheTTL: time.Second, CountCacheTTL: 24 * time.Hour}
	pages := benchLogins / benchPerPage
	for _, tc := range []struct {
		name     string
		distinct bool
		parallel bool
	}{
		{"distinct", true, false},
		{"cached", false, false},
		{"distinct-parallel", true, true},
		{"cached-parallel", false, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			be := newBenchEnv(b, set)
			var i atomic.Int64
			next := func() string {
				p := 1
				if tc.distinct {
					// Past the page TTL, so nothing is reused, and a different page each time.
					be.Clock.Add(set.ListCacheTTL + time.Millisecond)
					p = int(i.Add(1))%pages + 1
				}
				return fmt.Sprintf("/d/%s?page=%d&per_page=%d", benchDomain, p, benchPerPage)
			}
			var bytes atomic.Int64
			be.SB.ResetCalls()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			if tc.parallel {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						bytes.Add(be.get(b, next()))
					}
				})
			} else {
				for b.Loop() {
					bytes.Add(be.get(b, next()))
				}
			}
			b.StopTimer()
			reportCPU(b, cpu0)
			b.ReportMetric(float64(be.listCalls())/float64(b.N), "upstream-calls/op")
			b.ReportMetric(float64(bytes.Load())/float64(b.N), "resp-bytes/op")
		})
	}
}

// BenchmarkSandboxList is the reference for BenchmarkListPage: the sandbox's own list endpoint at
// 100 rows, over loopback HTTP with the same kind of client, on distinct pages.
func BenchmarkSandboxList(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		name := "serial"
		if parallel {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, envOptions{})
			if err := e.SB.AddDomain(benchDomain); err != nil {
				b.Fatal(err)
			}
			if err := e.SB.AddGeneratedLogins(benchDomain, benchLogins); err != nil {
				b.Fatal(err)
			}
			srv := newLoopbackServer(b, e.SB)
			tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
			b.Cleanup(tr.CloseIdleConnections)
			hc := &http.Client{Transport: tr}
			pages := benchLogins / benchPerPage
			var i atomic.Int64
			get := func() {
				skip := (int(i.Add(1)) % pages) * benchPerPage
				req, err := http.NewRequest(http.MethodGet,
					fmt.Sprintf("%s/v3/domains/%s/credentials?skip=%d&limit=%d", srv, benchDomain, skip, benchPerPage), nil)
				if err != nil {
					b.Fatal(err)
				}
				req.SetBasicAuth("api", e.APIKey)
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("sandbox list: status %d", resp.StatusCode)
				}
			}
			get()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			if parallel {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						get()
					}
				})
			} else {
				for b.Loop() {
					get()
				}
			}
			b.StopTimer()
			reportCPU(b, cpu0)
		})
	}
}

// newLoopbackServer serves h on 127.0.0.1 for the rest of the benchmark and returns its URL.
func newLoopbackServer(b *testing.B, h http.Handler) string {
	b.Helper()
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv.URL
}

// BenchmarkFilter is the filter over a 10,000-login domain with a cold cache: every view fetches
// the whole domain (10 calls of 1,000, at most FanOut at a time) and searches it. It reports the
// upstream calls per view and, with 50 ms injected upstream latency, the wall time in upstream
// round trips (the budget is 4).
func BenchmarkFilter(b *testing.B) {
	for _, latency := range []time.Duration{0, 50 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%s", latency), func(b *testing.B) {
			set := handlers.Settings{ListCacheTTL: time.Second, CountCacheTTL: 24 * time.Hour}
			be := newBenchEnv(b, set)
			be.SB.SetFaults(sandbox.Faults{Routes: []string{"list"}, Latency: latency})
			be.SB.ResetCalls()
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime(b)
			for b.Loop() {
				be.Clock.Add(set.ListCacheTTL + time.Millisecond) // cold cache every time
				be.get(b, fmt.Sprintf("/d/%s?q=%s&per_page=%d", benchDomain, "gen0042", benchPerPage))
			}
			elapsed := time.Since(start)
			b.StopTimer()
			reportCPU(b, cpu0)
			b.ReportMetric(float64(be.listCalls())/float64(b.N), "upstream-calls/op")
			if latency > 0 {
				b.ReportMetric(float64(elapsed)/float64(b.N)/float64(latency), "upstream-RTTs/op")
			}
		})
	}
}

// BenchmarkLastPage is the budget line "the last page of a 100,000-login domain costs the same
// as the first": the domain page at 100 rows, page 1 and page 1,000 of big.example, each view
// past the page cache's TTL so that each makes its Mailgun call. Compare the two cpu-µs/op.
func BenchmarkLastPage(b *testing.B) {
	const domain, logins = "big.example", 100_000
	set := handlers.Settings{ListCacheTTL: time.Second, CountCacheTTL: 24 * time.Hour}
	be := newBenchEnv(b, set)
	if err := be.SB.AddDomain(domain); err != nil {
		b.Fatal(err)
	}
	if err := be.SB.AddGeneratedLogins(domain, logins); err != nil {
		b.Fatal(err)
	}
	for _, page := range []int{1, logins / benchPerPage} {
		b.Run(fmt.Sprintf("page=%d", page), func(b *testing.B) {
			path := fmt.Sprintf("/d/%s?page=%d&per_page=%d", domain, page, benchPerPage)
			be.get(b, path) // the domain's count, cached from here on, as in real use
			be.SB.ResetCalls()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for b.Loop() {
				be.Clock.Add(set.ListCacheTTL + time.Millisecond)
				be.get(b, path)
			}
			b.StopTimer()
			reportCPU(b, cpu0)
			b.ReportMetric(float64(be.listCalls())/float64(b.N), "upstream-calls/op")
		})
	}
}
