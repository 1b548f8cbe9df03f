package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smtpdesk/smtpdesk/internal/testflow"
	"github.com/smtpdesk/smtpdesk/internal/testport"
)

// The mixed scenario (issue 9's soak): signed-in users browse, filter, create, reset and delete
// through the dashboard's real forms while the sandbox fails a share of calls, then the run checks
// for 500s, goroutine and memory growth, and that the sandbox's final state is what the audit
// trail says happened.

// errSoakFailed is returned with -fail when a soak check fails.
var errSoakFailed = errors.New("the soak run failed a check")

// soakDomain is the domain the users create, reset and delete in; browseDomain is the large
// domain they page through.
const (
	soakDomain   = "soak.example"
	browseDomain = "browse.example"
)

// mixedOptions are the -mixed flags.
type mixedOptions struct {
	duration         time.Duration
	users            int
	faultRate        float64
	settle           time.Duration
	settleMax        time.Duration
	browseSize       int
	maxIters         int
	out              string
	skipBuild        bool
	binDir           string
	failExit         bool
	actionsPerMinute int
	args             []string
}

// isMixed reports whether args ask for the mixed scenario, and returns them without -mixed.
func isMixed(args []string) (bool, []string) {
	var rest []string
	found := false
	for _, a := range args {
		switch a {
		case "-mixed", "--mixed", "-mixed=true", "--mixed=true":
			found = true
		default:
			rest = append(rest, a)
		}
	}
	return found, rest
}

func parseMixedFlags(args []string, out io.Writer) (mixedOptions, error) {
	o := mixedOptions{args: args}
	fs := flag.NewFlagSet("loadtest -mixed", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, `loadtest -mixed: issue 9's soak run. Starts cmd/mailgun-sandbox (-control) and cmd/web -demo on
loopback, signs in -users sessions (each from its own 127.0.0.x address) as the demo admin, and
lets every user loop over browse, filter, create, reset and delete in `+soakDomain+` through the real
forms for -duration while the sandbox fails -fault-rate of the calls (500, 503, 429, dropped
connections before and after applying, slow answers). Then it checks: no 500 from SMTP Desk, no
goroutine or heap growth after the load, and the sandbox's logins equal what the audit trail says.

Usage:
  flock /tmp/smtpdesk-load.lock go run ./cmd/loadtest -mixed [flags]

Flags:
`)
		fs.PrintDefaults()
	}
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "length of the load")
	fs.IntVar(&o.users, "users", 50, "concurrent signed-in users (at most 200: one loopback address each)")
	fs.Float64Var(&o.faultRate, "fault-rate", 0.1, "share of Mailgun calls the sandbox fails during the load")
	fs.DurationVar(&o.settle, "settle", 10*time.Second, "wait after the load before the 'after' sample")
	fs.DurationVar(&o.settleMax, "settle-max", 130*time.Second, "when the 'after' sample shows growth, keep sampling up to this long after the load (idle connections time out after 90s, the runtime forces a GC every 2m)")
	fs.IntVar(&o.browseSize, "browse-size", 20000, "logins in "+browseDomain+", the domain users page through")
	fs.IntVar(&o.maxIters, "max-iterations", 100000, "most loop iterations per user")
	fs.StringVar(&o.out, "out", "docs/SOAK.md", `markdown file to write the results into ("" writes nothing)`)
	fs.BoolVar(&o.skipBuild, "skip-build", false, "reuse the binaries in -bin-dir from an earlier run")
	fs.StringVar(&o.binDir, "bin-dir", filepath.Join(os.TempDir(), "smtpdesk-loadtest-bin"), "where the server binaries are built (a relative path is taken from the module root)")
	fs.BoolVar(&o.failExit, "fail", false, "exit with status 4 when a check fails")
	fs.IntVar(&o.actionsPerMinute, "actions-per-minute", 100000, "RATE_LIMIT_ACTIONS given to the dashboard, so its per-user action limit does not throttle the run")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected arguments %q", fs.Args()))
	}
	if o.duration < time.Second || o.duration > 30*time.Minute {
		problems = append(problems, "-duration must be between 1s and 30m")
	}
	if o.users < 1 || o.users > 200 {
		problems = append(problems, "-users must be between 1 and 200")
	}
	if !(o.faultRate >= 0 && o.faultRate <= 1) { // NaN too
		problems = append(problems, "-fault-rate must be between 0 and 1")
	}
	if o.settle < 0 || o.settle > 5*time.Minute || o.settleMax < o.settle || o.settleMax > 10*time.Minute {
		problems = append(problems, "-settle must be between 0 and 5m, -settle-max between -settle and 10m")
	}
	if o.browseSize < 100 || o.browseSize > 1_000_000 {
		problems = append(problems, "-browse-size must be between 100 and 1000000")
	}
	if o.maxIters < 1 {
		problems = append(problems, "-max-iterations must be at least 1")
	}
	if o.binDir == "" {
		problems = append(problems, "-bin-dir must name a directory, e.g. -bin-dir /tmp/smtpdesk-loadtest-bin")
	}
	if o.actionsPerMinute < 1 {
		// The dashboard refuses a RATE_LIMIT_ACTIONS below 1 and would not start, after the build.
		problems = append(problems, "-actions-per-minute must be at least 1")
	}
	if len(problems) > 0 {
		return o, errors.New(strings.Join(problems, "; "))
	}
	return o, nil
}

