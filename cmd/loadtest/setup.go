package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/internal/testport"
)

// loadTest is a running pair of servers and a signed-in session.
type loadTest struct {
	o      options
	out    io.Writer
	root   string
	cs     *children
	sb     *child // the sandbox
	web    *child // the dashboard
	floor  *child // the pass-through proxy of floor.go, with -floor
	sbURL  string
	webURL string
	flURL  string // the floor proxy's

	sbAuth      string // Basic auth header value for the sandbox
	cookie      string // the session's Cookie header value
	metricsAuth string // Bearer header value for the dashboard's /metrics
	pprofURL    string // the dashboard's /debug/pprof/ on its METRICS_ADDR, with -cpuprofile

	pageBytes int64  // uncompressed HTML of one full page
	loadStart string // /proc/loadavg before the measurements

	domains  []string
	perPage  int
	pages    int64        // full pages per generated domain
	coldSeq  atomic.Int64 // page sequence shared by the cold dashboard runs
	directSq atomic.Int64 // page sequence of the direct runs
	floorSeq atomic.Int64 // page sequence of the floor proxy's runs
}

// setUp builds and starts the servers and signs in. cleanup stops them and removes the
// temporary directory; call it even when err is not nil.
func setUp(ctx context.Context, o options, stdout io.Writer) (_ *loadTest, cleanup func(), err error) {
	lt := &loadTest{o: o, out: stdout, cs: &children{}, perPage: o.perPage}
	tmp, err := os.MkdirTemp("", "smtpdesk-loadtest-")
	if err != nil {
		return nil, func() {}, fmt.Errorf("temp dir: %w", err)
	}
	cleanup = func() {
		lt.cs.stopAll()
		_ = os.RemoveAll(tmp)
	}
	if lt.root, err = moduleRoot(ctx); err != nil {
		return nil, cleanup, err
	}

	sbBin, webBin, err := serverBinaries(ctx, lt.root, o.binDir, o.skipBuild, lt.logf)
	if err != nil {
		return nil, cleanup, err
	}

	// The sandbox, with the default seed plus the generated domains.
	key := "key-loadtest-" + randomHex(12)
	lt.sbAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte("api:"+key))
	for i := range o.bigDomains {
		lt.domains = append(lt.domains, fmt.Sprintf("big%d.example", i+1))
	}
	// Every generated domain also has postmaster@, so bigSize+1 logins; only full pages are used.
	lt.pages = int64((o.bigSize + 1) / o.perPage)
	sbAddr, err := testport.Addr()
	if err != nil {
		return nil, cleanup, err
	}
	lt.sbURL = "http://" + sbAddr
	lt.logf("starting the sandbox on %s with %d domains of %d logins", sbAddr, o.bigDomains, o.bigSize)
	lt.sb, err = lt.cs.start(tmp, "mailgun-sandbox", sbBin, []string{
		"-addr", sbAddr, "-key", key, "-control",
		"-big-domain", strings.Join(lt.domains, ","), "-big-size", strconv.Itoa(o.bigSize),
	}, nil)
	if err != nil {
		return nil, cleanup, err
	}
	if err := waitReady(ctx, lt.sb, lt.sbURL+"/_sandbox/stats", http.Header{"Authorization": {lt.sbAuth}}, 2*time.Minute); err != nil {
		return nil, cleanup, err
	}

	if o.floor {
		if err := lt.startFloor(ctx, tmp); err != nil {
			return nil, cleanup, err
		}
	}

	// The dashboard in demo mode, told to use that sandbox instead of its own.
	webAddr, err := testport.Addr()
	if err != nil {
		return nil, cleanup, err
	}
	lt.webURL = "http://" + webAddr
	metricsToken := randomHex(16)
	lt.metricsAuth = "Bearer " + metricsToken
	lt.logf("starting the dashboard (cmd/web -demo) on %s", webAddr)
	env := []string{
		"MAILGUN_BASE_URL=" + lt.sbURL,
		"MAILGUN_API_KEY=" + key,
		"METRICS_TOKEN=" + metricsToken,
	}
	if o.cpuProfile != "" || o.trace != "" {
		pprofAddr, err := testport.Addr()
		if err != nil {
			return nil, cleanup, err
		}
		lt.pprofURL = "http://" + pprofAddr + "/debug/pprof/"
		env = append(env, "METRICS_ADDR="+pprofAddr, "METRICS_PPROF=true")
	}
	lt.web, err = lt.cs.start(tmp, "web", webBin, []string{"-demo", "-addr", webAddr, "-data", filepath.Join(tmp, "web-data")}, append(env, o.webEnv...))
	if err != nil {
		return nil, cleanup, err
	}
	if err := waitReady(ctx, lt.web, lt.webURL+"/healthz", nil, time.Minute); err != nil {
		return nil, cleanup, err
	}
	if err := lt.signIn(ctx); err != nil {
		return nil, cleanup, err
	}
	return lt, cleanup, nil
}

