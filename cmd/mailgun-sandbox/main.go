// Command mailgun-sandbox runs SMTP Desk's in-process Mailgun Credentials API on its own, so that
// curl, Mailgun's SDKs and scripts can talk to a faithful fake Mailgun on loopback.
//
//	go run ./cmd/mailgun-sandbox -addr 127.0.0.1:8025 -key KEY
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "mailgun-sandbox:", err)
		os.Exit(2)
	}
}

const usageHeader = `mailgun-sandbox: a faithful fake of Mailgun's Credentials API on loopback.

It answers the seven routes SMTP Desk uses, as Mailgun does:
  GET|POST|DELETE /v3/domains/{domain}/credentials
  PUT|DELETE      /v3/domains/{domain}/credentials/{spec}
  PUT             /v3/{domain}/mailboxes/{spec}
  GET             /v4/domains
with HTTP Basic auth (user "api", password = -key). Data lives in memory only and is lost on
exit; passwords are kept hashed. The default seed holds example.com (250 logins),
acme.example (12), newsletter.example.org (3) and empty.example, each with a postmaster@ system
login. Faults (latency, error statuses, dropped connections, malformed JSON) can be injected
for a share of calls to try a client's error handling.

Usage:
  go run ./cmd/mailgun-sandbox -addr 127.0.0.1:8025 -key KEY [flags]

Example:
  curl -s -u api:KEY 'http://127.0.0.1:8025/v3/domains/example.com/credentials?limit=2'
  curl -s -u api:KEY -F login=alice http://127.0.0.1:8025/v3/domains/example.com/credentials

Load tests:
  go run ./cmd/mailgun-sandbox -key KEY -big-domain big.example -big-size 100000 -control
  curl -s -u api:KEY http://127.0.0.1:8025/_sandbox/stats
  curl -s -u api:KEY -X POST 'http://127.0.0.1:8025/_sandbox/latency?d=50ms'
  curl -s -u api:KEY -X POST -d '{"rate":0.1}' http://127.0.0.1:8025/_sandbox/faults   # 10% mixed faults
  curl -s -u api:KEY -X POST 'http://127.0.0.1:8025/_sandbox/domains?name=soak.example'
  curl -s -u api:KEY 'http://127.0.0.1:8025/_sandbox/logins?domain=soak.example'

Flags:
`