// soak is a running mixed scenario.
type soak struct {
	o      mixedOptions
	out    io.Writer
	root   string
	dir    string // logs and the dashboard's data, kept after the run
	cs     *children
	sb     *child
	web    *child
	sbURL  string
	webURL string
	sbAuth string
	mAuth  string
	users  []*soakUser
	tally  tally
	client *http.Client // for the sandbox's control endpoints and /metrics
}

func (s *soak) logf(format string, args ...any) {
	fmt.Fprintf(s.out, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// runMixed is the whole mixed scenario.
func runMixed(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseMixedFlags(args, stdout)
	if err != nil {
		return err
	}
	s := &soak{o: o, out: stdout, cs: &children{}, client: &http.Client{Timeout: 30 * time.Second}}
	s.tally.init()
	defer s.cs.stopAll()
	if err := s.setUp(ctx); err != nil {
		return err
	}
	res, err := s.run(ctx)
	if err != nil {
		return err
	}
	md := res.markdown()
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, md)
	fmt.Fprintln(stdout)
	for _, c := range res.Checks {
		verdict := "PASS"
		if !c.OK {
			verdict = "FAIL"
		}
		fmt.Fprintf(stdout, "%s %s: %s\n", verdict, c.Name, c.Detail)
	}
	fmt.Fprintf(stdout, "logs and the dashboard's data are kept in %s\n", s.dir)
	if o.out != "" {
		path := o.out
		if !filepath.IsAbs(path) {
			path = filepath.Join(s.root, path)
		}
		if err := writeSoak(path, md); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", path)
	}
	if o.failExit && !res.passed() {
		return errSoakFailed
	}
	return nil
}

// setUp builds and starts both servers, adds the soak domain and signs the users in.
func (s *soak) setUp(ctx context.Context) error {
	var err error
	if s.root, err = moduleRoot(ctx); err != nil {
		return err
	}
	if s.dir, err = os.MkdirTemp("", "smtpdesk-soak-"); err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	sbBin, webBin, err := serverBinaries(ctx, s.root, s.o.binDir, s.o.skipBuild, s.logf)
	if err != nil {
		return err
	}

	key := "key-soak-" + randomHex(12)
	s.sbAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte("api:"+key))
	sbAddr, err := testport.Addr()
	if err != nil {
		return err
	}
	s.sbURL = "http://" + sbAddr
	s.sb, err = s.cs.start(s.dir, "mailgun-sandbox", sbBin, []string{
		"-addr", sbAddr, "-key", key, "-control",
		"-big-domain", browseDomain, "-big-size", strconv.Itoa(s.o.browseSize),
	}, nil)
	if err != nil {
		return err
	}
	if err := waitReady(ctx, s.sb, s.sbURL+"/_sandbox/stats", http.Header{"Authorization": {s.sbAuth}}, time.Minute); err != nil {
		return err
	}
	if _, err := s.control(ctx, http.MethodPost, "/_sandbox/domains?name="+soakDomain, nil, http.StatusCreated); err != nil {
		return err
	}

	webAddr, err := testport.Addr()
	if err != nil {
		return err
	}
	s.webURL = "http://" + webAddr
	tok := randomHex(16)
	s.mAuth = "Bearer " + tok
	s.logf("sandbox on %s, dashboard (cmd/web -demo) on %s; logs in %s", sbAddr, webAddr, s.dir)
	s.web, err = s.cs.start(s.dir, "web", webBin, []string{"-demo", "-addr", webAddr, "-data", filepath.Join(s.dir, "web-data")},
		[]string{"MAILGUN_BASE_URL=" + s.sbURL, "MAILGUN_API_KEY=" + key, "METRICS_TOKEN=" + tok,
			// The demo's own default is 30 actions per user per minute, which would throttle the run.
			"RATE_LIMIT_ACTIONS=" + strconv.Itoa(s.o.actionsPerMinute)})
	if err != nil {
		return err
	}
	if err := waitReady(ctx, s.web, s.webURL+"/healthz", nil, time.Minute); err != nil {
		return err
	}
	return s.signInAll(ctx)
}