// startFloor starts the pass-through proxy of floor.go (this executable, run again) in front
// of the sandbox.
func (lt *loadTest) startFloor(ctx context.Context, tmp string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("floor proxy: %w", err)
	}
	addr, err := testport.Addr()
	if err != nil {
		return err
	}
	lt.flURL = "http://" + addr
	lt.logf("starting the floor proxy (a pass-through reference, not SMTP Desk) on %s", addr)
	lt.floor, err = lt.cs.start(tmp, "floor-proxy", self, []string{floorProxyArg, "-addr", addr, "-upstream", lt.sbURL},
		[]string{floorAuthEnv + "=" + lt.sbAuth})
	if err != nil {
		return err
	}
	return waitReady(ctx, lt.floor, lt.flURL+"/healthz", nil, time.Minute)
}

// profile fetches one of the dashboard's pprof endpoints that record over time ("profile" for
// CPU, "trace" for an execution trace) over d and writes it to path. It runs beside a
// measurement; a failure is reported, not fatal.
func (lt *loadTest) profile(ctx context.Context, kind string, d time.Duration, path string) error {
	secs := max(int(d/time.Second), 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, lt.pprofURL+kind+"?seconds="+strconv.Itoa(secs), nil)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: status %d", resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("profile: %w", err)
	}
	return f.Close()
}