// config is what the flags say.
type config struct {
	addr   string
	key    string
	seed   bool
	faults sandbox.Faults

	bigDomains []string // extra domains seeded with bigSize generated logins each
	bigSize    int
	control    bool // serve /_sandbox/stats and /_sandbox/latency
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	var routes, big string
	fs := flag.NewFlagSet("mailgun-sandbox", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usageHeader)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8025", "address to listen on: a loopback IP and a port (port 0 picks a free one)")
	fs.StringVar(&c.key, "key", "", "the API key clients must send as the Basic auth password (required)")
	fs.BoolVar(&c.seed, "seed", true, "load the deterministic demo data (-seed=false starts empty)")
	fs.DurationVar(&c.faults.Latency, "latency", 0, "delay added to every matching call, e.g. 300ms")
	fs.Float64Var(&c.faults.Rate, "fault-rate", 0, "share of matching calls that fail, 0 to 1 (needs -fault-status, -drop or -malformed)")
	fs.IntVar(&c.faults.Status, "fault-status", 0, "status a failing call answers, e.g. 429, 500, 503")
	fs.DurationVar(&c.faults.RetryAfter, "retry-after", 0, "Retry-After sent with a 429 or 503, e.g. 2s")
	fs.BoolVar(&c.faults.Drop, "drop", false, "failing calls close the connection without an answer")
	fs.BoolVar(&c.faults.Malformed, "malformed", false, "failing calls answer 200 with broken JSON")
	fs.BoolVar(&c.faults.AfterApply, "after-apply", false, "failing mutating calls apply their change first (unknown outcome)")
	fs.StringVar(&routes, "fault-routes", "", "comma-separated routes the faults affect (default all): "+strings.Join(sandbox.RouteNames(), ","))
	fs.StringVar(&big, "big-domain", "", "comma-separated domains to add, each with -big-size generated logins (gen000001@…), e.g. big.example")
	fs.IntVar(&c.bigSize, "big-size", 100000, "how many generated logins each -big-domain gets")
	fs.BoolVar(&c.control, "control", false, "serve /_sandbox/stats, /_sandbox/latency, /_sandbox/faults (a mix over every route), /_sandbox/logins and /_sandbox/domains (same Basic auth), for load tests")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q (see -help)", fs.Args())
	}
	if c.key == "" {
		return c, errors.New("-key is required, e.g. -key key-demo (see -help)")
	}
	// The sandbox is a fake for this machine's tests and tools: its control endpoints change
	// what it answers, so it listens on a loopback IP only (a name such as localhost could
	// resolve to another address, as the demo's rule says too).
	if host, _, err := net.SplitHostPort(c.addr); err != nil {
		return c, fmt.Errorf("-addr %q: want host:port, e.g. -addr 127.0.0.1:8025", c.addr)
	} else if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return c, fmt.Errorf("-addr %q: the sandbox listens on a loopback IP only, e.g. -addr 127.0.0.1:8025", c.addr)
	}
	if !(c.faults.Rate >= 0 && c.faults.Rate <= 1) { // NaN too
		return c, fmt.Errorf("-fault-rate %v: must be between 0 and 1", c.faults.Rate)
	}
	if s := c.faults.Status; s != 0 && (s < 400 || s > 599) {
		return c, fmt.Errorf("-fault-status %d: must be an error status from 400 to 599", s)
	}
	kinds := 0
	for _, set := range []bool{c.faults.Status != 0, c.faults.Drop, c.faults.Malformed} {
		if set {
			kinds++
		}
	}
	// A failing call fails one way: with more than one, the sandbox would use one and silently
	// ignore the others.
	if kinds > 1 {
		return c, errors.New("-fault-status, -drop and -malformed each say how a failing call fails: give one of them")
	}
	if kinds == 1 && c.faults.Rate == 0 {
		return c, errors.New("-fault-status, -drop and -malformed need -fault-rate above 0, e.g. -fault-rate 0.2")
	}
	if kinds == 0 && (c.faults.Rate > 0 || c.faults.AfterApply) {
		return c, errors.New("-fault-rate and -after-apply need a fault: -fault-status, -drop or -malformed")
	}
	if s := c.faults.Status; c.faults.RetryAfter > 0 && s != http.StatusTooManyRequests && s != http.StatusServiceUnavailable {
		return c, errors.New("-retry-after is sent only with -fault-status 429 or 503")
	}
	if c.faults.Latency < 0 || c.faults.RetryAfter < 0 {
		return c, errors.New("-latency and -retry-after must not be negative")
	}
	if c.bigSize < 0 || c.bigSize > 5_000_000 {
		return c, fmt.Errorf("-big-size %d: must be between 0 and 5000000", c.bigSize)
	}
	if big != "" {
		for d := range strings.SplitSeq(big, ",") {
			if d = strings.TrimSpace(d); d != "" {
				c.bigDomains = append(c.bigDomains, d)
			}
		}
	}
	if routes != "" {
		for r := range strings.SplitSeq(routes, ",") {
			r = strings.TrimSpace(r)
			if !slices.Contains(sandbox.RouteNames(), r) {
				return c, fmt.Errorf("-fault-routes: unknown route %q (known: %s)", r, strings.Join(sandbox.RouteNames(), ","))
			}
			c.faults.Routes = append(c.faults.Routes, r)
		}
	}
	return c, nil
}

// run serves the sandbox until ctx ends, then shuts down gracefully.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	c, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	var opts []sandbox.Option
	if c.seed {
		opts = append(opts, sandbox.WithDefaultSeed())
	}
	s := sandbox.New(c.key, opts...)
	s.SetFaults(c.faults)
	for _, d := range c.bigDomains {
		if err := s.AddDomain(d); err != nil {
			return fmt.Errorf("-big-domain %s: %w", d, err)
		}
		if err := s.AddGeneratedLogins(d, c.bigSize); err != nil {
			return fmt.Errorf("-big-domain %s: %w", d, err)
		}
	}
	var h http.Handler = s
	if c.control {
		h = &control{s: s, key: c.key}
	}

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler: h,
		// Requests inherit ctx, so calls waiting out injected latency end at shutdown.
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	fmt.Fprintf(stdout, "mailgun sandbox listening on http://%s (seed %v, Basic auth user \"api\")\n", ln.Addr(), c.seed)
	if len(c.bigDomains) > 0 {
		fmt.Fprintf(stdout, "big domains %s with %d generated logins each\n", strings.Join(c.bigDomains, ","), c.bigSize)
	}
	if c.faults.Rate > 0 || c.faults.Latency > 0 {
		fmt.Fprintf(stdout, "faults: %+v\n", c.faults)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	fmt.Fprintln(stdout, "mailgun sandbox stopped")
	return nil
}