// control calls one of the sandbox's control endpoints and returns the body.
func (s *soak) control(ctx context.Context, method, path string, body []byte, want int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.sbURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("sandbox %s: %w", path, err)
	}
	req.Header.Set("Authorization", s.sbAuth)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sandbox %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("sandbox %s: %w", path, err)
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("sandbox %s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, clipText(string(b), 200))
	}
	return b, nil
}

// soakUser is one signed-in browser.
type soakUser struct {
	id        int
	fc        *testflow.Client
	transport *http.Transport
	rng       *rand.Rand
	own       []string  // logins this user created and believes exist
	next      int       // the next login number
	calmUntil time.Time // no changes before this (SMTP Desk's action limit said to wait)
}

// signInAll signs every user in through the demo provider, each from its own loopback address
// (127.0.0.10 and up) so that the per-address sign-in limit is not what is measured, at most
// eight at a time.
func (s *soak) signInAll(ctx context.Context) error {
	s.users = make([]*soakUser, s.o.users)
	errs := make([]error, s.o.users)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range s.o.users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			s.users[i], errs[i] = s.signIn(ctx, i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.logf("signed in %d sessions as the demo admin", s.o.users)
	return nil
}

func (s *soak) signIn(ctx context.Context, i int) (*soakUser, error) {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(10+i))}}
	t := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second}
	fc, err := testflow.New(s.webURL, testflow.WithTransport(t), testflow.WithTimeout(requestTimeout))
	if err != nil {
		return nil, fmt.Errorf("user %d: %w", i, err)
	}
	p, err := fc.SignIn(ctx, "admin")
	if err != nil {
		return nil, fmt.Errorf("user %d: sign in: %w", i, err)
	}
	if p.Status != http.StatusOK {
		return nil, fmt.Errorf("user %d: sign in landed on %s with status %d", i, p.URL, p.Status)
	}
	// From now on redirects are seen, not followed: a 303 after a POST is the answer.
	fc.HTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &soakUser{id: i, fc: fc, transport: t, rng: rand.New(rand.NewPCG(uint64(i), 9))}, nil
}

// tally counts what the users saw.
type tally struct {
	mu         sync.Mutex
	byOp       map[string]map[int]int // op → status → count (0 = no answer)
	transport  map[string]int         // op → requests without an answer
	five00     []string               // every 500, with its request id
	limited    int                    // SMTP Desk's own action limit (429 "Slow down")
	created    map[string]int         // login → status the create POST answered
	deleted    map[string]int         // login → status the delete POST answered
	firstError string
}

func (t *tally) init() {
	t.byOp = map[string]map[int]int{}
	t.transport = map[string]int{}
	t.created = map[string]int{}
	t.deleted = map[string]int{}
}

func (t *tally) add(op string, status int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byOp[op] == nil {
		t.byOp[op] = map[int]int{}
	}
	t.byOp[op][status]++
}

// do sends one request as the user and counts its answer. A 500 is kept with its request id.
func (s *soak) do(ctx context.Context, u *soakUser, op, method, path string, form url.Values) (*testflow.Page, error) {
	var p *testflow.Page
	var err error
	if method == http.MethodPost {
		p, err = u.fc.Post(ctx, path, form)
	} else {
		p, err = u.fc.Get(ctx, path)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, err // the run ended; not an answer
		}
		s.tally.add(op, 0)
		s.tally.mu.Lock()
		s.tally.transport[op]++
		if s.tally.firstError == "" {
			s.tally.firstError = err.Error()
		}
		s.tally.mu.Unlock()
		return nil, err
	}
	s.tally.add(op, p.Status)
	if p.Status == http.StatusInternalServerError {
		s.tally.mu.Lock()
		s.tally.five00 = append(s.tally.five00, fmt.Sprintf("%s %s → 500, request id %q: %s",
			method, path, p.Header.Get("X-Request-Id"), clipText(p.Text(), 300)))
		s.tally.mu.Unlock()
	}
	return p, nil
}

