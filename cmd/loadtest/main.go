// Command loadtest measures SMTP Desk against its budget (issue 8) in one run: it builds and
// starts the Mailgun sandbox (with large generated domains) and the dashboard in demo mode as
// separate processes on loopback, signs in through the demo provider, then drives (a) the
// sandbox's credential list directly and (b) the dashboard's domain page with the same closed
// loop of concurrent users, at 0 ms and at 50 ms of injected upstream latency, beside (c) a
// pass-through proxy making the same call as the floor under the budget (floor.go). It prints a
// markdown table with requests/s, exact p50/p90/p99, errors, upstream calls per 1,000 page views,
// CPU and the dashboard's peak RSS, checks the budget line by line, and writes the table into
// docs/PERFORMANCE.md.
//
//	go run ./cmd/loadtest                    # ~2 minutes with the defaults
//	go run ./cmd/loadtest -duration 5s -out ""   # quick look, write nothing
//	go run ./cmd/loadtest -mixed             # issue 9's soak run (mixed.go), writes docs/SOAK.md
//
// Everything listens on and talks to 127.0.0.1 only; every child process is stopped on exit,
// on error and on Ctrl-C (and killed by the kernel should the load test itself die).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	if floor, rest := isFloorProxy(os.Args[1:]); floor {
		err = runFloorProxy(ctx, rest) // the reference proxy the load test starts: see floor.go
	} else if mixed, rest := isMixed(os.Args[1:]); mixed {
		err = runMixed(ctx, rest, os.Stdout) // issue 9's soak: see mixed.go
	} else {
		err = run(ctx, os.Args[1:], os.Stdout)
	}
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errSoakFailed):
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(4)
	case errors.Is(err, errBudgetMissed):
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(3)
	case err != nil:
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// errBudgetMissed is returned with -fail-on-miss when a budget line is missed.
var errBudgetMissed = errors.New("the performance budget was missed")

// options are the command-line flags.
type options struct {
	duration    time.Duration
	warmup      time.Duration
	concurrency int
	latency     time.Duration
	out         string
	skipBuild   bool
	binDir      string
	bigDomains  int
	bigSize     int
	hotPages    int
	perPage     int
	gzip        bool
	floor       bool // also measure the pass-through proxy of floor.go
	failOnMiss  bool
	cpuProfile  string        // file for the dashboard's CPU profile during the cold run at cpuProfAt
	cpuProfAt   time.Duration // 0 or latency: which cold run -cpuprofile records
	trace       string        // file for the dashboard's execution trace during the cold run at -latency
	webEnv      []string      // extra KEY=VALUE environment for the dashboard
	args        []string      // as given, for the report's command line
}