func (lt *loadTest) logf(format string, args ...any) {
	fmt.Fprintf(lt.out, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// signIn goes through the demo provider as the admin persona and keeps the session cookie,
// then checks that the dashboard really pages through the external sandbox's domain.
func (lt *loadTest) signIn(ctx context.Context) error {
	fc, err := testflow.New(lt.webURL, testflow.WithTimeout(30*time.Second))
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	p, err := fc.SignIn(ctx, "admin")
	if err != nil {
		return fmt.Errorf("sign in as the demo admin: %w", err)
	}
	if p.Status != http.StatusOK {
		return fmt.Errorf("sign in as the demo admin: landed on %s with status %d", p.URL, p.Status)
	}
	var parts []string
	for _, c := range fc.Cookies() {
		parts = append(parts, c.Name+"="+c.Value)
	}
	if len(parts) == 0 {
		return errors.New("sign in: no session cookie after the flow")
	}
	lt.cookie = strings.Join(parts, "; ")
	lt.logf("signed in as the demo admin (%d cookies)", len(parts))

	before, err := lt.sandboxStats(ctx)
	if err != nil {
		return err
	}
	path := fmt.Sprintf("/d/%s?page=%d&per_page=%d", lt.domains[0], lt.pages, lt.perPage)
	req, err := lt.dashRequest(ctx, path)
	if err != nil {
		return err
	}
	req.Header.Set("Accept-Encoding", "identity") // to see the page and its size
	resp, err := newLoadClient(1).Do(req)
	if err != nil {
		return fmt.Errorf("first page: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	resp.Body.Close()
	lt.pageBytes = int64(len(body))
	after, err := lt.sandboxStats(ctx)
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("GET %s = 404: the dashboard does not know %s, so it is not using the external sandbox; "+
			"cmd/web -demo must use MAILGUN_BASE_URL and MAILGUN_API_KEY when they are set", path, lt.domains[0])
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("GET %s = %d, want 200 (the session cookie may not have been kept)", path, resp.StatusCode)
	case after.ListRequests == before.ListRequests:
		return fmt.Errorf("GET %s made no call to the external sandbox: cmd/web -demo must use MAILGUN_BASE_URL and MAILGUN_API_KEY when they are set", path)
	}
	want := fmt.Sprintf("gen%06d@%s", (lt.pages-1)*int64(lt.perPage), lt.domains[0])
	if !strings.Contains(string(body), want) {
		return fmt.Errorf("GET %s: the page does not show %s", path, want)
	}
	return nil
}

// dashRequest is a GET of a dashboard page as the signed-in browser.
func (lt *loadTest) dashRequest(ctx context.Context, path string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, lt.webURL+path, nil)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Cookie", lt.cookie)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("User-Agent", "smtpdesk-loadtest")
	if lt.o.gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	return req, nil
}

// sandboxStats reads the sandbox's request counters.
type sandboxCounters struct {
	Requests     int64 `json:"requests"`
	ListRequests int64 `json:"list_requests"`
	LatencyMS    int64 `json:"latency_ms"`
}

func (lt *loadTest) sandboxStats(ctx context.Context) (sandboxCounters, error) {
	var s sandboxCounters
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, lt.sbURL+"/_sandbox/stats", nil)
	if err != nil {
		return s, fmt.Errorf("sandbox stats: %w", err)
	}
	req.Header.Set("Authorization", lt.sbAuth)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return s, fmt.Errorf("sandbox stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("sandbox stats: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("sandbox stats: %w", err)
	}
	return s, nil
}

// setLatency changes the sandbox's injected latency.
func (lt *loadTest) setLatency(ctx context.Context, d time.Duration) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, lt.sbURL+"/_sandbox/latency?d="+d.String(), nil)
	if err != nil {
		return fmt.Errorf("set latency: %w", err)
	}
	req.Header.Set("Authorization", lt.sbAuth)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("set latency: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("set latency: status %d", resp.StatusCode)
	}
	return nil
}

// dashMetrics is what the load test reads from the dashboard's /metrics.
type dashMetrics struct {
	MailgunCalls          float64 // smtpdesk_mailgun_calls_total, all series
	MailgunSec, MailgunN  float64 // smtpdesk_mailgun_call_duration_seconds sum and count
	RequestSec, RequestsN float64 // smtpdesk_http_request_duration_seconds sum and count
	Uncompressed          float64 // smtpdesk_http_uncompressed_busy_total
}

// scrapeMetrics reads the dashboard's /metrics; ok is false when it is not served.
func (lt *loadTest) scrapeMetrics(ctx context.Context) (m dashMetrics, ok bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, lt.webURL+"/metrics", nil)
	if err != nil {
		return m, false
	}
	req.Header.Set("Authorization", lt.metricsAuth)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return m, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, false
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return m, false
	}
	get := func(name string) float64 {
		v, _ := sumSeries(bytes.NewReader(body), name)
		return v
	}
	m.MailgunCalls, ok = sumSeries(bytes.NewReader(body), "smtpdesk_mailgun_calls_total")
	m.MailgunSec = get("smtpdesk_mailgun_call_duration_seconds_sum")
	m.MailgunN = get("smtpdesk_mailgun_call_duration_seconds_count")
	m.RequestSec = get("smtpdesk_http_request_duration_seconds_sum")
	m.RequestsN = get("smtpdesk_http_request_duration_seconds_count")
	m.Uncompressed = get("smtpdesk_http_uncompressed_busy_total")
	return m, ok
}

// sumSeries adds up every sample of a metric in Prometheus text format.
func sumSeries(r io.Reader, name string) (float64, bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var sum float64
	found := false
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue // a longer name with this prefix
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// loadAvg returns the first three fields of /proc/loadavg, "" when unreadable.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