// userLoop is one user's closed loop until the deadline or max-iterations.
func (s *soak) userLoop(ctx context.Context, u *soakUser, deadline time.Time) {
	for it := 0; it < s.o.maxIters && time.Now().Before(deadline) && ctx.Err() == nil; it++ {
		r := u.rng.IntN(100)
		calm := time.Now().Before(u.calmUntil)
		switch {
		case r < 30 || (calm && r >= 45):
			s.browse(ctx, u)
		case r < 45:
			s.filter(ctx, u)
		case r < 70:
			s.create(ctx, u)
		case r < 85:
			s.reset(ctx, u)
		default:
			s.remove(ctx, u)
		}
	}
}

func (s *soak) browse(ctx context.Context, u *soakUser) {
	sizes := []int{25, 50, 100, 500}
	switch u.rng.IntN(4) {
	case 0:
		_, _ = s.do(ctx, u, "browse", http.MethodGet, "/", nil)
	case 1:
		pp := sizes[u.rng.IntN(len(sizes))]
		page := 1 + u.rng.IntN(max(1, (s.o.browseSize+1)/pp))
		_, _ = s.do(ctx, u, "browse", http.MethodGet, fmt.Sprintf("/d/%s?page=%d&per_page=%d", browseDomain, page, pp), nil)
	case 2:
		_, _ = s.do(ctx, u, "browse", http.MethodGet, "/d/"+soakDomain, nil)
	default:
		_, _ = s.do(ctx, u, "browse", http.MethodGet, "/audit", nil)
	}
}

func (s *soak) filter(ctx context.Context, u *soakUser) {
	switch u.rng.IntN(3) {
	case 0:
		_, _ = s.do(ctx, u, "filter", http.MethodGet, fmt.Sprintf("/d/%s?q=gen%04d", browseDomain, u.rng.IntN(s.o.browseSize/100+1)), nil)
	case 1:
		_, _ = s.do(ctx, u, "filter", http.MethodGet, fmt.Sprintf("/d/%s?q=u%02d-", soakDomain, u.id), nil)
	default:
		actions := []string{"credential.create", "credential.reset", "credential.delete"}
		outcomes := []string{"ok", "failed", "unknown"}
		q := url.Values{"domain": {soakDomain}, "action": {actions[u.rng.IntN(3)]}, "outcome": {outcomes[u.rng.IntN(3)]}}
		_, _ = s.do(ctx, u, "filter", http.MethodGet, "/audit?"+q.Encode(), nil)
	}
}

// formToken loads a form page and returns its CSRF token, "" when the page has none.
func (s *soak) formToken(ctx context.Context, u *soakUser, op, path string) string {
	p, err := s.do(ctx, u, op+" form", http.MethodGet, path, nil)
	if err != nil || p.Status != http.StatusOK {
		return ""
	}
	return p.CSRF()
}

// limitedBy reports whether a 429 is SMTP Desk's own action limit (and notes the wait), as
// opposed to Mailgun's rate limit passed on.
func (s *soak) limitedBy(u *soakUser, p *testflow.Page) bool {
	if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Text(), "You have reached the limit of") {
		return false
	}
	wait := 5 * time.Second
	if n, err := strconv.Atoi(p.Header.Get("Retry-After")); err == nil && n > 0 {
		wait = min(time.Duration(n)*time.Second, 30*time.Second)
	}
	u.calmUntil = time.Now().Add(wait)
	s.tally.mu.Lock()
	s.tally.limited++
	s.tally.mu.Unlock()
	return true
}

func (s *soak) create(ctx context.Context, u *soakUser) {
	base := "/d/" + soakDomain + "/new"
	tok := s.formToken(ctx, u, "create", base)
	if tok == "" {
		return
	}
	u.next++
	login := fmt.Sprintf("u%02d-n%05d", u.id, u.next)
	full := login + "@" + soakDomain
	p, err := s.do(ctx, u, "create", http.MethodPost, base, url.Values{"_csrf": {tok}, "logins": {login}, "mode": {"generate"}})
	if err != nil {
		s.tally.mu.Lock()
		s.tally.created[full] = 0
		s.tally.mu.Unlock()
		return
	}
	if s.limitedBy(u, p) {
		return // never sent: not a create attempt
	}
	s.tally.mu.Lock()
	s.tally.created[full] = p.Status
	s.tally.mu.Unlock()
	if p.Status == http.StatusOK {
		u.own = append(u.own, full)
	}
}