func parseFlags(args []string, out io.Writer) (options, error) {
	o := options{args: args}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, `loadtest: measure SMTP Desk's dashboard against the Mailgun sandbox it fronts (issue 8's budget).

Builds cmd/mailgun-sandbox and cmd/web, starts them on loopback (the dashboard with -demo and
MAILGUN_BASE_URL pointing at the sandbox), signs in as the demo admin, and measures the sandbox's
list endpoint and the dashboard's domain page at the same concurrency, at 0 ms and at -latency.

Usage:
  go run ./cmd/loadtest [flags]      (or scripts/loadtest.sh [flags])
  go run ./cmd/loadtest -mixed [flags]   the mixed-traffic soak with injected faults instead
                                         (docs/SOAK.md; -mixed -help lists its own flags)

Flags:
`)
		fs.PrintDefaults()
	}
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "length of each measurement")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each measurement (opens connections)")
	fs.IntVar(&o.concurrency, "concurrency", 50, "concurrent users (closed loop: each sends its next request when the last is answered)")
	fs.DurationVar(&o.latency, "latency", 50*time.Millisecond, "upstream latency injected into the sandbox for the second half of the run")
	fs.StringVar(&o.out, "out", "docs/PERFORMANCE.md", `markdown file to write the results into ("" writes nothing); an existing file keeps everything outside the load-test section`)
	fs.BoolVar(&o.skipBuild, "skip-build", false, "reuse the binaries in -bin-dir from an earlier run instead of building them")
	fs.StringVar(&o.binDir, "bin-dir", filepath.Join(os.TempDir(), "smtpdesk-loadtest-bin"), "where the server binaries are built (a relative path is taken from the module root)")
	fs.IntVar(&o.bigDomains, "big-domains", 10, "generated domains (big1.example …) to page through, so that no page repeats within the dashboard's page-cache lifetime")
	fs.IntVar(&o.bigSize, "big-size", 100000, "logins in each generated domain")
	fs.IntVar(&o.hotPages, "hot-pages", 4, "pages shared by every user in the coalescing scenario")
	fs.IntVar(&o.perPage, "per-page", 100, "rows per page (the dashboard accepts 25, 50, 100, 500)")
	fs.BoolVar(&o.gzip, "gzip", true, "send Accept-Encoding: gzip to the dashboard as browsers do")
	fs.BoolVar(&o.floor, "floor", true, "also measure a pass-through proxy that makes the same Mailgun call and nothing else (not SMTP Desk): the floor under each budget line on this machine")
	fs.BoolVar(&o.failOnMiss, "fail-on-miss", false, "exit with status 3 when a budget line is missed")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write the dashboard's CPU profile during the cold measurement at -cpuprofile-at to this `file` (read it with go tool pprof)")
	fs.DurationVar(&o.cpuProfAt, "cpuprofile-at", 0, "which cold measurement -cpuprofile records: 0 (the throughput line) or the -latency value (the p50/p99 lines)")
	fs.StringVar(&o.trace, "trace", "", "write an execution trace of the dashboard during the cold measurement at -latency (the p50/p99 lines) to this `file`; at most 5s of it (read it with go tool trace)")
	fs.Func("web-env", "extra `KEY=VALUE` environment for the dashboard, e.g. LOG_LEVEL=warn (repeatable)", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return errors.New("want KEY=VALUE")
		}
		o.webEnv = append(o.webEnv, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected arguments %q", fs.Args()))
	}
	if o.duration < time.Second || o.duration > 10*time.Minute {
		problems = append(problems, "-duration must be between 1s and 10m")
	}
	if o.warmup < 0 || o.warmup > time.Minute {
		problems = append(problems, "-warmup must be between 0 and 1m")
	}
	if o.concurrency < 1 || o.concurrency > 1000 {
		problems = append(problems, "-concurrency must be between 1 and 1000")
	}
	if o.latency < 0 || o.latency > 5*time.Second {
		problems = append(problems, "-latency must be between 0 and 5s")
	}
	if o.bigDomains < 1 || o.bigDomains > 50 {
		problems = append(problems, "-big-domains must be between 1 and 50")
	}
	perPageOK := o.perPage == 25 || o.perPage == 50 || o.perPage == 100 || o.perPage == 500
	if !perPageOK {
		problems = append(problems, "-per-page must be 25, 50, 100 or 500")
	}
	if o.bigSize < 10*o.perPage || o.bigSize > 1_000_000 {
		problems = append(problems, fmt.Sprintf("-big-size must be between %d (ten pages) and 1000000", 10*o.perPage))
	}
	// A domain's pages are counted only with a -per-page that is accepted: -per-page 0 would
	// divide by zero.
	if o.hotPages < 1 || perPageOK && o.hotPages >= o.bigSize/o.perPage {
		problems = append(problems, "-hot-pages must be at least 1 and less than a domain's pages")
	}
	if o.binDir == "" {
		problems = append(problems, "-bin-dir must name a directory, e.g. -bin-dir /tmp/smtpdesk-loadtest-bin")
	}
	if o.cpuProfAt != 0 && o.cpuProfAt != o.latency {
		problems = append(problems, fmt.Sprintf("-cpuprofile-at must be 0 or the -latency value (%v)", o.latency))
	}
	if o.trace != "" && o.latency == 0 {
		// The trace is of the cold run at -latency, and with -latency 0 there is no such run.
		problems = append(problems, "-trace records the cold run at -latency, so it needs -latency above 0 (for the run at 0 ms use -cpuprofile)")
	}
	if o.cpuProfile != "" && o.trace != "" && o.cpuProfAt == o.latency {
		// Each would slow the dashboard down in the measurement the other one records.
		problems = append(problems, "-cpuprofile at -latency and -trace record the same measurement: take them in separate runs")
	}
	if len(problems) > 0 {
		return o, errors.New(strings.Join(problems, "; "))
	}
	return o, nil
}

// run is the whole load test.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	lt, cleanup, err := setUp(ctx, o, stdout)
	defer cleanup()
	if err != nil {
		return err
	}
	runs, err := lt.measureAll(ctx)
	if err != nil {
		return err
	}
	rep := lt.report(runs)
	md := rep.markdown()
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, md)
	if o.out != "" {
		path := o.out
		if !filepath.IsAbs(path) {
			path = filepath.Join(lt.root, path)
		}
		if err := writeSection(path, md); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nwrote %s\n", path)
	}
	if o.failOnMiss && !rep.passed() {
		return errBudgetMissed
	}
	return nil
}