func (s *soak) pickOwn(u *soakUser) (int, string) {
	if len(u.own) == 0 {
		return -1, ""
	}
	i := u.rng.IntN(len(u.own))
	return i, u.own[i]
}

func (s *soak) reset(ctx context.Context, u *soakUser) {
	_, login := s.pickOwn(u)
	if login == "" {
		s.browse(ctx, u)
		return
	}
	path := "/d/" + soakDomain + "/logins/" + url.PathEscape(login) + "/reset"
	tok := s.formToken(ctx, u, "reset", path)
	if tok == "" {
		return
	}
	p, err := s.do(ctx, u, "reset", http.MethodPost, path, url.Values{"_csrf": {tok}, "mode": {"generate"}})
	if err == nil {
		s.limitedBy(u, p)
	}
}

func (s *soak) remove(ctx context.Context, u *soakUser) {
	i, login := s.pickOwn(u)
	if login == "" {
		s.browse(ctx, u)
		return
	}
	path := "/d/" + soakDomain + "/logins/" + url.PathEscape(login) + "/delete"
	tok := s.formToken(ctx, u, "delete", path)
	if tok == "" {
		return
	}
	p, err := s.do(ctx, u, "delete", http.MethodPost, path, url.Values{"_csrf": {tok}})
	status := 0
	if err == nil {
		if s.limitedBy(u, p) {
			return
		}
		status = p.Status
	}
	s.tally.mu.Lock()
	s.tally.deleted[login] = status
	s.tally.mu.Unlock()
	if status == http.StatusSeeOther { // deleted, or already gone
		u.own = slices.Delete(u.own, i, i+1)
	}
}

// sample is what /metrics said about the dashboard at one moment.
type sample struct {
	At         time.Duration // since the load started (negative: before)
	Goroutines float64
	HeapAlloc  float64 // bytes
	RSS        float64 // bytes
}

func (s *soak) sample(ctx context.Context, at time.Duration) (sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.webURL+"/metrics", nil)
	if err != nil {
		return sample{}, fmt.Errorf("metrics: %w", err)
	}
	req.Header.Set("Authorization", s.mAuth)
	resp, err := s.client.Do(req)
	if err != nil {
		return sample{}, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return sample{}, fmt.Errorf("metrics: status %d: %v", resp.StatusCode, err)
	}
	get := func(name string) (float64, error) {
		v, ok := sumSeries(bytes.NewReader(body), name)
		if !ok {
			return 0, fmt.Errorf("metrics: no %s", name)
		}
		return v, nil
	}
	var sm sample
	var e1, e2, e3 error
	sm.At = at
	sm.Goroutines, e1 = get("go_goroutines")
	sm.HeapAlloc, e2 = get("go_memstats_heap_alloc_bytes")
	sm.RSS, e3 = get("process_resident_memory_bytes")
	return sm, errors.Join(e1, e2, e3)
}

// auditRecord is the part of an /audit/export.jsonl line the check needs.
type auditRecord struct {
	ID             int64    `json:"id"`
	Action         string   `json:"action"`
	Domain         string   `json:"domain"`
	Logins         []string `json:"logins"`
	Outcome        string   `json:"outcome"`
	UpstreamStatus int      `json:"upstream_status"`
	RequestID      string   `json:"request_id"`
}

// run does the load, the samples and the checks.
func (s *soak) run(ctx context.Context) (soakResult, error) {
	res := soakResult{Options: s.o, Machine: machine(), LoadBefore: loadAvg()}
	var err error
	// The soak domain's logins before the load: the system login, which the trail never mentions.
	baseline, err := s.sandboxLogins(ctx)
	if err != nil {
		return res, err
	}
	// Warm every session up once, then the "before" sample.
	for _, u := range s.users {
		_, _ = s.do(ctx, u, "warm-up", http.MethodGet, "/d/"+soakDomain, nil)
	}
	s.tally.init()
	// The before sample without the sessions' idle connections, like the after sample.
	for _, u := range s.users {
		u.transport.CloseIdleConnections()
	}
	if err := sleepCtx(ctx, time.Second); err != nil {
		return res, err
	}
	if res.Before, err = s.sample(ctx, 0); err != nil {
		return res, err
	}
	mix, _ := json.Marshal(map[string]any{"rate": s.o.faultRate, "retry_after": "1s", "slow_latency": "500ms"})
	if _, err := s.control(ctx, http.MethodPost, "/_sandbox/faults", mix, http.StatusNoContent); err != nil {
		return res, err
	}
	s.logf("load: %d users for %v with %.3g%% of Mailgun calls failing", s.o.users, s.o.duration, 100*s.o.faultRate)

	start := time.Now()
	deadline := start.Add(s.o.duration)
	peak := res.Before
	stopPoll := make(chan struct{})
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopPoll:
				return
			case <-t.C:
				if sm, err := s.sample(ctx, time.Since(start)); err == nil {
					if sm.Goroutines > peak.Goroutines {
						peak.Goroutines, peak.At = sm.Goroutines, sm.At
					}
					peak.HeapAlloc = max(peak.HeapAlloc, sm.HeapAlloc)
					peak.RSS = max(peak.RSS, sm.RSS)
				}
			}
		}
	}()
	loadCtx, cancel := context.WithTimeout(ctx, s.o.duration+requestTimeout+5*time.Second)
	var wg sync.WaitGroup
	for _, u := range s.users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.userLoop(loadCtx, u, deadline)
		}()
	}
	wg.Wait()
	cancel()
	res.Elapsed = time.Since(start)
	close(stopPoll)
	<-pollDone
	res.Peak = peak
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("interrupted: %w", err)
	}
	s.logf("load done after %v; faults off, waiting %v", res.Elapsed.Round(time.Millisecond), s.o.settle)
	if b, err := s.control(ctx, http.MethodGet, "/_sandbox/faults", nil, http.StatusOK); err == nil {
		var snap struct {
			Injected map[string]int64 `json:"injected"`
		}
		if json.Unmarshal(b, &snap) == nil {
			res.Injected = snap.Injected
		}
	}
	if _, err := s.control(ctx, http.MethodPost, "/_sandbox/faults", []byte(`{"rate":0}`), http.StatusNoContent); err != nil {
		return res, err
	}
	if st, err := (&loadTest{sbURL: s.sbURL, sbAuth: s.sbAuth}).sandboxStats(ctx); err == nil {
		res.UpstreamCalls = st.Requests
	}
	for _, u := range s.users {
		u.transport.CloseIdleConnections()
	}
	if err := sleepCtx(ctx, s.o.settle); err != nil {
		return res, err
	}
	if res.After, err = s.sample(ctx, time.Since(start)); err != nil {
		return res, err
	}
	res.Settled = res.After
	for !res.memoryOK() && time.Since(deadline) < s.o.settleMax && ctx.Err() == nil {
		if err := sleepCtx(ctx, 5*time.Second); err != nil {
			return res, err
		}
		if res.Settled, err = s.sample(ctx, time.Since(start)); err != nil {
			return res, err
		}
	}

	// The audit trail and the sandbox's final state.
	trail, err := s.auditTrail(ctx)
	if err != nil {
		return res, err
	}
	final, err := s.sandboxLogins(ctx)
	if err != nil {
		return res, err
	}
	s.tally.mu.Lock()
	defer s.tally.mu.Unlock()
	res.ByOp, res.Transport, res.Five00, res.Limited, res.FirstError = s.tally.byOp, s.tally.transport, s.tally.five00, s.tally.limited, s.tally.firstError
	res.Consistency = reconcile(trail, baseline, final, s.tally.created, s.tally.deleted)
	res.Checks = res.checks()
	return res, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
}

func (s *soak) sandboxLogins(ctx context.Context) ([]string, error) {
	b, err := s.control(ctx, http.MethodGet, "/_sandbox/logins?domain="+soakDomain, nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	var body struct {
		Logins []string `json:"logins"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, fmt.Errorf("sandbox logins: %w", err)
	}
	return body.Logins, nil
}

// auditTrail downloads the soak domain's audit trail as the first user (an admin).
func (s *soak) auditTrail(ctx context.Context) ([]auditRecord, error) {
	p, err := s.users[0].fc.Get(ctx, "/audit/export.jsonl?"+url.Values{"domain": {soakDomain}}.Encode())
	if err != nil {
		return nil, fmt.Errorf("audit export: %w", err)
	}
	if p.Status != http.StatusOK {
		return nil, fmt.Errorf("audit export: status %d", p.Status)
	}
	var out []auditRecord
	dec := json.NewDecoder(bytes.NewReader(p.Body))
	for {
		var r auditRecord
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("audit export: line %d: %w", len(out)+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
